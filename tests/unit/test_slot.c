/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of slot resolution and opening (agent/slot.c). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_agent.h"
#include "fileio.h"
#include "slot.h"

static void test_cmdline(void **state)
{
	char name[AGENT_CONFIG_NAME_MAX + 1];
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(slot_from_cmdline("console=ttyS0 upkeep.slot=B rw\n", name, &err), UPK_OK);
	assert_string_equal(name, "B");
	assert_int_equal(slot_from_cmdline("upkeep.slot=rootfs_a", name, &err), UPK_OK);
	assert_string_equal(name, "rootfs_a");
	assert_int_equal(slot_from_cmdline("xupkeep.slot=B upkeep.slot= root=/dev/sda", name, &err),
	                 UPK_ERR_NOT_FOUND);
	assert_int_equal(slot_from_cmdline("upkeep.slot=../B", name, &err), UPK_ERR_INVALID);
	assert_int_equal(slot_from_cmdline("", name, &err), UPK_ERR_NOT_FOUND);
}

static void test_resolve(void **state)
{
	char *dir = tu_mkdtemp();
	char text[8192];
	struct agent_config *cfg = NULL;
	struct bootloader *bl = NULL;
	struct slot_view v;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(
	    tu_system(
	        "grub-editenv %s/grubenv create && grub-editenv %s/grubenv set upkeep_default=B",
	        dir, dir),
	    0);
	snprintf(text, sizeof(text),
	         "[agent]\ncmdline = %s/cmdline\n[slot.A]\ndevice = %s/a\n[slot.B]\ndevice = %s/b\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n",
	         dir, dir, dir, dir);
	assert_int_equal(agent_config_parse(text, strlen(text), "t", &cfg, &err), UPK_OK);
	assert_int_equal(bootloader_open(&cfg->bootloader, &bl, &err), UPK_OK);
	/* No command line file: the bootloader's word. */
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_int_equal(v.source, SLOT_FROM_BOOTLOADER);
	assert_string_equal(v.active->name, "B");
	assert_string_equal(v.inactive->name, "A");
	assert_false(v.mismatch);
	/* The kernel's word wins, and a disagreement is flagged. */
	tu_write_file(tu_path(dir, "cmdline"), "ro upkeep.slot=A\n", 17);
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_OK);
	assert_int_equal(v.source, SLOT_FROM_CMDLINE);
	assert_string_equal(v.active->name, "A");
	assert_string_equal(v.inactive->name, "B");
	assert_true(v.mismatch);
	tu_write_file(tu_path(dir, "cmdline"), "upkeep.slot=C\n", 14);
	assert_int_equal(slot_resolve(cfg, bl, &v, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "running slot \"C\" (from the kernel command line)"));
	bootloader_free(bl);
	agent_config_free(cfg);
	tu_rmtree(dir);
	free(dir);
}

static void test_open_write(void **state)
{
	char *dir = tu_mkdtemp();
	struct config_slot s = {.name = "B"};
	struct upk_error err = {0};
	uint64_t cap = 0;
	int fd = -1;

	(void)state;
	/* Never created: a typo must not become a file in /dev. */
	s.device = (char *)tu_path(dir, "missing");
	assert_int_equal(slot_open_write(&s, &fd, &cap, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "slot B: opening"));
	assert_int_not_equal(access(s.device, F_OK), 0);
	s.device = "/dev/null";
	assert_int_equal(slot_open_write(&s, &fd, &cap, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "neither a block device nor a regular file"));
	s.device = (char *)tu_path(dir, "b.img");
	tu_write_file(s.device, "", 0);
	assert_int_equal(slot_open_write(&s, &fd, &cap, &err), UPK_OK);
	assert_int_equal(cap, UINT64_MAX);
	fio_close_quiet(&fd);
	s.size = 1 << 20;
	assert_int_equal(slot_open_write(&s, &fd, &cap, &err), UPK_OK);
	assert_int_equal(cap, 1 << 20);
	fio_close_quiet(&fd);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmdline),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_open_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
