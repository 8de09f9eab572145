/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zstd streaming decompression with bounded memory, or a raw pass-through,
 * behind one push interface so installers do not care which they get.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "decompress.h"

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

struct decomp {
	enum decomp_mode mode; /* DECOMP_AUTO until the magic is decided */
	uint64_t max_out, total_out;
	decomp_out_fn out;
	void *ctx;
	unsigned char head[4]; /* first bytes, held back until the format is known */
	size_t head_len;
	ZSTD_DStream *zs;
	unsigned char *zbuf;
	size_t zbuf_cap;
	size_t last_ret; /* ZSTD_decompressStream's last hint: 0 at a frame end */
	int fed;         /* any zstd input seen */
};

upk_status decomp_new(enum decomp_mode mode, uint64_t max_out, decomp_out_fn out, void *ctx,
                      struct decomp **d, struct upk_error *err)
{
	struct decomp *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	z->mode = mode;
	z->max_out = max_out;
	z->out = out;
	z->ctx = ctx;
	*d = z;
	return UPK_OK;
}

static upk_status emit(struct decomp *d, const void *data, size_t len, struct upk_error *err)
{
	if (len == 0)
		return UPK_OK;
	if (len > d->max_out - d->total_out)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "decompressed data exceeds the limit of %llu bytes",
		                     (unsigned long long)d->max_out);
	d->total_out += len;
	return d->out(d->ctx, data, len, err);
}

static upk_status zstd_start(struct decomp *d, struct upk_error *err)
{
	size_t r;

	d->zs = ZSTD_createDStream();
	d->zbuf_cap = ZSTD_DStreamOutSize();
	d->zbuf = malloc(d->zbuf_cap);
	if (d->zs == NULL || d->zbuf == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for zstd");
	r = ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax, DECOMP_ZSTD_WINDOW_LOG_MAX);
	if (ZSTD_isError(r))
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "zstd: %s", ZSTD_getErrorName(r));
	return UPK_OK;
}

static upk_status zstd_feed(struct decomp *d, const void *data, size_t len, struct upk_error *err)
{
	ZSTD_inBuffer in = {data, len, 0};
	int full = 0;
	upk_status ret;

	d->fed = 1;
	/* Until the input is used up and zstd holds no more output for it. */
	while (in.pos < in.size || full) {
		ZSTD_outBuffer o = {d->zbuf, d->zbuf_cap, 0};
		size_t before = in.pos;
		size_t r = ZSTD_decompressStream(d->zs, &o, &in);

		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
				return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				                     "zstd frame needs a window over %u MiB (made "
				                     "with --long or --ultra?)",
				                     1u << (DECOMP_ZSTD_WINDOW_LOG_MAX - 20));
			return upk_error_set(err, UPK_ERR_INVALID, "zstd: %s",
			                     ZSTD_getErrorName(r));
		}
		/*
		 * The hint is 0 exactly at the end of a frame. A call that made no
		 * progress (after a frame ended) would report the next frame's
		 * header size instead, so only calls that did something count.
		 */
		if (in.pos != before || o.pos > 0)
			d->last_ret = r;
		ret = emit(d, d->zbuf, o.pos, err);
		if (ret != UPK_OK)
			return ret;
		full = o.pos == o.size;
	}
	return UPK_OK;
}

static upk_status decide(struct decomp *d, struct upk_error *err)
{
	upk_status ret;

	if (d->mode == DECOMP_AUTO)
		d->mode = d->head_len == 4 && memcmp(d->head, zstd_magic, 4) == 0 ? DECOMP_ZSTD
		                                                                  : DECOMP_RAW;
	if (d->mode == DECOMP_ZSTD) {
		ret = zstd_start(d, err);
		if (ret != UPK_OK)
			return ret;
		return d->head_len > 0 ? zstd_feed(d, d->head, d->head_len, err) : UPK_OK;
	}
	return emit(d, d->head, d->head_len, err);
}

upk_status decomp_write(struct decomp *d, const void *data, size_t len, struct upk_error *err)
{
	const unsigned char *p = data;
	upk_status ret;

	if (d->mode == DECOMP_AUTO || (d->mode == DECOMP_ZSTD && d->zs == NULL)) {
		if (d->mode == DECOMP_ZSTD) {
			ret = zstd_start(d, err);
			if (ret != UPK_OK)
				return ret;
		} else {
			size_t take = 4 - d->head_len < len ? 4 - d->head_len : len;
			memcpy(d->head + d->head_len, p, take);
			d->head_len += take;
			p += take;
			len -= take;
			if (d->head_len < 4)
				return UPK_OK;
			ret = decide(d, err);
			if (ret != UPK_OK)
				return ret;
		}
	}
	if (len == 0)
		return UPK_OK;
	if (d->mode == DECOMP_ZSTD)
		return zstd_feed(d, p, len, err);
	return emit(d, p, len, err);
}

upk_status decomp_finish(struct decomp *d, struct upk_error *err)
{
	upk_status ret;

	if (d->mode == DECOMP_AUTO) {
		/* Fewer than 4 bytes in all: too short for zstd, so raw. */
		ret = decide(d, err);
		if (ret != UPK_OK)
			return ret;
	}
	if (d->mode == DECOMP_ZSTD && (!d->fed || d->last_ret != 0))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "zstd data truncated: the last frame does not end");
	return UPK_OK;
}

int decomp_is_zstd(const struct decomp *d)
{
	return d->mode == DECOMP_ZSTD;
}

uint64_t decomp_bytes_out(const struct decomp *d)
{
	return d->total_out;
}

void decomp_free(struct decomp *d)
{
	if (d == NULL)
		return;
	ZSTD_freeDStream(d->zs);
	free(d->zbuf);
	free(d);
}
