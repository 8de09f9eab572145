/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The update state machine end to end on loopback: an image and a director
 * repository served over HTTP, file slots, the GRUB environment and the boot
 * simulator. Each refusal reason, A/B install with commit, health-check and
 * bootloader fallback rollback, archives, modules, resume, tampering, bundles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "daemon.h"
#include "identity.h"
#include "installer.h"
#include "journal.h"
#include "testutil.h"
#include "tu_agent.h"
#include "tu_httpd.h"
#include "tu_repo.h"
#include "tu_update.h"
#include "update.h"
#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"
#include "upkeep/target_info.h"

static char *dir;
static struct tu_repo *image, *director;
static struct tu_httpd *httpd;
static struct agent_config *cfg;
static struct identity *ident;
static struct upk_fetcher *fetcher;
static char url_im[256], url_dm[256], url_tg[256];

#define OLD_SIZE 20000u

static void write_config(const char *extra_agent, const char *slot_size)
{
	char text[8192];
	struct upk_error err = {0};

	agent_config_free(cfg);
	cfg = NULL;
	snprintf(text, sizeof(text),
	         "[agent]\n"
	         "data_dir = %s/data\n"
	         "hardware_id = hw-1\n"
	         "cmdline = %s/cmdline\n"
	         "reboot = true\n"
	         "%s"
	         "[trust]\n"
	         "image_root = %s/srv/image/metadata/1.root.json\n"
	         "director_root = %s/srv/director/metadata/1.root.json\n"
	         "[attributes]\n"
	         "region = eu\n"
	         "[slot.A]\n"
	         "device = %s/slotA\n"
	         "[slot.B]\n"
	         "device = %s/slotB\n"
	         "%s"
	         "[bootloader]\n"
	         "type = grub\n"
	         "grubenv = %s/grubenv\n"
	         "[health]\n"
	         "command = test ! -e %s/unhealthy\n"
	         "timeout = 10s\n"
	         "[archive]\n"
	         "dir = %s/apps\n"
	         "[module.echo]\n"
	         "handler = %s/handler.sh\n",
	         dir, dir, extra_agent, dir, dir, dir, dir, slot_size, dir, dir, dir, dir);
	tu_write_file(tu_path(dir, "agent.conf"), text, strlen(text));
	if (agent_config_load(tu_path(dir, "agent.conf"), &cfg, &err) != UPK_OK)
		fail_msg("config: %s", err.msg);
}

