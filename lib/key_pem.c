/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PEM forms of keys, chosen so that `openssl pkey` reads them: PKCS#8
 * private keys (optionally encrypted, RFC 5958 / RFC 8018 PBES2) and
 * SubjectPublicKeyInfo public keys (RFC 5280 section 4.1.2.7).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "key_internal.h"

/* Longest passphrase accepted; PEM and PKCS#8 take an int length. */
#define PASSPHRASE_MAX 1024

/* Copy the BIO's contents into a malloc()ed NUL-terminated string. */
static upk_status bio_to_string(BIO *bio, char **pem, size_t *pem_len, struct upk_error *err)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *copy;

	if (n <= 0 || data == NULL)
		return upk_error_set(err, UPK_ERR_CRYPTO, "PEM encoder wrote nothing");
	copy = malloc((size_t)n + 1);
	if (copy == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for a PEM key");
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*pem = copy;
	if (pem_len != NULL)
		*pem_len = (size_t)n;
	return UPK_OK;
}

upk_status upk_key_private_pem(const struct upk_key *key, const char *passphrase, char **pem,
			       size_t *pem_len, struct upk_error *err)
{
	const EVP_CIPHER *cipher = NULL;
	size_t plen = 0;
	BIO *bio = NULL;
	upk_status ret;

	if (!key->has_private)
		return upk_error_set(err, UPK_ERR_INVALID, "no private key to encode");
	if (passphrase != NULL && passphrase[0] != '\0') {
		plen = strnlen(passphrase, PASSPHRASE_MAX + 1);
		if (plen > PASSPHRASE_MAX)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
					     "passphrase over %d bytes", PASSPHRASE_MAX);
		/* OpenSSL 3 pairs this with PBES2 and PBKDF2-HMAC-SHA256 by default. */
		cipher = EVP_aes_256_cbc();
	}
	ERR_clear_error();
	/* A secure-memory BIO wipes its buffer when it grows and when it is freed. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "BIO_new");
		goto out;
	}
	if (PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, cipher, cipher ? passphrase : NULL,
					  (int)plen, NULL, NULL) != 1) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "writing PKCS#8 private key");
		goto out;
	}
	ret = bio_to_string(bio, pem, pem_len, err);
out:
	BIO_free(bio);
	return ret;
}

upk_status upk_key_public_pem(const struct upk_key *key, char **pem, size_t *pem_len,
			      struct upk_error *err)
{
	BIO *bio = NULL;
	upk_status ret;

	ERR_clear_error();
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "BIO_new");
		goto out;
	}
	if (PEM_write_bio_PUBKEY(bio, key->pkey) != 1) {
		ret = crypto_error(err, UPK_ERR_CRYPTO, "writing SubjectPublicKeyInfo");
		goto out;
	}
	ret = bio_to_string(bio, pem, pem_len, err);
out:
	BIO_free(bio);
	return ret;
}

/* PKCS#8 DER, decrypted first when it is an EncryptedPrivateKeyInfo. */
static upk_status decode_private(const unsigned char *der, long der_len, int encrypted,
				 const char *passphrase, EVP_PKEY **out, struct upk_error *err)
{
	const unsigned char *p = der;
	X509_SIG *enc = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	size_t plen;
	upk_status ret;

	if (encrypted) {
		/*
		 * Decrypting here, with no password callback anywhere, is what
		 * guarantees OpenSSL never prompts on a terminal.
		 */
		if (passphrase == NULL || passphrase[0] == '\0') {
			ret = upk_error_set(err, UPK_ERR_PASSPHRASE,
					    "private key is encrypted and no passphrase was given");
			goto out;
		}
		plen = strnlen(passphrase, PASSPHRASE_MAX + 1);
		if (plen > PASSPHRASE_MAX) {
			ret = upk_error_set(err, UPK_ERR_PASSPHRASE, "passphrase over %d bytes",
					    PASSPHRASE_MAX);
			goto out;
		}
		enc = d2i_X509_SIG(NULL, &p, der_len);
		if (enc == NULL || p != der + der_len) {
			ret = crypto_error(err, UPK_ERR_INVALID, "malformed EncryptedPrivateKeyInfo");
			goto out;
		}
		p8 = PKCS8_decrypt_ex(enc, passphrase, (int)plen, NULL, NULL);
		if (p8 == NULL) {
			/* AES-CBC padding and the DER inside make a wrong passphrase fail here. */
			ret = crypto_error(err, UPK_ERR_PASSPHRASE,
					   "cannot decrypt private key (wrong passphrase?)");
			goto out;
		}
	} else {
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, der_len);
		if (p8 == NULL || p != der + der_len) {
			ret = crypto_error(err, UPK_ERR_INVALID, "malformed PKCS#8 private key");
			goto out;
		}
	}
	pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL);
	if (pkey == NULL) {
		ret = crypto_error(err, UPK_ERR_INVALID, "PKCS#8 private key");
		goto out;
	}
	*out = pkey;
	ret = UPK_OK;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(enc);
	return ret;
}

