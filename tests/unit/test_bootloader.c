/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the bootloader backends (agent/bootloader_*.c) with real
 * environments: a redundant U-Boot environment in files checked with
 * fw_printenv, a GRUB environment block checked with grub-editenv, and a
 * script backend. Reboots go through upkeep-bootsim, which applies the rules
 * of docs/bootloader.md.
 */
#include <string.h>
#include <sys/stat.h>

#include "tu_agent.h"
#include "bootloader.h"

static char *dir;
static char fwcfg[4096], grubenv[4096];

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	snprintf(fwcfg, sizeof(fwcfg), "%s/fw_env.config", dir);
	snprintf(grubenv, sizeof(grubenv), "%s/grubenv", dir);
	/* A redundant U-Boot environment (two copies) in two files, as on real flash. */
	if (tu_system("cd %s && printf '%%s 0x0 0x4000\\n%%s 0x0 0x4000\\n' %s/env1 %s/env2 > "
	              "fw_env.config"
	              " && truncate -s 16384 env1 env2"
	              " && printf 'bootlimit=1\\nupkeep_boot=A\\nbootcmd=run upkeep_select\\n' > "
	              "initial-env"
	              " && fw_setenv -c fw_env.config -f initial-env bootdelay 0 2>/dev/null",
	              dir, dir, dir) != 0)
		fail_msg("cannot make a U-Boot environment (libubootenv-tool installed?)");
	if (tu_system("grub-editenv %s create && grub-editenv %s set upkeep_default=A 'other=a\\b'",
	              grubenv, grubenv) != 0)
		fail_msg("cannot make a GRUB environment (grub-common installed?)");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static const char *fw_get(const char *var)
{
	static char out[256];

	if (tu_capture(out, sizeof(out), "fw_printenv -c %s -n %s 2>/dev/null", fwcfg, var) != 0)
		return "(unset)";
	out[strcspn(out, "\n")] = '\0';
	return out[0] != '\0' ? out : "(unset)";
}

static const char *grub_list(void)
{
	static char out[1024];

	if (tu_capture(out, sizeof(out), "grub-editenv %s list", grubenv) != 0)
		fail_msg("grub-editenv %s list failed", grubenv);
	return out;
}

static struct bootloader *open_uboot(unsigned bootlimit)
{
	struct config_bootloader c = {
	    .type = BOOTLOADER_UBOOT, .fw_env_config = fwcfg, .bootlimit = bootlimit};
	struct bootloader *bl = NULL;

	assert_int_equal(bootloader_open(&c, &bl, NULL), UPK_OK);
	return bl;
}

static struct bootloader *open_grub(void)
{
	struct config_bootloader c = {.type = BOOTLOADER_GRUB, .grubenv = grubenv};
	struct bootloader *bl = NULL;

	assert_int_equal(bootloader_open(&c, &bl, NULL), UPK_OK);
	return bl;
}

static void check_state(struct bootloader *bl, const char *committed, const char *booted,
                        const char *next, int armed, int trial)
{
	struct boot_state st;
	struct upk_error err = {0};

	if (bootloader_state(bl, &st, &err) != UPK_OK)
		fail_msg("state: %s", err.msg);
	assert_string_equal(st.committed, committed);
	assert_string_equal(st.booted, booted);
	assert_string_equal(st.next, next);
	assert_int_equal(st.armed, armed);
	assert_int_equal(st.trial, trial);
}

