/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Claim codes and the claim MAC (lib/claim.c): vectors made by Python's hmac
 * (tests/vectors/claim/gen.py), a live cross-check with `openssl mac`, code
 * generation (format, alphabet, randomness) and normalisation of typed codes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "upkeep/claim.h"
#include "upkeep/crypto.h"

static json_t *load_vectors(void)
{
	size_t len = 0;
	char *text = tu_read_data("vectors/claim/claim_mac.json", &len);
	json_t *doc = json_loadb(text, len, 0, NULL);

	assert_non_null(doc);
	free(text);
	return doc;
}

static void unhex(const char *hex, uint8_t **out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	*out = malloc(n + 1);
	assert_non_null(*out);
	assert_int_equal(upk_hex_decode(hex, *out, n, NULL), UPK_OK);
	*len = n;
}

static void test_python_vectors(void **state)
{
	json_t *doc = load_vectors(), *v;
	size_t i;

	(void)state;
	assert_true(json_array_size(json_object_get(doc, "vectors")) >= 4);
	json_array_foreach(json_object_get(doc, "vectors"), i, v) {
		const char *code = json_string_value(json_object_get(v, "code"));
		const char *dev = json_string_value(json_object_get(v, "device"));
		const char *fleet = json_string_value(json_object_get(v, "fleet"));
		const char *want = json_string_value(json_object_get(v, "mac"));
		char canon[UPK_CLAIM_CODE_LEN + 1], mac[UPK_CLAIM_MAC_HEX_LEN + 1], bad[65];
		uint8_t *ir, *dr;
		size_t il, dl;
		struct upk_error err = {0};

		unhex(json_string_value(json_object_get(v, "image_root_hex")), &ir, &il);
		unhex(json_string_value(json_object_get(v, "director_root_hex")), &dr, &dl);
		assert_int_equal(upk_claim_code_normalise(code, canon, &err), UPK_OK);
		assert_string_equal(canon, json_string_value(json_object_get(v, "canonical")));
		assert_int_equal(upk_claim_mac(code, dev, fleet, ir, il, dr, dl, mac, &err), UPK_OK);
		assert_string_equal(mac, want);
		assert_int_equal(upk_claim_verify(code, dev, fleet, ir, il, dr, dl, want, &err),
		                 UPK_OK);
		/* One flipped bit of the MAC, of a root, another fleet: refused. */
		snprintf(bad, sizeof(bad), "%s", want);
		bad[63] = bad[63] == '0' ? '1' : '0';
		assert_int_equal(upk_claim_verify(code, dev, fleet, ir, il, dr, dl, bad, &err),
		                 UPK_ERR_SIGNATURE);
		if (il > 0) {
			ir[0] ^= 1;
			assert_int_equal(upk_claim_verify(code, dev, fleet, ir, il, dr, dl, want, &err),
			                 UPK_ERR_SIGNATURE);
			ir[0] ^= 1;
		}
		assert_int_equal(upk_claim_verify(code, dev, "other", ir, il, dr, dl, want, &err),
		                 UPK_ERR_SIGNATURE);
		assert_non_null(strstr(err.msg, "does not match"));
		free(ir);
		free(dr);
	}
	json_array_foreach(json_object_get(doc, "invalid_codes"), i, v) {
		char canon[UPK_CLAIM_CODE_LEN + 1];
		struct upk_error err = {0};

		assert_int_equal(upk_claim_code_normalise(json_string_value(v), canon, &err),
		                 UPK_ERR_INVALID);
		/* The message never repeats the secret. */
		if (json_string_length(v) > 0)
			assert_null(strstr(err.msg, json_string_value(v)));
	}
	json_decref(doc);
}

