/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Archive installer: a tar (optionally zstd) bundle unpacked, while it
 * streams in, into a staging directory that nothing uses, then published as
 * versions/VERSION and switched to with one atomic symlink rename.
 *
 * Layout under ROOT/NAME: versions/VERSION/ (unpacked bundles),
 * versions/VERSION.partial/ (being unpacked), current -> versions/VERSION,
 * previous -> versions/OLD (the rollback target).
 *
 * Every path is resolved relative to directory descriptors with O_NOFOLLOW,
 * so a hostile archive cannot write through a symlink it planted earlier.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "installer.h"
#include "tar.h"
#include "upkeep/crypto.h"
#include "upkeep/selector.h"

#define MAX_DEPTH 64u /* path components */

struct archive_inst {
	struct installer base;
	char *bundle_dir;   /* ROOT/NAME */
	char *versions_dir; /* ROOT/NAME/versions */
	char *staging_name; /* VERSION.partial */
	char *final_name;   /* VERSION */
	int stage_fd;
	struct decomp *dc;
	struct tar_reader *tar;
	struct upk_hash *payload_hash;
	uint64_t max_bytes, bytes;
	unsigned max_entries, entries;
	struct payload_expect expect;
	/* the regular file being written */
	int file_fd;
	char *file_path;
	unsigned file_mode;
	int64_t file_mtime;
};

static int bundle_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Split path into components, dropping empty and "." ones. Absolute paths
 * and ".." are refused. *n may be 0 (the bundle root itself). The
 * components point into buf, a modified copy of path.
 */
static upk_status split_path(const char *path, char *buf, char **comp, size_t *n,
                             struct upk_error *err)
{
	char *save = NULL, *c;
	size_t k = 0;

	if (path[0] == '/')
		return upk_error_set(err, UPK_ERR_INVALID, "entry \"%s\": absolute path", path);
	strcpy(buf, path);
	for (c = strtok_r(buf, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "entry \"%s\": \"..\" in the path", path);
		if (k >= MAX_DEPTH)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
			                     "entry \"%s\": deeper than %u levels", path,
			                     MAX_DEPTH);
		comp[k++] = c;
	}
	*n = k;
	return UPK_OK;
}

/*
 * Open the directory holding the last of comp[0..n) below the staging
 * directory, making missing directories (archives may omit them) and
 * refusing any component that is a symlink or not a directory.
 */
static upk_status open_parent(struct archive_inst *a, const char *path, char **comp, size_t n,
                              int *out, struct upk_error *err)
{
	int fd = -1, next = -1;
	upk_status ret = UPK_OK;

	fd = dup(a->stage_fd);
	if (fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "dup: %s", strerror(errno));
	for (size_t i = 0; i + 1 < n; i++) {
		next = openat(fd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			ret = fio_mkdirat(fd, comp[i], path, 0755, err);
			if (ret != UPK_OK)
				goto out;
			next = openat(fd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			ret = upk_error_set(
			    err, UPK_ERR_INVALID,
			    "entry \"%s\": \"%s\" is a symlink or not a directory (%s)", path,
			    comp[i], strerror(errno));
			goto out;
		}
		close(fd);
		fd = next;
		next = -1;
	}
	*out = fd;
	fd = -1;
out:
	fio_close_quiet(&fd);
	return ret;
}

/*
 * A symlink may go up ("..") only before its first name, and no further up
 * than the directory it sits in is deep. Then, as every directory on the way
 * is a real one, each link resolves inside the bundle, even through others.
 */
static upk_status check_symlink(const char *path, size_t parent_depth, const char *target,
                                struct upk_error *err)
{
	const char *p = target;
	size_t ups = 0;
	int seen_name = 0;

	if (target[0] == '/')
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "symlink \"%s\" -> \"%s\": absolute target", path, target);
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (seen_name)
				return upk_error_set(
				    err, UPK_ERR_INVALID,
				    "symlink \"%s\" -> \"%s\": \"..\" after a name", path, target);
			ups++;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			seen_name = 1;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (ups > parent_depth)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "symlink \"%s\" -> \"%s\" points outside the bundle", path,
		                     target);
	return UPK_OK;
}

