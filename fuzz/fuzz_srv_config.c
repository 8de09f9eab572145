/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the server configuration parser (server/config.c):
 * `key = value` text with line numbers in errors, bounded lines.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_config cfg;
	struct upk_error err = {0};

	if (config_init(&cfg, &err) != UPK_OK)
		return 0;
	if (config_parse_text(&cfg, "fuzz", (const char *)data, size, &err) == UPK_OK)
		(void)config_validate(&cfg, &err);
	config_free(&cfg);
	return 0;
}
