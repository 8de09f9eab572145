/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the module installer (agent/installer_module.c) with handler
 * scripts written by the test: the documented protocol (steps on argv,
 * payload on stdin, UPKEEP_* environment), failures and timeouts.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_agent.h"
#include "installer.h"

static char *dir;
static char handler[4096], workdir[4096];

static void write_handler(const char *body)
{
	FILE *f = fopen(handler, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nLOG=%s/log\n%s", dir, body);
	fclose(f);
	assert_int_equal(chmod(handler, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	snprintf(handler, sizeof(handler), "%s/handler", dir);
	snprintf(workdir, sizeof(workdir), "%s/work/container", dir);
	/* A container-like handler: store on download, "apply" on install, log every step. */
	write_handler(
	    "echo \"$1 $UPKEEP_MODULE $UPKEEP_TARGET $UPKEEP_VERSION $UPKEEP_LENGTH\" >> $LOG\n"
	    "case \"$1\" in\n"
	    "download) cat > \"$UPKEEP_WORKDIR/payload\" ;;\n"
	    "install) cp \"$UPKEEP_WORKDIR/payload\" \"$LOG.installed\" ;;\n"
	    "commit) echo committed >> $LOG ;;\n"
	    "rollback) rm -f \"$LOG.installed\" ;;\n"
	    "*) echo \"unknown step $1\" >&2; exit 64 ;;\n"
	    "esac\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static upk_status download(const struct module_opts *o, const char *file, size_t chunk,
                           struct upk_error *err)
{
	struct installer *in = NULL;
	size_t len = 0;
	char *data = tu_read_file(file, &len);
	upk_status ret;

	assert_non_null(data);
	ret = installer_module_begin(o, &in, err);
	for (size_t off = 0; ret == UPK_OK && off < len; off += chunk)
		ret = installer_write(in, data + off, len - off < chunk ? len - off : chunk, err);
	if (ret == UPK_OK)
		ret = installer_finish(in, err);
	installer_free(in);
	free(data);
	return ret;
}

static void test_protocol(void **state)
{
	struct config_module m = {.name = "container", .handler = handler, .timeout_s = 20};
	struct module_opts o = {
	    .module = &m, .workdir = workdir, .target = "apps/web.tar", .version = "1.4.0"};
	struct upk_error err = {0};
	char sha[65], got[65], *log;

	(void)state;
	tu_make_pattern(tu_path(dir, "payload"), 5u << 20, 9); /* more than any pipe buffer */
	tu_sha256_file(tu_path(dir, "payload"), (size_t)-1, sha);
	o.expect.length = 5u << 20;
	assert_int_equal(payload_expect_sha256_hex(&o.expect, sha, NULL), UPK_OK);
	if (download(&o, tu_path(dir, "payload"), 100000, &err) != UPK_OK)
		fail_msg("download: %s", err.msg);
	tu_sha256_file(tu_path(workdir, "payload"), (size_t)-1, got);
	assert_string_equal(got, sha);
	assert_int_equal(module_step(&o, "install", &err), UPK_OK);
	assert_int_equal(access(workdir, F_OK), 0); /* kept until commit or rollback */
	assert_int_equal(module_step(&o, "commit", &err), UPK_OK);
	assert_int_not_equal(access(workdir, F_OK), 0);
	log = tu_read_file(tu_path(dir, "log"), NULL);
	assert_string_equal(log, "download container apps/web.tar 1.4.0 5242880\n"
	                         "install container apps/web.tar 1.4.0 5242880\n"
	                         "commit container apps/web.tar 1.4.0 5242880\n"
	                         "committed\n");
	free(log);
	assert_int_equal(module_step(&o, "uninstall", &err), UPK_ERR_INVALID);
	/* Rollback after a failed health check. */
	assert_int_equal(download(&o, tu_path(dir, "payload"), 65536, &err), UPK_OK);
	assert_int_equal(module_step(&o, "install", &err), UPK_OK);
	assert_int_equal(access(tu_path(dir, "log.installed"), F_OK), 0);
	assert_int_equal(module_step(&o, "rollback", &err), UPK_OK);
	assert_int_not_equal(access(tu_path(dir, "log.installed"), F_OK), 0);
}

static void test_bad_payload_and_handlers(void **state)
{
	struct config_module m = {.name = "mcu", .handler = handler, .timeout_s = 20};
	struct module_opts o = {.module = &m, .workdir = workdir, .version = "2.0.0"};
	struct upk_error err = {0};
	char sha[65];

	(void)state;
	tu_make_pattern(tu_path(dir, "payload"), 300000, 1);
	tu_make_pattern(tu_path(dir, "other"), 300000, 2);
	tu_sha256_file(tu_path(dir, "payload"), (size_t)-1, sha);
	assert_int_equal(payload_expect_sha256_hex(&o.expect, sha, NULL), UPK_OK);
	/* Altered payload: the handler got it, but it is not good, and its work dir is gone. */
	assert_int_equal(download(&o, tu_path(dir, "other"), 65536, &err), UPK_ERR_HASH);
	assert_non_null(strstr(err.msg, "module mcu download: payload sha256"));
	assert_int_not_equal(access(workdir, F_OK), 0);
	/* A handler that fails says why. */
	write_handler("echo 'flash: device busy' >&2\nexit 5\n");
	assert_int_equal(module_step(&o, "install", &err), UPK_ERR_IO);
	assert_string_equal(err.msg, "module mcu install: exit status 5: flash: device busy");
	/* A handler that stops reading its input. */
	write_handler("head -c 10 > /dev/null; echo 'short read' >&2; exit 0\n");
	assert_int_not_equal(download(&o, tu_path(dir, "payload"), 65536, &err), UPK_OK);
	/* A handler that hangs is killed at the timeout. */
	write_handler("sleep 30\n");
	m.timeout_s = 1;
	assert_int_equal(module_step(&o, "install", &err), UPK_ERR_IO);
	assert_non_null(strstr(err.msg, "timed out after 1 s"));
	/* A handler that does not exist. */
	m.handler = (char *)tu_path(dir, "missing");
	assert_int_equal(module_step(&o, "commit", &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "cannot run"));
	assert_int_equal(download(&o, tu_path(dir, "payload"), 65536, &err), UPK_ERR_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_protocol, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_payload_and_handlers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
