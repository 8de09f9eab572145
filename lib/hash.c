/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming SHA-256/SHA-512 over OpenSSL EVP (so hardware acceleration is
 * used where the CPU has it) and the hex encoding that TUF writes hashes in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "hex_internal.h"
#include "key_internal.h"

struct upk_hash {
	enum upk_hash_alg alg;
	EVP_MD_CTX *ctx;
	int finished;
};

upk_status crypto_error(struct upk_error *err, upk_status code, const char *what)
{
	char detail[UPK_ERROR_MSG_MAX];
	size_t used = 0;
	unsigned long e;

	detail[0] = '\0';
	/* Every queued error is popped, so the next call starts from a clean queue. */
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		int n;

		ERR_error_string_n(e, one, sizeof(one));
		if (used >= sizeof(detail) - 1)
			continue;
		n = snprintf(detail + used, sizeof(detail) - used, "%s%s", used ? "; " : "", one);
		if (n > 0)
			used += (size_t)n < sizeof(detail) - used ? (size_t)n : sizeof(detail) - used - 1;
	}
	return upk_error_set(err, code, "%s: %s", what, used ? detail : "no detail from OpenSSL");
}

static const EVP_MD *alg_md(enum upk_hash_alg alg)
{
	switch (alg) {
	case UPK_HASH_SHA256:
		return EVP_sha256();
	case UPK_HASH_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

upk_status upk_hash_alg_from_name(const char *name, enum upk_hash_alg *out, struct upk_error *err)
{
	if (name != NULL && strcmp(name, "sha256") == 0)
		*out = UPK_HASH_SHA256;
	else if (name != NULL && strcmp(name, "sha512") == 0)
		*out = UPK_HASH_SHA512;
	else
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "hash algorithm \"%.32s\" is not supported (sha256, sha512)",
				     name ? name : "(null)");
	return UPK_OK;
}

const char *upk_hash_alg_name(enum upk_hash_alg alg)
{
	switch (alg) {
	case UPK_HASH_SHA256:
		return "sha256";
	case UPK_HASH_SHA512:
		return "sha512";
	}
	return NULL;
}

size_t upk_hash_alg_len(enum upk_hash_alg alg)
{
	switch (alg) {
	case UPK_HASH_SHA256:
		return 32;
	case UPK_HASH_SHA512:
		return 64;
	}
	return 0;
}

upk_status upk_hash_new(enum upk_hash_alg alg, struct upk_hash **out, struct upk_error *err)
{
	const EVP_MD *md = alg_md(alg);
	struct upk_hash *h = NULL;
	upk_status ret;

	if (md == NULL)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "hash algorithm %d is not supported",
				     (int)alg);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a hash state");
	h->alg = alg;
	ERR_clear_error();
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "EVP_MD_CTX_new");
		goto out;
	}
	if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, upk_hash_alg_name(alg));
		goto out;
	}
	*out = h;
	h = NULL;
	ret = UPK_OK;
out:
	upk_hash_free(h);
	return ret;
}

upk_status upk_hash_update(struct upk_hash *h, const void *data, size_t len, struct upk_error *err)
{
	if (h == NULL || h->finished)
		return upk_error_set(err, UPK_ERR_INVALID, "hash update after final");
	if (len == 0)
		return UPK_OK;
	ERR_clear_error();
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		return crypto_error(err, UPK_ERR_CRYPTO, upk_hash_alg_name(h->alg));
	return UPK_OK;
}

upk_status upk_hash_final(struct upk_hash *h, uint8_t digest[UPK_HASH_MAX_LEN],
			  struct upk_error *err)
{
	unsigned int n = 0;

	if (h == NULL || h->finished)
		return upk_error_set(err, UPK_ERR_INVALID, "hash final called twice");
	h->finished = 1;
	ERR_clear_error();
	if (EVP_DigestFinal_ex(h->ctx, digest, &n) != 1 || n != upk_hash_alg_len(h->alg))
		return crypto_error(err, UPK_ERR_CRYPTO, upk_hash_alg_name(h->alg));
	return UPK_OK;
}

void upk_hash_free(struct upk_hash *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

upk_status upk_hash_buf(enum upk_hash_alg alg, const void *data, size_t len,
			uint8_t digest[UPK_HASH_MAX_LEN], struct upk_error *err)
{
	struct upk_hash *h = NULL;
	upk_status ret;

	ret = upk_hash_new(alg, &h, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_hash_update(h, data, len, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_hash_final(h, digest, err);
out:
	upk_hash_free(h);
	return ret;
}

void upk_hex_encode(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int upk_hex_is_lower(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

upk_status upk_hex_decode(const char *hex, uint8_t *out, size_t out_len, struct upk_error *err)
{
	size_t len;

	if (hex == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "hex string missing");
	/* strnlen: never read far past what could be valid. */
	len = strnlen(hex, 2 * out_len + 1);
	if (len != 2 * out_len)
		return upk_error_set(err, UPK_ERR_INVALID, "hex string of %zu%s digits, expected %zu",
				     len, len > 2 * out_len ? " or more" : "", 2 * out_len);
	for (size_t i = 0; i < len; i++)
		if (hex_digit((unsigned char)hex[i]) < 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "hex string has a non-hex character 0x%02x at %zu",
					     (unsigned char)hex[i], i);
	/* Checked first, so out is written only on success. */
	for (size_t i = 0; i < out_len; i++)
		out[i] = (uint8_t)(hex_digit((unsigned char)hex[2 * i]) << 4 |
				 hex_digit((unsigned char)hex[2 * i + 1]));
	return UPK_OK;
}
