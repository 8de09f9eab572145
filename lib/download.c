/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.7, fetching a target: stream it from the repository through the
 * length and hash check into the caller's sink, or into a file that only
 * takes the target's name once every byte is verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"

/* Consistent snapshots (spec 6.2): "dir/HASH.base" for target "dir/base". */
static upk_status target_url(const struct upk_client *c, const struct upk_client_target *t,
                             char **out, struct upk_error *err)
{
	const char *slash = strrchr(t->path, '/');
	size_t dirlen = slash != NULL ? (size_t)(slash - t->path) + 1 : 0;
	const char *hash = NULL;
	size_t n;
	char *url;

	if (c->target_url == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "target %s: no target base URL configured", t->path);
	if (c->consistent_snapshot) {
		/* Prefer the strongest common digest; any listed one names a copy. */
		static const char *const pref[] = {"sha256", "sha512"};
		const char *name;
		const json_t *v;

		for (size_t i = 0; i < 2 && hash == NULL; i++)
			hash = json_string_value(json_object_get(t->hashes, pref[i]));
		if (hash == NULL) {
			json_object_foreach(t->hashes, name, v)
			{
				hash = json_string_value(v);
				break;
			}
		}
		if (hash == NULL)
			return upk_error_set(err, UPK_ERR_INVALID, "target %s: no hashes", t->path);
	}
	n = strlen(c->target_url) + strlen(t->path) + (hash != NULL ? strlen(hash) + 1 : 0) + 1;
	url = malloc(n);
	if (url == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (hash != NULL)
		snprintf(url, n, "%s%.*s%s.%s", c->target_url, (int)dirlen, t->path, hash,
		         t->path + dirlen);
	else
		snprintf(url, n, "%s%s", c->target_url, t->path);
	*out = url;
	return UPK_OK;
}

struct verify_sink {
	struct upk_target_check *tc;
	upk_sink_fn sink;
	void *ctx;
	uint64_t delivered; /* bytes the caller's sink holds */
	const struct upk_download_resume *opts;
};

static upk_status verify_sink_write(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	struct verify_sink *vs = ctx;
	upk_status ret;

	/* Counted before the caller sees them: too many bytes never reach the sink. */
	ret = upk_target_check_update(vs->tc, data, len, err);
	if (ret != UPK_OK)
		return ret;
	ret = vs->sink(vs->ctx, data, len, err);
	if (ret != UPK_OK)
		return ret;
	vs->delivered += len;
	if (vs->opts != NULL && vs->opts->on_progress != NULL)
		return vs->opts->on_progress(vs->opts->progress_ctx, vs->delivered, err);
	return UPK_OK;
}

/* Replayed bytes (already in the sink) only go through the check. */
static upk_status replay_sink(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	struct verify_sink *vs = ctx;
	upk_status ret = upk_target_check_update(vs->tc, data, len, err);

	if (ret == UPK_OK)
		vs->delivered += len;
	return ret;
}

upk_status upk_client_download_target_resumable(struct upk_client *c,
                                                const struct upk_client_target *t,
                                                const struct upk_download_resume *opts,
                                                upk_sink_fn sink, void *sink_ctx,
                                                struct upk_error *err)
{
	struct verify_sink vs = {.sink = sink, .ctx = sink_ctx, .opts = opts};
	unsigned attempts = opts != NULL && opts->max_attempts > 1 ? opts->max_attempts : 1;
	char *url = NULL;
	upk_status ret;

	ret = target_url(c, t, &url, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_target_check_new(t->path, t->length, t->hashes, &vs.tc, err);
	if (ret != UPK_OK)
		goto out;
	if (opts != NULL && opts->resume_from > 0) {
		if (opts->replay == NULL || c->fetcher.fetch_range == NULL ||
		    opts->resume_from > (uint64_t)t->length) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "cannot resume at byte %llu of %lld",
			                    (unsigned long long)opts->resume_from,
			                    (long long)t->length);
			goto out;
		}
		/*
		 * The bytes the sink kept from an earlier run were never verified
		 * as a whole: they go through the same check first, so the final
		 * hash covers every byte that will be used.
		 */
		ret = opts->replay(opts->replay_ctx, replay_sink, &vs, err);
		if (ret == UPK_OK && vs.delivered != opts->resume_from)
			ret = upk_error_set(err, UPK_ERR_HASH,
			                    "replayed %llu bytes, expected %llu",
			                    (unsigned long long)vs.delivered,
			                    (unsigned long long)opts->resume_from);
		if (ret != UPK_OK)
			goto fail;
	}
	for (unsigned i = 0; i < attempts; i++) {
		/* Spec 5.7.3: up to the length the targets metadata gives. */
		if (vs.delivered == 0)
			ret = c->fetcher.fetch(c->fetcher.ctx, url, (uint64_t)t->length,
			                       verify_sink_write, &vs, err);
		else if (vs.delivered == (uint64_t)t->length)
			ret = UPK_OK; /* nothing left to fetch */
		else
			ret = c->fetcher.fetch_range(c->fetcher.ctx, url, vs.delivered,
			                             (uint64_t)t->length - vs.delivered,
			                             verify_sink_write, &vs, err);
		/*
		 * Only a transport failure is worth another try, and only when
		 * the rest can be asked for alone: the sink cannot take bytes twice.
		 */
		if (ret != UPK_ERR_IO || i + 1 == attempts ||
		    (vs.delivered > 0 && c->fetcher.fetch_range == NULL))
			break;
	}
	if (ret == UPK_OK)
		ret = upk_target_check_final(vs.tc, err);
fail:
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "target %s (%s): ", t->path, url);
out:
	upk_target_check_free(vs.tc);
	free(url);
	return ret;
}