static int setup(void **state)
{
	struct upk_error err = {0};
	char srv[4200], p[4400];
	static const char handler[] =
	    "#!/bin/sh\n"
	    "d=$(dirname \"$0\")\n"
	    "case \"$1\" in\n"
	    "download) cat > \"$UPKEEP_WORKDIR/payload\" ;;\n"
	    "install) cp \"$UPKEEP_WORKDIR/payload\" \"$d/module-installed\" ;;\n"
	    "commit) echo \"$UPKEEP_VERSION\" > \"$d/module-committed\" ;;\n"
	    "rollback) rm -f \"$d/module-installed\"; echo rb > \"$d/module-rolledback\" ;;\n"
	    "esac\n";

	(void)state;
	dir = tu_mkdtemp();
	snprintf(srv, sizeof(srv), "%s/srv", dir);
	snprintf(p, sizeof(p), "%s/image", srv);
	if (tu_repo_new(p, 1, &image, &err) != UPK_OK)
		fail_msg("image repo: %s", err.msg);
	snprintf(p, sizeof(p), "%s/director", srv);
	if (tu_repo_new(p, 1, &director, &err) != UPK_OK)
		fail_msg("director repo: %s", err.msg);
	httpd = tu_httpd_start(srv);
	assert_non_null(httpd);
	snprintf(url_im, sizeof(url_im), "%s/image/metadata/", tu_httpd_url(httpd));
	snprintf(url_dm, sizeof(url_dm), "%s/director/metadata/", tu_httpd_url(httpd));
	snprintf(url_tg, sizeof(url_tg), "%s/image/targets/", tu_httpd_url(httpd));
	tu_make_pattern(tu_path(dir, "slotA"), OLD_SIZE, 1);
	tu_make_pattern(tu_path(dir, "slotB"), OLD_SIZE, 2);
	tu_write_file(tu_path(dir, "cmdline"), "console=ttyS0 upkeep.slot=A\n", 28);
	tu_write_file(tu_path(dir, "handler.sh"), handler, strlen(handler));
	chmod(tu_path(dir, "handler.sh"), 0755);
	if (tu_system("grub-editenv %s/grubenv create && grub-editenv %s/grubenv set "
	              "upkeep_default=A",
	              dir, dir) != 0)
		fail_msg("grub-editenv missing?");
	write_config("", "");
	if (identity_load_or_create(tu_path(dir, "data/device.key"), &ident, &err) != UPK_OK)
		fail_msg("identity: %s", err.msg);
	if (upk_fetcher_curl_new(NULL, &fetcher, &err) != UPK_OK)
		fail_msg("fetcher: %s", err.msg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	upk_fetcher_curl_free(fetcher);
	identity_free(ident);
	agent_config_free(cfg);
	cfg = NULL;
	tu_httpd_stop(httpd);
	tu_repo_free(image);
	tu_repo_free(director);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void publish_fields(const char *path, const void *data, size_t len, const char *type,
                           const char *version, int64_t sv, const char *hw, const char *selector,
                           int in_director)
{
	tu_publish_target(image, in_director ? director : NULL, path, data, len, type, version, sv,
	                  hw, selector);
}

static void publish(const char *path, const void *data, size_t len, const char *type,
                    const char *version, int64_t sv)
{
	publish_fields(path, data, len, type, version, sv, "hw-1", NULL, 1);
}

/* Drop an assignment from the director. */
static void unassign(const char *path)
{
	struct upk_error err = {0};

	assert_int_equal(upk_targets_remove(tu_repo_role(director, "targets")->md, path, &err),
	                 UPK_OK);
	tu_repo_role(director, "targets")->dirty = 1;
	assert_int_equal(tu_repo_publish(director, &err), UPK_OK);
}

static enum update_outcome check_with(const struct upk_fetcher *f, const char *im, const char *dm,
                                      const char *tg)
{
	struct update_source src = {
	    .image_metadata_url = im, .director_metadata_url = dm, .targets_url = tg, .fetcher = f};
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	struct tu_run r;

	tu_run_open(&r, cfg, tu_path(dir, "data/state.json"), ident->id);
	if (update_check(&r.uc, &src, &o, &err) != UPK_OK)
		fail_msg("check: %s", err.msg);
	tu_run_close(&r);
	return o;
}

static enum update_outcome check(void)
{
	return check_with(fetcher, url_im, url_dm, url_tg);
}

static enum update_outcome resume(void)
{
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	struct tu_run r;

	tu_run_open(&r, cfg, tu_path(dir, "data/state.json"), ident->id);
	if (update_resume(&r.uc, &o, &err) != UPK_OK)
		fail_msg("resume: %s", err.msg);
	tu_run_close(&r);
	return o;
}

/* A copy of state.json's value at key (caller json_decref()s). */
static json_t *state_get(const char *key)
{
	return tu_state_get(tu_path(dir, "data/state.json"), key);
}

static void assert_refused(const char *path, const char *reason)
{
	json_t *r = state_get("refused"), *box = state_get("outbox"), *e;
	const char *got = json_string_value(json_object_get(json_object_get(r, path), "reason"));
	size_t i;
	int reported = 0;

	if (got == NULL || strcmp(got, reason) != 0)
		fail_msg("%s: expected refusal %s, got %s", path, reason, got ? got : "none");
	json_array_foreach(box, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "target"));

		if (t != NULL && strcmp(t, path) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "state")), "failure") == 0 &&
		    strstr(json_string_value(json_object_get(e, "reason")), reason) != NULL)
			reported = 1;
	}
	assert_true(reported);
	json_decref(r);
	json_decref(box);
}

