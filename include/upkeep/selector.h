/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Target selectors: the owner-signed rule in a target's custom.upkeep.selector
 * saying which devices may take it, and the version order it compares with.
 * Devices check a selector before installing, the server before assigning, so
 * both must agree bit for bit: the grammar and semantics are in docs/selectors.md.
 */
#ifndef UPKEEP_SELECTOR_H
#define UPKEEP_SELECTOR_H

#include <stddef.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hard limits; input over them is UPK_ERR_TOO_LARGE. */
#define UPK_SELECTOR_MAX_LEN 4096u   /* bytes of selector text */
#define UPK_SELECTOR_MAX_DEPTH 16u   /* parentheses and "not" nested in each other */
#define UPK_SELECTOR_MAX_LIST 256u   /* strings in one [...] list */
#define UPK_SELECTOR_MAX_STRING 256u /* bytes of one string after unescaping */

/* Buckets are basis points: a device's bucket is in [0, UPK_SELECTOR_BUCKETS). */
#define UPK_SELECTOR_BUCKETS 10000u

/* A parsed selector. Opaque and immutable: share it freely between threads. */
struct upk_selector;

struct upk_kv {
	const char *key;
	const char *value;
};

/*
 * What a selector can see of a device. Every pointer may be NULL (absent).
 * A key given twice counts with its first value only. The names in installed
 * are the caller's: upkeep uses target types ("image") and package or target
 * names ("app") side by side.
 */
struct upk_device_attrs {
	const char *device_id;   /* TUF key id, lower-case hex */
	const char *hardware_id; /* e.g. "acme-gw-v2" */
	const struct upk_kv *tags;
	size_t n_tags;
	const struct upk_kv *installed; /* name -> installed version */
	size_t n_installed;
};

/*
 * Parse text[0..len) (not NUL-terminated necessarily; a NUL byte inside is an
 * error). Empty or blank text is UPK_ERR_INVALID: an absent selector means
 * "all devices", and callers must handle absence themselves. Syntax errors
 * are UPK_ERR_INVALID with the byte offset, what was expected and the
 * offending token; input over a limit is UPK_ERR_TOO_LARGE. Versions in
 * "installed" comparisons are validated here, so a bad selector is refused
 * when it is signed, not later on devices. On success *out is the caller's,
 * to free with upk_selector_free().
 */
upk_status upk_selector_parse(const char *text, size_t len, struct upk_selector **out,
			      struct upk_error *err);

void upk_selector_free(struct upk_selector *sel);

/*
 * Evaluate sel for one device: *matched becomes 1 or 0. Every term is
 * evaluated (no short cut), so an error does not depend on the order of
 * terms: UPK_ERR_INVALID when the device reports an invalid version for a
 * name the selector compares, or an over-long device id where a bucket is
 * needed; UPK_ERR_CRYPTO/NOMEM when hashing fails. Callers must treat any
 * error as "does not match" (an error is never turned into true by "not").
 */
upk_status upk_selector_match(const struct upk_selector *sel,
			      const struct upk_device_attrs *attrs, int *matched,
			      struct upk_error *err);

/*
 * The normalized text of sel: single spaces, no redundant parentheses,
 * strings with only \" and \\ escaped, percentages without trailing zeros.
 * parse(to_string(s)) prints the same text again. *out is malloc()ed and
 * NUL-terminated; the caller frees it. UPK_ERR_TOO_LARGE when the normalized
 * text would be over UPK_SELECTOR_MAX_LEN (it can grow by the spaces added),
 * so this never produces text that upk_selector_parse() refuses.
 */
upk_status upk_selector_to_string(const struct upk_selector *sel, char **out,
				  struct upk_error *err);

/*
 * A device's bucket in [0, UPK_SELECTOR_BUCKETS): the first 8 bytes of
 * SHA-256(salt || 0x00 || device_id), big-endian, modulo 10000. salt NULL
 * means "". Both strings are limited to UPK_SELECTOR_MAX_STRING bytes
 * (UPK_ERR_INVALID otherwise).
 */
upk_status upk_selector_bucket(const char *device_id, const char *salt, unsigned *bucket,
			       struct upk_error *err);

/* ---- versions ---- */

#define UPK_VERSION_MAX_LEN 128u

/*
 * A version is NUM ("." NUM)* ["-" PRE ("." PRE)*] where NUM is a decimal
 * number without leading zeros and PRE is a non-empty run of [0-9A-Za-z-]
 * (without leading zeros when all digits). At most UPK_VERSION_MAX_LEN bytes.
 * Anything else, including build metadata ("+..."), a leading "v" and
 * whitespace, is UPK_ERR_INVALID naming the bad byte.
 */
upk_status upk_version_validate(const char *v, struct upk_error *err);

/*
 * Compare two valid versions: *cmp becomes -1, 0 or 1 as a <, == or > b.
 * Numbers compare numerically (any size), missing trailing numbers count as
 * 0 (1.0 == 1.0.0), a pre-release sorts before its release (1.0.0-rc.1 <
 * 1.0.0), and pre-releases compare as in Semantic Versioning 2.0.0.
 * UPK_ERR_INVALID when either is invalid.
 */
upk_status upk_version_compare(const char *a, const char *b, int *cmp, struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
