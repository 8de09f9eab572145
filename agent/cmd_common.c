/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers every upkeepd command uses: configuration, errors, usage. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "fileio.h"

int agent_cmd_fail(const char *cmd, const struct upk_error *err)
{
	fprintf(stderr, "upkeepd %s: %s\n", cmd,
	        err->msg[0] ? err->msg : upk_status_str(err->code));
	return 1;
}

int agent_cmd_usage(const char *cmd, const char *usage)
{
	fprintf(stderr, "upkeepd %s: bad arguments\n%s", cmd, usage);
	return 2;
}

struct agent_config *agent_cmd_load_config(const char *cmd, const char *path)
{
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	if (agent_config_load(path, &cfg, &err) != UPK_OK) {
		agent_cmd_fail(cmd, &err);
		return NULL;
	}
	return cfg;
}

int agent_cmd_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
	}
	return 0;
}

char *agent_cmd_state_path(const struct agent_config *cfg)
{
	return fio_path_join(cfg->data_dir, "state.json");
}
