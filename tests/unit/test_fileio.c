/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the agent's I/O layer (agent/fileio.c): retries of EINTR and
 * short writes, injected ENOSPC and crashes, atomic replacement, fault specs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_agent.h"
#include "fileio.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
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

static void test_short_writes_and_eintr(void **state)
{
	struct fio_fault_plan plan = {.enabled = 1, .short_io = 7, .eintr_every = 3};
	struct upk_error err = {0};
	char buf[10000], *back;
	size_t got = 0;
	int fd = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31);
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(fio_open(tu_path(dir, "f"), O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, &err),
	                 UPK_OK);
	assert_int_equal(fio_write_all(fd, buf, sizeof(buf), "f", &err), UPK_OK);
	assert_int_equal(fio_close(&fd, "f", &err), UPK_OK);
	/* 10000 bytes in 7-byte pieces, every third call interrupted first. */
	assert_true(plan.io_calls > 10000 / 7);
	back = malloc(sizeof(buf) + 1);
	assert_int_equal(fio_open(tu_path(dir, "f"), O_RDONLY, 0, &fd, &err), UPK_OK);
	assert_int_equal(fio_read_full(fd, back, sizeof(buf) + 1, &got, "f", &err), UPK_OK);
	fio_close_quiet(&fd);
	fio_set_fault_hook(NULL, NULL);
	assert_int_equal(got, sizeof(buf));
	assert_memory_equal(back, buf, sizeof(buf));
	free(back);
}