static upk_status entry_begin(void *ctx, const struct tar_entry *e, struct upk_error *err)
{
	struct archive_inst *a = ctx;
	char *buf = NULL, *lbuf = NULL;
	char *comp[MAX_DEPTH], *lcomp[MAX_DEPTH];
	size_t n = 0, ln = 0;
	int dir = -1, ldir = -1;
	struct stat st;
	upk_status ret;

	if (++a->entries > a->max_entries)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %u entries in the archive",
		                     a->max_entries);
	if (e->type == TAR_CHAR || e->type == TAR_BLOCK || e->type == TAR_FIFO)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "entry \"%s\": device nodes and FIFOs are not installed",
		                     e->path);
	if (e->size > a->max_bytes - a->bytes)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "entry \"%s\": the bundle exceeds %llu bytes", e->path,
		                     (unsigned long long)a->max_bytes);
	buf = malloc(strlen(e->path) + 1);
	lbuf = malloc(strlen(e->linkpath) + 1);
	if (buf == NULL || lbuf == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = split_path(e->path, buf, comp, &n, err);
	if (ret != UPK_OK)
		goto out;
	if (n == 0) {
		/* "./" itself: the staging directory, made by us. */
		if (e->type != TAR_DIR)
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "entry \"%s\": names the bundle root", e->path);
		goto out;
	}
	ret = open_parent(a, e->path, comp, n, &dir, err);
	if (ret != UPK_OK)
		goto out;
	const char *leaf = comp[n - 1];
	switch (e->type) {
	case TAR_DIR:
		if (mkdirat(dir, leaf, 0755) != 0) {
			if (errno != EEXIST || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISDIR(st.st_mode)) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
				                    "entry \"%s\": cannot make the directory (%s)",
				                    e->path, strerror(errno == 0 ? EEXIST : errno));
				goto out;
			}
		}
		if (fchmodat(dir, leaf, e->mode & 0777, 0) != 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "chmod \"%s\": %s", e->path,
			                    strerror(errno));
			goto out;
		}
		break;
	case TAR_FILE:
		/* O_EXCL: a name already unpacked (maybe a planted symlink) is never written
		 * through. */
		ret = fio_openat(dir, leaf, e->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600,
		                 &a->file_fd, err);
		if (ret == UPK_ERR_EXISTS)
			ret = upk_error_set(err, UPK_ERR_INVALID, "entry \"%s\" appears twice",
			                    e->path);
		if (ret != UPK_OK)
			goto out;
		a->file_path = strdup(e->path);
		if (a->file_path == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		a->file_mode = e->mode & 0777; /* no set-user-ID, set-group-ID or sticky bits */
		a->file_mtime = e->mtime;
		a->bytes += e->size;
		break;
	case TAR_SYMLINK:
		ret = check_symlink(e->path, n - 1, e->linkpath, err);
		if (ret == UPK_OK)
			ret = fio_symlinkat(e->linkpath, dir, leaf, e->path, err);
		if (ret == UPK_ERR_EXISTS)
			ret = upk_error_set(err, UPK_ERR_INVALID, "entry \"%s\" appears twice",
			                    e->path);
		break;
	case TAR_HARDLINK:
		ret = split_path(e->linkpath, lbuf, lcomp, &ln, err);
		if (ret != UPK_OK || ln == 0) {
			if (ret == UPK_OK)
				ret = upk_error_set(err, UPK_ERR_INVALID,
				                    "hard link \"%s\" to the bundle root", e->path);
			goto out;
		}
		ret = open_parent(a, e->linkpath, lcomp, ln, &ldir, err);
		if (ret != UPK_OK)
			goto out;
		if (fstatat(ldir, lcomp[ln - 1], &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode)) {
			ret = upk_error_set(
			    err, UPK_ERR_INVALID,
			    "hard link \"%s\" -> \"%s\": the target is not a file unpacked before",
			    e->path, e->linkpath);
			goto out;
		}
		if (linkat(ldir, lcomp[ln - 1], dir, leaf, 0) != 0) {
			ret = upk_error_set(err, errno == EEXIST ? UPK_ERR_INVALID : UPK_ERR_IO,
			                    "hard link \"%s\" -> \"%s\": %s", e->path, e->linkpath,
			                    strerror(errno));
			goto out;
		}
		break;
	default:
		ret =
		    upk_error_set(err, UPK_ERR_INVALID, "entry \"%s\": unsupported type", e->path);
		break;
	}
