/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the server's parse_claim_poll() request body parser
 * (server/claim_parse.c): any bytes must give a clean status, never a crash
 * or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "claim_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claim_poll_req r;
	struct upk_error err = {0};

	(void)parse_claim_poll(data, size, &r, &err);
	return 0;
}
