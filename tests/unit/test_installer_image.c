/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the image installer (agent/installer_image.c) on file slots:
 * raw and zstd payloads, truncated and altered payloads, slots too small,
 * injected ENOSPC, short writes and crashes, and whole update cycles through
 * a real U-Boot environment and the boot simulator: trial -> commit, and
 * failed health -> bootlimit exceeded -> fallback.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_agent.h"
#include "fileio.h"
#include "health.h"
#include "installer.h"
#include "readback.h"
#include "slot.h"

#define IMG_SIZE (3u * 1024 * 1024 + 123)

static char *dir;
static struct agent_config *cfg;
static char a_before[65];

static void load_config(const char *extra)
{
	char text[8192];
	struct upk_error err = {0};

	agent_config_free(cfg);
	cfg = NULL;
	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/data\ncmdline = %s/cmdline\n"
	         "[slot.A]\ndevice = %s/a.img\n[slot.B]\ndevice = %s/b.img\n%s"
	         "[bootloader]\ntype = uboot\nfw_env_config = %s/fw_env.config\n"
	         "[health]\ncommand = test -f %s/healthy\ntimeout = 10\n",
	         dir, dir, dir, dir, extra, dir, dir);
	if (agent_config_parse(text, strlen(text), "test.conf", &cfg, &err) != UPK_OK)
		fail_msg("config: %s", err.msg);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	if (tu_system("cd %s && printf '%%s 0x0 0x4000\\n%%s 0x0 0x4000\\n' %s/env1 %s/env2 > "
	              "fw_env.config"
	              " && truncate -s 16384 env1 env2"
	              " && printf 'bootlimit=1\\nupkeep_boot=A\\n' > initial-env"
	              " && fw_setenv -c fw_env.config -f initial-env bootdelay 0 2>/dev/null && "
	              "mkdir data",
	              dir, dir, dir) != 0)
		fail_msg("cannot make a U-Boot environment");
	tu_make_pattern(tu_path(dir, "a.img"), 4u << 20, 1); /* the running system */
	tu_make_pattern(tu_path(dir, "b.img"), 4u << 20, 2); /* an old image */
	tu_make_pattern(tu_path(dir, "new.img"), IMG_SIZE, 3);
	tu_sha256_file(tu_path(dir, "a.img"), (size_t)-1, a_before);
	load_config("");
	tu_boot(dir, "uboot", tu_path(dir, "fw_env.config")); /* first boot: writes the cmdline */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fio_set_fault_hook(NULL, NULL);
	agent_config_free(cfg);
	cfg = NULL;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Stream path into a new image installer for the inactive slot, chunk bytes at a time. */
static upk_status install(const char *path, const char *sha256_hex, uint64_t length,
                          enum decomp_mode mode, size_t chunk, struct journal *j,
                          struct upk_error *err, char image_sha[65])
{
	struct image_opts o = {0};
	struct installer *in = NULL;
	size_t len = 0;
	char *data = tu_read_file(path, &len);
	upk_status ret;

	assert_non_null(data);
	o.slot = agent_config_find_slot(cfg, "B");
	o.decomp = mode;
	o.version = "2.0.0";
	o.journal = j;
	o.expect.length = length;
	if (sha256_hex != NULL)
		assert_int_equal(payload_expect_sha256_hex(&o.expect, sha256_hex, NULL), UPK_OK);
	ret = installer_image_begin(&o, &in, err);
	for (size_t off = 0; ret == UPK_OK && off < len; off += chunk)
		ret = installer_sink(in, data + off, len - off < chunk ? len - off : chunk, err);
	if (ret == UPK_OK)
		ret = installer_finish(in, err);
	if (ret == UPK_OK && image_sha != NULL)
		memcpy(image_sha, installer_image_sha256(in), 65);
	/* A write after a failure keeps failing: the stream is broken for good. */
	if (ret != UPK_OK && in != NULL)
		assert_int_not_equal(installer_write(in, "x", 1, NULL), UPK_OK);
	installer_free(in);
	free(data);
	return ret;
}

