/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of target selectors and of the version order: every grammar rule,
 * precedence, every error path with its message, limits, bucket values
 * (pinned against Python's hashlib) and the normalized-text round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/selector.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct upk_selector *parse_ok(const char *text)
{
	struct upk_selector *sel = NULL;
	struct upk_error err = {0};
	upk_status ret = upk_selector_parse(text, strlen(text), &sel, &err);

	if (ret != UPK_OK)
		fail_msg("parse of '%s' failed: %s", text, err.msg);
	return sel;
}

static char *normalize(const char *text)
{
	struct upk_selector *sel = parse_ok(text);
	struct upk_error err = {0};
	char *out = NULL;

	if (upk_selector_to_string(sel, &out, &err) != UPK_OK)
		fail_msg("to_string of '%s' failed: %s", text, err.msg);
	upk_selector_free(sel);
	return out;
}

/* A device with a bit of everything, for the matching tests. */
static const struct upk_kv dev_tags[] = {
	{"site", "berlin"}, {"ring", "beta"}, {"empty", ""}, {"site", "paris"},
};
static const struct upk_kv dev_installed[] = {
	{"image", "1.4.2"}, {"app", "2.0.0-rc.1"}, {"image", "9.9.9"},
};
static const struct upk_device_attrs dev = {
	.device_id = "dev-00001",
	.hardware_id = "acme-gw-v2",
	.tags = dev_tags,
	.n_tags = N_ELEMS(dev_tags),
	.installed = dev_installed,
	.n_installed = N_ELEMS(dev_installed),
};

static int match(const char *text, const struct upk_device_attrs *a)
{
	struct upk_selector *sel = parse_ok(text);
	struct upk_error err = {0};
	int m = -1;

	if (upk_selector_match(sel, a, &m, &err) != UPK_OK)
		fail_msg("match of '%s' failed: %s", text, err.msg);
	upk_selector_free(sel);
	return m;
}

/* ---- grammar and normalized text ---- */

static const struct {
	const char *in;
	const char *norm;
} norm_cases[] = {
	{"all", "all"},
	{"  all\n", "all"},
	{"((all))", "all"},
	{"not not all", "not not all"},
	{"not(all)", "not all"},
	{"device in[\"a\",\"b\"]", "device in [\"a\", \"b\"]"},
	{"hardware in [ \"x\" ]", "hardware in [\"x\"]"},
	{"tag\"site\"=\"berlin\"", "tag \"site\" = \"berlin\""},
	{"tag \"site\" in [\"a\",\"b\"]", "tag \"site\" in [\"a\", \"b\"]"},
	{"tag \"site\" in [\"a\"]", "tag \"site\" in [\"a\"]"},
	{"tag \"site\" exists", "tag \"site\" exists"},
	{"installed \"image\" exists", "installed \"image\" exists"},
	{"installed \"image\"==\"1.0\"", "installed \"image\" == \"1.0\""},
	{"installed \"image\"!=\"1.0\"", "installed \"image\" != \"1.0\""},
	{"installed \"image\"<\"1.0\"", "installed \"image\" < \"1.0\""},
	{"installed \"image\"<=\"1.0\"", "installed \"image\" <= \"1.0\""},
	{"installed \"image\">\"1.0\"", "installed \"image\" > \"1.0\""},
	{"installed \"image\">=\"1.0-rc.1\"", "installed \"image\" >= \"1.0-rc.1\""},
	{"bucket<10", "bucket < 10"},
	{"bucket < 0", "bucket < 0"},
	{"bucket < 100", "bucket < 100"},
	{"bucket < 5.0", "bucket < 5"},
	{"bucket < 0.5", "bucket < 0.5"},
	{"bucket < 0.50", "bucket < 0.5"},
	{"bucket < 12.25", "bucket < 12.25"},
	{"bucket < 007", "bucket < 7"},
	{"bucket(\"r7\")<1.05", "bucket(\"r7\") < 1.05"},
	{"bucket(\"\") < 3", "bucket < 3"},
	{"tag \"a\\\"b\\\\c\" exists", "tag \"a\\\"b\\\\c\" exists"},
	{"tag \"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80\" exists",
	 "tag \"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80\" exists"},
	{"all and all or all", "all and all or all"},
	{"all or all and all", "all or all and all"},
	{"(all or all) and all", "(all or all) and all"},
	{"(all and all) or all", "all and all or all"},
	{"(all and all) and all", "(all and all) and all"},
	{"all or (all or all)", "all or (all or all)"},
	{"not (all and all)", "not (all and all)"},
	{"not (all or all)", "not (all or all)"},
	{"not (not all)", "not not all"},
	{"\tall\r\nand\tall", "all and all"},
};

static void test_normalize(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
		char *out = normalize(norm_cases[i].in);
		if (strcmp(out, norm_cases[i].norm) != 0)
			fail_msg("'%s' normalized to '%s', expected '%s'", norm_cases[i].in, out,
				 norm_cases[i].norm);
		free(out);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(norm_cases); i++) {
		char *once = normalize(norm_cases[i].in);
		char *twice = normalize(once);
		assert_string_equal(once, twice);
		free(once);
		free(twice);
	}
}

