/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeepd's subcommands. main.c holds the command table; each group lives in
 * cmd_<group>.c. A command returns the process exit status: 0 success,
 * 1 failure (one line on stderr), 2 usage error.
 */
#ifndef UPKEEP_AGENT_COMMANDS_H
#define UPKEEP_AGENT_COMMANDS_H

#include "agent_config.h"
#include "upkeep/error.h"

struct agent_cmd {
	const char *name;
	int (*fn)(const char *config_path, int argc, char **argv);
	const char *summary;
};

int agent_cmd_status(const char *config_path, int argc, char **argv);
int agent_cmd_identity(const char *config_path, int argc, char **argv);
int agent_cmd_install_image(const char *config_path, int argc, char **argv);
int agent_cmd_install_archive(const char *config_path, int argc, char **argv);
int agent_cmd_health(const char *config_path, int argc, char **argv);
int agent_cmd_commit(const char *config_path, int argc, char **argv);
int agent_cmd_rollback(const char *config_path, int argc, char **argv);
int agent_cmd_daemon(const char *config_path, int argc, char **argv);
int agent_cmd_check(const char *config_path, int argc, char **argv);
int agent_cmd_install(const char *config_path, int argc, char **argv);
int agent_cmd_resume(const char *config_path, int argc, char **argv);
int agent_cmd_reset(const char *config_path, int argc, char **argv);
int agent_cmd_claim_code(const char *config_path, int argc, char **argv);

/* Shared by the commands (cmd_common.c). */
int agent_cmd_fail(const char *cmd, const struct upk_error *err);
int agent_cmd_usage(const char *cmd, const char *usage);
/* Load the configuration; on failure print it and return NULL. */
struct agent_config *agent_cmd_load_config(const char *cmd, const char *path);
/* 1 when argv[i] is --help or -h anywhere (then usage is printed to stdout). */
int agent_cmd_wants_help(int argc, char **argv, const char *usage);
/* The agent's state file: DATA_DIR/state.json (malloc()ed). */
char *agent_cmd_state_path(const struct agent_config *cfg);

#endif
