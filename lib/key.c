/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key objects: Ed25519 key pairs that upkeep signs with, and the ECDSA P-256
 * and RSA-PSS public keys of other TUF implementations that it verifies. Also
 * the TUF key object form and key ids (TUF 1.0 spec, "Key objects").
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "upkeep/json.h"
#include "key_internal.h"

#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64
/* DER SEQUENCE of two INTEGERs up to 33 bytes each (RFC 5480 section 2.2 / SEC 1). */
#define ECDSA_P256_SIG_MAX 72

static const char SCHEME_ED25519[] = "ed25519";
static const char SCHEME_ECDSA[] = "ecdsa-sha2-nistp256";
static const char SCHEME_RSA_PSS[] = "rsassa-pss-sha256";

static const char *type_name(enum upk_key_type type)
{
	switch (type) {
	case UPK_KEY_ED25519:
		return "ed25519";
	case UPK_KEY_ECDSA_P256:
		return "ecdsa";
	case UPK_KEY_RSA_PSS:
		return "rsa";
	}
	return "unknown";
}

static const char *type_scheme(enum upk_key_type type)
{
	switch (type) {
	case UPK_KEY_ED25519:
		return SCHEME_ED25519;
	case UPK_KEY_ECDSA_P256:
		return SCHEME_ECDSA;
	case UPK_KEY_RSA_PSS:
		return SCHEME_RSA_PSS;
	}
	return NULL;
}

upk_status key_wrap(EVP_PKEY *pkey, int has_private, const char *where, struct upk_key **out,
		    struct upk_error *err)
{
	enum upk_key_type type;
	struct upk_key *key;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		type = UPK_KEY_ED25519;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64] = "";
		size_t glen = 0;

		/* TUF's ecdsa-sha2-nistp256 names the curve; any other is a different scheme. */
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			ERR_clear_error();
			return upk_error_set(err, UPK_ERR_UNSUPPORTED,
					     "%s: ECDSA key on curve \"%s\", only P-256 is supported",
					     where, group[0] ? group : "(unnamed)");
		}
		type = UPK_KEY_ECDSA_P256;
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);

		if (bits < KEY_RSA_MIN_BITS || bits > KEY_RSA_MAX_BITS)
			return upk_error_set(err, UPK_ERR_UNSUPPORTED,
					     "%s: RSA key of %d bits, accepted are %d to %d", where,
					     bits, KEY_RSA_MIN_BITS, KEY_RSA_MAX_BITS);
		type = UPK_KEY_RSA_PSS;
	} else {
		const char *name = EVP_PKEY_get0_type_name(pkey);

		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "%s: key algorithm \"%s\" is not supported "
				     "(ed25519, ecdsa P-256, rsa)",
				     where, name ? name : "(unknown)");
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a key");
	key->type = type;
	key->pkey = pkey;
	key->has_private = has_private;
	*out = key;
	return UPK_OK;
}

upk_status upk_key_generate_ed25519(struct upk_key **out, struct upk_error *err)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	upk_status ret;

	ERR_clear_error();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
	if (ctx == NULL) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "Ed25519 key generation");
		goto out;
	}
	if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_generate(ctx, &pkey) != 1) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "Ed25519 key generation");
		goto out;
	}
	ret = key_wrap(pkey, 1, "generated key", out, err);
	if (ret == UPK_OK)
		pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

upk_status upk_key_from_ed25519_seed(const uint8_t seed[32], struct upk_key **out,
				     struct upk_error *err)
{
	EVP_PKEY *pkey;
	upk_status ret;

	ERR_clear_error();
	pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, ED25519_KEY_LEN);
	if (pkey == NULL)
		return crypto_error(err, UPK_ERR_CRYPTO, "Ed25519 key from seed");
	ret = key_wrap(pkey, 1, "Ed25519 seed", out, err);
	if (ret != UPK_OK)
		EVP_PKEY_free(pkey);
	return ret;
}

/*
 * Map keytype and scheme. A keytype or scheme we do not know is
 * UPK_ERR_UNSUPPORTED (other clients may know it: callers skip such keys);
 * one of our schemes under the wrong one of our keytypes is UPK_ERR_INVALID,
 * because no implementation could verify with that pair.
 */
static upk_status parse_type(const char *keytype, const char *scheme, enum upk_key_type *out,
			     struct upk_error *err)
{
	enum upk_key_type type;

