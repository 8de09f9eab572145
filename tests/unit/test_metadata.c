/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TUF metadata model: a repository signed by securesystemslib (an
 * independent implementation, tests/vectors/tuf/gen.py) must parse and
 * verify; every way of breaking structure or signatures must be refused
 * with the right status.
 */
#include <string.h>
#include <stdlib.h>

#include "testutil.h"
#include "upkeep/json.h"
#include "upkeep/metadata.h"

static struct upk_metadata *load(const char *name, enum upk_role_type type)
{
	struct upk_metadata *md = NULL;
	struct upk_error err = {0};
	size_t len;
	char *buf = tu_read_data(name, &len);
	upk_status ret = upk_metadata_parse(buf, len, type, NULL, &md, &err);

	if (ret != UPK_OK)
		fail_msg("%s: %s", name, err.msg);
	free(buf);
	return md;
}

/* Parse text (a whole document) and return the status; the message goes to msg_out. */
static upk_status parse_text(const char *text, enum upk_role_type type, char *msg_out)
{
	struct upk_metadata *md = NULL;
	struct upk_error err = {0};
	upk_status ret = upk_metadata_parse(text, strlen(text), type, NULL, &md, &err);

	if (msg_out != NULL)
		strcpy(msg_out, err.msg);
	upk_metadata_free(md);
	return ret;
}

static json_t *load_json(const char *name)
{
	size_t len;
	char *buf = tu_read_data(name, &len);
	json_t *doc = json_loadb(buf, len, 0, NULL);

	free(buf);
	assert_non_null(doc);
	return doc;
}

static void test_independent_repository_verifies(void **state)
{
	(void)state;
	struct upk_metadata *root = load("vectors/tuf/root.json", UPK_ROLE_ROOT);
	struct upk_metadata *targets = load("vectors/tuf/targets.json", UPK_ROLE_TARGETS);
	struct upk_metadata *vendor = load("vectors/tuf/vendor.json", UPK_ROLE_TARGETS);
	struct upk_metadata *snapshot = load("vectors/tuf/snapshot.json", UPK_ROLE_SNAPSHOT);
	struct upk_metadata *timestamp = load("vectors/tuf/timestamp.json", UPK_ROLE_TIMESTAMP);
	struct upk_sigcheck check;
	struct upk_error err = {0};

	/* Root: 2 of 3, signed by the Ed25519 and the ECDSA key. */
	assert_int_equal(upk_verify_role(root, "root", root, &check, &err), UPK_OK);
	assert_int_equal(check.valid, 2);
	assert_int_equal(check.threshold, 2);
	/* Targets: RSA-PSS; snapshot: ECDSA; timestamp: Ed25519. */
	assert_int_equal(upk_verify_role(root, "targets", targets, NULL, &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "snapshot", snapshot, NULL, &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "timestamp", timestamp, NULL, &err), UPK_OK);
	assert_int_equal(upk_verify_delegated(targets, "vendor", vendor, &check, &err), UPK_OK);
	assert_int_equal(check.valid, 2);

	assert_int_equal(upk_metadata_version(targets), 3);
	assert_int_equal(upk_metadata_version(snapshot), 5);
	assert_int_equal(upk_metadata_expires(root), 4070908800); /* 2099-01-01 */
	assert_true(upk_root_consistent_snapshot(root));
	assert_string_equal(upk_metadata_spec_version(root), "1.0.31");

	/* A role signed by the wrong key does not pass as another role. */
	assert_int_equal(upk_verify_role(root, "snapshot", timestamp, NULL, &err), UPK_ERR_INVALID);
	assert_int_equal(upk_verify_role(root, "root", targets, NULL, &err), UPK_ERR_INVALID);
	/* vendor.json is signed by the vendor keys, not by the top-level targets key. */
	assert_int_equal(upk_verify_role(root, "targets", vendor, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 0);
	assert_int_equal(upk_verify_delegated(targets, "nobody", vendor, NULL, &err),
			 UPK_ERR_NOT_FOUND);

	upk_metadata_free(root);
	upk_metadata_free(targets);
	upk_metadata_free(vendor);
	upk_metadata_free(snapshot);
	upk_metadata_free(timestamp);
}

static void test_accessors(void **state)
{
	(void)state;
	struct upk_metadata *root = load("vectors/tuf/root.json", UPK_ROLE_ANY);
	struct upk_metadata *targets = load("vectors/tuf/targets.json", UPK_ROLE_ANY);
	struct upk_metadata *snapshot = load("vectors/tuf/snapshot.json", UPK_ROLE_SNAPSHOT);
	struct upk_role_keys rk;
	struct upk_target t;
	struct upk_delegation d;
	struct upk_metafile m;
	struct upk_error err = {0};

	assert_int_equal(upk_metadata_type(root), UPK_ROLE_ROOT);
	assert_int_equal(upk_root_role(root, "root", &rk, &err), UPK_OK);
	assert_int_equal(rk.n_keyids, 3);
	assert_int_equal(rk.threshold, 2);
	for (size_t i = 0; i < rk.n_keyids; i++)
		assert_non_null(upk_root_key(root, rk.keyids[i]));
	assert_null(upk_root_key(root, "0000"));
	assert_int_equal(upk_root_role(root, "vendor", &rk, &err), UPK_ERR_NOT_FOUND);

	assert_int_equal(upk_targets_count(targets), 1);
	assert_int_equal(upk_targets_find(targets, "images/app-2.0.img", &t, &err), UPK_OK);
	assert_int_equal(t.length, 19);
	assert_non_null(json_object_get(t.hashes, "sha512"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(t.custom, "upkeep"), "version")),
			    "2.0");
	assert_int_equal(upk_targets_find(targets, "images/none", &t, &err), UPK_ERR_NOT_FOUND);

	assert_int_equal(upk_delegations_count(targets), 2);
	assert_int_equal(upk_delegation_at(targets, 0, &d, &err), UPK_OK);
	assert_string_equal(d.name, "vendor");
	assert_true(d.terminating);
	assert_int_equal(d.n_paths, 2);
	assert_null(d.hash_prefixes);
	assert_true(upk_delegation_covers(&d, "vendor/model-x/fw.bin"));
	assert_true(upk_delegation_covers(&d, "vendor/a.bin"));
	assert_false(upk_delegation_covers(&d, "vendor/model-y/fw.bin"));
	assert_false(upk_delegation_covers(&d, "vendor/model-x/sub/fw.bin"));
	assert_non_null(upk_delegation_key(targets, d.keyids[0]));
	assert_int_equal(upk_delegation_find(targets, "hashed", &d, &err), UPK_OK);
	assert_null(d.paths);
	assert_int_equal(d.n_hash_prefixes, 3);
	/* Prefixes 0, 8, f: sha256("bar") = fcde..., sha256("foo") = 2c26..., sha256("a") = ca97... */
	assert_true(upk_delegation_covers(&d, "bar"));
	assert_false(upk_delegation_covers(&d, "foo"));
	assert_false(upk_delegation_covers(&d, "a"));

	assert_int_equal(upk_meta_count(snapshot), 2);
	assert_int_equal(upk_meta_find(snapshot, "vendor.json", &m, &err), UPK_OK);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.length, -1);
	assert_null(m.hashes);
	assert_int_equal(upk_meta_at(snapshot, 0, &m, &err), UPK_OK);
	assert_string_equal(m.name, "targets.json");

	upk_metadata_free(root);
	upk_metadata_free(targets);
	upk_metadata_free(snapshot);
}

