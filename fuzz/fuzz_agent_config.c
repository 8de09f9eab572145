/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's configuration parser: arbitrary bytes must
 * parse or be refused with a message, never crash or leak. The parser file is
 * included directly (as wireguard-tools' fuzzers do), so no agent library is
 * needed in the fuzz build.
 */
#include <stdint.h>
#include <string.h>

#include "../agent/agent_config.c"
#include "../agent/fileio.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	if (agent_config_parse((const char *)data, size, "fuzz.conf", &cfg, &err) == UPK_OK) {
		/* What parses is complete: the defaults are filled in. */
		if (cfg->data_dir == NULL || cfg->key_path == NULL || cfg->archive_dir == NULL ||
		    (cfg->n_slots != 0 && cfg->n_slots != 2))
			__builtin_trap();
		agent_config_free(cfg);
	} else if (cfg != NULL || err.msg[0] == '\0') {
		__builtin_trap();
	}
	return 0;
}
