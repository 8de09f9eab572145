/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner tool's building blocks, linked directly: option parsing, expiry
 * periods, name and path checks of the staging area, consistent-snapshot
 * target names, atomic writes and hashed copies. The commands themselves are
 * exercised end to end by tests/interop/test_cli_*.sh.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "cli.h"
#include "stage.h"

static const struct cli_opt opts[] = {
	{"key", "FILE", "a key", CLI_OPT_REPEAT},
	{"out", "DIR", "output", 0},
	{"json", NULL, "json", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec spec = {"upkeep test cmd DIR [options]", "desc", opts, 1, 2};

static enum cli_parse_result parse(struct cli_args *a, int argc, const char **argv)
{
	return cli_parse(&spec, argc, (char **)argv, a);
}

static void test_parse_options(void **state)
{
	const char *argv[] = {"cmd", "dir", "--key", "a", "--key=b", "--json", "--out", "o", "x"};
	struct cli_args a;
	char *const *keys;
	size_t n;

	(void)state;
	assert_int_equal(parse(&a, 9, argv), CLI_GO);
	assert_int_equal(a.n_pos, 2);
	assert_string_equal(a.pos[0], "dir");
	assert_string_equal(a.pos[1], "x");
	keys = cli_opt_all(&a, "key", &n);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "a");
	assert_string_equal(keys[1], "b");
	assert_string_equal(cli_opt(&a, "out"), "o");
	assert_true(cli_flag(&a, "json"));
	assert_null(cli_opt(&a, "nonexistent"));
	cli_args_free(&a);
}

static void test_parse_errors(void **state)
{
	const char *unknown[] = {"cmd", "dir", "--bogus"};
	const char *twice[] = {"cmd", "dir", "--out", "a", "--out", "b"};
	const char *novalue[] = {"cmd", "dir", "--out"};
	const char *flagvalue[] = {"cmd", "dir", "--json=1"};
	const char *short_opt[] = {"cmd", "dir", "-k"};
	const char *missing[] = {"cmd"};
	const char *extra[] = {"cmd", "a", "b", "c"};
	const char *help[] = {"cmd", "--bogus", "--help"};
	const char *dashdash[] = {"cmd", "--", "--help"};
	struct cli_args a;

	(void)state;
	assert_int_equal(parse(&a, 3, unknown), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 6, twice), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 3, novalue), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 3, flagvalue), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 3, short_opt), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 1, missing), CLI_BAD_USAGE);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 4, extra), CLI_BAD_USAGE);
	cli_args_free(&a);
	/* --help wins over anything else on the line, but not after "--". */
	assert_int_equal(parse(&a, 3, help), CLI_HELP_SHOWN);
	assert_int_equal(cli_parse_exit(CLI_HELP_SHOWN), 0);
	cli_args_free(&a);
	assert_int_equal(parse(&a, 3, dashdash), CLI_GO);
	assert_string_equal(a.pos[0], "--help");
	cli_args_free(&a);
	assert_int_equal(cli_parse_exit(CLI_BAD_USAGE), 2);
}

