/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the agent's unit tests (header-only, so tests/CMakeLists.txt
 * needs no new source): deterministic files, hashes, configurations, and
 * running the boot simulator and the libubootenv / GRUB tools.
 */
#ifndef UPK_TU_AGENT_H
#define UPK_TU_AGENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"
#include "upkeep/crypto.h"

#define TU_UNUSED __attribute__((unused))

/* path under dir, into a static rotating buffer (8 at a time). */
static TU_UNUSED const char *tu_path(const char *dir, const char *leaf)
{
	static char bufs[8][4096];
	static int k;
	char *b = bufs[k++ & 7];

	int n = snprintf(b, 4096, "%s/%s", dir, leaf);

	if (n < 0 || n >= 4096)
		fail_msg("path too long: %s/%s", dir, leaf);
	return b;
}

/* A file of size bytes of a deterministic pattern depending on seed. */
static TU_UNUSED void tu_make_pattern(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "wb");
	unsigned x = seed * 2654435761u + 1;

	if (f == NULL)
		fail_msg("cannot write %s", path);
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		fputc((int)((x >> 16) & 0xff), f);
	}
	if (fclose(f) != 0)
		fail_msg("short write to %s", path);
}

/* Hex SHA-256 of the first len bytes of a file (all of it when len is SIZE_MAX). */
static TU_UNUSED void tu_sha256_file(const char *path, size_t len, char hex[65])
{
	size_t n = 0;
	char *buf = tu_read_file(path, &n);
	uint8_t d[UPK_HASH_MAX_LEN];

	if (buf == NULL)
		fail_msg("cannot read %s", path);
	if (len != (size_t)-1) {
		if (n < len)
			fail_msg("%s is shorter than %zu", path, len);
		n = len;
	}
	assert_int_equal(upk_hash_buf(UPK_HASH_SHA256, buf, n, d, NULL), UPK_OK);
	upk_hex_encode(d, 32, hex);
	free(buf);
}

/* Run a shell command and capture its stdout (at most cap-1 bytes); returns the exit status. */
static TU_UNUSED int tu_capture(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static TU_UNUSED int tu_capture(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		fail_msg("popen %s", cmd);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Path of a program built in the agent directory (upkeepd, upkeep-bootsim). */
static TU_UNUSED const char *tu_agent_bin(const char *name)
{
	static char buf[2][4096];
	static int k;
	const char *build = getenv("UPK_BUILD_DIR");
	char *b = buf[k++ & 1];

	if (build == NULL)
		fail_msg("UPK_BUILD_DIR is not set (run the tests through ctest)");
	snprintf(b, 4096, "%s/agent/%s", build, name);
	return b;
}

/* One simulated boot; returns the line the simulator printed ("slot=B trial=1 fallback=0"). */
static TU_UNUSED const char *tu_boot(const char *dir, const char *kind, const char *envarg)
{
	static char out[256];
	int rc = tu_capture(out, sizeof(out), "%s --cmdline %s/cmdline %s %s",
	                    tu_agent_bin("upkeep-bootsim"), dir, kind, envarg);

	if (rc != 0)
		fail_msg("upkeep-bootsim %s %s failed (%d): %s", kind, envarg, rc, out);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

#endif
