/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetching a whole (small) file into memory, as metadata is: a growable
 * buffer whose hard maximum is fixed before the first byte arrives.
 */
#include <stdlib.h>
#include <string.h>

#include "upkeep/fetch.h"

struct dynbuf {
	char *data;
	size_t len, cap;
	uint64_t max;
	const char *url;
};

static upk_status dynbuf_sink(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	struct dynbuf *b = ctx;

	/* The fetcher checks too; this makes the limit hold for any fetcher. */
	if (len > b->max - b->len)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: more than the limit %llu bytes",
		                     b->url, (unsigned long long)b->max);
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = (size_t)b->max + 1;
		p = realloc(b->data, cap);
		if (p == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return UPK_OK;
}

upk_status upk_fetch_to_buffer(const struct upk_fetcher *f, const char *url, uint64_t max_len,
                               char **buf, size_t *len, struct upk_error *err)
{
	struct dynbuf b = {.max = max_len, .url = url};
	upk_status ret;

	if (max_len >= SIZE_MAX / 2)
		b.max = SIZE_MAX / 2;
	ret = f->fetch(f->ctx, url, b.max, dynbuf_sink, &b, err);
	if (ret != UPK_OK) {
		free(b.data);
		return ret;
	}
	if (b.data == NULL) {
		b.data = malloc(1);
		if (b.data == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	b.data[b.len] = '\0';
	*buf = b.data;
	*len = b.len;
	return UPK_OK;
}