/* ---- matching ---- */

#define T "device in [\"dev-00001\"]"
#define F "device in [\"other\"]"

static const struct {
	const char *sel;
	int want;
} match_cases[] = {
	{"all", 1},
	{"not all", 0},
	{T, 1},
	{F, 0},
	{"device in [\"a\", \"dev-00001\", \"b\"]", 1},
	{"device in [\"DEV-00001\"]", 0}, /* exact bytes, no case folding */
	{"hardware in [\"acme-gw-v2\"]", 1},
	{"hardware in [\"acme-gw-v1\", \"acme-gw-v3\"]", 0},
	{"tag \"site\" = \"berlin\"", 1},
	{"tag \"site\" = \"paris\"", 0}, /* the first value of a key counts */
	{"tag \"site\" in [\"paris\", \"berlin\"]", 1},
	{"tag \"site\" in [\"paris\"]", 0},
	{"tag \"site\" exists", 1},
	{"tag \"empty\" exists", 1},
	{"tag \"empty\" = \"\"", 1},
	{"tag \"missing\" exists", 0},
	{"tag \"missing\" = \"\"", 0},
	{"not tag \"missing\" = \"x\"", 1},
	{"installed \"image\" exists", 1},
	{"installed \"none\" exists", 0},
	{"installed \"image\" == \"1.4.2\"", 1},
	{"installed \"image\" == \"1.4.2.0\"", 1},
	{"installed \"image\" == \"9.9.9\"", 0}, /* the first value of a name counts */
	{"installed \"image\" != \"1.4.2\"", 0},
	{"installed \"image\" != \"1.4.3\"", 1},
	{"installed \"image\" < \"1.4.10\"", 1},
	{"installed \"image\" < \"1.4.2\"", 0},
	{"installed \"image\" <= \"1.4.2\"", 1},
	{"installed \"image\" > \"1.4.2-rc.9\"", 1},
	{"installed \"image\" > \"1.4.2\"", 0},
	{"installed \"image\" >= \"1.4\"", 1},
	{"installed \"app\" < \"2.0.0\"", 1},
	{"installed \"app\" >= \"2.0.0-rc.1\"", 1},
	{"installed \"app\" > \"2.0.0-beta\"", 1}, /* "beta" < "rc" */
	{"installed \"app\" > \"2.0.0-rc.1\"", 0},
	{"installed \"app\" < \"2.0.0-rc.2\"", 1},
	/* Not installed: every comparison is false, != included. */
	{"installed \"none\" == \"1\"", 0},
	{"installed \"none\" != \"1\"", 0},
	{"installed \"none\" < \"1\"", 0},
	{"installed \"none\" >= \"0\"", 0},
	{"not installed \"none\" < \"1\"", 1},
	{"bucket < 100", 1},
	{"bucket < 0", 0},
	{"bucket < 54.26", 1}, /* dev-00001 is in bucket 5425 */
	{"bucket < 54.25", 0},
	{"bucket(\"rollout-7\") < 97.3", 1}, /* and in 9729 with this salt */
	{"bucket(\"rollout-7\") < 97.29", 0},
	/* Precedence: not > and > or. */
	{F " and " F " or " T, 1},
	{T " or " T " and " F, 1},
	{"not " F " and " F, 0},
	{"not " T " or " T, 1},
	{"(" T " or " T ") and " F, 0},
	{F " and (" F " or " T ")", 0},
	{"not (" F " or " T ")", 0},
	{F " or " F " or " F " or " T, 1},
	{T " and " T " and " T " and " F, 0},
};

