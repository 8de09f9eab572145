/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the GRUB environment block format (agent/grubenv.c) against
 * grub-editenv: what it writes we read, what we write it reads.
 */
#include <string.h>

#include "tu_agent.h"
#include "grubenv.h"

static void test_interop_with_grub_editenv(void **state)
{
	char *dir = tu_mkdtemp();
	const char *path = tu_path(dir, "grubenv");
	struct grubenv *env = NULL;
	struct upk_error err = {0};
	char out[2048];

	(void)state;
	/* grub-editenv escapes backslashes and newlines; we must read both back. */
	assert_int_equal(tu_system("grub-editenv %s create && grub-editenv %s set a=1 'b=x\\y' "
	                           "\"c=line1\nline2\" empty=",
	                           path, path),
	                 0);
	assert_int_equal(grubenv_read(path, &env, &err), UPK_OK);
	assert_string_equal(grubenv_get(env, "a"), "1");
	assert_string_equal(grubenv_get(env, "b"), "x\\y");
	assert_string_equal(grubenv_get(env, "c"), "line1\nline2");
	assert_string_equal(grubenv_get(env, "empty"), "");
	assert_null(grubenv_get(env, "d"));
	assert_int_equal(grubenv_set(env, "a", NULL, &err), UPK_OK);
	assert_int_equal(grubenv_set(env, "d", "back\\slash\nnew", &err), UPK_OK);
	assert_int_equal(grubenv_set(env, "b", "replaced", &err), UPK_OK);
	assert_int_equal(grubenv_set(env, "bad name", "x", &err), UPK_ERR_INVALID);
	assert_int_equal(grubenv_write(env, path, &err), UPK_OK);
	grubenv_free(env);
	env = NULL;
	assert_int_equal(tu_capture(out, sizeof(out), "grub-editenv %s list", path), 0);
	assert_string_equal(out, "b=replaced\nc=line1\nline2\nempty=\nd=back\\slash\nnew\n");
	assert_int_equal(tu_capture(out, sizeof(out), "wc -c < %s", path), 0);
	assert_int_equal(atoi(out), 1024);
	tu_rmtree(dir);
	free(dir);
}

static void test_limits_and_garbage(void **state)
{
	struct grubenv *env = NULL;
	struct upk_error err = {0};
	char *buf = NULL, big[2000];
	size_t len = 0;
	static const char sig[] = GRUBENV_SIGNATURE;

	(void)state;
	assert_int_equal(grubenv_new(1024, &env, &err), UPK_OK);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(grubenv_set(env, "big", big, &err), UPK_OK);
	assert_int_equal(grubenv_serialize(env, &buf, &len, &err), UPK_ERR_TOO_LARGE);
	assert_non_null(strstr(err.msg, "do not fit the 1024-byte"));
	assert_int_equal(grubenv_set(env, "big", "small", &err), UPK_OK);
	assert_int_equal(grubenv_serialize(env, &buf, &len, &err), UPK_OK);
	assert_int_equal(len, 1024);
	assert_memory_equal(buf, sig, sizeof(sig) - 1);
	grubenv_free(env);
	env = NULL;
	/* Our own output parses back. */
	assert_int_equal(grubenv_parse(buf, len, &env, &err), UPK_OK);
	assert_string_equal(grubenv_get(env, "big"), "small");
	grubenv_free(env);
	env = NULL;
	free(buf);
	assert_int_equal(grubenv_parse("# GRUB", 6, &env, &err), UPK_ERR_INVALID);
	assert_int_equal(
	    grubenv_parse(GRUBENV_SIGNATURE "novalue\n", sizeof(GRUBENV_SIGNATURE) + 7, &env, &err),
	    UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "has no \"=\""));
	assert_int_equal(grubenv_parse(GRUBENV_SIGNATURE "a=unterminated",
	                               sizeof(GRUBENV_SIGNATURE) + 13, &env, &err),
	                 UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not terminated"));
	assert_int_equal(
	    grubenv_parse(GRUBENV_SIGNATURE "=x\n", sizeof(GRUBENV_SIGNATURE) + 2, &env, &err),
	    UPK_ERR_INVALID);
	assert_null(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interop_with_grub_editenv),
	    cmocka_unit_test(test_limits_and_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