upk_status upk_client_download_target(struct upk_client *c, const struct upk_client_target *t,
                                      upk_sink_fn sink, void *sink_ctx, struct upk_error *err)
{
	return upk_client_download_target_resumable(c, t, NULL, sink, sink_ctx, err);
}

static upk_status fd_sink(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	int fd = *(int *)ctx;
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return upk_error_set(err, UPK_ERR_IO, "writing target: %s",
			                     strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return UPK_OK;
}

/* mkdir -p of path's parent directories. */
static upk_status make_parents(const char *path, struct upk_error *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return upk_error_set(err, UPK_ERR_INVALID, "path too long: %.200s", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return upk_error_set(err, UPK_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	return UPK_OK;
}

upk_status upk_client_download_target_to_file(struct upk_client *c,
                                              const struct upk_client_target *t, const char *path,
                                              int *fetched, struct upk_error *err)
{
	char tmp[4200], dir[4096];
	const char *slash;
	upk_status ret;
	int fd, dfd;

	/* A file that already matches is the target: do not fetch it again. */
	ret = upk_target_check_file(path, t->length, t->hashes, NULL);
	if (ret == UPK_OK) {
		if (fetched != NULL)
			*fetched = 0;
		return UPK_OK;
	}
	ret = make_parents(path, err);
	if (ret != UPK_OK)
		return ret;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (snprintf(tmp, sizeof(tmp), "%s/.upk-tmp.%s.XXXXXX", dir,
	             slash != NULL ? slash + 1 : path) >= (int)sizeof(tmp))
		return upk_error_set(err, UPK_ERR_INVALID, "path too long: %.200s", path);
	/*
	 * Unverified bytes go to a temporary file beside the destination and
	 * get its name only after the length and hashes checked out (and after
	 * fsync, so the name never points at data still in flight): whoever
	 * reads path sees the old target or the new one, never a partial or
	 * forged one.
	 */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "creating a temporary file in %s: %s", dir,
		                     strerror(errno));
	ret = upk_client_download_target(c, t, fd_sink, &fd, err);
	if (ret == UPK_OK && fchmod(fd, 0644) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
	if (ret == UPK_OK && fsync(fd) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && ret == UPK_OK)
		ret = upk_error_set(err, UPK_ERR_IO, "close %s: %s", tmp, strerror(errno));
	if (ret == UPK_OK && rename(tmp, path) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "rename to %s: %s", path, strerror(errno));
	if (ret != UPK_OK) {
		unlink(tmp);
		return ret;
	}
	/* The rename must reach the disk too before anyone acts on the file. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (fetched != NULL)
		*fetched = 1;
	return UPK_OK;
}
