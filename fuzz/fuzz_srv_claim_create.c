/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the server's parse_claim_create() request body parser
 * (server/claim_parse.c): any bytes must give a clean status, never a crash
 * or a leak, and a success must free cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "claim_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claim_create_req r;
	struct upk_error err = {0};

	if (parse_claim_create(data, size, &r, &err) == UPK_OK) {
		/* The texts are exact and NUL-free: their lengths must agree. */
		if (strlen(r.image_root) != r.image_len || strlen(r.director_root) != r.director_len)
			__builtin_trap();
		claim_create_req_clear(&r);
	}
	return 0;
}