out:
	fio_close_quiet(&dir);
	fio_close_quiet(&ldir);
	free(buf);
	free(lbuf);
	return ret;
}

static upk_status entry_data(void *ctx, const void *buf, size_t len, struct upk_error *err)
{
	struct archive_inst *a = ctx;

	return fio_write_all(a->file_fd, buf, len, a->file_path, err);
}

static upk_status entry_end(void *ctx, struct upk_error *err)
{
	struct archive_inst *a = ctx;
	upk_status ret = UPK_OK;

	if (a->file_fd < 0)
		return UPK_OK;
	if (fchmod(a->file_fd, a->file_mode) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "chmod \"%s\": %s", a->file_path,
		                    strerror(errno));
	} else {
		struct timespec ts[2] = {{a->file_mtime, 0}, {a->file_mtime, 0}};
		/* Timestamps are cosmetic: a file system that refuses them is no reason to fail. */
		(void)futimens(a->file_fd, ts);
		ret = fio_close(&a->file_fd, a->file_path, err);
	}
	fio_close_quiet(&a->file_fd);
	free(a->file_path);
	a->file_path = NULL;
	return ret;
}

static upk_status tar_in(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	struct archive_inst *a = ctx;

	return tar_reader_feed(a->tar, data, len, err);
}

static upk_status archive_write(struct installer *in, const void *data, size_t len,
                                struct upk_error *err)
{
	struct archive_inst *a = (struct archive_inst *)in;
	upk_status ret;

	if (a->expect.length != 0 && len > a->expect.length - a->base.payload_bytes)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "payload longer than the expected %llu bytes",
		                     (unsigned long long)a->expect.length);
	ret = upk_hash_update(a->payload_hash, data, len, err);
	if (ret == UPK_OK)
		ret = decomp_write(a->dc, data, len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "archive %s: ", a->final_name);
	return UPK_OK;
}

static upk_status archive_finish(struct installer *in, struct upk_error *err)
{
	struct archive_inst *a = (struct archive_inst *)in;
	uint8_t payload[UPK_HASH_MAX_LEN];
	int vfd = -1;
	upk_status ret;

	if ((ret = decomp_finish(a->dc, err)) != UPK_OK ||
	    (ret = tar_reader_finish(a->tar, err)) != UPK_OK ||
	    (ret = upk_hash_final(a->payload_hash, payload, err)) != UPK_OK ||
	    (ret = installer_check_payload(&a->expect, a->base.payload_bytes, payload, err)) !=
	        UPK_OK)
		goto out;
	/*
	 * Every unpacked file and directory must be durable before the rename
	 * below publishes the version: one syncfs instead of an fsync per file.
	 */
	ret = fio_syncfs(a->stage_fd, a->staging_name, err);
	if (ret != UPK_OK)
		goto out;
	ret = fio_open(a->versions_dir, O_RDONLY | O_DIRECTORY, 0, &vfd, err);
	if (ret != UPK_OK)
		goto out;
	ret = fio_renameat(vfd, a->staging_name, vfd, a->final_name, a->final_name, err);
	if (ret != UPK_OK)
		goto out;
	/* The rename lives in the versions directory: make it durable too. */
	ret = fio_fsync(vfd, a->versions_dir, err);
out:
	fio_close_quiet(&vfd);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "archive %s: ", a->final_name);
	return UPK_OK;
}

static void archive_abort(struct installer *in)
{
	struct archive_inst *a = (struct archive_inst *)in;
	char *staging;

	fio_close_quiet(&a->file_fd);
	fio_close_quiet(&a->stage_fd);
	if (a->versions_dir == NULL || a->staging_name == NULL)
		return;
	staging = fio_path_join(a->versions_dir, a->staging_name);
	if (staging != NULL)
		(void)fio_rmtree(staging, NULL); /* best effort; commit removes leftovers too */
	free(staging);
}

