/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep bundle create`: one file for an offline (USB, air-gapped) update,
 * holding the signed metadata of the image and director repositories and
 * the payloads, in the layout `upkeepd install BUNDLE` reads (docs/agent.md,
 * "Bundles"). The image repository is verified first, as a device would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "upkeep/client.h"
#include "upkeep/fetch.h"

#define TAR_BLOCK 512u

static const struct cli_opt create_opts[] = {
    {"image", "PUBDIR", "the published image repository (upkeep publish)", 0},
    {"director", "PUBDIR", "the device's director repository (metadata/ inside)", 0},
    {"image-root", "ROOT.json", "root to verify the image repository from "
                                "(default: PUBDIR/metadata/1.root.json)", 0},
    {"target", "PATH", "a target to include (repeat for several)", CLI_OPT_REPEAT},
    {"output", "FILE", "the bundle to write", 0},
    {NULL, NULL, NULL, 0},
};

static const struct cli_spec create_spec = {
    "upkeep bundle create --image PUBDIR --director PUBDIR --target PATH... --output FILE",
    "Writes a ustar file with image/metadata/*, director/metadata/* and targets/PATH "
    "for each --target, after verifying the image repository and finding every target "
    "in it with the TUF client workflow. The device verifies everything again.",
    create_opts, 0, 0};

struct out {
	int fd;
	const char *path;
};

static upk_status out_write(struct out *o, const void *buf, size_t len, struct upk_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(o->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return upk_error_set(err, UPK_ERR_IO, "writing %s: %s", o->path,
			                     strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return UPK_OK;
}

/* A ustar header: names over 100 bytes are split at a '/' into prefix and name. */
static upk_status tar_header(struct out *o, const char *name, uint64_t size, struct upk_error *err)
{
	unsigned char h[TAR_BLOCK];
	size_t n = strlen(name), split = 0;
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	if (n > 100) {
		for (size_t i = n - 1; i > 0; i--)
			if (name[i] == '/' && n - i - 1 <= 100 && i <= 155) {
				split = i;
				break;
			}
		if (split == 0)
			return upk_error_set(err, UPK_ERR_INVALID, "name too long for ustar: %s",
			                     name);
		memcpy(h + 345, name, split);
		memcpy(h, name + split + 1, n - split - 1);
	} else {
		memcpy(h, name, n);
	}
	snprintf((char *)h + 100, 8, "%07o", 0644u);
	snprintf((char *)h + 108, 8, "%07o", 0u);
	snprintf((char *)h + 116, 8, "%07o", 0u);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011o", 0u);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return out_write(o, h, sizeof(h), err);
}

/* Append the file at src as member name, streaming it. */
static upk_status tar_file(struct out *o, const char *name, const char *src, struct upk_error *err)
{
	static const unsigned char zero[TAR_BLOCK];
	char buf[64 * 1024];
	struct stat st;
	uint64_t left;
	upk_status ret;
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: %s", src, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return upk_error_set(err, UPK_ERR_INVALID, "%s: not a regular file", src);
	}
	left = (uint64_t)st.st_size;
	ret = tar_header(o, name, left, err);
	while (ret == UPK_OK && left > 0) {
		ssize_t r = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "reading %s: %s", src,
			                    r < 0 ? strerror(errno) : "file shrank");
			break;
		}
		ret = out_write(o, buf, (size_t)r, err);
		left -= (uint64_t)r;
	}
	close(fd);
	if (ret == UPK_OK && st.st_size % TAR_BLOCK != 0)
		ret = out_write(o, zero, TAR_BLOCK - (size_t)(st.st_size % TAR_BLOCK), err);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of DIR/metadata as PREFIX/metadata/NAME, in name order. */
static upk_status tar_metadata(struct out *o, const char *dir, const char *prefix,
                               struct upk_error *err)
{
	char *mdir = cli_join(dir, "metadata"), **names = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = mdir != NULL ? opendir(mdir) : NULL;
	upk_status ret = UPK_OK;

	if (d == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "%s/metadata: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char **nn;

		if (de->d_name[0] == '.' || strstr(de->d_name, ".json") == NULL)
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL || (nn[n] = strdup(de->d_name)) == NULL) {
			names = nn != NULL ? nn : names;
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		names = nn;
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && ret == UPK_OK; i++) {
		char member[4096], *src = cli_join(mdir, names[i]);

		snprintf(member, sizeof(member), "%s/metadata/%s", prefix, names[i]);
		ret = src == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
		                  : tar_file(o, member, src, err);
		free(src);
	}
out:
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(mdir);
	return ret;
}

/* The published file of a target: PUBDIR/targets/DIR/SHA256.NAME, else PUBDIR/targets/PATH. */
static char *target_file(const char *pub, const char *path, const char *sha256)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash != NULL ? (int)(slash - path) + 1 : 0;
	char *f = NULL;

	if (sha256 != NULL &&
	    asprintf(&f, "%s/targets/%.*s%s.%s", pub, dirlen, path, sha256, path + dirlen) > 0 &&
	    access(f, R_OK) == 0)
		return f;
	free(f);
	f = NULL;
	if (asprintf(&f, "%s/targets/%s", pub, path) < 0)
		return NULL;
	return f;
}

static void rm_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = cli_join(dir, de->d_name);
		if (p != NULL)
			unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int bundle_create(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	enum cli_parse_result pr = cli_parse(&create_spec, argc, argv, &a);
	const char *pub, *dpub, *outp;
	char *const *targets;
	char tmpdir[] = "/tmp/upkeep-bundle-XXXXXX", *root = NULL, *rootbuf = NULL, *tmp = NULL;
	char *url = NULL;
	size_t n_targets = 0, rlen = 0;
	struct upk_fetcher f;
	struct upk_client *c = NULL;
	struct upk_client_config cc;
	struct out o = {.fd = -1};
	int made_tmp = 0;
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	pub = cli_opt(&a, "image");
	dpub = cli_opt(&a, "director");
	outp = cli_opt(&a, "output");
	targets = cli_opt_all(&a, "target", &n_targets);
	if (pub == NULL || dpub == NULL || outp == NULL || n_targets == 0) {
		fprintf(stderr, "upkeep bundle create: --image, --director, --target and --output "
		                "are required\n");
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	/* Verify the image repository from its root, as the device will. */
	root = cli_opt(&a, "image-root") != NULL ? strdup(cli_opt(&a, "image-root"))
	                                         : cli_join(pub, "metadata/1.root.json");
	if (root == NULL || mkdtemp(tmpdir) == NULL) {
		ret = upk_error_set(&err, UPK_ERR_IO, "cannot make a temporary directory");
		goto out;
	}
	made_tmp = 1;
	ret = cli_read_file(root, CLI_MAX_FILE, &rootbuf, &rlen, &err);
	if (ret == UPK_OK)
		ret = upk_client_bootstrap(tmpdir, rootbuf, rlen, &err);
	if (ret != UPK_OK)
		goto out;
	upk_fetcher_file_init(&f);
	if (asprintf(&url, "%s/metadata/", pub) < 0) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&cc, 0, sizeof(cc));
	cc.metadata_dir = tmpdir;
	cc.metadata_url = url;
	cc.fetcher = &f;
	ret = upk_client_new(&cc, &c, &err);
	if (ret == UPK_OK)
		ret = upk_client_refresh(c, &err);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "image repository %s: ", pub);
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp", outp) < 0) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	o.path = tmp;
	o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		ret = upk_error_set(&err, UPK_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	ret = tar_metadata(&o, pub, "image", &err);
	if (ret == UPK_OK)
		ret = tar_metadata(&o, dpub, "director", &err);
	for (size_t i = 0; i < n_targets && ret == UPK_OK; i++) {
		struct upk_client_target *t = NULL;
		char member[4200], *file;

		ret = upk_client_find_target(c, targets[i], &t, &err);
		if (ret != UPK_OK) {
			upk_error_prefix(&err, ret, "target %s: ", targets[i]);
			break;
		}
		file = target_file(pub, targets[i],
		                   json_string_value(json_object_get(t->hashes, "sha256")));
		/* The payload must be the signed one: a stale copy would only fail on the device. */
		ret = file == NULL ? upk_error_set(&err, UPK_ERR_NOMEM, "out of memory")
		                   : upk_target_check_file(file, t->length, t->hashes, &err);
		snprintf(member, sizeof(member), "targets/%s", targets[i]);
		if (ret == UPK_OK)
			ret = tar_file(&o, member, file, &err);
		free(file);
		upk_client_target_free(t);
	}
	if (ret == UPK_OK) {
		static const unsigned char end[2 * TAR_BLOCK];

		ret = out_write(&o, end, sizeof(end), &err);
	}
	/* Durable before it takes the name: a bundle is carried away right after. */
	if (ret == UPK_OK && fsync(o.fd) != 0)
		ret = upk_error_set(&err, UPK_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
	if (ret == UPK_OK && rename(tmp, outp) != 0)
		ret = upk_error_set(&err, UPK_ERR_IO, "rename to %s: %s", outp, strerror(errno));
	if (ret == UPK_OK)
		printf("wrote %s: image and director metadata, %zu target(s)\n", outp, n_targets);
out:
	if (o.fd >= 0)
		close(o.fd);
	if (ret != UPK_OK && tmp != NULL)
		unlink(tmp);
	upk_client_free(c);
	if (made_tmp)
		rm_flat(tmpdir);
	free(url);
	free(tmp);
	free(root);
	free(rootbuf);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static const struct cli_command bundle_cmds[] = {
    {"create", bundle_create, "write an offline bundle (metadata of both repositories + payloads)"},
};

int cmd_bundle(int argc, char **argv)
{
	return cli_dispatch("upkeep bundle", bundle_cmds, sizeof(bundle_cmds) / sizeof(bundle_cmds[0]),
	                    argc, argv);
}
