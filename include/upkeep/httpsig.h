/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9421 HTTP Message Signatures with ed25519 over request components, and
 * RFC 9530 Content-Digest. The library computes and checks; the caller owns
 * sockets, clocks, key stores and the nonce cache (see docs/http-signatures.md).
 */
#ifndef UPKEEP_HTTPSIG_H
#define UPKEEP_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/crypto.h"
#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (the parsers refuse anything larger with UPK_ERR_TOO_LARGE) ---- */

#define UPK_HTTPSIG_MAX_FIELD 8192      /* one field value, all its lines combined */
#define UPK_HTTPSIG_MAX_BASE 65536      /* the whole signature base */
#define UPK_HTTPSIG_MAX_COMPONENTS 32   /* covered components of one signature */
#define UPK_HTTPSIG_MAX_NAME 64         /* a component name, e.g. "content-digest" */
#define UPK_HTTPSIG_MAX_LABEL 64        /* a signature label, e.g. "sig1" */
#define UPK_HTTPSIG_MAX_KEYID 256       /* keyid parameter */
#define UPK_HTTPSIG_MAX_NONCE 128       /* nonce parameter */
#define UPK_HTTPSIG_MAX_TAG 128         /* tag parameter */
#define UPK_HTTPSIG_NO_TIME INT64_MIN   /* "parameter absent" for created/expires */

/* ---- the request ---- */

/* One header field line as received or as it will be sent. */
struct upk_http_field {
	const char *name;  /* any case; compared case-insensitively */
	const char *value; /* leading/trailing whitespace is ignored (RFC 9421 2.1) */
};

/*
 * What the caller knows about a request. Strings are borrowed. Several lines
 * of one field are combined in order with ", " as RFC 9421 section 2.1 says.
 */
struct upk_http_request {
	const char *method;    /* "POST"; used exactly as given (@method) */
	const char *scheme;    /* "https" or "http"; NULL when unknown (@scheme, @target-uri) */
	const char *authority; /* "host[:port]" (@authority, lower-cased, default port dropped) */
	const char *path;      /* "/v1/checkin", still percent-encoded; "" means "/" (@path) */
	const char *query;     /* without the '?'; NULL when the URI has none (@query) */
	const struct upk_http_field *fields;
	size_t nfields;
	/*
	 * SHA-256 of the body as received, or NULL when the request has no body.
	 * Callers hash while streaming, so the library never needs the body.
	 */
	const uint8_t *body_sha256;
};

/* ---- RFC 9530 Content-Digest ---- */

/* "sha-256=:" + 44 base64 characters + ":" */
#define UPK_CONTENT_DIGEST_LEN 54

/* The Content-Digest field value "sha-256=:...:" of a body's SHA-256. */
void upk_content_digest_format(const uint8_t sha256[32], char out[UPK_CONTENT_DIGEST_LEN + 1]);

/* Same, hashing len bytes of body first (len may be 0). */
upk_status upk_content_digest_of(const void *body, size_t len,
				 char out[UPK_CONTENT_DIGEST_LEN + 1], struct upk_error *err);

/*
 * Check a Content-Digest field value against the body's SHA-256: the value
 * must parse as an RFC 8941 dictionary whose members are byte sequences, must
 * contain "sha-256", and that digest must match (UPK_ERR_HASH otherwise).
 * Other algorithms are ignored as RFC 9530 section 2 allows, except the
 * insecure ones it lists (md5, sha, unixsum, unixcksum, adler, crc32c),
 * which are refused outright (UPK_ERR_UNSUPPORTED) so nobody relies on them.
 * Malformed values are UPK_ERR_INVALID, oversize ones UPK_ERR_TOO_LARGE.
 */
upk_status upk_content_digest_check(const char *value, const uint8_t sha256[32],
				    struct upk_error *err);

/* ---- signing ---- */

/*
 * How to sign. Parameters are written in this order: created, expires,
 * keyid, nonce, alg, tag (the order of the RFC 9421 appendix B examples).
 */
