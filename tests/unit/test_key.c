/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and signatures against independent references: RFC 8032 section 7.1,
 * all of Wycheproof's ed25519_test.json, ECDSA/RSA-PSS signatures and key ids
 * made by python3-cryptography and securesystemslib (gen_crypto_vectors.py),
 * and the openssl command line for PEM interoperability.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/crypto.h"

static json_t *load_json(const char *relpath)
{
	json_error_t jerr;
	size_t len = 0;
	char *text = tu_read_data(relpath, &len);
	json_t *doc = json_loadb(text, len, 0, &jerr);

	free(text);
	if (doc == NULL)
		fail_msg("%s:%d: %s", relpath, jerr.line, jerr.text);
	return doc;
}

/* Hex string to a malloc()ed buffer (never NULL, even for ""). */
static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *buf = malloc(n + 1);

	assert_non_null(buf);
	assert_int_equal(strlen(hex) % 2, 0);
	assert_int_equal(upk_hex_decode(hex, buf, n, NULL), UPK_OK);
	*len = n;
	return buf;
}

static json_t *ed25519_obj(const char *pub_hex)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519",
			      "keyval", "public", pub_hex);

	assert_non_null(o);
	return o;
}

static struct upk_key *key_from_obj(const json_t *obj)
{
	struct upk_key *key = NULL;
	struct upk_error err = {0};

	if (upk_key_from_tuf(obj, &key, &err) != UPK_OK)
		fail_msg("upk_key_from_tuf: %s", err.msg);
	return key;
}

static void test_rfc8032(void **state)
{
	json_t *doc = load_json("vectors/rfc8032/rfc8032_ed25519_section7.1.json");
	size_t i, run = 0;
	json_t *v;

	(void)state;
	json_array_foreach(doc, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		size_t seed_len, pub_len, msg_len, sig_len, our_len = 0;
		uint8_t *seed = unhex(json_string_value(json_object_get(v, "secret_key")), &seed_len);
		uint8_t *msg = unhex(json_string_value(json_object_get(v, "message")), &msg_len);
		uint8_t *sig = unhex(json_string_value(json_object_get(v, "signature")), &sig_len);
		const char *pub_hex = json_string_value(json_object_get(v, "public_key"));
		uint8_t *pub = unhex(pub_hex, &pub_len);
		struct upk_key *key = NULL, *pubkey = NULL;
		uint8_t *ours = NULL;
		json_t *obj = NULL, *pobj;
		struct upk_error err = {0};

		assert_int_equal(seed_len, 32);
		assert_int_equal(upk_key_from_ed25519_seed(seed, &key, &err), UPK_OK);
		assert_true(upk_key_has_private(key));
		/* The public key derived from the seed is the RFC's. */
		assert_int_equal(upk_key_to_tuf(key, &obj, NULL), UPK_OK);
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(obj, "keyval"), "public")),
			pub_hex);
		/* Ed25519 is deterministic: our signature is the RFC's, byte for byte. */
		assert_int_equal(upk_key_sign(key, msg, msg_len, &ours, &our_len, &err), UPK_OK);
		assert_int_equal(our_len, 64);
		assert_int_equal(sig_len, 64);
		if (memcmp(ours, sig, 64) != 0)
			fail_msg("%s: signature differs from RFC 8032", name);
		pobj = ed25519_obj(pub_hex);
		pubkey = key_from_obj(pobj);
		assert_false(upk_key_has_private(pubkey));
		assert_true(upk_key_equal_public(key, pubkey));
		assert_int_equal(upk_key_verify(pubkey, msg, msg_len, sig, sig_len, &err), UPK_OK);
		sig[0] ^= 0x01;
		assert_int_equal(upk_key_verify(pubkey, msg, msg_len, sig, sig_len, &err),
				 UPK_ERR_SIGNATURE);
		sig[0] ^= 0x01;
		sig[63] ^= 0x80;
		assert_int_equal(upk_key_verify(pubkey, msg, msg_len, sig, sig_len, &err),
				 UPK_ERR_SIGNATURE);
		run++;
		json_decref(pobj);
		json_decref(obj);
		upk_key_free(pubkey);
		upk_key_free(key);
		free(ours);
		free(seed);
		free(msg);
		free(sig);
		free(pub);
	}
	assert_int_equal(run, 5);
	json_decref(doc);
}

