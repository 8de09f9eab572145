/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys, signatures, hashes and randomness, all on OpenSSL 3 EVP.
 * Signing is Ed25519 only (what upkeep itself uses); verification also
 * accepts ecdsa-sha2-nistp256 and rsassa-pss-sha256, the other key types of
 * the TUF specification, so that repositories made elsewhere can be read.
 */
#ifndef UPKEEP_CRYPTO_H
#define UPKEEP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hashing ---- */

enum upk_hash_alg {
	UPK_HASH_SHA256 = 1,
	UPK_HASH_SHA512 = 2,
};

#define UPK_HASH_MAX_LEN 64

struct upk_hash; /* streaming hash state */

/* "sha256" / "sha512"; anything else is UPK_ERR_UNSUPPORTED. */
upk_status upk_hash_alg_from_name(const char *name, enum upk_hash_alg *out, struct upk_error *err);
const char *upk_hash_alg_name(enum upk_hash_alg alg);
size_t upk_hash_alg_len(enum upk_hash_alg alg);

upk_status upk_hash_new(enum upk_hash_alg alg, struct upk_hash **out, struct upk_error *err);
upk_status upk_hash_update(struct upk_hash *h, const void *data, size_t len, struct upk_error *err);
/* Writes upk_hash_alg_len() bytes to digest. The state cannot be updated afterwards. */
upk_status upk_hash_final(struct upk_hash *h, uint8_t digest[UPK_HASH_MAX_LEN], struct upk_error *err);
void upk_hash_free(struct upk_hash *h);

/* One-shot convenience. */
upk_status upk_hash_buf(enum upk_hash_alg alg, const void *data, size_t len,
			uint8_t digest[UPK_HASH_MAX_LEN], struct upk_error *err);

/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void upk_hex_encode(const uint8_t *data, size_t len, char *out);
/* 1 when s is exactly n lower-case hex digits (ids, MACs: the form upk_hex_encode writes). */
int upk_hex_is_lower(const char *s, size_t n);
/* Decode exactly out_len bytes of hex (either case); anything else is UPK_ERR_INVALID. */
upk_status upk_hex_decode(const char *hex, uint8_t *out, size_t out_len, struct upk_error *err);

/* ---- randomness ---- */

/* Cryptographically secure random bytes (OpenSSL's DRBG, seeded by the OS). */
upk_status upk_random_bytes(void *buf, size_t len, struct upk_error *err);

/* ---- keys ---- */

enum upk_key_type {
	UPK_KEY_ED25519 = 1,    /* keytype "ed25519", scheme "ed25519" */
	UPK_KEY_ECDSA_P256 = 2, /* keytype "ecdsa" (or "ecdsa-sha2-nistp256"), scheme "ecdsa-sha2-nistp256" */
	UPK_KEY_RSA_PSS = 3,    /* keytype "rsa", scheme "rsassa-pss-sha256" */
};

/* A public key, or a key pair when it holds a private key. Opaque. */
struct upk_key;

#define UPK_KEYID_HEX_LEN 64

upk_status upk_key_generate_ed25519(struct upk_key **out, struct upk_error *err);

/*
 * The Ed25519 key pair of a 32-byte RFC 8032 secret key (the "seed"), for
 * test vectors and deterministic fixtures. Real keys come from
 * upk_key_generate_ed25519().
 */
upk_status upk_key_from_ed25519_seed(const uint8_t seed[32], struct upk_key **out,
				     struct upk_error *err);

/*
 * A public key from a TUF key object
 * {"keytype": ..., "scheme": ..., "keyval": {"public": ...}}: Ed25519 public
 * keys are 64 hex digits, ECDSA and RSA keys are SubjectPublicKeyInfo PEM.
 * Unknown key types or schemes, and keytype/scheme mismatches, are rejected.
 * Errors: UPK_ERR_UNSUPPORTED for a keytype or scheme we do not know, an
 * ECDSA curve other than P-256, an RSA modulus outside 2048..8192 bits
 * (callers may skip such keys: other clients may know them);
 * UPK_ERR_INVALID for malformed objects, one of our schemes under another of
 * our keytypes, or a PEM whose key is not of the declared keytype (an RSA key
 * under "ecdsa"); UPK_ERR_TOO_LARGE for a PEM over 64 KiB. Extra members
 * (e.g. keyid_hash_algorithms) are ignored. The PEM text of ECDSA and RSA
 * keys is kept as written, so upk_key_to_tuf() and upk_key_id() reproduce the
 * key id other implementations computed over it.
 */
