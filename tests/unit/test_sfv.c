/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8941 structured fields subset and strict base64: the section 3 and 4
 * examples, every bare item type, round trips through the serializer, and
 * the malformed inputs a strict parser must refuse.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base64_internal.h"
#include "sfv_internal.h"

/* Parse, then serialize each member back as "key=value" joined with ", ". */
static char *roundtrip(const char *in)
{
	struct sfv_dict d = {0};
	struct sfv_buf b;
	struct upk_error err = {0};
	char *out = NULL;

	if (sfv_parse_dict(in, strlen(in), &d, &err) != UPK_OK)
		fail_msg("%s: %s", in, err.msg);
	sfv_buf_init(&b, 1 << 16);
	for (size_t i = 0; i < d.n; i++) {
		const struct sfv_member *m = &d.v[i];
		if (i > 0)
			sfv_buf_addstr(&b, ", ");
		sfv_buf_addstr(&b, m->key);
		if (m->inner) {
			sfv_buf_addstr(&b, "=");
			sfv_buf_inner(&b, m->items, m->nitems, &m->params);
		} else if (m->item.bare.type == SFV_BOOLEAN && m->item.bare.num == 1) {
			sfv_buf_params(&b, &m->item.params); /* 4.1.2: a true member is its key */
		} else {
			sfv_buf_addstr(&b, "=");
			sfv_buf_item(&b, &m->item);
		}
	}
	assert_int_equal(sfv_buf_finish(&b, &out, NULL, NULL), UPK_OK);
	sfv_dict_clear(&d);
	return out;
}

static void check_rt(const char *in, const char *want)
{
	char *got = roundtrip(in);

	if (strcmp(got, want) != 0)
		fail_msg("%s -> %s, want %s", in, got, want);
	free(got);
}

static void test_roundtrips(void **state)
{
	(void)state;
	/* RFC 8941 section 3.2 examples. */
	check_rt("en=\"Applepie\", da=:w4ZibGV0w6ZydGU=:", "en=\"Applepie\", da=:w4ZibGV0w6ZydGU=:");
	check_rt("a=?0, b, c; foo=bar", "a=?0, b, c;foo=bar");
	check_rt("rating=1.5, feelings=(joy sadness)", "rating=1.5, feelings=(joy sadness)");
	check_rt("a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid", "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid");
	/* Whitespace that the grammar allows, normalised away. */
	check_rt("  a=1 ,\tb=( 1  2 );x ,  c=?1  ", "a=1, b=(1 2);x, c");
	/* Numbers: the largest integer, decimals normalised (4.1.5). */
	check_rt("i=-999999999999999, j=999999999999999, k=0", "i=-999999999999999, j=999999999999999, k=0");
	check_rt("d=1.50, e=-0.001, f=123456789012.123, g=2.0",
		 "d=1.5, e=-0.001, f=123456789012.123, g=2.0");
	/* Strings with escapes, tokens with the extra characters 3.3.4 allows. */
	check_rt("s=\"a\\\"b\\\\c\", t=*foo/bar:baz!#$%&'*+-.^_`|~", "s=\"a\\\"b\\\\c\", t=*foo/bar:baz!#$%&'*+-.^_`|~");
	check_rt("e=\"\", b=::, i=()", "e=\"\", b=::, i=()");
	/* Parameters on inner-list items and on the list itself; keys with every allowed char. */
	check_rt("sig1=(\"@method\";req \"x\";key=\"a\");created=1;k_-.*9=?0",
		 "sig1=(\"@method\";req \"x\";key=\"a\");created=1;k_-.*9=?0");
	check_rt("*=1", "*=1");
	check_rt("", "");
}

static void test_types(void **state)
{
	struct sfv_dict d = {0};
	const char *in = "i=42, s=\"hi\", t=tok, b=:AQID:, y=?1;p=-1.25, l=(\"x\" 2);q";
	const struct sfv_member *m;
	const struct sfv_bare *p;

	(void)state;
	assert_int_equal(sfv_parse_dict(in, strlen(in), &d, NULL), UPK_OK);
	assert_int_equal(d.n, 6);
	m = sfv_dict_get(&d, "i");
	assert_int_equal(m->item.bare.type, SFV_INTEGER);
	assert_int_equal(m->item.bare.num, 42);
	m = sfv_dict_get(&d, "s");
	assert_int_equal(m->item.bare.type, SFV_STRING);
	assert_string_equal((char *)m->item.bare.data, "hi");
	m = sfv_dict_get(&d, "t");
	assert_int_equal(m->item.bare.type, SFV_TOKEN);
	assert_string_equal((char *)m->item.bare.data, "tok");
	m = sfv_dict_get(&d, "b");
	assert_int_equal(m->item.bare.type, SFV_BYTES);
	assert_int_equal(m->item.bare.len, 3);
	assert_memory_equal(m->item.bare.data, "\x01\x02\x03", 3);
	m = sfv_dict_get(&d, "y");
	assert_int_equal(m->item.bare.type, SFV_BOOLEAN);
	assert_int_equal(m->item.bare.num, 1);
	p = sfv_params_get(&m->item.params, "p");
	assert_non_null(p);
	assert_int_equal(p->type, SFV_DECIMAL);
	assert_int_equal(p->num, -1250);
	m = sfv_dict_get(&d, "l");
	assert_true(m->inner);
	assert_int_equal(m->nitems, 2);
	assert_int_equal(m->items[1].bare.num, 2);
	p = sfv_params_get(&m->params, "q");
	assert_int_equal(p->type, SFV_BOOLEAN);
	assert_null(sfv_dict_get(&d, "zz"));
	sfv_dict_clear(&d);
	sfv_dict_clear(&d); /* clearing twice is harmless */
}