static void test_wycheproof_ed25519(void **state)
{
	json_t *doc = load_json("vectors/wycheproof/ed25519_test.json");
	json_t *groups = json_object_get(doc, "testGroups");
	size_t gi, ti, run = 0, valid = 0;
	json_t *g, *t;

	(void)state;
	json_array_foreach(groups, gi, g) {
		const char *pk = json_string_value(
			json_object_get(json_object_get(g, "publicKey"), "pk"));
		json_t *obj = ed25519_obj(pk);
		struct upk_key *key = key_from_obj(obj);

		json_array_foreach(json_object_get(g, "tests"), ti, t) {
			size_t msg_len, sig_len;
			uint8_t *msg = unhex(json_string_value(json_object_get(t, "msg")), &msg_len);
			uint8_t *sig = unhex(json_string_value(json_object_get(t, "sig")), &sig_len);
			const char *result = json_string_value(json_object_get(t, "result"));
			upk_status want = strcmp(result, "valid") == 0 ? UPK_OK : UPK_ERR_SIGNATURE;
			struct upk_error err = {0};
			upk_status got = upk_key_verify(key, msg, msg_len, sig, sig_len, &err);

			assert_true(strcmp(result, "valid") == 0 || strcmp(result, "invalid") == 0);
			if (got != want)
				fail_msg("wycheproof tcId %lld (%s): got %d, want %d: %s",
					 (long long)json_integer_value(json_object_get(t, "tcId")),
					 json_string_value(json_object_get(t, "comment")), got, want,
					 err.msg);
			valid += want == UPK_OK;
			run++;
			free(msg);
			free(sig);
		}
		upk_key_free(key);
		json_decref(obj);
	}
	/* A silently empty loop must not pass. */
	assert_int_equal(run, json_integer_value(json_object_get(doc, "numberOfTests")));
	assert_int_equal(run, 151);
	assert_true(valid > 0 && valid < run);
	json_decref(doc);
}

static void test_python_signatures(void **state)
{
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	json_t *cases = json_object_get(doc, "cases");
	size_t i, run = 0, valid = 0;
	json_t *c;

	(void)state;
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		struct upk_key *key = key_from_obj(json_object_get(c, "key"));
		size_t msg_len, sig_len;
		uint8_t *msg = unhex(json_string_value(json_object_get(c, "message")), &msg_len);
		uint8_t *sig = unhex(json_string_value(json_object_get(c, "signature")), &sig_len);
		upk_status want = json_is_true(json_object_get(c, "valid")) ? UPK_OK
									  : UPK_ERR_SIGNATURE;
		struct upk_error err = {0};
		upk_status got = upk_key_verify(key, msg, msg_len, sig, sig_len, &err);

		if (got != want)
			fail_msg("%s: got %d, want %d: %s", name, got, want, err.msg);
		valid += want == UPK_OK;
		run++;
		upk_key_free(key);
		free(msg);
		free(sig);
	}
	assert_int_equal(run, json_array_size(cases));
	assert_true(run >= 26);
	assert_true(valid >= 9);
	json_decref(doc);
}

static void test_python_bad_keys(void **state)
{
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	json_t *bad = json_object_get(doc, "bad_keys");
	size_t i, run = 0;
	json_t *b;

	(void)state;
	json_array_foreach(bad, i, b) {
		const char *expect = json_string_value(json_object_get(b, "expect"));
		upk_status want = strcmp(expect, "invalid") == 0 ? UPK_ERR_INVALID
								 : UPK_ERR_UNSUPPORTED;
		struct upk_key *key = NULL;
		struct upk_error err = {0};
		upk_status got = upk_key_from_tuf(json_object_get(b, "key"), &key, &err);

		if (got != want)
			fail_msg("%s: got %d, want %d: %s", json_string_value(json_object_get(b, "name")),
				 got, want, err.msg);
		assert_null(key);
		assert_true(err.msg[0] != '\0');
		run++;
	}
	assert_int_equal(run, 6);
	json_decref(doc);
}