static void test_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(match_cases); i++) {
		int m = match(match_cases[i].sel, &dev);
		if (m != match_cases[i].want)
			fail_msg("'%s' gave %d, expected %d", match_cases[i].sel, m,
				 match_cases[i].want);
	}
}

static void test_match_absent_attrs(void **state)
{
	static const struct upk_device_attrs empty = {0};
	struct upk_selector *sel = parse_ok("bucket < 100");
	struct upk_error err = {0};
	int m = -1;

	(void)state;
	/* No device id: no bucket, no list membership; NULL attrs is an empty device. */
	assert_int_equal(upk_selector_match(sel, &empty, &m, &err), UPK_OK);
	assert_int_equal(m, 0);
	assert_int_equal(upk_selector_match(sel, NULL, &m, &err), UPK_OK);
	assert_int_equal(m, 0);
	upk_selector_free(sel);
	assert_int_equal(match("device in [\"\"]", &empty), 0);
	assert_int_equal(match("hardware in [\"\"]", &empty), 0);
	assert_int_equal(match("tag \"a\" exists", &empty), 0);
	assert_int_equal(match("installed \"a\" exists", &empty), 0);
	assert_int_equal(match("all", NULL), 1);
	assert_int_equal(upk_selector_match(NULL, &dev, &m, &err), UPK_ERR_INVALID);
}

static void test_match_errors(void **state)
{
	static const struct upk_kv bad_installed[] = {{"app", "1.0~beta"}, {"image", "1.0"}};
	static const struct upk_device_attrs bad = {
		.device_id = "d",
		.installed = bad_installed,
		.n_installed = 2,
	};
	char long_id[UPK_SELECTOR_MAX_STRING + 2];
	struct upk_device_attrs long_dev = {.device_id = long_id};
	struct upk_error err = {0};
	struct upk_selector *sel;
	int m = 7;

	(void)state;
	/* An invalid device-side version is an error, whatever wraps it. */
	sel = parse_ok("not installed \"app\" < \"2\"");
	assert_int_equal(upk_selector_match(sel, &bad, &m, &err), UPK_ERR_INVALID);
	assert_int_equal(m, 7);
	assert_non_null(strstr(err.msg, "installed \"app\""));
	assert_non_null(strstr(err.msg, "\"1.0~beta\""));
	upk_selector_free(sel);
	/* No short cut: the error shows even when an earlier term decides. */
	sel = parse_ok("all or installed \"app\" == \"1\"");
	assert_int_equal(upk_selector_match(sel, &bad, &m, &err), UPK_ERR_INVALID);
	upk_selector_free(sel);
	/* A name that is not compared does not matter. */
	assert_int_equal(match("installed \"image\" == \"1\" and installed \"app\" exists", &bad),
			 1);

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	sel = parse_ok("bucket < 50");
	assert_int_equal(upk_selector_match(sel, &long_dev, &m, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "device id longer than 256"));
	upk_selector_free(sel);
	assert_int_equal(match("device in [\"x\"]", &long_dev), 0);
}

/* ---- errors ---- */