static const char *slot_state(struct journal *j)
{
	json_t *rec = journal_get(j, "slot.B");
	return rec != NULL ? json_string_value(json_object_get(rec, "state")) : "(none)";
}

static struct journal *open_journal(void)
{
	struct journal *j = NULL;
	assert_int_equal(journal_open(tu_path(dir, "data/state.json"), &j, NULL), UPK_OK);
	return j;
}

static void assert_a_untouched(void)
{
	char now[65];
	tu_sha256_file(tu_path(dir, "a.img"), (size_t)-1, now);
	assert_string_equal(now, a_before);
}

static void test_raw_image(void **state)
{
	char want[65], got[65], slot[65];
	struct upk_error err = {0};
	struct journal *j = open_journal();

	(void)state;
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, want);
	if (install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 7777, j, &err, got) !=
	    UPK_OK)
		fail_msg("install: %s", err.msg);
	assert_string_equal(got, want);
	tu_sha256_file(tu_path(dir, "b.img"), IMG_SIZE, slot);
	assert_string_equal(slot, want);
	journal_free(j);
	j = open_journal(); /* what is on disk, not in memory */
	assert_string_equal(slot_state(j), "written");
	assert_string_equal(json_string_value(json_object_get(journal_get(j, "slot.B"), "sha256")),
	                    want);
	assert_string_equal(json_string_value(json_object_get(journal_get(j, "slot.B"), "version")),
	                    "2.0.0");
	assert_a_untouched();
	journal_free(j);
}

static void test_zstd_image(void **state)
{
	char zsha[65], raw[65], got[65], slot[65];
	struct upk_error err = {0};
	struct journal *j = open_journal();

	(void)state;
	assert_int_equal(
	    tu_system("zstd -q -3 %s -o %s", tu_path(dir, "new.img"), tu_path(dir, "new.img.zst")),
	    0);
	tu_sha256_file(tu_path(dir, "new.img.zst"), (size_t)-1, zsha);
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, raw);
	if (install(tu_path(dir, "new.img.zst"), zsha, 0, DECOMP_AUTO, 1000, j, &err, got) !=
	    UPK_OK)
		fail_msg("install: %s", err.msg);
	assert_string_equal(got, raw); /* the hash of the image, not of the payload */
	tu_sha256_file(tu_path(dir, "b.img"), IMG_SIZE, slot);
	assert_string_equal(slot, raw);
	assert_string_equal(slot_state(j), "written");
	/* Concatenated frames (zstd's own streaming output may have several) work too. */
	assert_int_equal(
	    tu_system("head -c 1000000 %s | zstd -q > %s && tail -c +1000001 %s | zstd -q >> %s",
	              tu_path(dir, "new.img"), tu_path(dir, "two.zst"), tu_path(dir, "new.img"),
	              tu_path(dir, "two.zst")),
	    0);
	if (install(tu_path(dir, "two.zst"), NULL, 0, DECOMP_ZSTD, 65536, j, &err, got) != UPK_OK)
		fail_msg("install: %s", err.msg);
	assert_string_equal(got, raw);
	journal_free(j);
}