upk_status key_pem_decode(const char *pem, size_t len, const char *passphrase, int public_only,
			  EVP_PKEY **out, int *is_private, struct upk_error *err)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long der_len = 0;
	EVP_PKEY *pkey = NULL;
	int private = 0;
	upk_status ret;

	if (len > KEY_PEM_MAX)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "PEM key of %zu bytes, at most %u",
				     len, KEY_PEM_MAX);
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		ret = crypto_error(err, UPK_ERR_NOMEM, "BIO_new_mem_buf");
		goto out;
	}
	/* PEM_FLAG_SECURE: the decoded DER may be a private key, keep it in wiped memory. */
	if (PEM_read_bio_ex(bio, &name, &header, &der, &der_len, PEM_FLAG_SECURE) != 1) {
		ret = crypto_error(err, UPK_ERR_INVALID, "no PEM block");
		goto out;
	}
	if (header != NULL && header[0] != '\0') {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "PEM \"%s\" has headers (legacy encryption); "
				    "convert it with `openssl pkcs8 -topk8`",
				    name);
		goto out;
	}
	if (strcmp(name, "PUBLIC KEY") == 0) {
		p = der;
		pkey = d2i_PUBKEY_ex(NULL, &p, der_len, NULL, NULL);
		if (pkey == NULL || p != der + der_len) {
			ret = crypto_error(err, UPK_ERR_INVALID, "malformed SubjectPublicKeyInfo");
			goto out;
		}
	} else if (strcmp(name, "PRIVATE KEY") == 0 ||
		   strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		if (public_only) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "PEM \"%s\" where a public key was expected", name);
			goto out;
		}
		ret = decode_private(der, der_len, name[0] == 'E', passphrase, &pkey, err);
		if (ret != UPK_OK)
			goto out;
		private = 1;
	} else if (!public_only && strstr(name, "PRIVATE KEY") != NULL) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "PEM \"%.40s\" is not PKCS#8; "
				    "convert it with `openssl pkcs8 -topk8`",
				    name);
		goto out;
	} else {
		ret = upk_error_set(err, UPK_ERR_INVALID, "PEM \"%.40s\" is not a %skey", name,
				    public_only ? "public " : "");
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	*is_private = private;
	ret = UPK_OK;
out:
	EVP_PKEY_free(pkey);
	if (der != NULL)
		OPENSSL_secure_clear_free(der, (size_t)der_len);
	/* With PEM_FLAG_SECURE all three come from the secure allocator. */
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	BIO_free(bio);
	/* Leave no stale entries for the next caller to be blamed with. */
	ERR_clear_error();
	return ret;
}

upk_status upk_key_from_pem(const char *pem, size_t pem_len, const char *passphrase,
			    struct upk_key **out, struct upk_error *err)
{
	EVP_PKEY *pkey = NULL;
	int is_private = 0;
	upk_status ret;

	ret = key_pem_decode(pem, pem_len, passphrase, 0, &pkey, &is_private, err);
	if (ret != UPK_OK)
		return ret;
	ret = key_wrap(pkey, is_private, "PEM key", out, err);
	if (ret != UPK_OK)
		EVP_PKEY_free(pkey);
	return ret;
}
