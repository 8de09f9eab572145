/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upk_json_parse: what strict parsing accepts, and every way it refuses, each
 * with the exact status and a message that locates the problem.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/json.h"

/* Parses len bytes and checks the status and, when given, a message fragment. */
static void expect_n(const char *text, size_t len, const struct upk_json_limits *limits,
		     upk_status want, const char *msg_part)
{
	struct upk_error err = {0};
	json_t *sentinel = json_null();
	json_t *doc = sentinel;
	upk_status ret = upk_json_parse(text, len, limits, &doc, &err);

	if (ret != want)
		fail_msg("input '%.*s': status %d (%s), want %d; message: %s",
			 (int)(len > 80 ? 80 : len), text, ret, upk_status_str(ret), want, err.msg);
	if (ret == UPK_OK) {
		assert_non_null(doc);
		json_decref(doc);
		return;
	}
	/* Out-parameters are written only on success. */
	assert_ptr_equal(doc, sentinel);
	assert_int_equal(err.code, want);
	if (msg_part != NULL && strstr(err.msg, msg_part) == NULL)
		fail_msg("input '%.*s': message '%s' lacks '%s'", (int)(len > 80 ? 80 : len), text,
			 err.msg, msg_part);
}

static void expect(const char *text, upk_status want, const char *msg_part)
{
	expect_n(text, strlen(text), NULL, want, msg_part);
}

static void test_accepts(void **state)
{
	struct upk_error err = {0};
	json_t *doc = NULL;
	const char *text = "{\"signed\": {\"version\": 9223372036854775807, \"n\": "
			   "-9223372036854775808, \"z\": -0, \"s\": \"\\u00e9\\ud83d\\ude00\"},"
			   " \"signatures\": [true, false, null]}\n\t ";

	(void)state;
	assert_int_equal(upk_json_parse(text, strlen(text), NULL, &doc, &err), UPK_OK);
	assert_true(json_is_object(doc));
	json_t *s = json_object_get(doc, "signed");
	assert_int_equal(json_integer_value(json_object_get(s, "version")), INT64_MAX);
	assert_int_equal(json_integer_value(json_object_get(s, "n")), INT64_MIN);
	assert_true(json_is_integer(json_object_get(s, "z")));
	assert_string_equal(json_string_value(json_object_get(s, "s")), "\xc3\xa9\xf0\x9f\x98\x80");
	json_decref(doc);

	/* Any top-level value: callers check the type they need. */
	expect("\"x\"", UPK_OK, NULL);
	expect("0", UPK_OK, NULL);
	expect("-12", UPK_OK, NULL);
	expect("null", UPK_OK, NULL);
	expect("[]", UPK_OK, NULL);
	expect(" {} ", UPK_OK, NULL);
}

static void test_size_limit(void **state)
{
	struct upk_json_limits l = {.max_bytes = 10};

	(void)state;
	expect_n("[1,2,3,44]", 10, &l, UPK_OK, NULL);
	expect_n("[1,2,3,444]", 11, &l, UPK_ERR_TOO_LARGE, "11 bytes");
	/* Checked before parsing: garbage over the limit is "too large", not "invalid". */
	expect_n("garbage!!!!", 11, &l, UPK_ERR_TOO_LARGE, "limit of 10 bytes");

	/* 0 means the 16 MiB default. */
	size_t big = UPK_JSON_DEFAULT_MAX_BYTES + 1;
	char *buf = malloc(big);
	assert_non_null(buf);
	memset(buf, ' ', big);
	buf[0] = '1';
	expect_n(buf, big, NULL, UPK_ERR_TOO_LARGE, "16777217 bytes");
	expect_n(buf, big - 1, NULL, UPK_OK, NULL);
	free(buf);
}

