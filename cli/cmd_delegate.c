/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep delegate add|remove`: hand path patterns (e.g. everything under a
 * vendor's 'vendor/model-x/') to other keys with a threshold, and take them back.
 * The delegated role gets its own staged file that its key holders sign.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

static const struct cli_opt add_opts[] = {
	{"key", "FILE", "public key file of a holder of the new role", CLI_OPT_REPEAT},
	{"threshold", "N", "signatures the role needs (default 1)", 0},
	{"path", "PATTERN", "target path pattern, e.g. 'vendor/model-x/*'", CLI_OPT_REPEAT},
	{"terminating", NULL, "clients stop searching other roles for these paths", 0},
	{"from", "ROLE", "the delegating role (default: targets)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec add_spec = {
	"upkeep delegate add DIR NAME --key FILE... --path PATTERN... [options]",
	"Delegate the target paths matching PATTERN (TUF shell-style patterns: '*' does not\n"
	"cross '/') to the role NAME, signed by K of the given keys (--threshold K). Stages\n"
	"DIR/staged/NAME.json (empty, for NAME's holders to fill and sign) and changes the\n"
	"delegating role, which must be signed again. Running it again for NAME replaces\n"
	"its keys, threshold and paths.",
	add_opts, 2, 2,
};

static int delegate_add(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *from_md = NULL, *role_md = NULL, *other_md = NULL;
	struct upk_key **keys = NULL;
	char *const *key_files, *const *paths;
	char *other = NULL;
	size_t n_keys = 0, n_paths = 0;
	unsigned long threshold = 1;
	const char *name, *from, *th;
	enum cli_parse_result pr = cli_parse(&add_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	name = a.pos[1];
	from = cli_opt(&a, "from") ? cli_opt(&a, "from") : "targets";
	key_files = cli_opt_all(&a, "key", &n_keys);
	paths = cli_opt_all(&a, "path", &n_paths);
	th = cli_opt(&a, "threshold");
	ret = stage_check_role_name(name, &err);
	if (ret != UPK_OK)
		goto out;
	if (n_keys == 0 || n_paths == 0) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "delegation %s needs at least one --key and one --path", name);
		goto out;
	}
	if (th != NULL) {
		char *end = NULL;

		errno = 0;
		threshold = strtoul(th, &end, 10);
		if (errno != 0 || end == th || *end != '\0' || th[0] == '-' || threshold == 0 ||
		    threshold > 256) {
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "--threshold \"%.32s\" must be a number from 1 to 256", th);
			goto out;
		}
	}
	for (size_t i = 0; i < n_paths; i++) {
		if (paths[i][0] == '\0' || paths[i][0] == '/') {
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "--path \"%.200s\": patterns are relative target paths",
					    paths[i]);
			goto out;
		}
	}
	if (strcmp(from, name) == 0) {
		ret = upk_error_set(&err, UPK_ERR_INVALID, "role %s cannot delegate to itself", name);
		goto out;
	}
	keys = calloc(n_keys, sizeof(*keys));
	if (keys == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_keys; i++) {
		ret = cli_load_key(key_files[i], NULL, 0, &keys[i], &err);
		if (ret != UPK_OK)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (upk_key_equal_public(keys[i], keys[j])) {
				ret = upk_error_set(&err, UPK_ERR_INVALID,
						    "--key %s is the same key as %s", key_files[i],
						    key_files[j]);
				goto out;
			}
		}
	}
	if (threshold > n_keys) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "threshold %lu is more than the %zu keys given", threshold,
				    n_keys);
		goto out;
	}
	ret = stage_open(a.pos[0], &st, &err);
	if (ret != UPK_OK)
		goto out;
	/* A role with two delegators would need two signature sets; keep one parent per role. */
	if (stage_delegator(st, name, &other, &other_md, NULL) == UPK_OK &&
	    strcmp(other, from) != 0) {
		ret = upk_error_set(&err, UPK_ERR_EXISTS,
				    "%s is already delegated by %s; remove it there first", name,
				    other);
		goto out;
	}
	ret = stage_load(st, from, &from_md, &err);
	if (ret == UPK_OK)
		ret = stage_touch(st, from, from_md, &err);
	if (ret == UPK_OK)
		ret = upk_targets_delegate(from_md, name, (const struct upk_key *const *)keys,
					   n_keys, (unsigned)threshold,
					   (const char *const *)paths, n_paths,
					   cli_flag(&a, "terminating"), &err);
	if (ret != UPK_OK)
		goto out;
	ret = stage_load(st, name, &role_md, NULL);
	if (ret == UPK_ERR_NOT_FOUND) {
		time_t exp;

		ret = stage_default_expiry(st, name, &exp, &err);
		if (ret == UPK_OK)
			ret = upk_metadata_new(UPK_ROLE_TARGETS, exp, &role_md, &err);
		/* A role that was published before (and removed) continues its version line. */
		if (ret == UPK_OK)
			ret = stage_touch(st, name, role_md, &err);
		if (ret == UPK_OK)
			ret = stage_save(st, name, role_md, &err);
	} else if (ret != UPK_OK) {
		ret = stage_load(st, name, &role_md, &err);
	}
	if (ret == UPK_OK)
		ret = stage_save(st, from, from_md, &err);
	if (ret != UPK_OK)
		goto out;
	printf("%s v%" PRId64 " delegates %zu pattern(s) to %s (%lu of %zu keys)\n", from,
	       upk_metadata_version(from_md), n_paths, name, threshold, n_keys);
	printf("sign both: upkeep sign %s %s --key FILE; upkeep sign %s %s --key FILE\n", a.pos[0],
	       from, a.pos[0], name);
out:
	for (size_t i = 0; keys != NULL && i < n_keys; i++)
		upk_key_free(keys[i]);
	free(keys);
	free(other);
	upk_metadata_free(other_md);
	upk_metadata_free(from_md);
	upk_metadata_free(role_md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_spec remove_spec = {
	"upkeep delegate remove DIR NAME",
	"Revoke the delegation to NAME: the delegating role drops it (and must be signed\n"
	"again) and DIR/staged/NAME.json is deleted. Clients stop trusting NAME's targets\n"
	"once the new delegating role is published.",
	NULL, 2, 2,
};

static int delegate_remove(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *from_md = NULL;
	char *from = NULL, *file = NULL;
	enum cli_parse_result pr = cli_parse(&remove_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = stage_check_role_name(a.pos[1], &err);
	if (ret == UPK_OK)
		ret = stage_open(a.pos[0], &st, &err);
	if (ret == UPK_OK)
		ret = stage_delegator(st, a.pos[1], &from, &from_md, &err);
	if (ret == UPK_OK)
		ret = stage_touch(st, from, from_md, &err);
	if (ret == UPK_OK)
		ret = upk_targets_undelegate(from_md, a.pos[1], &err);
	if (ret == UPK_OK)
		ret = stage_save(st, from, from_md, &err);
	if (ret != UPK_OK)
		goto out;
	if (asprintf(&file, "%s/staged/%s.json", a.pos[0], a.pos[1]) < 0)
		file = NULL;
	if (file != NULL && unlink(file) != 0 && errno != ENOENT)
		cli_warn("%s: could not delete: %s", file, strerror(errno));
	printf("%s v%" PRId64 " no longer delegates to %s; sign it: upkeep sign %s %s --key FILE\n",
	       from, upk_metadata_version(from_md), a.pos[1], a.pos[0], from);
out:
	free(file);
	free(from);
	upk_metadata_free(from_md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command delegate_commands[] = {
	{"add", delegate_add, "delegate path patterns to keys with a threshold"},
	{"remove", delegate_remove, "revoke a delegation"},
};

int cmd_delegate(int argc, char **argv)
{
	return cli_dispatch("upkeep delegate", delegate_commands,
			    sizeof(delegate_commands) / sizeof(delegate_commands[0]), argc, argv);
}