struct bad {
	const char *in;
	upk_status want;
	const char *msg;
};

static const struct bad BAD[] = {
	{"a=1,", UPK_ERR_INVALID, "trailing ','"},
	{",a=1", UPK_ERR_INVALID, "expected a key"},
	{"a=1 b=2", UPK_ERR_INVALID, "',' between members"},
	{"A=1", UPK_ERR_INVALID, "expected a key"},
	{"1a=1", UPK_ERR_INVALID, "expected a key"},
	{"a=1, a=2", UPK_ERR_INVALID, "member \"a\" repeated"},
	{"a=1;x;x=2", UPK_ERR_INVALID, "parameter \"x\" repeated"},
	{"a=", UPK_ERR_INVALID, "expected an item"},
	{"a=@", UPK_ERR_INVALID, "found '@'"},
	{"a=-", UPK_ERR_INVALID, "expected a digit"},
	{"a=-a", UPK_ERR_INVALID, "expected a digit"},
	{"a=1234567890123456", UPK_ERR_INVALID, "number too long"},
	{"a=1234567890123.1", UPK_ERR_INVALID, "more than 12 integer digits"},
	{"a=1.1234", UPK_ERR_INVALID, "number too long"},
	{"a=1.", UPK_ERR_INVALID, "decimal ends with '.'"},
	{"a=1.2.3", UPK_ERR_INVALID, "',' between members"},
	{"a=\"abc", UPK_ERR_INVALID, "string not closed"},
	{"a=\"a\\x\"", UPK_ERR_INVALID, "after '\\'"},
	{"a=\"a\tb\"", UPK_ERR_INVALID, "printable ASCII"},
	{"a=\"\xc3\xa9\"", UPK_ERR_INVALID, "found byte 0xc3"},
	{"a=:AAA:", UPK_ERR_INVALID, "canonical"},
	{"a=:AAA=A:", UPK_ERR_INVALID, "canonical"},
	{"a=:A===:", UPK_ERR_INVALID, "canonical"},
	{"a=:AB==:", UPK_ERR_INVALID, "canonical"}, /* non-zero pad bits */
	{"a=:AAB=:", UPK_ERR_INVALID, "canonical"},
	{"a=:AA-_:", UPK_ERR_INVALID, "canonical"}, /* base64url is not base64 */
	{"a=:AAAA", UPK_ERR_INVALID, "not closed"},
	{"a=?", UPK_ERR_INVALID, "'0' or '1'"},
	{"a=?2", UPK_ERR_INVALID, "'0' or '1'"},
	{"a=(1 2", UPK_ERR_INVALID, "' ' or ')'"},
	{"a=(1,2)", UPK_ERR_INVALID, "' ' or ')'"},
	{"a=((1))", UPK_ERR_INVALID, "expected an item"},
	{"a=1;", UPK_ERR_INVALID, "expected a key"},
	{"a=1;P=1", UPK_ERR_INVALID, "expected a key"},
	{"a=1\t", UPK_OK, NULL}, /* OWS after a member is allowed */
	{"a=1 ;p", UPK_ERR_INVALID, "',' between members"},
	{"a=1,\t", UPK_ERR_INVALID, "trailing ','"},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		struct sfv_dict d = {0};
		struct upk_error err = {0};
		upk_status got = sfv_parse_dict(BAD[i].in, strlen(BAD[i].in), &d, &err);

		if (got != BAD[i].want || (BAD[i].msg && strstr(err.msg, BAD[i].msg) == NULL))
			fail_msg("%zu [%s]: want %s \"%s\", got %s: %s", i, BAD[i].in,
				 upk_status_str(BAD[i].want), BAD[i].msg ? BAD[i].msg : "",
				 upk_status_str(got), err.msg);
		if (got != UPK_OK)
			assert_int_equal(d.n, 0); /* nothing handed out on failure */
		sfv_dict_clear(&d);
	}
}