static const struct {
	const char *in;
	upk_status code;
	const char *msg;
} error_cases[] = {
	{"", UPK_ERR_INVALID, "empty text"},
	{" \n\t ", UPK_ERR_INVALID, "empty text"},
	{"al", UPK_ERR_INVALID, "at byte 0: expected \"all\", \"device\""},
	{"All", UPK_ERR_INVALID, "found \"All\" (keywords are lower-case)"},
	{"all all", UPK_ERR_INVALID, "at byte 4: expected \"and\", \"or\" or the end of the text, "
				     "found \"all\""},
	{"all and", UPK_ERR_INVALID, "at byte 7: expected \"all\", \"device\", \"hardware\", \"tag\", "
				     "\"installed\", \"bucket\", \"not\" or '(', found the end"},
	{"all or or all", UPK_ERR_INVALID, "at byte 7: expected \"all\""},
	{"not", UPK_ERR_INVALID, "at byte 3: expected \"all\""},
	{"(all", UPK_ERR_INVALID, "at byte 4: expected \"and\", \"or\" or ')', found the end"},
	{"(all]", UPK_ERR_INVALID, "at byte 4: expected \"and\", \"or\" or ')', found \"]\""},
	{"all)", UPK_ERR_INVALID, "at byte 3: expected \"and\", \"or\" or the end of the text, "
				  "found \")\""},
	{"()", UPK_ERR_INVALID, "at byte 1: expected \"all\""},
	{"device [\"a\"]", UPK_ERR_INVALID, "at byte 7: expected \"in\" after \"device\", found \"[\""},
	{"hardware is [\"a\"]", UPK_ERR_INVALID, "expected \"in\" after \"hardware\", found \"is\""},
	{"device in \"a\"", UPK_ERR_INVALID, "at byte 10: expected '[', found \"\\\"a\\\"\""},
	{"device in []", UPK_ERR_INVALID, "at byte 11: expected a string, found \"]\""},
	{"device in [\"a\",]", UPK_ERR_INVALID, "at byte 15: expected a string, found \"]\""},
	{"device in [\"a\" \"b\"]", UPK_ERR_INVALID, "at byte 15: expected ',' or ']', found"},
	{"device in [\"a\"", UPK_ERR_INVALID, "expected ',' or ']', found the end of the text"},
	{"device in [a]", UPK_ERR_INVALID, "at byte 11: expected a string, found \"a\""},
	{"tag site = \"x\"", UPK_ERR_INVALID, "at byte 4: expected a tag name string, found \"site\""},
	{"tag \"site\" == \"x\"", UPK_ERR_INVALID,
	 "at byte 11: expected '=', \"in\" or \"exists\" after the tag name, found \"==\""},
	{"tag \"site\"", UPK_ERR_INVALID, "after the tag name, found the end of the text"},
	{"tag \"site\" = x", UPK_ERR_INVALID, "at byte 13: expected a tag value string, found \"x\""},
	{"installed image > \"1\"", UPK_ERR_INVALID, "expected an installed name string"},
	{"installed \"image\" = \"1\"", UPK_ERR_INVALID,
	 "at byte 18: expected '==', '!=', '<', '<=', '>', '>=' or \"exists\" after the name, "
	 "found \"=\""},
	{"installed \"image\" > 1.0", UPK_ERR_INVALID,
	 "at byte 20: expected a version string, found \"1.0\""},
	{"installed \"image\" > \"1.0x\"", UPK_ERR_INVALID,
	 "at byte 20: invalid version \"1.0x\": expected '.', '-' or the end at byte 3"},
	{"installed \"image\" > \"v1\"", UPK_ERR_INVALID, "invalid version \"v1\""},
	{"installed \"image\" > \"\"", UPK_ERR_INVALID, "invalid version \"\": empty"},
	{"installed \"image\" ! \"1\"", UPK_ERR_INVALID, "at byte 18: unexpected character \"!\""},
	{"bucket 10", UPK_ERR_INVALID, "at byte 7: expected '<', found \"10\""},
	{"bucket <= 10", UPK_ERR_INVALID, "at byte 7: expected '<', found \"<=\""},
	{"bucket < 100.01", UPK_ERR_INVALID,
	 "at byte 9: expected a percentage from 0 to 100 with at most two decimals, found "
	 "\"100.01\""},
	{"bucket < 101", UPK_ERR_INVALID, "found \"101\""},
	{"bucket < 99999999999999999999", UPK_ERR_INVALID, "found \"99999999999999999999\""},
	{"bucket < 1.234", UPK_ERR_INVALID, "found \"1.234\""},
	{"bucket < 1.", UPK_ERR_INVALID, "found \"1.\""},
	{"bucket < 1.2.3", UPK_ERR_INVALID, "found \"1.2.3\""},
	{"bucket < 10abc", UPK_ERR_INVALID, "found \"10abc\""},
	{"bucket < -1", UPK_ERR_INVALID, "at byte 9: unexpected character \"-\""},
	{"bucket < x", UPK_ERR_INVALID, "found \"x\""},
	{"bucket(salt) < 1", UPK_ERR_INVALID, "at byte 7: expected a salt string, found \"salt\""},
	{"bucket(\"s\" < 1", UPK_ERR_INVALID, "at byte 11: expected ')' after the salt, found \"<\""},
	{"tag \"a", UPK_ERR_INVALID, "at byte 4: string not closed by '\"'"},
	{"tag \"a\\", UPK_ERR_INVALID, "at byte 6: invalid escape \"\\\\\""},
	{"tag \"a\\n\" exists", UPK_ERR_INVALID,
	 "at byte 6: invalid escape \"\\\\n\" (only \\\" and \\\\ are allowed)"},
	{"tag \"a\tb\" exists", UPK_ERR_INVALID, "at byte 6: control character \"\\x09\" in string"},
	{"tag \"a\x7f\" exists", UPK_ERR_INVALID, "at byte 6: control character \"\\x7f\""},
	{"tag \"\xc0\xaf\" exists", UPK_ERR_INVALID, "at byte 5: invalid UTF-8 at \"\\xc0\""},
	{"tag \"\xed\xa0\x80\" exists", UPK_ERR_INVALID, "at byte 5: invalid UTF-8"},
	{"tag \"\xf4\x90\x80\x80\" exists", UPK_ERR_INVALID, "at byte 5: invalid UTF-8"},
	{"tag \"\xe2\x82\" exists", UPK_ERR_INVALID, "at byte 5: invalid UTF-8"},
	{"all & all", UPK_ERR_INVALID, "at byte 4: unexpected character \"&\""},
	{"all and\xff", UPK_ERR_INVALID, "at byte 7: unexpected character \"\\xff\""},
	{"all\n  or\n  Device in [\"a\"]", UPK_ERR_INVALID,
	 "at byte 11: expected \"all\", \"device\", \"hardware\", \"tag\", \"installed\", \"bucket\", "
	 "\"not\" or '(', found \"Device\" (keywords are lower-case)"},
};

