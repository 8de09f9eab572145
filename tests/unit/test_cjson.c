/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upk_cjson_encode against securesystemslib's encode_canonical: every
 * tests/vectors/cjson/NAME.json must encode to NAME.canon byte for byte (made
 * by gen.py there). With UPK_CJSON_OUT=dir our encodings are also written to
 * dir/NAME.canon, so tests/interop can compare them with a live Python run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "json_internal.h"
#include "upkeep/json.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus: sorted names of NAME.json files, NULL-terminated. */
static char **corpus_names(size_t *count)
{
	char dir[4096];
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/vectors/cjson", UPK_TEST_DATA);
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		names = realloc(names, (n + 2) * sizeof(*names));
		assert_non_null(names);
		names[n++] = strndup(de->d_name, len - 5);
	}
	closedir(d);
	assert_non_null(names);
	names[n] = NULL;
	qsort(names, n, sizeof(*names), cmp_names);
	*count = n;
	return names;
}

static int has_control_byte(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return 1;
	return 0;
}

static void check_vector(const char *name, const char *outdir)
{
	struct upk_json_limits limits = {.max_depth = CJSON_MAX_DEPTH};
	struct upk_error err = {0};
	char rel[512];
	size_t in_len, want_len, got_len, again_len;
	char *in, *want, *got = NULL, *again = NULL;
	json_t *doc = NULL, *back = NULL;

	snprintf(rel, sizeof(rel), "vectors/cjson/%s.json", name);
	in = tu_read_data(rel, &in_len);
	snprintf(rel, sizeof(rel), "vectors/cjson/%s.canon", name);
	want = tu_read_data(rel, &want_len);

	if (upk_json_parse(in, in_len, &limits, &doc, &err) != UPK_OK)
		fail_msg("%s: parse: %s", name, err.msg);
	if (upk_cjson_encode(doc, &got, &got_len, &err) != UPK_OK)
		fail_msg("%s: encode: %s", name, err.msg);
	assert_int_equal(got[got_len], '\0');
	if (outdir != NULL) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s.canon", outdir, name);
		tu_write_file(path, got, got_len);
	}
	if (got_len != want_len || memcmp(got, want, want_len) != 0)
		fail_msg("%s: canonical bytes differ from securesystemslib's (%zu vs %zu bytes)",
			 name, got_len, want_len);

	/*
	 * The canonical form is JSON again unless a string holds a control
	 * character (written raw, which strict JSON forbids); then it must
	 * re-parse to the same value and re-encode to the same bytes.
	 */
	if (has_control_byte(got, got_len)) {
		assert_int_equal(upk_json_parse(got, got_len, &limits, &back, &err),
				 UPK_ERR_INVALID);
	} else {
		assert_int_equal(upk_json_parse(got, got_len, &limits, &back, &err), UPK_OK);
		assert_true(json_equal(doc, back));
		assert_int_equal(upk_cjson_encode(back, &again, &again_len, &err), UPK_OK);
		assert_int_equal(again_len, got_len);
		assert_memory_equal(again, got, got_len);
	}
	free(again);
	json_decref(back);
	free(got);
	json_decref(doc);
	free(want);
	free(in);
}

static void test_vectors(void **state)
{
	const char *outdir = getenv("UPK_CJSON_OUT");
	size_t n;
	char **names = corpus_names(&n);

	(void)state;
	/* Guard against a corpus that silently went missing. */
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		check_vector(names[i], outdir && *outdir ? outdir : NULL);
		free(names[i]);
	}
	free(names);
}

static char *encode_ok(const json_t *v, size_t *len)
{
	struct upk_error err = {0};
	char *out = NULL;

	if (upk_cjson_encode(v, &out, len, &err) != UPK_OK)
		fail_msg("encode: %s", err.msg);
	return out;
}

