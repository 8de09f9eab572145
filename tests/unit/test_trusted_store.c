/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's trusted store: role names become safe file names, writes are
 * atomic, and a crash at any moment (simulated by killing a writer with
 * SIGKILL, and by a truncated temporary file left behind) never leaves a
 * corrupted trusted root.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client_internal.h"
#include "tu_client.h"

static void test_role_file_names(void **state)
{
	char out[ROLE_FILE_MAX];
	char long_name[300];

	(void)state;
	assert_int_equal(role_file_name("targets", out, sizeof(out), NULL), UPK_OK);
	assert_string_equal(out, "targets.json");
	assert_int_equal(role_file_name("../etc/passwd", out, sizeof(out), NULL), UPK_OK);
	assert_string_equal(out, "..%2Fetc%2Fpasswd.json");
	assert_int_equal(role_file_name("..", out, sizeof(out), NULL), UPK_OK);
	assert_string_equal(out, "...json");
	assert_int_equal(role_file_name("vendor x~ü", out, sizeof(out), NULL), UPK_OK);
	assert_string_equal(out, "vendor%20x~%C3%BC.json");
	assert_int_equal(role_file_name("", out, sizeof(out), NULL), UPK_ERR_INVALID);
	/* 255 bytes of '/' would need 765 bytes: not a file name. */
	memset(long_name, '/', 255);
	long_name[255] = '\0';
	assert_int_equal(role_file_name(long_name, out, sizeof(out), NULL), UPK_ERR_INVALID);
}

static void test_write_read_remove(void **state)
{
	char *dir = tu_mkdtemp();
	struct upk_error e = {0};
	char *buf = NULL;
	size_t len;

	(void)state;
	fx_ok(store_write(dir, "a.json", "first", 5, &e), &e, "write");
	fx_ok(store_write(dir, "a.json", "second", 6, &e), &e, "overwrite");
	fx_ok(store_read(dir, "a.json", 100, &buf, &len, &e), &e, "read");
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	free(buf);
	assert_int_equal(store_read(dir, "a.json", 5, &buf, &len, &e), UPK_ERR_TOO_LARGE);
	fx_ok(store_remove(dir, "a.json", &e), &e, "remove");
	fx_ok(store_remove(dir, "a.json", &e), &e, "remove again");
	assert_int_equal(store_read(dir, "a.json", 100, &buf, &len, &e), UPK_ERR_NOT_FOUND);
	tu_rmtree(dir);
	free(dir);
}

/* A crash between writing the temporary file and the rename leaves only that file behind. */
static void test_truncated_temp_file_is_ignored(void **state)
{
	struct fx *f = fx_new(1);
	char path[4400];
	size_t len;
	char *root = fx_trusted(f, "root.json", &len);
	struct upk_client *c;
	struct upk_error e = {0};

	(void)state;
	snprintf(path, sizeof(path), "%s/.upk-tmp.root.json.Ab12Cd", f->client_dir);
	tu_write_file(path, root, len / 2);
	c = fx_client(f);
	fx_ok(upk_client_refresh(c, &e), &e, "refresh");
	upk_client_free(c);
	/* Cleaned up, and the trusted root is the complete one. */
	assert_int_equal(access(path, F_OK), -1);
	free(root);
	fx_free(f);
}

/* A root.json damaged by something else than us is refused, not repaired or trusted. */
static void test_corrupt_trusted_root_fails_closed(void **state)
{
	struct fx *f = fx_new(1);
	struct upk_client *c = NULL;
	struct upk_client_config cfg = {.metadata_dir = f->client_dir, .metadata_url = f->murl};
	struct upk_fetcher file;
	struct upk_error e = {0};
	char path[4400];
	size_t len;
	char *root = fx_trusted(f, "root.json", &len);

	(void)state;
	upk_fetcher_file_init(&file);
	cfg.fetcher = &file;
	snprintf(path, sizeof(path), "%s/root.json", f->client_dir);
	tu_write_file(path, root, len - 10);
	assert_int_equal(upk_client_new(&cfg, &c, &e), UPK_ERR_INVALID);
	assert_non_null(strstr(e.msg, "root.json"));
	/* A root that is not signed by its own keys cannot be bootstrapped either. */
	root[len / 2] ^= 1;
	assert_int_not_equal(upk_client_bootstrap(f->client_dir, root, len, &e), UPK_OK);
	free(root);
	fx_free(f);
}

/* Kill a process that rewrites root.json in a loop: the file is always one whole version. */
static void test_kill_during_writes(void **state)
{
	struct fx *f = fx_new(1);
	size_t a_len, b_len;
	char *a = fx_trusted(f, "root.json", &a_len);
	char *b = NULL;
	struct upk_metadata *md = NULL;
	struct upk_error e = {0};

	(void)state;
	/* The same root, pretty-printed: another valid file of another size. */
	fx_ok(upk_metadata_parse(a, a_len, UPK_ROLE_ROOT, NULL, &md, &e), &e, "parse");
	fx_ok(upk_metadata_serialize(md, 1, &b, &b_len, &e), &e, "pretty");
	upk_metadata_free(md);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		int status;
		size_t len;
		char *now;

		assert_true(pid >= 0);
		if (pid == 0) {
			for (unsigned i = 0;; i++)
				if (store_write(f->client_dir, "root.json", i % 2 ? a : b,
				                i % 2 ? a_len : b_len, NULL) != UPK_OK)
					_exit(2);
		}
		usleep(2000 + 1500 * (unsigned)round);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		now = fx_trusted(f, "root.json", &len);
		assert_non_null(now);
		assert_true((len == a_len && memcmp(now, a, len) == 0) ||
		            (len == b_len && memcmp(now, b, len) == 0));
		free(now);
		/* Whatever temporary file the kill left, a client starts cleanly. */
		upk_client_free(fx_client(f));
	}
	free(a);
	free(b);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_role_file_names),
	    cmocka_unit_test(test_write_read_remove),
	    cmocka_unit_test(test_truncated_temp_file_is_ignored),
	    cmocka_unit_test(test_corrupt_trusted_root_fails_closed),
	    cmocka_unit_test(test_kill_during_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