static void check_error(const char *in, size_t len, upk_status code, const char *msg)
{
	struct upk_selector *sel = (struct upk_selector *)(uintptr_t)1;
	struct upk_error err = {0};
	upk_status ret = upk_selector_parse(in, len, &sel, &err);

	if (ret != code)
		fail_msg("'%s': status %d (%s), expected %d", in, ret, err.msg, code);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, msg);
	/* Out-parameters are written only on success. */
	assert_ptr_equal(sel, (struct upk_selector *)(uintptr_t)1);
}

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(error_cases); i++)
		check_error(error_cases[i].in, strlen(error_cases[i].in), error_cases[i].code,
			    error_cases[i].msg);
	check_error("all\0 and all", 12, UPK_ERR_INVALID, "at byte 3: unexpected character \"\\x00\"");
	check_error("tag \"a\0\" exists", 15, UPK_ERR_INVALID,
		    "at byte 6: control character \"\\x00\"");
	check_error(NULL, 3, UPK_ERR_INVALID, "no text");
	check_error(NULL, 0, UPK_ERR_INVALID, "empty text");
}

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	char *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static void test_limits(void **state)
{
	struct upk_selector *sel = NULL;
	struct upk_error err = {0};
	char *s, *out = NULL;

	(void)state;
	/* Text length: 4096 is fine (padded with blanks), 4097 is not. */
	s = repeat("all", " ", UPK_SELECTOR_MAX_LEN - 3, "");
	assert_int_equal(upk_selector_parse(s, strlen(s), &sel, &err), UPK_OK);
	upk_selector_free(sel);
	assert_int_equal(upk_selector_parse(s, strlen(s) + 1, &sel, &err), UPK_ERR_TOO_LARGE);
	assert_non_null(strstr(err.msg, "4097 bytes long, more than the 4096 allowed"));
	free(s);

	/* Nesting: 16 parentheses or nots in each other, not 17. */
	s = repeat("", "(", 16, "all))))))))))))))))");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("", "(", 17, "all)))))))))))))))))");
	check_error(s, strlen(s), UPK_ERR_TOO_LARGE, "at byte 16: nested deeper than 16");
	free(s);
	s = repeat("", "not ", 16, "all");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("", "not ", 17, "all");
	check_error(s, strlen(s), UPK_ERR_TOO_LARGE, "at byte 64: nested deeper than 16");
	free(s);
	s = repeat("", "not (", 8, "all))))))))");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("(", "not (", 8, "all)))))))))");
	check_error(s, strlen(s), UPK_ERR_TOO_LARGE, "nested deeper than 16");
	free(s);
	/* Siblings do not add up: depth is nesting, not count. */
	s = repeat("(((((((((((((((all)))))))))))))))", " or (((((((((((((((all)))))))))))))))",
		   20, "");
	upk_selector_free(parse_ok(s));
	free(s);

	/* Lists: 256 strings, not 257. */
	s = repeat("device in [\"x\"", ",\"x\"", UPK_SELECTOR_MAX_LIST - 1, "]");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("device in [\"x\"", ",\"x\"", UPK_SELECTOR_MAX_LIST, "]");
	check_error(s, strlen(s), UPK_ERR_TOO_LARGE, "list longer than 256 strings");
	free(s);

	/* Strings: 256 bytes after unescaping, not 257. */
	s = repeat("tag \"", "\\\\", UPK_SELECTOR_MAX_STRING, "\" exists");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("tag \"", "a", UPK_SELECTOR_MAX_STRING + 1, "\" exists");
	check_error(s, strlen(s), UPK_ERR_TOO_LARGE, "at byte 4: string longer than 256 bytes");
	free(s);

	/* Versions: 128 bytes. */
	s = repeat("installed \"a\" < \"1", ".0", 63, "\"");
	upk_selector_free(parse_ok(s));
	free(s);
	s = repeat("installed \"a\" < \"1", ".0", 64, "\"");
	check_error(s, strlen(s), UPK_ERR_INVALID, "longer than 128 bytes");
	free(s);

	/* Normalized text that would outgrow the limit is refused, not cut. */
	s = repeat("tag\"k\"=\"v\"", "and tag\"k\"=\"v\"", 290, "");
	assert_true(strlen(s) <= UPK_SELECTOR_MAX_LEN);
	assert_int_equal(upk_selector_parse(s, strlen(s), &sel, &err), UPK_OK);
	out = (char *)(uintptr_t)1;
	assert_int_equal(upk_selector_to_string(sel, &out, &err), UPK_ERR_TOO_LARGE);
	assert_ptr_equal(out, (char *)(uintptr_t)1);
	assert_non_null(strstr(err.msg, "normalized text longer than 4096"));
	upk_selector_free(sel);
	free(s);
	assert_int_equal(upk_selector_to_string(NULL, &out, &err), UPK_ERR_INVALID);
	upk_selector_free(NULL);
}

