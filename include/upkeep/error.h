/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors in libupkeep are values: every fallible function returns an
 * upk_status and, when given one, fills a struct upk_error with a message
 * that names the bad value and the context it was found in.
 */
#ifndef UPKEEP_ERROR_H
#define UPKEEP_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only: never renumber or remove a value, callers may persist them. */
typedef enum upk_status {
	UPK_OK = 0,
	UPK_ERR_NOMEM = 1,       /* allocation failed */
	UPK_ERR_INVALID = 2,     /* malformed or out-of-range input */
	UPK_ERR_CRYPTO = 3,      /* the crypto library failed (not a bad signature) */
	UPK_ERR_SIGNATURE = 4,   /* a signature is bad or a threshold is not met */
	UPK_ERR_IO = 5,          /* reading or writing a file failed */
	UPK_ERR_EXPIRED = 6,     /* metadata is past its expiry */
	UPK_ERR_ROLLBACK = 7,    /* a version went backwards */
	UPK_ERR_TOO_LARGE = 8,   /* input over a configured limit */
	UPK_ERR_UNSUPPORTED = 9, /* a key type, scheme, version or feature we do not handle */
	UPK_ERR_NOT_FOUND = 10,  /* a named thing does not exist */
	UPK_ERR_HASH = 11,       /* content does not match its expected length or hash */
	UPK_ERR_PASSPHRASE = 12, /* a private key could not be decrypted */
	UPK_ERR_EXISTS = 13,     /* refusing to overwrite something */
	UPK_ERR_REPLAY = 14,     /* a request nonce was seen before */
} upk_status;

#define UPK_ERROR_MSG_MAX 512

struct upk_error {
	upk_status code;
	char msg[UPK_ERROR_MSG_MAX];
};

/* A short constant name for a status, e.g. "signature". */
const char *upk_status_str(upk_status status);

/*
 * Record an error and return its code, so a caller can write
 * `return upk_error_set(err, UPK_ERR_INVALID, "bad %s", x);`.
 * err may be NULL. The message is truncated to fit.
 */
upk_status upk_error_set(struct upk_error *err, upk_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Add context in front of the message already recorded ("root v3: " + msg)
 * and return code (normally the status the callee returned). err may be NULL.
 */
upk_status upk_error_prefix(struct upk_error *err, upk_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset to UPK_OK with an empty message. */
void upk_error_clear(struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