static void test_bad_payloads_never_installed(void **state)
{
	char want[65], zsha[65];
	struct upk_error err = {0};
	struct journal *j = open_journal();
	char *data;
	size_t len;

	(void)state;
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, want);
	/* Truncated raw payload: length and hash both catch it. */
	assert_int_equal(tu_system("head -c 2000000 %s > %s", tu_path(dir, "new.img"),
	                           tu_path(dir, "short.img")),
	                 0);
	assert_int_equal(
	    install(tu_path(dir, "short.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_HASH);
	assert_string_equal(err.msg, "slot B: payload is 2000000 bytes, expected 3145851");
	assert_string_equal(slot_state(j), "writing");
	/* One flipped byte. */
	data = tu_read_file(tu_path(dir, "new.img"), &len);
	data[1234567] ^= 0x40;
	tu_write_file(tu_path(dir, "evil.img"), data, len);
	free(data);
	assert_int_equal(
	    install(tu_path(dir, "evil.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_HASH);
	assert_non_null(strstr(err.msg, "slot B: payload sha256 "));
	assert_non_null(strstr(err.msg, want));
	assert_string_equal(slot_state(j), "writing");
	/* Longer than announced: refused while streaming, not after. */
	assert_int_equal(
	    install(tu_path(dir, "new.img"), NULL, 1000000, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_TOO_LARGE);
	/* A truncated zstd stream without hash: the decoder itself notices. */
	assert_int_equal(tu_system("zstd -q %s -o %s && head -c 100000 %s > %s",
	                           tu_path(dir, "new.img"), tu_path(dir, "n.zst"),
	                           tu_path(dir, "n.zst"), tu_path(dir, "cut.zst")),
	                 0);
	assert_int_equal(
	    install(tu_path(dir, "cut.zst"), NULL, 0, DECOMP_AUTO, 4096, j, &err, NULL),
	    UPK_ERR_INVALID);
	assert_string_equal(err.msg, "slot B: zstd data truncated: the last frame does not end");
	/* Corrupted zstd data. */
	tu_sha256_file(tu_path(dir, "n.zst"), (size_t)-1, zsha);
	data = tu_read_file(tu_path(dir, "n.zst"), &len);
	data[len / 2] ^= 0xff;
	tu_write_file(tu_path(dir, "bad.zst"), data, len);
	free(data);
	assert_int_not_equal(
	    install(tu_path(dir, "bad.zst"), zsha, 0, DECOMP_AUTO, 4096, j, &err, NULL), UPK_OK);
	assert_string_equal(slot_state(j), "writing");
	assert_a_untouched();
	journal_free(j);
}

static void test_slot_too_small(void **state)
{
	struct upk_error err = {0};

	(void)state;
	agent_config_free(cfg);
	cfg = NULL;
	load_config("size = 1M\n");
	assert_int_equal(
	    install(tu_path(dir, "new.img"), NULL, 0, DECOMP_AUTO, 65536, NULL, &err, NULL),
	    UPK_ERR_TOO_LARGE);
	assert_string_equal(err.msg, "image does not fit slot B (1048576 bytes)");
	/* Raw with a known length: refused before a byte is written. */
	assert_int_equal(
	    install(tu_path(dir, "new.img"), NULL, IMG_SIZE, DECOMP_RAW, 65536, NULL, &err, NULL),
	    UPK_ERR_TOO_LARGE);
	assert_non_null(strstr(err.msg, "does not fit its 1048576 bytes"));
	/* zstd: bounded by the decompressed size. */
	assert_int_equal(
	    tu_system("zstd -q %s -o %s", tu_path(dir, "new.img"), tu_path(dir, "new.zst")), 0);
	assert_int_equal(
	    install(tu_path(dir, "new.zst"), NULL, 0, DECOMP_AUTO, 65536, NULL, &err, NULL),
	    UPK_ERR_TOO_LARGE);
	assert_string_equal(err.msg, "image does not fit slot B (1048576 bytes)");
}

static void test_faults(void **state)
{
	char want[65], slot[65];
	struct upk_error err = {0};
	struct journal *j = open_journal();
	struct fio_fault_plan plan = {
	    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 1u << 20, .error = ENOSPC};
	struct bootloader *bl = NULL;
	struct boot_state st;
	pid_t pid;
	int status;

	(void)state;
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, want);
	plan.only_path = tu_path(dir, "b.img");
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(
	    install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "slot B at byte 1048576: writing "));
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_string_equal(slot_state(j), "writing");
	assert_a_untouched();
	/* Short writes and EINTR everywhere: slower, still exact. */
	plan = (struct fio_fault_plan){.enabled = 1, .short_io = 4093, .eintr_every = 7};
	fio_set_fault_hook(fio_plan_hook, &plan);
	if (install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL) !=
	    UPK_OK)
		fail_msg("install with short writes: %s", err.msg);
	fio_set_fault_hook(NULL, NULL);
	tu_sha256_file(tu_path(dir, "b.img"), IMG_SIZE, slot);
	assert_string_equal(slot, want);
	/* The read-back fails: not installed. */
	plan = (struct fio_fault_plan){.enabled = 1,
	                               .op = FIO_OP_READ,
	                               .after_bytes = 100,
	                               .error = EIO,
	                               .only_path = tu_path(dir, "b.img")};
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(
	    install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "reading "));
	assert_string_equal(slot_state(j), "writing");
	/* fsync fails: not installed either. */
	plan = (struct fio_fault_plan){
	    .enabled = 1, .op = FIO_OP_FSYNC, .error = EIO, .only_path = tu_path(dir, "b.img")};
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(
	    install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "fsync"));
	journal_free(j);
	j = NULL;
	/* A crash (SIGKILL) half-way: the slot is recorded as not bootable, nothing armed. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static struct fio_fault_plan crash = {
		    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 2u << 20, .crash = 1};
		struct journal *cj = open_journal();
		crash.only_path = tu_path(dir, "b.img");
		fio_set_fault_hook(fio_plan_hook, &crash);
		install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, cj, NULL,
		        NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	j = open_journal();
	assert_string_equal(slot_state(j), "writing");
	assert_int_equal(bootloader_open(&cfg->bootloader, &bl, &err), UPK_OK);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_OK);
	assert_false(st.armed);
	assert_string_equal(st.next, "A");
	bootloader_free(bl);
	assert_a_untouched();
	journal_free(j);
}

/* More than a few read-back windows (READBACK_WINDOW): the read-back runs behind the writes. */
#define BIG_SIZE (3u * READBACK_WINDOW + 4567)

/* A fault hook: the slot shrinks under the read-back, as a failing medium would. */
struct shrink {
	char path[4096];
	int done;
};

static int shrink_on_first_read(void *arg, enum fio_op op, const char *what, size_t *len)
{
	struct shrink *sh = arg;

	(void)len;
	if (op == FIO_OP_READ && !sh->done && what != NULL && strcmp(what, sh->path) == 0) {
		sh->done = 1;
		if (truncate(what, 1u << 20) != 0)
			return errno;
	}
	return 0;
}

static void test_read_back_behind_writes(void **state)
{
	char want[65], slot[65];
	struct upk_error err = {0};
	struct journal *j = open_journal();
	struct fio_fault_plan plan;
	struct shrink shrunk = {0};

	(void)state;
	tu_make_pattern(tu_path(dir, "big.img"), BIG_SIZE, 4);
	tu_sha256_file(tu_path(dir, "big.img"), (size_t)-1, want);
	/* Whole megabytes at a time: written from the caller's buffer, read back behind. */
	if (install(tu_path(dir, "big.img"), want, BIG_SIZE, DECOMP_AUTO, 1u << 20, j, &err,
	            NULL) != UPK_OK)
		fail_msg("install: %s", err.msg);
	tu_sha256_file(tu_path(dir, "b.img"), BIG_SIZE, slot);
	assert_string_equal(slot, want);
	assert_string_equal(slot_state(j), "written");
	/* The read-back thread fails in the second window, while the writer goes on. */
	plan = (struct fio_fault_plan){.enabled = 1,
	                               .op = FIO_OP_READ,
	                               .after_bytes = READBACK_WINDOW + 100,
	                               .error = EIO,
	                               .only_path = tu_path(dir, "b.img")};
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(
	    install(tu_path(dir, "big.img"), want, BIG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_int_equal(plan.fired, 1);
	assert_non_null(strstr(err.msg, "slot B: read-back: reading "));
	assert_non_null(strstr(err.msg, "Input/output error"));
	assert_string_equal(slot_state(j), "writing");
	/*
	 * A short read (the medium ends early): not installed, with where it
	 * ended. A small image, all read back after the writes: none extends
	 * the file again.
	 */
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, want);
	snprintf(shrunk.path, sizeof(shrunk.path), "%s", tu_path(dir, "b.img"));
	fio_set_fault_hook(shrink_on_first_read, &shrunk);
	assert_int_equal(
	    install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 65536, j, &err, NULL),
	    UPK_ERR_HASH);
	fio_set_fault_hook(NULL, NULL);
	assert_true(shrunk.done);
	assert_non_null(strstr(err.msg, "slot B: read-back of "));
	assert_non_null(strstr(err.msg, "ends at byte 1048576, before the image does"));
	assert_string_equal(slot_state(j), "writing");
	assert_a_untouched();
	journal_free(j);
}

/* Install into the inactive slot and arm it, as the state machine will. */
static void install_and_arm(struct bootloader *bl, struct journal *j)
{
	struct slot_view v;
	struct upk_error err = {0};
	char want[65];

	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_string_equal(v.active->name, "A");
	assert_string_equal(v.inactive->name, "B");
	tu_sha256_file(tu_path(dir, "new.img"), (size_t)-1, want);
	if (install(tu_path(dir, "new.img"), want, IMG_SIZE, DECOMP_AUTO, 100000, j, &err, NULL) !=
	    UPK_OK)
		fail_msg("install: %s", err.msg);
	assert_int_equal(bootloader_set_trial(bl, v.inactive->name, &err), UPK_OK);
}

static void test_cycle_trial_commit(void **state)
{
	char fw[4096];
	struct bootloader *bl = NULL;
	struct journal *j = open_journal();
	struct slot_view v;
	struct upk_error err = {0};

	(void)state;
	snprintf(fw, sizeof(fw), "%s/fw_env.config", dir);
	assert_int_equal(bootloader_open(&cfg->bootloader, &bl, &err), UPK_OK);
	install_and_arm(bl, j);
	assert_string_equal(tu_boot(dir, "uboot", fw), "slot=B trial=1 fallback=0");
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_string_equal(v.active->name, "B");
	assert_true(v.boot.trial);
	assert_false(v.mismatch);
	tu_write_file(tu_path(dir, "healthy"), "", 0);
	assert_int_equal(health_check(cfg, NULL, &err), UPK_OK);
	assert_int_equal(bootloader_commit(bl, v.active->name, &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "uboot", fw), "slot=B trial=0 fallback=0");
	assert_string_equal(tu_boot(dir, "uboot", fw), "slot=B trial=0 fallback=0");
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_string_equal(v.active->name, "B");
	assert_string_equal(v.inactive->name, "A"); /* the next update writes A */
	bootloader_free(bl);
	journal_free(j);
}

static void test_cycle_failed_health_falls_back(void **state)
{
	char fw[4096];
	struct bootloader *bl = NULL;
	struct journal *j = open_journal();
	struct slot_view v;
	struct upk_error err = {0};

	(void)state;
	snprintf(fw, sizeof(fw), "%s/fw_env.config", dir);
	assert_int_equal(bootloader_open(&cfg->bootloader, &bl, &err), UPK_OK);
	install_and_arm(bl, j);
	assert_string_equal(tu_boot(dir, "uboot", fw), "slot=B trial=1 fallback=0");
	/* No "healthy" file: the check fails, nothing is committed, the device reboots. */
	assert_int_equal(health_check(cfg, NULL, &err), UPK_ERR_IO);
	assert_non_null(strstr(err.msg, "health check 1 (test -f "));
	assert_non_null(strstr(err.msg, "exit status 1"));
	/* bootcount 2 > bootlimit 1: altbootcmd falls back to A. */
	assert_string_equal(tu_boot(dir, "uboot", fw), "slot=A trial=0 fallback=1");
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_string_equal(v.active->name, "A");
	assert_string_equal(v.boot.committed, "A");
	assert_false(v.boot.trial);
	assert_false(v.mismatch);
	assert_a_untouched();
	bootloader_free(bl);
	journal_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_raw_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zstd_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_payloads_never_installed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slot_too_small, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_back_behind_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cycle_trial_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cycle_failed_health_falls_back, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