static const char *cmdline(void)
{
	static char buf[256];
	char *t = tu_read_file(tu_path(dir, "cmdline"), NULL);

	snprintf(buf, sizeof(buf), "%s", t != NULL ? t : "");
	free(t);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void test_uboot_trial_then_commit(void **state)
{
	struct bootloader *bl = open_uboot(1);
	struct upk_error err = {0};

	(void)state;
	check_state(bl, "A", "A", "A", 0, 0);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=0");
	assert_string_equal(fw_get("bootcount"), "(unset)"); /* only counted during upgrades */
	assert_int_equal(bootloader_set_trial(bl, "A", &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "slot A is the committed slot"));
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_string_equal(fw_get("upkeep_boot"), "B");
	assert_string_equal(fw_get("upkeep_fallback"), "A");
	assert_string_equal(fw_get("upgrade_available"), "1");
	assert_string_equal(fw_get("bootcount"), "0");
	assert_string_equal(fw_get("bootlimit"), "1");
	assert_string_equal(fw_get("bootcmd"),
	                    "run upkeep_select"); /* U-Boot's own variables stay */
	check_state(bl, "A", "A", "B", 1, 0);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_ERR_INVALID); /* not booted yet */
	assert_non_null(strstr(err.msg, "a trial is armed but not booted"));

	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=1 fallback=0");
	assert_string_equal(cmdline(), "console=ttyS0 upkeep.slot=B");
	assert_string_equal(fw_get("bootcount"), "1");
	check_state(bl, "A", "B", "A", 0, 1);
	assert_int_equal(bootloader_set_trial(bl, "A", &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "running on trial"));
	assert_int_equal(bootloader_commit(bl, "A", &err), UPK_ERR_INVALID);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_OK);
	assert_string_equal(fw_get("upgrade_available"), "0");
	assert_string_equal(fw_get("bootcount"), "0");
	check_state(bl, "B", "B", "B", 0, 0);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_OK); /* idempotent */
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=0 fallback=0");
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=0 fallback=0");
	/* The next update goes the other way. */
	assert_int_equal(bootloader_set_trial(bl, "A", &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=1 fallback=0");
	bootloader_free(bl);
}

static void test_uboot_fallback_after_bootlimit(void **state)
{
	struct bootloader *bl = open_uboot(1);
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=1 fallback=0");
	/* The health check failed, or the agent never got to run: reboot without commit. */
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=1");
	assert_string_equal(cmdline(), "console=ttyS0 upkeep.slot=A");
	assert_string_equal(fw_get("upkeep_boot"), "A");
	assert_string_equal(fw_get("upgrade_available"), "0");
	check_state(bl, "A", "A", "A", 0, 0);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_ERR_INVALID);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=0");
	bootloader_free(bl);

	/* bootlimit 3: three trial boots, the fourth falls back. */
	bl = open_uboot(3);
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_string_equal(fw_get("bootlimit"), "3");
	for (int i = 0; i < 3; i++) {
		assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=1 fallback=0");
		check_state(bl, "A", "B", i < 2 ? "B" : "A", 0, 1);
	}
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=1");
	bootloader_free(bl);
}

static void test_uboot_rollback(void **state)
{
	struct bootloader *bl = open_uboot(1);
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(bootloader_rollback(bl, &err), UPK_OK); /* nothing to undo */
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_int_equal(bootloader_rollback(bl, &err), UPK_OK); /* armed, not booted */
	check_state(bl, "A", "A", "A", 0, 0);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=0");
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=B trial=1 fallback=0");
	assert_int_equal(bootloader_rollback(bl, &err), UPK_OK); /* running trial: health failed */
	assert_string_equal(fw_get("upkeep_boot"), "A");
	assert_string_equal(fw_get("upgrade_available"), "0");
	assert_string_equal(tu_boot(dir, "uboot", fwcfg), "slot=A trial=0 fallback=0");
	bootloader_free(bl);
}

static void test_uboot_bad_environments(void **state)
{
	struct config_bootloader c = {.type = BOOTLOADER_UBOOT, .bootlimit = 1};
	struct bootloader *bl = NULL;
	struct boot_state st;
	struct upk_error err = {0};
	char cfg2[4096];

	(void)state;
	/* Blank storage and no default_env: refuse rather than write a bare environment. */
	snprintf(cfg2, sizeof(cfg2), "%s/blank.config", dir);
	assert_int_equal(
	    tu_system("printf '%%s 0x0 0x4000\\n' %s/blank > %s && truncate -s 16384 %s/blank", dir,
	              cfg2, dir),
	    0);
	c.fw_env_config = cfg2;
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_OK);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no default_env configured"));
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_ERR_INVALID);
	bootloader_free(bl);
	/* With a default environment lacking upkeep_boot: a clear pointer to the docs. */
	tu_write_file(tu_path(dir, "def2"), "bootlimit=1\n", 12);
	c.default_env = (char *)tu_path(dir, "def2");
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_OK);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "U-Boot: variable upkeep_boot is not set"));
	bootloader_free(bl);
	/* A missing fw_env.config. */
	c.fw_env_config = (char *)tu_path(dir, "none.config");
	c.default_env = NULL;
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_OK);
	assert_int_not_equal(bootloader_state(bl, &st, &err), UPK_OK);
	assert_non_null(strstr(err.msg, "none.config"));
	bootloader_free(bl);
	/* No backend at all. */
	c.type = BOOTLOADER_NONE;
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_ERR_INVALID);
}

