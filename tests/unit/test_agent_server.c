/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real upkeepd against the real upkeep-server on 127.0.0.1: the device
 * enrols (pending), the owner accepts it and assigns a release over the
 * signed owner API, the agent installs it into a file slot, reboots through
 * the boot simulator, commits, and the server's device history shows the
 * deployment's success with the intermediate states reported on the way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_agent.h"
#include "tu_fleet.h"
#include "upkeep/crypto.h"

static const struct tf_target TARGETS[] = {
    {"images/fw-2.0.img", "2.0", 2, NULL},
};

static char *tmp;
static struct upk_key *creator;
static pid_t server;
static unsigned port;
static struct tfleet fleet;

static int setup(void **state)
{
	struct upk_error e = {0};
	char pub[4200], work[4200];

	(void)state;
	tmp = tu_mkdtemp();
	snprintf(pub, sizeof(pub), "%s/creator.pub", tmp);
	assert_int_equal(upk_key_generate_ed25519(&creator, &e), UPK_OK);
	assert_int_equal(upk_keyfile_write_public(pub, creator, &e), UPK_OK);
	server = tf_spawn_server(tmp, &port);
	snprintf(work, sizeof(work), "%s/work", tmp);
	mkdir(work, 0700);
	tf_create(&fleet, port, work, "acme", creator, TARGETS, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tf_stop_server(server);
	tf_free(&fleet);
	upk_key_free(creator);
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

/* Run upkeepd with args; its stdout into out. */
static int agent(char *out, size_t cap, const char *args)
{
	return tu_capture(out, cap, "%s --config %s/agent.conf %s 2>&1", tu_agent_bin("upkeepd"), tmp,
	                  args);
}

/* `upkeepd daemon` runs a cycle, then stops within seconds of SIGTERM with status 0. */
static void daemon_stops_on_sigterm(int expect_failure)
{
	char log[4200], *text;
	pid_t pid;
	int st = 0, waited = 0;

	snprintf(log, sizeof(log), "%s/daemon.log", tmp);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char conf[4200];

		if (freopen(log, "w", stderr) == NULL)
			_exit(99);
		snprintf(conf, sizeof(conf), "%s/agent.conf", tmp);
		execl(tu_agent_bin("upkeepd"), "upkeepd", "--config", conf, "daemon", (char *)NULL);
		_exit(98);
	}
	usleep(1500 * 1000);
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, WNOHANG) == 0 && waited < 100) {
		usleep(100 * 1000);
		waited++;
	}
	if (waited >= 100) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("daemon did not stop on SIGTERM");
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	text = tu_read_file(log, NULL);
	if (expect_failure && (text == NULL || strstr(text, "check failed (1 in a row)") == NULL))
		fail_msg("daemon log: %s", text ? text : "(none)");
	if (!expect_failure && text != NULL && strstr(text, "check failed") != NULL)
		fail_msg("daemon log: %s", text);
	free(text);
}

static void test_enrol_assign_install_report(void **state)
{
	char text[8192], api[512], out[4096], id[80];
	json_t *j, *deps, *d;
	const char *states;
	size_t i;

	(void)state;
	if (tu_system("cd %s && grub-editenv grubenv create && grub-editenv grubenv set "
	              "upkeep_default=A && truncate -s 64K slotA slotB && "
	              "printf 'console=ttyS0 upkeep.slot=A\\n' > cmdline",
	              tmp) != 0)
		fail_msg("grub-editenv");
	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/dev\nhardware_id = hw-a\ncmdline = %s/cmdline\n"
	         "server = http://127.0.0.1:%u/v1/fleets/acme\nreboot = touch %s/rebooted\n"
	         "[trust]\nimage_root = %s/img/staged/root.json\n"
	         "director_root = %s/dir/staged/root.json\n"
	         "[attributes]\nsite = berlin\n"
	         "[slot.A]\ndevice = %s/slotA\n[slot.B]\ndevice = %s/slotB\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n"
	         "[health]\ncommand = true\n",
	         tmp, tmp, port, tmp, fleet.dir, fleet.dir, tmp, tmp, tmp);
	tu_write_file(tu_path(tmp, "agent.conf"), text, strlen(text));

	/* Enrol: pending until the owner accepts. */
	if (agent(out, sizeof(out), "check") != 0)
		fail_msg("first check: %s", out);
	assert_non_null(strstr(out, "check: idle"));
	assert_int_equal(agent(id, sizeof(id), "identity"), 0);
	id[strcspn(id, "\n")] = '\0';
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s", id);
	j = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	json_decref(j);
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/accept", id);
	json_decref(tu_srv_expect(port, "POST", api, creator, NULL, 200));

	/* Accepted, nothing assigned: a check-in records the inventory. */
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	assert_non_null(strstr(out, "check: idle"));
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/assignment", id);
	json_decref(tu_srv_expect(port, "PUT", api, creator, "{\"target\":\"images/fw-2.0.img\"}",
	                          200));

	/* Install, reboot through the simulator, commit. */
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: rebooting") == NULL)
		fail_msg("install: %s", out);
	assert_int_equal(access(tu_path(tmp, "rebooted"), F_OK), 0);
	assert_string_equal(tu_boot(tmp, "grub", tu_path(tmp, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: done") == NULL)
		fail_msg("commit: %s", out);
	assert_int_equal(agent(out, sizeof(out), "status --json"), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "installed"), "image")), "2.0");
	assert_int_equal(json_integer_value(json_object_get(j, "reports_queued")), 0);
	json_decref(j);
	/* One more check-in: inventory on the server. */
	assert_int_equal(agent(out, sizeof(out), "check"), 0);

	/* The server's history of this device: success, after the intermediate states. */
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/deployments", id);
	j = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	deps = json_object_get(j, "deployments");
	assert_true(json_array_size(deps) >= 1);
	d = json_array_get(deps, 0);
	assert_string_equal(json_string_value(json_object_get(d, "state")), "success");
	json_decref(j);
	snprintf(api, sizeof(api), "/v1/fleets/acme/audit?device=%s&limit=1000", id);
	j = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	states = NULL;
	text[0] = '\0';
	json_array_foreach(json_object_get(j, "entries"), i, d)
	{
		const char *action = json_string_value(json_object_get(d, "action"));
		char *detail = json_dumps(json_object_get(d, "detail"), JSON_COMPACT);

		if (action != NULL && strcmp(action, "deployment.status") == 0 && detail != NULL)
			strncat(text, detail, sizeof(text) - strlen(text) - 1);
		free(detail);
	}
	states = text;
	assert_non_null(strstr(states, "downloading"));
	assert_non_null(strstr(states, "rebooting"));
	assert_non_null(strstr(states, "success"));
	json_decref(j);
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s", id);
	j = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "installed"), "image")), "2.0");
	json_decref(j);
	daemon_stops_on_sigterm(0);
	/* A server that cannot be reached: the daemon backs off and still stops cleanly. */
	snprintf(text, sizeof(text), "sed -i 's|^server = .*|server = http://127.0.0.1:1/v1/fleets/acme|' %s/agent.conf", tmp);
	assert_int_equal(tu_system("%s", text), 0);
	daemon_stops_on_sigterm(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enrol_assign_install_report, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
