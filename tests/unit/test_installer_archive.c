/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the archive installer (agent/installer_archive.c): versioned
 * unpacking, atomic switch, health-driven commit and rollback, zstd bundles,
 * and every kind of hostile entry refused without leaving anything behind.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_tarfiles.h"
#include "fileio.h"
#include "health.h"
#include "installer.h"

static char *dir;
static char root[4096];

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	snprintf(root, sizeof(root), "%s/apps", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fio_set_fault_hook(NULL, NULL);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static upk_status unpack(const char *file, const char *version, const char *sha, uint64_t max_bytes,
                         unsigned max_entries, struct upk_error *err)
{
	struct archive_opts o = {.root = root,
	                         .name = "app",
	                         .version = version,
	                         .max_bytes = max_bytes,
	                         .max_entries = max_entries};
	struct installer *in = NULL;
	size_t len = 0;
	char *data = tu_read_file(tu_path(dir, file), &len);
	upk_status ret;

	assert_non_null(data);
	if (sha != NULL)
		assert_int_equal(payload_expect_sha256_hex(&o.expect, sha, NULL), UPK_OK);
	ret = installer_archive_begin(&o, &in, err);
	for (size_t off = 0; ret == UPK_OK && off < len; off += 3000)
		ret = installer_write(in, data + off, len - off < 3000 ? len - off : 3000, err);
	if (ret == UPK_OK)
		ret = installer_finish(in, err);
	installer_free(in);
	free(data);
	return ret;
}

static const char *current(void)
{
	static char v[64];
	char *cur = NULL;

	if (archive_current(root, "app", &cur, NULL) != UPK_OK)
		return "(none)";
	snprintf(v, sizeof(v), "%s", cur);
	free(cur);
	return v;
}

static const char *versions(void)
{
	static char out[512];

	tu_capture(out, sizeof(out), "ls %s/app/versions | tr '\\n' ' '", root);
	return out;
}

static void test_install_switch_commit_rollback(void **state)
{
	struct upk_error err = {0};
	char sha[65], *text;
	struct stat st;

	(void)state;
	tu_make_tar(dir, "v1.tar", "gnu:v1.0.0");
	tu_sha256_file(tu_path(dir, "v1.tar"), (size_t)-1, sha);
	if (unpack("v1.tar", "1.0.0", sha, 0, 0, &err) != UPK_OK)
		fail_msg("unpack: %s", err.msg);
	assert_string_equal(current(), "(none)"); /* unpacked, not switched */
	assert_int_equal(archive_switch(root, "app", "1.0.0", &err), UPK_OK);
	assert_string_equal(current(), "1.0.0");
	text = tu_read_file(tu_path(root, "app/current/bin/app"), NULL);
	assert_string_equal(text, "#!/bin/sh\necho v1.0.0\n");
	free(text);
	assert_int_equal(stat(tu_path(root, "app/current/bin/app"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755); /* set-user-ID dropped */
	assert_int_equal(st.st_nlink, 2);           /* the hard link */
	assert_int_equal(st.st_mtime, 1700000000);
	text = tu_read_file(tu_path(root, "app/current/lib/link"), NULL); /* the symlink works */
	assert_non_null(text);
	free(text);
	assert_int_equal(archive_commit(root, "app", &err), UPK_OK);

	/* v2, zstd-compressed: switch, health fails, roll back. */
	tu_make_tar(dir, "v2.tar", "pax:v2.0.0");
	assert_int_equal(tu_system("zstd -q %s/v2.tar -o %s/v2.tar.zst", dir, dir), 0);
	tu_sha256_file(tu_path(dir, "v2.tar.zst"), (size_t)-1, sha);
	if (unpack("v2.tar.zst", "2.0.0", sha, 0, 0, &err) != UPK_OK)
		fail_msg("unpack: %s", err.msg);
	assert_int_equal(archive_switch(root, "app", "2.0.0", &err), UPK_OK);
	assert_string_equal(current(), "2.0.0");
	text = tu_read_file(tu_path(root, "app/current/bin/app"), NULL);
	assert_string_equal(text, "#!/bin/sh\necho v2.0.0\n");
	free(text);
	{
		struct agent_config *cfg = NULL;
		char conf[8192];
		snprintf(conf, sizeof(conf),
		         "[health]\ncommand = grep -q v3 %s/app/current/bin/app\n", root);
		assert_int_equal(agent_config_parse(conf, strlen(conf), "t", &cfg, &err), UPK_OK);
		assert_int_equal(health_check(cfg, NULL, &err), UPK_ERR_IO);
		agent_config_free(cfg);
	}
	assert_int_equal(archive_rollback(root, "app", &err), UPK_OK);
	assert_string_equal(current(), "1.0.0");
	assert_string_equal(versions(), "1.0.0 ");
	text = tu_read_file(tu_path(root, "app/current/bin/app"), NULL);
	assert_string_equal(text, "#!/bin/sh\necho v1.0.0\n");
	free(text);

	/* v2 again, healthy this time; then v3: commit keeps current and previous only. */
	if (unpack("v2.tar.zst", "2.0.0", sha, 0, 0, &err) != UPK_OK)
		fail_msg("unpack: %s", err.msg);
	assert_int_equal(archive_switch(root, "app", "2.0.0", &err), UPK_OK);
	assert_int_equal(archive_commit(root, "app", &err), UPK_OK);
	assert_string_equal(versions(), "1.0.0 2.0.0 ");
	tu_make_tar(dir, "v3.tar", "gnu:v3.0.0");
	assert_int_equal(unpack("v3.tar", "3.0.0", NULL, 0, 0, &err), UPK_OK);
	assert_int_equal(archive_switch(root, "app", "3.0.0", &err), UPK_OK);
	assert_int_equal(archive_commit(root, "app", &err), UPK_OK);
	assert_string_equal(versions(), "2.0.0 3.0.0 ");
	/* Installing the current version again is refused; a rollback to a first install empties.
	 */
	assert_int_equal(unpack("v3.tar", "3.0.0", NULL, 0, 0, &err), UPK_ERR_EXISTS);
	assert_int_equal(archive_rollback(root, "app", &err), UPK_OK);
	assert_string_equal(current(), "2.0.0");
	assert_int_equal(archive_rollback(root, "app", &err), UPK_OK);
	assert_string_equal(current(), "(none)");
	assert_int_equal(archive_rollback(root, "app", &err), UPK_OK); /* nothing left: fine */
}

static void refused(const char *kind, upk_status code, const char *want)
{
	struct upk_error err = {0};
	upk_status ret;

	tu_make_tar(dir, "bad.tar", kind);
	ret = unpack("bad.tar", "9.9.9", NULL, 10000, 20, &err);
	if (ret == UPK_OK)
		fail_msg("%s was unpacked", kind);
	if (ret != code || strstr(err.msg, want) == NULL)
		fail_msg("%s: got %d \"%s\", want %d \"%s\"", kind, ret, err.msg, code, want);
	/* Nothing staged is left, nothing was published. */
	assert_string_equal(versions(), "");
	assert_int_not_equal(access(tu_path(dir, "evil"), F_OK), 0);
}

static void test_hostile_archives(void **state)
{
	(void)state;
	refused("ustar:abs", UPK_ERR_INVALID, "entry \"/etc/evil\": absolute path");
	refused("ustar:dotdot", UPK_ERR_INVALID, "entry \"a/../../evil\": \"..\" in the path");
	refused("ustar:symabs", UPK_ERR_INVALID,
	        "symlink \"l\" -> \"/etc/passwd\": absolute target");
	refused("ustar:symesc", UPK_ERR_INVALID, "symlink \"a/l\" -> \"../../etc\" points outside");
	refused("ustar:symmid", UPK_ERR_INVALID, "\"..\" after a name");
	refused("ustar:through", UPK_ERR_INVALID,
	        "entry \"d/f\": \"d\" is a symlink or not a directory");
	refused("ustar:dev", UPK_ERR_INVALID, "entry \"console\": device nodes and FIFOs");
	refused("ustar:fifo", UPK_ERR_INVALID, "entry \"pipe\": device nodes and FIFOs");
	refused("ustar:hardesc", UPK_ERR_INVALID, "\"..\" in the path");
	refused("ustar:hardnone", UPK_ERR_INVALID, "the target is not a file unpacked before");
	refused("ustar:dup", UPK_ERR_INVALID, "entry \"f\" appears twice");
	refused("ustar:dupsym", UPK_ERR_INVALID, "entry \"f\" appears twice");
	refused("ustar:many", UPK_ERR_TOO_LARGE, "more than 20 entries");
	refused("ustar:big", UPK_ERR_TOO_LARGE, "entry \"f\": the bundle exceeds 10000 bytes");
}

static void test_bad_payloads(void **state)
{
	struct upk_error err = {0};
	char sha[65];
	char *data;
	size_t len;

	(void)state;
	tu_make_tar(dir, "v1.tar", "gnu:v1.0.0");
	tu_sha256_file(tu_path(dir, "v1.tar"), (size_t)-1, sha);
	/* An altered byte inside a file's data: the tar is still well-formed, the hash is not. */
	data = tu_read_file(tu_path(dir, "v1.tar"), &len);
	char *p = memmem(data, len, "version=", 8);
	assert_non_null(p);
	p[0] = 'V';
	tu_write_file(tu_path(dir, "evil.tar"), data, len);
	free(data);
	assert_int_equal(unpack("evil.tar", "1.0.0", sha, 0, 0, &err), UPK_ERR_HASH);
	assert_non_null(strstr(err.msg, "archive 1.0.0: payload sha256 "));
	assert_string_equal(versions(), "");
	/* Truncated. */
	assert_int_equal(tu_system("head -c 3000 %s/v1.tar > %s/cut.tar", dir, dir), 0);
	assert_int_equal(unpack("cut.tar", "1.0.0", NULL, 0, 0, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "archive truncated"));
	assert_string_equal(versions(), "");
	/* Not a tar at all. */
	tu_write_file(tu_path(dir, "junk"), "hello world, this is not a tar archive", 38);
	assert_int_not_equal(unpack("junk", "1.0.0", NULL, 0, 0, &err), UPK_OK);
	/* Bad names and versions. */
	struct archive_opts o = {.root = root, .name = "../x", .version = "1.0"};
	struct installer *in = NULL;
	assert_int_equal(installer_archive_begin(&o, &in, &err), UPK_ERR_INVALID);
	o.name = "app";
	o.version = "1.0/../../x";
	assert_int_equal(installer_archive_begin(&o, &in, &err), UPK_ERR_INVALID);
	assert_null(in);
	assert_int_equal(archive_switch(root, "app", "7.7.7", &err), UPK_ERR_NOT_FOUND);
	/* ENOSPC while unpacking: a clear error and nothing published. */
	struct fio_fault_plan plan = {
	    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 500, .error = ENOSPC};
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(unpack("v1.tar", "1.0.0", sha, 0, 0, &err), UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_non_null(strstr(err.msg, "./etc/app.conf"));
	assert_string_equal(versions(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_install_switch_commit_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_archives, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_payloads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
