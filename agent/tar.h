/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A push-mode, bounded tar reader: bytes go in as they arrive (from the
 * download, through the decompressor), entries come out through callbacks.
 * POSIX ustar and pax, GNU long names; no seeking, no whole-file buffering.
 */
#ifndef UPKEEP_AGENT_TAR_H
#define UPKEEP_AGENT_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

#define TAR_MAX_PATH 4096u  /* bytes of a path or link target */
#define TAR_MAX_META 65536u /* bytes of one pax header or GNU long name entry */

enum tar_type {
	TAR_FILE = 1,
	TAR_DIR = 2,
	TAR_SYMLINK = 3,
	TAR_HARDLINK = 4,
	TAR_CHAR = 5, /* device nodes and FIFOs are reported so callers can refuse them by name */
	TAR_BLOCK = 6,
	TAR_FIFO = 7,
};

struct tar_entry {
	enum tar_type type;
	const char *path; /* as written in the archive, NUL-terminated, not checked for safety */
	const char *linkpath; /* symlink and hard link targets, else "" */
	uint64_t size;        /* bytes of data (regular files only; 0 otherwise) */
	unsigned mode;        /* permission bits as written (07777) */
	int64_t mtime;        /* seconds since the epoch */
};

struct tar_callbacks {
	/* A new entry; its data (size bytes) follows through data(), then end(). */
	upk_status (*begin)(void *ctx, const struct tar_entry *e, struct upk_error *err);
	upk_status (*data)(void *ctx, const void *buf, size_t len, struct upk_error *err);
	upk_status (*end)(void *ctx, struct upk_error *err);
};

struct tar_reader;

upk_status tar_reader_new(const struct tar_callbacks *cb, void *ctx, struct tar_reader **out,
                          struct upk_error *err);
/*
 * Feed the next bytes. Malformed headers (bad checksum, bad numbers, unknown
 * magic), unsupported entry types (GNU sparse, multi-volume...), oversized
 * paths or pax data are refused with UPK_ERR_INVALID / UPK_ERR_UNSUPPORTED /
 * UPK_ERR_TOO_LARGE naming the entry and the archive offset. Bytes after the
 * end-of-archive marker must be zero.
 */
upk_status tar_reader_feed(struct tar_reader *r, const void *data, size_t len,
                           struct upk_error *err);
/* At end of input: UPK_ERR_INVALID unless the end-of-archive marker was seen (truncation). */
upk_status tar_reader_finish(struct tar_reader *r, struct upk_error *err);
void tar_reader_free(struct tar_reader *r);

#endif
