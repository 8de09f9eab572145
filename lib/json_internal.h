/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the strict parser and the canonical encoder: JSON paths for error
 * messages ("$.signed.targets[\"a b\"].length"), and the encoder with its
 * output cap as a parameter so tests can reach the limit without 256 MiB.
 */
#ifndef UPK_JSON_INTERNAL_H
#define UPK_JSON_INTERNAL_H

#include <stddef.h>
#include <jansson.h>

#include "upkeep/json.h"

/* The largest canonical encoding upk_cjson_encode() will produce. */
#define CJSON_MAX_BYTES ((size_t)256 * 1024 * 1024)
/* Deepest nesting of arrays and objects the encoder follows. */
#define CJSON_MAX_DEPTH 64

/*
 * One step from a container to a member: an object key (borrowed, key_len
 * bytes, may hold NUL in hand-built trees) or, when key is NULL, an index.
 * Walkers keep a stack of these and format it only when something is wrong,
 * so the good path pays nothing for error messages.
 */
struct json_path_seg {
	const char *key;
	size_t key_len;
	size_t index;
};

/*
 * Write "$" followed by the n segments into buf (always NUL-terminated,
 * truncated with "..." when it does not fit). Keys that are not plain
 * identifiers are bracketed and quoted, with control bytes escaped.
 */
void json_path_format(char *buf, size_t size, const struct json_path_seg *segs, size_t n);

/* upk_cjson_encode() with the output cap given; max_bytes excludes the NUL. */
upk_status cjson_encode_max(const json_t *value, size_t max_bytes, char **out, size_t *out_len,
			    struct upk_error *err);

#endif
