/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeepd, the device agent. This file is only the command table and the
 * global options; each command lives in agent/cmd_<group>.c.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fileio.h"

static const struct agent_cmd commands[] = {
    {"daemon", agent_cmd_daemon, "enrol, check in periodically, install what the director assigns"},
    {"check", agent_cmd_check, "one check now (with the server, or a mirror given by URL)"},
    {"install", agent_cmd_install, "install from an offline bundle, verified like a check"},
    {"resume", agent_cmd_resume, "after a reboot: health-check and commit or roll back"},
    {"status", agent_cmd_status, "show the device id, the slots and the installed bundles"},
    {"identity", agent_cmd_identity, "show the device id, generating the device key on first use"},
    {"install-image", agent_cmd_install_image,
     "write a local image into the inactive slot and arm a trial boot"},
    {"install-archive", agent_cmd_install_archive,
     "unpack a local bundle, switch to it, health-check, commit or roll back"},
    {"health", agent_cmd_health, "run the health-check commands"},
    {"commit", agent_cmd_commit, "after a trial boot: health-check and commit the running slot"},
    {"rollback", agent_cmd_rollback, "drop the armed or running trial: back to the committed slot"},
    {"reset", agent_cmd_reset, "factory reset (as root): wipe owner data, wait for a new owner's claim"},
    {"claim-code", agent_cmd_claim_code, "show the one-time claim code of a reset device"},
};

static void help(FILE *f)
{
	fprintf(f,
	        "usage: upkeepd [--config FILE] COMMAND [ARGS]\n"
	        "       upkeepd COMMAND --help\n\n"
	        "The upkeep device agent. --config defaults to " AGENT_CONFIG_DEFAULT_PATH ".\n\n"
	        "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

/* Test hook: UPKEEP_FAULT injects I/O faults (see fio_plan_parse in agent/fileio.h). */
static struct fio_fault_plan fault_plan;

int main(int argc, char **argv)
{
	const char *config = AGENT_CONFIG_DEFAULT_PATH;
	const char *fault = getenv("UPKEEP_FAULT");
	int i = 1;

	if (fault != NULL && fault[0] != '\0') {
		struct upk_error err = {0};
		if (fio_plan_parse(fault, &fault_plan, &err) != UPK_OK) {
			fprintf(stderr, "upkeepd: UPKEEP_FAULT: %s\n", err.msg);
			return 2;
		}
		fio_set_fault_hook(fio_plan_hook, &fault_plan);
	}
	/* Test hook: UPKEEP_POWERCUT_LOG records writes and syncs (fio_set_write_log). */
	if (getenv("UPKEEP_POWERCUT_LOG") != NULL) {
		int fd = open(getenv("UPKEEP_POWERCUT_LOG"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		              0600);

		if (fd < 0) {
			fprintf(stderr, "upkeepd: UPKEEP_POWERCUT_LOG: cannot open\n");
			return 2;
		}
		fio_set_write_log(fd);
	}
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			i++;
		} else {
			fprintf(stderr, "upkeepd: unknown option %s\n", argv[i]);
			help(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		help(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].fn(config, argc - i, argv + i);
	fprintf(stderr, "upkeepd: unknown command \"%s\" (see upkeepd --help)\n", argv[i]);
	return 2;
}
