/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for TUF key objects: bytes -> JSON -> upk_key_from_tuf,
 * the parser every root and delegation key from outside goes through.
 * Accepted keys are also re-encoded, given an id and asked to verify.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "upkeep/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t sig[64] = {0};
	struct upk_key *key = NULL;
	struct upk_error err;
	char id[UPK_KEYID_HEX_LEN + 1];
	json_t *doc, *back = NULL;

	doc = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (doc == NULL)
		return 0;
	if (upk_key_from_tuf(doc, &key, &err) == UPK_OK) {
		(void)upk_key_id(key, id, &err);
		if (upk_key_to_tuf(key, &back, &err) == UPK_OK)
			json_decref(back);
		/*
		 * Result ignored: with a small-order Ed25519 public key even
		 * this signature can be valid (RFC 8032 does not exclude it).
		 */
		(void)upk_key_verify(key, data, size, sig, sizeof(sig), &err);
		upk_key_free(key);
	}
	json_decref(doc);
	return 0;
}
