/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What key.c, key_pem.c and keyfile.c share: the layout of struct upk_key
 * and the one place that turns an OpenSSL error queue into an upk_error.
 */
#ifndef UPK_KEY_INTERNAL_H
#define UPK_KEY_INTERNAL_H

#include <openssl/evp.h>

#include "upkeep/crypto.h"

struct upk_key {
	enum upk_key_type type;
	EVP_PKEY *pkey;
	int has_private;
	/*
	 * ECDSA and RSA keys read from a TUF key object keep the PEM text
	 * exactly as written there: the key id is a hash over that text, and
	 * other implementations format PEM differently (securesystemslib drops
	 * the final newline of RSA keys), so re-encoding would change the id.
	 * NULL for keys made here or read from PEM files.
	 */
	char *tuf_pem;
};

/* The largest RSA modulus accepted: bounds the cost of a verification. */
#define KEY_RSA_MIN_BITS 2048
#define KEY_RSA_MAX_BITS 8192

/* No key PEM upkeep reads (even RSA-8192, encrypted) comes near this. */
#define KEY_PEM_MAX (64u * 1024u)

/*
 * (In hash.c, the first user.) Record code with "what: " followed by the drained OpenSSL error queue
 * (or "no detail"); the queue is empty afterwards. Returns code.
 */
upk_status crypto_error(struct upk_error *err, upk_status code, const char *what);

/*
 * Wrap pkey (ownership passes on success; on failure the caller still owns
 * it) after checking it is one of enum upk_key_type: Ed25519, ECDSA on
 * P-256, or RSA of KEY_RSA_MIN_BITS..KEY_RSA_MAX_BITS. Other algorithms,
 * curves and sizes are UPK_ERR_UNSUPPORTED. where names the source in the
 * message.
 */
upk_status key_wrap(EVP_PKEY *pkey, int has_private, const char *where, struct upk_key **out,
		    struct upk_error *err);

/*
 * Decode the first PEM block of pem[0..len). public_only (for TUF key
 * objects) refuses private keys. *is_private tells which kind was read.
 * Errors: UPK_ERR_INVALID (no or bad PEM/DER), UPK_ERR_UNSUPPORTED (a
 * non-PKCS#8 private key format), UPK_ERR_PASSPHRASE, UPK_ERR_TOO_LARGE.
 */
upk_status key_pem_decode(const char *pem, size_t len, const char *passphrase, int public_only,
			  EVP_PKEY **out, int *is_private, struct upk_error *err);

#endif
