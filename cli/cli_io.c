/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File, time and key helpers of the `upkeep` tool: expiry parsing, whole-file
 * reads with a cap, crash-safe writes, hashed copies of payloads, and key
 * files with passphrases that never have to appear on the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "upkeep/metadata.h"

/* ---- time ---- */

int cli_when_is_relative(const char *text)
{
	size_t n = strspn(text, "0123456789");

	return n > 0 && text[n] != '\0' && text[n + 1] == '\0' && strchr("smhdwy", text[n]) != NULL;
}

upk_status cli_parse_when(const char *text, time_t now, time_t *out, struct upk_error *err)
{
	char buf[32];
	upk_status ret;

	if (cli_when_is_relative(text)) {
		size_t n = strspn(text, "0123456789");
		long long count, unit = 1;

		if (n > 9)
			return upk_error_set(err, UPK_ERR_INVALID, "expiry \"%.32s\" is too far away",
					     text);
		count = strtoll(text, NULL, 10);
		switch (text[n]) {
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		default: unit = 1; break;
		}
		if (count == 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "expiry \"%.32s\" is now: give a positive period", text);
		if (count > 200LL * 365 * 86400 / unit)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "expiry \"%.32s\" is more than 200 years away", text);
		*out = now + (time_t)(count * unit);
		return UPK_OK;
	}
	/* A bare date means midnight UTC at its start. */
	if (strlen(text) == 10 && text[4] == '-' && text[7] == '-') {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", text);
		text = buf;
	}
	ret = upk_time_parse(text, out, err);
	if (ret != UPK_OK)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "expiry \"%.32s\" is neither a period (90d, 12h, 2w, 1y) nor a "
				     "UTC time (2030-01-31 or 2030-01-31T12:00:00Z)",
				     text);
	return UPK_OK;
}

/* ---- files ---- */

char *cli_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

int cli_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

upk_status cli_read_file(const char *path, size_t max, char **out, size_t *out_len,
			 struct upk_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	upk_status ret = UPK_OK;

	if (fd < 0)
		return upk_error_set(err, errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
				     "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t r;

		if (len + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nb;

			nb = realloc(buf, ncap);
			if (nb == NULL) {
				ret = upk_error_set(err, UPK_ERR_NOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
					    max);
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	d = strndup(path, (size_t)(slash - path));
	return d;
}

/* fsync a directory so that a rename in it survives a power cut (see cli_write_atomic). */
static upk_status sync_dir(const char *path, struct upk_error *err)
{
	char *d = dir_of(path);
	int fd;
	upk_status ret = UPK_OK;

	if (d == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		ret = upk_error_set(err, UPK_ERR_IO, "%s: sync: %s", d, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(d);
	return ret;
}

static upk_status write_all(int fd, const void *data, size_t len, const char *path,
			    struct upk_error *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
		}
		p += w;
		len -= (size_t)w;
	}
	return UPK_OK;
}

/* A temporary file beside path, so that the final rename stays within one file system. */
static upk_status open_temp(const char *path, unsigned mode, char **tmp_out, int *fd_out,
			    struct upk_error *err)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 16);
	int fd;

	if (tmp == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".tmp.XXXXXX", 12);
	fd = mkstemp(tmp);
	if (fd < 0) {
		upk_error_set(err, UPK_ERR_IO, "%s: cannot create a temporary file: %s", path,
			      strerror(errno));
		free(tmp);
		return UPK_ERR_IO;
	}
	if (fchmod(fd, (mode_t)mode) != 0) {
		upk_error_set(err, UPK_ERR_IO, "%s: chmod: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return UPK_ERR_IO;
	}
	*tmp_out = tmp;
	*fd_out = fd;
	return UPK_OK;
}

/* fsync, close and rename a finished temporary file over its destination. */
static upk_status commit_temp(int fd, char *tmp, const char *path, struct upk_error *err)
{
	upk_status ret = UPK_OK;

	/*
	 * The data must be on disk before the rename makes it visible, or a power cut
	 * could leave a complete-looking name over incomplete contents; the directory
	 * fsync then makes the rename itself durable.
	 */
	if (fsync(fd) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: fsync: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	free(tmp);
	return sync_dir(path, err);
out:
	unlink(tmp);
	free(tmp);
	return ret;
}

upk_status cli_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
			    struct upk_error *err)
{
	char *tmp = NULL;
	int fd = -1;
	upk_status ret;

	ret = open_temp(path, mode, &tmp, &fd, err);
	if (ret != UPK_OK)
		return ret;
	ret = write_all(fd, data, len, path, err);
	if (ret != UPK_OK) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return ret;
	}
	return commit_temp(fd, tmp, path, err);
}

upk_status cli_mkdirs(const char *path, struct upk_error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return upk_error_set(err, UPK_ERR_INVALID, "bad directory name \"%.64s\"", path);
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return upk_error_set(err, UPK_ERR_IO, "%s: mkdir: %s", buf, strerror(errno));
		if (i < len)
			buf[i] = '/';
	}
	return UPK_OK;
}

upk_status cli_copy_hashed(const char *src, const char *dst, struct cli_file_digest *out,
			   struct upk_error *err)
{
	struct upk_hash *h256 = NULL, *h512 = NULL;
	uint8_t d256[UPK_HASH_MAX_LEN], d512[UPK_HASH_MAX_LEN];
	char *tmp = NULL, *dir = NULL;
	int in = -1, fd = -1;
	int64_t total = 0;
	upk_status ret;
	enum { BUF_SIZE = 1 << 16 };
	char *buf = malloc(BUF_SIZE);

