/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's file and block I/O layer: retries EINTR and short transfers,
 * words every error with the file and the call, makes replacements atomic,
 * and lets tests inject faults through one hook (as SQLite's syscall table).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

/*
 * Process-wide on purpose: faults must reach every caller without threading
 * a context through all of them. Only tests and UPKEEP_FAULT set it.
 */
static fio_fault_fn fault_fn;
static void *fault_arg;

/* Power-cut simulation: a log of writes and syncs (tests only; -1 when off). */
static int wlog_fd = -1;

void fio_set_write_log(int fd)
{
	wlog_fd = fd;
}

/*
 * One line per event, written with a single write(2) on an O_APPEND file, so
 * the log survives a SIGKILL exactly as far as the events it describes.
 */
static void wlog(char kind, const char *what, int fd, uint64_t off, uint64_t len)
{
	char line[4200];
	int n;

	if (wlog_fd < 0 || what == NULL)
		return;
	if (kind == 'W' && fd >= 0) {
		off_t cur = lseek(fd, 0, SEEK_CUR);

		if (cur < 0)
			return;
		off = (uint64_t)cur;
	}
	n = snprintf(line, sizeof(line), "%c %llu %llu %s\n", kind, (unsigned long long)off,
	             (unsigned long long)len, what);
	if (n > 0 && (size_t)n < sizeof(line) && write(wlog_fd, line, (size_t)n) < 0)
		wlog_fd = -1;
}

void fio_set_fault_hook(fio_fault_fn fn, void *arg)
{
	fault_fn = fn;
	fault_arg = arg;
}

/* Serialises the hook: the image installer reads back in a second thread. */
static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;

static int fault(enum fio_op op, const char *what, size_t *len)
{
	size_t dummy = 0;
	int r;

	if (fault_fn == NULL)
		return 0;
	pthread_mutex_lock(&fault_mu);
	r = fault_fn(fault_arg, op, what, len != NULL ? len : &dummy);
	pthread_mutex_unlock(&fault_mu);
	return r;
}

int fio_plan_hook(void *arg, enum fio_op op, const char *what, size_t *len)
{
	struct fio_fault_plan *plan = arg;
	int io = op == FIO_OP_READ || op == FIO_OP_WRITE;

	if (plan == NULL || !plan->enabled)
		return 0;
	if (io) {
		plan->io_calls++;
		if (plan->eintr_every > 1 && plan->io_calls % plan->eintr_every == 0)
			return EINTR;
		if (plan->short_io > 0 && *len > plan->short_io)
			*len = plan->short_io;
	}
	if ((plan->error == 0 && !plan->crash) || op != plan->op)
		return 0;
	if (plan->only_path != NULL && (what == NULL || strcmp(what, plan->only_path) != 0))
		return 0;
	if (io) {
		if (plan->bytes_seen + *len <= plan->after_bytes) {
			plan->bytes_seen += *len;
			return 0;
		}
		/* Let the bytes before the limit through, so "after N bytes" is exact. */
		if (plan->bytes_seen < plan->after_bytes) {
			*len = (size_t)(plan->after_bytes - plan->bytes_seen);
			plan->bytes_seen += *len;
			return 0;
		}
	} else if (plan->calls_seen++ < plan->after_calls) {
		return 0;
	}
	plan->fired++;
	if (plan->crash) {
		/* Like a power cut for this process: no cleanup, no atexit, no flushing. */
		raise(SIGKILL);
		_exit(137);
	}
	return plan->error;
}

static const char *const op_names[] = {"open",   "read",  "write",   "fsync",
                                       "rename", "mkdir", "symlink", "unlink"};

upk_status fio_plan_parse(const char *spec, struct fio_fault_plan *plan, struct upk_error *err)
{
	struct fio_fault_plan p;
	char *copy = NULL, *save = NULL, *item;
	upk_status ret = UPK_OK;

	memset(&p, 0, sizeof(p));
	p.enabled = 1;
	copy = strdup(spec);
	if (copy == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), *at = strchr(item, '@'), *end = NULL;
		unsigned long long n;
		size_t i;

		if (strncmp(item, "short=", 6) == 0 || strncmp(item, "eintr=", 6) == 0) {
			errno = 0;
			n = strtoull(item + 6, &end, 10);
			if (errno != 0 || end == item + 6 || *end != '\0' || n == 0 ||
			    n > 1u << 30) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
				                    "fault spec: bad number in \"%s\"", item);
				goto out;
			}
			if (item[0] == 's')
				p.short_io = (size_t)n;
			else
				p.eintr_every = (unsigned)n;
			continue;
		}
		if (colon == NULL || at == NULL || at < colon) {
			ret = upk_error_set(
			    err, UPK_ERR_INVALID,
			    "fault spec: \"%s\" is not OP:ERROR@N, short=N or eintr=N", item);
			goto out;
		}
		*colon = '\0';
		*at = '\0';
		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (strcmp(item, op_names[i]) == 0)
				break;
		if (i == sizeof(op_names) / sizeof(op_names[0])) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "fault spec: unknown operation \"%s\"", item);
			goto out;
		}
		p.op = (enum fio_op)i;
		if (strcmp(colon + 1, "enospc") == 0)
			p.error = ENOSPC;
		else if (strcmp(colon + 1, "eio") == 0)
			p.error = EIO;
		else if (strcmp(colon + 1, "eintr") == 0)
			p.error = EINTR;
		else if (strcmp(colon + 1, "crash") == 0)
			p.crash = 1;
		else {
			ret = upk_error_set(
			    err, UPK_ERR_INVALID,
			    "fault spec: unknown error \"%s\" (enospc, eio, eintr, crash)",
			    colon + 1);
			goto out;
		}
		errno = 0;
		n = strtoull(at + 1, &end, 10);
		if (errno != 0 || end == at + 1 || *end != '\0') {
			ret = upk_error_set(err, UPK_ERR_INVALID, "fault spec: bad count \"%s\"",
			                    at + 1);
			goto out;
		}
		p.after_bytes = n;
		p.after_calls = n;
	}
	*plan = p;
