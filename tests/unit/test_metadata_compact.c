/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact targets roles (lib/metadata_compact.c) against the jansson model
 * they replace (md_parse_tree): every mutation of a targets document gets
 * the same status and message from both, accepted ones the same canonical
 * bytes and entries; signatures verify over bytes checked in place or
 * canonicalised, and break when a byte changes; turning a compact role back
 * into a tree keeps what callers borrowed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"
#include "testutil.h"
#include "upkeep/crypto.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Escapes, unsorted paths, custom, an unknown hash, upper-case hex, a delegation. */
static const char base_doc[] =
    "{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"00\"}],\"signed\":{\"_type\":\"targets\","
    "\"spec_version\":\"1.0.31\",\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\","
    "\"targets\":{\"z/b.img\":{\"length\":1,\"hashes\":{\"sha256\":\"" HEX64 "\"},"
    "\"custom\":{\"upkeep\":{\"v\":[1,2]}}},\"a\\u00e9\\\"q.bin\":{\"hashes\":{\"blake\":\"AB\","
    "\"sha256\":\"" HEX64 "\"},\"length\":0}},\"delegations\":{\"keys\":{},\"roles\":[{\"name\":"
    "\"v\",\"keyids\":[\"k1\"],\"threshold\":1,\"terminating\":false,\"paths\":[\"v/*\"]}]}}}";

static void same_entries(const struct upk_metadata *a, const struct upk_metadata *b)
{
	assert_int_equal(upk_targets_count(a), upk_targets_count(b));
	for (size_t i = 0; i < upk_targets_count(a); i++) {
		struct upk_target x, y;

		assert_int_equal(upk_targets_at(a, i, &x, NULL), UPK_OK);
		assert_int_equal(upk_targets_at(b, i, &y, NULL), UPK_OK);
		assert_string_equal(x.path, y.path);
		assert_int_equal(x.length, y.length);
		assert_true(json_equal(x.hashes, y.hashes));
		assert_true((x.custom == NULL && y.custom == NULL) ||
		            json_equal(x.custom, y.custom));
	}
}

static void same_signed_bytes(struct upk_metadata *a, struct upk_metadata *b)
{
	const char *x, *y;
	size_t xl, yl;

	assert_int_equal(upk_metadata_signed_bytes(a, &x, &xl, NULL), UPK_OK);
	assert_int_equal(upk_metadata_signed_bytes(b, &y, &yl, NULL), UPK_OK);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
}

/* Parse len bytes both ways: same status and message; when accepted, same document. */
static int agree(const char *doc, size_t len)
{
	struct upk_metadata *fast = NULL, *tree = NULL;
	struct upk_error ef = {0}, et = {0};
	upk_status rf = upk_metadata_parse(doc, len, UPK_ROLE_ANY, NULL, &fast, &ef);
	upk_status rt = md_parse_tree(doc, len, UPK_ROLE_ANY, NULL, &tree, &et);

	if (rf != rt || strcmp(ef.msg, et.msg) != 0)
		fail_msg("'%.*s': compact %d \"%s\", tree %d \"%s\"", (int)len, doc, rf, ef.msg, rt,
		         et.msg);
	if (rf == UPK_OK) {
		same_entries(fast, tree);
		same_signed_bytes(fast, tree);
	}
	upk_metadata_free(fast);
	upk_metadata_free(tree);
	return rf == UPK_OK;
}

/*
 * Every byte deleted, and replaced by each of a few bytes that matter to
 * JSON and to the rules of targets entries: hundreds of malformed
 * documents, among them every kind of the malformed-document table of
 * test_metadata.c that a targets role can have.
 */
static void test_mutations_agree(void **state)
{
	static const char repl[] = {'"', '}', ']', '1', '-', ' ', '\\', 'x', 'A', ',', '{', '0'};
	size_t len = strlen(base_doc), accepted = 0, total = 0;
	char *doc = malloc(len + 1);

	(void)state;
	assert_true(agree(base_doc, len));
	for (size_t i = 0; i < len; i++) {
		memcpy(doc, base_doc, i);
		memcpy(doc + i, base_doc + i + 1, len - i - 1);
		accepted += (size_t)agree(doc, len - 1);
		total++;
		for (size_t r = 0; r < sizeof(repl); r++) {
			if (base_doc[i] == repl[r])
				continue;
			memcpy(doc, base_doc, len);
			doc[i] = repl[r];
			accepted += (size_t)agree(doc, len);
			total++;
		}
	}
	/* Both verdicts occur often, so the sweep tests both paths. */
	assert_true(accepted > 100);
	assert_true(total - accepted > 1000);
	free(doc);
}

/* A signed role of n entries, written in reverse order so the parser must sort. */
static struct upk_metadata *signed_role(const struct upk_key *key, size_t n)
{
	struct upk_metadata *md = NULL;
	json_t *hashes = json_pack("{s:s}", "sha256", HEX64);
	json_t *custom = json_pack("{s:{s:s}}", "upkeep", "type", "image");
	char path[64];

	assert_int_equal(upk_metadata_new(UPK_ROLE_TARGETS, 4102444800, &md, NULL), UPK_OK);
	for (size_t i = n; i-- > 0;) {
		snprintf(path, sizeof(path), "dir %zu/\"file\" \xc3\xa9-%04zu.img", i % 7, i);
		assert_int_equal(
		    upk_targets_set(md, path, (int64_t)i, hashes, i % 3 ? custom : NULL, NULL),
		    UPK_OK);
	}
	assert_int_equal(upk_metadata_sign(md, key, NULL), UPK_OK);
	json_decref(hashes);
	json_decref(custom);
	return md;
}

