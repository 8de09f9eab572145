/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep`, the owner's offline tool: keys, repository staging, k-of-n
 * signing, publishing and verification. This file is only the command table;
 * each group lives in cli/cmd_<group>.c.
 */
#include <stddef.h>

#include "cli.h"
#include "commands.h"

static const struct cli_command commands[] = {
	{"key", cmd_key, "generate and inspect Ed25519 key files"},
	{"repo", cmd_repo, "create a repository staging area with keys and thresholds"},
	{"target", cmd_target, "add, remove and list targets with their upkeep fields"},
	{"delegate", cmd_delegate, "delegate target paths to other keys, or revoke that"},
	{"sign", cmd_sign, "add one key holder's signature to a staged role or file"},
	{"import", cmd_import, "merge signatures from copies signed by other holders"},
	{"renew", cmd_renew, "give a staged role a new version and expiry"},
	{"root", cmd_root, "rotate the root: keys and thresholds of every role"},
	{"status", cmd_status, "show versions, expiries and missing signatures"},
	{"publish", cmd_publish, "write a consistent-snapshot repository for clients"},
	{"verify", cmd_verify, "verify a published repository from a trusted root"},
};

int main(int argc, char **argv)
{
	return cli_dispatch("upkeep", commands, sizeof(commands) / sizeof(commands[0]), argc,
			    argv);
}
