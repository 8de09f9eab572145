/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-place JSON scanner (lib/json_scan.c) against the jansson path it
 * stands in for: the same verdict on every input of the strict parser's
 * own test cases and more, the same tree, the same canonical bytes, and a
 * canonical flag that is right both ways.
 */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "testutil.h"
#include "upkeep/json.h"

#define MAX_DEPTH 8

/* Both verdicts for len bytes; on acceptance, tree and canonical bytes too. */
static void agree_n(const char *text, size_t len)
{
	const struct upk_json_limits limits = {.max_bytes = 4096, .max_depth = MAX_DEPTH};
	json_t *doc = NULL, *built = NULL;
	char *a = NULL, *b = NULL;
	size_t a_len, b_len;
	int jansson = upk_json_parse(text, len, &limits, &doc, NULL) == UPK_OK;
	int scan = jscan_validate(text, len, 4096, MAX_DEPTH, NULL);

	if (jansson != scan)
		fail_msg("input '%.*s' (%zu bytes): jansson %s, scanner %s", (int)len, text, len,
		         jansson ? "accepts" : "refuses", scan ? "accepts" : "refuses");
	if (!scan)
		return;
	assert_int_equal(
	    jscan_build(text, (struct jspan){0, len}, (struct jspan){0, 0}, &built, NULL), UPK_OK);
	if (!json_equal(doc, built))
		fail_msg("input '%.*s': trees differ", (int)len, text);
	assert_int_equal(upk_cjson_encode(doc, &a, &a_len, NULL), UPK_OK);
	assert_int_equal(jscan_canonical(text, (struct jspan){0, len}, &b, &b_len, NULL), UPK_OK);
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		fail_msg("input '%.*s': canonical '%s' vs '%s'", (int)len, text, a, b);
	free(a);
	free(b);
	json_decref(built);
	json_decref(doc);
}

static void agree(const char *text)
{
	agree_n(text, strlen(text));
}

static void test_same_verdicts(void **state)
{
	/* The cases of test_json.c and test_cjson.c, and the corners between them. */
	static const char *const cases[] = {
	    "{\"signed\": {\"version\": 9223372036854775807, \"n\": -9223372036854775808, "
	    "\"z\": -0, \"s\": \"\\u00e9\\ud83d\\ude00\"}, \"signatures\": [true, false, "
	    "null]}\n\t ",
	    "\"x\"",
	    "0",
	    "-12",
	    "null",
	    "[]",
	    " {} ",
	    "[1,2,3,44]",
	    "{\"a\":1,\"a\":2}",
	    "{\"a\":1,\"\\u0061\":2}",
	    "{\"b\":{\"a\":1},\"a\":{\"a\":1}}",
	    "1.5",
	    "1e3",
	    "1E3",
	    "-1.0e-2",
	    "[0.0]",
	    "{\"x\":1.5}",
	    "9223372036854775808",
	    "-9223372036854775809",
	    "123456789012345678901234567890",
	    "\"\xff\"",
	    "\"\xc0\xaf\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\"\xe2\x82\"",
	    "{\"\x80\":1}",
	    "\"\xe2\x82\xac\xf0\x9f\x98\x80\"",
	    "\"a\\u0000b\"",
	    "{\"a\\u0000\":1}",
	    "\"a\x01z\"",
	    "\"a\nz\"",
	    "\"\\ud800\"",
	    "\"\\udc00\"",
	    "\"\\ud800\\u0041\"",
	    "\"\\ud800\\n\"",
	    "\"\\ud83d\\ude00\"",
	    "{} x",
	    "{}{}",
	    "1 2",
	    "[1]\n]",
	    "{\"a\":",
	    "[1,",
	    "\"abc",
	    "{\"a\"",
	    "{\"a\":1,\n\"b\":[",
	    "\"\\x41\"",
	    "\"\\'\"",
	    "\"\\u12\"",
	    "\"\\uZZZZ\"",
	    "\"\\",
	    " \n\t",
	    "[1,]",
	    "{\"a\":1,}",
	    "{'a':1}",
	    "{a:1}",
	    "NaN",
	    "Infinity",
	    "01",
	    "-01",
	    "+1",
	    "0x10",
	    "[1] // c",
	    "\xef\xbb\xbf{}",
	    "tru",
	    "truex",
	    "[true1]",
	    "]",
	    "-",
	    "[-]",
	    "{,}",
	    "[,1]",
	    "{\"a\" 1}",
	    "{\"a\":1 \"b\":2}",
	    "[1 2]",
	    "\"\\/\\b\\f\\n\\r\\t\"",
	    "{\"\\\"\":\"\\\\\",\"\\/\":[]}",
	    "{\"b\":1,\"a\":[{\"d\":2,\"c\":3}],\"\":0}",
	    "[[[[[[[[1]]]]]]]]",
	    "[[[[[[[[[1]]]]]]]]]",
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	    "{\"a\":{}}}}}}}}",
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}",
	    "\"[[[[[[[[[[[[\"",
	    "\t\r\n 7 \t\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		agree(cases[i]);
	/* Lengths that strlen() cannot give: empty, NUL inside and after values. */
	agree_n("", 0);
	agree_n("\"a\0b\"", 5);
	agree_n("{}\0", 3);
	agree_n("1\0", 2);
	agree_n("[1\0]", 4);
	agree_n("[true\0]", 7);
	agree_n("{\"a\":null\0}", 11);
	/* Over the size limit, even when valid. */
	{
		char *big = malloc(5000);

		memset(big, ' ', 5000);
		big[0] = '1';
		agree_n(big, 5000);
		free(big);
	}
}