/* ---- versions ---- */

/* Each row is strictly greater than the one before it, except where marked equal. */
static const struct {
	const char *v;
	int equal_to_previous;
} version_order[] = {
	{"0", 0},
	{"0.0.0", 1},
	{"0.0.1-0", 0},
	{"0.0.1-1", 0},
	{"0.0.1-2", 0},
	{"0.0.1-10", 0},
	{"0.0.1-10.1", 0},
	{"0.0.1--", 0},
	{"0.0.1-A", 0},
	{"0.0.1-Z", 0},
	{"0.0.1-a", 0},
	{"0.0.1-alpha", 0},
	{"0.0.1-alpha.1", 0},
	{"0.0.1-alpha.beta", 0},
	{"0.0.1-beta", 0},
	{"0.0.1-beta.2", 0},
	{"0.0.1-beta.11", 0},
	{"0.0.1-rc.1", 0},
	{"0.0.1-rc1", 0},
	{"0.0.1-rc10", 0},
	{"0.0.1-rc2", 0},
	{"0.0.1", 0},
	{"0.0.1.0", 1},
	{"0.1", 0},
	{"0.9", 0},
	{"0.10", 0},
	{"1.0.0-rc1", 0},
	{"1.0.0", 0},
	{"1", 1},
	{"1.0", 1},
	{"1.0.0.0.0.0", 1},
	{"1.0.0.0.0.1", 0},
	{"1.2.9", 0},
	{"1.2.10", 0},
	{"1.10", 0},
	{"2-rc.1", 0},
	{"2.0-rc.1", 1},
	{"2", 0},
	{"4294967295", 0},
	{"4294967296", 0},
	{"18446744073709551616", 0},
	{"99999999999999999999999999999999", 0},
	{"100000000000000000000000000000000", 0},
};

