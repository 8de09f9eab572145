/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming decompression between the download and an installer: zstd
 * recognised by its magic number (or forced), raw bytes passed through.
 * Memory is bounded: the zstd window is capped at DECOMP_ZSTD_WINDOW_LOG_MAX.
 */
#ifndef UPKEEP_AGENT_DECOMPRESS_H
#define UPKEEP_AGENT_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

/*
 * 2^23 = 8 MiB: what `zstd -1` to `zstd -19` use for large inputs. Frames
 * made with --long or --ultra need more and are refused with a clear error.
 */
#define DECOMP_ZSTD_WINDOW_LOG_MAX 23

enum decomp_mode {
	DECOMP_AUTO = 0, /* zstd when the data starts with its magic, raw otherwise */
	DECOMP_RAW = 1,
	DECOMP_ZSTD = 2,
};

typedef upk_status (*decomp_out_fn)(void *ctx, const void *data, size_t len, struct upk_error *err);

struct decomp;

/* Output goes to out(ctx, ...) in order. More than max_out output bytes is UPK_ERR_TOO_LARGE. */
upk_status decomp_new(enum decomp_mode mode, uint64_t max_out, decomp_out_fn out, void *ctx,
                      struct decomp **d, struct upk_error *err);
upk_status decomp_write(struct decomp *d, const void *data, size_t len, struct upk_error *err);
/* End of input: a zstd frame that did not end is UPK_ERR_INVALID (truncated). */
upk_status decomp_finish(struct decomp *d, struct upk_error *err);
/* 1 when the input is zstd (known after the first 4 bytes). */
int decomp_is_zstd(const struct decomp *d);
uint64_t decomp_bytes_out(const struct decomp *d);
void decomp_free(struct decomp *d);

#endif
