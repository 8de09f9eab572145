/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the strict parser and the canonical encoder together: whatever
 * parses must encode, and the canonical form must parse back to an equal
 * value and encode to the very same bytes (what signing depends on).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upkeep/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_control_byte(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits so the fuzzer reaches the edges of both. */
	const struct upk_json_limits limits = {.max_bytes = 65536, .max_depth = 40};
	struct upk_error err = {0};
	json_t *doc = NULL, *back = NULL;
	char *canon = NULL, *again = NULL;
	size_t canon_len, again_len;
	upk_status ret;

	ret = upk_json_parse(data, size, &limits, &doc, &err);
	if (ret != UPK_OK) {
		/* A refusal must say why and use one of the documented codes. */
		if (err.code != ret || err.msg[0] == '\0' ||
		    (ret != UPK_ERR_INVALID && ret != UPK_ERR_TOO_LARGE))
			abort();
		return 0;
	}
	/* Parsed documents have no reals and are within depth: encoding cannot fail. */
	if (upk_cjson_encode(doc, &canon, &canon_len, &err) != UPK_OK)
		abort();
	if (canon[canon_len] != '\0' || canon_len > size)
		abort();
	ret = upk_json_parse(canon, canon_len, &limits, &back, &err);
	if (has_control_byte(canon, canon_len)) {
		/* Raw control characters in strings: canonical, but not strict JSON. */
		if (ret != UPK_ERR_INVALID)
			abort();
	} else {
		if (ret != UPK_OK || !json_equal(doc, back))
			abort();
		if (upk_cjson_encode(back, &again, &again_len, &err) != UPK_OK)
			abort();
		if (again_len != canon_len || memcmp(again, canon, canon_len) != 0)
			abort();
	}
	/* Encoding the same tree twice gives the same bytes. */
	free(again);
	again = NULL;
	if (upk_cjson_encode(doc, &again, &again_len, &err) != UPK_OK || again_len != canon_len ||
	    memcmp(again, canon, canon_len) != 0)
		abort();
	free(again);
	free(canon);
	json_decref(back);
	json_decref(doc);
	return 0;
}