static struct upk_metadata *root_for(const struct upk_key *key)
{
	struct upk_metadata *root = NULL;

	assert_int_equal(upk_metadata_new(UPK_ROLE_ROOT, 4102444800, &root, NULL), UPK_OK);
	assert_int_equal(upk_root_add_key(root, "targets", key, NULL), UPK_OK);
	return root;
}

static void test_signatures_in_place_and_canonicalised(void **state)
{
	struct upk_key *key = NULL;
	struct upk_metadata *root, *md, *tree = NULL;

	(void)state;
	assert_int_equal(upk_key_generate_ed25519(&key, NULL), UPK_OK);
	root = root_for(key);
	md = signed_role(key, 300);
	for (int pretty = 0; pretty < 2; pretty++) {
		struct upk_metadata *parsed = NULL;
		const char *bytes;
		size_t len, blen;
		char *text = NULL, *at;

		assert_int_equal(upk_metadata_serialize(md, pretty, &text, &len, NULL), UPK_OK);
		assert_int_equal(
		    upk_metadata_parse(text, len, UPK_ROLE_TARGETS, NULL, &parsed, NULL), UPK_OK);
		assert_non_null(parsed->compact);
		/* Compact output is canonical as written; indented output is not. */
		assert_int_equal(md_compact_signed_in_place(parsed, &bytes, &blen), !pretty);
		assert_int_equal(upk_verify_role(root, "targets", parsed, NULL, NULL), UPK_OK);
		assert_int_equal(md_parse_tree(text, len, UPK_ROLE_TARGETS, NULL, &tree, NULL),
		                 UPK_OK);
		same_entries(parsed, tree);
		same_signed_bytes(parsed, tree);
		upk_metadata_free(tree);
		upk_metadata_free(parsed);

		/* One hex digit of one entry changed: the signature no longer holds. */
		at = strstr(text, HEX64);
		assert_non_null(at);
		at[10] = at[10] == 'a' ? 'b' : 'a';
		assert_int_equal(
		    upk_metadata_parse(text, len, UPK_ROLE_TARGETS, NULL, &parsed, NULL), UPK_OK);
		assert_int_equal(upk_verify_role(root, "targets", parsed, NULL, NULL),
		                 UPK_ERR_SIGNATURE);
		upk_metadata_free(parsed);
		free(text);
	}
	upk_metadata_free(md);
	upk_metadata_free(root);
	upk_key_free(key);
}

/* Lookups by path, and a compact role turned into a tree by the calls that need one. */
static void test_lookups_and_materialize(void **state)
{
	struct upk_key *key = NULL;
	struct upk_metadata *root, *md, *parsed = NULL;
	struct upk_target t, again;
	const json_t *borrowed;
	char *text = NULL;
	size_t len;

	(void)state;
	assert_int_equal(upk_key_generate_ed25519(&key, NULL), UPK_OK);
	root = root_for(key);
	md = signed_role(key, 50);
	assert_int_equal(upk_metadata_serialize(md, 0, &text, &len, NULL), UPK_OK);
	assert_int_equal(upk_metadata_parse(text, len, UPK_ROLE_TARGETS, NULL, &parsed, NULL),
	                 UPK_OK);
	assert_int_equal(upk_targets_find(parsed, "dir 3/\"file\" \xc3\xa9-0010.img", &t, NULL),
	                 UPK_OK);
	assert_int_equal(t.length, 10);
	assert_string_equal(json_string_value(json_object_get(t.hashes, "sha256")), HEX64);
	assert_int_equal(upk_targets_find(parsed, "dir 3/nothing", &t, NULL), UPK_ERR_NOT_FOUND);
	assert_int_equal(upk_targets_find(parsed, "dir 0/\"file\" \xc3\xa9-0049.img", &t, NULL),
	                 UPK_OK);
	borrowed = t.hashes;

	/* The whole tree on demand; what was borrowed stays the same object. */
	assert_non_null(upk_metadata_signed(parsed));
	assert_null(parsed->compact);
	assert_int_equal(upk_targets_find(parsed, t.path, &again, NULL), UPK_OK);
	assert_ptr_equal(again.hashes, borrowed);
	assert_int_equal(json_object_size(json_object_get(upk_metadata_signed(parsed), "targets")),
	                 50);
	assert_int_equal(upk_verify_role(root, "targets", parsed, NULL, NULL), UPK_OK);
	upk_metadata_free(parsed);

	/* Changing a compact role works and drops its signatures, as for any role. */
	assert_int_equal(upk_metadata_parse(text, len, UPK_ROLE_TARGETS, NULL, &parsed, NULL),
	                 UPK_OK);
	{
		json_t *h = json_pack("{s:s}", "sha256", HEX64);

		assert_int_equal(upk_targets_set(parsed, "new.img", 5, h, NULL, NULL), UPK_OK);
		json_decref(h);
	}
	assert_int_equal(upk_targets_count(parsed), 51);
	assert_int_equal(upk_metadata_signature_count(parsed), 0);
	assert_int_equal(upk_metadata_sign(parsed, key, NULL), UPK_OK);
	assert_int_equal(upk_verify_role(root, "targets", parsed, NULL, NULL), UPK_OK);
	upk_metadata_free(parsed);
	free(text);
	upk_metadata_free(md);
	upk_metadata_free(root);
	upk_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mutations_agree),
	    cmocka_unit_test(test_signatures_in_place_and_canonicalised),
	    cmocka_unit_test(test_lookups_and_materialize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
