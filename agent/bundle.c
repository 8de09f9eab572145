/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bundle reading: an index of the ustar members (name, offset, size) made
 * from the headers alone, and a fetcher that streams a member with pread.
 * Nothing in a bundle is trusted: the TUF client verifies every byte.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "fileio.h"

#define TAR_BLOCK 512u

struct member {
	char *name;
	uint64_t offset;
	uint64_t size;
};

struct bundle {
	struct upk_fetcher f; /* first: the fetcher's ctx is the bundle */
	char *path;
	int fd;
	struct member *m;
	size_t n;
};

/* An octal field of a ustar header (NUL- or space-terminated). */
static int octal(const unsigned char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return -1;
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	if (i < len && p[i] != '\0' && p[i] != ' ')
		return -1;
	*out = v;
	return 0;
}

static int block_is_zero(const unsigned char *b)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static int name_ok(const char *n)
{
	if (n[0] == '\0' || n[0] == '/')
		return 0;
	for (const char *p = n; *p != '\0'; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return 0;
	return 1;
}

static upk_status add_member(struct bundle *b, const char *name, uint64_t off, uint64_t size,
                             struct upk_error *err)
{
	struct member *nm;

	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->m[i].name, name) == 0)
			return upk_error_set(err, UPK_ERR_INVALID, "bundle %s: \"%s\" appears twice",
			                     b->path, name);
	if (b->n >= BUNDLE_MAX_ENTRIES)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "bundle %s: more than %u entries",
		                     b->path, BUNDLE_MAX_ENTRIES);
	nm = realloc(b->m, (b->n + 1) * sizeof(*nm));
	if (nm == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	b->m = nm;
	b->m[b->n].name = strdup(name);
	if (b->m[b->n].name == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	b->m[b->n].offset = off;
	b->m[b->n].size = size;
	b->n++;
	return UPK_OK;
}

static upk_status index_tar(struct bundle *b, struct upk_error *err)
{
	unsigned char h[TAR_BLOCK];
	uint64_t off = 0;

	for (;;) {
		char name[BUNDLE_NAME_MAX + 2];
		uint64_t size = 0;
		size_t got = 0, plen, nlen;
		upk_status ret;

		ret = fio_pread_full(b->fd, h, TAR_BLOCK, off, &got, b->path, err);
		if (ret != UPK_OK)
			return ret;
		if (got < TAR_BLOCK)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "bundle %s: truncated at byte %llu (no end-of-archive)",
			                     b->path, (unsigned long long)off);
		if (block_is_zero(h))
			return UPK_OK;
		if (memcmp(h + 257, "ustar", 5) != 0 || octal(h + 124, 12, &size) != 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "bundle %s: not a ustar header at byte %llu", b->path,
			                     (unsigned long long)off);
		plen = strnlen((const char *)h + 345, 155);
		nlen = strnlen((const char *)h, 100);
		if (plen > 0)
			snprintf(name, sizeof(name), "%.*s/%.*s", (int)plen, (const char *)h + 345,
			         (int)nlen, (const char *)h);
		else
			snprintf(name, sizeof(name), "%.*s", (int)nlen, (const char *)h);
		if (!name_ok(name))
			return upk_error_set(err, UPK_ERR_INVALID, "bundle %s: bad member name \"%s\"",
			                     b->path, name);
		off += TAR_BLOCK;
		if (h[156] == '0' || h[156] == '\0') {
			ret = add_member(b, name, off, size, err);
			if (ret != UPK_OK)
				return ret;
		} else if (h[156] != '5') {
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "bundle %s: \"%s\" is not a regular file or directory",
			                     b->path, name);
		}
		if (size > UINT64_MAX - off - TAR_BLOCK)
			return upk_error_set(err, UPK_ERR_INVALID, "bundle %s: bad size of \"%s\"",
			                     b->path, name);
		off += (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	}
}

