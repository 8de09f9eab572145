/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash safety of the update state machine: the real upkeepd is killed with
 * SIGKILL at UPK_CRASH_POINTS (default 200) random points of an A/B update
 * served on loopback (download, write, read-back, switch, trial boot,
 * commit), half of them also losing every slot write not yet synced (a power
 * cut), and restarted through the boot simulator. Every run must end fully
 * on the old or fully on the new version, with a consistent state file and
 * a report that says which. The seed is printed; UPK_CRASH_SEED replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootloader.h"
#include "testutil.h"
#include "tu_agent.h"
#include "tu_httpd.h"
#include "tu_repo.h"
#include "upkeep/target_info.h"

#define IMAGE_SIZE (1024u * 1024u + 4321u)
#define OLD_SIZE (300u * 1024u)
#define MAX_STEPS 16

static char *dir;
static struct tu_repo *image, *director;
static struct tu_httpd *httpd;
static char *old_img, *new_img;
static char url_im[256], url_dm[256], url_tg[256];

static uint64_t rng;

static uint64_t next_rand(void)
{
	/* xorshift64*: deterministic from the printed seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static char *pattern(size_t n, unsigned seed)
{
	char *b = malloc(n);
	unsigned x = seed * 2654435761u + 7;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
	return b;
}

static void publish(const char *path, const char *data, size_t len)
{
	struct upk_error err = {0};
	struct tu_role *t = tu_repo_role(image, "targets");
	struct upk_target_info info = {0};
	char *hw[1] = {"hw-1"};
	struct upk_target e;
	json_t *custom = NULL, *hashes;

	assert_int_equal(tu_repo_add_target(image, "targets", path, data, len, &err), UPK_OK);
	info.type = UPK_TARGET_IMAGE;
	info.version = "2.0";
	info.security_version = 2;
	info.hardware = hw;
	info.n_hardware = 1;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, &err), UPK_OK);
	assert_int_equal(upk_targets_find(t->md, path, &e, &err), UPK_OK);
	hashes = json_deep_copy(e.hashes);
	assert_int_equal(upk_targets_set(t->md, path, (int64_t)len, hashes, custom, &err), UPK_OK);
	json_decref(hashes);
	json_decref(custom);
	assert_int_equal(tu_repo_publish(image, &err), UPK_OK);
	assert_int_equal(tu_repo_add_target(director, "targets", path, data, len, &err), UPK_OK);
	assert_int_equal(tu_repo_publish(director, &err), UPK_OK);
}

static int setup(void **state)
{
	struct upk_error err = {0};
	char p[4400], text[4096];

	(void)state;
	dir = tu_mkdtemp();
	snprintf(p, sizeof(p), "%s/srv/image", dir);
	assert_int_equal(tu_repo_new(p, 1, &image, &err), UPK_OK);
	snprintf(p, sizeof(p), "%s/srv/director", dir);
	assert_int_equal(tu_repo_new(p, 1, &director, &err), UPK_OK);
	old_img = pattern(OLD_SIZE, 1);
	new_img = pattern(IMAGE_SIZE, 2);
	publish("img/os-2.0.img", new_img, IMAGE_SIZE);
	snprintf(p, sizeof(p), "%s/srv", dir);
	httpd = tu_httpd_start(p);
	assert_non_null(httpd);
	snprintf(url_im, sizeof(url_im), "%s/image/metadata/", tu_httpd_url(httpd));
	snprintf(url_dm, sizeof(url_dm), "%s/director/metadata/", tu_httpd_url(httpd));
	snprintf(url_tg, sizeof(url_tg), "%s/image/targets/", tu_httpd_url(httpd));
	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/dev/data\nhardware_id = hw-1\ncmdline = %s/dev/cmdline\n"
	         "reboot = touch %s/dev/reboot\n"
	         "[trust]\nimage_root = %s/srv/image/metadata/1.root.json\n"
	         "director_root = %s/srv/director/metadata/1.root.json\n"
	         "[slot.A]\ndevice = %s/dev/slotA\n[slot.B]\ndevice = %s/dev/slotB\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/dev/grubenv\n"
	         "[health]\ncommand = true\ntimeout = 10s\n",
	         dir, dir, dir, dir, dir, dir, dir, dir);
	tu_write_file(tu_path(dir, "agent.conf"), text, strlen(text));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_httpd_stop(httpd);
	tu_repo_free(image);
	tu_repo_free(director);
	free(old_img);
	free(new_img);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* A factory-fresh device running the old image from slot A. */
static void reset_device(void)
{
	char d[4200];

	snprintf(d, sizeof(d), "%s/dev", dir);
	tu_rmtree(d);
	if (tu_system("mkdir -p %s && grub-editenv %s/grubenv create && grub-editenv %s/grubenv set "
	              "upkeep_default=A",
	              d, d, d) != 0)
		fail_msg("grub-editenv");
	tu_write_file(tu_path(d, "slotA"), old_img, OLD_SIZE);
	tu_write_file(tu_path(d, "slotB"), old_img, 4096);
	tu_write_file(tu_path(d, "cmdline"), "console=ttyS0 upkeep.slot=A\n", 28);
}

/* Run upkeepd check with an optional fault; returns the wait status. */
static int run_agent(const char *fault, const char *powerlog)
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (fault != NULL)
			setenv("UPKEEP_FAULT", fault, 1);
		setenv("UPKEEP_POWERCUT_LOG", powerlog, 1);
		setenv("UPKEEP_RESUME_STEP", "262144", 1);
		execl(tu_agent_bin("upkeepd"), "upkeepd", "--config", tu_path(dir, "agent.conf"),
		      "check", "--image-metadata", url_im, "--director-metadata", url_dm,
		      "--targets", url_tg, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/*
 * The power cut: every write to slot B after its last fsync that no waited
 * sync_file_range covers is lost; the bytes there become garbage.
 */
static unsigned power_cut(const char *powerlog)
{
	struct range {
		uint64_t off, len;
	} *r = NULL;
	size_t n = 0, cap = 0;
	char line[8192], slot[4200];
	FILE *f = fopen(powerlog, "r");
	unsigned lost = 0;
	int fd;

	snprintf(slot, sizeof(slot), "%s/dev/slotB", dir);
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char kind, path[4200];
		unsigned long long off, len;

		if (sscanf(line, "%c %llu %llu %4199s", &kind, &off, &len, path) != 4 ||
		    strcmp(path, slot) != 0)
			continue;
		if (kind == 'S') {
			n = 0;
		} else if (kind == 'W') {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				r = realloc(r, cap * sizeof(*r));
				assert_non_null(r);
			}
			r[n].off = off;
			r[n].len = len;
			n++;
		} else if (kind == 'R') {
			size_t k = 0;

			for (size_t i = 0; i < n; i++)
				if (!(r[i].off >= off && r[i].off + r[i].len <= off + len))
					r[k++] = r[i];
			n = k;
		}
	}
	fclose(f);
	fd = open(slot, O_WRONLY);
	for (size_t i = 0; i < n && fd >= 0; i++) {
		char junk[4096];

		memset(junk, 0xee, sizeof(junk));
		for (uint64_t o = 0; o < r[i].len; o += sizeof(junk)) {
			size_t w = r[i].len - o < sizeof(junk) ? (size_t)(r[i].len - o) : sizeof(junk);

			if (pwrite(fd, junk, w, (off_t)(r[i].off + o)) != (ssize_t)w)
				fail_msg("pwrite");
		}
		lost++;
	}
	if (fd >= 0)
		close(fd);
	free(r);
	return lost;
}

