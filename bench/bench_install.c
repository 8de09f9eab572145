/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image install benchmark: a generated 512 MiB image (UPK_BENCH_MIB to
 * change it) is installed into a file slot twice: from a file through the
 * agent's image installer, and end to end by the real upkeepd from a
 * loopback HTTP server (TUF refresh of both repositories, admission,
 * streaming download, write, fsync, read-back, trial switch). Both are
 * compared with `cat image > slot && sync` measured in the same run; each
 * runs in a child so its peak RSS is its own. Beside upkeepd's peak RSS, the
 * same run measures `upkeepd identity` (the core with OpenSSL initialised
 * for one signature, nothing else: the floor of any core process); beside
 * the daemon's RSS between cycles, a `sleep` (a libc-only process). One line
 * per figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "installer.h"
#include "tu_httpd.h"
#include "tu_repo.h"
#include "upkeep/crypto.h"
#include "upkeep/target_info.h"

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

/* The directory of this program (upkeepd is in ../agent of it). */
static void self_dir(char *out, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", out, cap - 1);

	out[n > 0 ? n : 0] = '\0';
	if (strrchr(out, '/') != NULL)
		*strrchr(out, '/') = '\0';
}

/*
 * An image repository and a director repository under srv/ listing the
 * image (hard-linked under its consistent-snapshot name, not copied).
 */
static int make_repos(const char *dir, const char *image, const char *sha, uint64_t len)
{
	struct tu_repo *r[2] = {NULL, NULL};
	struct upk_error err = {0};
	struct upk_target_info info = {0};
	char *hw[1] = {"bench-hw"}, p[4400], link_to[4400];
	json_t *custom = NULL, *hashes = json_pack("{s:s}", "sha256", sha);
	int rc = -1;

	info.type = UPK_TARGET_IMAGE;
	info.version = "2.0";
	info.hardware = hw;
	info.n_hardware = 1;
	if (hashes == NULL || upk_target_info_to_custom(&info, &custom, &err) != UPK_OK)
		goto out;
	snprintf(p, sizeof(p), "%s/srv", dir);
	mkdir(p, 0755);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/srv/%s", dir, i == 0 ? "image" : "director");
		if (tu_repo_new(p, 1, &r[i], &err) != UPK_OK ||
		    upk_targets_set(tu_repo_role(r[i], "targets")->md, "img/os.img", (int64_t)len,
		                    hashes, i == 0 ? custom : NULL, &err) != UPK_OK)
			goto out;
		tu_repo_role(r[i], "targets")->dirty = 1;
		if (tu_repo_publish(r[i], &err) != UPK_OK)
			goto out;
	}
	for (int i = 0; i < 4; i++) {
		static const char *const sub[] = {"", "/image", "/image/targets", "/image/targets/img"};

		snprintf(p, sizeof(p), "%s/srv%s", dir, sub[i]);
		mkdir(p, 0755);
	}
	if (snprintf(link_to, sizeof(link_to), "%s/%s.os.img", p, sha) >= (int)sizeof(link_to) ||
	    link(image, link_to) != 0) {
		upk_error_set(&err, UPK_ERR_IO, "link %s: %s", link_to, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "bench_install: repositories: %s\n", err.msg);
	tu_repo_free(r[0]);
	tu_repo_free(r[1]);
	json_decref(custom);
	json_decref(hashes);
	return rc;
}

/* upkeepd check against the loopback server; *secs and *ru of the child. */
static int run_upkeepd(const char *dir, const char *upkeepd, const char *url, double *secs,
                       struct rusage *ru)
{
	char conf[4400], text[8192], im[600], dm[600], tg[600];
	double t0;
	int status;
	pid_t pid;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	if (snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/data\nhardware_id = bench-hw\ncmdline = %s/cmdline\n"
	         "reboot = true\n[trust]\nimage_root = %s/srv/image/metadata/1.root.json\n"
	         "director_root = %s/srv/director/metadata/1.root.json\n"
	         "[slot.A]\ndevice = %s/slotA\n[slot.B]\ndevice = %s/slot\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n",
	         dir, dir, dir, dir, dir, dir, dir) >= (int)sizeof(text))
		return -1;
	f = fopen(conf, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		return -1;
	snprintf(text, sizeof(text),
	         "cd '%s' && printf 'upkeep.slot=A\\n' > cmdline && : > slotA && "
	         "grub-editenv grubenv create && grub-editenv grubenv set upkeep_default=A",
	         dir);
	if (system(text) != 0) {
		fprintf(stderr, "bench_install: grub-editenv is needed for the upkeepd run\n");
		return -1;
	}
	snprintf(im, sizeof(im), "%s/image/metadata/", url);
	snprintf(dm, sizeof(dm), "%s/director/metadata/", url);
	snprintf(tg, sizeof(tg), "%s/image/targets/", url);
	sync();
	t0 = now();
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		/* Its one line of outcome is not a figure of the benchmark. */
		if (devnull >= 0)
			dup2(devnull, 1);
		execl(upkeepd, "upkeepd", "--config", conf, "check", "--no-reboot", "--image-metadata",
		      im, "--director-metadata", dm, "--targets", tg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, ru) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	*secs = now() - t0;
	return 0;
}