	if (strcmp(keytype, "ed25519") == 0)
		type = UPK_KEY_ED25519;
	else if (strcmp(keytype, "ecdsa") == 0 || strcmp(keytype, "ecdsa-sha2-nistp256") == 0)
		type = UPK_KEY_ECDSA_P256;
	else if (strcmp(keytype, "rsa") == 0)
		type = UPK_KEY_RSA_PSS;
	else
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "keytype \"%.64s\" is not supported",
				     keytype);
	if (strcmp(scheme, type_scheme(type)) == 0) {
		*out = type;
		return UPK_OK;
	}
	if (strcmp(scheme, SCHEME_ED25519) == 0 || strcmp(scheme, SCHEME_ECDSA) == 0 ||
	    strcmp(scheme, SCHEME_RSA_PSS) == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "keytype \"%s\" cannot have scheme \"%s\" (expected \"%s\")",
				     keytype, scheme, type_scheme(type));
	return upk_error_set(err, UPK_ERR_UNSUPPORTED,
			     "scheme \"%.64s\" for keytype \"%s\" is not supported (expected \"%s\")",
			     scheme, keytype, type_scheme(type));
}

upk_status upk_key_from_tuf(const json_t *keyobj, struct upk_key **out, struct upk_error *err)
{
	const json_t *jtype, *jscheme, *jkeyval, *jpublic;
	const char *public;
	size_t public_len;
	enum upk_key_type type = UPK_KEY_ED25519;
	EVP_PKEY *pkey = NULL;
	struct upk_key *key = NULL;
	char *pem_copy = NULL;
	int is_private = 0;
	upk_status ret;

	if (!json_is_object(keyobj))
		return upk_error_set(err, UPK_ERR_INVALID, "key object must be a JSON object");
	jtype = json_object_get(keyobj, "keytype");
	jscheme = json_object_get(keyobj, "scheme");
	jkeyval = json_object_get(keyobj, "keyval");
	if (!json_is_string(jtype) || !json_is_string(jscheme))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "key object needs string \"keytype\" and \"scheme\"");
	if (!json_is_object(jkeyval))
		return upk_error_set(err, UPK_ERR_INVALID, "key object needs a \"keyval\" object");
	jpublic = json_object_get(jkeyval, "public");
	if (!json_is_string(jpublic))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "key object needs a string \"keyval\".\"public\"");
	ret = parse_type(json_string_value(jtype), json_string_value(jscheme), &type, err);
	if (ret != UPK_OK)
		return ret;
	public = json_string_value(jpublic);
	public_len = json_string_length(jpublic);

	if (type == UPK_KEY_ED25519) {
		uint8_t raw[ED25519_KEY_LEN];

		/* Either case is accepted; upk_key_to_tuf() writes lower case. */
		if (strlen(public) != public_len ||
		    upk_hex_decode(public, raw, sizeof(raw), NULL) != UPK_OK)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "ed25519 public key must be 64 hex digits, got \"%.80s\"",
					     public);
		ERR_clear_error();
		pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, raw, sizeof(raw));
		if (pkey == NULL) {
			ret = crypto_error(err, UPK_ERR_CRYPTO, "ed25519 public key");
			goto out;
		}
	} else {
		ret = key_pem_decode(public, public_len, NULL, 1, &pkey, &is_private, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "%s public key: ", json_string_value(jtype));
			goto out;
		}
		pem_copy = strdup(public);
		if (pem_copy == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a key");
			goto out;
		}
	}
	ret = key_wrap(pkey, 0, "key object", &key, err);
	if (ret != UPK_OK)
		goto out;
	pkey = NULL;
	/* The PEM must hold the kind of key its keytype declares. */
	if (key->type != type) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "keytype \"%s\" but keyval.public holds an %s key",
				    json_string_value(jtype), type_name(key->type));
		goto out;
	}
	key->tuf_pem = pem_copy;
	pem_copy = NULL;
	*out = key;
	key = NULL;
	ret = UPK_OK;
out:
	free(pem_copy);
	upk_key_free(key);
	EVP_PKEY_free(pkey);
	return ret;
}

upk_status upk_key_to_tuf(const struct upk_key *key, json_t **out, struct upk_error *err)
{
	char *pem = NULL;
	const char *public;
	char hex[2 * ED25519_KEY_LEN + 1];
	json_t *obj;
	upk_status ret;

	if (key->type == UPK_KEY_ED25519) {
		uint8_t raw[ED25519_KEY_LEN];
		size_t len = sizeof(raw);

		ERR_clear_error();
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &len) != 1 || len != sizeof(raw))
			return crypto_error(err, UPK_ERR_CRYPTO, "ed25519 public key");
		upk_hex_encode(raw, sizeof(raw), hex);
		public = hex;
	} else if (key->tuf_pem != NULL) {
		public = key->tuf_pem;
	} else {
		ret = upk_key_public_pem(key, &pem, NULL, err);
		if (ret != UPK_OK)
			return ret;
		public = pem;
	}
	obj = json_pack("{s:s, s:s, s:{s:s}}", "keytype", type_name(key->type), "scheme",
			type_scheme(key->type), "keyval", "public", public);
	free(pem);
	if (obj == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a key object");
	*out = obj;
	return UPK_OK;
}