out:
	free(copy);
	return ret;
}

upk_status fio_openat(int dirfd, const char *path, const char *what, int flags, mode_t mode,
                      int *fd, struct upk_error *err)
{
	int e, r = -1;

	for (;;) {
		e = fault(FIO_OP_OPEN, what, NULL);
		if (e == 0) {
			r = openat(dirfd, path, flags | O_CLOEXEC, mode);
			e = r < 0 ? errno : 0;
		}
		if (e != EINTR)
			break;
	}
	if (e != 0) {
		upk_status code = e == ENOENT   ? UPK_ERR_NOT_FOUND
		                  : e == EEXIST ? UPK_ERR_EXISTS
		                                : UPK_ERR_IO;
		return upk_error_set(err, code, "opening %s: %s", what, strerror(e));
	}
	*fd = r;
	return UPK_OK;
}

upk_status fio_open(const char *path, int flags, mode_t mode, int *fd, struct upk_error *err)
{
	return fio_openat(AT_FDCWD, path, path, flags, mode, fd, err);
}

upk_status fio_write_all(int fd, const void *buf, size_t len, const char *what,
                         struct upk_error *err)
{
	const unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;
		int e = fault(FIO_OP_WRITE, what, &chunk);

		if (chunk == 0 || chunk > len - done)
			chunk = len - done;
		if (e == 0) {
			wlog('W', what, fd, 0, chunk);
			n = write(fd, p + done, chunk);
			e = n < 0 ? errno : 0;
			if (n == 0)
				return upk_error_set(
				    err, UPK_ERR_IO,
				    "writing %s: no progress after %zu of %zu bytes", what, done,
				    len);
		} else {
			n = -1;
		}
		if (e == EINTR)
			continue;
		if (e != 0)
			return upk_error_set(err, UPK_ERR_IO,
			                     "writing %s: %s (after %zu of %zu bytes)", what,
			                     strerror(e), done, len);
		done += (size_t)n;
	}
	return UPK_OK;
}

