/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the server's transfer request parsers
 * (server/api_parse.c): parse_transfer() on the body and, when it parses,
 * upk_transfer_record_parse() on the "signed" object of both roots. Any bytes
 * must give a clean status, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "api_parse.h"
#include "upkeep/transfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transfer_req r;
	struct upk_transfer_record rec;
	struct upk_error err = {0};

	if (parse_transfer(data, size, &r, &err) != UPK_OK)
		return 0;
	if (upk_transfer_record_parse(json_object_get(r.image_root, "signed"), &rec, &err) == UPK_OK)
		upk_transfer_record_clear(&rec);
	if (upk_transfer_record_parse(json_object_get(r.director_root, "signed"), &rec, &err) == UPK_OK)
		upk_transfer_record_clear(&rec);
	transfer_req_clear(&r);
	return 0;
}
