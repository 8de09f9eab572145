/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner-private data area: a wipe leaves an empty 0700 directory, follows
 * no symlink out of it, and a wipe cut short by a crash is completed later.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_agent.h"
#include "private_data.h"

static void test_wipe_empties_and_keeps_outside(void **state)
{
	char *dir = tu_mkdtemp(), *priv = strdup(tu_path(dir, "private"));
	char *outside = strdup(tu_path(dir, "outside"));
	struct agent_config cfg = {.private_dir = priv};
	struct upk_error err = {0};
	struct stat st;
	char path[4096];

	(void)state;
	assert_int_equal(private_data_ensure(&cfg, &err), UPK_OK);
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	tu_write_file(outside, "keep", 4);
	snprintf(path, sizeof(path), "%s/keys", priv);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/keys/data.key", priv);
	tu_write_file(path, "secret", 6);
	snprintf(path, sizeof(path), "%s/link", priv);
	assert_int_equal(symlink(outside, path), 0);

	assert_int_equal(private_data_wipe(&cfg, &err), UPK_OK);
	snprintf(path, sizeof(path), "%s/keys/data.key", priv);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/link", priv);
	assert_int_not_equal(lstat(path, &st), 0);
	assert_int_equal(stat(priv, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(access(outside, F_OK), 0); /* the link was removed, not followed */
	snprintf(path, sizeof(path), "%s.wiping", priv);
	assert_int_not_equal(access(path, F_OK), 0);
	tu_rmtree(dir);
	free(dir);
	free(priv);
	free(outside);
}

static void test_interrupted_wipe_is_completed(void **state)
{
	char *dir = tu_mkdtemp(), *priv = strdup(tu_path(dir, "private"));
	struct agent_config cfg = {.private_dir = priv};
	struct upk_error err = {0};
	char aside[4096], path[4200];

	(void)state;
	/* A crash right after the rename: the old data sits aside, no private_dir. */
	snprintf(aside, sizeof(aside), "%s.wiping", priv);
	assert_int_equal(mkdir(aside, 0700), 0);
	snprintf(path, sizeof(path), "%s/old-owner.db", aside);
	tu_write_file(path, "x", 1);
	assert_int_equal(private_data_ensure(&cfg, &err), UPK_OK);
	assert_int_not_equal(access(aside, F_OK), 0);
	assert_int_equal(access(priv, F_OK), 0);
	/* Wiping an area that does not exist yet makes an empty one. */
	tu_rmtree(priv);
	assert_int_equal(private_data_wipe(&cfg, &err), UPK_OK);
	assert_int_equal(access(priv, F_OK), 0);
	tu_rmtree(dir);
	free(dir);
	free(priv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wipe_empties_and_keeps_outside),
	    cmocka_unit_test(test_interrupted_wipe_is_completed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