	if (buf == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ret = upk_error_set(err, errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
				    "%s: %s", src, strerror(errno));
		goto out;
	}
	ret = upk_hash_new(UPK_HASH_SHA256, &h256, err);
	if (ret == UPK_OK)
		ret = upk_hash_new(UPK_HASH_SHA512, &h512, err);
	if (ret != UPK_OK)
		goto out;
	if (dst != NULL) {
		dir = dir_of(dst);
		if (dir == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = cli_mkdirs(dir, err);
		if (ret == UPK_OK)
			ret = open_temp(dst, 0644, &tmp, &fd, err);
		if (ret != UPK_OK)
			goto out;
	}
	for (;;) {
		ssize_t r = read(in, buf, BUF_SIZE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", src, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		total += r;
		ret = upk_hash_update(h256, buf, (size_t)r, err);
		if (ret == UPK_OK)
			ret = upk_hash_update(h512, buf, (size_t)r, err);
		if (ret == UPK_OK && fd >= 0)
			ret = write_all(fd, buf, (size_t)r, dst, err);
		if (ret != UPK_OK)
			goto out;
	}
	ret = upk_hash_final(h256, d256, err);
	if (ret == UPK_OK)
		ret = upk_hash_final(h512, d512, err);
	if (ret != UPK_OK)
		goto out;
	if (fd >= 0) {
		ret = commit_temp(fd, tmp, dst, err);
		fd = -1;
		tmp = NULL;
		if (ret != UPK_OK)
			goto out;
	}
	out->length = total;
	upk_hex_encode(d256, 32, out->sha256);
	upk_hex_encode(d512, 64, out->sha512);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(dir);
	free(buf);
	upk_hash_free(h256);
	upk_hash_free(h512);
	if (in >= 0)
		close(in);
	return ret;
}

/* ---- passphrases and keys ---- */

void cli_passphrase_free(char *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, strlen(p));
	free(p);
}

/* Ask on the terminal without echo. Only called when stdin is a terminal. */
static upk_status prompt_passphrase(const char *what, char **out, struct upk_error *err)
{
	struct termios old, quiet;
	char line[1024];
	int have_tc = tcgetattr(STDIN_FILENO, &old) == 0;
	char *got;

	fprintf(stderr, "Passphrase for %s: ", what);
	fflush(stderr);
	if (have_tc) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	got = fgets(line, sizeof(line), stdin);
	if (have_tc)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	if (got == NULL)
		return upk_error_set(err, UPK_ERR_PASSPHRASE, "%s: no passphrase entered", what);
	line[strcspn(line, "\r\n")] = '\0';
	*out = strdup(line);
	OPENSSL_cleanse(line, sizeof(line));
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

upk_status cli_passphrase(const char *passphrase_file, int prompt, const char *what, char **out,
			  struct upk_error *err)
{
	const char *env = getenv("UPKEEP_PASSPHRASE");
	char *text = NULL;
	size_t len = 0;
	upk_status ret;

	*out = NULL;
	if (passphrase_file != NULL) {
		ret = cli_read_file(passphrase_file, 64 * 1024, &text, &len, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "passphrase file: ");
		/* The first line is the passphrase; a trailing newline is not part of it. */
		text[strcspn(text, "\r\n")] = '\0';
		if (text[0] == '\0') {
			cli_passphrase_free(text);
			return upk_error_set(err, UPK_ERR_PASSPHRASE, "passphrase file %s is empty",
					     passphrase_file);
		}
		*out = text;
		return UPK_OK;
	}
	if (env != NULL && env[0] != '\0') {
		*out = strdup(env);
		if (*out == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		return UPK_OK;
	}
	/* Without a terminal nobody can answer: never block a CI job on a prompt. */
	if (prompt && isatty(STDIN_FILENO))
		return prompt_passphrase(what, out, err);
	return UPK_OK;
}

upk_status cli_load_key(const char *path, const char *passphrase_file, int need_private,
			struct upk_key **out, struct upk_error *err)
{
	char *pem = NULL, *pass = NULL;
	size_t len = 0;
	struct upk_key *key = NULL;
	upk_status ret;

	ret = cli_read_file(path, 1024 * 1024, &pem, &len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "key file: ");
	/*
	 * Decide from the PEM label whether a passphrase is needed, so that an
	 * unencrypted key never waits for one and OpenSSL never prompts on its own.
	 */
	if (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL) {
		ret = cli_passphrase(passphrase_file, 1, path, &pass, err);
		if (ret != UPK_OK)
			goto out;
		if (pass == NULL) {
			ret = upk_error_set(err, UPK_ERR_PASSPHRASE,
					    "%s is encrypted: give --passphrase-file FILE or set "
					    "UPKEEP_PASSPHRASE",
					    path);
			goto out;
		}
	}
	ret = upk_key_from_pem(pem, len, pass, &key, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", path);
		goto out;
	}
	if (need_private && !upk_key_has_private(key)) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "%s is a public key; signing needs the private key file", path);
		goto out;
	}
	*out = key;
	key = NULL;
out:
	upk_key_free(key);
	cli_passphrase_free(pass);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	return ret;
}
