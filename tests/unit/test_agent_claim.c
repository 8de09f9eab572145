/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Physical-presence reset and claim with the real upkeepd, the real
 * upkeep-server and the real `upkeep` tool on 127.0.0.1: a device of fleet
 * acme is reset (owner data wiped, trust forgotten, a code shown), refuses a
 * claim made with a wrong code and one forged in the server's database,
 * takes the claim made with its code by fleet bob, trusts bob's roots,
 * enrols accepted there and installs a release bob signed; the code works
 * once. The owner's config can deny the reset; root only; not during an
 * update; a crash at any point of the reset recovers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_agent.h"
#include "tu_fleet.h"
#include "upkeep/claim.h"
#include "upkeep/crypto.h"

static const struct tf_target ACME_TARGETS[] = {
    {"images/fw-2.0.img", "2.0", 2, NULL},
};
static const struct tf_target BOB_TARGETS[] = {
    {"images/fw-3.0.img", "3.0", 3, NULL},
};

static char *tmp;
static struct upk_key *creator;
static pid_t server;
static unsigned port;
static struct tfleet acme, bob;
static char dev_dir[4200];

/* Run upkeepd with args (stdout and stderr into out); its exit status. */
static int agent(char *out, size_t cap, const char *args)
{
	return tu_capture(out, cap, "%s --config %s/agent.conf %s 2>&1", tu_agent_bin("upkeepd"), tmp,
	                  args);
}

/* The owner tool as the fleets' admin. */
static int owner_cli(char *out, size_t cap, const char *args)
{
	return tu_capture(out, cap,
	                  "UPKEEP_SERVER=http://127.0.0.1:%u UPKEEP_KEY=%s/creator.key %s/cli/upkeep "
	                  "%s 2>&1",
	                  port, tmp, tf_build_dir(), args);
}

static json_t *state(void)
{
	json_t *s = json_load_file(tu_path(dev_dir, "state.json"), 0, NULL);

	assert_non_null(s);
	return s;
}

/* Change the state file the way the agent's other code would (value stolen; NULL deletes). */
static void state_set(const char *key, json_t *value)
{
	json_t *s = state();

	if (value != NULL)
		json_object_set_new(s, key, value);
	else
		json_object_del(s, key);
	assert_int_equal(json_dump_file(s, tu_path(dev_dir, "state.json"), JSON_COMPACT), 0);
	json_decref(s);
}

static const char *claim_status(const json_t *s)
{
	return json_string_value(json_object_get(json_object_get(s, "claim"), "status"));
}

/* A root version as the fleet serves it, saved to a file for `upkeep device claim`. */
static void fetch_root(const struct tfleet *f, const char *repo, const char *file)
{
	char api[512];
	struct tresp r;

	/* Director roots are fleet-wide, served under any device's path. */
	if (strcmp(repo, "image") == 0)
		snprintf(api, sizeof(api), "/v1/fleets/%s/image/metadata/1.root.json", f->name);
	else
		snprintf(api, sizeof(api), "/v1/fleets/%s/director/%064d/metadata/1.root.json",
		         f->name, 0);
	assert_int_equal(tu_srv_call(port, "GET", api, NULL, NULL, &r), 200);
	tu_write_file(file, r.body, r.len);
	tresp_clear(&r);
}

static void write_config(const char *server_fleet)
{
	char text[8192];

	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s\nhardware_id = hw-a\ncmdline = %s/cmdline\n"
	         "server = http://127.0.0.1:%u/v1/fleets/%s\nreboot = touch %s/rebooted\n"
	         "[trust]\nimage_root = %s/img/staged/root.json\n"
	         "director_root = %s/dir/staged/root.json\n"
	         "[slot.A]\ndevice = %s/slotA\n[slot.B]\ndevice = %s/slotB\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n"
	         "[health]\ncommand = true\n",
	         dev_dir, tmp, port, server_fleet, tmp, acme.dir, acme.dir, tmp, tmp, tmp);
	tu_write_file(tu_path(tmp, "agent.conf"), text, strlen(text));
}