/* The same MAC from `openssl mac` (another implementation, run now). */
static void test_openssl_cli_cross_check(void **state)
{
	char *dir = tu_mkdtemp(), path[512], outp[512], mac[UPK_CLAIM_MAC_HEX_LEN + 1];
	const char *ir = "{\"signed\":{\"version\":7}}", *dr = "director";
	char ih[65], dh[65], msg[512], *got;
	uint8_t d[UPK_HASH_MAX_LEN];
	size_t len = 0;
	struct upk_error err = {0};
	const char *dev = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

	(void)state;
	if (tu_system("openssl version >/dev/null 2>&1") != 0) {
		tu_rmtree(dir);
		free(dir);
		skip();
	}
	upk_hash_buf(UPK_HASH_SHA256, ir, strlen(ir), d, NULL);
	upk_hex_encode(d, 32, ih);
	upk_hash_buf(UPK_HASH_SHA256, dr, strlen(dr), d, NULL);
	upk_hex_encode(d, 32, dh);
	snprintf(msg, sizeof(msg), "upkeep-claim-v1\n%s\n/v1/fleets/acme\n%s\n%s", dev, ih, dh);
	snprintf(path, sizeof(path), "%s/msg", dir);
	snprintf(outp, sizeof(outp), "%s/mac", dir);
	tu_write_file(path, msg, strlen(msg));
	assert_int_equal(tu_system("openssl mac -digest SHA256 -macopt key:Q1W2E3R4T5Y6Z7X8C9V0 "
	                           "-in %s HMAC | tr A-F a-f > %s",
	                           path, outp),
	                 0);
	got = tu_read_file(outp, &len);
	assert_int_equal(upk_claim_mac("q1w2e-3r4t5-y6z7x-8c9v0", dev, "acme", ir, strlen(ir), dr,
	                               strlen(dr), mac, &err),
	                 UPK_OK);
	assert_true(len >= 64);
	assert_memory_equal(got, mac, 64);
	free(got);
	tu_rmtree(dir);
	free(dir);
}

static void test_generate(void **state)
{
	char seen[64][UPK_CLAIM_CODE_DISPLAY_LEN + 1];
	unsigned counts[32] = {0};

	(void)state;
	for (int i = 0; i < 64; i++) {
		char canon[UPK_CLAIM_CODE_LEN + 1], again[UPK_CLAIM_CODE_DISPLAY_LEN + 1];
		struct upk_error err = {0};

		assert_int_equal(upk_claim_code_generate(seen[i], &err), UPK_OK);
		assert_int_equal(strlen(seen[i]), UPK_CLAIM_CODE_DISPLAY_LEN);
		for (int k = 0; k < UPK_CLAIM_CODE_DISPLAY_LEN; k++) {
			if (k % 6 == 5) {
				assert_int_equal(seen[i][k], '-');
				continue;
			}
			assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", seen[i][k]));
			counts[strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", seen[i][k]) -
			       "0123456789ABCDEFGHJKMNPQRSTVWXYZ"]++;
		}
		/* Its own display form normalises and formats back to itself. */
		assert_int_equal(upk_claim_code_normalise(seen[i], canon, &err), UPK_OK);
		upk_claim_code_format(canon, again);
		assert_string_equal(again, seen[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	/* 1280 characters: every one of the 32 digits shows up (a stuck bit would not). */
	for (int c = 0; c < 32; c++)
		assert_true(counts[c] > 0);
}

static void test_bad_inputs(void **state)
{
	char mac[UPK_CLAIM_MAC_HEX_LEN + 1];
	struct upk_error err = {0};
	const char *dev = "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01";

	(void)state;
	assert_int_equal(upk_claim_mac("00000-00000-00000-00000", "AB01", "acme", "", 0, "", 0, mac,
	                               &err),
	                 UPK_ERR_INVALID);
	assert_int_equal(upk_claim_mac("00000-00000-00000-00000", dev, "Acme", "", 0, "", 0, mac,
	                               &err),
	                 UPK_ERR_INVALID);
	assert_int_equal(upk_claim_mac("00000-00000-00000-00000", dev, "a/b", "", 0, "", 0, mac,
	                               &err),
	                 UPK_ERR_INVALID);
	assert_int_equal(upk_claim_verify("00000-00000-00000-00000", dev, "acme", "", 0, "", 0,
	                                  "zz", &err),
	                 UPK_ERR_SIGNATURE);
	assert_int_equal(upk_claim_verify("00000-00000-00000-00000", dev, "acme", "", 0, "", 0,
	                                  NULL, &err),
	                 UPK_ERR_SIGNATURE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_python_vectors),
	    cmocka_unit_test(test_openssl_cli_cross_check),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_bad_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
