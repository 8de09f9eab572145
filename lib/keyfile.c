/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files: the only place in libupkeep's crypto that touches the file
 * system. Private keys are created exclusively with mode 0600, never
 * overwritten, made durable before success is reported, and wiped from memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "key_internal.h"

static upk_status write_all(int fd, const char *path, const char *data, size_t len,
			    struct upk_error *err)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return upk_error_set(err, UPK_ERR_IO, "writing %s: %s", path,
					     n < 0 ? strerror(errno) : "no progress");
		data += n;
		len -= (size_t)n;
	}
	return UPK_OK;
}

/*
 * fsync the directory holding path, so the new name survives a crash as
 * well as the contents do (a file's fsync does not cover its directory entry).
 */
static upk_status sync_parent(const char *path, struct upk_error *err)
{
	char *copy = strdup(path);
	int fd = -1;
	upk_status ret = UPK_OK;

	if (copy == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "syncing the directory of %s: %s", path,
				    strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

/* Create path exclusively with mode, write data, fsync it and its directory. */
static upk_status write_new_file(const char *path, mode_t mode, const char *data, size_t len,
				 struct upk_error *err)
{
	int fd = -1;
	int created = 0;
	upk_status ret;

	/* O_CREAT | O_EXCL fails on any existing name, a planted symlink included. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			ret = upk_error_set(err, UPK_ERR_EXISTS, "%s already exists, not overwriting",
					    path);
		else
			ret = upk_error_set(err, UPK_ERR_IO, "creating %s: %s", path,
					    strerror(errno));
		goto out;
	}
	created = 1;
	/* The umask may have removed bits, never added them; fchmod makes the mode exact. */
	if (fchmod(fd, mode) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "chmod %s: %s", path, strerror(errno));
		goto out;
	}
	ret = write_all(fd, path, data, len, err);
	if (ret != UPK_OK)
		goto out;
	if (fsync(fd) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "fsync %s: %s", path, strerror(errno));
		goto out;
	}
	/* close() can report a delayed write error (e.g. on NFS). */
	if (close(fd) != 0) {
		fd = -1;
		ret = upk_error_set(err, UPK_ERR_IO, "closing %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	ret = sync_parent(path, err);
out:
	if (fd >= 0)
		close(fd);
	/* A half-written key file would block a retry with UPK_ERR_EXISTS: remove it. */
	if (ret != UPK_OK && created)
		unlink(path);
	return ret;
}

upk_status upk_keyfile_write_private(const char *path, const struct upk_key *key,
				     const char *passphrase, struct upk_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	upk_status ret;

	ret = upk_key_private_pem(key, passphrase, &pem, &len, err);
	if (ret != UPK_OK)
		goto out;
	ret = write_new_file(path, 0600, pem, len, err);
out:
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	return ret;
}

upk_status upk_keyfile_write_public(const char *path, const struct upk_key *key,
				    struct upk_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	upk_status ret;

	ret = upk_key_public_pem(key, &pem, &len, err);
	if (ret != UPK_OK)
		goto out;
	ret = write_new_file(path, 0644, pem, len, err);
out:
	free(pem);
	return ret;
}

upk_status upk_keyfile_read(const char *path, const char *passphrase, struct upk_key **out,
			    struct upk_error *err)
{
	/* One byte more than allowed, so an oversized file is noticed without reading it all. */
	char *buf = NULL;
	size_t cap = KEY_PEM_MAX + 1, len = 0;
	struct stat st;
	int fd = -1;
	upk_status ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = upk_error_set(err, errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
				    "opening %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)KEY_PEM_MAX) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %lld bytes, a key file has at most %u",
				    path, (long long)st.st_size, KEY_PEM_MAX);
		goto out;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	/* The size from fstat may be stale: the read itself is bounded too. */
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "reading %s: %s", path,
					    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KEY_PEM_MAX) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: over %u bytes, too large for a key",
				    path, KEY_PEM_MAX);
		goto out;
	}
	ret = upk_key_from_pem(buf, len, passphrase, out, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", path);
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap);
	if (fd >= 0)
		close(fd);
	return ret;
}