static struct upk_key *seed_key(uint8_t n)
{
	uint8_t seed[32];
	struct upk_key *key = NULL;

	memset(seed, n, sizeof(seed));
	assert_int_equal(upk_key_from_ed25519_seed(seed, &key, NULL), UPK_OK);
	return key;
}

static void keyid_of(const struct upk_key *key, char out[UPK_KEYID_HEX_LEN + 1])
{
	assert_int_equal(upk_key_id(key, out, NULL), UPK_OK);
}

static void test_tampering_breaks_signatures(void **state)
{
	(void)state;
	json_t *doc = load_json("vectors/tuf/root.json");
	struct upk_metadata *root = load("vectors/tuf/root.json", UPK_ROLE_ROOT);
	struct upk_metadata *bad = NULL;
	struct upk_sigcheck check;
	struct upk_error err = {0};
	char *text;

	json_object_set_new(json_object_get(doc, "signed"), "version", json_integer(2));
	text = json_dumps(doc, 0);
	assert_int_equal(upk_metadata_parse(text, strlen(text), UPK_ROLE_ROOT, NULL, &bad, &err),
			 UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", bad, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 0);
	assert_non_null(strstr(err.msg, "threshold 2 not met: 0 valid"));
	upk_metadata_free(bad);
	free(text);

	/* The unknown field is signed too: changing it breaks the signatures. */
	json_object_set_new(json_object_get(doc, "signed"), "version", json_integer(1));
	json_object_set_new(json_object_get(doc, "signed"), "x-unknown-field", json_true());
	text = json_dumps(doc, 0);
	assert_int_equal(upk_metadata_parse(text, strlen(text), UPK_ROLE_ROOT, NULL, &bad, &err),
			 UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", bad, NULL, &err), UPK_ERR_SIGNATURE);
	upk_metadata_free(bad);
	free(text);
	json_decref(doc);
	upk_metadata_free(root);
}

/* A root with keys a, b, c for every role (threshold 2 for root), signed by `signers`. */
static struct upk_metadata *make_root(struct upk_key **keys, size_t n, unsigned threshold)
{
	struct upk_metadata *root = NULL;
	struct upk_error err = {0};
	const char *roles[] = {"root", "targets", "snapshot", "timestamp"};

	assert_int_equal(upk_metadata_new(UPK_ROLE_ROOT, 4070908800, &root, &err), UPK_OK);
	for (size_t r = 0; r < 4; r++)
		for (size_t i = 0; i < n; i++)
			assert_int_equal(upk_root_add_key(root, roles[r], keys[i], &err), UPK_OK);
	assert_int_equal(upk_root_set_threshold(root, "root", threshold, &err), UPK_OK);
	return root;
}

static void test_threshold_counts_distinct_keys(void **state)
{
	(void)state;
	struct upk_key *k[4] = {seed_key(1), seed_key(2), seed_key(3), seed_key(4)};
	struct upk_metadata *root = make_root(k, 3, 2), *copy = NULL;
	struct upk_sigcheck check;
	struct upk_error err = {0};
	char id0[UPK_KEYID_HEX_LEN + 1], id3[UPK_KEYID_HEX_LEN + 1];
	json_t *doc, *sigs;
	char *text;
	size_t len;

	keyid_of(k[0], id0);
	keyid_of(k[3], id3);
	assert_int_equal(upk_metadata_sign(root, k[0], &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", root, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 1);
	assert_non_null(strstr(err.msg, "1 valid of 3"));

	/* Signing twice with one key replaces, it does not add. */
	assert_int_equal(upk_metadata_sign(root, k[0], &err), UPK_OK);
	assert_int_equal(upk_metadata_signature_count(root), 1);

	/* A key outside the role adds nothing. */
	assert_int_equal(upk_metadata_sign(root, k[3], &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", root, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 1);

	/* The same signature written twice is one key. */
	assert_int_equal(upk_metadata_serialize(root, 0, &text, &len, &err), UPK_OK);
	doc = json_loadb(text, len, 0, NULL);
	free(text);
	sigs = json_object_get(doc, "signatures");
	json_array_append(sigs, json_array_get(sigs, 0));
	/* ... and a copy of a's signature claimed under d's key id adds nothing either. */
	json_array_append_new(sigs, json_pack("{s:s,s:O}", "keyid", id3, "sig",
					      json_object_get(json_array_get(sigs, 0), "sig")));
	text = json_dumps(doc, 0);
	assert_int_equal(upk_metadata_parse(text, strlen(text), UPK_ROLE_ROOT, NULL, &copy, &err),
			 UPK_OK);
	assert_int_equal(upk_metadata_signature_count(copy), 4);
	assert_int_equal(upk_verify_role(copy, "root", copy, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 1);
	upk_metadata_free(copy);
	free(text);
	json_decref(doc);

	/* Two distinct authorised keys meet the threshold. */
	assert_int_equal(upk_metadata_sign(root, k[1], &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", root, &check, &err), UPK_OK);
	assert_int_equal(check.valid, 2);

	/* Any change drops the signatures, which would no longer verify. */
	assert_int_equal(upk_metadata_set_version(root, 2, &err), UPK_OK);
	assert_int_equal(upk_metadata_signature_count(root), 0);

	upk_metadata_free(root);
	for (int i = 0; i < 4; i++)
		upk_key_free(k[i]);
}

static upk_status reparse(struct upk_metadata *md, struct upk_metadata **out, json_t **doc_out)
{
	char *text;
	size_t len;
	upk_status ret;

	assert_int_equal(upk_metadata_serialize(md, 0, &text, &len, NULL), UPK_OK);
	if (doc_out != NULL) {
		*doc_out = json_loadb(text, len, 0, NULL);
		assert_non_null(*doc_out);
	}
	ret = out ? upk_metadata_parse(text, len, UPK_ROLE_ANY, NULL, out, NULL) : UPK_OK;
	free(text);
	return ret;
}

static struct upk_metadata *from_json(json_t *doc)
{
	struct upk_metadata *md = NULL;
	struct upk_error err = {0};
	char *text = json_dumps(doc, 0);

	if (upk_metadata_parse(text, strlen(text), UPK_ROLE_ANY, NULL, &md, &err) != UPK_OK)
		fail_msg("reparse: %s", err.msg);
	free(text);
	return md;
}

static void test_same_key_under_two_ids_counts_once(void **state)
{
	(void)state;
	struct upk_key *a = seed_key(7);
	struct upk_metadata *root = make_root(&a, 1, 1), *md;
	struct upk_sigcheck check;
	struct upk_error err = {0};
	char ida[UPK_KEYID_HEX_LEN + 1];
	json_t *doc, *signed_, *rootrole, *sig;

	keyid_of(a, ida);
	reparse(root, NULL, &doc);
	signed_ = json_object_get(doc, "signed");
	json_object_set(json_object_get(signed_, "keys"), "alias",
			json_object_get(json_object_get(signed_, "keys"), ida));
	rootrole = json_object_get(json_object_get(signed_, "roles"), "root");
	json_array_append_new(json_object_get(rootrole, "keyids"), json_string("alias"));
	json_object_set_new(rootrole, "threshold", json_integer(2));
	md = from_json(doc);
	assert_int_equal(upk_metadata_sign(md, a, &err), UPK_OK);
	json_decref(doc);
	reparse(md, NULL, &doc);
	upk_metadata_free(md);
	sig = json_deep_copy(json_array_get(json_object_get(doc, "signatures"), 0));
	json_object_set_new(sig, "keyid", json_string("alias"));
	json_array_append_new(json_object_get(doc, "signatures"), sig);
	md = from_json(doc);
	assert_int_equal(upk_verify_role(md, "root", md, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 1);
	assert_int_equal(check.threshold, 2);

	upk_metadata_free(md);
	upk_metadata_free(root);
	json_decref(doc);
	upk_key_free(a);
}

static void test_unverifiable_key_types_do_not_count(void **state)
{
	(void)state;
	struct upk_key *a = seed_key(9), *b = seed_key(10);
	struct upk_key *both[2] = {a, b};
	struct upk_metadata *root = make_root(both, 2, 2), *md;
	struct upk_sigcheck check;
	struct upk_error err = {0};
	char idb[UPK_KEYID_HEX_LEN + 1];
	json_t *doc, *keyb;

	keyid_of(b, idb);
	/* b's entry claims a key type nobody knows: it stays, but cannot count. */
	reparse(root, NULL, &doc);
	keyb = json_object_get(json_object_get(json_object_get(doc, "signed"), "keys"), idb);
	json_object_set_new(keyb, "keytype", json_string("quantum-2040"));
	json_object_set_new(keyb, "scheme", json_string("quantum-2040"));
	md = from_json(doc);
	assert_null(upk_root_key(md, idb));
	assert_int_equal(upk_metadata_sign(md, a, &err), UPK_OK);
	assert_int_equal(upk_metadata_sign(md, b, &err), UPK_OK);
	assert_int_equal(upk_verify_role(md, "root", md, &check, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(check.valid, 1);
	upk_metadata_free(md);

	/* A known key type with the wrong scheme is refused outright. */
	json_object_set_new(keyb, "keytype", json_string("ed25519"));
	json_object_set_new(keyb, "scheme", json_string("ecdsa-sha2-nistp256"));
	{
		char *text = json_dumps(doc, 0);
		md = NULL;
		upk_status ret = upk_metadata_parse(text, strlen(text), UPK_ROLE_ROOT, NULL, &md, &err);
		if (ret == UPK_OK) {
			/* Tolerated as unknown: then it must not count. */
			assert_null(upk_root_key(md, idb));
			upk_metadata_free(md);
		}
		free(text);
	}
	json_decref(doc);
	upk_metadata_free(root);
	upk_key_free(a);
	upk_key_free(b);
}

struct reject_case {
	const char *base; /* a valid document */
	const char *from; /* substring replaced ... */
	const char *to;   /* ... by this */
	upk_status status;
	const char *msg; /* expected in the message */
};

#define TS_DOC                                                                                     \
	"{\"signatures\":[],\"signed\":{\"_type\":\"timestamp\",\"spec_version\":\"1.0.31\","     \
	"\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{\"snapshot.json\":"          \
	"{\"version\":1}}}}"
#define SN_DOC                                                                                     \
	"{\"signatures\":[],\"signed\":{\"_type\":\"snapshot\",\"spec_version\":\"1.0\","          \
	"\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"meta\":{\"targets.json\":"           \
	"{\"version\":1,\"length\":5,\"hashes\":{\"sha256\":"                                      \
	"\"0000000000000000000000000000000000000000000000000000000000000000\"}}}}}"
#define TG_DOC                                                                                     \
	"{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"00\"}],\"signed\":{\"_type\":\"targets\","   \
	"\"spec_version\":\"1.0.31\",\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\","          \
	"\"targets\":{\"a/b.img\":{\"length\":1,\"hashes\":{\"sha512\":\"" HEX128 "\"},"           \
	"\"custom\":{}}},\"delegations\":{\"keys\":{},\"roles\":[{\"name\":\"v\",\"keyids\":"      \
	"[\"k1\"],\"threshold\":1,\"terminating\":false,\"paths\":[\"v/*\"]}]}}}"
#define HEX64 "0000000000000000000000000000000000000000000000000000000000000000"
#define HEX128 HEX64 HEX64
#define RT_DOC                                                                                     \
	"{\"signatures\":[],\"signed\":{\"_type\":\"root\",\"spec_version\":\"1.0.31\","          \
	"\"version\":1,\"expires\":\"2030-01-01T00:00:00Z\",\"consistent_snapshot\":true,"         \
	"\"keys\":{},\"roles\":{\"root\":{\"keyids\":[\"k1\"],\"threshold\":1},"                   \
	"\"targets\":{\"keyids\":[],\"threshold\":1},\"snapshot\":{\"keyids\":[],\"threshold\":1},"\
	"\"timestamp\":{\"keyids\":[],\"threshold\":1}}}}"

static const struct reject_case reject_cases[] = {
	/* the envelope */
	{TS_DOC, "{\"signatures\":[],", "{\"signatures\":{},", UPK_ERR_INVALID, "\"signatures\""},
	{TS_DOC, "\"signed\":{", "\"signed\":7,\"x\":{", UPK_ERR_INVALID, "envelope"},
	{TS_DOC, "[]", "[{\"keyid\":\"ab\",\"sig\":\"0\"}]", UPK_ERR_INVALID, "hex digits"},
	{TS_DOC, "[]", "[{\"keyid\":\"\",\"sig\":\"00\"}]", UPK_ERR_INVALID, "key id"},
	{TS_DOC, "[]", "[{\"keyid\":\"ab\"}]", UPK_ERR_INVALID, "signatures[0]"},
	{TS_DOC, "\"version\":1,", "\"version\":1.5,", UPK_ERR_INVALID, ""},
	{TS_DOC, "}}}}", "}}}}x", UPK_ERR_INVALID, ""},
	{TS_DOC, "}}}}", "}}}", UPK_ERR_INVALID, ""},
	{TS_DOC, "\"version\":1,\"expires\"", "\"version\":1,\"version\":2,\"expires\"",
	 UPK_ERR_INVALID, ""},
	/* common fields */
	{TS_DOC, "\"_type\":\"timestamp\"", "\"_type\":\"mirrors\"", UPK_ERR_INVALID, "mirrors"},
	{TS_DOC, "\"_type\":\"timestamp\",", "", UPK_ERR_INVALID, "_type"},
	{TS_DOC, "1.0.31", "2.0.0", UPK_ERR_UNSUPPORTED, "major version 1"},
	{TS_DOC, "1.0.31", "1", UPK_ERR_INVALID, "MAJOR.MINOR"},
	{TS_DOC, "1.0.31", "1.0.x", UPK_ERR_INVALID, "MAJOR.MINOR"},
	{TS_DOC, "1.0.31", "1.0.", UPK_ERR_INVALID, "MAJOR.MINOR"},
	{TS_DOC, "1.0.31", "10.0.0", UPK_ERR_UNSUPPORTED, "major"},
	{TS_DOC, "\"version\":1,", "\"version\":0,", UPK_ERR_INVALID, "\"version\""},
	{TS_DOC, "\"version\":1,", "\"version\":\"1\",", UPK_ERR_INVALID, "\"version\""},
	{TS_DOC, "2030-01-01T00:00:00Z", "2030-01-01 00:00:00", UPK_ERR_INVALID, "expires"},
	{TS_DOC, "2030-01-01T00:00:00Z", "2030-02-30T00:00:00Z", UPK_ERR_INVALID, "expires"},
	{TS_DOC, "2030-01-01T00:00:00Z", "2030-01-01T24:00:00Z", UPK_ERR_INVALID, "expires"},
	{TS_DOC, "2030-01-01T00:00:00Z", "2030-01-01T00:00:00+01:00", UPK_ERR_INVALID, "expires"},
	{TS_DOC, "\"expires\":\"2030-01-01T00:00:00Z\",", "", UPK_ERR_INVALID, "expires"},
	/* timestamp and snapshot */
	{TS_DOC, "\"snapshot.json\"", "\"targets.json\"", UPK_ERR_INVALID, "snapshot.json"},
	{TS_DOC, "{\"version\":1}}", "{\"version\":1},\"x.json\":{\"version\":1}}",
	 UPK_ERR_INVALID, "exactly"},
	{TS_DOC, "{\"version\":1}}", "{\"version\":0}}", UPK_ERR_INVALID, "snapshot.json"},
	{SN_DOC, "\"targets.json\"", "\"targets\"", UPK_ERR_INVALID, "ROLE.json"},
	{SN_DOC, "\"length\":5", "\"length\":-5", UPK_ERR_INVALID, "length"},
	{SN_DOC, "\"sha256\":\"0000", "\"sha256\":\"000", UPK_ERR_INVALID, "hex digits"},
	{SN_DOC, "\"sha256\":\"0000", "\"sha256\":\"zz00", UPK_ERR_INVALID, "must be hex"},
	{SN_DOC, "\"meta\":{", "\"meta\":[{", UPK_ERR_INVALID, ""},
	/* targets */
	{TG_DOC, "\"length\":1", "\"length\":\"1\"", UPK_ERR_INVALID, "a/b.img"},
	{TG_DOC, "\"length\":1,", "", UPK_ERR_INVALID, "length"},
	{TG_DOC, "{\"sha512\":\"" HEX128 "\"}", "{}", UPK_ERR_INVALID, "non-empty"},
	{TG_DOC, "\"custom\":{}", "\"custom\":[]", UPK_ERR_INVALID, "custom"},
	{TG_DOC, "\"a/b.img\"", "\"\"", UPK_ERR_INVALID, "path"},
	{TG_DOC, "\"targets\":{\"a", "\"targets\":[{\"a", UPK_ERR_INVALID, ""},
	{TG_DOC, "\"name\":\"v\"", "\"name\":\"root\"", UPK_ERR_INVALID, "top-level"},
	{TG_DOC, "\"name\":\"v\"", "\"name\":\"\"", UPK_ERR_INVALID, "name"},
	{TG_DOC, "\"terminating\":false,", "", UPK_ERR_INVALID, "terminating"},
	{TG_DOC, "\"threshold\":1,\"terminating\"", "\"threshold\":0,\"terminating\"",
	 UPK_ERR_INVALID, "threshold"},
	{TG_DOC, "[\"k1\"]", "[\"k1\",\"k1\"]", UPK_ERR_INVALID, "twice"},
	{TG_DOC, "[\"k1\"]", "\"k1\"", UPK_ERR_INVALID, "keyids"},
	{TG_DOC, ",\"paths\":[\"v/*\"]", "", UPK_ERR_INVALID, "exactly one"},
	{TG_DOC, "\"paths\":[\"v/*\"]", "\"paths\":[\"v/*\"],\"path_hash_prefixes\":[\"ab\"]",
	 UPK_ERR_INVALID, "exactly one"},
	{TG_DOC, "\"paths\":[\"v/*\"]", "\"path_hash_prefixes\":[\"AB\"]", UPK_ERR_INVALID, "hex"},
	{TG_DOC, "\"paths\":[\"v/*\"]", "\"paths\":[7]", UPK_ERR_INVALID, "paths[0]"},
	{TG_DOC, "\"paths\":[\"v/*\"]", "\"paths\":[\"v/*\"],\"succinct_roles\":{}",
	 UPK_ERR_UNSUPPORTED, "succinct"},
	{TG_DOC, "\"threshold\":1,\"terminating\":false,\"paths\":[\"v/*\"]}]",
	 "\"threshold\":1,\"terminating\":false,\"paths\":[\"v/*\"]},{\"name\":\"v\",\"keyids\":[],"
	 "\"threshold\":1,\"terminating\":false,\"paths\":[]}]",
	 UPK_ERR_INVALID, "delegated twice"},
	{TG_DOC, "\"delegations\":{\"keys\":{},", "\"delegations\":{", UPK_ERR_INVALID, "keys"},
	{TG_DOC, "\"keys\":{}", "\"keys\":{\"k1\":{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				"\"keyval\":{\"public\":\"zz\"}}}",
	 UPK_ERR_INVALID, "k1"},
	/* root */
	{RT_DOC, ",\"timestamp\":{\"keyids\":[],\"threshold\":1}", "", UPK_ERR_INVALID, "timestamp"},
	{RT_DOC, "\"timestamp\":{", "\"mirror\":{\"keyids\":[],\"threshold\":1},\"timestamp\":{",
	 UPK_ERR_INVALID, "only root"},
	{RT_DOC, "\"threshold\":1},\"targets\"", "\"threshold\":-1},\"targets\"", UPK_ERR_INVALID,
	 "threshold"},
	{RT_DOC, "\"consistent_snapshot\":true", "\"consistent_snapshot\":1", UPK_ERR_INVALID,
	 "consistent_snapshot"},
	{RT_DOC, "\"keys\":{},", "", UPK_ERR_INVALID, "keys"},
	{RT_DOC, "\"roles\":{", "\"roles\":[{", UPK_ERR_INVALID, ""},
};

static void test_rejects_malformed(void **state)
{
	(void)state;
	char msg[UPK_ERROR_MSG_MAX];
	const char *bases[] = {TS_DOC, SN_DOC, TG_DOC, RT_DOC};

	/* The bases themselves are valid, so each case fails for its own reason. */
	for (size_t i = 0; i < 4; i++) {
		if (parse_text(bases[i], UPK_ROLE_ANY, msg) != UPK_OK)
			fail_msg("base %zu rejected: %s", i, msg);
	}
	for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
		const struct reject_case *c = &reject_cases[i];
		const char *at = strstr(c->base, c->from);
		char doc[4096];
		upk_status ret;

		if (at == NULL)
			fail_msg("case %zu: \"%s\" not in its base", i, c->from);
		snprintf(doc, sizeof(doc), "%.*s%s%s", (int)(at - c->base), c->base, c->to,
			 at + strlen(c->from));
		ret = parse_text(doc, UPK_ROLE_ANY, msg);
		if (ret != c->status || strstr(msg, c->msg) == NULL)
			fail_msg("case %zu (%s -> %s): got %d \"%s\", want %d with \"%s\"", i,
				 c->from, c->to, ret, msg, c->status, c->msg);
	}
	/* The role asked for must be the role found. */
	assert_int_equal(parse_text(TS_DOC, UPK_ROLE_SNAPSHOT, msg), UPK_ERR_INVALID);
	assert_non_null(strstr(msg, "expected snapshot"));
	assert_int_equal(parse_text("", UPK_ROLE_ANY, msg), UPK_ERR_INVALID);
	assert_int_equal(parse_text("[]", UPK_ROLE_ANY, msg), UPK_ERR_INVALID);
}

static void test_limits(void **state)
{
	(void)state;
	struct upk_metadata_limits l = {0};
	struct upk_metadata *md = NULL;
	size_t len;
	char *buf = tu_read_data("vectors/tuf/root.json", &len);

	l.max_signatures = 1;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_ROOT, &l, &md, NULL),
			 UPK_ERR_TOO_LARGE);
	l.max_signatures = 0;
	l.max_keys = 5;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_ROOT, &l, &md, NULL),
			 UPK_ERR_TOO_LARGE);
	l.max_keys = 0;
	l.max_bytes = len - 1;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_ROOT, &l, &md, NULL),
			 UPK_ERR_TOO_LARGE);
	free(buf);

	buf = tu_read_data("vectors/tuf/targets.json", &len);
	l.max_bytes = 0;
	l.max_delegations = 1;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_TARGETS, &l, &md, NULL),
			 UPK_ERR_TOO_LARGE);
	free(buf);
	buf = tu_read_data("vectors/tuf/snapshot.json", &len);
	l.max_meta = 1;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_SNAPSHOT, &l, &md, NULL),
			 UPK_ERR_TOO_LARGE);
	free(buf);
	assert_null(md);

	/* Nesting is bounded before anything recurses over it. */
	{
		char deep[4096];
		size_t n = 0;
		n += (size_t)snprintf(deep, sizeof(deep), "{\"signatures\":[],\"signed\":{\"x\":");
		for (int i = 0; i < 200; i++)
			deep[n++] = '[';
		for (int i = 0; i < 200; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n++] = '}';
		deep[n] = '\0';
		assert_int_equal(parse_text(deep, UPK_ROLE_ANY, NULL), UPK_ERR_TOO_LARGE);
	}
}

static void test_build_sign_serialize_roundtrip(void **state)
{
	(void)state;
	struct upk_key *k[3] = {seed_key(21), seed_key(22), seed_key(23)};
	struct upk_metadata *root = make_root(k, 3, 2), *back = NULL, *targets = NULL;
	struct upk_error err = {0};
	char *text;
	size_t len;
	json_t *hashes;
	struct upk_target t;
	const char *paths[] = {"vendor/model-x/*"};
	const struct upk_key *vendor_keys[] = {k[2]};
	struct upk_delegation d;

	assert_int_equal(upk_metadata_sign(root, k[0], &err), UPK_OK);
	assert_int_equal(upk_metadata_sign(root, k[1], &err), UPK_OK);
	for (int pretty = 0; pretty < 2; pretty++) {
		assert_int_equal(upk_metadata_serialize(root, pretty, &text, &len, &err), UPK_OK);
		assert_int_equal(upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &back, &err),
				 UPK_OK);
		assert_int_equal(upk_verify_role(root, "root", back, NULL, &err), UPK_OK);
		assert_int_equal(upk_verify_role(back, "root", back, NULL, &err), UPK_OK);
		upk_metadata_free(back);
		free(text);
	}

	assert_int_equal(upk_metadata_new(UPK_ROLE_TARGETS, 4070908800, &targets, &err), UPK_OK);
	hashes = json_pack("{s:s}", "sha256", HEX64);
	assert_int_equal(upk_targets_set(targets, "images/a.img", 10, hashes, NULL, &err), UPK_OK);
	assert_int_equal(upk_targets_set(targets, "", 10, hashes, NULL, &err), UPK_ERR_INVALID);
	assert_int_equal(upk_targets_set(targets, "b", -1, hashes, NULL, &err), UPK_ERR_INVALID);
	assert_int_equal(upk_targets_count(targets), 1);
	assert_int_equal(upk_targets_delegate(targets, "vendor", vendor_keys, 1, 1, paths, 1, 1,
					      &err),
			 UPK_OK);
	assert_int_equal(upk_targets_delegate(targets, "vendor", vendor_keys, 1, 2, paths, 1, 1,
					      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_targets_delegate(targets, "targets", vendor_keys, 1, 1, paths, 1, 1,
					      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_metadata_sign(targets, k[0], &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "targets", targets, NULL, &err), UPK_OK);
	assert_int_equal(upk_delegation_find(targets, "vendor", &d, &err), UPK_OK);
	assert_true(d.terminating);
	assert_true(upk_delegation_covers(&d, "vendor/model-x/fw.bin"));
	assert_non_null(upk_delegation_key(targets, d.keyids[0]));
	assert_int_equal(upk_targets_find(targets, "images/a.img", &t, &err), UPK_OK);
	assert_int_equal(t.length, 10);
	assert_null(t.custom);

	/* Undelegating removes the role and the keys only it used. */
	char vendor_id[UPK_KEYID_HEX_LEN + 1];
	keyid_of(k[2], vendor_id);
	assert_string_equal(d.keyids[0], vendor_id);
	assert_int_equal(upk_targets_undelegate(targets, "vendor", &err), UPK_OK);
	assert_int_equal(upk_delegations_count(targets), 0);
	assert_null(upk_delegation_key(targets, vendor_id));
	assert_int_equal(upk_targets_undelegate(targets, "vendor", &err), UPK_ERR_NOT_FOUND);
	assert_int_equal(upk_targets_remove(targets, "images/a.img", &err), UPK_OK);
	assert_int_equal(upk_targets_count(targets), 0);

	/* Removing a key from the root and its threshold. */
	{
		char id[UPK_KEYID_HEX_LEN + 1];
		struct upk_role_keys rk;
		keyid_of(k[2], id);
		assert_int_equal(upk_root_remove_key(root, "root", id, &err), UPK_OK);
		assert_int_equal(upk_root_role(root, "root", &rk, &err), UPK_OK);
		assert_int_equal(rk.n_keyids, 2);
		/* Still used by the other roles, so still in "keys". */
		assert_non_null(upk_root_key(root, id));
		assert_int_equal(upk_root_remove_key(root, "root", id, &err), UPK_ERR_NOT_FOUND);
	}

	json_decref(hashes);
	upk_metadata_free(targets);
	upk_metadata_free(root);
	for (int i = 0; i < 3; i++)
		upk_key_free(k[i]);
}

static void test_unknown_fields_survive(void **state)
{
	(void)state;
	struct upk_metadata *root = load("vectors/tuf/root.json", UPK_ROLE_ROOT), *back = NULL;
	struct upk_error err = {0};
	char *text;
	size_t len;

	assert_int_equal(upk_metadata_serialize(root, 1, &text, &len, &err), UPK_OK);
	assert_non_null(strstr(text, "x-unknown-field"));
	assert_non_null(strstr(text, "keyid_hash_algorithms"));
	assert_int_equal(upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &back, &err), UPK_OK);
	assert_int_equal(upk_verify_role(root, "root", back, NULL, &err), UPK_OK);
	upk_metadata_free(back);
	upk_metadata_free(root);
	free(text);
}

static void test_path_patterns(void **state)
{
	(void)state;
	static const struct {
		const char *pattern, *path;
		int match;
	} cases[] = {
		{"*", "a", 1},
		{"*", "a/b", 0},
		{"*/*", "a/b", 1},
		{"vendor/*", "vendor/x.img", 1},
		{"vendor/*", "vendor/x/y.img", 0},
		{"vendor/*.img", "vendor/x.img", 1},
		{"vendor/*.img", "vendor/x.bin", 0},
		{"vendor/*/*.img", "vendor/m/x.img", 1},
		{"a?c", "abc", 1},
		{"a?c", "ac", 0},
		{"a?c", "a/c", 0},
		{"[ab]x", "bx", 1},
		{"[ab]x", "cx", 0},
		{"[!ab]x", "cx", 1},
		{"[!ab]x", "ax", 0},
		{"[a-c]x", "bx", 1},
		{"[a-c]x", "dx", 0},
		{"[]]x", "]x", 1},
		{"[x", "[x", 1},
		{"[x", "x", 0},
		{"file.*", "file.tar.gz", 1},
		{"*.gz", ".gz", 1},
		{"*a*b*c*", "xxaxxbxxcxx", 1},
		{"*a*b*c*", "xxaxxcxxbxx", 0},
		{"exact", "exact", 1},
		{"exact", "exact/", 0},
		{"a/", "a/", 1},
		{"", "", 1},
		{"", "a", 0},
		{"**", "a/b", 0},
		{"\\*", "\\x", 1}, /* no escapes: backslash is an ordinary character */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (upk_path_pattern_match(cases[i].pattern, cases[i].path) != cases[i].match)
			fail_msg("pattern \"%s\" path \"%s\": want %d", cases[i].pattern,
				 cases[i].path, cases[i].match);

	/* Many stars against a long non-matching path finish quickly (no exponential backtracking). */
	char pat[256], path[4001];
	for (int i = 0; i < 127; i++) {
		pat[2 * i] = '*';
		pat[2 * i + 1] = 'a';
	}
	pat[254] = 'b';
	pat[255] = '\0';
	memset(path, 'a', 4000);
	path[4000] = '\0';
	assert_false(upk_path_pattern_match(pat, path));
}

static void test_time(void **state)
{
	(void)state;
	time_t t;
	char buf[21];

	assert_int_equal(upk_time_parse("1970-01-01T00:00:00Z", &t, NULL), UPK_OK);
	assert_int_equal(t, 0);
	assert_int_equal(upk_time_parse("2024-02-29T12:34:56Z", &t, NULL), UPK_OK);
	assert_int_equal(t, 1709210096);
	upk_time_format(t, buf);
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	assert_int_equal(upk_time_parse("2023-02-29T00:00:00Z", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse("2023-13-01T00:00:00Z", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse("2023-01-01T00:60:00Z", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse("2023-01-01T00:00:00.5Z", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse("+023-01-01T00:00:00Z", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse("", &t, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_time_parse(NULL, &t, NULL), UPK_ERR_INVALID);
}

static void test_expiry(void **state)
{
	(void)state;
	struct upk_metadata *md = NULL;

	assert_int_equal(upk_metadata_new(UPK_ROLE_TIMESTAMP, 1000, &md, NULL), UPK_OK);
	assert_false(upk_metadata_is_expired(md, 999));
	assert_true(upk_metadata_is_expired(md, 1000));
	assert_int_equal(upk_metadata_set_expires(md, 5000, NULL), UPK_OK);
	assert_false(upk_metadata_is_expired(md, 4999));
	assert_int_equal(upk_meta_set(md, "targets.json", 1, -1, NULL, NULL), UPK_ERR_INVALID);
	assert_int_equal(upk_meta_set(md, "snapshot.json", 4, 100, NULL, NULL), UPK_OK);
	upk_metadata_free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_independent_repository_verifies),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_tampering_breaks_signatures),
		cmocka_unit_test(test_threshold_counts_distinct_keys),
		cmocka_unit_test(test_same_key_under_two_ids_counts_once),
		cmocka_unit_test(test_unverifiable_key_types_do_not_count),
		cmocka_unit_test(test_rejects_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_build_sign_serialize_roundtrip),
		cmocka_unit_test(test_unknown_fields_survive),
		cmocka_unit_test(test_path_patterns),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