static const char *installed(const char *name)
{
	static char buf[128];
	json_t *i = state_get("installed");
	const char *v = json_string_value(json_object_get(i, name));

	snprintf(buf, sizeof(buf), "%s", v ? v : "(none)");
	json_decref(i);
	return buf;
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

static void assert_slot_holds(const char *slot, const char *data, size_t len)
{
	size_t n = 0;
	char *got = tu_read_file(tu_path(dir, slot), &n);

	assert_true(n >= len);
	assert_memory_equal(got, data, len);
	free(got);
}

/* ---- tests ---- */

static void test_refusals(void **state)
{
	char *d = pattern(4000, 3);

	(void)state;
	/* Director assigns what the image repository does not list. */
	tu_repo_add_target(director, "targets", "img/ghost.img", d, 100, NULL);
	tu_repo_publish(director, NULL);
	/* Lengths differ between the repositories. */
	publish_fields("img/mismatch.img", d, 1000, "image", "2.0", 0, "hw-1", NULL, 0);
	tu_repo_add_target(director, "targets", "img/mismatch.img", d, 999, NULL);
	tu_repo_publish(director, NULL);
	/* No hash algorithm both know. */
	publish_fields("img/nohash.img", d, 800, "image", "2.0", 0, "hw-1", NULL, 0);
	{
		json_t *h = json_pack("{s:s}", "blake3", "00");

		assert_int_equal(upk_targets_set(tu_repo_role(director, "targets")->md,
		                                 "img/nohash.img", 800, h, NULL, NULL),
		                 UPK_OK);
		json_decref(h);
		tu_repo_role(director, "targets")->dirty = 1;
		tu_repo_publish(director, NULL);
	}
	/* No custom.upkeep. */
	publish_fields("img/nofields.img", d, 500, NULL, NULL, 0, NULL, NULL, 1);
	publish_fields("img/hw.img", d, 600, "image", "2.0", 0, "hw-other", NULL, 1);
	publish_fields("img/sel.img", d, 700, "image", "2.0", 0, "hw-1", "tag \"region\" = \"us\"",
	               1);
	publish_fields("acl/policy.json", d, 50, "acl", "1.0", 0, "hw-1", NULL, 1);
	publish_fields("modules/nohandler/x.bin", d, 60, "module", "1.0", 0, "hw-1", NULL, 1);
	assert_int_equal(check(), UPDATE_REFUSED);
	assert_refused("img/ghost.img", "not-in-image-repository");
	assert_refused("img/mismatch.img", "mismatch");
	assert_refused("img/nofields.img", "bad-fields");
	assert_refused("img/nohash.img", "no-common-hash");
	assert_refused("img/hw.img", "hardware");
	assert_refused("img/sel.img", "selector");
	assert_refused("acl/policy.json", "type");
	assert_refused("modules/nohandler/x.bin", "type");
	/* Refusals are reported once, not at every check. */
	{
		json_t *box = state_get("outbox");
		size_t n = json_array_size(box);

		assert_int_equal(check(), UPDATE_REFUSED);
		json_decref(box);
		box = state_get("outbox");
		assert_int_equal(json_array_size(box), n);
		json_decref(box);
	}
	assert_string_equal(installed("image"), "(none)");
	free(d);
}

static void test_refusal_space_and_hook(void **state)
{
	char *d = pattern(3000, 4);

	(void)state;
	write_config("pre_install = test ! -e /nonexistent-upkeep-veto && test \"$UPKEEP_TYPE\" != "
	             "module\n",
	             "size = 2048\n");
	publish("img/big.img", d, 3000, "image", "2.0", 0);
	publish("modules/echo/m.bin", d, 10, "module", "1.0", 0);
	assert_int_equal(check(), UPDATE_REFUSED);
	assert_refused("img/big.img", "space");
	assert_refused("modules/echo/m.bin", "pre-install");
	write_config("", "");
	free(d);
}

static void test_image_install_commit_and_security_version(void **state)
{
	char *v2 = pattern(50000, 5), *v1 = pattern(40000, 6);
	json_t *sv;

	(void)state;
	publish("img/os-2.0.img", v2, 50000, "image", "2.0", 5);
	assert_int_equal(check(), UPDATE_REBOOTING);
	assert_slot_holds("slotB", v2, 50000);
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	assert_int_equal(resume(), UPDATE_DONE);
	assert_string_equal(installed("image"), "2.0");
	sv = state_get("security_version");
	assert_int_equal(json_integer_value(json_object_get(sv, "image")), 5);
	json_decref(sv);
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=B trial=0 fallback=0");
	/* Nothing new: idle. */
	assert_int_equal(check(), UPDATE_IDLE);
	/* A release below the security counter is refused. */
	unassign("img/os-2.0.img");
	publish("img/os-1.9.img", v1, 40000, "image", "1.9", 3);
	assert_int_equal(check(), UPDATE_REFUSED);
	assert_refused("img/os-1.9.img", "security-version");
	free(v1);
	free(v2);
}

static void test_image_health_failure_rolls_back(void **state)
{
	char *v2 = pattern(30000, 7);
	json_t *last;

	(void)state;
	publish("img/os-2.0.img", v2, 30000, "image", "2.0", 1);
	assert_int_equal(check(), UPDATE_REBOOTING);
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	tu_write_file(tu_path(dir, "unhealthy"), "x", 1);
	/* Unhealthy on trial: roll back, reboot into A, then record the failure. */
	assert_int_equal(resume(), UPDATE_REBOOTING);
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=A trial=0 fallback=0");
	assert_int_equal(resume(), UPDATE_FAILED);
	unlink(tu_path(dir, "unhealthy"));
	last = state_get("last");
	assert_string_equal(json_string_value(json_object_get(last, "result")), "failure");
	assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "health check"));
	json_decref(last);
	assert_string_equal(installed("image"), "(none)");
	/* Not retried in a loop. */
	assert_int_equal(check(), UPDATE_IDLE);
	free(v2);
}