static void archive_free(struct installer *in)
{
	struct archive_inst *a = (struct archive_inst *)in;

	fio_close_quiet(&a->file_fd);
	fio_close_quiet(&a->stage_fd);
	decomp_free(a->dc);
	tar_reader_free(a->tar);
	upk_hash_free(a->payload_hash);
	free(a->bundle_dir);
	free(a->versions_dir);
	free(a->staging_name);
	free(a->final_name);
	free(a->file_path);
	free(a);
}

static const struct installer_ops archive_ops = {
    .name = "archive",
    .write = archive_write,
    .finish = archive_finish,
    .abort = archive_abort,
    .free = archive_free,
};

/* readlink of ROOT/NAME/LINK ("versions/V") into the version V; NOT_FOUND when absent. */
static upk_status link_version(const char *bundle_dir, const char *link, char **version,
                               struct upk_error *err)
{
	char *path = fio_path_join(bundle_dir, link);
	char target[512];
	ssize_t n;
	upk_status ret = UPK_OK;

	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		ret = upk_error_set(err, errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
		                    "reading link %s: %s", path, strerror(errno));
		goto out;
	}
	target[n] = '\0';
	if (strncmp(target, "versions/", 9) != 0 || !bundle_name_ok(target + 9)) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "link %s -> \"%s\" is not ours", path,
		                    target);
		goto out;
	}
	*version = strdup(target + 9);
	if (*version == NULL)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
out:
	free(path);
	return ret;
}

static upk_status check_names(const char *name, const char *version, struct upk_error *err)
{
	upk_status ret;

	if (!bundle_name_ok(name))
		return upk_error_set(
		    err, UPK_ERR_INVALID,
		    "bundle name \"%s\" is not 1 to 64 of [A-Za-z0-9._-] without a leading dot",
		    name);
	if (version == NULL)
		return UPK_OK;
	ret = upk_version_validate(version, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "bundle %s: ", name);
	return UPK_OK;
}

upk_status installer_archive_begin(const struct archive_opts *opts, struct installer **out,
                                   struct upk_error *err)
{
	static const struct tar_callbacks cb = {entry_begin, entry_data, entry_end};
	struct archive_inst *a = NULL;
	char *cur = NULL, *prev = NULL, *path = NULL;
	upk_status ret;
	size_t n;

	ret = check_names(opts->name, opts->version, err);
	if (ret != UPK_OK)
		return ret;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	a->base.ops = &archive_ops;
	a->stage_fd = a->file_fd = -1;
	a->max_bytes = opts->max_bytes ? opts->max_bytes : UINT64_MAX;
	a->max_entries = opts->max_entries ? opts->max_entries : 100000;
	a->expect = opts->expect;
	n = strlen(opts->version) + sizeof(".partial");
	a->bundle_dir = fio_path_join(opts->root, opts->name);
	a->versions_dir = a->bundle_dir != NULL ? fio_path_join(a->bundle_dir, "versions") : NULL;
	a->final_name = strdup(opts->version);
	a->staging_name = malloc(n);
	if (a->versions_dir == NULL || a->final_name == NULL || a->staging_name == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(a->staging_name, n, "%s.partial", opts->version);
	ret = fio_mkdir_p(a->versions_dir, 0755, err);
	if (ret != UPK_OK)
		goto out;
	ret = link_version(a->bundle_dir, "current", &cur, err);
	if (ret == UPK_OK && strcmp(cur, opts->version) == 0) {
		ret = upk_error_set(err, UPK_ERR_EXISTS, "bundle %s: version %s is already current",
		                    opts->name, opts->version);
		goto out;
	}
	if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND)
		goto out;
	ret = link_version(a->bundle_dir, "previous", &prev, err);
	if (ret == UPK_OK && strcmp(prev, opts->version) == 0) {
		/* Reinstalling the rollback target: it is replaced, so it stops being one. */
		path = fio_path_join(a->bundle_dir, "previous");
		ret = path != NULL ? fio_unlinkat(AT_FDCWD, path, 0, 1, path, err)
		                   : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		if (ret != UPK_OK)
			goto out;
	} else if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND) {
		goto out;
	}
	/* Leftovers of an interrupted or replaced install of this version. */
	free(path);
	path = fio_path_join(a->versions_dir, a->staging_name);
	if (path == NULL || (ret = fio_rmtree(path, err)) != UPK_OK)
		goto nomem_or_out;
	free(path);
	path = fio_path_join(a->versions_dir, a->final_name);
	if (path == NULL || (ret = fio_rmtree(path, err)) != UPK_OK)
		goto nomem_or_out;
	free(path);
	path = fio_path_join(a->versions_dir, a->staging_name);
	if (path == NULL)
		goto nomem_or_out;
	ret = fio_mkdirat(AT_FDCWD, path, path, 0755, err);
	if (ret != UPK_OK)
		goto out;
	ret = fio_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &a->stage_fd, err);
	if (ret != UPK_OK)
		goto out;
	if ((ret = upk_hash_new(UPK_HASH_SHA256, &a->payload_hash, err)) != UPK_OK ||
	    (ret = tar_reader_new(&cb, a, &a->tar, err)) != UPK_OK ||
	    (ret = decomp_new(opts->decomp, UINT64_MAX, tar_in, a, &a->dc, err)) != UPK_OK)
		goto out;
	*out = &a->base;
	a = NULL;
	goto out;