static void expect_fail(const json_t *v, upk_status want, const char *msg_part)
{
	struct upk_error err = {0};
	char *sentinel = (char *)"unchanged";
	char *out = sentinel;
	size_t len = 12345;

	assert_int_equal(upk_cjson_encode(v, &out, &len, &err), want);
	assert_int_equal(err.code, want);
	assert_ptr_equal(out, sentinel);
	assert_int_equal(len, 12345);
	if (strstr(err.msg, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
}

static void test_hand_built(void **state)
{
	size_t len;
	char *out;
	json_t *v;

	(void)state;
	/* Extremes of json_int_t, written without printf. */
	v = json_pack("[I,I,I,I,i]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, (json_int_t)-1,
		      (json_int_t)0, 10);
	out = encode_ok(v, &len);
	assert_string_equal(out, "[-9223372036854775808,9223372036854775807,-1,0,10]");
	assert_int_equal(len, strlen(out));
	free(out);
	json_decref(v);

	/* NUL inside strings and keys is data: length counts, sort uses it. */
	v = json_object();
	json_object_setn_new(v, "a\0", 2, json_stringn("x\0\"y", 4));
	json_object_set_new(v, "a", json_true());
	json_object_set_new(v, "", json_false());
	out = encode_ok(v, &len);
	static const char want_nul[] = "{\"\":false,\"a\":true,\"a\0\":\"x\0\\\"y\"}";
	assert_int_equal(len, sizeof(want_nul) - 1);
	assert_memory_equal(out, want_nul, sizeof(want_nul));
	free(out);
	json_decref(v);

	/* Only '"' and '\\' are escaped. */
	v = json_string("\\\"/\b\x7f\n");
	out = encode_ok(v, &len);
	assert_string_equal(out, "\"\\\\\\\"/\b\x7f\n\"");
	free(out);
	json_decref(v);

	/* Insertion order does not matter; byte order does (0xc3 > 'z'). */
	v = json_pack("{s:i,s:i,s:i,s:{}}", "\xc3\xa9", 1, "z", 2, "Z", 3, "m");
	out = encode_ok(v, &len);
	assert_string_equal(out, "{\"Z\":3,\"m\":{},\"z\":2,\"\xc3\xa9\":1}");
	free(out);
	json_decref(v);

	/* err may be NULL, out_len may be NULL. */
	v = json_integer(7);
	assert_int_equal(upk_cjson_encode(v, &out, NULL, NULL), UPK_OK);
	assert_string_equal(out, "7");
	free(out);
	json_decref(v);
}

static void test_reals(void **state)
{
	json_t *v;

	(void)state;
	v = json_real(1.5);
	expect_fail(v, UPK_ERR_INVALID, "real number 1.5 at $ cannot");
	json_decref(v);

	v = json_pack("{s:{s:i,s:f}}", "signed", "version", 1, "expires", -0.0);
	expect_fail(v, UPK_ERR_INVALID, "real number -0 at $.signed.expires");
	json_decref(v);

	v = json_pack("{s:[s,{s:[i,f]}]}", "signatures", "x", "a b", 1, 1e3);
	expect_fail(v, UPK_ERR_INVALID, "real number 1000 at $.signatures[1][\"a b\"][1]");
	json_decref(v);
}

/* depth arrays or objects, each the only member of the one around it. */
static json_t *nested(size_t depth, int objects)
{
	json_t *v = json_integer(1);

	for (size_t i = 0; i < depth; i++) {
		json_t *c = objects ? json_object() : json_array();

		if (objects)
			json_object_set_new(c, "k", v);
		else
			json_array_append_new(c, v);
		v = c;
	}
	return v;
}

static void test_depth(void **state)
{
	size_t len;
	char *out;
	json_t *v;

	(void)state;
	for (int objects = 0; objects <= 1; objects++) {
		v = nested(CJSON_MAX_DEPTH, objects);
		out = encode_ok(v, &len);
		assert_int_equal(len, objects ? 64 * 6 + 1 : 64 * 2 + 1);
		free(out);
		json_decref(v);

		v = nested(CJSON_MAX_DEPTH + 1, objects);
		expect_fail(v, UPK_ERR_TOO_LARGE, "deeper than 64 levels at $");
		json_decref(v);
	}
	/* Far deeper than any stack would take, refused just the same. */
	v = nested(10000, 0);
	expect_fail(v, UPK_ERR_TOO_LARGE, "deeper than 64 levels at $[0][0][0]");
	json_decref(v);
}

static void test_output_cap(void **state)
{
	struct upk_error err = {0};
	char *out = NULL;
	size_t len = 0;
	json_t *v = json_pack("{s:s,s:[i,i]}", "a", "\"q\"", "b", 12, -3);

	(void)state;
	/* {"a":"\"q\"","b":[12,-3]} is 25 bytes: exactly at the cap is fine. */
	assert_int_equal(cjson_encode_max(v, 25, &out, &len, &err), UPK_OK);
	assert_int_equal(len, 25);
	assert_string_equal(out, "{\"a\":\"\\\"q\\\"\",\"b\":[12,-3]}");
	free(out);
	out = NULL;
	for (size_t cap = 0; cap < 25; cap++) {
		assert_int_equal(cjson_encode_max(v, cap, &out, &len, &err), UPK_ERR_TOO_LARGE);
		assert_null(out);
		assert_non_null(strstr(err.msg, "over the limit"));
	}
	json_decref(v);

	/* A big flat array grows the buffer many times and stays linear. */
	v = json_array();
	for (int i = 0; i < 200000; i++)
		json_array_append_new(v, json_integer(i));
	out = encode_ok(v, &len);
	assert_int_equal(out[0], '[');
	assert_int_equal(out[len - 1], ']');
	free(out);
	json_decref(v);
}

static void test_bad_arguments(void **state)
{
	struct upk_error err = {0};
	char *out = NULL;
	json_t *v = json_true();

	(void)state;
	assert_int_equal(upk_cjson_encode(NULL, &out, NULL, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no value"));
	assert_int_equal(upk_cjson_encode(v, NULL, NULL, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no output"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_hand_built),
		cmocka_unit_test(test_reals),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