upk_status fio_read_full(int fd, void *buf, size_t len, size_t *got, const char *what,
                         struct upk_error *err)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;
		int e = fault(FIO_OP_READ, what, &chunk);

		if (chunk == 0 || chunk > len - done)
			chunk = len - done;
		if (e == 0) {
			n = read(fd, p + done, chunk);
			e = n < 0 ? errno : 0;
		} else {
			n = -1;
		}
		if (e == EINTR)
			continue;
		if (e != 0)
			return upk_error_set(err, UPK_ERR_IO, "reading %s: %s (after %zu bytes)",
			                     what, strerror(e), done);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return UPK_OK;
}

upk_status fio_pread_full(int fd, void *buf, size_t len, uint64_t offset, size_t *got,
                          const char *what, struct upk_error *err)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;
		int e = fault(FIO_OP_READ, what, &chunk);

		if (chunk == 0 || chunk > len - done)
			chunk = len - done;
		if (e == 0) {
			n = pread(fd, p + done, chunk, (off_t)(offset + done));
			e = n < 0 ? errno : 0;
		} else {
			n = -1;
		}
		if (e == EINTR)
			continue;
		if (e != 0)
			return upk_error_set(err, UPK_ERR_IO, "reading %s at byte %llu: %s", what,
			                     (unsigned long long)(offset + done), strerror(e));
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return UPK_OK;
}

upk_status fio_sync_range(int fd, uint64_t offset, uint64_t len, unsigned flags, const char *what,
                          struct upk_error *err)
{
	int e;

	for (;;) {
		e = fault(FIO_OP_FSYNC, what, NULL);
		if (e == 0)
			e = sync_file_range(fd, (off_t)offset, (off_t)len, flags) != 0 ? errno : 0;
		if (e != EINTR)
			break;
	}
	/* Only a waited-for range is on the medium (for a file slot: as good as fsync here). */
	if (e == 0 && (flags & SYNC_FILE_RANGE_WAIT_AFTER) != 0)
		wlog('R', what, -1, offset, len);
	if (e != 0)
		return upk_error_set(err, UPK_ERR_IO, "sync_file_range %s at byte %llu: %s", what,
		                     (unsigned long long)offset, strerror(e));
	return UPK_OK;
}

static upk_status do_sync(int fd, int whole_fs, const char *what, struct upk_error *err)
{
	int e;

	for (;;) {
		e = fault(FIO_OP_FSYNC, what, NULL);
		if (e == 0)
			e = (whole_fs ? syncfs(fd) : fsync(fd)) != 0 ? errno : 0;
		if (e != EINTR)
			break;
	}
	if (e == 0)
		wlog('S', what, -1, 0, 0);
	if (e != 0)
		return upk_error_set(err, UPK_ERR_IO, "%s %s: %s", whole_fs ? "syncfs" : "fsync",
		                     what, strerror(e));
	return UPK_OK;
}

upk_status fio_fsync(int fd, const char *what, struct upk_error *err)
{
	return do_sync(fd, 0, what, err);
}

upk_status fio_syncfs(int fd, const char *what, struct upk_error *err)
{
	return do_sync(fd, 1, what, err);
}

upk_status fio_fsync_dir(const char *dir, struct upk_error *err)
{
	int fd = -1;
	upk_status ret;

	ret = fio_open(dir, O_RDONLY | O_DIRECTORY, 0, &fd, err);
	if (ret != UPK_OK)
		return ret;
	ret = fio_fsync(fd, dir, err);
	fio_close_quiet(&fd);
	return ret;
}

upk_status fio_fsync_parent(const char *path, struct upk_error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	upk_status ret;

	if (slash == NULL)
		return fio_fsync_dir(".", err);
	if (slash == path)
		return fio_fsync_dir("/", err);
	dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = fio_fsync_dir(dir, err);
	free(dir);
	return ret;
}

