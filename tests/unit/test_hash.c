/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hashing, hex and randomness: SHA-256/512 against the FIPS 180-2 appendix
 * examples, streaming in odd chunk sizes against one-shot, hex edge cases.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/crypto.h"

struct known {
	enum upk_hash_alg alg;
	const char *msg;
	const char *hex;
};

/* FIPS 180-2 appendices B.1, B.2, C.1 and the empty string (NIST CSRC examples). */
static const struct known KNOWN[] = {
	{UPK_HASH_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{UPK_HASH_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{UPK_HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{UPK_HASH_SHA512, "abc",
	 "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	 "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	{UPK_HASH_SHA512, "",
	 "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	 "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
};

static void test_known_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(KNOWN) / sizeof(KNOWN[0]); i++) {
		uint8_t d[UPK_HASH_MAX_LEN];
		char hex[2 * UPK_HASH_MAX_LEN + 1];
		struct upk_error err = {0};

		assert_int_equal(upk_hash_buf(KNOWN[i].alg, KNOWN[i].msg, strlen(KNOWN[i].msg), d,
					      &err),
				 UPK_OK);
		upk_hex_encode(d, upk_hash_alg_len(KNOWN[i].alg), hex);
		assert_string_equal(hex, KNOWN[i].hex);
	}
}

/* FIPS 180-2 B.3: one million 'a', fed in 997-byte pieces. */
static void test_million_a_streamed(void **state)
{
	char chunk[997];
	struct upk_hash *h = NULL;
	uint8_t d[UPK_HASH_MAX_LEN];
	char hex[2 * UPK_HASH_MAX_LEN + 1];
	size_t left = 1000000;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(upk_hash_new(UPK_HASH_SHA256, &h, NULL), UPK_OK);
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		assert_int_equal(upk_hash_update(h, chunk, n, NULL), UPK_OK);
		left -= n;
	}
	assert_int_equal(upk_hash_final(h, d, NULL), UPK_OK);
	upk_hash_free(h);
	upk_hex_encode(d, 32, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_streaming_equals_oneshot(void **state)
{
	static const size_t sizes[] = {1, 2, 3, 7, 13, 55, 63, 64, 65, 111, 127, 128, 129, 1000, 4099};
	enum upk_hash_alg algs[] = {UPK_HASH_SHA256, UPK_HASH_SHA512};
	size_t len = 100003;
	uint8_t *buf = malloc(len);
	uint32_t x = 12345;

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t a = 0; a < 2; a++) {
		uint8_t one[UPK_HASH_MAX_LEN];

		assert_int_equal(upk_hash_buf(algs[a], buf, len, one, NULL), UPK_OK);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct upk_hash *h = NULL;
			uint8_t d[UPK_HASH_MAX_LEN];
			size_t off = 0;

			assert_int_equal(upk_hash_new(algs[a], &h, NULL), UPK_OK);
			/* Empty updates in between must change nothing. */
			assert_int_equal(upk_hash_update(h, NULL, 0, NULL), UPK_OK);
			while (off < len) {
				size_t n = len - off < sizes[s] ? len - off : sizes[s];

				assert_int_equal(upk_hash_update(h, buf + off, n, NULL), UPK_OK);
				off += n;
			}
			assert_int_equal(upk_hash_final(h, d, NULL), UPK_OK);
			upk_hash_free(h);
			assert_memory_equal(d, one, upk_hash_alg_len(algs[a]));
		}
	}
	free(buf);
}

static void test_misuse(void **state)
{
	struct upk_hash *h = NULL;
	uint8_t d[UPK_HASH_MAX_LEN];
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(upk_hash_new(UPK_HASH_SHA256, &h, NULL), UPK_OK);
	assert_int_equal(upk_hash_final(h, d, NULL), UPK_OK);
	assert_int_equal(upk_hash_update(h, "x", 1, &err), UPK_ERR_INVALID);
	assert_int_equal(err.code, UPK_ERR_INVALID);
	assert_int_equal(upk_hash_final(h, d, &err), UPK_ERR_INVALID);
	upk_hash_free(h);
	upk_hash_free(NULL);

	h = NULL;
	assert_int_equal(upk_hash_new((enum upk_hash_alg)99, &h, &err), UPK_ERR_UNSUPPORTED);
	assert_null(h);
	assert_int_equal(upk_hash_buf((enum upk_hash_alg)0, "", 0, d, NULL), UPK_ERR_UNSUPPORTED);
}

static void test_alg_names(void **state)
{
	enum upk_hash_alg alg = UPK_HASH_SHA512;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(upk_hash_alg_from_name("sha256", &alg, NULL), UPK_OK);
	assert_int_equal(alg, UPK_HASH_SHA256);
	assert_int_equal(upk_hash_alg_from_name("sha512", &alg, NULL), UPK_OK);
	assert_int_equal(alg, UPK_HASH_SHA512);
	/* TUF names are lower case; anything else is not ours to guess. */
	assert_int_equal(upk_hash_alg_from_name("SHA256", &alg, &err), UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "\"SHA256\""));
	assert_int_equal(upk_hash_alg_from_name("md5", &alg, NULL), UPK_ERR_UNSUPPORTED);
	assert_int_equal(upk_hash_alg_from_name("", &alg, NULL), UPK_ERR_UNSUPPORTED);
	assert_int_equal(upk_hash_alg_from_name(NULL, &alg, NULL), UPK_ERR_UNSUPPORTED);
	assert_int_equal(alg, UPK_HASH_SHA512);
	assert_string_equal(upk_hash_alg_name(UPK_HASH_SHA256), "sha256");
	assert_string_equal(upk_hash_alg_name(UPK_HASH_SHA512), "sha512");
	assert_null(upk_hash_alg_name((enum upk_hash_alg)7));
	assert_int_equal(upk_hash_alg_len(UPK_HASH_SHA256), 32);
	assert_int_equal(upk_hash_alg_len(UPK_HASH_SHA512), 64);
	assert_int_equal(upk_hash_alg_len((enum upk_hash_alg)7), 0);
}

static void test_hex(void **state)
{
	const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	uint8_t out[6];
	char hex[13];
	struct upk_error err = {0};

	(void)state;
	upk_hex_encode(bytes, sizeof(bytes), hex);
	assert_string_equal(hex, "00017f80abff");
	upk_hex_encode(bytes, 0, hex);
	assert_string_equal(hex, "");

	assert_int_equal(upk_hex_decode("00017f80abff", out, 6, NULL), UPK_OK);
	assert_memory_equal(out, bytes, 6);
	assert_int_equal(upk_hex_decode("00017F80ABFF", out, 6, NULL), UPK_OK);
	assert_memory_equal(out, bytes, 6);

	memset(out, 0x55, sizeof(out));
	assert_int_equal(upk_hex_decode("00017f80abf", out, 6, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "11"));
	assert_int_equal(upk_hex_decode("00017f80abff00", out, 6, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_hex_decode("00017f80abfg", out, 6, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "0x67"));
	assert_int_equal(upk_hex_decode(" 0017f80abff", out, 6, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_hex_decode("", out, 6, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_hex_decode(NULL, out, 6, NULL), UPK_ERR_INVALID);
	/* Out-parameters are written only on success. */
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0x55);
	assert_int_equal(upk_hex_decode("", out, 0, NULL), UPK_OK);
}

static void test_random(void **state)
{
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

	(void)state;
	assert_int_equal(upk_random_bytes(a, sizeof(a), NULL), UPK_OK);
	assert_int_equal(upk_random_bytes(b, sizeof(b), NULL), UPK_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(upk_random_bytes(NULL, 0, NULL), UPK_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_million_a_streamed),
		cmocka_unit_test(test_streaming_equals_oneshot),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