static void test_depth_limit(void **state)
{
	struct upk_json_limits l = {.max_depth = 3};

	(void)state;
	expect_n("[[[1]]]", 7, &l, UPK_OK, NULL);
	expect_n("{\"a\":[{}]}", 10, &l, UPK_OK, NULL);
	expect_n("[[[[1]]]]", 9, &l, UPK_ERR_TOO_LARGE, "deeper than 3 levels at line 1, column 4");
	expect_n("{\"a\":[{\"b\":[]}]}", 16, &l, UPK_ERR_TOO_LARGE, "column 12");
	expect_n("[\n [\n  [\n   {}]]]", 17, &l, UPK_ERR_TOO_LARGE, "line 4, column 4");
	/* Brackets inside strings, also after escaped quotes and backslashes, do not count. */
	expect_n("[\"[[[[{{{{\"]", 12, &l, UPK_OK, NULL);
	expect_n("[\"\\\"[[[[\"]", 10, &l, UPK_OK, NULL);
	expect_n("[\"\\\\\",[[1]]]", 12, &l, UPK_OK, NULL);
	expect_n("[\"\\\\\",[[[1]]]]", 14, &l, UPK_ERR_TOO_LARGE, "deeper than 3");
	/* Truncated deep input is refused as too deep before jansson runs. */
	expect_n("[[[[[[", 6, &l, UPK_ERR_TOO_LARGE, "deeper than 3");

	/* Default: 32 levels. */
	char buf[200];
	memset(buf, '[', 32);
	memset(buf + 32, ']', 32);
	expect_n(buf, 64, NULL, UPK_OK, NULL);
	memset(buf, '[', 33);
	memset(buf + 33, ']', 33);
	expect_n(buf, 66, NULL, UPK_ERR_TOO_LARGE, "deeper than 32 levels");

	/* A limit past jansson's own 2048 is capped at 2048. */
	struct upk_json_limits huge = {.max_depth = 100000};
	size_t n = 2049;
	char *deep = malloc(2 * n);
	assert_non_null(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	expect_n(deep, 2 * n, &huge, UPK_ERR_TOO_LARGE, "deeper than 2048 levels");
	expect_n(deep + 1, 2 * n - 2, &huge, UPK_OK, NULL);
	free(deep);
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect("{\"a\":1,\"a\":2}", UPK_ERR_INVALID, "duplicate object key");
	expect("{\"x\":{\"b\":[],\"c\":0,\"b\":[]}}", UPK_ERR_INVALID, "duplicate");
	/* Same key spelled with an escape is still the same key. */
	expect("{\"\\u00e9\":1,\"\xc3\xa9\":2}", UPK_ERR_INVALID, "duplicate");
	expect("{\"a\":1,\"A\":2}", UPK_OK, NULL);
}

static void test_reals(void **state)
{
	(void)state;
	expect("1.5", UPK_ERR_INVALID, "real number 1.5 at $:");
	expect("1e3", UPK_ERR_INVALID, "real number 1000 at $:");
	expect("-0.0", UPK_ERR_INVALID, "real number -0 at $:");
	expect("1E-2", UPK_ERR_INVALID, "at $:");
	expect("0.0", UPK_ERR_INVALID, "at $:");
	expect("{\"signed\":{\"version\":1,\"expires\":2.5}}", UPK_ERR_INVALID,
	       "at $.signed.expires:");
	expect("{\"signatures\":[1e3]}", UPK_ERR_INVALID, "at $.signatures[0]:");
	expect("{\"t\":{\"a b/\\\"c\":[0,[1,2.25]]}}", UPK_ERR_INVALID,
	       "at $.t[\"a b/\\x22c\"][1][1]:");
	expect("{\"\\n\":[1.0]}", UPK_ERR_INVALID, "at $[\"\\x0a\"][0]:");
	/* Out of double range is a jansson error. */
	expect("1e400", UPK_ERR_INVALID, "out of range");
}

static void test_big_integers(void **state)
{
	(void)state;
	expect("9223372036854775808", UPK_ERR_INVALID, "too big integer");
	expect("-9223372036854775809", UPK_ERR_INVALID, "too big negative integer");
	expect("{\"length\": 99999999999999999999}", UPK_ERR_INVALID,
	       "out of range at line 1, column");
	expect("9223372036854775807", UPK_OK, NULL);
	expect("-9223372036854775808", UPK_OK, NULL);
}

static void test_bad_utf8_and_nul(void **state)
{
	(void)state;
	expect("\"\xff\"", UPK_ERR_INVALID, "invalid JSON at line 1");
	expect("\"\xc0\xaf\"", UPK_ERR_INVALID, "invalid JSON");         /* overlong '/' */
	expect("\"\xed\xa0\x80\"", UPK_ERR_INVALID, "invalid JSON");     /* encoded surrogate */
	expect("\"\xf4\x90\x80\x80\"", UPK_ERR_INVALID, "invalid JSON"); /* above U+10FFFF */
	expect("\"\xe2\x82\"", UPK_ERR_INVALID, "invalid JSON");         /* cut short */
	expect("{\"\x80\":1}", UPK_ERR_INVALID, "invalid JSON");
	expect("\"a\\u0000b\"", UPK_ERR_INVALID, "\\u0000 is not allowed");
	expect("{\"a\\u0000\":1}", UPK_ERR_INVALID, "NUL byte in object key");
	expect_n("\"a\0b\"", 5, NULL, UPK_ERR_INVALID, "control character 0x0");
	expect_n("{}\0", 3, NULL, UPK_ERR_INVALID, "end of file expected");
	expect("\"a\x01z\"", UPK_ERR_INVALID, "control character 0x1");
	expect("\"a\nz\"", UPK_ERR_INVALID, "unexpected newline");
	/* Lone surrogates in escapes. */
	expect("\"\\ud800\"", UPK_ERR_INVALID, "invalid Unicode");
	expect("\"\\udc00\"", UPK_ERR_INVALID, "invalid Unicode");
	expect("\"\\ud800\\u0041\"", UPK_ERR_INVALID, "invalid Unicode");
}

static void test_malformed(void **state)
{
	(void)state;
	/* Trailing data. */
	expect("{} x", UPK_ERR_INVALID, "end of file expected");
	expect("{}{}", UPK_ERR_INVALID, "end of file expected");
	expect("1 2", UPK_ERR_INVALID, "end of file expected");
	expect("[1]\n]", UPK_ERR_INVALID, "line 2");
	/* Truncated documents. */
	expect("{\"a\":", UPK_ERR_INVALID, "invalid JSON at line 1");
	expect("[1,", UPK_ERR_INVALID, "invalid JSON");
	expect("\"abc", UPK_ERR_INVALID, "premature end of input");
	expect("{\"a\"", UPK_ERR_INVALID, "invalid JSON");
	expect("{\"a\":1,\n\"b\":[", UPK_ERR_INVALID, "line 2");
	/* Bad escapes. */
	expect("\"\\x41\"", UPK_ERR_INVALID, "invalid escape");
	expect("\"\\'\"", UPK_ERR_INVALID, "invalid escape");
	expect("\"\\u12\"", UPK_ERR_INVALID, "invalid escape");
	expect("\"\\uZZZZ\"", UPK_ERR_INVALID, "invalid escape");
	expect("\"\\", UPK_ERR_INVALID, "invalid JSON");
	/* Not JSON at all, or not strict JSON. */
	expect("", UPK_ERR_INVALID, "empty");
	expect_n(NULL, 0, NULL, UPK_ERR_INVALID, "empty");
	expect_n(NULL, 3, NULL, UPK_ERR_INVALID, "no input");
	expect(" \n\t", UPK_ERR_INVALID, "invalid JSON");
	expect("[1,]", UPK_ERR_INVALID, "invalid JSON");
	expect("{\"a\":1,}", UPK_ERR_INVALID, "invalid JSON");
	expect("{'a':1}", UPK_ERR_INVALID, "invalid JSON");
	expect("{a:1}", UPK_ERR_INVALID, "invalid JSON");
	expect("NaN", UPK_ERR_INVALID, "invalid JSON");
	expect("Infinity", UPK_ERR_INVALID, "invalid JSON");
	expect("01", UPK_ERR_INVALID, "invalid JSON");
	expect("+1", UPK_ERR_INVALID, "invalid JSON");
	expect("0x10", UPK_ERR_INVALID, "invalid JSON");
	expect("[1] // c", UPK_ERR_INVALID, "invalid JSON");
	expect("\xef\xbb\xbf{}", UPK_ERR_INVALID, "invalid JSON"); /* BOM */
	expect("tru", UPK_ERR_INVALID, "invalid JSON");
	expect("]", UPK_ERR_INVALID, "invalid JSON");
}

static void test_bad_arguments(void **state)
{
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(upk_json_parse("{}", 2, NULL, NULL, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no output"));
	/* err may be NULL. */
	assert_int_equal(upk_json_parse("{", 1, NULL, NULL, NULL), UPK_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_reals),
		cmocka_unit_test(test_big_integers),
		cmocka_unit_test(test_bad_utf8_and_nul),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