upk_status upk_key_id(const struct upk_key *key, char out[UPK_KEYID_HEX_LEN + 1],
		      struct upk_error *err)
{
	json_t *obj = NULL;
	char *canon = NULL;
	size_t canon_len = 0;
	uint8_t digest[UPK_HASH_MAX_LEN];
	upk_status ret;

	ret = upk_key_to_tuf(key, &obj, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_cjson_encode(obj, &canon, &canon_len, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_hash_buf(UPK_HASH_SHA256, canon, canon_len, digest, err);
	if (ret != UPK_OK)
		goto out;
	upk_hex_encode(digest, 32, out);
out:
	free(canon);
	json_decref(obj);
	return ret;
}

enum upk_key_type upk_key_type(const struct upk_key *key)
{
	return key->type;
}

const char *upk_key_scheme(const struct upk_key *key)
{
	return type_scheme(key->type);
}

int upk_key_has_private(const struct upk_key *key)
{
	return key != NULL && key->has_private;
}

int upk_key_equal_public(const struct upk_key *a, const struct upk_key *b)
{
	if (a == NULL || b == NULL || a->type != b->type)
		return 0;
	ERR_clear_error();
	/* Compares the public parts only, whatever PEM text the keys came from. */
	if (EVP_PKEY_eq(a->pkey, b->pkey) == 1)
		return 1;
	ERR_clear_error();
	return 0;
}

upk_status upk_key_sign(const struct upk_key *key, const void *msg, size_t msg_len, uint8_t **sig,
			size_t *sig_len, struct upk_error *err)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	upk_status ret;

	if (key->type != UPK_KEY_ED25519) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "signing with %s keys is not supported, only ed25519",
				    type_name(key->type));
		goto out;
	}
	if (!key->has_private) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "cannot sign with a public key");
		goto out;
	}
	if (msg == NULL)
		msg = "";
	ERR_clear_error();
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "EVP_MD_CTX_new");
		goto out;
	}
	/* Pure Ed25519 (RFC 8032 section 5.1.6): no digest is named, the message is signed whole. */
	if (EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, key->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, msg, msg_len) != 1 || len != ED25519_SIG_LEN) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "ed25519 sign");
		goto out;
	}
	buf = malloc(len);
	if (buf == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a signature");
		goto out;
	}
	if (EVP_DigestSign(ctx, buf, &len, msg, msg_len) != 1 || len != ED25519_SIG_LEN) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "ed25519 sign");
		goto out;
	}
	*sig = buf;
	*sig_len = len;
	buf = NULL;
	ret = UPK_OK;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return ret;
}

upk_status upk_key_verify(const struct upk_key *key, const void *msg, size_t msg_len,
			  const uint8_t *sig, size_t sig_len, struct upk_error *err)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const char *scheme = type_scheme(key->type);
	const char *mdname = NULL;
	size_t want_len = 0, max_len = 0;
	upk_status ret;
	int r;

	/* The length is checked before OpenSSL sees the signature: cheap, and a clear message. */
	switch (key->type) {
	case UPK_KEY_ED25519:
		want_len = ED25519_SIG_LEN;
		break;
	case UPK_KEY_ECDSA_P256:
		max_len = ECDSA_P256_SIG_MAX;
		mdname = "SHA256";
		break;
	case UPK_KEY_RSA_PSS:
		want_len = (size_t)EVP_PKEY_get_size(key->pkey);
		mdname = "SHA256";
		break;
	}
	if (sig == NULL || sig_len == 0 || (want_len != 0 && sig_len != want_len) ||
	    (max_len != 0 && sig_len > max_len)) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "%s signature of %zu bytes, expected %s%zu", scheme, sig_len,
				    max_len ? "at most " : "", max_len ? max_len : want_len);
		goto out;
	}
	if (msg == NULL)
		msg = "";
	ERR_clear_error();
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "EVP_MD_CTX_new");
		goto out;
	}
	if (EVP_DigestVerifyInit_ex(ctx, &pctx, mdname, NULL, NULL, key->pkey, NULL) != 1) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, scheme);
		goto out;
	}
	if (key->type == UPK_KEY_RSA_PSS) {
		/*
		 * TUF's rsassa-pss-sha256 fixes MGF1 to SHA-256 but not the
		 * salt length (securesystemslib signs with the digest length,
		 * others with the maximum), so the salt length is recovered.
		 */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
			ret = crypto_error(err, UPK_ERR_CRYPTO, scheme);
			goto out;
		}
	}
	/*
	 * After a successful init, anything but 1 is a bad signature: OpenSSL
	 * returns 0 for a mismatch and -1 for, among others, malformed DER,
	 * so failing closed here is both safe and what callers must see.
	 */
	r = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len);
	if (r != 1) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE, "%s signature does not verify", scheme);
		ERR_clear_error();
		goto out;
	}
	ret = UPK_OK;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

void upk_key_free(struct upk_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key->tuf_pem);
	free(key);
}
