/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the push-mode tar reader: arbitrary bytes, fed in
 * chunks of a size taken from the input, must give the same verdict as when
 * fed at once, and every entry must be bounded and NUL-terminated.
 */
#include <stdint.h>
#include <string.h>

#include "../agent/tar.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
	unsigned entries;
	uint64_t bytes, expected;
	int open;
};

static upk_status on_begin(void *ctx, const struct tar_entry *e, struct upk_error *err)
{
	struct count *c = ctx;
	(void)err;
	if (c->open || strlen(e->path) > TAR_MAX_PATH || strlen(e->linkpath) > TAR_MAX_PATH)
		__builtin_trap();
	c->entries++;
	c->open = 1;
	c->expected = e->size;
	c->bytes = 0;
	return UPK_OK;
}

static upk_status on_data(void *ctx, const void *buf, size_t len, struct upk_error *err)
{
	struct count *c = ctx;
	(void)buf, (void)err;
	c->bytes += len;
	if (!c->open || c->bytes > c->expected)
		__builtin_trap();
	return UPK_OK;
}

static upk_status on_end(void *ctx, struct upk_error *err)
{
	struct count *c = ctx;
	(void)err;
	if (!c->open || c->bytes != c->expected)
		__builtin_trap();
	c->open = 0;
	return UPK_OK;
}

static upk_status run(const uint8_t *data, size_t size, size_t chunk, struct count *c)
{
	static const struct tar_callbacks cb = {on_begin, on_data, on_end};
	struct tar_reader *r = NULL;
	upk_status ret;

	memset(c, 0, sizeof(*c));
	if (tar_reader_new(&cb, c, &r, NULL) != UPK_OK)
		return UPK_ERR_NOMEM;
	ret = UPK_OK;
	for (size_t off = 0; ret == UPK_OK && off < size; off += chunk)
		ret = tar_reader_feed(r, data + off, size - off < chunk ? size - off : chunk, NULL);
	if (ret == UPK_OK)
		ret = tar_reader_finish(r, NULL);
	tar_reader_free(r);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct count a, b;
	size_t chunk = size > 0 ? (size_t)data[0] % 97 + 1 : 1;
	upk_status ra = run(data, size, size > 0 ? size : 1, &a);
	upk_status rb = run(data, size, chunk, &b);

	if (ra != rb || a.entries != b.entries)
		__builtin_trap();
	return 0;
}
