/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep`, the owner's tool: keys, repository staging, k-of-n signing,
 * publishing and verification offline, and the server commands (fleets,
 * devices, releases, rollouts, audit). This file is only the command table;
 * each group lives in cli/cmd_<group>.c (server ones in cmd_server_<group>.c).
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
	{"bundle", cmd_bundle, "make an offline bundle for `upkeepd install`"},
	/* upkeep-server (docs/owner-tool.md, "Server"). */
	{"fleet", cmd_fleet, "server: online keys, create and show a fleet"},
	{"device", cmd_device, "server: list, accept, tag, pin devices; their history"},
	{"release", cmd_release, "server: upload a published repository and its payloads"},
	{"rollout", cmd_rollout, "server: phased rollouts; create, status, pause, resume, abort"},
	{"audit", cmd_audit, "server: the fleet's audit log"},
	{"transfer", cmd_transfer, "sell devices: transfer roots, signatures, submit, adopt"},
	{"ownership", cmd_ownership, "server: a fleet's verified ownership history (root chain)"},
};

int main(int argc, char **argv)
{
	return cli_dispatch("upkeep", commands, sizeof(commands) / sizeof(commands[0]), argc,
			    argv);
}