upk_status upk_key_from_tuf(const json_t *keyobj, struct upk_key **out, struct upk_error *err);

/*
 * The TUF key object of the public half (new reference; caller decrefs):
 * exactly {"keytype", "scheme", "keyval": {"public"}}, keytype "ecdsa" for
 * ECDSA keys, Ed25519 public keys in lower-case hex.
 */
upk_status upk_key_to_tuf(const struct upk_key *key, json_t **out, struct upk_error *err);

/* Key id: hex SHA-256 of the canonical JSON of upk_key_to_tuf(). */
upk_status upk_key_id(const struct upk_key *key, char out[UPK_KEYID_HEX_LEN + 1],
		      struct upk_error *err);

enum upk_key_type upk_key_type(const struct upk_key *key);
/* TUF scheme name, e.g. "ed25519". */
const char *upk_key_scheme(const struct upk_key *key);
int upk_key_has_private(const struct upk_key *key);
/* 1 when both hold the same public key, 0 otherwise. */
int upk_key_equal_public(const struct upk_key *a, const struct upk_key *b);

/*
 * Sign msg with a private Ed25519 key. *sig is malloc()ed (64 bytes for
 * Ed25519), the caller frees it.
 */
upk_status upk_key_sign(const struct upk_key *key, const void *msg, size_t msg_len, uint8_t **sig,
			size_t *sig_len, struct upk_error *err);

/*
 * UPK_OK when sig is a valid signature of msg under key's scheme;
 * UPK_ERR_SIGNATURE when it is not (including malformed signatures);
 * other codes only when the crypto library itself fails.
 * ECDSA signatures are DER; RSA-PSS uses MGF1-SHA256 and accepts any salt length.
 */
upk_status upk_key_verify(const struct upk_key *key, const void *msg, size_t msg_len,
			  const uint8_t *sig, size_t sig_len, struct upk_error *err);

/*
 * PEM encodings readable by `openssl pkey`: private keys as PKCS#8
 * (encrypted with AES-256-CBC and scrypt/PBKDF2 when passphrase is non-NULL
 * and non-empty), public keys as SubjectPublicKeyInfo. *pem is malloc()ed and
 * NUL-terminated; for a private key the caller should wipe it before free.
 */
upk_status upk_key_private_pem(const struct upk_key *key, const char *passphrase, char **pem,
			       size_t *pem_len, struct upk_error *err);
upk_status upk_key_public_pem(const struct upk_key *key, char **pem, size_t *pem_len,
			      struct upk_error *err);

/*
 * Read a PEM key: a PKCS#8 private key (passphrase used when it is encrypted;
 * UPK_ERR_PASSPHRASE when it is missing or wrong) or a SubjectPublicKeyInfo
 * public key. The key type must be one of enum upk_key_type.
 * Errors: UPK_ERR_INVALID (no PEM block, bad base64 or DER, not a key),
 * UPK_ERR_UNSUPPORTED (another algorithm, curve or RSA size, or a non-PKCS#8
 * private key such as "EC PRIVATE KEY"), UPK_ERR_TOO_LARGE (over 64 KiB).
 * Never prompts for a passphrase.
 */
upk_status upk_key_from_pem(const char *pem, size_t pem_len, const char *passphrase,
			    struct upk_key **out, struct upk_error *err);

void upk_key_free(struct upk_key *key);

/* ---- key files ---- */

/*
 * Write a private key file (mode 0600, created exclusively: an existing file
 * is UPK_ERR_EXISTS, never overwritten) and read key files back.
 * These are the only functions here that touch the file system.
 * Public key files get mode 0644. Both writers fsync the file and its
 * directory, and remove a partly written file on failure. Reading refuses
 * files over 64 KiB (UPK_ERR_TOO_LARGE); a missing file is UPK_ERR_NOT_FOUND.
 */
upk_status upk_keyfile_write_private(const char *path, const struct upk_key *key,
				     const char *passphrase, struct upk_error *err);
upk_status upk_keyfile_write_public(const char *path, const struct upk_key *key,
				    struct upk_error *err);
upk_status upk_keyfile_read(const char *path, const char *passphrase, struct upk_key **out,
			    struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