static void boot(void)
{
	char out[256];

	if (tu_capture(out, sizeof(out), "%s --cmdline %s/dev/cmdline grub %s/dev/grubenv",
	               tu_agent_bin("upkeep-bootsim"), dir, dir) != 0)
		fail_msg("bootsim: %s", out);
}

static const char *const ops[] = {"write", "read", "fsync", "rename", "open", "unlink"};

static void make_fault(char *buf, size_t cap)
{
	/* Weights: where the time and the state changes are. */
	static const unsigned weight[] = {35, 25, 15, 10, 10, 5};
	static const uint64_t calls[] = {0, 0, 14, 8, 24, 4};
	unsigned w = (unsigned)(next_rand() % 100), op = 0;
	uint64_t n;

	while (w >= weight[op]) {
		w -= weight[op];
		op++;
	}
	if (op <= 1) /* bytes: slot writes or read-back, plus journal and metadata */
		n = next_rand() % (IMAGE_SIZE + 32 * 1024);
	else
		n = next_rand() % calls[op];
	snprintf(buf, cap, "%s:crash@%llu", ops[op], (unsigned long long)n);
}

/* The device after the runs: fully old or fully new, consistent, reported. */
static int verify_device(const char *what)
{
	json_t *s = json_load_file(tu_path(dir, "dev/data/state.json"), 0, NULL);
	const char *inst, *result;
	struct config_bootloader cb = {.type = BOOTLOADER_GRUB};
	struct bootloader *bl = NULL;
	struct boot_state bs;
	char *cmd, grubenv[4200];
	size_t n = 0;
	char *slot;
	int is_new;

	if (s == NULL)
		fail_msg("%s: state.json unreadable", what);
	if (json_object_get(s, "update") != NULL)
		fail_msg("%s: an update is still in flight", what);
	inst = json_string_value(json_object_get(json_object_get(s, "installed"), "image"));
	result = json_string_value(json_object_get(json_object_get(s, "last"), "result"));
	snprintf(grubenv, sizeof(grubenv), "%s/dev/grubenv", dir);
	cb.grubenv = grubenv;
	assert_int_equal(bootloader_open(&cb, &bl, NULL), UPK_OK);
	assert_int_equal(bootloader_state(bl, &bs, NULL), UPK_OK);
	bootloader_free(bl);
	if (bs.armed || bs.trial)
		fail_msg("%s: bootloader still armed=%d trial=%d", what, bs.armed, bs.trial);
	cmd = tu_read_file(tu_path(dir, "dev/cmdline"), NULL);
	is_new = inst != NULL;
	if (is_new) {
		if (strcmp(inst, "2.0") != 0 || strcmp(bs.committed, "B") != 0 ||
		    strstr(cmd, "upkeep.slot=B") == NULL || result == NULL ||
		    strcmp(result, "success") != 0)
			fail_msg("%s: inconsistent new state: installed %s committed %s cmdline %s "
			         "result %s",
			         what, inst, bs.committed, cmd, result ? result : "-");
		slot = tu_read_file(tu_path(dir, "dev/slotB"), &n);
		if (n < IMAGE_SIZE || memcmp(slot, new_img, IMAGE_SIZE) != 0)
			fail_msg("%s: committed slot B does not hold the new image", what);
		free(slot);
	} else {
		if (strcmp(bs.committed, "A") != 0 || strstr(cmd, "upkeep.slot=A") == NULL ||
		    result == NULL || strcmp(result, "failure") != 0)
			fail_msg("%s: inconsistent old state: committed %s cmdline %s result %s",
			         what, bs.committed, cmd, result ? result : "-");
	}
	/* The old slot is never written. */
	slot = tu_read_file(tu_path(dir, "dev/slotA"), &n);
	if (n != OLD_SIZE || memcmp(slot, old_img, OLD_SIZE) != 0)
		fail_msg("%s: slot A was modified", what);
	free(slot);
	/* The report queued for the server says the same. */
	{
		json_t *box = json_object_get(s, "outbox");
		json_t *lastrep = json_array_get(box, json_array_size(box) - 1);
		const char *st = json_string_value(json_object_get(lastrep, "state"));

		if (st == NULL || strcmp(st, is_new ? "success" : "failure") != 0)
			fail_msg("%s: last report is %s", what, st ? st : "missing");
	}
	free(cmd);
	json_decref(s);
	return is_new;
}