static int setup(void **state_)
{
	char work[4200], out[4096];

	(void)state_;
	tmp = tu_mkdtemp();
	if (tu_system("cd %s && %s/cli/upkeep key generate creator --no-passphrase >/dev/null && "
	              "grub-editenv grubenv create && grub-editenv grubenv set upkeep_default=A && "
	              "truncate -s 64K slotA slotB && "
	              "printf 'console=ttyS0 upkeep.slot=A\\n' > cmdline",
	              tmp, tf_build_dir()) != 0)
		fail_msg("setup commands failed");
	{
		struct upk_error e = {0};

		assert_int_equal(upk_keyfile_read(tu_path(tmp, "creator.key"), NULL, &creator, &e),
		                 UPK_OK);
	}
	server = tf_spawn_server(tmp, &port);
	snprintf(work, sizeof(work), "%s/work", tmp);
	mkdir(work, 0700);
	tf_create(&acme, port, work, "acme", creator, ACME_TARGETS, 1);
	tf_create(&bob, port, work, "bob", creator, BOB_TARGETS, 1);
	snprintf(dev_dir, sizeof(dev_dir), "%s/dev", tmp);
	write_config("acme");
	/* The device belongs to acme: enrolled, accepted, trusting acme's repositories. */
	if (agent(out, sizeof(out), "check") != 0)
		fail_msg("first check: %s", out);
	return 0;
}