static int cmp(const char *a, const char *b)
{
	struct upk_error err = {0};
	int c = 42;

	if (upk_version_compare(a, b, &c, &err) != UPK_OK)
		fail_msg("compare '%s' '%s': %s", a, b, err.msg);
	return c;
}

static void test_version_order(void **state)
{
	(void)state;
	/* Every pair, both ways, so that the order is total and antisymmetric. */
	for (size_t i = 0; i < N_ELEMS(version_order); i++) {
		for (size_t j = 0; j < N_ELEMS(version_order); j++) {
			int want;
			size_t lo = i < j ? i : j, hi = i < j ? j : i;
			int all_equal = 1;
			for (size_t k = lo + 1; k <= hi; k++)
				all_equal = all_equal && version_order[k].equal_to_previous;
			want = i == j || all_equal ? 0 : (i < j ? -1 : 1);
			if (cmp(version_order[i].v, version_order[j].v) != want)
				fail_msg("compare '%s' '%s' gave %d, expected %d",
					 version_order[i].v, version_order[j].v,
					 cmp(version_order[i].v, version_order[j].v), want);
		}
	}
}

static void test_version_invalid(void **state)
{
	static const struct {
		const char *v;
		const char *msg;
	} bad[] = {
		{"", "invalid version \"\": empty"},
		{"v1", "invalid version \"v1\": expected a number at byte 0"},
		{".1", "expected a number at byte 0"},
		{"1.", "expected a number at byte 2"},
		{"1..2", "expected a number at byte 2"},
		{"01", "number with a leading zero at byte 0"},
		{"1.02", "number with a leading zero at byte 2"},
		{"1.0-01", "number with a leading zero at byte 4"},
		{"1.0-", "expected a pre-release identifier at byte 4"},
		{"1.0-rc.", "expected a pre-release identifier at byte 7"},
		{"1.0-rc..1", "expected a pre-release identifier at byte 7"},
		{"1.0-rc_1", "expected '.' or the end at byte 6"},
		{"1.0+build", "expected '.', '-' or the end at byte 3"},
		{"1.0-rc+b", "expected '.' or the end at byte 6"},
		{" 1", "expected a number at byte 0"},
		{"1 ", "at byte 1"},
		{"1.0\n", "invalid version \"1.0\\x0a\""},
		{"1.0~beta", "at byte 3"},
		{"-1", "expected a number at byte 0"},
	};
	struct upk_error err = {0};
	char *big;
	int c = 42;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		upk_error_clear(&err);
		assert_int_equal(upk_version_validate(bad[i].v, &err), UPK_ERR_INVALID);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].v, err.msg, bad[i].msg);
		assert_int_equal(upk_version_compare(bad[i].v, "1", &c, &err), UPK_ERR_INVALID);
		assert_int_equal(upk_version_compare("1", bad[i].v, &c, &err), UPK_ERR_INVALID);
		assert_int_equal(c, 42);
	}
	assert_int_equal(upk_version_validate(NULL, &err), UPK_ERR_INVALID);
	assert_int_equal(upk_version_validate("0-0", NULL), UPK_OK);
	assert_int_equal(upk_version_validate("1.0-x-y.Z9.0", NULL), UPK_OK);

	big = repeat("1", "0", UPK_VERSION_MAX_LEN - 1, "");
	assert_int_equal(upk_version_validate(big, &err), UPK_OK);
	free(big);
	big = repeat("1", "0", UPK_VERSION_MAX_LEN, "");
	assert_int_equal(upk_version_validate(big, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "longer than 128 bytes"));
	free(big);
}