static const struct member *find(const struct bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->m[i].name, name) == 0)
			return &b->m[i];
	return NULL;
}

/* "targets/DIR/HASH.NAME" -> "targets/DIR/NAME" when the basename starts with hex and a dot. */
static int strip_hash(const char *name, char *out, size_t cap)
{
	const char *base = strrchr(name, '/');
	size_t hex = 0;

	base = base != NULL ? base + 1 : name;
	while (base[hex] != '\0' && strchr("0123456789abcdef", base[hex]) != NULL)
		hex++;
	if ((hex != 64 && hex != 128) || base[hex] != '.')
		return 0;
	return snprintf(out, cap, "%.*s%s", (int)(base - name), name, base + hex + 1) <
	       (int)cap;
}

static upk_status bundle_fetch_range(void *ctx, const char *url, uint64_t offset,
                                     uint64_t max_len, upk_sink_fn sink, void *sink_ctx,
                                     struct upk_error *err)
{
	struct bundle *b = ctx;
	const struct member *m = NULL;
	char alt[BUNDLE_NAME_MAX + 2];
	unsigned char buf[64 * 1024];
	uint64_t pos, end;

	if (strncmp(url, BUNDLE_URL, strlen(BUNDLE_URL)) == 0)
		m = find(b, url + strlen(BUNDLE_URL));
	if (m == NULL && strncmp(url, BUNDLE_URL "targets/", strlen(BUNDLE_URL) + 8) == 0 &&
	    strip_hash(url + strlen(BUNDLE_URL), alt, sizeof(alt)))
		m = find(b, alt);
	if (m == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: not in bundle %s", url, b->path);
	if (offset > m->size)
		return upk_error_set(err, UPK_ERR_IO, "%s: offset %llu past the end", url,
		                     (unsigned long long)offset);
	if (m->size - offset > max_len)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %llu bytes, more than the limit %llu",
		                     url, (unsigned long long)(m->size - offset),
		                     (unsigned long long)max_len);
	pos = m->offset + offset;
	end = m->offset + m->size;
	while (pos < end) {
		size_t want = end - pos < sizeof(buf) ? (size_t)(end - pos) : sizeof(buf), got = 0;
		upk_status ret = fio_pread_full(b->fd, buf, want, pos, &got, b->path, err);

		if (ret != UPK_OK)
			return ret;
		if (got < want)
			return upk_error_set(err, UPK_ERR_IO, "bundle %s: truncated inside %s",
			                     b->path, url);
		ret = sink(sink_ctx, buf, got, err);
		if (ret != UPK_OK)
			return ret;
		pos += got;
	}
	return UPK_OK;
}

static upk_status bundle_fetch(void *ctx, const char *url, uint64_t max_len, upk_sink_fn sink,
                               void *sink_ctx, struct upk_error *err)
{
	return bundle_fetch_range(ctx, url, 0, max_len, sink, sink_ctx, err);
}

upk_status bundle_open(const char *path, struct bundle **out, struct upk_error *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	upk_status ret;

	if (b == NULL || (b->path = strdup(path)) == NULL) {
		free(b);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	b->fd = -1;
	ret = fio_open(path, O_RDONLY | O_CLOEXEC, 0, &b->fd, err);
	if (ret == UPK_OK)
		ret = index_tar(b, err);
	if (ret != UPK_OK) {
		bundle_close(b);
		return ret;
	}
	b->f.fetch = bundle_fetch;
	b->f.fetch_range = bundle_fetch_range;
	b->f.ctx = b;
	*out = b;
	return UPK_OK;
}

const struct upk_fetcher *bundle_fetcher(struct bundle *b)
{
	return &b->f;
}

void bundle_close(struct bundle *b)
{
	if (b == NULL)
		return;
	fio_close_quiet(&b->fd);
	for (size_t i = 0; i < b->n; i++)
		free(b->m[i].name);
	free(b->m);
	free(b->path);
	free(b);
}
