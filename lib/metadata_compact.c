/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact targets roles. A parsed targets role keeps its document bytes and
 * an index of its entries (decoded path, span of the entry's value) instead
 * of a jansson object per entry: 2,500 entries cost about 0.4 MiB rather
 * than 2.3 MiB, and parsing them is one pass of json_scan.c. Entries become
 * jansson values only when asked for (and are kept then, since callers
 * borrow them); canonical bytes for signatures come from the document
 * bytes. Anything that changes the role, or wants its whole tree, first
 * turns it back into an ordinary jansson document (md_materialize()).
 */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "metadata_internal.h"
#include "upkeep/json.h"

struct md_entry {
	const char *path; /* decoded, NUL-terminated, in paths */
	struct jspan value;
};

struct md_compact {
	char *buf; /* the document as parsed */
	size_t len;
	struct jspan signed_span; /* what signatures cover */
	int signed_canonical;     /* ... already in canonical form */
	struct md_entry *entries; /* document order, then sorted by md_compact_index() */
	size_t n;
	char *paths;
	json_t **cache; /* entries built for callers, index as entries; NULL until needed */
};

void md_compact_free(struct md_compact *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->cache != NULL && i < c->n; i++)
		json_decref(c->cache[i]);
	free(c->cache);
	free(c->entries);
	free(c->paths);
	free(c->buf);
	free(c);
}

/* The members of $.signed.targets: copy the decoded paths, remember the value spans. */
static int collect_entries(void *ctx, const struct jmember *m, size_t n)
{
	struct md_compact *c = ctx;
	size_t total = 0, at = 0;

	/* A second "targets" is refused by the validation after this call. */
	free(c->entries);
	free(c->paths);
	c->n = 0;
	for (size_t i = 0; i < n; i++)
		total += m[i].key_len + 1;
	c->entries = malloc((n ? n : 1) * sizeof(*c->entries));
	c->paths = malloc(total ? total : 1);
	if (c->entries == NULL || c->paths == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		memcpy(c->paths + at, m[i].key, m[i].key_len);
		c->paths[at + m[i].key_len] = '\0';
		c->entries[i] = (struct md_entry){c->paths + at, m[i].value};
		at += m[i].key_len + 1;
	}
	c->n = n;
	return 0;
}

static int is_string(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

upk_status md_scan_parse(const void *buf, size_t len, const struct upk_metadata_limits *limits,
			 json_t **doc_out, struct md_compact **compact_out)
{
	static const char *const path[] = {"signed", "targets"};
	struct md_compact *c = calloc(1, sizeof(*c));
	struct jwatch watch = {.path = path, .depth = 2, .members = collect_entries, .ctx = c};
	struct jspan skip = {0, 0};
	json_t *doc = NULL, *signed_, *targets;
	upk_status ret = UPK_ERR_INVALID;

	if (c == NULL)
		return UPK_ERR_NOMEM;
	if (!jscan_validate(buf, len, limits->max_bytes, UPK_JSON_DEFAULT_MAX_DEPTH, &watch))
		goto out;
	/* A targets object: leave its entries in the bytes. */
	if ((watch.found & 4) && ((const char *)buf)[watch.at[2].start] == '{')
		skip = watch.at[2];
	if (jscan_build(buf, watch.at[0], skip, &doc, NULL) != UPK_OK)
		goto out;
	signed_ = json_object_get(doc, "signed");
	if (skip.start == skip.end || !is_string(json_object_get(signed_, "_type"), "targets")) {
		/* Not a targets role after all: an ordinary document, fully built. */
		if (skip.start != skip.end &&
		    (jscan_build(buf, skip, (struct jspan){0, 0}, &targets, NULL) != UPK_OK ||
		     json_object_set_new(signed_, "targets", targets) != 0))
			goto out;
		*doc_out = doc;
		*compact_out = NULL;
		doc = NULL;
		ret = UPK_OK;
		goto out;
	}
	c->buf = malloc(len);
	if (c->buf == NULL)
		goto out;
	memcpy(c->buf, buf, len);
	c->len = len;
	c->signed_span = watch.at[1];
	c->signed_canonical = (watch.canonical & 2) != 0;
	*doc_out = doc;
	*compact_out = c;
	doc = NULL;
	c = NULL;
	ret = UPK_OK;
out:
	json_decref(doc);
	md_compact_free(c);
	return ret;
}

static int is_key(const struct jmember *m, const char *name)
{
	return !m->key_in_scratch && m->key_len == strlen(name) &&
	       memcmp(m->key, name, m->key_len) == 0;
}

/* The "hashes" object as md_check_hashes() accepts it, spelled without escapes. */
static int plainly_valid_hashes(const char *buf, struct jspan obj)
{
	struct jmember m;
	size_t pos = 0, n = 0;

	if (buf[obj.start] != '{')
		return 0;
	while (jscan_next_member(buf, obj, &pos, &m)) {
		char alg[16];
		enum upk_hash_alg a;
		const char *hex;
		size_t len;

		if (++n > 16 || m.key_in_scratch || !jscan_plain_string(buf, m.value, &hex, &len) ||
		    len == 0 || len > 1024 || !md_is_hex(hex, len))
			return 0;
		/* Longer names are no algorithm we know, as for md_check_hashes(). */
		if (m.key_len < sizeof(alg)) {
			memcpy(alg, m.key, m.key_len);
			alg[m.key_len] = '\0';
			if (upk_hash_alg_from_name(alg, &a, NULL) == UPK_OK &&
			    len != 2 * upk_hash_alg_len(a))
				return 0;
		}
	}
	return n > 0;
}

/*
 * 1 when md_check_target() would surely accept the entry, seen in the
 * bytes: the common shape, with no escapes where they could matter. 0
 * means "let md_check_target() decide" (and word the error), never "bad".
 */
static int plainly_valid_entry(const struct md_compact *c, const struct md_entry *e)
{
	size_t pos = 0, plen = strlen(e->path);
	int length = 0, hashes = 0;
	struct jmember m;
	int64_t v;

	if (plen == 0 || plen > UPK_MD_MAX_PATH || c->buf[e->value.start] != '{')
		return 0;
	while (jscan_next_member(c->buf, e->value, &pos, &m)) {
		if (m.key_in_scratch)
			return 0;
		if (is_key(&m, "length")) {
			if (!jscan_integer(c->buf, m.value, &v) || v < 0)
				return 0;
			length = 1;
		} else if (is_key(&m, "hashes")) {
			if (!plainly_valid_hashes(c->buf, m.value))
				return 0;
			hashes = 1;
		} else if (is_key(&m, "custom") && c->buf[m.value.start] != '{') {
			return 0;
		}
	}
	return length && hashes;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct md_entry *)a)->path, ((const struct md_entry *)b)->path);
}