static void test_limits(void **state)
{
	char buf[SFV_MAX_INPUT + 16];
	struct sfv_dict d = {0};
	size_t o = 0;

	(void)state;
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(sfv_parse_dict(buf, SFV_MAX_INPUT + 1, &d, NULL), UPK_ERR_TOO_LARGE);
	/* Exactly the limits pass. */
	for (int i = 0; i < SFV_MAX_MEMBERS; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%sm%d=1", i ? "," : "", i);
	assert_int_equal(sfv_parse_dict(buf, o, &d, NULL), UPK_OK);
	assert_int_equal(d.n, SFV_MAX_MEMBERS);
	sfv_dict_clear(&d);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",zz=1");
	assert_int_equal(sfv_parse_dict(buf, o, &d, NULL), UPK_ERR_TOO_LARGE);

	o = (size_t)snprintf(buf, sizeof(buf), "a=(");
	for (int i = 0; i < SFV_MAX_INNER; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", i ? " " : "", i);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ")");
	assert_int_equal(sfv_parse_dict(buf, o, &d, NULL), UPK_OK);
	sfv_dict_clear(&d);
	memcpy(buf + o - 1, " 9)", 3);
	assert_int_equal(sfv_parse_dict(buf, o + 2, &d, NULL), UPK_ERR_TOO_LARGE);

	o = (size_t)snprintf(buf, sizeof(buf), "a=1");
	for (int i = 0; i < SFV_MAX_PARAMS; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";p%d", i);
	assert_int_equal(sfv_parse_dict(buf, o, &d, NULL), UPK_OK);
	sfv_dict_clear(&d);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";q");
	assert_int_equal(sfv_parse_dict(buf, o, &d, NULL), UPK_ERR_TOO_LARGE);

	/* A 64-character key is fine, 65 is not. */
	memset(buf, 'k', 65);
	memcpy(buf + 64, "=1", 2);
	assert_int_equal(sfv_parse_dict(buf, 66, &d, NULL), UPK_OK);
	sfv_dict_clear(&d);
	memset(buf, 'k', 65);
	memcpy(buf + 65, "=1", 2);
	assert_int_equal(sfv_parse_dict(buf, 67, &d, NULL), UPK_ERR_TOO_LARGE);
}

static void test_buf(void **state)
{
	struct sfv_buf b;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	sfv_buf_init(&b, 4);
	sfv_buf_addstr(&b, "abcd");
	assert_int_equal(sfv_buf_finish(&b, &out, &len, NULL), UPK_OK);
	assert_string_equal(out, "abcd");
	assert_int_equal(len, 4);
	free(out);
	sfv_buf_init(&b, 4);
	sfv_buf_addstr(&b, "abc");
	sfv_buf_addstr(&b, "de");
	assert_int_equal(sfv_buf_finish(&b, &out, &len, NULL), UPK_ERR_TOO_LARGE);
	sfv_buf_init(&b, 4);
	assert_int_equal(sfv_buf_finish(&b, &out, &len, NULL), UPK_OK);
	assert_string_equal(out, "");
	free(out);
	assert_true(sfv_is_key("sig-b26"));
	assert_true(sfv_is_key("*a.b_c"));
	assert_false(sfv_is_key(""));
	assert_false(sfv_is_key("Sig"));
	assert_false(sfv_is_key("1a"));
	assert_false(sfv_is_key("a b"));
}

/* RFC 4648 section 10 test vectors, and strictness. */
static void test_base64(void **state)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					  "Zm9vYmFy"};
	static const char *const bad[] = {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm8=Zm8=",
					  "Zm 9", "Zm9v\n", "====", "Zm9vY===", "Zm-_"};
	uint8_t out[64];
	char text[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		base64_encode((const uint8_t *)plain[i], strlen(plain[i]), text);
		assert_string_equal(text, enc[i]);
		assert_int_equal(strlen(text), BASE64_ENCODED_LEN(strlen(plain[i])));
		assert_int_equal(base64_decode(enc[i], strlen(enc[i]), out, &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(out, plain[i], n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (base64_decode(bad[i], strlen(bad[i]), out, &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* Every byte value survives a round trip. */
	{
		uint8_t all[256], back[256];
		char t[BASE64_ENCODED_LEN(256) + 1];
		for (int i = 0; i < 256; i++)
			all[i] = (uint8_t)i;
		for (size_t len = 0; len <= 256; len += 37) {
			base64_encode(all, len, t);
			assert_int_equal(base64_decode(t, strlen(t), back, &n), 0);
			assert_int_equal(n, len);
			assert_memory_equal(back, all, len);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrips), cmocka_unit_test(test_types),
		cmocka_unit_test(test_malformed),  cmocka_unit_test(test_limits),
		cmocka_unit_test(test_buf),        cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests_name("sfv", tests, NULL, NULL);
}
