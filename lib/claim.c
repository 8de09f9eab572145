/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Claim codes (Crockford base32, 100 bits) and the claim MAC (HMAC-SHA256
 * through OpenSSL's EVP_MAC). The MAC binds the device, the fleet and the
 * exact bytes of both roots to the code, so whoever relays a claim without
 * the code can neither forge one nor redirect a real one.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "key_internal.h"
#include "upkeep/claim.h"
#include "upkeep/crypto.h"

static const char ALPHABET[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#define CLAIM_DOMAIN "upkeep-claim-v1"
#define CLAIM_MAX_FLEET 63

upk_status upk_claim_code_generate(char out[UPK_CLAIM_CODE_DISPLAY_LEN + 1],
                                   struct upk_error *err)
{
	unsigned char rnd[13]; /* 104 bits, of which the first 100 are used */
	char code[UPK_CLAIM_CODE_LEN + 1];
	upk_status ret = upk_random_bytes(rnd, sizeof(rnd), err);

	if (ret != UPK_OK)
		return ret;
	for (size_t i = 0; i < UPK_CLAIM_CODE_LEN; i++) {
		size_t bit = i * 5;
		unsigned v = ((unsigned)rnd[bit / 8] << 8 | rnd[bit / 8 + 1]) >> (11 - bit % 8);

		code[i] = ALPHABET[v & 31u];
	}
	code[UPK_CLAIM_CODE_LEN] = '\0';
	upk_claim_code_format(code, out);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(code, sizeof(code));
	return UPK_OK;
}

void upk_claim_code_format(const char code[UPK_CLAIM_CODE_LEN + 1],
                           char out[UPK_CLAIM_CODE_DISPLAY_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i < UPK_CLAIM_CODE_LEN; i++) {
		if (i > 0 && i % 5 == 0)
			out[o++] = '-';
		out[o++] = code[i];
	}
	out[o] = '\0';
}

/* Crockford's decoding rules: case-insensitive, I and L read as 1, O as 0; U is not a digit. */
static char canonical_char(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'I' || c == 'L')
		return '1';
	if (c == 'O')
		return '0';
	return strchr(ALPHABET, c) != NULL && c != '\0' ? c : '\0';
}

upk_status upk_claim_code_normalise(const char *typed, char out[UPK_CLAIM_CODE_LEN + 1],
                                    struct upk_error *err)
{
	char code[UPK_CLAIM_CODE_LEN + 1];
	size_t n = 0;

	if (typed == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "no claim code");
	for (const char *p = typed; *p != '\0'; p++) {
		char c;

		if (*p == '-' || *p == ' ' || *p == '\t')
			continue;
		c = canonical_char(*p);
		if (c == '\0' || n == UPK_CLAIM_CODE_LEN) {
			OPENSSL_cleanse(code, sizeof(code));
			/* The code is a secret: say what is wrong, never echo it. */
			return upk_error_set(err, UPK_ERR_INVALID,
			                     c == '\0' ? "claim code: a character is not Crockford "
			                                 "base32 (0-9, A-Z without U)"
			                               : "claim code: more than %d characters",
			                     UPK_CLAIM_CODE_LEN);
		}
		code[n++] = c;
	}
	if (n != UPK_CLAIM_CODE_LEN) {
		OPENSSL_cleanse(code, sizeof(code));
		return upk_error_set(err, UPK_ERR_INVALID, "claim code: %zu characters, not %d", n,
		                     UPK_CLAIM_CODE_LEN);
	}
	code[n] = '\0';
	memcpy(out, code, sizeof(code));
	OPENSSL_cleanse(code, sizeof(code));
	return UPK_OK;
}

static int valid_fleet(const char *f)
{
	size_t n = strlen(f);

	if (n == 0 || n > CLAIM_MAX_FLEET || f[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '-'))
			return 0;
	return 1;
}

static int valid_device(const char *d)
{
	size_t n = strlen(d);

	if (n != UPK_KEYID_HEX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'f') || (d[i] >= '0' && d[i] <= '9')))
			return 0;
	return 1;
}

