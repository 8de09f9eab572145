/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the agent's atomic state file (agent/journal.c). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tu_agent.h"
#include "fileio.h"
#include "journal.h"

static void test_roundtrip(void **state)
{
	char *dir = tu_mkdtemp();
	struct journal *j = NULL;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(journal_open(tu_path(dir, "state.json"), &j, &err), UPK_OK);
	assert_int_equal(journal_seq(j), 0);
	assert_null(journal_get(j, "pending"));
	assert_int_equal(journal_set(j, "pending", json_pack("{s:s}", "slot", "B"), &err), UPK_OK);
	assert_int_equal(journal_set(j, "seq", json_integer(9), &err), UPK_ERR_INVALID);
	assert_int_equal(journal_commit(j, &err), UPK_OK);
	assert_int_equal(journal_set(j, "image_version", json_string("1.2"), &err), UPK_OK);
	assert_int_equal(journal_commit(j, &err), UPK_OK);
	assert_int_equal(journal_seq(j), 2);
	journal_free(j);
	j = NULL;
	/* A stale temporary file of a crashed commit is removed and ignored. */
	tu_write_file(tu_path(dir, "state.json.tmp"), "{garbage", 8);
	assert_int_equal(journal_open(tu_path(dir, "state.json"), &j, &err), UPK_OK);
	assert_int_not_equal(access(tu_path(dir, "state.json.tmp"), F_OK), 0);
	assert_int_equal(journal_seq(j), 2);
	assert_string_equal(json_string_value(json_object_get(journal_get(j, "pending"), "slot")),
	                    "B");
	journal_del(j, "pending");
	assert_int_equal(journal_commit(j, &err), UPK_OK);
	journal_free(j);
	j = NULL;
	assert_int_equal(journal_open(tu_path(dir, "state.json"), &j, &err), UPK_OK);
	assert_null(journal_get(j, "pending"));
	assert_string_equal(json_string_value(journal_get(j, "image_version")), "1.2");
	assert_int_equal(journal_seq(j), 3);
	journal_free(j);
	tu_rmtree(dir);
	free(dir);
}

static void test_bad_files(void **state)
{
	char *dir = tu_mkdtemp();
	struct journal *j = NULL;
	struct upk_error err = {0};
	struct fio_fault_plan plan = {.enabled = 1, .op = FIO_OP_FSYNC, .error = EIO};

	(void)state;
	tu_write_file(tu_path(dir, "a.json"), "{\"x\":1}", strlen("{\"x\":1}"));
	assert_int_equal(journal_open(tu_path(dir, "a.json"), &j, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not an upkeep state"));
	tu_write_file(tu_path(dir, "b.json"), "{\"format\":2,\"seq\":1}",
	              strlen("{\"format\":2,\"seq\":1}"));
	assert_int_equal(journal_open(tu_path(dir, "b.json"), &j, &err), UPK_ERR_UNSUPPORTED);
	tu_write_file(tu_path(dir, "c.json"), "{\"format\":1,\"seq\":1",
	              strlen("{\"format\":1,\"seq\":1"));
	assert_int_equal(journal_open(tu_path(dir, "c.json"), &j, &err), UPK_ERR_INVALID);
	assert_null(j);
	/* A failing fsync fails the commit, and the old state stays. */
	assert_int_equal(journal_open(tu_path(dir, "d.json"), &j, &err), UPK_OK);
	assert_int_equal(journal_set(j, "k", json_string("v1"), &err), UPK_OK);
	assert_int_equal(journal_commit(j, &err), UPK_OK);
	assert_int_equal(journal_set(j, "k", json_string("v2"), &err), UPK_OK);
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(journal_commit(j, &err), UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "state file: fsync"));
	journal_free(j);
	j = NULL;
	assert_int_equal(journal_open(tu_path(dir, "d.json"), &j, &err), UPK_OK);
	assert_string_equal(json_string_value(journal_get(j, "k")), "v1");
	journal_free(j);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