static int teardown(void **state_)
{
	(void)state_;
	tf_stop_server(server);
	tf_free(&acme);
	tf_free(&bob);
	upk_key_free(creator);
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static void device_id(char id[80])
{
	assert_int_equal(agent(id, 80, "identity"), 0);
	id[strcspn(id, "\n")] = '\0';
}

/* Accept the device in acme and run a check, so it trusts acme's repositories. */
static void belong_to_acme(const char *id)
{
	char api[512], out[4096];

	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/accept", id);
	json_decref(tu_srv_expect(port, "POST", api, creator, NULL, 200));
	if (agent(out, sizeof(out), "check") != 0)
		fail_msg("check in acme: %s", out);
	assert_int_equal(access(tu_path(dev_dir, "metadata/image/root.json"), F_OK), 0);
}

static void reset_ok(char code[32])
{
	char out[4096];
	json_t *j;

	if (agent(out, sizeof(out), "reset --factory --json") != 0)
		fail_msg("reset: %s", out);
	j = json_loads(out, 0, NULL);
	if (j == NULL)
		fail_msg("reset --json: %s", out);
	snprintf(code, 32, "%s", json_string_value(json_object_get(j, "claim_code")));
	assert_int_equal(strlen(code), UPK_CLAIM_CODE_DISPLAY_LEN);
	json_decref(j);
}

/* Change one character of a code so it is valid but wrong. */
static void wrong_code(const char *code, char out[32])
{
	snprintf(out, 32, "%s", code);
	out[0] = out[0] == '7' ? '8' : '7';
}

static void claim_with(const struct tfleet *f, const char *id, const char *code)
{
	char out[4096], args[4096];

	snprintf(args, sizeof(args),
	         "device claim %s --fleet %s --code %s --image-root %s/%s-image-1.root.json "
	         "--director-root %s/%s-director-1.root.json",
	         id, f->name, code, tmp, f->name, tmp, f->name);
	if (owner_cli(out, sizeof(out), args) != 0)
		fail_msg("upkeep device claim: %s", out);
	assert_non_null(strstr(out, "claimed for fleet"));
}

/* Put a claim straight into the server's database (the server is not trusted with codes). */
static void forge_claim_in_db(const char *fleet, const char *id)
{
	char sql[8192], mac[65], *ir, *dr;
	char ip[4200], dp[4200];
	sqlite3 *db = NULL;
	size_t il = 0, dl = 0;
	struct upk_error e = {0};

	snprintf(ip, sizeof(ip), "%s/%s-image-1.root.json", tmp, fleet);
	snprintf(dp, sizeof(dp), "%s/%s-director-1.root.json", tmp, fleet);
	ir = tu_read_file(ip, &il);
	dr = tu_read_file(dp, &dl);
	/* A MAC made with a code of the forger's choosing, not the device's. */
	assert_int_equal(upk_claim_mac("AAAAA-BBBBB-CCCCC-DDDDD", id, fleet, ir, il, dr, dl, mac, &e),
	                 UPK_OK);
	assert_int_equal(sqlite3_open(tu_path(tmp, "server.db"), &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	{
		sqlite3_stmt *st = NULL;

		snprintf(sql, sizeof(sql),
		         "INSERT OR REPLACE INTO claims (fleet_id, device_id, image_root, "
		         "director_root, mac, created_by, created_at) SELECT id, ?, ?, ?, ?, 'forger', "
		         "strftime('%%s','now') + 100 FROM fleets WHERE name = ?");
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ir, (int)il, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, dr, (int)dl, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, mac, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, fleet, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	free(ir);
	free(dr);
}

static long claims_in_db(const char *fleet)
{
	char out[256];

	assert_int_equal(tu_capture(out, sizeof(out),
	                            "sqlite3 %s/server.db \"SELECT COUNT(*) FROM claims c JOIN "
	                            "fleets f ON f.id = c.fleet_id WHERE f.name = '%s'\"",
	                            tmp, fleet),
	                 0);
	return strtol(out, NULL, 10);
}

static void test_reset_and_claim(void **state_)
{
	char id[80], code[32], bad[32], out[8192], api[512], *text;
	json_t *s, *j;

	(void)state_;
	device_id(id);
	belong_to_acme(id);
	fetch_root(&acme, "image", tu_path(tmp, "acme-image-1.root.json"));
	fetch_root(&acme, "director", tu_path(tmp, "acme-director-1.root.json"));
	fetch_root(&bob, "image", tu_path(tmp, "bob-image-1.root.json"));
	fetch_root(&bob, "director", tu_path(tmp, "bob-director-1.root.json"));

	/* Owner-private data planted by acme's software. */
	mkdir(tu_path(dev_dir, "private"), 0700);
	tu_write_file(tu_path(dev_dir, "private/acme-secret"), "acme data", 9);

	/* The reset: data wiped, trust and enrolment forgotten, a code shown. */
	reset_ok(code);
	assert_int_equal(access(tu_path(dev_dir, "private/acme-secret"), F_OK), -1);
	assert_int_equal(access(tu_path(dev_dir, "private"), F_OK), 0);
	assert_int_equal(access(tu_path(dev_dir, "metadata"), F_OK), -1);
	s = state();
	assert_string_equal(claim_status(s), "unclaimed");
	assert_null(json_object_get(s, "enrolment"));
	{
		json_t *ev = json_array_get(json_object_get(s, "events"), 0);

		assert_string_equal(json_string_value(json_object_get(ev, "kind")),
		                    "private-data-wiped");
		assert_string_equal(json_string_value(json_object_get(ev, "reason")),
		                    "factory-reset");
		assert_non_null(json_string_value(json_object_get(ev, "at")));
	}
	json_decref(s);
	{
		struct stat st;

		assert_int_equal(stat(tu_path(dev_dir, "claim-code"), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* The code again, and the claim state in status. */
	assert_int_equal(agent(out, sizeof(out), "claim-code"), 0);
	assert_non_null(strstr(out, code));
	assert_non_null(strstr(out, id));
	assert_int_equal(agent(out, sizeof(out), "status"), 0);
	assert_non_null(strstr(out, "claim:       unclaimed"));
	/* Unclaimed: no trust, so a mirror check is refused instead of trusting the factory roots. */
	assert_int_not_equal(agent(out, sizeof(out),
	                           "check --image-metadata http://127.0.0.1:1/ --director-metadata "
	                           "http://127.0.0.1:1/ --targets http://127.0.0.1:1/"),
	                     0);
	assert_non_null(strstr(out, "unclaimed"));
	/* No claim yet: the check asks, finds none, stays unclaimed (and does not enrol). */
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	s = state();
	assert_string_equal(claim_status(s), "unclaimed");
	assert_null(json_object_get(s, "enrolment"));
	json_decref(s);

	/* The owner tool checks what it can: a mistyped code, missing options. */
	{
		char args[4096];

		snprintf(args, sizeof(args),
		         "device claim %s --fleet bob --code 7K2QU-4TX9A-PB0ZR-H5WCD --image-root "
		         "%s/bob-image-1.root.json --director-root %s/bob-director-1.root.json",
		         id, tmp, tmp);
		assert_int_equal(owner_cli(out, sizeof(out), args), 1);
		assert_non_null(strstr(out, "not Crockford base32"));
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
		snprintf(args, sizeof(args), "device claim %s --fleet bob --code %s", id, code);
		assert_int_not_equal(owner_cli(out, sizeof(out), args), 0);
		assert_non_null(strstr(out, "--image-root"));
		assert_int_equal(owner_cli(out, sizeof(out), "device claim --help"), 0);
		assert_non_null(strstr(out, "--director-root"));
		assert_int_equal(claims_in_db("bob"), 0);
	}

	/* A claim with a wrong code: the server relays it, the device refuses it. */
	wrong_code(code, bad);
	claim_with(&bob, id, bad);
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "claim by fleet bob refused") == NULL)
		fail_msg("wrong code: %s", out);
	s = state();
	assert_string_equal(claim_status(s), "unclaimed");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_object_get(s, "claim"), "refused"), "fleet")),
	                    "bob");
	json_decref(s);
	assert_int_equal(access(tu_path(dev_dir, "metadata/image/root.json"), F_OK), -1);

	/* The old owner (or whoever holds the server) forges a claim in the database: refused. */
	forge_claim_in_db("acme", id);
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "claim by fleet acme refused") == NULL)
		fail_msg("forged claim: %s", out);
	s = state();
	assert_string_equal(claim_status(s), "unclaimed");
	json_decref(s);

	/* The right code: bob's roots are trusted, the device enrols there, accepted. */
	claim_with(&bob, id, code);
	assert_int_equal(claims_in_db("bob"), 1);
	if (agent(out, sizeof(out), "check") != 0 || strstr(out, "claimed by fleet bob") == NULL)
		fail_msg("claim: %s", out);
	s = state();
	assert_string_equal(claim_status(s), "claimed");
	{
		char want[256];

		snprintf(want, sizeof(want), "http://127.0.0.1:%u/v1/fleets/bob", port);
		assert_string_equal(json_string_value(json_object_get(s, "server")), want);
	}
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "enrolment"), "status")),
	    "accepted");
	json_decref(s);
	assert_int_equal(access(tu_path(dev_dir, "claim-code"), F_OK), -1);
	text = tu_read_file(tu_path(dev_dir, "metadata/image/root.json"), NULL);
	{
		char *want = tu_read_file(tu_path(tmp, "bob-image-1.root.json"), NULL);

		assert_string_equal(text, want);
		free(want);
	}
	free(text);
	assert_int_equal(claims_in_db("bob"), 0); /* consumed by the enrolment */
	snprintf(api, sizeof(api), "/v1/fleets/bob/devices/%s", id);
	j = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
	json_decref(j);
	assert_int_equal(agent(out, sizeof(out), "claim-code"), 1);
	assert_int_equal(agent(out, sizeof(out), "status --json"), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_non_null(strstr(json_string_value(json_object_get(j, "server")), "/v1/fleets/bob"));
	assert_string_equal(claim_status(j), "claimed");
	json_decref(j);

	/* Bob's release installs: signed by bob, verified from bob's roots. */
	snprintf(api, sizeof(api), "/v1/fleets/bob/devices/%s/assignment", id);
	json_decref(tu_srv_expect(port, "PUT", api, creator, "{\"target\":\"images/fw-3.0.img\"}",
	                          200));
	assert_int_equal(agent(out, sizeof(out), "check --no-reboot"), 0);
	if (strstr(out, "check: rebooting") == NULL)
		fail_msg("install: %s", out);
	assert_string_equal(tu_boot(tmp, "grub", tu_path(tmp, "grubenv")),
	                    "slot=B trial=1 fallback=0");
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: done") == NULL)
		fail_msg("commit: %s", out);
	s = state();
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "installed"), "image")), "3.0");
	json_decref(s);

	/* The code worked once: after the next reset only the new code claims the device. */
	{
		char code2[32];

		reset_ok(code2);
		assert_string_not_equal(code, code2);
		s = state();
		/* Installed software and anti-rollback counters stay; so does the server. */
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(s, "installed"), "image")),
		    "3.0");
		assert_int_equal(json_integer_value(json_object_get(
		                     json_object_get(s, "security_version"), "image")),
		                 3);
		assert_non_null(json_object_get(s, "server"));
		json_decref(s);
		claim_with(&bob, id, code);
		assert_int_equal(agent(out, sizeof(out), "check"), 0);
		if (strstr(out, "claim by fleet bob refused") == NULL)
			fail_msg("old code: %s", out);
		s = state();
		assert_string_equal(claim_status(s), "unclaimed");
		json_decref(s);
	}
}

