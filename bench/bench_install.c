/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image install benchmark: a generated 512 MiB image (UPK_BENCH_MIB to
 * change it) is streamed from a file through the agent's image installer
 * into a file slot, fsynced and read back from the medium, and compared with
 * `cat image > slot && sync` measured in the same run. The installer runs in
 * a child process so its peak RSS is its own. One line per figure.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "installer.h"
#include "upkeep/crypto.h"

#define CHUNK (256u * 1024u) /* what a download delivers at a time, generously */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An incompressible image of mib MiB, and its SHA-256. */
static int make_image(const char *path, unsigned mib, char hex[65])
{
	static uint64_t buf[(1u << 20) / 8];
	struct upk_hash *h = NULL;
	uint8_t d[UPK_HASH_MAX_LEN];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	FILE *f = fopen(path, "wb");

	if (f == NULL || upk_hash_new(UPK_HASH_SHA256, &h, NULL) != UPK_OK)
		return -1;
	for (unsigned m = 0; m < mib; m++) {
		for (size_t i = 0; i < sizeof(buf) / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = x;
		}
		if (fwrite(buf, 1, sizeof(buf), f) != sizeof(buf) ||
		    upk_hash_update(h, buf, sizeof(buf), NULL) != UPK_OK)
			return -1;
	}
	if (fclose(f) != 0 || upk_hash_final(h, d, NULL) != UPK_OK)
		return -1;
	upk_hash_free(h);
	upk_hex_encode(d, 32, hex);
	return 0;
}

/* The child: install image into the slot; exit status 0 on success. */
static int install(const char *image, const char *slot_path, const char *sha, uint64_t len)
{
	struct config_slot slot = {.name = "B", .device = (char *)slot_path};
	struct image_opts o = {.slot = &slot, .decomp = DECOMP_AUTO};
	struct installer *in = NULL;
	struct upk_error err = {0};
	unsigned char *buf = malloc(CHUNK);
	int fd = -1;
	upk_status ret;

	o.expect.length = len;
	if (buf == NULL || payload_expect_sha256_hex(&o.expect, sha, &err) != UPK_OK)
		return 1;
	ret = fio_open(image, O_RDONLY, 0, &fd, &err);
	if (ret == UPK_OK)
		ret = installer_image_begin(&o, &in, &err);
	while (ret == UPK_OK) {
		size_t got = 0;
		ret = fio_read_full(fd, buf, CHUNK, &got, image, &err);
		if (ret != UPK_OK || got == 0)
			break;
		ret = installer_sink(in, buf, got, &err);
	}
	if (ret == UPK_OK)
		ret = installer_finish(in, &err);
	if (ret != UPK_OK)
		fprintf(stderr, "bench_install: %s\n", err.msg);
	installer_free(in);
	fio_close_quiet(&fd);
	free(buf);
	return ret == UPK_OK ? 0 : 1;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *mib_env = getenv("UPK_BENCH_MIB");
	unsigned mib = mib_env != NULL ? (unsigned)atoi(mib_env) : 512;
	char dir[4096], image[4200], slot[4200], cat_slot[4200], cmd[13000], sha[65];
	double t0, t_cat, t_inst;
	struct rusage ru;
	int status, rc = 1;
	pid_t pid;

	if (mib == 0)
		mib = 512;
	snprintf(dir, sizeof(dir), "%s/upk-bench-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench_install: mkdtemp");
		return 1;
	}
	snprintf(image, sizeof(image), "%s/image", dir);
	snprintf(slot, sizeof(slot), "%s/slot", dir);
	snprintf(cat_slot, sizeof(cat_slot), "%s/cat-slot", dir);
	if (make_image(image, mib, sha) != 0) {
		fprintf(stderr, "bench_install: cannot make the image in %s\n", dir);
		goto out;
	}
	/* Both start from a flushed file system and an empty target file. */
	sync();
	snprintf(cmd, sizeof(cmd), "cat '%s' > '%s' && sync", image, cat_slot);
	t0 = now();
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_install: %s failed\n", cmd);
		goto out;
	}
	t_cat = now() - t0;
	unlink(cat_slot);
	sync();
	close(open(slot, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	t0 = now();
	pid = fork();
	if (pid == 0)
		_exit(install(image, slot, sha, (uint64_t)mib << 20));
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_install: the install failed\n");
		goto out;
	}
	t_inst = now() - t0;
	printf("bench_install: image size: %u MiB\n", mib);
	printf("bench_install: cat image > slot && sync: %.3f s\n", t_cat);
	printf("bench_install: image installer (write, fsync, read back from the medium, verify): "
	       "%.3f s\n",
	       t_inst);
	printf("bench_install: install time / cat+sync time: %.2f (target <= 1.2)\n",
	       t_inst / t_cat);
	printf("bench_install: installer peak RSS: %ld KiB (target <= 4096)\n", ru.ru_maxrss);
	printf("bench_install: installer CPU time: %.3f s user, %.3f s system\n",
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	rc = 0;
out:
	unlink(image);
	unlink(slot);
	unlink(cat_slot);
	rmdir(dir);
	return rc;
}
