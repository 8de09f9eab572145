/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep status`: for each staged role its version, expiry and how many of
 * the needed signatures it has, naming the keys still missing, so holders
 * know who must sign before `upkeep publish` will accept the repository.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

static const struct cli_opt status_opts[] = {
	{"json", NULL, "print the report as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec status_spec = {
	"upkeep status DIR [options]",
	"Show every staged role (root, targets, delegated roles): version (with '*' when it\n"
	"changed since the last publish), expiry, valid signatures of the threshold and the\n"
	"key ids still missing; then the last published snapshot and timestamp. While a new\n"
	"root is staged it also counts the published root's keys, which must sign it too.\n"
	"Exit status 0 also when signatures are missing: this is a report.",
	status_opts, 1, 1,
};

/* One signature check as JSON, and a human summary appended to line. */
static json_t *auth_report(struct role_auth *a, struct upk_metadata *md, char *line,
			   size_t line_size, const char *label)
{
	unsigned valid = 0;
	json_t *missing = json_array(), *o;
	size_t used = strlen(line);

	if (role_auth_check(a, md, &valid, NULL) != UPK_OK)
		valid = 0;
	for (size_t i = 0; missing != NULL && i < a->n; i++) {
		if (!a->valid[i])
			json_array_append_new(missing, json_string(a->keyids[i]));
	}
	o = json_object();
	if (o != NULL) {
		json_object_set_new(o, "keys_of", json_string(a->where));
		json_object_set_new(o, "valid", json_integer(valid));
		json_object_set_new(o, "threshold", json_integer(a->threshold));
		json_object_set_new(o, "missing_keyids", missing ? json_incref(missing) : json_array());
	}
	if (used < line_size) {
		int n = snprintf(line + used, line_size - used, "%s%u/%u", label, valid,
				 a->threshold);

		if (n > 0 && valid < a->threshold && (size_t)n < line_size - used) {
			size_t at = used + (size_t)n;

			at += (size_t)snprintf(line + at, line_size - at, " (missing:");
			for (size_t i = 0; i < a->n && at < line_size; i++) {
				if (!a->valid[i])
					at += (size_t)snprintf(line + at, line_size - at, " %.12s",
							       a->keyids[i]);
			}
			if (at < line_size)
				snprintf(line + at, line_size - at, ")");
		}
	}
	json_decref(missing);
	return o;
}

static upk_status report_role(struct stage *st, const char *role, json_t *roles, int human,
			      int *ready, struct upk_error *err)
{
	struct upk_metadata *md = NULL;
	struct role_auth cur, prev;
	json_t *o = NULL, *checks;
	char line[512] = "", exp[21];
	int64_t pub;
	int changed, expired, ok = 1;
	upk_status ret;

	memset(&cur, 0, sizeof(cur));
	memset(&prev, 0, sizeof(prev));
	ret = stage_load(st, role, &md, err);
	if (ret == UPK_OK)
		ret = stage_role_auth(st, role, 0, &cur, err);
	if (ret != UPK_OK)
		goto out;
	pub = stage_published_version(st, role);
	changed = upk_metadata_version(md) > pub;
	expired = upk_metadata_is_expired(md, st->now);
	upk_time_format(upk_metadata_expires(md), exp);
	checks = json_array();
	o = json_object();
	if (o == NULL || checks == NULL) {
		json_decref(checks);
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_object_set_new(o, "role", json_string(role));
	json_object_set_new(o, "version", json_integer(upk_metadata_version(md)));
	json_object_set_new(o, "published_version", json_integer(pub));
	json_object_set_new(o, "changed", json_boolean(changed));
	json_object_set_new(o, "expires", json_string(exp));
	json_object_set_new(o, "expired", json_boolean(expired));
	json_object_set_new(o, "signatures", checks);
	json_array_append_new(checks, auth_report(&cur, md, line, sizeof(line), ""));
	{
		unsigned v = 0;

		role_auth_check(&cur, md, &v, NULL);
		ok &= v >= cur.threshold;
	}
	if (strcmp(role, "root") == 0 && st->pub_root != NULL && changed &&
	    stage_role_auth(st, role, 1, &prev, NULL) == UPK_OK) {
		unsigned v = 0;
		size_t used = strlen(line);

		snprintf(line + used, sizeof(line) - used, "; ");
		json_array_append_new(checks, auth_report(&prev, md, line, sizeof(line),
							  "previous root: "));
		role_auth_check(&prev, md, &v, NULL);
		ok &= v >= prev.threshold;
	}
	ok &= !expired;
	json_object_set_new(o, "ready", json_boolean(ok));
	*ready &= ok;
	if (human) {
		char ver[32];

		snprintf(ver, sizeof(ver), "v%" PRId64 "%s", upk_metadata_version(md),
			 changed ? "*" : "");
		printf("%-12s %-7s %-21s %s%s\n", role, ver, exp, line, expired ? "  EXPIRED" : "");
	}
	if (json_array_append_new(roles, o) != 0)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	o = NULL;
out:
	json_decref(o);
	role_auth_free(&cur);
	role_auth_free(&prev);
	upk_metadata_free(md);
	return ret;
}

static void report_published(struct stage *st, const char *role, json_t *roles, int human)
{
	struct upk_metadata *md = NULL;
	char exp[21];
	json_t *o;

	if (stage_load_published(st, role, &md, NULL) != UPK_OK) {
		if (human)
			printf("%-12s %-29s (made at publish)\n", role, "not published yet");
		return;
	}
	upk_time_format(upk_metadata_expires(md), exp);
	o = json_pack("{s:s, s:I, s:s, s:b}", "role", role, "version",
		      (json_int_t)upk_metadata_version(md), "expires", exp, "expired",
		      upk_metadata_is_expired(md, st->now));
	if (o != NULL)
		json_array_append_new(roles, o);
	if (human)
		printf("%-12s v%-6" PRId64 " %-21s (made at publish)%s\n", role,
		       upk_metadata_version(md), exp,
		       upk_metadata_is_expired(md, st->now) ? "  EXPIRED" : "");
	upk_metadata_free(md);
}

int cmd_status(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	char **names = NULL;
	size_t n = 0;
	json_t *roles = json_array(), *published = json_array();
	int human, ready = 1;
	enum cli_parse_result pr = cli_parse(&status_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		json_decref(roles);
		json_decref(published);
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	human = !cli_flag(&a, "json");
	ret = roles && published ? stage_open(a.pos[0], &st, &err)
				 : upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	if (ret == UPK_OK)
		ret = stage_targets_roles(st, &names, &n, &err);
	if (ret != UPK_OK)
		goto out;
	if (human)
		printf("%-12s %-7s %-21s %s\n", "ROLE", "VERSION", "EXPIRES", "SIGNATURES");
	ret = report_role(st, "root", roles, human, &ready, &err);
	for (size_t i = 0; ret == UPK_OK && i < n; i++)
		ret = report_role(st, names[i], roles, human, &ready, &err);
	if (ret != UPK_OK)
		goto out;
	report_published(st, "snapshot", published, human);
	report_published(st, "timestamp", published, human);
	if (human) {
		printf("* changed since the last publish\n");
		printf("%s\n", ready ? "ready to publish"
				     : "not ready to publish: signatures missing or roles expired");
	} else {
		ret = cli_print_json(json_pack("{s:O, s:O, s:b}", "roles", roles, "published",
					       published, "ready", ready),
				     &err);
	}
out:
	json_decref(roles);
	json_decref(published);
	stage_names_free(names, n);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