static void test_crash_points(void **state)
{
	const char *e = getenv("UPK_CRASH_POINTS");
	unsigned points = e != NULL ? (unsigned)strtoul(e, NULL, 10) : 200;
	uint64_t seed = getenv("UPK_CRASH_SEED") != NULL
	                    ? strtoull(getenv("UPK_CRASH_SEED"), NULL, 10)
	                    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned crashed = 0, cuts = 0, ended_new = 0, ended_old = 0;
	char powerlog[4200];

	(void)state;
	printf("crash test: %u points, seed %llu (UPK_CRASH_SEED=%llu replays it)\n", points,
	       (unsigned long long)seed, (unsigned long long)seed);
	fflush(stdout);
	rng = seed != 0 ? seed : 1;
	snprintf(powerlog, sizeof(powerlog), "%s/powerlog", dir);
	for (unsigned p = 0; p < points; p++) {
		char fault[64], what[160];
		/* Mostly the first run (download to reboot), else the one after the reboot. */
		unsigned crash_at = next_rand() % 10 < 6 ? 0 : next_rand() % 10 < 8 ? 1 : 2;
		int cut = (int)(next_rand() % 2), step, done = 0;

		make_fault(fault, sizeof(fault));
		snprintf(what, sizeof(what), "point %u (%s in run %u%s)", p, fault, crash_at,
		         cut ? ", power cut" : "");
		reset_device();
		for (step = 0; step < MAX_STEPS && !done; step++) {
			int st;

			unlink(powerlog);
			st = run_agent((unsigned)step == crash_at ? fault : NULL, powerlog);
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
				crashed++;
				if (cut) {
					power_cut(powerlog);
					cuts++;
				}
				unlink(tu_path(dir, "dev/reboot"));
				boot(); /* the device restarts */
				continue;
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				fail_msg("%s: upkeepd failed without a crash (status %d)", what, st);
			if (access(tu_path(dir, "dev/reboot"), F_OK) == 0) {
				unlink(tu_path(dir, "dev/reboot"));
				boot();
				continue;
			}
			{
				json_t *s = json_load_file(tu_path(dir, "dev/data/state.json"), 0,
				                           NULL);

				const char *r = json_string_value(json_object_get(
				    json_object_get(s, "last"), "result"));

				/* "interrupted" is not an end: the next check goes on. */
				done = s != NULL && json_object_get(s, "update") == NULL &&
				       r != NULL &&
				       (strcmp(r, "success") == 0 || strcmp(r, "failure") == 0);
				json_decref(s);
			}
		}
		if (!done)
			fail_msg("%s: no stable state after %d runs", what, MAX_STEPS);
		if (verify_device(what))
			ended_new++;
		else
			ended_old++;
	}
	printf("crash test: %u points, %u SIGKILLs, %u power cuts; ended new %u, old %u\n",
	       points, crashed, cuts, ended_new, ended_old);
	assert_true(points == 0 || crashed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