static upk_status sha256_hex(const void *data, size_t len, char out[65], struct upk_error *err)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	upk_status ret = upk_hash_buf(UPK_HASH_SHA256, data, len, d, err);

	if (ret == UPK_OK)
		upk_hex_encode(d, 32, out);
	return ret;
}

static upk_status hmac_sha256(const char *key, const char *msg, uint8_t out[32],
                              struct upk_error *err)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	upk_status ret = UPK_OK;

	ERR_clear_error();
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	if (ctx == NULL ||
	    EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)msg, strlen(msg)) != 1 ||
	    EVP_MAC_final(ctx, out, &outl, 32) != 1 || outl != 32)
		ret = crypto_error(err, UPK_ERR_CRYPTO, "claim MAC (HMAC-SHA256)");
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

/* The raw MAC; shared by upk_claim_mac and upk_claim_verify. */
static upk_status claim_mac_raw(const char *code, const char *device_id, const char *fleet,
                                const void *image_root, size_t image_len,
                                const void *director_root, size_t director_len, uint8_t out[32],
                                struct upk_error *err)
{
	char key[UPK_CLAIM_CODE_LEN + 1], ih[65], dh[65];
	char msg[sizeof(CLAIM_DOMAIN) + UPK_KEYID_HEX_LEN + CLAIM_MAX_FLEET + 2 * 64 + 32];
	upk_status ret;

	if (device_id == NULL || !valid_device(device_id))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "claim: device id \"%.80s\" is not 64 lower-case hex digits",
		                     device_id ? device_id : "");
	if (fleet == NULL || !valid_fleet(fleet))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "claim: fleet \"%.80s\" is not [a-z0-9-]{1,63}",
		                     fleet ? fleet : "");
	ret = upk_claim_code_normalise(code, key, err);
	if (ret == UPK_OK)
		ret = sha256_hex(image_root, image_len, ih, err);
	if (ret == UPK_OK)
		ret = sha256_hex(director_root, director_len, dh, err);
	if (ret == UPK_OK) {
		snprintf(msg, sizeof(msg), CLAIM_DOMAIN "\n%s\n/v1/fleets/%s\n%s\n%s", device_id,
		         fleet, ih, dh);
		ret = hmac_sha256(key, msg, out, err);
	}
	OPENSSL_cleanse(key, sizeof(key));
	return ret;
}

upk_status upk_claim_mac(const char *code, const char *device_id, const char *fleet,
                         const void *image_root, size_t image_len, const void *director_root,
                         size_t director_len, char mac_hex[UPK_CLAIM_MAC_HEX_LEN + 1],
                         struct upk_error *err)
{
	uint8_t m[32];
	upk_status ret = claim_mac_raw(code, device_id, fleet, image_root, image_len,
	                               director_root, director_len, m, err);

	if (ret == UPK_OK)
		upk_hex_encode(m, sizeof(m), mac_hex);
	return ret;
}

upk_status upk_claim_verify(const char *code, const char *device_id, const char *fleet,
                            const void *image_root, size_t image_len, const void *director_root,
                            size_t director_len, const char *mac_hex, struct upk_error *err)
{
	uint8_t want[32], got[32];
	upk_status ret;

	if (mac_hex == NULL || strlen(mac_hex) != UPK_CLAIM_MAC_HEX_LEN ||
	    upk_hex_decode(mac_hex, got, sizeof(got), NULL) != UPK_OK)
		return upk_error_set(err, UPK_ERR_SIGNATURE, "claim MAC is not 64 hex digits");
	ret = claim_mac_raw(code, device_id, fleet, image_root, image_len, director_root,
	                    director_len, want, err);
	if (ret != UPK_OK)
		return ret;
	/* Constant time: a timing difference must not tell how much of a forged MAC was right. */
	if (CRYPTO_memcmp(want, got, sizeof(want)) != 0)
		return upk_error_set(err, UPK_ERR_SIGNATURE,
		                     "claim MAC does not match this device's claim code (fleet %s)",
		                     fleet);
	return UPK_OK;
}
