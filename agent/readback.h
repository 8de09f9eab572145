/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a slot back from the medium while it is being written: a second
 * thread waits for the writeback of each window the writer started, drops
 * it from the page cache, reads it back and hashes it, so the read-back's
 * I/O and hashing overlap with the download and the writes instead of
 * following them.
 */
#ifndef UPKEEP_AGENT_READBACK_H
#define UPKEEP_AGENT_READBACK_H

#include <stdint.h>

#include "upkeep/error.h"

/* Writeback is started and read back in windows of this size. */
#define READBACK_WINDOW (16u * 1024u * 1024u)

struct readback;

/*
 * Start reading back device (the slot called slot_name), written through
 * wfd, whose writeback the writer starts window by window. At most lag
 * windows may wait to be read back (the writer blocks beyond), so the page
 * cache holds about that much of the image.
 */
upk_status readback_start(const char *device, const char *slot_name, int wfd, unsigned lag,
                          struct readback **out, struct upk_error *err);

/*
 * The writer started writeback up to byte started. Blocks while too much
 * waits to be read back. The read-back's error, if it failed.
 */
upk_status readback_advance(struct readback *rb, uint64_t started, struct upk_error *err);

/* All len bytes are durable (fsynced): read back the rest; the SHA-256 of all of them. */
upk_status readback_finish(struct readback *rb, uint64_t len, uint8_t sha256[32],
                           struct upk_error *err);

/* Stop (if still running) and free. NULL is fine. */
void readback_free(struct readback *rb);

#endif