/* Size of a stripped copy of prog, or -1. */
static long stripped_size(const char *dir, const char *prog)
{
	char cmd[9000], copy[4400];
	struct stat st;

	snprintf(copy, sizeof(copy), "%s/stripped", dir);
	snprintf(cmd, sizeof(cmd), "strip -o '%s' '%s' 2>/dev/null", copy, prog);
	if (system(cmd) != 0 || stat(copy, &st) != 0)
		return -1;
	unlink(copy);
	return (long)st.st_size;
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kib;
}

/* Start argv with stdout and stderr to log (NULL: /dev/null). */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log != NULL ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Whether file holds text (the daemon's log). */
static int log_has(const char *file, const char *text)
{
	char buf[8192];
	FILE *f = fopen(file, "r");
	size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/*
 * The daemon between cycles: `upkeepd daemon` against a server that is not
 * there runs its first cycle (in a child core process), fails, and sleeps
 * its backoff; its RSS then, beside a `sleep` process's. Both in KiB.
 */
static int idle_rss(const char *dir, const char *upkeepd, long *daemon_kib, long *sleep_kib)
{
	char conf[4400], log[4400], text[24000];
	char *dargv[] = {(char *)upkeepd, "--config", conf, "daemon", NULL};
	char *sargv[] = {"/bin/sleep", "30", NULL};
	pid_t d, sl;
	FILE *f;
	int st;

	snprintf(conf, sizeof(conf), "%s/idle.conf", dir);
	snprintf(log, sizeof(log), "%s/idle.log", dir);
	if (snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/idle-data\nhardware_id = bench-hw\ncmdline = %s/cmdline\n"
	         "server = http://127.0.0.1:1/v1/fleets/none\n[slot.A]\ndevice = %s/slotA\n"
	         "[slot.B]\ndevice = %s/slot\n[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n",
	         dir, dir, dir, dir, dir) >= (int)sizeof(text))
		return -1;
	f = fopen(conf, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		return -1;
	d = spawn(dargv, log);
	sl = spawn(sargv, NULL);
	if (d < 0 || sl < 0)
		return -1;
	/* The first cycle fails at once (nobody listens); the backoff is 4 s at least. */
	for (int i = 0; i < 100 && !log_has(log, "check failed (1 in a row)"); i++)
		usleep(50 * 1000);
	usleep(200 * 1000);
	*daemon_kib = log_has(log, "check failed (1 in a row)") ? rss_kib(d) : -1;
	*sleep_kib = rss_kib(sl);
	kill(d, SIGTERM);
	kill(sl, SIGTERM);
	waitpid(d, &st, 0);
	waitpid(sl, NULL, 0);
	unlink(conf);
	unlink(log);
	return *daemon_kib > 0 && *sleep_kib > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Peak RSS (KiB) of `upkeepd identity`: the core with OpenSSL set up for one key, nothing else. */
static long core_floor_kib(const char *dir, const char *upkeepd)
{
	char conf[4400];
	char *argv[] = {(char *)upkeepd, "--config", conf, "identity", NULL};
	struct rusage ru;
	int st;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/agent.conf", dir);
	pid = spawn(argv, NULL);
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return ru.ru_maxrss;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *mib_env = getenv("UPK_BENCH_MIB");
	unsigned mib = mib_env != NULL ? (unsigned)atoi(mib_env) : 512;
	char dir[4096], image[4200], slot[4200], cat_slot[4200], cmd[13000], sha[65];
	double t0, t_cat, t_inst;
	struct rusage ru, ru_cat;
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
	getrusage(RUSAGE_CHILDREN, &ru_cat); /* only cat+sync's shell was a child so far */
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
	printf("bench_install: cat+sync CPU time: %.3f s user, %.3f s system\n",
	       (double)ru_cat.ru_utime.tv_sec + (double)ru_cat.ru_utime.tv_usec / 1e6,
	       (double)ru_cat.ru_stime.tv_sec + (double)ru_cat.ru_stime.tv_usec / 1e6);
	printf("bench_install: image installer (write, fsync, read back from the medium, verify): "
	       "%.3f s\n",
	       t_inst);
	printf("bench_install: install time / cat+sync time: %.2f (target <= 1.2)\n",
	       t_inst / t_cat);
	printf("bench_install: installer peak RSS: %ld KiB (target <= 4096)\n", ru.ru_maxrss);
	printf("bench_install: installer CPU time: %.3f s user, %.3f s system\n",
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	fflush(stdout);
	/* End to end: the real upkeepd from a loopback HTTP server. */
	{
		char self[4096], upkeepd[4400], core[4400], srv[4400];
		struct tu_httpd *h = NULL;
		double t_net = 0;
		long size, idle = 0, sleep_rss = 0;

		self_dir(self, sizeof(self));
		snprintf(upkeepd, sizeof(upkeepd), "%s/../agent/upkeepd", self);
		snprintf(core, sizeof(core), "%s/../agent/upkeepd-core", self);
		snprintf(srv, sizeof(srv), "%s/srv", dir);
		unlink(slot);
		close(open(slot, O_WRONLY | O_CREAT | O_TRUNC, 0644));
		if (access(upkeepd, X_OK) != 0) {
			fprintf(stderr, "bench_install: %s not built: skipping the HTTP run\n",
			        upkeepd);
		} else if (make_repos(dir, image, sha, (uint64_t)mib << 20) != 0 ||
		           (h = tu_httpd_start(srv)) == NULL ||
		           run_upkeepd(dir, upkeepd, tu_httpd_url(h), &t_net, &ru) != 0) {
			fprintf(stderr, "bench_install: the upkeepd run failed\n");
			tu_httpd_stop(h);
			goto out;
		} else {
			printf("bench_install: upkeepd check from loopback HTTP (refresh, download, "
			       "write, fsync, read back, verify, arm trial): %.3f s\n",
			       t_net);
			printf("bench_install: upkeepd time / cat+sync time: %.2f (target <= 1.2)\n",
			       t_net / t_cat);
			printf("bench_install: upkeepd peak RSS: %ld KiB (target <= 4096)\n",
			       ru.ru_maxrss);
			printf("bench_install: upkeepd CPU time: %.3f s user, %.3f s system\n",
			       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
			       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
			printf("bench_install: upkeepd identity peak RSS (OpenSSL set up, no "
			       "install): %ld KiB\n",
			       core_floor_kib(dir, upkeepd));
			if (idle_rss(dir, upkeepd, &idle, &sleep_rss) == 0)
				printf("bench_install: upkeepd daemon RSS between cycles: %ld KiB "
				       "(target <= 2048); sleep(1): %ld KiB\n",
				       idle, sleep_rss);
			else
				fprintf(stderr, "bench_install: the idle daemon run failed\n");
			size = stripped_size(dir, core);
			if (size > 0)
				printf("bench_install: stripped upkeepd-core: %ld bytes (target <= "
				       "256000; shared libraries not counted)\n",
				       size);
			size = stripped_size(dir, upkeepd);
			if (size > 0)
				printf("bench_install: stripped upkeepd (front-end): %ld bytes\n",
				       size);
		}
		tu_httpd_stop(h);
		if (snprintf(cmd, sizeof(cmd),
		             "rm -rf '%s/srv' '%s/data' '%s/idle-data' '%s/grubenv' '%s/slotA' "
		             "'%s/cmdline' '%s/agent.conf'",
		             dir, dir, dir, dir, dir, dir, dir) >= (int)sizeof(cmd) ||
		    system(cmd) != 0)
			fprintf(stderr, "bench_install: cleanup of %s failed\n", dir);
	}
	rc = 0;
out:
	unlink(image);
	unlink(slot);
	unlink(cat_slot);
	rmdir(dir);
	return rc;
}