/*
 * jansson silently drops one NUL byte after a number or literal; the strict
 * parser now refuses it with a clear message, as the scanner does.
 */
static void test_nul_after_value_refused(void **state)
{
	struct upk_error err = {0};
	json_t *doc = NULL;

	(void)state;
	assert_int_equal(upk_json_parse("[1\0]", 4, NULL, &doc, &err), UPK_ERR_INVALID);
	assert_null(doc);
	assert_non_null(strstr(err.msg, "NUL byte (byte 2)"));
	assert_false(jscan_validate("[1\0]", 4, 4096, 8, NULL));
}

static int count_members(void *ctx, const struct jmember *m, size_t n)
{
	(void)m;
	*(size_t *)ctx = n;
	return 0;
}

/* The canonical flag must say exactly whether the bytes are canonical already. */
static void check_canonical_flag(const char *text, int want)
{
	static const char *const path[] = {"signed", "targets"};
	size_t n = 0;
	struct jwatch w = {.path = path, .depth = 2, .members = count_members, .ctx = &n};
	char *canon = NULL;
	size_t len;

	if (!jscan_validate(text, strlen(text), 4096, MAX_DEPTH, &w))
		fail_msg("'%s' refused", text);
	assert_true(w.found & 2);
	if (!!(w.canonical & 2) != want)
		fail_msg("'%s': signed flagged %scanonical", text, want ? "not " : "");
	assert_int_equal(jscan_canonical(text, w.at[1], &canon, &len, NULL), UPK_OK);
	assert_int_equal(len == w.at[1].end - w.at[1].start &&
	                     memcmp(canon, text + w.at[1].start, len) == 0,
	                 want);
	free(canon);
}

static void test_canonical_in_place(void **state)
{
	(void)state;
	check_canonical_flag("{\"signed\":{\"a\":[1,-2,\"x\\\\y\\\"z\"],\"b\":{}}}", 1);
	/* The envelope around "signed" does not matter. */
	check_canonical_flag("{ \"sigs\" : [ ] ,\n \"signed\":{\"a\":\"\xc3\xa9\"} }", 1);
	check_canonical_flag("{\"signed\":{\"a\": 1}}", 0);
	check_canonical_flag("{\"signed\":{\"b\":1,\"a\":2}}", 0);
	check_canonical_flag("{\"signed\":{\"a\":-0}}", 0);
	check_canonical_flag("{\"signed\":{\"a\":\"\\/\"}}", 0);
	check_canonical_flag("{\"signed\":{\"a\":\"\\n\"}}", 0);
	check_canonical_flag("{\"signed\":{\"a\":\"\\u0041\"}}", 0);
	check_canonical_flag("{\"signed\":{\"a\":[1 ]}}", 0);
}

/* The watched object's members, and a build that leaves it out. */
static void test_watch_and_skip(void **state)
{
	static const char *const path[] = {"signed", "targets"};
	const char *text = "{\"signed\":{\"_type\":\"targets\",\"targets\":{\"b\":{\"length\":1},"
	                   "\"a\\u00e9\":[2]},\"x\":3},\"signatures\":[]}";
	size_t n = 0;
	struct jwatch w = {.path = path, .depth = 2, .members = count_members, .ctx = &n};
	json_t *doc = NULL, *want = json_loadb(text, strlen(text), 0, NULL);

	(void)state;
	assert_true(jscan_validate(text, strlen(text), 4096, MAX_DEPTH, &w));
	assert_int_equal(n, 2);
	assert_int_equal(w.found, 7);
	assert_int_equal(text[w.at[2].start], '{');
	assert_int_equal(text[w.at[2].end - 1], '}');
	assert_int_equal(jscan_build(text, w.at[0], w.at[2], &doc, NULL), UPK_OK);
	json_object_set_new(json_object_get(want, "signed"), "targets", json_object());
	assert_true(json_equal(doc, want));
	json_decref(doc);
	json_decref(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_verdicts),
	    cmocka_unit_test(test_nul_after_value_refused),
	    cmocka_unit_test(test_canonical_in_place),
	    cmocka_unit_test(test_watch_and_skip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