static void test_reset_policy(void **state_)
{
	char out[4096], code[32];
	json_t *s, *before;

	(void)state_;
	tu_write_file(tu_path(dev_dir, "private/owner-data"), "x", 1);
	/* The owner's config target denies it (anti-theft): refused, nothing changes. */
	state_set("config", json_pack("{s:s, s:s, s:s, s:s}", "target", "config/anti-theft.json",
	                              "version", "4", "sha256", "00", "factory_reset", "deny"));
	before = state();
	assert_int_equal(agent(out, sizeof(out), "reset --factory"), 1);
	assert_non_null(strstr(out, "factory_reset = deny"));
	assert_non_null(strstr(out, "config/anti-theft.json"));
	assert_non_null(strstr(out, "version 4"));
	assert_int_equal(access(tu_path(dev_dir, "private/owner-data"), F_OK), 0);
	s = state();
	assert_true(json_equal(s, before));
	json_decref(s);
	json_decref(before);

	/* An update in progress: refused. */
	state_set("config", json_pack("{s:s, s:s, s:s, s:s}", "target", "config/c.json", "version",
	                              "5", "sha256", "00", "factory_reset", "allow"));
	state_set("update", json_pack("{s:s, s:s, s:s, s:s}", "type", "archive", "name", "web",
	                              "target", "apps/web/web-2.tar", "phase", "unpacked"));
	assert_int_equal(agent(out, sizeof(out), "reset --factory"), 1);
	assert_non_null(strstr(out, "update is in progress"));
	assert_int_equal(access(tu_path(dev_dir, "private/owner-data"), F_OK), 0);
	state_set("update", NULL);

	/* Not root: refused (physical presence). */
	if (tu_system("setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null") == 0) {
		assert_int_equal(tu_capture(out, sizeof(out),
		                            "setpriv --reuid=65534 --regid=65534 --clear-groups %s "
		                            "--config %s/agent.conf reset --factory 2>&1",
		                            tu_agent_bin("upkeepd"), tmp),
		                 1);
		assert_non_null(strstr(out, "must run as root"));
		assert_int_equal(access(tu_path(dev_dir, "private/owner-data"), F_OK), 0);
	} else {
		print_message("setpriv cannot drop root here: the non-root refusal is not tested\n");
	}

	/* The owner's config allows it: the reset runs and forgets that config. */
	reset_ok(code);
	assert_int_equal(access(tu_path(dev_dir, "private/owner-data"), F_OK), -1);
	s = state();
	assert_string_equal(claim_status(s), "unclaimed");
	assert_null(json_object_get(s, "config"));
	json_decref(s);
	/* Usage errors. */
	assert_int_equal(agent(out, sizeof(out), "reset"), 2);
	assert_int_equal(agent(out, sizeof(out), "reset --factory --bogus"), 2);
	assert_int_equal(agent(out, sizeof(out), "reset --help"), 0);
	assert_non_null(strstr(out, "--factory"));
}