nomem_or_out:
	if (path == NULL)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
out:
	if (a != NULL) {
		archive_abort(&a->base);
		archive_free(&a->base);
	}
	free(cur);
	free(prev);
	free(path);
	return ret;
}

/* Point ROOT/NAME/LINK at versions/VERSION with a symlink renamed into place. */
static upk_status set_link(int bfd, const char *bundle_dir, const char *link, const char *version,
                           struct upk_error *err)
{
	char tmp[64], target[256];
	upk_status ret;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", link);
	snprintf(target, sizeof(target), "versions/%s", version);
	ret = fio_unlinkat(bfd, tmp, 0, 1, tmp, err);
	if (ret == UPK_OK)
		ret = fio_symlinkat(target, bfd, tmp, tmp, err);
	/* rename(2) replaces the old link atomically: readers see the old or the new target. */
	if (ret == UPK_OK)
		ret = fio_renameat(bfd, tmp, bfd, link, link, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s/%s: ", bundle_dir, link);
	return UPK_OK;
}

upk_status archive_switch(const char *root, const char *name, const char *version,
                          struct upk_error *err)
{
	char *bundle = NULL, *cur = NULL, *vdir = NULL;
	struct stat st;
	int bfd = -1;
	upk_status ret;

	ret = check_names(name, version, err);
	if (ret != UPK_OK)
		return ret;
	bundle = fio_path_join(root, name);
	vdir = bundle != NULL ? fio_path_join(bundle, "versions") : NULL;
	if (vdir == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_open(bundle, O_RDONLY | O_DIRECTORY, 0, &bfd, err);
	if (ret != UPK_OK)
		goto out;
	if (fstatat(bfd, "versions", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: not an unpacked bundle", vdir);
		goto out;
	}
	{
		char rel[256];
		snprintf(rel, sizeof(rel), "versions/%s", version);
		if (fstatat(bfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
			ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
			                    "bundle %s: version %s is not unpacked", name, version);
			goto out;
		}
	}
	ret = link_version(bundle, "current", &cur, err);
	if (ret == UPK_OK && strcmp(cur, version) == 0)
		goto sync; /* already current */
	if (ret == UPK_OK) {
		/*
		 * previous first: a crash between the two renames leaves previous and
		 * current equal (a harmless rollback target), never a stale previous.
		 */
		ret = set_link(bfd, bundle, "previous", cur, err);
	} else if (ret == UPK_ERR_NOT_FOUND) {
		ret = UPK_OK;
	}
	if (ret != UPK_OK)
		goto out;
	ret = set_link(bfd, bundle, "current", version, err);
	if (ret != UPK_OK)
		goto out;
sync:
	/* The links are directory entries: sync the directory so the switch survives a crash. */
	ret = fio_fsync(bfd, bundle, err);
out:
	fio_close_quiet(&bfd);
	free(bundle);
	free(vdir);
	free(cur);
	return ret;
}

upk_status archive_rollback(const char *root, const char *name, struct upk_error *err)
{
	char *bundle = NULL, *cur = NULL, *prev = NULL, *failed = NULL, *vdir = NULL;
	int bfd = -1;
	upk_status ret;

	ret = check_names(name, NULL, err);
	if (ret != UPK_OK)
		return ret;
	bundle = fio_path_join(root, name);
	vdir = bundle != NULL ? fio_path_join(bundle, "versions") : NULL;
	if (vdir == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_open(bundle, O_RDONLY | O_DIRECTORY, 0, &bfd, err);
	if (ret != UPK_OK)
		goto out;
	ret = link_version(bundle, "current", &cur, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		ret = UPK_OK; /* nothing installed: nothing to roll back */
		goto out;
	}
	if (ret != UPK_OK)
		goto out;
	ret = link_version(bundle, "previous", &prev, err);
	if (ret == UPK_OK) {
		/* One rename: current now points where previous did, and previous is gone. */
		ret = fio_renameat(bfd, "previous", bfd, "current", "current", err);
	} else if (ret == UPK_ERR_NOT_FOUND) {
		/* The first install of this bundle failed: back to no bundle at all. */
		ret = fio_unlinkat(bfd, "current", 0, 1, "current", err);
	}
	if (ret != UPK_OK)
		goto out;
	ret = fio_fsync(bfd, bundle, err);
	if (ret != UPK_OK)
		goto out;
	if (prev == NULL || strcmp(prev, cur) != 0) {
		failed = fio_path_join(vdir, cur);
		if (failed == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = fio_rmtree(failed, err);
	}
out:
	fio_close_quiet(&bfd);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "rolling back bundle %s: ", name);
	free(bundle);
	free(vdir);
	free(cur);
	free(prev);
	free(failed);
	return ret;
}

upk_status archive_commit(const char *root, const char *name, struct upk_error *err)
{
	char *bundle = NULL, *vdir = NULL, *cur = NULL, *prev = NULL, *victim = NULL;
	DIR *d = NULL;
	struct dirent *de;
	upk_status ret;

	ret = check_names(name, NULL, err);
	if (ret != UPK_OK)
		return ret;
	bundle = fio_path_join(root, name);
	vdir = bundle != NULL ? fio_path_join(bundle, "versions") : NULL;
	if (vdir == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = link_version(bundle, "current", &cur, err);
	if (ret != UPK_OK)
		goto out;
	ret = link_version(bundle, "previous", &prev, err);
	if (ret == UPK_ERR_NOT_FOUND)
		ret = UPK_OK;
	if (ret != UPK_OK)
		goto out;
	d = opendir(vdir);
	if (d == NULL) {
		ret = upk_error_set(err, UPK_ERR_IO, "listing %s: %s", vdir, strerror(errno));
		goto out;
	}
	/* O(versions); there are rarely more than three. */
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, cur) == 0 || (prev != NULL && strcmp(de->d_name, prev) == 0))
			continue;
		free(victim);
		victim = fio_path_join(vdir, de->d_name);
		if (victim == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = fio_rmtree(victim, err);
		if (ret != UPK_OK)
			goto out;
	}
out:
	if (d != NULL)
		closedir(d);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "committing bundle %s: ", name);
	free(bundle);
	free(vdir);
	free(cur);
	free(prev);
	free(victim);
	return ret;
}

upk_status archive_current(const char *root, const char *name, char **version,
                           struct upk_error *err)
{
	char *bundle;
	upk_status ret;

	ret = check_names(name, NULL, err);
	if (ret != UPK_OK)
		return ret;
	bundle = fio_path_join(root, name);
	if (bundle == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = link_version(bundle, "current", version, err);
	free(bundle);
	return ret;
}
