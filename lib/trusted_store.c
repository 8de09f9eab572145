/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trusted store: the client's metadata directory. Every file is replaced
 * atomically and durably, so that power loss at any instant leaves either
 * the old or the new trusted root on disk, never a mixture or a truncation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"

/* Temporary files start with this, so a restart can recognise and remove them. */
#define TEMP_PREFIX ".upk-tmp."

upk_status role_file_name(const char *role, char *out, size_t out_size, struct upk_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (role == NULL || *role == '\0')
		return upk_error_set(err, UPK_ERR_INVALID, "empty role name");
	for (const unsigned char *p = (const unsigned char *)role; *p != '\0'; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		            (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' ||
		            *p == '~';

		if (n + 3 + sizeof(".json") > out_size || n + 3 + sizeof(".json") > ROLE_FILE_MAX)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "role name \"%.64s\" is too long for a file name",
			                     role);
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	/* ".json" appended means no name can become "." or "..". */
	memcpy(out + n, ".json", sizeof(".json"));
	return UPK_OK;
}

static int join(char *out, size_t size, const char *dir, const char *file)
{
	int n = snprintf(out, size, "%s/%s", dir, file);

	return n > 0 && (size_t)n < size;
}

upk_status store_read(const char *dir, const char *file, uint64_t max, char **buf, size_t *len,
                      struct upk_error *err)
{
	char path[4096];
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	upk_status ret;
	int fd;

	if (!join(path, sizeof(path), dir, file))
		return upk_error_set(err, UPK_ERR_INVALID, "path %s/%s too long", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: no such file", path);
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %lld bytes, at most %llu", path,
		                    (long long)st.st_size, (unsigned long long)max);
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	data = NULL;
	ret = UPK_OK;
out:
	free(data);
	close(fd);
	return ret;
}

static upk_status write_all(int fd, const char *path, const void *buf, size_t len,
                            struct upk_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return UPK_OK;
}

static upk_status sync_dir(const char *dir, struct upk_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", dir, strerror(errno));
	rc = fsync(fd);
	close(fd);
	if (rc != 0 && errno != EINVAL)
		return upk_error_set(err, UPK_ERR_IO, "fsync %s: %s", dir, strerror(errno));
	return UPK_OK;
}

/* Split path into its directory (written to dir) and base name. */
static const char *split_path(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, size, ".");
		return path;
	}
	if (slash == path) {
		snprintf(dir, size, "/");
	} else {
		size_t n = (size_t)(slash - path);

		if (n >= size)
			n = size - 1;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return slash + 1;
}

upk_status store_write_path(const char *path, const void *buf, size_t len, struct upk_error *err)
{
	char dir[4096], tmp[4200];
	const char *base = split_path(path, dir, sizeof(dir));
	upk_status ret;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s/" TEMP_PREFIX "%.100s.XXXXXX", dir, base) >=
	    (int)sizeof(tmp))
		return upk_error_set(err, UPK_ERR_INVALID, "path %s too long", path);
	/*
	 * Write-then-rename: the new content goes to a temporary file in the
	 * same directory (rename is only atomic within one file system), is
	 * fsync()ed so its data is on disk before the name points at it, and
	 * only then replaces the old file by rename(). A crash before the
	 * rename leaves the old file intact plus a temporary file that
	 * store_clean_temp() removes; a crash after it leaves the new file.
	 */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "creating a temporary file in %s: %s", dir,
		                     strerror(errno));
	ret = write_all(fd, tmp, buf, len, err);
	if (ret == UPK_OK && fchmod(fd, 0644) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
	if (ret == UPK_OK && fsync(fd) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && ret == UPK_OK)
		ret = upk_error_set(err, UPK_ERR_IO, "close %s: %s", tmp, strerror(errno));
	if (ret == UPK_OK && rename(tmp, path) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "rename %s to %s: %s", tmp, path,
		                    strerror(errno));
	if (ret != UPK_OK) {
		unlink(tmp);
		return ret;
	}
	/*
	 * The rename lives in the directory: without fsync of the directory a
	 * power loss may forget it, bringing the old file back after we already
	 * acted on the new one (SQLite's unixSync explains the same).
	 */
	return sync_dir(dir, err);
}

upk_status store_write(const char *dir, const char *file, const void *buf, size_t len,
                       struct upk_error *err)
{
	char path[4096];

	if (!join(path, sizeof(path), dir, file))
		return upk_error_set(err, UPK_ERR_INVALID, "path %s/%s too long", dir, file);
	return store_write_path(path, buf, len, err);
}

upk_status store_remove(const char *dir, const char *file, struct upk_error *err)
{
	char path[4096];

	if (!join(path, sizeof(path), dir, file))
		return upk_error_set(err, UPK_ERR_INVALID, "path %s/%s too long", dir, file);
	if (unlink(path) != 0) {
		if (errno == ENOENT)
			return UPK_OK;
		return upk_error_set(err, UPK_ERR_IO, "removing %s: %s", path, strerror(errno));
	}
	/* As for rename: the removal must survive a power loss before we go on. */
	return sync_dir(dir, err);
}

void store_clean_temp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[4096];

		if (strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
			continue;
		if (join(path, sizeof(path), dir, e->d_name))
			unlink(path);
	}
	closedir(d);
}
