/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request bodies of the claim endpoints (docs/ownership.md): an operator
 * relaying a new owner's claim to an unclaimed device, and the device asking
 * for claims. Pure functions of the bytes (fuzz/fuzz_srv_claim*.c drive them).
 */
#ifndef UPK_SERVER_CLAIM_PARSE_H
#define UPK_SERVER_CLAIM_PARSE_H

#include <stddef.h>

#include "api_parse.h"

/* Largest root text a claim carries (a root with dozens of keys is well below). */
#define CLAIM_MAX_ROOT_BYTES (32u * 1024u)
/* Claims one device is given per request, newest first: bounds the answer to < 1 MiB. */
#define CLAIM_MAX_PER_DEVICE 8
/* Open claims per fleet (each is consumed by the device's enrolment). */
#define CLAIM_MAX_PER_FLEET 1000

struct claim_create_req {
	char device[UPK_KEYID_HEX_LEN + 1];
	char *image_root;    /* the exact text, as the fleet serves it */
	size_t image_len;
	char *director_root;
	size_t director_len;
	char mac[65]; /* lower-case hex */
};

struct claim_poll_req {
	char keyid[UPK_KEYID_HEX_LEN + 1]; /* of the body's public_key */
};

/* {"device", "image_root", "director_root", "mac"}: all required strings. */
upk_status parse_claim_create(const void *buf, size_t len, struct claim_create_req *out,
			      struct upk_error *err);
void claim_create_req_clear(struct claim_create_req *r);

/* {"public_key": ed25519 TUF key}. */
upk_status parse_claim_poll(const void *buf, size_t len, struct claim_poll_req *out,
			    struct upk_error *err);

#endif
