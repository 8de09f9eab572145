/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one small I/O layer that every file and block write of the agent goes
 * through: EINTR and short transfers are handled once here, errors name the
 * file, and tests inject faults (short writes, EINTR, ENOSPC, crashes).
 */
#ifndef UPKEEP_AGENT_FILEIO_H
#define UPKEEP_AGENT_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "upkeep/error.h"

/* Operations a fault hook sees. Append-only: fault specs name them. */
enum fio_op {
	FIO_OP_OPEN = 0,
	FIO_OP_READ = 1,
	FIO_OP_WRITE = 2,
	FIO_OP_FSYNC = 3, /* fsync, fdatasync and syncfs */
	FIO_OP_RENAME = 4,
	FIO_OP_MKDIR = 5,
	FIO_OP_SYMLINK = 6,
	FIO_OP_UNLINK = 7,
};

/*
 * Called before each operation. Return 0 to let it run (for reads and writes
 * *len may be lowered, never below 1, to force a short transfer), or an errno
 * value to make it fail with that error without running (EINTR is retried by
 * this layer like a real one). A hook may also end the process to simulate a
 * crash. what is the path or description of the file.
 */
typedef int (*fio_fault_fn)(void *arg, enum fio_op op, const char *what, size_t *len);

/*
 * Install (fn non-NULL) or remove the process-wide fault hook. For tests and
 * crash injection only: the agent never sets one unless UPKEEP_FAULT is set.
 */
void fio_set_fault_hook(fio_fault_fn fn, void *arg);

/*
 * A ready-made fault plan for fio_plan_hook. Counting starts at install time.
 *   op, after_bytes: once more than after_bytes bytes went through op (read or
 *     write) -- or, for other ops, once after_calls calls of op were made --
 *     the fault fires: fail with error (e.g. ENOSPC, EIO), or crash
 *     (SIGKILL, like a power cut for the process) when crash is set;
 *     only_path: when non-NULL the fault fires only for this path;
 *   short_io: cut every read and write to at most short_io bytes;
 *   eintr_every: fail every Nth read or write with EINTR.
 */
struct fio_fault_plan {
	int enabled;
	enum fio_op op;
	uint64_t after_bytes;
	uint64_t after_calls;
	int error;
	int crash;
	const char *only_path;
	size_t short_io;
	unsigned eintr_every;
	/* bookkeeping, zero at install */
	uint64_t bytes_seen;
	uint64_t calls_seen;
	uint64_t io_calls;
	unsigned fired;
};
int fio_plan_hook(void *plan, enum fio_op op, const char *what, size_t *len);

/*
 * Parse a fault spec as used in UPKEEP_FAULT, comma-separated items:
 *   OP:ERRNO@N   fail OP (open|read|write|fsync|rename|mkdir|symlink|unlink)
 *                with ERRNO (enospc|eio|eintr|crash) after N bytes (read,
 *                write) or N calls (others)
 *   short=N      cut every read and write to N bytes
 *   eintr=N      every Nth read or write fails with EINTR first
 * e.g. "write:enospc@1048576,short=4093".
 */
upk_status fio_plan_parse(const char *spec, struct fio_fault_plan *plan, struct upk_error *err);

/*
 * Tests only (UPKEEP_POWERCUT_LOG): append to fd one line per write
 * ("W OFFSET LEN PATH"), waited-for sync_file_range ("R OFFSET LEN PATH") and
 * fsync/syncfs ("S 0 0 PATH"), so a harness can drop, after a SIGKILL, the
 * writes a power cut would have lost. fd -1 turns it off.
 */
void fio_set_write_log(int fd);

/* open(2); what names the file in messages (normally path). */
upk_status fio_open(const char *path, int flags, mode_t mode, int *fd, struct upk_error *err);
upk_status fio_openat(int dirfd, const char *path, const char *what, int flags, mode_t mode,
                      int *fd, struct upk_error *err);

/* Write all of buf, retrying EINTR and short writes. A write of 0 bytes is an error. */
upk_status fio_write_all(int fd, const void *buf, size_t len, const char *what,
                         struct upk_error *err);

/* Read up to len bytes; *got < len only at end of file. */
upk_status fio_read_full(int fd, void *buf, size_t len, size_t *got, const char *what,
                         struct upk_error *err);

/* pread(2) of up to len bytes at offset; *got < len only at end of file. */
upk_status fio_pread_full(int fd, void *buf, size_t len, uint64_t offset, size_t *got,
                          const char *what, struct upk_error *err);

/*
 * sync_file_range(2): start writeback of a range (flags as the syscall), so
 * long writes reach the medium while more data arrives. Not a durability
 * guarantee by itself (no device cache flush, no metadata): fsync is.
 */
upk_status fio_sync_range(int fd, uint64_t offset, uint64_t len, unsigned flags, const char *what,
                          struct upk_error *err);

/* fsync(2) / syncfs(2) with a message naming what. */
upk_status fio_fsync(int fd, const char *what, struct upk_error *err);
upk_status fio_syncfs(int fd, const char *what, struct upk_error *err);

/* fsync the directory that holds path (so a new or renamed name is durable). */
upk_status fio_fsync_parent(const char *path, struct upk_error *err);
upk_status fio_fsync_dir(const char *dir, struct upk_error *err);

upk_status fio_rename(const char *from, const char *to, struct upk_error *err);
upk_status fio_renameat(int fromdir, const char *from, int todir, const char *to, const char *what,
                        struct upk_error *err);
upk_status fio_mkdirat(int dirfd, const char *path, const char *what, mode_t mode,
                       struct upk_error *err);
upk_status fio_symlinkat(const char *target, int dirfd, const char *path, const char *what,
                         struct upk_error *err);
/* unlinkat(2); a missing name is fine when missing_ok. */
upk_status fio_unlinkat(int dirfd, const char *path, int flags, int missing_ok, const char *what,
                        struct upk_error *err);

/* Make dir and its missing parents with mode (existing directories are kept as they are). */
upk_status fio_mkdir_p(const char *dir, mode_t mode, struct upk_error *err);

/* Remove a directory tree without following symlinks. A missing path is fine. */
upk_status fio_rmtree(const char *path, struct upk_error *err);

/* close(2) for descriptors that were written: a failing close is an I/O error. */
upk_status fio_close(int *fd, const char *what, struct upk_error *err);
/* close(2) ignoring errors (read-only descriptors, cleanup paths); *fd becomes -1. */
void fio_close_quiet(int *fd);

/*
 * Replace path atomically with data: write a temporary file beside it, fsync
 * it, rename it over path and fsync the directory. Readers see the old or the
 * new content, never a mix, whatever happens in between.
 */
upk_status fio_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                 struct upk_error *err);

/*
 * Read a whole file of at most max bytes into a malloc()ed, NUL-terminated
 * buffer. Missing file: UPK_ERR_NOT_FOUND; larger: UPK_ERR_TOO_LARGE.
 */
upk_status fio_read_file(const char *path, size_t max, char **buf, size_t *len,
                         struct upk_error *err);

/* Join a and b with one '/' into a malloc()ed string; NULL when out of memory. */
char *fio_path_join(const char *a, const char *b);

#endif
