/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep renew`: move a staged root, targets or delegated role to its next
 * version with a new expiry, so that it can be signed again before clients
 * start refusing it. Snapshot and timestamp are renewed by every publish.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

static const struct cli_opt renew_opts[] = {
	{"expires", "WHEN", "new expiry: period (90d) or UTC date (default: the role's period)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec renew_spec = {
	"upkeep renew DIR ROLE [options]",
	"Give the staged ROLE (root, targets or a delegated role) its next version (once per\n"
	"publish round) and a new expiry, dropping its signatures: its holders sign it again.\n"
	"A date in the past is accepted with a warning (to build test repositories); publish\n"
	"refuses expired roles unless --allow-expired.",
	renew_opts, 2, 2,
};

int cmd_renew(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *md = NULL;
	const char *role;
	enum cli_parse_result pr = cli_parse(&renew_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	role = a.pos[1];
	if (strcmp(role, "snapshot") == 0 || strcmp(role, "timestamp") == 0) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "%s gets a new version and expiry at every 'upkeep publish' "
				    "(--%s-expires WHEN)",
				    role, role);
		goto out;
	}
	ret = stage_open(a.pos[0], &st, &err);
	if (ret == UPK_OK)
		ret = stage_load(st, role, &md, &err);
	if (ret == UPK_OK)
		ret = stage_touch(st, role, md, &err);
	if (ret == UPK_OK) {
		time_t when;

		if (cli_opt(&a, "expires") != NULL)
			ret = cli_parse_when(cli_opt(&a, "expires"), st->now, &when, &err);
		else
			ret = stage_default_expiry(st, role, &when, &err);
		if (ret == UPK_OK)
			ret = upk_metadata_set_expires(md, when, &err);
		if (ret == UPK_OK && when <= st->now)
			cli_warn("%s expires in the past: clients will refuse it", role);
	}
	if (ret == UPK_OK)
		ret = stage_save(st, role, md, &err);
	if (ret == UPK_OK) {
		char exp[21];

		upk_time_format(upk_metadata_expires(md), exp);
		printf("%s v%" PRId64 " expires %s; sign it again: upkeep sign %s %s --key FILE\n",
		       role, upk_metadata_version(md), exp, a.pos[0], role);
	}
out:
	upk_metadata_free(md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
