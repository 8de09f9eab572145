/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep root rotate`: stage root version N+1 with keys added or removed and
 * thresholds changed for any role (including the online snapshot and
 * timestamp keys). Publishing it needs a threshold of both the old and the
 * new root keys, which is what lets devices follow the chain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

static const struct cli_opt rotate_opts[] = {
	{"add-key", "ROLE=FILE", "add the public key in FILE to ROLE", CLI_OPT_REPEAT},
	{"remove-key", "ROLE=KEYID|FILE", "remove a key (id, unique id prefix or key file) from ROLE",
	 CLI_OPT_REPEAT},
	{"threshold", "ROLE=N", "set ROLE's threshold", CLI_OPT_REPEAT},
	{"expires", "WHEN", "expiry of the new root (default: the configured period)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec rotate_spec = {
	"upkeep root rotate DIR [options]",
	"Stage the next root version (once per publish round) with the given changes. ROLE\n"
	"is root, targets, snapshot or timestamp. The new root must then be signed by a\n"
	"threshold of the published root's root keys AND of its own root keys:\n"
	"'upkeep sign DIR root --key FILE' accepts both. Without options it only renews the\n"
	"root's version and expiry.",
	rotate_opts, 1, 1,
};

/* Split "role=value"; role must be a top-level role. */
static upk_status split_arg(const char *opt, const char *arg, char role[16], const char **value,
			    struct upk_error *err)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;

	if (eq == NULL || n == 0 || n >= 16 || eq[1] == '\0')
		return upk_error_set(err, UPK_ERR_INVALID,
				     "--%s \"%.64s\": expected ROLE=VALUE (e.g. root=new.pub)", opt,
				     arg);
	memcpy(role, arg, n);
	role[n] = '\0';
	if (!stage_is_top_role(role))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "--%s \"%.64s\": %s is not root, targets, snapshot or timestamp",
				     opt, arg, role);
	*value = eq + 1;
	return UPK_OK;
}

/* A full key id, a unique prefix of one of the role's key ids, or a key file. */
static upk_status resolve_keyid(const struct upk_metadata *root, const char *role,
				const char *value, char out[UPK_KEYID_HEX_LEN + 1],
				struct upk_error *err)
{
	struct upk_role_keys rk;
	size_t len = strlen(value), found = 0;
	upk_status ret;

	ret = upk_root_role(root, role, &rk, err);
	if (ret != UPK_OK)
		return ret;
	if (len >= 8 && len <= UPK_KEYID_HEX_LEN && strspn(value, "0123456789abcdef") == len) {
		for (size_t i = 0; i < rk.n_keyids; i++) {
			if (strncmp(rk.keyids[i], value, len) == 0) {
				snprintf(out, UPK_KEYID_HEX_LEN + 1, "%s", rk.keyids[i]);
				found++;
			}
		}
		if (found == 1)
			return UPK_OK;
		if (found > 1)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "key id prefix %s matches %zu keys of %s", value, found,
					     role);
		if (!cli_exists(value))
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s has no key %s", role, value);
	}
	{
		struct upk_key *key = NULL;

		ret = cli_load_key(value, NULL, 0, &key, err);
		if (ret == UPK_OK)
			ret = upk_key_id(key, out, err);
		upk_key_free(key);
		if (ret != UPK_OK)
			return ret;
		for (size_t i = 0; i < rk.n_keyids; i++) {
			if (strcmp(rk.keyids[i], out) == 0)
				return UPK_OK;
		}
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s is not a key of %s (%.16s...)",
				     value, role, out);
	}
}

static upk_status check_roles(const struct upk_metadata *root, struct upk_error *err)
{
	static const char *const roles[] = {"root", "targets", "snapshot", "timestamp"};

	for (size_t i = 0; i < 4; i++) {
		struct upk_role_keys rk;
		upk_status ret = upk_root_role(root, roles[i], &rk, err);

		if (ret != UPK_OK)
			return ret;
		if (rk.n_keyids == 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "the %s role would have no keys left", roles[i]);
		if (rk.threshold > rk.n_keyids)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "the %s threshold %u is more than its %zu keys", roles[i],
					     rk.threshold, rk.n_keyids);
	}
	return UPK_OK;
}

static int root_rotate(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *root = NULL;
	char *const *vals;
	size_t n;
	enum cli_parse_result pr = cli_parse(&rotate_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = stage_open(a.pos[0], &st, &err);
	if (ret == UPK_OK)
		ret = upk_metadata_dup(st->root, &root, &err);
	if (ret == UPK_OK)
		ret = stage_touch(st, "root", root, &err);
	if (ret == UPK_OK && cli_opt(&a, "expires") != NULL) {
		time_t when;

		ret = cli_parse_when(cli_opt(&a, "expires"), st->now, &when, &err);
		if (ret == UPK_OK && when <= st->now)
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "--expires %s is in the past: devices would refuse the root",
					    cli_opt(&a, "expires"));
		if (ret == UPK_OK)
			ret = upk_metadata_set_expires(root, when, &err);
	}
	vals = cli_opt_all(&a, "remove-key", &n);
	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		char role[16], keyid[UPK_KEYID_HEX_LEN + 1];
		const char *v;

		ret = split_arg("remove-key", vals[i], role, &v, &err);
		if (ret == UPK_OK)
			ret = resolve_keyid(root, role, v, keyid, &err);
		if (ret == UPK_OK)
			ret = upk_root_remove_key(root, role, keyid, &err);
		if (ret == UPK_OK)
			printf("%s: removed key %s\n", role, keyid);
	}
	vals = cli_opt_all(&a, "add-key", &n);
	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		char role[16], keyid[UPK_KEYID_HEX_LEN + 1];
		const char *v;
		struct upk_key *key = NULL;

		ret = split_arg("add-key", vals[i], role, &v, &err);
		if (ret == UPK_OK)
			ret = cli_load_key(v, NULL, 0, &key, &err);
		if (ret == UPK_OK)
			ret = upk_key_id(key, keyid, &err);
		if (ret == UPK_OK)
			ret = upk_root_add_key(root, role, key, &err);
		if (ret == UPK_OK)
			printf("%s: added key %s\n", role, keyid);
		upk_key_free(key);
	}
	vals = cli_opt_all(&a, "threshold", &n);
	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		char role[16], *end = NULL;
		const char *v;
		unsigned long t = 0;

		ret = split_arg("threshold", vals[i], role, &v, &err);
		if (ret == UPK_OK) {
			errno = 0;
			t = strtoul(v, &end, 10);
			if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || t == 0 || t > 256)
				ret = upk_error_set(&err, UPK_ERR_INVALID,
						    "--threshold %s: N must be 1 to 256", vals[i]);
		}
		if (ret == UPK_OK)
			ret = upk_root_set_threshold(root, role, (unsigned)t, &err);
	}
	if (ret == UPK_OK)
		ret = check_roles(root, &err);
	if (ret == UPK_OK)
		ret = stage_save(st, "root", root, &err);
	if (ret != UPK_OK)
		goto out;
	{
		char exp[21];
		struct upk_role_keys rk;

		upk_time_format(upk_metadata_expires(root), exp);
		printf("staged root v%" PRId64 " (expires %s)\n", upk_metadata_version(root), exp);
		if (upk_root_role(root, "root", &rk, NULL) == UPK_OK)
			printf("sign it with %u of its %zu root keys", rk.threshold, rk.n_keyids);
		if (st->pub_root != NULL &&
		    upk_root_role(st->pub_root, "root", &rk, NULL) == UPK_OK)
			printf(" and %u of the %zu root keys of published root v%" PRId64,
			       rk.threshold, rk.n_keyids, upk_metadata_version(st->pub_root));
		printf(": upkeep sign %s root --key FILE\n", a.pos[0]);
	}
out:
	upk_metadata_free(root);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command root_commands[] = {
	{"rotate", root_rotate, "stage a new root version with changed keys or thresholds"},
};

int cmd_root(int argc, char **argv)
{
	return cli_dispatch("upkeep root", root_commands,
			    sizeof(root_commands) / sizeof(root_commands[0]), argc, argv);
}