static void test_grub_trial_commit_and_fallback(void **state)
{
	struct bootloader *bl = open_grub();
	struct upk_error err = {0};

	(void)state;
	check_state(bl, "A", "A", "A", 0, 0);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=A trial=0 fallback=0");
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_non_null(strstr(grub_list(), "upkeep_once=B\n"));
	assert_non_null(strstr(grub_list(), "other=a\\b\n")); /* others' variables survive */
	check_state(bl, "A", "A", "B", 1, 0);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=B trial=1 fallback=0");
	assert_string_equal(cmdline(), "console=ttyS0 upkeep.slot=B");
	assert_non_null(strstr(grub_list(), "upkeep_trial=B\n"));
	assert_non_null(strstr(grub_list(), "upkeep_once=\n"));
	check_state(bl, "A", "B", "A", 0, 1);
	/* No commit: the next boot is the default again. */
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=A trial=0 fallback=1");
	check_state(bl, "A", "A", "A", 0, 0);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_ERR_INVALID);
	/* Try again and commit this time. */
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=B trial=1 fallback=0");
	assert_int_equal(bootloader_set_trial(bl, "A", &err), UPK_ERR_INVALID);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_OK);
	assert_non_null(strstr(grub_list(), "upkeep_default=B\n"));
	assert_null(strstr(grub_list(), "upkeep_trial=B"));
	check_state(bl, "B", "B", "B", 0, 0);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=B trial=0 fallback=0");
	/* Rollback of a running trial. */
	assert_int_equal(bootloader_set_trial(bl, "A", &err), UPK_OK);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=A trial=1 fallback=0");
	assert_int_equal(bootloader_rollback(bl, &err), UPK_OK);
	check_state(bl, "B", "B", "B", 0, 0);
	assert_string_equal(tu_boot(dir, "grub", grubenv), "slot=B trial=0 fallback=0");
	/* The block keeps GRUB's size. */
	size_t len = 0;
	free(tu_read_file(grubenv, &len));
	assert_int_equal(len, 1024);
	bootloader_free(bl);
}

static void test_grub_unset_default(void **state)
{
	struct bootloader *bl = open_grub();
	struct boot_state st;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(tu_system("grub-editenv %s unset upkeep_default", grubenv), 0);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "GRUB: variable upkeep_default is not set"));
	tu_write_file(grubenv, "not an env block", 16);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not a GRUB environment block"));
	bootloader_free(bl);
}

/* The script backend, with an integrator script keeping its state in a file. */
static void test_script_backend(void **state)
{
	char script[4096], statef[4096];
	struct config_bootloader c = {.type = BOOTLOADER_SCRIPT, .timeout_s = 10};
	struct bootloader *bl = NULL;
	struct upk_error err = {0};
	FILE *f;

	(void)state;
	snprintf(script, sizeof(script), "%s/boot-helper", dir);
	snprintf(statef, sizeof(statef), "%s/boot-state", dir);
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f,
	        "#!/bin/sh\n"
	        "S=%s\n"
	        "case \"$1\" in\n"
	        "state) cat \"$S\" ;;\n"
	        "trial) [ \"$2\" = B ] || { echo \"refusing $2\" >&2; exit 3; }\n"
	        "       printf 'committed=A\\nnext=%%s\\narmed=1\\n' \"$2\" > \"$S\" ;;\n"
	        "commit) printf 'committed=%%s\\n' \"$2\" > \"$S\" ;;\n"
	        "rollback) printf 'committed=A\\n' > \"$S\" ;;\n"
	        "*) exit 2 ;;\n"
	        "esac\n",
	        statef);
	fclose(f);
	assert_int_equal(chmod(script, 0755), 0);
	tu_write_file(statef, "committed=A\n", 12);
	c.command = script;
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_OK);
	check_state(bl, "A", "A", "A", 0, 0);
	assert_int_equal(bootloader_set_trial(bl, "B", &err), UPK_OK);
	check_state(bl, "A", "A", "B", 1, 0);
	assert_int_equal(bootloader_set_trial(bl, "C", &err), UPK_ERR_IO);
	assert_non_null(strstr(err.msg, "exit status 3: refusing C"));
	tu_write_file(statef, "committed=A\nbooted=B\ntrial=1\n", 29);
	check_state(bl, "A", "B", "A", 0, 1);
	assert_int_equal(bootloader_commit(bl, "B", &err), UPK_OK);
	check_state(bl, "B", "B", "B", 0, 0);
	tu_write_file(statef, "committed=A\nfoo=1\n", 18);
	struct boot_state st;
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "unknown key \"foo\""));
	tu_write_file(statef, "booted=A\n", 9);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "no committed= line"));
	bootloader_free(bl);
	/* A command that does not exist. */
	c.command = (char *)tu_path(dir, "nope");
	assert_int_equal(bootloader_open(&c, &bl, &err), UPK_OK);
	assert_int_equal(bootloader_state(bl, &st, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "cannot run"));
	bootloader_free(bl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_uboot_trial_then_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uboot_fallback_after_bootlimit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uboot_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uboot_bad_environments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grub_trial_commit_and_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grub_unset_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_script_backend, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
