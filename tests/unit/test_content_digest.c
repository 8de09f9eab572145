/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9530 Content-Digest: the RFC's own sha-256 example, the empty body,
 * and every way a field can fail to vouch for a body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/httpsig.h"

/* RFC 9530 section 2 example: the body {"hello": "world"}. */
#define HELLO "{\"hello\": \"world\"}"
#define HELLO_256 "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
/* RFC 9421 appendix B.2 carries the sha-512 of the same body. */
#define HELLO_512                                                                                  \
	"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHW" \
	"XvJwew==:"

static void sha(const char *body, uint8_t d[UPK_HASH_MAX_LEN])
{
	assert_int_equal(upk_hash_buf(UPK_HASH_SHA256, body, strlen(body), d, NULL), UPK_OK);
}

static void test_format(void **state)
{
	char out[UPK_CONTENT_DIGEST_LEN + 1];
	uint8_t d[UPK_HASH_MAX_LEN];

	(void)state;
	assert_int_equal(upk_content_digest_of(HELLO, strlen(HELLO), out, NULL), UPK_OK);
	assert_string_equal(out, HELLO_256);
	assert_int_equal(strlen(out), UPK_CONTENT_DIGEST_LEN);
	sha(HELLO, d);
	upk_content_digest_format(d, out);
	assert_string_equal(out, HELLO_256);
	/* The empty body: SHA-256("") in base64. */
	assert_int_equal(upk_content_digest_of(NULL, 0, out, NULL), UPK_OK);
	assert_string_equal(out, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
}

struct chk {
	const char *value;
	upk_status want;
	const char *msg;
};

static const struct chk CHECKS[] = {
	{HELLO_256, UPK_OK, NULL},
	{"  " HELLO_256 "  ", UPK_OK, NULL},
	/* Other algorithms are ignored (RFC 9530 section 2), in any order. */
	{HELLO_512 ", " HELLO_256, UPK_OK, NULL},
	{HELLO_256 ", sha-512=:AAAA:", UPK_OK, NULL},
	{HELLO_256 ", id-sha-256=:AAAA:", UPK_OK, NULL},
	/* sha-256 must be there. */
	{HELLO_512, UPK_ERR_UNSUPPORTED, "no \"sha-256\" member"},
	{"", UPK_ERR_UNSUPPORTED, "no \"sha-256\" member"},
	/* Insecure algorithms are refused even beside sha-256 (section 5). */
	{"md5=:XrY7u+Ae7tCTyyK7j1rNww==:, " HELLO_256, UPK_ERR_UNSUPPORTED, "insecure algorithm \"md5\""},
	{HELLO_256 ", crc32c=:AAAAAA==:", UPK_ERR_UNSUPPORTED, "\"crc32c\""},
	/* Wrong digest, wrong length, wrong types. */
	{"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", UPK_ERR_HASH,
	 "does not match the body (" HELLO_256 ")"},
	{"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBA==:", UPK_ERR_INVALID, "31 bytes"},
	{"sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"", UPK_ERR_INVALID,
	 "not a byte sequence"},
	{"sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)", UPK_ERR_INVALID,
	 "not a byte sequence"},
	{HELLO_256 ";p=1", UPK_ERR_INVALID, "not a byte sequence"},
	{"sha-256", UPK_ERR_INVALID, "not a byte sequence"},
	/* Malformed structured fields. */
	{"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:", UPK_ERR_INVALID, "canonical"},
	{"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,", UPK_ERR_INVALID, "trailing"},
	{HELLO_256 ", " HELLO_256, UPK_ERR_INVALID, "repeated"},
	{"SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", UPK_ERR_INVALID, "expected a key"},
};

static void test_check(void **state)
{
	uint8_t d[UPK_HASH_MAX_LEN];

	(void)state;
	sha(HELLO, d);
	for (size_t i = 0; i < sizeof(CHECKS) / sizeof(CHECKS[0]); i++) {
		struct upk_error err = {0};
		upk_status got = upk_content_digest_check(CHECKS[i].value, d, &err);

		if (got != CHECKS[i].want || (CHECKS[i].msg && strstr(err.msg, CHECKS[i].msg) == NULL))
			fail_msg("%zu [%s]: want %s \"%s\", got %s: %s", i, CHECKS[i].value,
				 upk_status_str(CHECKS[i].want), CHECKS[i].msg ? CHECKS[i].msg : "",
				 upk_status_str(got), err.msg);
	}
	assert_int_equal(upk_content_digest_check(NULL, d, NULL), UPK_ERR_INVALID);
}

static void test_oversize(void **state)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	size_t n = UPK_HTTPSIG_MAX_FIELD + 100;
	char *big = malloc(n + 1);
	struct upk_error err = {0};

	(void)state;
	assert_non_null(big);
	sha(HELLO, d);
	memset(big, ' ', n);
	memcpy(big, HELLO_256, strlen(HELLO_256));
	big[n] = '\0';
	assert_int_equal(upk_content_digest_check(big, d, &err), UPK_ERR_TOO_LARGE);
	assert_non_null(strstr(err.msg, "content-digest"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_oversize),
	};
	return cmocka_run_group_tests_name("content_digest", tests, NULL, NULL);
}