upk_status fio_renameat(int fromdir, const char *from, int todir, const char *to, const char *what,
                        struct upk_error *err)
{
	int e = fault(FIO_OP_RENAME, what, NULL);

	if (e == 0)
		e = renameat(fromdir, from, todir, to) != 0 ? errno : 0;
	if (e != 0)
		return upk_error_set(err, UPK_ERR_IO, "renaming %s to %s: %s", from, to,
		                     strerror(e));
	return UPK_OK;
}

upk_status fio_rename(const char *from, const char *to, struct upk_error *err)
{
	return fio_renameat(AT_FDCWD, from, AT_FDCWD, to, to, err);
}

upk_status fio_mkdirat(int dirfd, const char *path, const char *what, mode_t mode,
                       struct upk_error *err)
{
	int e = fault(FIO_OP_MKDIR, what, NULL);

	if (e == 0)
		e = mkdirat(dirfd, path, mode) != 0 ? errno : 0;
	if (e != 0)
		return upk_error_set(err, e == EEXIST ? UPK_ERR_EXISTS : UPK_ERR_IO,
		                     "making directory %s: %s", what, strerror(e));
	return UPK_OK;
}

upk_status fio_symlinkat(const char *target, int dirfd, const char *path, const char *what,
                         struct upk_error *err)
{
	int e = fault(FIO_OP_SYMLINK, what, NULL);

	if (e == 0)
		e = symlinkat(target, dirfd, path) != 0 ? errno : 0;
	if (e != 0)
		return upk_error_set(err, e == EEXIST ? UPK_ERR_EXISTS : UPK_ERR_IO,
		                     "making symlink %s -> %s: %s", what, target, strerror(e));
	return UPK_OK;
}

upk_status fio_unlinkat(int dirfd, const char *path, int flags, int missing_ok, const char *what,
                        struct upk_error *err)
{
	int e = fault(FIO_OP_UNLINK, what, NULL);

	if (e == 0)
		e = unlinkat(dirfd, path, flags) != 0 ? errno : 0;
	if (e == ENOENT && missing_ok)
		return UPK_OK;
	if (e != 0)
		return upk_error_set(err, e == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
		                     "removing %s: %s", what, strerror(e));
	return UPK_OK;
}

