/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the server's parse_rollout_create() request body parser
 * (server/api_parse.c): any bytes must give a clean status, never a crash
 * or a leak, and a success must free cleanly.
 */
#include <stddef.h>
#include <stdint.h>

#include "api_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rollout_create_req r;
	struct upk_error err = {0};

	if (parse_rollout_create(data, size, &r, &err) == UPK_OK)
		rollout_create_req_clear(&r);
	return 0;
}