/* Key ids as securesystemslib computes them (sha256 of encode_canonical). */
static void test_python_key_ids(void **state)
{
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	json_t *ids = json_object_get(doc, "key_ids");
	size_t i, run = 0;
	json_t *k;

	(void)state;
	json_array_foreach(ids, i, k) {
		struct upk_key *key = key_from_obj(json_object_get(k, "key"));
		char id[UPK_KEYID_HEX_LEN + 1];
		json_t *back = NULL;

		assert_int_equal(upk_key_id(key, id, NULL), UPK_OK);
		assert_string_equal(id, json_string_value(json_object_get(k, "keyid")));
		/* The key object comes back as it went in (PEM text included). */
		assert_int_equal(upk_key_to_tuf(key, &back, NULL), UPK_OK);
		assert_true(json_equal(back, json_object_get(k, "key")));
		json_decref(back);
		/* Re-read from our own PEM: the same public key, however it was formatted. */
		{
			char *pem = NULL;
			size_t pem_len = 0;
			struct upk_key *again = NULL;

			assert_int_equal(upk_key_public_pem(key, &pem, &pem_len, NULL), UPK_OK);
			assert_int_equal(upk_key_from_pem(pem, pem_len, NULL, &again, NULL), UPK_OK);
			assert_true(upk_key_equal_public(key, again));
			upk_key_free(again);
			free(pem);
		}
		upk_key_free(key);
		run++;
	}
	assert_int_equal(run, 5);
	json_decref(doc);
}

/* The Ed25519 key id of a key made here equals securesystemslib's for the same key. */
static void test_ed25519_key_id_from_seed(void **state)
{
	static const char seed_hex[] =
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	const char *want = NULL;
	uint8_t seed[32];
	struct upk_key *key = NULL;
	char id[UPK_KEYID_HEX_LEN + 1];
	size_t i;
	json_t *k;

	(void)state;
	json_array_foreach(json_object_get(doc, "key_ids"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "name")), "ed25519 rfc8032 test 1") ==
		    0)
			want = json_string_value(json_object_get(k, "keyid"));
	assert_non_null(want);
	assert_int_equal(upk_hex_decode(seed_hex, seed, 32, NULL), UPK_OK);
	assert_int_equal(upk_key_from_ed25519_seed(seed, &key, NULL), UPK_OK);
	assert_int_equal(upk_key_id(key, id, NULL), UPK_OK);
	assert_string_equal(id, want);
	upk_key_free(key);
	json_decref(doc);
}

static void test_to_tuf_shape(void **state)
{
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	json_t *legacy = NULL, *c, *out = NULL;
	struct upk_key *key = NULL, *gen = NULL;
	size_t i;

	(void)state;
	json_array_foreach(json_object_get(doc, "cases"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), "ecdsa legacy keytype") == 0)
			legacy = json_object_get(c, "key");
	assert_non_null(legacy);
	key = key_from_obj(legacy);
	assert_int_equal(upk_key_type(key), UPK_KEY_ECDSA_P256);
	assert_string_equal(upk_key_scheme(key), "ecdsa-sha2-nistp256");
	assert_int_equal(upk_key_to_tuf(key, &out, NULL), UPK_OK);
	/* Exactly three members, keyval only "public", legacy keytype written as "ecdsa". */
	assert_int_equal(json_object_size(out), 3);
	assert_string_equal(json_string_value(json_object_get(out, "keytype")), "ecdsa");
	assert_string_equal(json_string_value(json_object_get(out, "scheme")), "ecdsa-sha2-nistp256");
	assert_int_equal(json_object_size(json_object_get(out, "keyval")), 1);
	json_decref(out);
	upk_key_free(key);

	assert_int_equal(upk_key_generate_ed25519(&gen, NULL), UPK_OK);
	assert_int_equal(upk_key_to_tuf(gen, &out, NULL), UPK_OK);
	assert_int_equal(json_object_size(out), 3);
	assert_string_equal(json_string_value(json_object_get(out, "keytype")), "ed25519");
	assert_string_equal(json_string_value(json_object_get(out, "scheme")), "ed25519");
	assert_int_equal(json_object_size(json_object_get(out, "keyval")), 1);
	assert_int_equal(json_string_length(json_object_get(json_object_get(out, "keyval"),
							     "public")),
			 64);
	assert_null(json_object_get(out, "keyid_hash_algorithms"));
	json_decref(out);
	upk_key_free(gen);
	json_decref(doc);
}