static void test_image_bootloader_fallback(void **state)
{
	char *v2 = pattern(30000, 8);
	json_t *last;

	(void)state;
	publish("img/os-2.0.img", v2, 30000, "image", "2.0", 1);
	assert_int_equal(check(), UPDATE_REBOOTING);
	/* The new slot never comes up far enough to run the agent: two boots. */
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=A trial=0 fallback=1");
	assert_int_equal(resume(), UPDATE_FAILED);
	last = state_get("last");
	assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "fell back"));
	json_decref(last);
	free(v2);
}

static void make_tar(const char *name, const char *version, char **data, size_t *len)
{
	if (tu_system("cd %s && rm -rf tarsrc && mkdir -p tarsrc && echo %s > tarsrc/VERSION && "
	              "tar --format=ustar -C tarsrc -cf %s.tar VERSION",
	              dir, version, name) != 0)
		fail_msg("tar");
	*data = tu_read_file(tu_path(dir, "web.tar"), len);
}

static void test_archive_install_and_rollback(void **state)
{
	char *t1 = NULL, *t2 = NULL, *cur;
	size_t l1 = 0, l2 = 0;

	(void)state;
	make_tar("web", "1.0", &t1, &l1);
	publish("apps/web/web-1.0.tar", t1, l1, "archive", "1.0", 0);
	assert_int_equal(check(), UPDATE_DONE);
	assert_string_equal(installed("web"), "1.0");
	cur = tu_read_file(tu_path(dir, "apps/web/current/VERSION"), NULL);
	assert_string_equal(cur, "1.0\n");
	free(cur);
	make_tar("web", "2.0", &t2, &l2);
	unassign("apps/web/web-1.0.tar");
	publish("apps/web/web-2.0.tar", t2, l2, "archive", "2.0", 0);
	tu_write_file(tu_path(dir, "unhealthy"), "x", 1);
	assert_int_equal(check(), UPDATE_FAILED);
	unlink(tu_path(dir, "unhealthy"));
	assert_string_equal(installed("web"), "1.0");
	cur = tu_read_file(tu_path(dir, "apps/web/current/VERSION"), NULL);
	assert_string_equal(cur, "1.0\n");
	free(cur);
	free(t1);
	free(t2);
}

static void test_module(void **state)
{
	char *m = pattern(5000, 9), *got;
	size_t n = 0;

	(void)state;
	publish("modules/echo/fw-3.1.bin", m, 5000, "module", "3.1", 0);
	assert_int_equal(check(), UPDATE_DONE);
	assert_string_equal(installed("echo"), "3.1");
	got = tu_read_file(tu_path(dir, "module-installed"), &n);
	assert_int_equal(n, 5000);
	assert_memory_equal(got, m, 5000);
	free(got);
	got = tu_read_file(tu_path(dir, "module-committed"), NULL);
	assert_string_equal(got, "3.1\n");
	free(got);
	free(m);
}

static void served_name(const char *path, const char *data, size_t len, char *out, size_t cap)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	char hex[129];
	const char *slash = strrchr(path, '/');

	upk_hash_buf(UPK_HASH_SHA256, data, len, d, NULL);
	upk_hex_encode(d, 32, hex);
	snprintf(out, cap, "/image/targets/%.*s%s.%s", (int)(slash - path + 1), path, hex,
	         slash + 1);
}

