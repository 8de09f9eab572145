/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict JSON scanner that works on the document's bytes in place. It
 * accepts exactly what upk_json_parse() accepts (fuzz/fuzz_json_scan.c holds
 * the two to the same verdict, tree and canonical bytes) and then hands out
 * parts of the document as spans, as canonical JSON or as jansson values, so
 * that a targets role with thousands of entries need not live in memory as
 * thousands of jansson objects.
 */
#ifndef UPK_JSON_SCAN_H
#define UPK_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

/* The bytes buf[start, end) of one value. */
struct jspan {
	size_t start, end;
};

/* An object member as the scanner saw it. */
struct jmember {
	const char *key; /* decoded key, not NUL-terminated (holds no NUL) */
	size_t key_len;
	struct jspan value;
	/* Scanner-internal: where the decoded key lives until key is set. */
	size_t key_off;
	int key_in_scratch;
};

#define JWATCH_MAX_DEPTH 4

/*
 * One place in the document to report: the value reached from the
 * top-level object by the keys in path (at most JWATCH_MAX_DEPTH). When it
 * is an object, members() sees its members in document order (decoded keys
 * are valid during the call only; it may be called again for a duplicate
 * that the validation refuses later); a nonzero return makes
 * jscan_validate() fail. Along the way, at[k] is the span of the value that
 * the first k keys lead to, bit k of found says it exists (at[0] is the
 * whole document's value), and bit k of canonical that its bytes as written
 * are already its canonical form (compact, sorted keys, no escapes but \\
 * and \"), so signatures can be checked over them in place.
 */
struct jwatch {
	const char *const *path;
	size_t depth;
	int (*members)(void *ctx, const struct jmember *m, size_t n);
	void *ctx;
	unsigned found, canonical;
	struct jspan at[JWATCH_MAX_DEPTH + 1];
};

/*
 * 1 when buf[0, len) is one JSON value that upk_json_parse() with these
 * limits accepts (max_depth capped at jansson's 2048); 0 otherwise, also
 * when memory ran out. It does not say why: callers that need the reason
 * ask upk_json_parse(). watch may be NULL.
 */
int jscan_validate(const char *buf, size_t len, size_t max_bytes, size_t max_depth,
		   struct jwatch *watch);

/*
 * The canonical JSON (as upk_cjson_encode() writes it) of the value at span
 * of a document jscan_validate() accepted. *out is malloc()ed and
 * NUL-terminated; it is never longer than the span.
 */
upk_status jscan_canonical(const char *buf, struct jspan span, char **out, size_t *out_len,
			   struct upk_error *err);

/*
 * The members of the object at obj (of a validated document), one per call:
 * set *pos to 0 before the first. Returns 1 with *m filled, 0 after the
 * last. Keys are NOT decoded here: m->key is the text between the quotes,
 * and m->key_in_scratch says it has escapes (so may spell another key).
 */
int jscan_next_member(const char *buf, struct jspan obj, size_t *pos, struct jmember *m);

/* The integer at span, when it is one. */
int jscan_integer(const char *buf, struct jspan span, int64_t *out);

/* The text of the string at span, when it is one without escapes (not NUL-terminated). */
int jscan_plain_string(const char *buf, struct jspan span, const char **s, size_t *len);

/*
 * The jansson value at span of a document jscan_validate() accepted, equal
 * to what json_loadb() makes of it. A value that starts at skip.start is
 * not built: an empty object stands in for it (skip.start == skip.end
 * skips nothing). *out is a new reference.
 */
upk_status jscan_build(const char *buf, struct jspan span, struct jspan skip, json_t **out,
		       struct upk_error *err);

#endif