static void test_enospc_after_bytes(void **state)
{
	struct fio_fault_plan plan = {
	    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 4096, .error = ENOSPC};
	struct upk_error err = {0};
	char buf[8192] = {0};
	struct stat st;
	int fd = -1;

	(void)state;
	assert_int_equal(fio_open(tu_path(dir, "g"), O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, &err),
	                 UPK_OK);
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(fio_write_all(fd, buf, sizeof(buf), "the slot", &err), UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_string_equal(err.msg,
	                    "writing the slot: No space left on device (after 4096 of 8192 bytes)");
	fio_close_quiet(&fd);
	assert_int_equal(stat(tu_path(dir, "g"), &st), 0);
	assert_int_equal(st.st_size, 4096); /* exactly the bytes before the fault */
	assert_int_equal(plan.fired, 1);
}

static void test_atomic_replace(void **state)
{
	struct fio_fault_plan plan = {.enabled = 1, .op = FIO_OP_RENAME, .error = EIO};
	struct upk_error err = {0};
	struct stat st;
	char *text;

	(void)state;
	assert_int_equal(fio_write_file_atomic(tu_path(dir, "s"), "old", 3, 0600, &err), UPK_OK);
	assert_int_equal(stat(tu_path(dir, "s"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A failed rename leaves the old content and no temporary file. */
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(fio_write_file_atomic(tu_path(dir, "s"), "new!", 4, 0600, &err),
	                 UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	assert_non_null(strstr(err.msg, "renaming"));
	text = tu_read_file(tu_path(dir, "s"), NULL);
	assert_string_equal(text, "old");
	free(text);
	assert_int_not_equal(access(tu_path(dir, "s.tmp"), F_OK), 0);
	/* ENOSPC while writing the temporary file: the same. */
	plan = (struct fio_fault_plan){
	    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 1, .error = ENOSPC};
	fio_set_fault_hook(fio_plan_hook, &plan);
	assert_int_equal(fio_write_file_atomic(tu_path(dir, "s"), "new!", 4, 0600, &err),
	                 UPK_ERR_IO);
	fio_set_fault_hook(NULL, NULL);
	text = tu_read_file(tu_path(dir, "s"), NULL);
	assert_string_equal(text, "old");
	free(text);
	assert_int_equal(fio_write_file_atomic(tu_path(dir, "s"), "new!", 4, 0600, &err), UPK_OK);
	text = tu_read_file(tu_path(dir, "s"), NULL);
	assert_string_equal(text, "new!");
	free(text);
}

static void test_crash_after_bytes(void **state)
{
	pid_t pid;
	int st;
	struct stat sb;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fio_fault_plan plan = {
		    .enabled = 1, .op = FIO_OP_WRITE, .after_bytes = 1000, .crash = 1};
		char buf[5000] = {0};
		int fd = -1;
		fio_set_fault_hook(fio_plan_hook, &plan);
		if (fio_open(tu_path(dir, "c"), O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, NULL) ==
		    UPK_OK)
			fio_write_all(fd, buf, sizeof(buf), "c", NULL);
		_exit(0); /* not reached when the crash fires */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_int_equal(stat(tu_path(dir, "c"), &sb), 0);
	assert_int_equal(sb.st_size, 1000);
}

static void test_plan_parse(void **state)
{
	struct fio_fault_plan p;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(fio_plan_parse("write:enospc@1048576,short=4093,eintr=5", &p, &err),
	                 UPK_OK);
	assert_int_equal(p.op, FIO_OP_WRITE);
	assert_int_equal(p.error, ENOSPC);
	assert_int_equal(p.after_bytes, 1048576);
	assert_int_equal(p.short_io, 4093);
	assert_int_equal(p.eintr_every, 5);
	assert_int_equal(fio_plan_parse("fsync:crash@2", &p, &err), UPK_OK);
	assert_int_equal(p.op, FIO_OP_FSYNC);
	assert_true(p.crash);
	assert_int_equal(p.after_calls, 2);
	assert_int_equal(fio_plan_parse("write:enospc", &p, &err), UPK_ERR_INVALID);
	assert_int_equal(fio_plan_parse("wrte:eio@1", &p, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "unknown operation \"wrte\""));
	assert_int_equal(fio_plan_parse("write:oops@1", &p, &err), UPK_ERR_INVALID);
	assert_int_equal(fio_plan_parse("short=0", &p, &err), UPK_ERR_INVALID);
	assert_int_equal(fio_plan_parse("write:eio@x", &p, &err), UPK_ERR_INVALID);
}

static void test_read_file_and_tree(void **state)
{
	struct upk_error err = {0};
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	tu_write_file(tu_path(dir, "r"), "12345", 5);
	assert_int_equal(fio_read_file(tu_path(dir, "r"), 5, &buf, &len, &err), UPK_OK);
	assert_int_equal(len, 5);
	free(buf);
	assert_int_equal(fio_read_file(tu_path(dir, "r"), 4, &buf, &len, &err), UPK_ERR_TOO_LARGE);
	assert_int_equal(fio_read_file(tu_path(dir, "none"), 4, &buf, &len, &err),
	                 UPK_ERR_NOT_FOUND);
	/* mkdir -p, then rmtree that does not follow a symlink out of the tree. */
	assert_int_equal(fio_mkdir_p(tu_path(dir, "t/a/b/c"), 0755, &err), UPK_OK);
	assert_int_equal(fio_mkdir_p(tu_path(dir, "t/a/b/c"), 0755, &err), UPK_OK);
	tu_write_file(tu_path(dir, "t/a/b/c/f"), "x", 1);
	assert_int_equal(symlink(dir, tu_path(dir, "t/a/escape")), 0);
	assert_int_equal(fio_rmtree(tu_path(dir, "t"), &err), UPK_OK);
	assert_int_not_equal(access(tu_path(dir, "t"), F_OK), 0);
	assert_int_equal(access(tu_path(dir, "r"), F_OK), 0); /* the link target survived */
	assert_int_equal(fio_rmtree(tu_path(dir, "t"), &err), UPK_OK); /* missing is fine */
	assert_int_equal(fio_mkdir_p(tu_path(dir, "r/x"), 0755, &err), UPK_ERR_EXISTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_writes_and_eintr),
	    cmocka_unit_test(test_enospc_after_bytes),
	    cmocka_unit_test(test_atomic_replace),
	    cmocka_unit_test(test_crash_after_bytes),
	    cmocka_unit_test(test_plan_parse),
	    cmocka_unit_test(test_read_file_and_tree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