static void test_resume_after_dropped_connection(void **state)
{
	char *v2 = pattern(200000, 10), url[512];

	(void)state;
	publish("img/os-2.0.img", v2, 200000, "image", "2.0", 0);
	served_name("img/os-2.0.img", v2, 200000, url, sizeof(url));
	tu_httpd_set(httpd, url, TU_HTTPD_DROP, NULL, 0);
	tu_httpd_reset_counts(httpd);
	assert_int_equal(check(), UPDATE_REBOOTING);
	/* One request that was cut off, one Range request for the rest. */
	assert_int_equal(tu_httpd_count(httpd, url), 2);
	assert_slot_holds("slotB", v2, 200000);
	tu_httpd_set(httpd, url, TU_HTTPD_FILE, NULL, 0);
	free(v2);
}

/* The real upkeepd killed mid-download: the next run continues with Range, re-hashing the slot. */
static void test_resume_after_crash(void **state)
{
	char *v2 = pattern(1500000, 14);
	json_t *u;
	int rc;

	(void)state;
	publish("img/os-2.0.img", v2, 1500000, "image", "2.0", 0);
	rc = tu_system("cd %s && UPKEEP_RESUME_STEP=131072 UPKEEP_FAULT=write:crash@900000 %s "
	               "--config agent.conf check --no-reboot --image-metadata %s "
	               "--director-metadata %s --targets %s >/dev/null 2>&1",
	               dir, tu_agent_bin("upkeepd"), url_im, url_dm, url_tg);
	assert_int_not_equal(rc, 0);
	u = state_get("update");
	assert_non_null(u);
	assert_string_equal(json_string_value(json_object_get(u, "phase")), "downloading");
	assert_true(json_integer_value(json_object_get(u, "resume_at")) >= 131072);
	json_decref(u);
	assert_int_equal(tu_httpd_ranges(httpd), 0);
	assert_int_equal(check(), UPDATE_REBOOTING);
	assert_int_equal(tu_httpd_ranges(httpd), 1);
	assert_slot_holds("slotB", v2, 1500000);
	/* What the slot held is hashed again: damage there restarts from byte 0. */
	free(v2);
}

static void test_resume_after_crash_with_lost_writes(void **state)
{
	char *v2 = pattern(1500000, 15), junk[4096];
	FILE *f;
	int rc;

	(void)state;
	publish("img/os-2.0.img", v2, 1500000, "image", "2.0", 0);
	rc = tu_system("cd %s && UPKEEP_RESUME_STEP=131072 UPKEEP_FAULT=write:crash@900000 %s "
	               "--config agent.conf check --no-reboot --image-metadata %s "
	               "--director-metadata %s --targets %s >/dev/null 2>&1",
	               dir, tu_agent_bin("upkeepd"), url_im, url_dm, url_tg);
	assert_int_not_equal(rc, 0);
	/* A power cut: some of what was written before the crash is gone. */
	memset(junk, 0xee, sizeof(junk));
	f = fopen(tu_path(dir, "slotB"), "r+b");
	assert_non_null(f);
	fseek(f, 4096, SEEK_SET);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	assert_int_equal(check(), UPDATE_REBOOTING);
	assert_slot_holds("slotB", v2, 1500000);
	free(v2);
}

static void test_tampered_payload_never_installed(void **state)
{
	char *v2 = pattern(30000, 11), url[512];
	json_t *slotrec, *last;

	(void)state;
	publish("img/os-2.0.img", v2, 30000, "image", "2.0", 0);
	served_name("img/os-2.0.img", v2, 30000, url, sizeof(url));
	/* Altered: same length, one byte differs. */
	v2[1000] ^= 1;
	tu_httpd_set(httpd, url, TU_HTTPD_CONTENT, v2, 30000);
	assert_int_equal(check(), UPDATE_FAILED);
	slotrec = state_get("slot.B");
	assert_string_not_equal(json_string_value(json_object_get(slotrec, "state")), "written");
	json_decref(slotrec);
	last = state_get("last");
	assert_string_equal(json_string_value(json_object_get(last, "result")), "failure");
	json_decref(last);
	/* The same target failed verification: not retried in a loop. */
	assert_int_equal(check(), UPDATE_IDLE);
	assert_string_equal(installed("image"), "(none)");
	tu_httpd_set(httpd, url, TU_HTTPD_FILE, NULL, 0);
	free(v2);
}

