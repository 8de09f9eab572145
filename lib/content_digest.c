/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9530 Content-Digest: the "sha-256" member that binds a signed request
 * to its body. Signers write it; verifiers compare it with the SHA-256 they
 * computed while receiving the body.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "upkeep/httpsig.h"

#include "base64_internal.h"
#include "sfv_internal.h"

void upk_content_digest_format(const uint8_t sha256[32], char out[UPK_CONTENT_DIGEST_LEN + 1])
{
	memcpy(out, "sha-256=:", 9);
	base64_encode(sha256, 32, out + 9);
	out[UPK_CONTENT_DIGEST_LEN - 1] = ':';
	out[UPK_CONTENT_DIGEST_LEN] = '\0';
}

upk_status upk_content_digest_of(const void *body, size_t len,
				 char out[UPK_CONTENT_DIGEST_LEN + 1], struct upk_error *err)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	upk_status ret;

	ret = upk_hash_buf(UPK_HASH_SHA256, len ? body : "", len, d, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "content-digest: ");
	upk_content_digest_format(d, out);
	return UPK_OK;
}

/*
 * RFC 9530 section 5 lists these as deprecated/insecure. A field offering
 * only them is no integrity at all, and one offering them beside sha-256 is
 * a client we would rather hear about than quietly accept.
 */
static const char *const INSECURE[] = {"md5", "sha", "unixsum", "unixcksum", "adler", "crc32c"};

upk_status upk_content_digest_check(const char *value, const uint8_t sha256[32],
				    struct upk_error *err)
{
	struct sfv_dict dict = {0};
	const struct sfv_member *m;
	upk_status ret;

	if (value == NULL) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "content-digest: no value");
		goto out;
	}
	ret = sfv_parse_dict(value, strlen(value), &dict, err);
	if (ret != UPK_OK) {
		ret = upk_error_prefix(err, ret, "content-digest: ");
		goto out;
	}
	for (size_t i = 0; i < dict.n; i++) {
		m = &dict.v[i];
		/* RFC 9530 section 2: members are byte sequences; no parameters are defined. */
		if (m->inner || m->item.bare.type != SFV_BYTES || m->item.params.n != 0) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "content-digest: member \"%s\" is not a byte sequence",
					    m->key);
			goto out;
		}
		for (size_t k = 0; k < sizeof(INSECURE) / sizeof(INSECURE[0]); k++) {
			if (strcmp(m->key, INSECURE[k]) == 0) {
				ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
						    "content-digest: insecure algorithm \"%s\" "
						    "refused",
						    m->key);
				goto out;
			}
		}
	}
	m = sfv_dict_get(&dict, "sha-256");
	if (m == NULL) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "content-digest: no \"sha-256\" member in \"%.100s\"", value);
		goto out;
	}
	if (m->item.bare.len != 32) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "content-digest: sha-256 digest is %zu bytes, not 32",
				    m->item.bare.len);
		goto out;
	}
	/* Digests are not secret, but a constant-time compare costs nothing here. */
	if (CRYPTO_memcmp(m->item.bare.data, sha256, 32) != 0) {
		char want[UPK_CONTENT_DIGEST_LEN + 1];

		upk_content_digest_format(sha256, want);
		ret = upk_error_set(err, UPK_ERR_HASH,
				    "content-digest: \"%.100s\" does not match the body (%s)",
				    value, want);
		goto out;
	}
	ret = UPK_OK;
out:
	sfv_dict_clear(&dict);
	return ret;
}