static upk_status from_tuf_str(const char *text, struct upk_error *err)
{
	json_t *obj = json_loads(text, JSON_ALLOW_NUL, NULL);
	struct upk_key *key = NULL;
	upk_status ret;

	assert_non_null(obj);
	ret = upk_key_from_tuf(obj, &key, err);
	assert_true(ret == UPK_OK ? key != NULL : key == NULL);
	upk_key_free(key);
	json_decref(obj);
	return ret;
}

#define PUB1 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static void test_from_tuf_rejects(void **state)
{
	struct upk_error err = {0};
	char *big;
	json_t *obj;
	struct upk_key *key = NULL;

	(void)state;
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"" PUB1 "\"}}",
				      &err),
			 UPK_OK);
	/* Extra members (as older TUF writers add) are ignored. */
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyid_hash_algorithms\":[\"sha256\",\"sha512\"],"
				      "\"keyval\":{\"public\":\"" PUB1 "\",\"x\":1}}",
				      &err),
			 UPK_OK);
	assert_int_equal(from_tuf_str("[]", &err), UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"scheme\":\"ed25519\",\"keyval\":{\"public\":\"" PUB1
				      "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"" PUB1
				      "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":1,\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"" PUB1 "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":\"" PUB1 "\"}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"private\":\"" PUB1 "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":42}}",
				      &err),
			 UPK_ERR_INVALID);
	/* Unknown types and schemes: unsupported, so a root can carry keys for other clients. */
	assert_int_equal(from_tuf_str("{\"keytype\":\"dsa\",\"scheme\":\"dsa\","
				      "\"keyval\":{\"public\":\"x\"}}",
				      &err),
			 UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "\"dsa\""));
	assert_int_equal(from_tuf_str("{\"keytype\":\"rsa\",\"scheme\":\"rsassa-pss-sha384\","
				      "\"keyval\":{\"public\":\"x\"}}",
				      &err),
			 UPK_ERR_UNSUPPORTED);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp384\","
				      "\"keyval\":{\"public\":\"x\"}}",
				      &err),
			 UPK_ERR_UNSUPPORTED);
	/* One of our schemes under another of our keytypes can never verify. */
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"rsassa-pss-sha256\","
				      "\"keyval\":{\"public\":\"" PUB1 "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "rsassa-pss-sha256"));
	assert_int_equal(from_tuf_str("{\"keytype\":\"rsa\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"" PUB1 "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	/* Ed25519 public key encodings. */
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"d75a980182b10ab7\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "d75a980182b10ab7"));
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"" PUB1 "00\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"z75a980182b10ab7d54bfed3c964073a0ee"
				      "172f3daa62325af021a68f707511a\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\","
				      "\"keyval\":{\"public\":\"d75a980182b10ab7d54bfed3c964073a0ee"
				      "172f3daa62325af021a68f707511\\u0000\"}}",
				      &err),
			 UPK_ERR_INVALID);
	/* PEM keys that are not PEM, or huge. */
	assert_int_equal(from_tuf_str("{\"keytype\":\"ecdsa\",\"scheme\":\"ecdsa-sha2-nistp256\","
				      "\"keyval\":{\"public\":\"" PUB1 "\"}}",
				      &err),
			 UPK_ERR_INVALID);
	assert_int_equal(from_tuf_str("{\"keytype\":\"rsa\",\"scheme\":\"rsassa-pss-sha256\","
				      "\"keyval\":{\"public\":\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n"
				      "-----END PUBLIC KEY-----\\n\"}}",
				      &err),
			 UPK_ERR_INVALID);
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'A', 69999);
	big[69999] = '\0';
	obj = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "rsa", "scheme", "rsassa-pss-sha256",
			"keyval", "public", big);
	assert_int_equal(upk_key_from_tuf(obj, &key, &err), UPK_ERR_TOO_LARGE);
	assert_null(key);
	json_decref(obj);
	free(big);
	assert_int_equal(upk_key_from_tuf(NULL, &key, &err), UPK_ERR_INVALID);
}