static void test_truncated_payload_never_installed(void **state)
{
	char *v2 = pattern(30000, 12), url[512];
	json_t *slotrec;
	struct boot_state bs;
	struct tu_run r;

	(void)state;
	publish("img/os-2.0.img", v2, 30000, "image", "2.0", 0);
	served_name("img/os-2.0.img", v2, 30000, url, sizeof(url));
	tu_httpd_set(httpd, url, TU_HTTPD_CONTENT, v2, 20000);
	assert_int_equal(check(), UPDATE_FAILED);
	slotrec = state_get("slot.B");
	assert_string_not_equal(json_string_value(json_object_get(slotrec, "state")), "written");
	json_decref(slotrec);
	tu_run_open(&r, cfg, tu_path(dir, "data/state.json"), ident->id);
	assert_int_equal(bootloader_state(r.bl, &bs, NULL), UPK_OK);
	assert_false(bs.armed);
	tu_run_close(&r);
	tu_httpd_set(httpd, url, TU_HTTPD_FILE, NULL, 0);
	free(v2);
}

static void test_bundle_install(void **state)
{
	char *v2 = pattern(25000, 13), bpath[4200];
	struct bundle *b = NULL;
	struct upk_error err = {0};

	(void)state;
	publish("img/os-2.0.img", v2, 25000, "image", "2.0", 0);
	/* The bundle layout: image/metadata/, director/metadata/, targets/PATH. */
	if (tu_system("cd %s && rm -rf b && mkdir -p b/image b/director b/targets/img && "
	              "cp -r srv/image/metadata b/image/ && cp -r srv/director/metadata b/director/ "
	              "&& cp srv/image/targets/img/os-2.0.img b/targets/img/ && "
	              "tar --format=ustar -C b -cf bundle.tar image director targets",
	              dir) != 0)
		fail_msg("tar");
	snprintf(bpath, sizeof(bpath), "%s/bundle.tar", dir);
	assert_int_equal(bundle_open(bpath, &b, &err), UPK_OK);
	assert_int_equal(check_with(bundle_fetcher(b), BUNDLE_URL "image/metadata/",
	                            BUNDLE_URL "director/metadata/", BUNDLE_URL "targets/"),
	                 UPDATE_REBOOTING);
	bundle_close(b);
	assert_slot_holds("slotB", v2, 25000);
	assert_string_equal(tu_boot(dir, "grub", tu_path(dir, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	assert_int_equal(resume(), UPDATE_DONE);
	assert_string_equal(installed("image"), "2.0");
	/* A bundle that is not a tar is refused with a clear error. */
	tu_write_file(bpath, "not a tar", 9);
	assert_int_equal(bundle_open(bpath, &b, &err), UPK_ERR_INVALID);
	free(v2);
}

static void test_names(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(update_module_name("modules/container/app.tar", buf, sizeof(buf), NULL),
	                 UPK_OK);
	assert_string_equal(buf, "container");
	assert_int_equal(update_module_name("other/x", buf, sizeof(buf), NULL), UPK_ERR_INVALID);
	assert_int_equal(update_module_name("modules/../x", buf, sizeof(buf), NULL),
	                 UPK_ERR_INVALID);
	assert_int_equal(update_archive_name("apps/web/web-1.0.tar", buf, sizeof(buf), NULL),
	                 UPK_OK);
	assert_string_equal(buf, "web");
	assert_int_equal(update_archive_name("web.tar.zst", buf, sizeof(buf), NULL), UPK_OK);
	assert_string_equal(buf, "web");
	/* Backoff: 5 s doubling, capped at the poll interval, +-20 %. */
	assert_int_equal(daemon_backoff_s(1, 3600, 0), 4);
	assert_int_equal(daemon_backoff_s(1, 3600, 2), 6);
	assert_int_equal(daemon_backoff_s(3, 3600, 4), 20);
	assert_int_equal(daemon_backoff_s(30, 600, 0), 480);
	for (unsigned r = 0; r < 1000; r++) {
		unsigned d = daemon_backoff_s(20, 60, r * 7919u);

		assert_true(d >= 48 && d <= 72);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusal_space_and_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_install_commit_and_security_version, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_image_health_failure_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_bootloader_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_archive_install_and_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_module, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_after_dropped_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_after_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_after_crash_with_lost_writes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_tampered_payload_never_installed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_payload_never_installed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_install, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