/* One device state that belongs to an owner, written by hand (no server needed). */
static void owned_device(void)
{
	char text[4096];

	tu_rmtree(dev_dir);
	assert_int_equal(tu_system("mkdir -p %s/private %s/metadata/image %s/metadata/director",
	                           dev_dir, dev_dir, dev_dir),
	                 0);
	tu_write_file(tu_path(dev_dir, "private/secret"), "s", 1);
	tu_write_file(tu_path(dev_dir, "metadata/image/root.json"), "{}", 2);
	snprintf(text, sizeof(text),
	         "{\"format\":1,\"seq\":3,\"enrolment\":{\"status\":\"accepted\"},"
	         "\"installed\":{\"image\":\"2.0\"},\"security_version\":{\"image\":2},"
	         "\"outbox\":[{\"deployment\":\"7\",\"state\":\"success\"}]}");
	tu_write_file(tu_path(dev_dir, "state.json"), text, strlen(text));
}

/* After a crash: either nothing changed, or the next start finishes the reset. */
static void check_after_crash(int *finished_by_recovery)
{
	char out[4096];
	json_t *s = state();
	int started = json_object_get(s, "reset") != NULL || claim_status(s) != NULL;

	json_decref(s);
	if (!started) {
		assert_int_equal(access(tu_path(dev_dir, "private/secret"), F_OK), 0);
		assert_int_equal(access(tu_path(dev_dir, "metadata/image/root.json"), F_OK), 0);
		s = state();
		assert_non_null(json_object_get(s, "enrolment"));
		json_decref(s);
		return;
	}
	/* The next start (a check: its server is unreachable, recovery comes first). */
	(void)agent(out, sizeof(out), "check");
	s = state();
	assert_null(json_object_get(s, "reset"));
	assert_string_equal(claim_status(s), "unclaimed");
	assert_null(json_object_get(s, "enrolment"));
	assert_null(json_object_get(s, "outbox"));
	assert_int_equal(json_array_size(json_object_get(s, "events")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(s, "installed"), "image")), "2.0");
	json_decref(s);
	assert_int_equal(access(tu_path(dev_dir, "private/secret"), F_OK), -1);
	assert_int_equal(access(tu_path(dev_dir, "private"), F_OK), 0);
	assert_int_equal(access(tu_path(dev_dir, "private.wiping"), F_OK), -1);
	assert_int_equal(access(tu_path(dev_dir, "metadata"), F_OK), -1);
	assert_int_equal(agent(out, sizeof(out), "claim-code"), 0);
	assert_non_null(strstr(out, "claim code: "));
	(*finished_by_recovery)++;
}