static void test_ed25519_hex_case(void **state)
{
	json_t *upper = ed25519_obj("D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A");
	json_t *lower = ed25519_obj(PUB1);
	struct upk_key *a = key_from_obj(upper), *b = key_from_obj(lower);
	char ida[UPK_KEYID_HEX_LEN + 1], idb[UPK_KEYID_HEX_LEN + 1];
	json_t *out = NULL;

	(void)state;
	assert_true(upk_key_equal_public(a, b));
	assert_int_equal(upk_key_to_tuf(a, &out, NULL), UPK_OK);
	assert_true(json_equal(out, lower));
	assert_int_equal(upk_key_id(a, ida, NULL), UPK_OK);
	assert_int_equal(upk_key_id(b, idb, NULL), UPK_OK);
	assert_string_equal(ida, idb);
	json_decref(out);
	upk_key_free(a);
	upk_key_free(b);
	json_decref(upper);
	json_decref(lower);
}

static void test_sign_verify_generated(void **state)
{
	struct upk_key *a = NULL, *b = NULL, *pub = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	struct upk_error err = {0};
	const char msg[] = "signed by upkeep";
	json_t *obj = NULL;
	char ida[UPK_KEYID_HEX_LEN + 1], idb[UPK_KEYID_HEX_LEN + 1];

	(void)state;
	assert_int_equal(upk_key_generate_ed25519(&a, NULL), UPK_OK);
	assert_int_equal(upk_key_generate_ed25519(&b, NULL), UPK_OK);
	assert_int_equal(upk_key_type(a), UPK_KEY_ED25519);
	assert_string_equal(upk_key_scheme(a), "ed25519");
	assert_true(upk_key_has_private(a));
	assert_false(upk_key_equal_public(a, b));
	assert_false(upk_key_equal_public(a, NULL));
	assert_int_equal(upk_key_id(a, ida, NULL), UPK_OK);
	assert_int_equal(upk_key_id(b, idb, NULL), UPK_OK);
	assert_string_not_equal(ida, idb);

	assert_int_equal(upk_key_sign(a, msg, strlen(msg), &sig, &sig_len, &err), UPK_OK);
	assert_int_equal(sig_len, 64);
	assert_int_equal(upk_key_verify(a, msg, strlen(msg), sig, sig_len, &err), UPK_OK);
	assert_int_equal(upk_key_verify(b, msg, strlen(msg), sig, sig_len, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(upk_key_verify(a, msg, strlen(msg) - 1, sig, sig_len, &err),
			 UPK_ERR_SIGNATURE);
	assert_int_equal(upk_key_verify(a, msg, strlen(msg), sig, 63, &err), UPK_ERR_SIGNATURE);
	assert_non_null(strstr(err.msg, "63 bytes"));
	assert_int_equal(upk_key_verify(a, msg, strlen(msg), sig, 0, &err), UPK_ERR_SIGNATURE);
	assert_int_equal(upk_key_verify(a, msg, strlen(msg), NULL, 64, &err), UPK_ERR_SIGNATURE);
	free(sig);
	sig = NULL;

	/* The empty message, also as NULL. */
	assert_int_equal(upk_key_sign(a, NULL, 0, &sig, &sig_len, &err), UPK_OK);
	assert_int_equal(upk_key_verify(a, "", 0, sig, sig_len, &err), UPK_OK);
	free(sig);
	sig = NULL;

	/* A public key cannot sign. */
	assert_int_equal(upk_key_to_tuf(a, &obj, NULL), UPK_OK);
	pub = key_from_obj(obj);
	assert_true(upk_key_equal_public(a, pub));
	assert_int_equal(upk_key_sign(pub, msg, 1, &sig, &sig_len, &err), UPK_ERR_INVALID);
	assert_null(sig);
	json_decref(obj);
	upk_key_free(pub);
	upk_key_free(a);
	upk_key_free(b);
	upk_key_free(NULL);
}

/* ECDSA and RSA keys verify only; signing with them is refused. */
static void test_sign_non_ed25519(void **state)
{
	json_t *doc = load_json("vectors/crypto_tuf_keys.json");
	size_t i;
	json_t *c;
	int seen = 0;

	(void)state;
	json_array_foreach(json_object_get(doc, "key_ids"), i, c) {
		struct upk_key *key = key_from_obj(json_object_get(c, "key"));
		uint8_t *sig = NULL;
		size_t len = 0;
		struct upk_error err = {0};

		if (upk_key_type(key) != UPK_KEY_ED25519) {
			assert_int_equal(upk_key_sign(key, "m", 1, &sig, &len, &err),
					 UPK_ERR_UNSUPPORTED);
			assert_null(sig);
			seen++;
		}
		upk_key_free(key);
	}
	assert_int_equal(seen, 4);
	json_decref(doc);
}

static void test_pem_roundtrip(void **state)
{
	struct upk_key *key = NULL, *back = NULL, *pub = NULL;
	char *pem = NULL, *enc = NULL, *ppem = NULL;
	size_t pem_len = 0, enc_len = 0, ppem_len = 0;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(upk_key_generate_ed25519(&key, NULL), UPK_OK);
	assert_int_equal(upk_key_private_pem(key, NULL, &pem, &pem_len, &err), UPK_OK);
	assert_int_equal(strlen(pem), pem_len);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(upk_key_from_pem(pem, pem_len, NULL, &back, &err), UPK_OK);
	assert_true(upk_key_has_private(back));
	assert_true(upk_key_equal_public(key, back));
	upk_key_free(back);
	back = NULL;
	/* An empty passphrase means unencrypted, as documented. */
	assert_int_equal(upk_key_private_pem(key, "", &enc, &enc_len, &err), UPK_OK);
	assert_non_null(strstr(enc, "-----BEGIN PRIVATE KEY-----"));
	free(enc);

	assert_int_equal(upk_key_private_pem(key, "correct horse", &enc, &enc_len, &err), UPK_OK);
	assert_non_null(strstr(enc, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	assert_int_equal(upk_key_from_pem(enc, enc_len, "correct horse", &back, &err), UPK_OK);
	assert_true(upk_key_equal_public(key, back));
	assert_true(upk_key_has_private(back));
	upk_key_free(back);
	back = NULL;
	assert_int_equal(upk_key_from_pem(enc, enc_len, "wrong horse", &back, &err),
			 UPK_ERR_PASSPHRASE);
	assert_int_equal(upk_key_from_pem(enc, enc_len, NULL, &back, &err), UPK_ERR_PASSPHRASE);
	assert_int_equal(upk_key_from_pem(enc, enc_len, "", &back, &err), UPK_ERR_PASSPHRASE);
	assert_null(back);

	assert_int_equal(upk_key_public_pem(key, &ppem, &ppem_len, &err), UPK_OK);
	assert_non_null(strstr(ppem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(upk_key_from_pem(ppem, ppem_len, NULL, &pub, &err), UPK_OK);
	assert_false(upk_key_has_private(pub));
	assert_true(upk_key_equal_public(key, pub));
	assert_int_equal(upk_key_private_pem(pub, NULL, &pem, &pem_len, &err), UPK_ERR_INVALID);

	upk_key_free(pub);
	upk_key_free(key);
	free(pem);
	free(enc);
	free(ppem);
}

static void test_pem_rejects(void **state)
{
	static const char not_pem[] = "this is not a key";
	static const char bad_b64[] = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n";
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
	static const char bad_der[] = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
	struct upk_key *key = NULL;
	struct upk_error err = {0};
	char *big;

	(void)state;
	assert_int_equal(upk_key_from_pem(not_pem, strlen(not_pem), NULL, &key, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_key_from_pem(bad_b64, strlen(bad_b64), NULL, &key, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_key_from_pem(cert, strlen(cert), NULL, &key, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "CERTIFICATE"));
	assert_int_equal(upk_key_from_pem(bad_der, strlen(bad_der), NULL, &key, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_key_from_pem("", 0, NULL, &key, &err), UPK_ERR_INVALID);
	big = calloc(1, 65 * 1024 + 1);
	assert_non_null(big);
	memset(big, 'A', 65 * 1024);
	assert_int_equal(upk_key_from_pem(big, 65 * 1024, NULL, &key, &err), UPK_ERR_TOO_LARGE);
	free(big);
	assert_null(key);
}

/* Keys made by the openssl command line load, and ours are read by it. */
static void test_openssl_cli_interop(void **state)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	char *text;
	size_t len = 0, sig_len = 0;
	struct upk_key *key = NULL, *other = NULL;
	struct upk_error err = {0};
	uint8_t *sig = NULL;
	static const char msg[] = "message signed by openssl";

	(void)state;
	/* Ed25519, plain and encrypted PKCS#8. */
	assert_int_equal(tu_system("openssl genpkey -algorithm ed25519 -out %s/ed.pem 2>/dev/null",
				   dir),
			 0);
	snprintf(path, sizeof(path), "%s/ed.pem", dir);
	text = tu_read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(upk_key_from_pem(text, len, NULL, &key, &err), UPK_OK);
	assert_int_equal(upk_key_type(key), UPK_KEY_ED25519);
	assert_true(upk_key_has_private(key));
	free(text);
	/* openssl verifies our Ed25519 signature (pure Ed25519, -rawin). */
	tu_write_file((snprintf(path, sizeof(path), "%s/msg", dir), path), msg, strlen(msg));
	assert_int_equal(upk_key_sign(key, msg, strlen(msg), &sig, &sig_len, &err), UPK_OK);
	snprintf(path, sizeof(path), "%s/ed.sig", dir);
	tu_write_file(path, sig, sig_len);
	free(sig);
	sig = NULL;
	assert_int_equal(tu_system("cd %s && openssl pkeyutl -verify -inkey ed.pem -rawin -in msg "
				   "-sigfile ed.sig >/dev/null 2>&1",
				   dir),
			 0);
	upk_key_free(key);
	key = NULL;

	assert_int_equal(tu_system("openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:s3cret "
				   "-out %s/ed-enc.pem 2>/dev/null",
				   dir),
			 0);
	snprintf(path, sizeof(path), "%s/ed-enc.pem", dir);
	text = tu_read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(upk_key_from_pem(text, len, "s3cret", &key, &err), UPK_OK);
	assert_int_equal(upk_key_from_pem(text, len, "nope", &other, &err), UPK_ERR_PASSPHRASE);
	assert_int_equal(upk_key_from_pem(text, len, NULL, &other, &err), UPK_ERR_PASSPHRASE);
	free(text);
	upk_key_free(key);
	key = NULL;

	/* ECDSA P-256 and RSA-PSS signatures made by openssl verify here. */
	assert_int_equal(tu_system("cd %s && openssl genpkey -algorithm EC -pkeyopt "
				   "ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null && "
				   "openssl pkey -in ec.pem -pubout -out ec.pub 2>/dev/null && "
				   "openssl dgst -sha256 -sign ec.pem -out ec.sig msg",
				   dir),
			 0);
	assert_int_equal(tu_system("cd %s && openssl genpkey -algorithm RSA -pkeyopt "
				   "rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null && "
				   "openssl pkey -in rsa.pem -pubout -out rsa.pub 2>/dev/null && "
				   "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt "
				   "rsa_pss_saltlen:-2 -sigopt rsa_mgf1_md:sha256 -sign rsa.pem "
				   "-out rsa.sig msg",
				   dir),
			 0);
	{
		static const char *names[] = {"ec", "rsa"};
		static const enum upk_key_type types[] = {UPK_KEY_ECDSA_P256, UPK_KEY_RSA_PSS};

		for (size_t i = 0; i < 2; i++) {
			char *pem, *s;
			size_t pem_len = 0, s_len = 0;

			snprintf(path, sizeof(path), "%s/%s.pub", dir, names[i]);
			pem = tu_read_file(path, &pem_len);
			snprintf(path, sizeof(path), "%s/%s.sig", dir, names[i]);
			s = tu_read_file(path, &s_len);
			assert_non_null(pem);
			assert_non_null(s);
			assert_int_equal(upk_key_from_pem(pem, pem_len, NULL, &key, &err), UPK_OK);
			assert_int_equal(upk_key_type(key), types[i]);
			assert_false(upk_key_has_private(key));
			assert_int_equal(upk_key_verify(key, msg, strlen(msg), (uint8_t *)s, s_len,
							&err),
					 UPK_OK);
			assert_int_equal(upk_key_verify(key, msg, strlen(msg) - 1, (uint8_t *)s,
							s_len, &err),
					 UPK_ERR_SIGNATURE);
			upk_key_free(key);
			key = NULL;
			/* The private halves load too (and cannot sign here). */
			free(pem);
			snprintf(path, sizeof(path), "%s/%s.pem", dir, names[i]);
			pem = tu_read_file(path, &pem_len);
			assert_int_equal(upk_key_from_pem(pem, pem_len, NULL, &key, &err), UPK_OK);
			assert_true(upk_key_has_private(key));
			upk_key_free(key);
			key = NULL;
			free(pem);
			free(s);
		}
	}

	/* Traditional (non-PKCS#8) and other unsupported key kinds. */
	assert_int_equal(tu_system("cd %s && openssl genpkey -algorithm EC -pkeyopt "
				   "ec_paramgen_curve:P-256 -outform PEM 2>/dev/null | "
				   "openssl ec -out ec-trad.pem 2>/dev/null && "
				   "openssl genpkey -algorithm ed448 -out ed448.pem 2>/dev/null && "
				   "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
				   "-out p384.pem 2>/dev/null",
				   dir),
			 0);
	snprintf(path, sizeof(path), "%s/ec-trad.pem", dir);
	text = tu_read_file(path, &len);
	assert_non_null(strstr(text, "BEGIN EC PRIVATE KEY"));
	assert_int_equal(upk_key_from_pem(text, len, NULL, &key, &err), UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "pkcs8"));
	free(text);
	snprintf(path, sizeof(path), "%s/ed448.pem", dir);
	text = tu_read_file(path, &len);
	assert_int_equal(upk_key_from_pem(text, len, NULL, &key, &err), UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "ED448"));
	free(text);
	snprintf(path, sizeof(path), "%s/p384.pem", dir);
	text = tu_read_file(path, &len);
	assert_int_equal(upk_key_from_pem(text, len, NULL, &key, &err), UPK_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "secp384r1"));
	free(text);
	assert_null(key);

	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8032),
		cmocka_unit_test(test_wycheproof_ed25519),
		cmocka_unit_test(test_python_signatures),
		cmocka_unit_test(test_python_bad_keys),
		cmocka_unit_test(test_python_key_ids),
		cmocka_unit_test(test_ed25519_key_id_from_seed),
		cmocka_unit_test(test_to_tuf_shape),
		cmocka_unit_test(test_from_tuf_rejects),
		cmocka_unit_test(test_ed25519_hex_case),
		cmocka_unit_test(test_sign_verify_generated),
		cmocka_unit_test(test_sign_non_ed25519),
		cmocka_unit_test(test_pem_roundtrip),
		cmocka_unit_test(test_pem_rejects),
		cmocka_unit_test(test_openssl_cli_interop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
