/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep target add|remove|list`: payloads enter the staging area here. Each
 * target gets its length, SHA-256 and SHA-512 from the file and owner-signed
 * custom.upkeep fields that are validated now, so a device never sees a
 * target it would have to refuse for a malformed rule.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"
#include "upkeep/target_info.h"

/* Which staged role lists path; UPK_ERR_NOT_FOUND when none. *role is malloc()ed. */
static upk_status find_listing_role(struct stage *st, const char *path, char **role,
				    struct upk_error *err)
{
	char **names = NULL;
	size_t n = 0;
	upk_status ret = stage_targets_roles(st, &names, &n, err);

	if (ret != UPK_OK)
		return ret;
	ret = UPK_ERR_NOT_FOUND;
	for (size_t i = 0; i < n && ret == UPK_ERR_NOT_FOUND; i++) {
		struct upk_metadata *md = NULL;
		struct upk_target t;
		upk_status r = stage_load(st, names[i], &md, err);

		if (r != UPK_OK) {
			ret = r;
			break;
		}
		if (upk_targets_find(md, path, &t, NULL) == UPK_OK) {
			*role = strdup(names[i]);
			ret = *role ? UPK_OK : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		}
		upk_metadata_free(md);
	}
	stage_names_free(names, n);
	if (ret == UPK_ERR_NOT_FOUND)
		upk_error_set(err, ret, "no staged role lists target \"%.200s\"", path);
	return ret;
}

/* A delegated role can only list paths its delegation covers: clients would never look elsewhere. */
static upk_status check_role_covers(struct stage *st, const char *role, const char *path,
				    struct upk_error *err)
{
	struct upk_metadata *dmd = NULL;
	struct upk_delegation d;
	char *dname = NULL;
	upk_status ret;

	if (strcmp(role, "targets") == 0)
		return UPK_OK;
	ret = stage_check_role_name(role, err);
	if (ret == UPK_OK)
		ret = stage_delegator(st, role, &dname, &dmd, err);
	if (ret == UPK_OK)
		ret = upk_delegation_find(dmd, role, &d, err);
	if (ret == UPK_OK && !upk_delegation_covers(&d, path))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "target path \"%.200s\" is outside the paths %s delegates to %s "
				    "(first pattern: \"%.100s\")",
				    path, dname, role,
				    d.n_paths > 0 ? d.paths[0] : "path_hash_prefixes");
	free(dname);
	upk_metadata_free(dmd);
	return ret;
}

static const struct cli_opt add_opts[] = {
	{"path", "PATH", "target path in the repository (default: the file's name)", 0},
	{"type", "TYPE", "image, archive, module, acl, config or keys (required)", 0},
	{"version", "VERSION", "release version, e.g. 2.1.0 or 2.1.0-rc.1 (required)", 0},
	{"security-version", "N", "anti-rollback counter (default 0)", 0},
	{"hardware", "HWID", "compatible hardware id (at least one)", CLI_OPT_REPEAT},
	{"selector", "EXPR", "which devices may take it (docs/selectors.md); default: all", 0},
	{"role", "ROLE", "the targets role that lists it (default: targets)", 0},
	{"json", NULL, "print the new target entry as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec add_spec = {
	"upkeep target add DIR FILE --type TYPE --version VERSION --hardware HWID [options]",
	"Copy FILE into DIR/targets/PATH and list it in the staged role with its length,\n"
	"SHA-256, SHA-512 and custom.upkeep fields (type, version, security_version,\n"
	"hardware, selector), all validated now. A bad selector is refused with the\n"
	"parser's message. The role moves to its next version (once per publish round) and\n"
	"loses its signatures: sign it again before publishing.",
	add_opts, 2, 2,
};

static upk_status parse_security_version(const char *text, int64_t *out, struct upk_error *err)
{
	char *end = NULL;
	long long v;

	if (text == NULL) {
		*out = 0;
		return UPK_OK;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0 || text[0] == '+' ||
	    v > UPK_TARGET_INFO_MAX_SECURITY_VERSION)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "--security-version \"%.32s\" must be a whole number from 0 to "
				     "2^53-1",
				     text);
	*out = (int64_t)v;
	return UPK_OK;
}

static int target_add(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *md = NULL;
	struct upk_target_info info;
	struct cli_file_digest dg;
	json_t *custom = NULL, *hashes = NULL;
	char *payload = NULL, *other = NULL;
	const char *file, *path, *role, *type;
	size_t n_hw = 0;
	enum cli_parse_result pr = cli_parse(&add_spec, argc, argv, &a);
	upk_status ret;

	memset(&info, 0, sizeof(info));
	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	file = a.pos[1];
	path = cli_opt(&a, "path");
	if (path == NULL) {
		path = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	}
	role = cli_opt(&a, "role") ? cli_opt(&a, "role") : "targets";
	type = cli_opt(&a, "type");
	ret = stage_check_target_path(path, &err);
	if (ret != UPK_OK)
		goto out;
	if (type == NULL || cli_opt(&a, "version") == NULL) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "target %.200s: --type and --version are required", path);
		goto out;
	}
	/* Build and validate the owner-signed fields before anything is copied or changed. */
	ret = upk_target_type_from_name(type, &info.type, &err);
	if (ret == UPK_OK)
		ret = parse_security_version(cli_opt(&a, "security-version"),
					     &info.security_version, &err);
	info.version = (char *)cli_opt(&a, "version");
	info.hardware = (char **)cli_opt_all(&a, "hardware", &n_hw);
	info.n_hardware = n_hw;
	info.selector = (char *)cli_opt(&a, "selector");
	if (ret == UPK_OK)
		ret = upk_target_info_to_custom(&info, &custom, &err);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "target %.200s: ", path);
		goto out;
	}
	ret = stage_open(a.pos[0], &st, &err);
	if (ret == UPK_OK)
		ret = check_role_covers(st, role, path, &err);
	if (ret != UPK_OK)
		goto out;
	ret = find_listing_role(st, path, &other, &err);
	if (ret == UPK_OK && strcmp(other, role) != 0) {
		/* One payload file per path in the staging area: two roles cannot both own it. */
		ret = upk_error_set(&err, UPK_ERR_EXISTS,
				    "target %.200s is already listed by role %s; remove it there "
				    "first",
				    path, other);
		goto out;
	}
	if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND)
		goto out;
	ret = stage_load(st, role, &md, &err);
	if (ret != UPK_OK)
		goto out;
	payload = stage_path(st, "targets", path);
	if (payload == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = cli_copy_hashed(file, payload, &dg, &err);
	if (ret != UPK_OK)
		goto out;
	hashes = json_pack("{s:s, s:s}", "sha256", dg.sha256, "sha512", dg.sha512);
	if (hashes == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = stage_touch(st, role, md, &err);
	if (ret == UPK_OK)
		ret = upk_targets_set(md, path, dg.length, hashes, custom, &err);
	if (ret == UPK_OK)
		ret = stage_save(st, role, md, &err);
	if (ret != UPK_OK)
		goto out;
	if (cli_flag(&a, "json")) {
		ret = cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:O, s:O}", "path", path, "role",
					       role, "role_version",
					       (json_int_t)upk_metadata_version(md), "length",
					       (json_int_t)dg.length, "hashes", hashes, "custom",
					       custom),
				     &err);
	} else {
		printf("added %s to %s v%" PRId64 " (%" PRId64 " bytes, sha256 %.16s..., %s %s)\n",
		       path, role, upk_metadata_version(md), dg.length, dg.sha256, type,
		       info.version);
		printf("%s v%" PRId64 " now needs signatures: upkeep sign %s %s --key FILE\n", role,
		       upk_metadata_version(md), a.pos[0], role);
	}
out:
	free(payload);
	free(other);
	json_decref(custom);
	json_decref(hashes);
	upk_metadata_free(md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_opt remove_opts[] = {
	{"role", "ROLE", "the role that lists it (default: whichever does)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec remove_spec = {
	"upkeep target remove DIR PATH [options]",
	"Remove target PATH from the staged role that lists it and delete its payload from\n"
	"DIR/targets. The role moves to its next version and must be signed again.",
	remove_opts, 2, 2,
};

static int target_remove(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *md = NULL;
	char *role = NULL, *payload = NULL;
	const char *path;
	enum cli_parse_result pr = cli_parse(&remove_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	path = a.pos[1];
	ret = stage_open(a.pos[0], &st, &err);
	if (ret != UPK_OK)
		goto out;
	if (cli_opt(&a, "role") != NULL) {
		role = strdup(cli_opt(&a, "role"));
		if (role == NULL)
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	} else {
		ret = find_listing_role(st, path, &role, &err);
	}
	if (ret == UPK_OK)
		ret = stage_load(st, role, &md, &err);
	if (ret == UPK_OK) {
		struct upk_target t;

		ret = upk_targets_find(md, path, &t, &err);
		if (ret != UPK_OK)
			upk_error_set(&err, ret, "role %s lists no target \"%.200s\"", role, path);
	}
	if (ret == UPK_OK)
		ret = stage_touch(st, role, md, &err);
	if (ret == UPK_OK)
		ret = upk_targets_remove(md, path, &err);
	if (ret == UPK_OK)
		ret = stage_save(st, role, md, &err);
	if (ret != UPK_OK)
		goto out;
	payload = stage_path(st, "targets", path);
	if (payload != NULL && unlink(payload) != 0 && errno != ENOENT)
		cli_warn("%s: could not delete the payload: %s", payload, strerror(errno));
	printf("removed %s from %s v%" PRId64 "; sign it again: upkeep sign %s %s --key FILE\n",
	       path, role, upk_metadata_version(md), a.pos[0], role);
out:
	free(payload);
	free(role);
	upk_metadata_free(md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_opt list_opts[] = {
	{"role", "ROLE", "only the targets of this role", 0},
	{"json", NULL, "print the list as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec list_spec = {
	"upkeep target list DIR [options]",
	"List the staged targets of every role (or of --role): path, role, length, type,\n"
	"version, security version, hardware and selector.",
	list_opts, 1, 1,
};

static upk_status list_role(struct stage *st, const char *role, json_t *out, int human,
			    struct upk_error *err)
{
	struct upk_metadata *md = NULL;
	upk_status ret = stage_load(st, role, &md, err);

	for (size_t i = 0; ret == UPK_OK && i < upk_targets_count(md); i++) {
		struct upk_target t;
		struct upk_target_info *info = NULL;
		struct upk_error ierr = {0};
		json_t *e;

		ret = upk_targets_at(md, i, &t, err);
		if (ret != UPK_OK)
			break;
		upk_target_info_parse(t.custom, &info, &ierr);
		e = json_pack("{s:s, s:s, s:I, s:O}", "path", t.path, "role", role, "length",
			      (json_int_t)t.length, "hashes", t.hashes);
		if (e == NULL || json_array_append_new(out, e) != 0) {
			upk_target_info_free(info);
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		}
		if (info != NULL) {
			json_t *hw = json_array();

			for (size_t h = 0; hw != NULL && h < info->n_hardware; h++)
				json_array_append_new(hw, json_string(info->hardware[h]));
			json_object_set_new(e, "type", json_string(upk_target_type_name(info->type)));
			json_object_set_new(e, "version", json_string(info->version));
			json_object_set_new(e, "security_version",
					    json_integer((json_int_t)info->security_version));
			json_object_set_new(e, "hardware", hw);
			json_object_set_new(e, "selector",
					    info->selector ? json_string(info->selector) : json_null());
		} else {
			json_object_set_new(e, "invalid", json_string(ierr.msg));
		}
		if (human && info != NULL) {
			printf("%-40s %-10s %10" PRId64 "  %-8s %-12s sv=%" PRId64 "  hw=",
			       t.path, role, t.length, upk_target_type_name(info->type),
			       info->version, info->security_version);
			for (size_t h = 0; h < info->n_hardware; h++)
				printf("%s%s", h ? "," : "", info->hardware[h]);
			if (info->selector != NULL)
				printf("  selector: %s", info->selector);
			printf("\n");
		} else if (human) {
			printf("%-40s %-10s %10" PRId64 "  INVALID: %s\n", t.path, role, t.length,
			       ierr.msg);
		}
		upk_target_info_free(info);
	}
	upk_metadata_free(md);
	return ret;
}

static int target_list(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	char **names = NULL;
	size_t n = 0;
	json_t *list = json_array();
	int json = 0;
	enum cli_parse_result pr = cli_parse(&list_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		json_decref(list);
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	json = cli_flag(&a, "json");
	ret = list ? stage_open(a.pos[0], &st, &err)
		   : upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	if (ret == UPK_OK)
		ret = stage_targets_roles(st, &names, &n, &err);
	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		if (cli_opt(&a, "role") && strcmp(cli_opt(&a, "role"), names[i]) != 0)
			continue;
		ret = list_role(st, names[i], list, !json, &err);
	}
	if (ret == UPK_OK && json) {
		ret = cli_print_json(list, &err);
		list = NULL;
	}
	stage_names_free(names, n);
	json_decref(list);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command target_commands[] = {
	{"add", target_add, "add or replace a target with its upkeep fields"},
	{"remove", target_remove, "remove a target from its role"},
	{"list", target_list, "list staged targets"},
};

int cmd_target(int argc, char **argv)
{
	return cli_dispatch("upkeep target", target_commands,
			    sizeof(target_commands) / sizeof(target_commands[0]), argc, argv);
}