/* ---- buckets ---- */

static unsigned bucket(const char *id, const char *salt)
{
	struct upk_error err = {0};
	unsigned b = 123456;

	if (upk_selector_bucket(id, salt, &b, &err) != UPK_OK)
		fail_msg("bucket of '%s': %s", id, err.msg);
	return b;
}

static void test_bucket_values(void **state)
{
	struct upk_error err = {0};
	unsigned b = 7;

	(void)state;
	/*
	 * Expected values computed independently with Python:
	 * int.from_bytes(sha256(salt + b"\0" + id).digest()[:8], "big") % 10000
	 */
	assert_int_equal(bucket("dev-00001", NULL), 5425);
	assert_int_equal(bucket("dev-00001", ""), 5425);
	assert_int_equal(bucket("dev-00001", "rollout-7"), 9729);
	assert_int_equal(bucket("0123456789abcdef0123456789abcdef"
				"0123456789abcdef0123456789abcdef", ""),
			 5821);
	/* The separator keeps the salt and the id apart. */
	assert_int_equal(bucket("bc", "a"), 7297);
	assert_int_equal(bucket("c", "ab"), 5165);

	assert_int_equal(upk_selector_bucket(NULL, "", &b, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no device id"));
	{
		char *s = repeat("", "s", UPK_SELECTOR_MAX_STRING + 1, "");
		assert_int_equal(upk_selector_bucket("d", s, &b, &err), UPK_ERR_INVALID);
		assert_non_null(strstr(err.msg, "salt longer than 256"));
		s[UPK_SELECTOR_MAX_STRING] = '\0';
		assert_int_equal(upk_selector_bucket(s, s, &b, &err), UPK_OK);
		free(s);
	}
	assert_int_equal(b < UPK_SELECTOR_BUCKETS, 1);
}

static void test_bucket_distribution(void **state)
{
	unsigned deciles[10] = {0}, salted_same = 0;
	char id[32];

	(void)state;
	for (int i = 0; i < 10000; i++) {
		unsigned b;
		snprintf(id, sizeof(id), "device-%05d", i);
		b = bucket(id, NULL);
		assert_true(b < UPK_SELECTOR_BUCKETS);
		assert_int_equal(b, bucket(id, "")); /* deterministic */
		deciles[b / 1000]++;
		/* Another salt draws other devices: a first 10% barely overlaps. */
		if (b < 1000 && bucket(id, "rollout-2") < 1000)
			salted_same++;
	}
	for (int d = 0; d < 10; d++) {
		if (deciles[d] < 800 || deciles[d] > 1200)
			fail_msg("decile %d has %u of 10000 devices", d, deciles[d]);
	}
	/* Independent draws overlap in about 1% (100); identical ones would be 1000. */
	assert_true(salted_same > 50 && salted_same < 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_absent_attrs),
		cmocka_unit_test(test_match_errors),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_version_order),
		cmocka_unit_test(test_version_invalid),
		cmocka_unit_test(test_bucket_values),
		cmocka_unit_test(test_bucket_distribution),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
