/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's config target payload parser
 * (agent/config_target.c): owner-signed, but still outside input that can
 * move a device, so any bytes must parse or be refused with a message,
 * never crash or leak. The agent files are included directly, like
 * fuzz_agent_config.c.
 */
#include <stdint.h>
#include <string.h>

#include "../agent/config_target.c"
#include "../agent/fileio.c"
#include "../agent/journal.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_payload p;
	struct upk_error err = {0};

	if (config_payload_parse(data, size, &p, &err) == UPK_OK) {
		/* What parses is within its limits: a fleet URL and a bounded poll interval. */
		if ((p.server[0] != '\0' && !config_fleet_url_ok(p.server)) ||
		    (p.poll_interval_s != 0 &&
		     (p.poll_interval_s < CONFIG_POLL_MIN || p.poll_interval_s > CONFIG_POLL_MAX)) ||
		    (p.factory_reset_allow != 0 && p.factory_reset_allow != 1))
			__builtin_trap();
	} else if (err.msg[0] == '\0') {
		__builtin_trap();
	}
	return 0;
}
