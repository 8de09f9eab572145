/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential: the in-place scanner (lib/json_scan.c) against the jansson
 * path (upk_json_parse + upk_cjson_encode). Both must give the same verdict
 * on every input; on accepted ones the scanner's tree must equal jansson's,
 * its canonical bytes must be identical, and the watched object
 * ($.signed.targets) must come out member by member as jansson sees it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "upkeep/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BYTES 65536
#define MAX_DEPTH 16

struct seen {
	const char *buf;
	const json_t *obj; /* jansson's $.signed.targets */
	size_t n;
	int bad;
};

/* Every member the scanner reports is one jansson has, with an equal value. */
static int check_members(void *ctx, const struct jmember *m, size_t n)
{
	struct seen *s = ctx;

	s->n = n;
	for (size_t i = 0; i < n; i++) {
		json_t *v = NULL;
		const json_t *want = json_object_getn(s->obj, m[i].key, m[i].key_len);

		if (want == NULL ||
		    jscan_build(s->buf, m[i].value, (struct jspan){0, 0}, &v, NULL) != UPK_OK ||
		    !json_equal(v, want))
			s->bad = 1;
		json_decref(v);
	}
	return 0;
}

static void same_canonical(const json_t *doc, const char *buf, struct jspan span, int in_place)
{
	char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;

	if (upk_cjson_encode(doc, &a, &a_len, NULL) != UPK_OK ||
	    jscan_canonical(buf, span, &b, &b_len, NULL) != UPK_OK || a_len != b_len ||
	    memcmp(a, b, a_len) != 0 || b[b_len] != '\0')
		abort();
	/* Flagged canonical exactly when the bytes as written are the canonical ones. */
	if (in_place != (b_len == span.end - span.start && memcmp(buf + span.start, b, b_len) == 0))
		abort();
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct upk_json_limits limits = {.max_bytes = MAX_BYTES, .max_depth = MAX_DEPTH};
	static const char *const path[] = {"signed", "targets"};
	const char *buf = (const char *)data;
	struct seen seen = {.buf = buf};
	struct jwatch watch = {.path = path, .depth = 2, .members = check_members, .ctx = &seen};
	json_t *doc = NULL, *built = NULL, *target = NULL;
	int jansson_ok, scan_ok;

	jansson_ok = upk_json_parse(data, size, &limits, &doc, NULL) == UPK_OK;
	/* The hook needs jansson's view of the watched object before the scan runs. */
	seen.obj = jansson_ok ? json_object_get(json_object_get(doc, "signed"), "targets") : NULL;
	if (!json_is_object(seen.obj))
		watch.members = NULL;
	scan_ok = jscan_validate(buf, size, MAX_BYTES, MAX_DEPTH, &watch);
	if (jansson_ok != scan_ok)
		abort();
	if (!scan_ok)
		return 0;

	/* The whole document: same tree, same canonical bytes. */
	if (jscan_build(buf, (struct jspan){0, size}, (struct jspan){0, 0}, &built, NULL) !=
	        UPK_OK ||
	    !json_equal(doc, built))
		abort();
	same_canonical(doc, buf, watch.at[0], watch.found & 1 && watch.canonical & 1);
	if (watch.found & 2)
		same_canonical(json_object_get(doc, "signed"), buf, watch.at[1],
		               (watch.canonical & 2) != 0);

	target = json_object_get(json_object_get(doc, "signed"), "targets");
	if ((target != NULL) != !!(watch.found & 4) || !(watch.found & 1))
		abort();
	if (watch.found & 4) {
		json_t *skipped = NULL;

		same_canonical(target, buf, watch.at[2], (watch.canonical & 4) != 0);
		if (json_is_object(target) && (seen.bad || seen.n != json_object_size(target)))
			abort();
		/* Skipping the watched value leaves an empty object in its place. */
		if (jscan_build(buf, (struct jspan){0, size}, watch.at[2], &skipped, NULL) !=
		    UPK_OK)
			abort();
		json_object_set_new(json_object_get(built, "signed"), "targets", json_object());
		if (!json_equal(skipped, built))
			abort();
		json_decref(skipped);
	}
	json_decref(built);
	json_decref(doc);
	return 0;
}
