/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the health check (agent/health.c) and the child process runner under it (agent/proc.c).
 */
#include <string.h>

#include "tu_agent.h"
#include "health.h"
#include "proc.h"

static struct agent_config *config(const char *text)
{
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	if (agent_config_parse(text, strlen(text), "t", &cfg, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	return cfg;
}

static void test_health(void **state)
{
	struct agent_config *cfg;
	struct upk_error err = {0};
	const char *env[] = {"UPKEEP_SLOT=B", NULL};

	(void)state;
	cfg = config("");
	assert_int_equal(health_check(cfg, NULL, &err), UPK_OK); /* no commands: healthy */
	agent_config_free(cfg);
	cfg = config("[health]\ncommand = true\ncommand = test \"$UPKEEP_SLOT\" = B\n");
	assert_int_equal(health_check(cfg, env, &err), UPK_OK);
	agent_config_free(cfg);
	cfg = config("[health]\ncommand = true\ncommand = echo 'db: not ready' >&2; exit "
	             "3\ncommand = touch /nonexistent/x\n");
	assert_int_equal(health_check(cfg, NULL, &err), UPK_ERR_IO);
	assert_string_equal(
	    err.msg,
	    "health check 2 (echo 'db: not ready' >&2; exit 3): exit status 3: db: not ready");
	agent_config_free(cfg);
	cfg = config("[health]\ncommand = sleep 20 & sleep 30\ntimeout = 1\n");
	assert_int_equal(health_check(cfg, NULL, &err), UPK_ERR_IO);
	assert_non_null(strstr(err.msg, "timed out after 1 s"));
	agent_config_free(cfg);
	cfg = config("[health]\ncommand = kill -9 $$\n");
	assert_int_equal(health_check(cfg, NULL, &err), UPK_ERR_IO);
	assert_non_null(strstr(err.msg, "killed by signal 9"));
	agent_config_free(cfg);
}

static void test_proc_output(void **state)
{
	struct proc *p = NULL;
	struct upk_error err = {0};
	int status = -1;
	size_t len = 0;

	(void)state;
	/* Lots of output on both streams: captured in bounds, no deadlock. */
	assert_int_equal(proc_run_shell("head -c 1000000 /dev/zero | tr '\\0' a; "
	                                "head -c 1000000 /dev/zero | tr '\\0' b >&2; echo END >&2",
	                                10000, NULL, &status, &p, &err),
	                 UPK_OK);
	assert_int_equal(status, 0);
	assert_int_equal(strlen(proc_stdout(p, &len)), 4096);
	assert_int_equal(len, 4096);
	assert_true(strlen(proc_stderr_tail(p)) >= PROC_STDERR_TAIL);
	assert_non_null(strstr(proc_stderr_tail(p), "bbbbEND\n"));
	proc_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_proc_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