static void test_when(void **state)
{
	struct upk_error err = {0};
	time_t now = 1700000000, t = 0;

	(void)state;
	assert_int_equal(cli_parse_when("90d", now, &t, &err), UPK_OK);
	assert_int_equal(t, now + 90 * 86400);
	assert_int_equal(cli_parse_when("12h", now, &t, &err), UPK_OK);
	assert_int_equal(t, now + 12 * 3600);
	assert_int_equal(cli_parse_when("2w", now, &t, &err), UPK_OK);
	assert_int_equal(t, now + 14 * 86400);
	assert_int_equal(cli_parse_when("1y", now, &t, &err), UPK_OK);
	assert_int_equal(t, now + 365 * 86400);
	assert_int_equal(cli_parse_when("30m", now, &t, &err), UPK_OK);
	assert_int_equal(t, now + 1800);
	assert_int_equal(cli_parse_when("2030-01-31", now, &t, &err), UPK_OK);
	assert_int_equal(t, 1896048000);
	assert_int_equal(cli_parse_when("2030-01-31T12:00:00Z", now, &t, &err), UPK_OK);
	assert_int_equal(t, 1896048000 + 43200);
	assert_true(cli_when_is_relative("7d"));
	assert_false(cli_when_is_relative("2030-01-31"));
	assert_false(cli_when_is_relative("d"));
	assert_int_equal(cli_parse_when("0d", now, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(cli_parse_when("-1d", now, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(cli_parse_when("10x", now, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(cli_parse_when("tomorrow", now, &t, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "\"tomorrow\""));
	assert_int_equal(cli_parse_when("999999999999d", now, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(cli_parse_when("80000d", now, &t, &err), UPK_ERR_INVALID);
}

static void test_role_names(void **state)
{
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(stage_check_role_name("vendor", &err), UPK_OK);
	assert_int_equal(stage_check_role_name("acme.model-x_2", &err), UPK_OK);
	assert_int_equal(stage_check_role_name("", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("targets", &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "top-level"));
	assert_int_equal(stage_check_role_name("root", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name(".hidden", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("1.root", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("2vendor", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("a/b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("a b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("a%2f", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_role_name("0123456789012345678901234567890123456789012345678"
					       "901234567890123456789",
					       &err),
			 UPK_ERR_INVALID);
}

static void test_target_paths(void **state)
{
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(stage_check_target_path("app.img", &err), UPK_OK);
	assert_int_equal(stage_check_target_path("vendor/model-x/fw-1.2.bin", &err), UPK_OK);
	assert_int_equal(stage_check_target_path("", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("/etc/passwd", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a/../../b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("..", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a/./b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a//b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a/", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a\\b", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("a%2e", &err), UPK_ERR_INVALID);
	assert_int_equal(stage_check_target_path("caf\xc3\xa9", &err), UPK_ERR_INVALID);
}

static void test_hashed_names(void **state)
{
	char *n;

	(void)state;
	n = stage_hashed_target_name("vendor/model-x/fw.bin", "abcd");
	assert_string_equal(n, "vendor/model-x/abcd.fw.bin");
	free(n);
	n = stage_hashed_target_name("app.img", "ff00");
	assert_string_equal(n, "ff00.app.img");
	free(n);
}

static void test_write_and_copy(void **state)
{
	char *dir = tu_mkdtemp();
	char *src = cli_join(dir, "src.bin");
	char *dst = cli_join(dir, "deep/er/dst.bin");
	struct cli_file_digest dg;
	struct upk_error err = {0};
	struct stat st;
	char *back = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cli_write_atomic(src, "abc", 3, 0600, &err), UPK_OK);
	assert_int_equal(stat(src, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cli_copy_hashed(src, dst, &dg, &err), UPK_OK);
	assert_int_equal(dg.length, 3);
	/* SHA-256 and SHA-512 of "abc" (FIPS 180-2 examples). */
	assert_string_equal(dg.sha256,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_memory_equal(dg.sha512, "ddaf35a193617abacc417349ae204131", 32);
	assert_int_equal(cli_read_file(dst, 100, &back, &len, &err), UPK_OK);
	assert_int_equal(len, 3);
	assert_string_equal(back, "abc");
	free(back);
	assert_int_equal(cli_read_file(dst, 2, &back, &len, &err), UPK_ERR_TOO_LARGE);
	assert_int_equal(cli_copy_hashed("/nonexistent/x", NULL, &dg, &err), UPK_ERR_NOT_FOUND);
	assert_int_equal(cli_read_file("/nonexistent/x", 2, &back, &len, &err), UPK_ERR_NOT_FOUND);
	/* Overwriting replaces the content whole. */
	assert_int_equal(cli_write_atomic(src, "", 0, 0644, &err), UPK_OK);
	assert_int_equal(cli_copy_hashed(src, NULL, &dg, &err), UPK_OK);
	assert_int_equal(dg.length, 0);
	assert_string_equal(dg.sha256,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(src);
	free(dst);
	tu_rmtree(dir);
	free(dir);
}

static void test_passphrase_sources(void **state)
{
	char *dir = tu_mkdtemp();
	char *file = cli_join(dir, "pass");
	char *empty = cli_join(dir, "empty");
	struct upk_error err = {0};
	char *p = NULL;

	(void)state;
	tu_write_file(file, "s3cret\nsecond line\n", 19);
	tu_write_file(empty, "\n", 1);
	setenv("UPKEEP_PASSPHRASE", "from-env", 1);
	assert_int_equal(cli_passphrase(file, 0, "k", &p, &err), UPK_OK);
	assert_string_equal(p, "s3cret"); /* the file wins over the environment */
	cli_passphrase_free(p);
	assert_int_equal(cli_passphrase(NULL, 0, "k", &p, &err), UPK_OK);
	assert_string_equal(p, "from-env");
	cli_passphrase_free(p);
	unsetenv("UPKEEP_PASSPHRASE");
	/* No file, no variable, no prompt allowed: none, without blocking. */
	assert_int_equal(cli_passphrase(NULL, 0, "k", &p, &err), UPK_OK);
	assert_null(p);
	assert_int_equal(cli_passphrase(empty, 0, "k", &p, &err), UPK_ERR_PASSPHRASE);
	assert_int_equal(cli_passphrase("/nonexistent/pass", 0, "k", &p, &err), UPK_ERR_NOT_FOUND);
	free(file);
	free(empty);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_options),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_target_paths),
		cmocka_unit_test(test_hashed_names),
		cmocka_unit_test(test_write_and_copy),
		cmocka_unit_test(test_passphrase_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