upk_status fio_mkdir_p(const char *dir, mode_t mode, struct upk_error *err)
{
	char *copy = strdup(dir);
	upk_status ret = UPK_OK;
	char *p;

	if (copy == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (p = copy + 1;; p++) {
		struct stat st;
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (stat(copy, &st) != 0) {
			ret = fio_mkdirat(AT_FDCWD, copy, copy, mode, err);
			if (ret == UPK_ERR_EXISTS)
				ret = UPK_OK; /* made by someone else meanwhile */
			if (ret != UPK_OK)
				goto out;
		} else if (!S_ISDIR(st.st_mode)) {
			ret = upk_error_set(err, UPK_ERR_EXISTS, "%s exists and is not a directory",
			                    copy);
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
out:
	free(copy);
	return ret;
}

/* Remove every entry of the open directory dfd (named what), depth first. */
static upk_status rmtree_at(int dfd, const char *what, unsigned depth, struct upk_error *err)
{
	DIR *d = NULL;
	struct dirent *de;
	upk_status ret = UPK_OK;
	int dup_fd;

	if (depth > 256)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "removing %s: deeper than 256 levels",
		                     what);
	dup_fd = dup(dfd);
	if (dup_fd < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return upk_error_set(err, UPK_ERR_IO, "listing %s: %s", what, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			ret = upk_error_set(err, UPK_ERR_IO, "stat %s/%s: %s", what, de->d_name,
			                    strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = -1;

			ret = fio_openat(dfd, de->d_name, de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &sub, err);
			if (ret != UPK_OK)
				goto out;
			ret = rmtree_at(sub, de->d_name, depth + 1, err);
			fio_close_quiet(&sub);
			if (ret != UPK_OK)
				goto out;
		}
		ret = fio_unlinkat(dfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0, 1,
		                   de->d_name, err);
		if (ret != UPK_OK)
			goto out;
	}
out:
	closedir(d);
	return ret;
}

upk_status fio_rmtree(const char *path, struct upk_error *err)
{
	struct stat st;
	int fd = -1;
	upk_status ret;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return UPK_OK;
		return upk_error_set(err, UPK_ERR_IO, "stat %s: %s", path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return fio_unlinkat(AT_FDCWD, path, 0, 1, path, err);
	ret = fio_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &fd, err);
	if (ret != UPK_OK)
		return ret;
	ret = rmtree_at(fd, path, 0, err);
	fio_close_quiet(&fd);
	if (ret == UPK_OK)
		ret = fio_unlinkat(AT_FDCWD, path, AT_REMOVEDIR, 1, path, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "removing %s: ", path);
	return UPK_OK;
}

upk_status fio_close(int *fd, const char *what, struct upk_error *err)
{
	int r;

	if (*fd < 0)
		return UPK_OK;
	/* Not retried on EINTR: on Linux the descriptor is gone either way. */
	r = close(*fd);
	*fd = -1;
	if (r != 0)
		return upk_error_set(err, UPK_ERR_IO, "closing %s: %s", what, strerror(errno));
	return UPK_OK;
}

void fio_close_quiet(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

upk_status fio_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                 struct upk_error *err)
{
	char *tmp = NULL;
	int fd = -1;
	int created = 0;
	upk_status ret;
	size_t n = strlen(path) + sizeof(".tmp");

	tmp = malloc(n);
	if (tmp == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	snprintf(tmp, n, "%s.tmp", path);
	/* A stale temporary file from a crash is ours to replace. */
	ret = fio_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode, &fd, err);
	if (ret != UPK_OK)
		goto out;
	created = 1;
	if (fchmod(fd, mode) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	ret = fio_write_all(fd, data, len, tmp, err);
	if (ret != UPK_OK)
		goto out;
	/* The content must be on disk before the rename can make it visible. */
	ret = fio_fsync(fd, tmp, err);
	if (ret != UPK_OK)
		goto out;
	ret = fio_close(&fd, tmp, err);
	if (ret != UPK_OK)
		goto out;
	ret = fio_rename(tmp, path, err);
	if (ret != UPK_OK)
		goto out;
	created = 0;
	/* The rename itself lives in the directory: sync it so the new name survives a crash. */
	ret = fio_fsync_parent(path, err);
out:
	fio_close_quiet(&fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return ret;
}

upk_status fio_read_file(const char *path, size_t max, char **buf, size_t *len,
                         struct upk_error *err)
{
	struct stat st;
	char *b = NULL;
	size_t got = 0;
	int fd = -1;
	upk_status ret;

	ret = fio_open(path, O_RDONLY, 0, &fd, err);
	if (ret != UPK_OK)
		return ret;
	if (fstat(fd, &st) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
		                    "%s: %lld bytes, more than the %zu allowed", path,
		                    (long long)st.st_size, max);
		goto out;
	}
	b = malloc(max + 2);
	if (b == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	/* Read one byte more than allowed to notice files that grew (or are not regular). */
	ret = fio_read_full(fd, b, max + 1, &got, path, err);
	if (ret != UPK_OK)
		goto out;
	if (got > max) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: more than the %zu bytes allowed",
		                    path, max);
		goto out;
	}
	b[got] = '\0';
	*buf = b;
	b = NULL;
	if (len != NULL)
		*len = got;
out:
	free(b);
	fio_close_quiet(&fd);
	return ret;
}

char *fio_path_join(const char *a, const char *b)
{
	size_t la = strlen(a), n;
	char *out;

	while (la > 1 && a[la - 1] == '/')
		la--;
	n = la + 1 + strlen(b) + 1;
	out = malloc(n);
	if (out == NULL)
		return NULL;
	snprintf(out, n, "%.*s/%s", (int)la, a, b);
	return out;
}
