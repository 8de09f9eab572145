/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON in and out of libupkeep. Parsing is strict and bounded (size, depth,
 * no duplicate keys, no floats), because everything parsed here came from
 * outside. Encoding is the canonical form that TUF signs: the OLPC canonical
 * JSON as securesystemslib's encode_canonical() writes it.
 */
#ifndef UPKEEP_JSON_H
#define UPKEEP_JSON_H

#include <stddef.h>
#include <jansson.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct upk_json_limits {
	size_t max_bytes; /* whole document; 0 means UPK_JSON_DEFAULT_MAX_BYTES */
	size_t max_depth; /* nesting of arrays and objects; 0 means the default */
};

#define UPK_JSON_DEFAULT_MAX_BYTES (16u * 1024u * 1024u)
#define UPK_JSON_DEFAULT_MAX_DEPTH 32u

/*
 * Parse buf[0..len) as one JSON value. Rejects: more than limits->max_bytes,
 * nesting deeper than limits->max_depth, duplicate object keys, invalid UTF-8,
 * NUL bytes (in strings or anywhere else), real numbers (TUF metadata has
 * none and canonical JSON cannot encode them), trailing data. limits may be NULL for the defaults.
 * On success *out is a new reference the caller must json_decref().
 * The error message names the line and column of the problem (for a real,
 * its JSON path such as $.signed.expires).
 * Errors: UPK_ERR_TOO_LARGE over max_bytes or max_depth (checked before
 * parsing; max_depth is capped at jansson's 2048), UPK_ERR_INVALID for
 * everything else that is not strict JSON, including empty input and
 * integers outside int64.
 */
upk_status upk_json_parse(const void *buf, size_t len, const struct upk_json_limits *limits,
			  json_t **out, struct upk_error *err);

/*
 * Encode value canonically: object keys sorted by their UTF-8 bytes, no
 * whitespace, strings with only '\\' and '"' escaped and every other byte
 * written as is, integers in decimal. Reals are rejected (UPK_ERR_INVALID,
 * naming the JSON path of the offending value).
 * Nesting deeper than 64 arrays and objects, or output over 256 MiB, is
 * UPK_ERR_TOO_LARGE. Strings may hold NUL (hand-built trees); it is
 * written as is, so use *out_len rather than strlen().
 * On success *out is a NUL-terminated malloc()ed string the caller free()s
 * and *out_len (may be NULL) its length without the NUL.
 */
upk_status upk_cjson_encode(const json_t *value, char **out, size_t *out_len,
			    struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
