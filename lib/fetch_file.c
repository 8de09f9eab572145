/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local-file fetcher: "file://" URLs and plain paths, for tests, the
 * benchmark and repositories mirrored onto local storage. It streams in
 * small blocks and enforces the same maximum length as the HTTP fetcher.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex_internal.h"
#include "upkeep/fetch.h"

/* URL to path: strip "file://", decode %XX; a decoded NUL is refused. */
static upk_status url_to_path(const char *url, char *out, size_t size, struct upk_error *err)
{
	size_t n = 0;

	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	for (const char *p = url; *p != '\0'; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hex_digit((unsigned char)p[1]);
			int lo = hi < 0 ? -1 : hex_digit((unsigned char)p[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return upk_error_set(err, UPK_ERR_INVALID,
				                     "bad percent-escape in \"%.200s\"", url);
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (n + 1 >= size)
			return upk_error_set(err, UPK_ERR_INVALID, "path too long: \"%.200s\"",
			                     url);
		out[n++] = c;
	}
	out[n] = '\0';
	return UPK_OK;
}

static upk_status file_fetch_from(const char *url, uint64_t offset, uint64_t max_len,
                                  upk_sink_fn sink, void *sink_ctx, struct upk_error *err)
{
	char path[4096];
	char block[16384];
	struct stat st;
	uint64_t total = 0;
	upk_status ret;
	int fd;

	ret = url_to_path(url, path, sizeof(path), err);
	if (ret != UPK_OK)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: not found", url);
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", url, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: not a regular file", url);
		goto out;
	}
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) != (off_t)offset) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: cannot seek to byte %llu", url,
		                    (unsigned long long)offset);
		goto out;
	}
	/* Refuse early when the size is known; the loop still counts (the file may grow). */
	if ((uint64_t)st.st_size > offset && (uint64_t)st.st_size - offset > max_len) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
		                    "%s: %lld bytes, more than the limit %llu", url,
		                    (long long)st.st_size, (unsigned long long)max_len);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, block, sizeof(block));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", url, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		total += (uint64_t)r;
		if (total > max_len) {
			ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
			                    "%s: more than the limit %llu bytes", url,
			                    (unsigned long long)max_len);
			goto out;
		}
		ret = sink(sink_ctx, block, (size_t)r, err);
		if (ret != UPK_OK)
			goto out;
	}
	ret = UPK_OK;
out:
	close(fd);
	return ret;
}

static upk_status file_fetch(void *ctx, const char *url, uint64_t max_len, upk_sink_fn sink,
                             void *sink_ctx, struct upk_error *err)
{
	(void)ctx;
	return file_fetch_from(url, 0, max_len, sink, sink_ctx, err);
}

static upk_status file_fetch_range(void *ctx, const char *url, uint64_t offset, uint64_t max_len,
                                   upk_sink_fn sink, void *sink_ctx, struct upk_error *err)
{
	(void)ctx;
	return file_fetch_from(url, offset, max_len, sink, sink_ctx, err);
}

void upk_fetcher_file_init(struct upk_fetcher *f)
{
	f->fetch = file_fetch;
	f->ctx = NULL;
	f->fetch_range = file_fetch_range;
}