struct upk_httpsig_sign_params {
	const char *label;              /* dictionary key, e.g. "sig1" (RFC 8941 key syntax) */
	const char *const *components;  /* e.g. {"@method", "@path", "content-digest"} */
	size_t ncomponents;
	int64_t created;                /* seconds since the epoch, or UPK_HTTPSIG_NO_TIME */
	int64_t expires;                /* or UPK_HTTPSIG_NO_TIME */
	const char *keyid;              /* or NULL */
	const char *nonce;              /* or NULL; see upk_httpsig_nonce() */
	const char *alg;                /* "ed25519" or NULL to leave it out */
	const char *tag;                /* or NULL */
};

/*
 * The signature base of RFC 9421 section 2.5 for req and params, as the
 * signer builds it (*base malloc()ed, NUL-terminated, no trailing newline).
 * Errors: UPK_ERR_NOT_FOUND for a covered field the request lacks,
 * UPK_ERR_UNSUPPORTED for derived components or component parameters we do
 * not implement, UPK_ERR_INVALID for duplicate or malformed component names
 * and values that cannot be signed (control characters), UPK_ERR_TOO_LARGE.
 */
upk_status upk_httpsig_base(const struct upk_http_request *req,
			    const struct upk_httpsig_sign_params *params, char **base,
			    size_t *base_len, struct upk_error *err);

/*
 * Sign req with an Ed25519 private key. On success *signature_input and
 * *signature are the values of the Signature-Input and Signature fields,
 * each a one-member dictionary under params->label (malloc()ed; caller frees).
 * A request with body_sha256 should cover "content-digest" and carry the
 * field made by upk_content_digest_format(); this function does not add it.
 */
upk_status upk_httpsig_sign(const struct upk_http_request *req,
			    const struct upk_httpsig_sign_params *params,
			    const struct upk_key *key, char **signature_input, char **signature,
			    struct upk_error *err);

/* A fresh nonce: 24 random bytes in base64 (32 characters). */
#define UPK_HTTPSIG_NONCE_LEN 32
upk_status upk_httpsig_nonce(char out[UPK_HTTPSIG_NONCE_LEN + 1], struct upk_error *err);

/*
 * The headers upkeep's default verification policy asks of a client:
 * Content-Digest (only when body_sha256 is given), Signature-Input and
 * Signature over @method, @path (no query) and content-digest, with created,
 * a fresh nonce, keyid and alg "ed25519", label "sig1". Clients of the server
 * (the agent, the owner tool) all sign this way. Clear with
 * upk_httpsig_headers_clear().
 */
struct upk_httpsig_headers {
	char content_digest[UPK_CONTENT_DIGEST_LEN + 1]; /* "" without a body */
	char *signature_input;
	char *signature;
};

upk_status upk_httpsig_sign_default(const char *method, const char *path,
				    const uint8_t *body_sha256, const struct upk_key *key,
				    const char *keyid, int64_t created,
				    struct upk_httpsig_headers *out, struct upk_error *err);
void upk_httpsig_headers_clear(struct upk_httpsig_headers *h);

/* ---- verifying ---- */

/* Signature parameters a policy may require (bit mask). */
enum {
	UPK_HTTPSIG_P_CREATED = 1 << 0,
	UPK_HTTPSIG_P_EXPIRES = 1 << 1,
	UPK_HTTPSIG_P_KEYID = 1 << 2,
	UPK_HTTPSIG_P_NONCE = 1 << 3,
	UPK_HTTPSIG_P_ALG = 1 << 4,
	UPK_HTTPSIG_P_TAG = 1 << 5,
};

/*
 * Find the public key for keyid (alg is the signature's "alg" or NULL).
 * Set *key to a key the caller keeps alive until upk_httpsig_verify()
 * returns (it is borrowed, never freed by the library). Return
 * UPK_ERR_NOT_FOUND for an unknown key; any failure stops verification.
 */