static void test_reset_crash(void **state_)
{
	static const char *const ops[] = {"rename", "fsync", "unlink", "mkdir", "write"};
	char out[4096];
	int runs = 0, recovered = 0;

	(void)state_;
	write_config("acme");
	/* Nobody answers here: the recovery runs, the claim request then fails. */
	assert_int_equal(
	    tu_system("sed -i 's|^server = .*|server = http://127.0.0.1:1/v1/fleets/acme|' "
	              "%s/agent.conf",
	              tmp),
	    0);
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		for (int k = 0; k < 40; k++) {
			int rc;

			owned_device();
			rc = tu_capture(out, sizeof(out),
			                "UPKEEP_FAULT=%s:crash@%d %s --config %s/agent.conf reset "
			                "--factory 2>&1",
			                strcmp(ops[o], "write") == 0 ? "write" : ops[o],
			                strcmp(ops[o], "write") == 0 ? k * 64 : k,
			                tu_agent_bin("upkeepd"), tmp);
			runs++;
			if (rc == 0)
				break; /* the fault point lies beyond the reset: all of it was covered */
			check_after_crash(&recovered);
		}
	}
	print_message("reset crash test: %d runs, %d finished by the next start\n", runs,
	              recovered);
	assert_true(recovered >= 5);

	/* A claim committed just before a crash: the next start deletes the spent code. */
	owned_device();
	state_set("claim", json_pack("{s:s, s:s}", "status", "claimed", "fleet", "bob"));
	tu_write_file(tu_path(dev_dir, "claim-code"), "00000-00000-00000-00000\n", 24);
	(void)agent(out, sizeof(out), "check");
	assert_int_equal(access(tu_path(dev_dir, "claim-code"), F_OK), -1);
	/* An unclaimed device always has a code to show. */
	state_set("claim", json_pack("{s:s}", "status", "unclaimed"));
	(void)agent(out, sizeof(out), "check");
	assert_int_equal(agent(out, sizeof(out), "claim-code"), 0);
	assert_non_null(strstr(out, "claim code: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reset_and_claim),
	    cmocka_unit_test(test_reset_policy),
	    cmocka_unit_test(test_reset_crash),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
