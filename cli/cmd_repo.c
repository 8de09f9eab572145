/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep repo init`: a new staging area with the keys and thresholds of the
 * four top-level roles and safe default expiries (root 365d, targets 90d,
 * snapshot 7d, timestamp 1d). Nothing is signed here: holders sign next.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

static const struct cli_opt init_opts[] = {
	{"root-key", "FILE", "a public key file of a root key holder", CLI_OPT_REPEAT},
	{"root-threshold", "N", "root signatures needed (default 1)", 0},
	{"targets-key", "FILE", "a public key file for the targets role", CLI_OPT_REPEAT},
	{"targets-threshold", "N", "targets signatures needed (default 1)", 0},
	{"snapshot-key", "FILE", "a public key file for the snapshot role", CLI_OPT_REPEAT},
	{"snapshot-threshold", "N", "snapshot signatures needed (default 1)", 0},
	{"timestamp-key", "FILE", "a public key file for the timestamp role", CLI_OPT_REPEAT},
	{"timestamp-threshold", "N", "timestamp signatures needed (default 1)", 0},
	{"root-expires", "WHEN", "root expiry: period (365d) or UTC date (default 365d)", 0},
	{"targets-expires", "WHEN", "targets expiry (default 90d)", 0},
	{"snapshot-expires", "PERIOD", "snapshot lifetime at each publish (default 7d)", 0},
	{"timestamp-expires", "PERIOD", "timestamp lifetime at each publish (default 1d)", 0},
	{"passphrase-file", "FILE", "passphrase when a private key file is given as a key", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec init_spec = {
	"upkeep repo init DIR --root-key FILE... --targets-key FILE... --snapshot-key FILE... "
	"--timestamp-key FILE... [options]",
	"Create the staging area DIR (which must not exist or be empty): DIR/upkeep-repo.json,\n"
	"DIR/staged/root.json and DIR/staged/targets.json (version 1, unsigned), and the\n"
	"directories DIR/targets (payloads) and DIR/published (what was published last).\n"
	"Every role gets the given keys and threshold (k of n). A period like 90d, 12h, 2w or\n"
	"1y counts from now; a later change to a role gives it a fresh expiry from the same\n"
	"period. Sign next with 'upkeep sign DIR root --key FILE' and 'upkeep sign DIR targets'.",
	init_opts, 1, 1,
};

static const char *const roles[] = {"root", "targets", "snapshot", "timestamp"};
static const char *const default_periods[] = {"365d", "90d", "7d", "1d"};

static upk_status parse_threshold(const char *text, const char *role, unsigned *out,
				  struct upk_error *err)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = text ? strtoul(text, &end, 10) : 1;
	if (text != NULL && (errno != 0 || end == text || *end != '\0' || v == 0 || v > 256 ||
			     text[0] == '-'))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "--%s-threshold \"%.32s\" must be a number from 1 to 256", role,
				     text);
	*out = (unsigned)v;
	return UPK_OK;
}

static upk_status check_empty_dir(const char *dir, struct upk_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL) {
		if (errno == ENOENT)
			return UPK_OK;
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", dir, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	}
	closedir(d);
	if (!empty)
		return upk_error_set(err, UPK_ERR_EXISTS,
				     "%s exists and is not empty; refusing to create a repository "
				     "there",
				     dir);
	return UPK_OK;
}

static upk_status add_role_keys(struct upk_metadata *root, const struct cli_args *a,
				const char *role, struct upk_error *err)
{
	char opt[32];
	char *const *files;
	size_t n;
	unsigned threshold = 1;
	upk_status ret;

	snprintf(opt, sizeof(opt), "%s-key", role);
	files = cli_opt_all(a, opt, &n);
	if (n == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "the %s role needs at least one key: give --%s-key FILE", role,
				     role);
	for (size_t i = 0; i < n; i++) {
		struct upk_key *key = NULL;

		ret = cli_load_key(files[i], cli_opt(a, "passphrase-file"), 0, &key, err);
		if (ret == UPK_OK)
			ret = upk_root_add_key(root, role, key, err);
		upk_key_free(key);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "--%s %s: ", opt, files[i]);
	}
	snprintf(opt, sizeof(opt), "%s-threshold", role);
	ret = parse_threshold(cli_opt(a, opt), role, &threshold, err);
	if (ret != UPK_OK)
		return ret;
	{
		struct upk_role_keys rk;

		ret = upk_root_role(root, role, &rk, err);
		if (ret != UPK_OK)
			return ret;
		/* Counted after dedup: the same key file given twice is one holder. */
		if (threshold > rk.n_keyids)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "the %s threshold %u is more than its %zu distinct keys",
					     role, threshold, rk.n_keyids);
	}
	return upk_root_set_threshold(root, role, threshold, err);
}

static int repo_init(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct upk_metadata *root = NULL, *targets = NULL;
	json_t *config = NULL, *exp;
	char *path = NULL, *text = NULL;
	const char *dir;
	time_t now = time(NULL), root_exp = 0, targets_exp = 0;
	enum cli_parse_result pr = cli_parse(&init_spec, argc, argv, &a);
	upk_status ret = UPK_OK;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	dir = a.pos[0];
	config = json_pack("{s:i, s:{}}", "upkeep_repository", STAGE_FORMAT, "expires");
	exp = json_object_get(config, "expires");
	if (config == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < 4 && ret == UPK_OK; i++) {
		char opt[32];
		const char *v;
		time_t when;

		snprintf(opt, sizeof(opt), "%s-expires", roles[i]);
		v = cli_opt(&a, opt);
		if (v == NULL)
			v = default_periods[i];
		ret = cli_parse_when(v, now, &when, &err);
		if (ret != UPK_OK) {
			upk_error_prefix(&err, ret, "--%s: ", opt);
			break;
		}
		if (when <= now) {
			ret = upk_error_set(&err, UPK_ERR_INVALID, "--%s %s is in the past", opt, v);
			break;
		}
		if (i >= 2 && !cli_when_is_relative(v)) {
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "--%s must be a period such as 7d or 12h: %s is made anew "
					    "at every publish",
					    opt, roles[i]);
			break;
		}
		if (i == 0)
			root_exp = when;
		if (i == 1)
			targets_exp = when;
		/* Only periods are kept: a fixed date would be stale for every later version. */
		json_object_set_new(exp, roles[i],
				    json_string(cli_when_is_relative(v) ? v : default_periods[i]));
	}
	if (ret != UPK_OK)
		goto out;
	ret = upk_metadata_new(UPK_ROLE_ROOT, root_exp, &root, &err);
	for (size_t i = 0; i < 4 && ret == UPK_OK; i++)
		ret = add_role_keys(root, &a, roles[i], &err);
	if (ret == UPK_OK)
		ret = upk_root_set_consistent_snapshot(root, 1, &err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_TARGETS, targets_exp, &targets, &err);
	if (ret == UPK_OK)
		ret = check_empty_dir(dir, &err);
	if (ret != UPK_OK)
		goto out;

	/* Everything is checked before the first directory is made: a typo leaves nothing behind. */
	{
		const char *subs[] = {"staged", "targets", "published"};

		for (size_t i = 0; i < 3 && ret == UPK_OK; i++) {
			free(path);
			path = cli_join(dir, subs[i]);
			ret = path ? cli_mkdirs(path, &err)
				   : upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		}
	}
	if (ret != UPK_OK)
		goto out;
	{
		struct stage st = {0};
		size_t len;

		st.dir = (char *)dir;
		st.config = config;
		st.now = now;
		st.root = root;
		ret = stage_save(&st, "root", root, &err);
		if (ret == UPK_OK)
			ret = stage_save(&st, "targets", targets, &err);
		if (ret != UPK_OK)
			goto out;
		text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
		free(path);
		path = cli_join(dir, STAGE_CONFIG);
		if (text == NULL || path == NULL) {
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		len = strlen(text);
		/* The config goes last: its presence marks a complete staging area. */
		ret = cli_write_atomic(path, text, len, 0644, &err);
		if (ret != UPK_OK)
			goto out;
	}
	printf("created repository %s\n", dir);
	for (size_t i = 0; i < 4; i++) {
		struct upk_role_keys rk;

		if (upk_root_role(root, roles[i], &rk, NULL) != UPK_OK)
			continue;
		printf("  %-10s %u of %zu keys:", roles[i], rk.threshold, rk.n_keyids);
		for (size_t k = 0; k < rk.n_keyids; k++) {
			char s[17];

			cli_short_keyid(rk.keyids[k], s);
			printf(" %s", s);
		}
		printf("\n");
	}
	printf("next: upkeep sign %s root --key FILE (each root key holder), then add targets\n",
	       dir);
out:
	free(path);
	free(text);
	json_decref(config);
	upk_metadata_free(root);
	upk_metadata_free(targets);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command repo_commands[] = {
	{"init", repo_init, "create a staging area with keys and thresholds per role"},
};

int cmd_repo(int argc, char **argv)
{
	return cli_dispatch("upkeep repo", repo_commands,
			    sizeof(repo_commands) / sizeof(repo_commands[0]), argc, argv);
}