typedef upk_status (*upk_httpsig_key_fn)(void *ctx, const char *keyid, const char *alg,
					 const struct upk_key **key, struct upk_error *err);

/*
 * Record nonce as used by keyid, or fail when it was seen before (the
 * library passes the callback's status on; UPK_ERR_REPLAY reads well as
 * "replayed"). Called only after the signature verified, so forged requests
 * cannot fill the cache. Entries may be dropped once created is older than
 * the policy's max_age + max_skew: older signatures are refused anyway.
 */
typedef upk_status (*upk_httpsig_nonce_fn)(void *ctx, const char *keyid, const char *nonce,
					   int64_t created, struct upk_error *err);

struct upk_httpsig_policy {
	/* Which signature to check; NULL: the fields must hold exactly one. */
	const char *label;
	/* Components that must be covered, e.g. {"@method", "@path"}. */
	const char *const *required_components;
	size_t nrequired;
	/* When the request has a body, "content-digest" must be covered and match it. */
	int require_content_digest;
	unsigned required_params; /* UPK_HTTPSIG_P_* */
	/* If non-NULL the tag parameter must be present and equal to this. */
	const char *tag;
	/*
	 * Clock rules against now: created must lie in [now - max_age, now +
	 * max_skew]; expires, when present, must not be before now - max_skew.
	 */
	int64_t now;
	int64_t max_age;
	int64_t max_skew;
	upk_httpsig_key_fn key_lookup;
	upk_httpsig_nonce_fn nonce_check; /* NULL only when replays do not matter */
	void *ctx;
};

/*
 * A policy with what upkeep's server requires: @method, @path and (with a
 * body) content-digest covered; created, keyid and nonce present; created
 * within +-300 s of now. The caller sets key_lookup, nonce_check and ctx.
 */
void upk_httpsig_policy_default(struct upk_httpsig_policy *policy, int64_t now);

/* What a verified signature said. Only upk_httpsig_verify() fills one. */
struct upk_httpsig_verified {
	char label[UPK_HTTPSIG_MAX_LABEL + 1];
	char keyid[UPK_HTTPSIG_MAX_KEYID + 1];
	char nonce[UPK_HTTPSIG_MAX_NONCE + 1]; /* "" when absent */
	char tag[UPK_HTTPSIG_MAX_TAG + 1];     /* "" when absent */
	int64_t created;                       /* or UPK_HTTPSIG_NO_TIME */
	int64_t expires;                       /* or UPK_HTTPSIG_NO_TIME */
	size_t ncomponents;
	char components[UPK_HTTPSIG_MAX_COMPONENTS][UPK_HTTPSIG_MAX_NAME + 1];
};

/*
 * Verify the request's signature (RFC 9421 section 3.2) under policy:
 * parse Signature-Input and Signature from req->fields, pick the label,
 * check parameters and clock, check required components, check
 * Content-Digest against body_sha256 when covered or required, look the key
 * up by keyid, rebuild the signature base, verify Ed25519, then check the
 * nonce. *out is written only on success.
 * Errors: UPK_ERR_INVALID (malformed fields, missing label, wrong types,
 * duplicate labels or components), UPK_ERR_TOO_LARGE (over the limits
 * above), UPK_ERR_UNSUPPORTED (alg other than ed25519, unknown parameters,
 * components or component parameters, a non-Ed25519 key),
 * UPK_ERR_SIGNATURE (missing required component or parameter, bad signature),
 * UPK_ERR_EXPIRED (created too old or in the future, expires passed),
 * UPK_ERR_HASH (Content-Digest does not match the body), UPK_ERR_NOT_FOUND
 * (a covered field is absent; or from key_lookup), or whatever the callbacks
 * return. Messages quote the offending value.
 */
upk_status upk_httpsig_verify(const struct upk_http_request *req,
			      const struct upk_httpsig_policy *policy,
			      struct upk_httpsig_verified *out, struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
