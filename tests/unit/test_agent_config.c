/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the agent's configuration parser (agent/config.c): the documented
 * example, defaults, and every kind of refusal with its line number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "agent_config.h"

static struct agent_config *parse_ok(const char *text)
{
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	if (agent_config_parse(text, strlen(text), "t.conf", &cfg, &err) != UPK_OK)
		fail_msg("config refused: %s", err.msg);
	return cfg;
}

static void parse_bad(const char *text, upk_status code, const char *want)
{
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};
	upk_status ret = agent_config_parse(text, strlen(text), "t.conf", &cfg, &err);

	if (ret == UPK_OK)
		fail_msg("config accepted, expected \"%s\"", want);
	assert_null(cfg);
	assert_int_equal(ret, code);
	if (strstr(err.msg, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static void test_example_parses(void **state)
{
	size_t len;
	char *text = tu_read_data("../docs/agent.example.conf", &len);
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	(void)state;
	if (agent_config_parse(text, len, "agent.example.conf", &cfg, &err) != UPK_OK)
		fail_msg("docs/agent.example.conf: %s", err.msg);
	assert_string_equal(cfg->data_dir, "/var/lib/upkeep");
	assert_string_equal(cfg->server_url, "https://updates.example.com/v1/fleets/acme");
	assert_string_equal(cfg->reboot_command, "systemctl reboot");
	assert_string_equal(cfg->pre_install, "/usr/libexec/acme/may-update");
	assert_string_equal(cfg->hardware_id, "acme-gw-v2");
	assert_int_equal(cfg->poll_interval_s, 3600);
	assert_int_equal(cfg->n_attrs, 3);
	assert_string_equal(cfg->attrs[1].key, "site");
	assert_string_equal(cfg->attrs[1].value, "plant-4");
	assert_int_equal(cfg->n_slots, 2);
	assert_string_equal(cfg->slots[0].name, "A");
	assert_string_equal(cfg->slots[1].device, "/dev/disk/by-partlabel/rootfs-b");
	assert_int_equal(cfg->bootloader.type, BOOTLOADER_UBOOT);
	assert_string_equal(cfg->bootloader.default_env, "/etc/u-boot-initial-env");
	assert_int_equal(cfg->n_health, 2);
	assert_string_equal(cfg->health_commands[0], "systemctl is-system-running --wait");
	assert_int_equal(cfg->health_timeout_s, 120);
	assert_int_equal(cfg->archive_max_bytes, 2ull << 30);
	assert_int_equal(cfg->n_modules, 1);
	assert_int_equal(agent_config_find_module(cfg, "container")->timeout_s, 600);
	assert_non_null(agent_config_find_slot(cfg, "B"));
	assert_null(agent_config_find_slot(cfg, "C"));
	agent_config_free(cfg);
	free(text);
}

static void test_defaults(void **state)
{
	struct agent_config *cfg = parse_ok("");

	(void)state;
	assert_string_equal(cfg->data_dir, "/var/lib/upkeep");
	assert_string_equal(cfg->key_path, "/var/lib/upkeep/device.key");
	assert_string_equal(cfg->image_root, "/etc/upkeep/image-root.json");
	assert_string_equal(cfg->director_root, "/etc/upkeep/director-root.json");
	assert_string_equal(cfg->cmdline, "/proc/cmdline");
	assert_string_equal(cfg->archive_dir, "/var/lib/upkeep/apps");
	assert_null(cfg->server_url);
	assert_null(cfg->hardware_id);
	assert_int_equal(cfg->poll_interval_s, 3600);
	assert_int_equal(cfg->health_timeout_s, 60);
	assert_int_equal(cfg->n_slots, 0);
	assert_int_equal(cfg->bootloader.type, BOOTLOADER_NONE);
	agent_config_free(cfg);

	/* Paths derived from data_dir follow it; backend defaults fill in. */
	cfg = parse_ok("[agent]\ndata_dir = /data/upk/\n[bootloader]\ntype = grub\n");
	assert_string_equal(cfg->key_path, "/data/upk/device.key");
	assert_string_equal(cfg->archive_dir, "/data/upk/apps");
	assert_string_equal(cfg->bootloader.grubenv, "/boot/grub/grubenv");
	agent_config_free(cfg);
	cfg = parse_ok("[bootloader]\r\ntype = uboot\r\n"); /* CRLF */
	assert_string_equal(cfg->bootloader.fw_env_config, "/etc/fw_env.config");
	assert_int_equal(cfg->bootloader.bootlimit, 1);
	assert_null(cfg->bootloader.default_env);
	agent_config_free(cfg);
}

static void test_units(void **state)
{
	struct agent_config *cfg;

	(void)state;
	cfg = parse_ok("[agent]\npoll_interval = 90\n[health]\ntimeout=2h\n"
	               "[archive]\nmax_size = 512M\nmax_entries=7\n");
	assert_int_equal(cfg->poll_interval_s, 90);
	assert_int_equal(cfg->health_timeout_s, 7200);
	assert_int_equal(cfg->archive_max_bytes, 512ull << 20);
	assert_int_equal(cfg->archive_max_entries, 7);
	agent_config_free(cfg);
	cfg = parse_ok("  [slot.a]  \n\tdevice=/x\n size = 1T\n[slot.b-2]\ndevice = /y\n"
	               "[bootloader]\ntype=script\ncommand=/bin/true\ntimeout=2m\n");
	assert_int_equal(cfg->slots[0].size, 1ull << 40);
	assert_string_equal(cfg->slots[1].name, "b-2");
	assert_int_equal(cfg->bootloader.timeout_s, 120);
	agent_config_free(cfg);
}

static void test_errors_have_line_numbers(void **state)
{
	(void)state;
	parse_bad("[agent]\n\nfoo = 1\n", UPK_ERR_INVALID,
	          "t.conf:3: unknown key \"foo\" in [agent]");
	parse_bad("# c\n[agnet]\n", UPK_ERR_INVALID, "t.conf:2: unknown section [agnet]");
	parse_bad("[agent]\nserver = https://a\nserver = https://b\n", UPK_ERR_INVALID,
	          "t.conf:3: key \"server\" repeated (first set on line 2)");
	parse_bad("[agent]\n[agent]\n", UPK_ERR_INVALID, "t.conf:2: section [agent] repeated");
	parse_bad("data_dir = /x\n", UPK_ERR_INVALID,
	          "t.conf:1: key \"data_dir\" before any [section]");
	parse_bad("[agent]\ndata_dir = var/lib\n", UPK_ERR_INVALID,
	          "t.conf:2: data_dir: \"var/lib\" is not an absolute path");
	parse_bad("[agent]\npoll_interval = 60  # a minute\n", UPK_ERR_INVALID,
	          "t.conf:2: poll_interval: \"60  # a minute\" is not a duration");
	parse_bad("[agent]\npoll_interval = 5\n", UPK_ERR_INVALID,
	          "t.conf:2: poll_interval: 5 is outside 10 to 604800 seconds");
	parse_bad("[agent]\npoll_interval = 99999999999999999999999\n", UPK_ERR_INVALID,
	          "t.conf:2: poll_interval");
	parse_bad("[agent]\nserver = ftp://x\n", UPK_ERR_INVALID, "t.conf:2: server:");
	parse_bad("[agent]\nhardware_id = a b\n", UPK_ERR_INVALID, "t.conf:2: hardware_id:");
	parse_bad("[agent]\nkey =\n", UPK_ERR_INVALID, "t.conf:2: key \"key\" has no value");
	parse_bad("[agent]\njust words\n", UPK_ERR_INVALID, "t.conf:2: expected \"key = value\"");
	parse_bad("[agent\n", UPK_ERR_INVALID, "t.conf:1: malformed section header");
	parse_bad("[slot.]\n", UPK_ERR_INVALID, "t.conf:1: section [slot.]");
	parse_bad("[slot.A]\ndevice=/a\n", UPK_ERR_INVALID, "t.conf:1: [slot.A] has no partner");
	parse_bad("[slot.A]\n[slot.B]\ndevice=/b\n", UPK_ERR_INVALID,
	          "t.conf:1: [slot.A] has no device");
	parse_bad("[slot.A]\ndevice=/a\n[slot.A]\n", UPK_ERR_INVALID,
	          "t.conf:3: section [slot.A] repeated");
	parse_bad("[slot.A]\ndevice=/a\n[slot.B]\ndevice=/b\n[slot.C]\n", UPK_ERR_INVALID,
	          "t.conf:5: section [slot.C]: more than 2 slots");
	parse_bad("[slot.A]\ndevice=/a\n[slot.B]\ndevice=/a\n", UPK_ERR_INVALID,
	          "share the device /a");
	parse_bad("[slot.A]\ndevice=/a\n[slot.B]\ndevice=/b\n", UPK_ERR_INVALID,
	          "no [bootloader] to switch them");
	parse_bad("[slot.A]\ndevice=/a\nsize=100\n", UPK_ERR_INVALID,
	          "t.conf:3: size: 100 is less than 512");
	parse_bad("[bootloader]\ntype = lilo\n", UPK_ERR_INVALID,
	          "t.conf:2: type: unknown bootloader \"lilo\"");
	parse_bad("[bootloader]\nbootlimit = 3\n", UPK_ERR_INVALID,
	          "t.conf:1: [bootloader] has no type");
	parse_bad("[bootloader]\ntype = uboot\n\ngrubenv = /g\n", UPK_ERR_INVALID,
	          "t.conf:4: key \"grubenv\" does not apply to bootloader type \"uboot\"");
	parse_bad("[bootloader]\ntype = script\n", UPK_ERR_INVALID, "needs a command");
	parse_bad("[bootloader]\ntype = uboot\nbootlimit = 0\n", UPK_ERR_INVALID,
	          "t.conf:3: bootlimit: 0 is outside 1 to 100");
	parse_bad("[module.x]\ntimeout = 5\n", UPK_ERR_INVALID,
	          "t.conf:1: [module.x] has no handler");
	parse_bad("[module.x]\nhandler = /h\n[module.x]\n", UPK_ERR_INVALID,
	          "t.conf:3: section [module.x] repeated");
	parse_bad("[attributes]\nregion = eu\nregion = us\n", UPK_ERR_INVALID,
	          "t.conf:3: attribute \"region\" repeated");
	parse_bad("[attributes]\nbad/name = x\n", UPK_ERR_INVALID, "t.conf:2: malformed key");
	parse_bad("[agent]\ndata_dir = /a\x01\n", UPK_ERR_INVALID, "t.conf:2: control character");
	parse_bad("[agent]\ndata_dir = /\xc3\x28\n", UPK_ERR_INVALID, "invalid UTF-8");
	parse_bad("[health]\ncommand = true\n[agent]\nfoo=1\n", UPK_ERR_INVALID,
	          "(known: data_dir, private_dir, key, server, hardware_id, poll_interval, cmdline, reboot, pre_install)");
}

static void test_limits(void **state)
{
	char *big;
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	(void)state;
	big = malloc(AGENT_CONFIG_MAX_BYTES + 2);
	memset(big, '#', AGENT_CONFIG_MAX_BYTES + 1);
	big[AGENT_CONFIG_MAX_BYTES + 1] = '\0';
	assert_int_equal(agent_config_parse(big, AGENT_CONFIG_MAX_BYTES + 1, "t.conf", &cfg, &err),
	                 UPK_ERR_TOO_LARGE);
	big[AGENT_CONFIG_MAX_LINE + 1] = '\0';
	assert_int_equal(agent_config_parse(big, AGENT_CONFIG_MAX_LINE + 1, "t.conf", &cfg, &err),
	                 UPK_ERR_TOO_LARGE);
	assert_non_null(strstr(err.msg, "t.conf:1: line longer than"));
	/* NUL in the text is a control character, not the end. */
	assert_int_equal(agent_config_parse("[agent]\0x", 9, "t.conf", &cfg, &err),
	                 UPK_ERR_INVALID);
	free(big);
}

static void test_load_file(void **state)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	struct agent_config *cfg = NULL;
	struct upk_error err = {0};

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(agent_config_load(path, &cfg, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "missing.conf"));
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	tu_write_file(path, "[agent]\nfoo=1\n", 14);
	assert_int_equal(agent_config_load(path, &cfg, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "a.conf:2: unknown key"));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_parses), cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_units),          cmocka_unit_test(test_errors_have_line_numbers),
	    cmocka_unit_test(test_limits),         cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