upk_status md_compact_index(struct upk_metadata *md, struct upk_error *err)
{
	struct md_compact *c = md->compact;
	int sorted = 1;
	upk_status ret;

	if (c->n > md->limits.max_targets)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu targets, at most %zu allowed",
				     c->n, md->limits.max_targets);
	/* Document order, so the first bad entry is the one jansson's walk would report. */
	for (size_t i = 0; i < c->n; i++) {
		json_t *t = NULL;

		if (!plainly_valid_entry(c, &c->entries[i])) {
			ret = jscan_build(c->buf, c->entries[i].value, (struct jspan){0, 0}, &t,
					  err);
			if (ret == UPK_OK)
				ret = md_check_target(c->entries[i].path, t, err);
			json_decref(t);
			if (ret != UPK_OK)
				return ret;
		}
		if (i > 0 && strcmp(c->entries[i - 1].path, c->entries[i].path) > 0)
			sorted = 0;
	}
	/* Documents written with sorted keys (ours, securesystemslib's) need no sort. */
	if (!sorted)
		qsort(c->entries, c->n, sizeof(*c->entries), entry_cmp);
	md->names = calloc(c->n + 1, sizeof(*md->names));
	if (md->names == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++)
		md->names[i] = c->entries[i].path;
	md->n_names = c->n;
	return UPK_OK;
}

upk_status md_compact_entry(const struct upk_metadata *md, size_t i, const json_t **out,
			    struct upk_error *err)
{
	struct md_compact *c = md->compact;
	upk_status ret;

	/* Logically const: the entry is built once and kept, since callers borrow it. */
	if (c->cache == NULL) {
		c->cache = calloc(c->n, sizeof(*c->cache));
		if (c->cache == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	if (c->cache[i] == NULL) {
		ret = jscan_build(c->buf, c->entries[i].value, (struct jspan){0, 0}, &c->cache[i],
				  err);
		if (ret != UPK_OK)
			return ret;
	}
	*out = c->cache[i];
	return UPK_OK;
}

upk_status md_compact_canonical(const struct upk_metadata *md, char **out, size_t *len,
				struct upk_error *err)
{
	return jscan_canonical(md->compact->buf, md->compact->signed_span, out, len, err);
}

int md_compact_signed_in_place(const struct upk_metadata *md, const char **bytes, size_t *len)
{
	const struct md_compact *c = md->compact;

	if (!c->signed_canonical)
		return 0;
	*bytes = c->buf + c->signed_span.start;
	*len = c->signed_span.end - c->signed_span.start;
	return 1;
}

upk_status md_materialize(struct upk_metadata *md, struct upk_error *err)
{
	struct md_compact *c = md->compact;
	json_t *targets;

	if (c == NULL)
		return UPK_OK;
	targets = json_object();
	if (targets == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->n; i++) {
		const json_t *t = NULL;

		/* Built entries move into the tree, so what callers borrowed stays valid. */
		if (md_compact_entry(md, i, &t, err) != UPK_OK ||
		    json_object_set_nocheck(targets, c->entries[i].path, (json_t *)t) != 0) {
			json_decref(targets);
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		}
	}
	if (json_object_set_new(md->signed_, "targets", targets) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	/* names keep pointing at the decoded paths, which callers may have borrowed. */
	md->compact_paths = c->paths;
	c->paths = NULL;
	md->compact = NULL;
	md_compact_free(c);
	return UPK_OK;
}
