/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Random bytes for keys, nonces and salts. OpenSSL's DRBG is used rather
 * than getrandom() directly so there is one audited source, reseeded by it.
 */
#include <limits.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "key_internal.h"

upk_status upk_random_bytes(void *buf, size_t len, struct upk_error *err)
{
	unsigned char *p = buf;

	/* RAND_bytes takes an int length; larger requests go in pieces. */
	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		ERR_clear_error();
		if (RAND_bytes(p, n) != 1) {
			/* Fail closed: never leave half-random output behind. */
			OPENSSL_cleanse(buf, (size_t)(p - (unsigned char *)buf));
			return crypto_error(err, UPK_ERR_CRYPTO, "RAND_bytes");
		}
		p += n;
		len -= (size_t)n;
	}
	return UPK_OK;
}
