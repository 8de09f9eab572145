/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ownership with the real binaries on 127.0.0.1: two upkeep-server
 * instances serve the same owner's fleet (its roots name both servers' online
 * keys). The real upkeepd refuses a config target with an unknown member and
 * ones naming an unreachable or a wrong server (probe), moves to server 2 with
 * a good one (reporting success to server 1 first), installs a release
 * assigned by server 2, then follows a root carrying a transfer record that
 * lists it: the private data is wiped and the event becomes a device.event
 * audit row on the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tu_agent.h"
#include "tu_fleet.h"
#include "upkeep/crypto.h"
#include "upkeep/metadata.h"

#define TRANSFER_ID "0123456789abcdef0123456789abcdef"

static char *tmp;
static char work[4200];
static struct upk_key *creator;
static pid_t srv_pid[2];
static unsigned srv_port[2];
static char devid[80];

/* Server k in tmp/sK, trusting the same creator key. */
static void spawn_server(int k)
{
	char sub[4200], *pub;

	snprintf(sub, sizeof(sub), "%s/s%d", tmp, k);
	mkdir(sub, 0700);
	pub = tu_read_file(tu_path(tmp, "creator.pub"), NULL);
	assert_non_null(pub);
	tu_write_file(tu_path(sub, "creator.pub"), pub, strlen(pub));
	free(pub);
	srv_pid[k] = tf_spawn_server(sub, &srv_port[k]);
}

/* A key set on server k; its public keys as PREFIX_NAME.pub in work. Returns the id. */
static char *keyset(int k, const char *prefix)
{
	json_t *ks = tu_srv_expect(srv_port[k], "POST", "/v1/keysets", creator, NULL, 201), *v;
	const char *name;
	char *id;

	json_object_foreach(json_object_get(ks, "keys"), name, v)
	{
		char path[4400];
		const char *pem = json_string_value(json_object_get(v, "pem"));

		snprintf(path, sizeof(path), "%s/%s_%s.pub", work, prefix, name);
		tu_write_file(path, pem, strlen(pem));
	}
	id = strdup(json_string_value(json_object_get(ks, "keyset")));
	json_decref(ks);
	return id;
}

static void create_fleet(int k, const char *name, const char *ks, const char *img,
                         const char *dir)
{
	char p[4400], *text;
	json_t *ir, *dr, *body;

	snprintf(p, sizeof(p), "%s/%s/staged/root.json", work, img);
	ir = json_load_file(p, 0, NULL);
	snprintf(p, sizeof(p), "%s/%s/staged/root.json", work, dir);
	dr = json_load_file(p, 0, NULL);
	assert_non_null(ir);
	assert_non_null(dr);
	body = json_pack("{s:s,s:s,s:o,s:o}", "name", name, "keyset", ks, "image_root", ir,
	                 "director_root", dr);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(tu_srv_expect(srv_port[k], "POST", "/v1/fleets", creator, text, 201));
	free(text);
	json_decref(body);
}

/* Upload the owner's signed image targets and every payload to fleet on server k. */
static void upload(int k, const char *fleet, const char *img, const char *const *paths,
                   size_t n)
{
	char api[512], p[4400], *text;

	snprintf(api, sizeof(api), "/v1/fleets/%s/image/metadata/targets", fleet);
	snprintf(p, sizeof(p), "%s/staged/targets.json", img);
	text = tf_text(work, p);
	json_decref(tu_srv_expect(srv_port[k], "PUT", api, creator, text, 200));
	free(text);
	for (size_t i = 0; i < n; i++) {
		snprintf(api, sizeof(api), "/v1/fleets/%s/image/targets/%s", fleet, paths[i]);
		snprintf(p, sizeof(p), "%s/targets/%s", img, paths[i]);
		text = tf_text(work, p);
		json_decref(tu_srv_expect(srv_port[k], "PUT", api, creator, text, 200));
		free(text);
	}
}

static const char *const PATHS[] = {"config/bad.json", "config/nowhere.json",
                                    "config/wrong.json", "config/move.json",
                                    "modules/echo/app-2.bin"};

static int setup(void **state)
{
	struct upk_error e = {0};
	char pub[4200], cmd[8192], *ksa, *ksb, *ksm;

	(void)state;
	tmp = tu_mkdtemp();
	snprintf(work, sizeof(work), "%s/work", tmp);
	mkdir(work, 0700);
	snprintf(pub, sizeof(pub), "%s/creator.pub", tmp);
	assert_int_equal(upk_key_generate_ed25519(&creator, &e), UPK_OK);
	assert_int_equal(upk_keyfile_write_public(pub, creator, &e), UPK_OK);
	spawn_server(0);
	spawn_server(1);
	ksa = keyset(0, "a");
	ksb = keyset(1, "b");
	ksm = keyset(1, "m");
	/* The owner's repositories trust the online keys of both servers (threshold 1). */
	snprintf(cmd, sizeof(cmd),
	         "U=%s/cli/upkeep && for k in r1 t1 d1 m1 mt1 md1; do $U key generate $k "
	         "--no-passphrase; done && "
	         "$U repo init img --root-key r1.pub --targets-key t1.pub "
	         "--snapshot-key a_image_snapshot.pub --snapshot-key b_image_snapshot.pub "
	         "--timestamp-key a_image_timestamp.pub --timestamp-key b_image_timestamp.pub && "
	         "$U sign img root --key r1.key && "
	         "$U repo init dir --root-key d1.pub "
	         "--targets-key a_director_targets.pub --targets-key b_director_targets.pub "
	         "--snapshot-key a_director_snapshot.pub --snapshot-key b_director_snapshot.pub "
	         "--timestamp-key a_director_timestamp.pub --timestamp-key b_director_timestamp.pub "
	         "&& $U sign dir root --key d1.key && "
	         /* Someone else's fleet on server 2: its repositories are not the owner's. */
	         "$U repo init mimg --root-key m1.pub --targets-key mt1.pub "
	         "--snapshot-key m_image_snapshot.pub --timestamp-key m_image_timestamp.pub && "
	         "$U sign mimg root --key m1.key && "
	         "$U repo init mdir --root-key md1.pub --targets-key m_director_targets.pub "
	         "--snapshot-key m_director_snapshot.pub --timestamp-key m_director_timestamp.pub "
	         "&& $U sign mdir root --key md1.key && "
	         "printf '{\"upkeep_config\":1,\"colour\":\"red\"}' > bad.json && "
	         "printf '{\"upkeep_config\":1,\"server\":\"http://127.0.0.1:1/v1/fleets/acme\"}' "
	         "> nowhere.json && "
	         "printf '{\"upkeep_config\":1,\"server\":\"http://127.0.0.1:%u/v1/fleets/mallory\"}' "
	         "> wrong.json && "
	         "printf '{\"upkeep_config\":1,\"server\":\"http://127.0.0.1:%u/v1/fleets/acme\","
	         "\"factory_reset\":\"deny\",\"poll_interval\":\"10m\"}' > move.json && "
	         "printf 'release two' > app.bin && "
	         "$U target add img bad.json --path config/bad.json --type config --version 1 "
	         "--hardware hw-a && "
	         "$U target add img nowhere.json --path config/nowhere.json --type config "
	         "--version 2 --hardware hw-a && "
	         "$U target add img wrong.json --path config/wrong.json --type config --version 3 "
	         "--hardware hw-a && "
	         "$U target add img move.json --path config/move.json --type config --version 4 "
	         "--hardware hw-a && "
	         "$U target add img app.bin --path modules/echo/app-2.bin --type module --version "
	         "2.0 --hardware hw-a && "
	         "$U sign img targets --key t1.key",
	         tf_build_dir(), srv_port[1], srv_port[1]);
	tf_run(work, cmd);
	create_fleet(0, "acme", ksa, "img", "dir");
	create_fleet(1, "acme", ksb, "img", "dir");
	create_fleet(1, "mallory", ksm, "mimg", "mdir");
	upload(0, "acme", "img", PATHS, 5);
	upload(1, "acme", "img", PATHS, 5);
	free(ksa);
	free(ksb);
	free(ksm);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++)
		tf_stop_server(srv_pid[k]);
	upk_key_free(creator);
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static int agent(char *out, size_t cap, const char *args)
{
	return tu_capture(out, cap, "%s --config %s/agent.conf %s 2>&1", tu_agent_bin("upkeepd"), tmp,
	                  args);
}

static json_t *state_get(const char *key)
{
	json_t *s = json_load_file(tu_path(tmp, "dev/state.json"), 0, NULL), *v;

	assert_non_null(s);
	v = json_object_get(s, key);
	json_incref(v);
	json_decref(s);
	return v;
}

static void assign(int k, const char *fleet, const char *target)
{
	char api[512], body[512];

	snprintf(api, sizeof(api), "/v1/fleets/%s/devices/%s/assignment", fleet, devid);
	snprintf(body, sizeof(body), "{\"target\":\"%s\"}", target);
	json_decref(tu_srv_expect(srv_port[k], "PUT", api, creator, body, 200));
}

static void preauth(int k, const char *fleet)
{
	char api[512], body[512];

	snprintf(api, sizeof(api), "/v1/fleets/%s/preauth", fleet);
	snprintf(body, sizeof(body), "{\"devices\":[{\"id\":\"%s\"}]}", devid);
	json_decref(tu_srv_expect(srv_port[k], "POST", api, creator, body, 200));
}

/* The state server 1 records for the device's deployment of target. */
static const char *deployment_state(int k, const char *target)
{
	static char buf[64];
	char api[512];
	json_t *j, *d;
	size_t i;

	buf[0] = '\0';
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/deployments", devid);
	j = tu_srv_expect(srv_port[k], "GET", api, creator, NULL, 200);
	json_array_foreach(json_object_get(j, "deployments"), i, d)
	{
		const char *t = json_string_value(json_object_get(d, "target"));

		if (t == NULL)
			t = json_string_value(json_object_get(d, "target_path"));
		if (t != NULL && strcmp(t, target) == 0)
			snprintf(buf, sizeof(buf), "%s",
			         json_string_value(json_object_get(d, "state")));
	}
	json_decref(j);
	return buf;
}

/* Check once and expect the config target to have failed with reason containing want. */
static void expect_config_failure(const char *want)
{
	char out[8192];
	json_t *last, *server;

	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: failed") == NULL)
		fail_msg("check: %s", out);
	last = state_get("last");
	if (json_string_value(json_object_get(last, "reason")) == NULL ||
	    strstr(json_string_value(json_object_get(last, "reason")), want) == NULL)
		fail_msg("reason lacks \"%s\": %s", want,
		         json_string_value(json_object_get(last, "reason")));
	json_decref(last);
	server = state_get("server");
	assert_null(server);
	assert_null(state_get("config"));
}

/* Image root v2 on server k: v1 plus a transfer record listing this device, signed by r1. */
static void upload_transfer_root(int k)
{
	struct upk_error e = {0};
	struct upk_metadata *md = NULL;
	struct upk_key *r1 = NULL;
	char p[4400], *text = NULL, *old;
	size_t len = 0;
	json_t *rec;

	old = tf_text(work, "img/staged/root.json");
	assert_int_equal(upk_metadata_parse(old, strlen(old), UPK_ROLE_ROOT, NULL, &md, &e),
	                 UPK_OK);
	free(old);
	rec = json_pack("{s:s,s:s,s:s,s:[s]}", "id", TRANSFER_ID, "from_fleet", "acme", "to_fleet",
	                "buyer", "devices", devid);
	/* An unknown member of "signed"; set_version below drops the old signatures. */
	json_object_set_new((json_t *)upk_metadata_signed(md), "upkeep_transfer", rec);
	assert_int_equal(upk_metadata_set_version(md, 2, &e), UPK_OK);
	snprintf(p, sizeof(p), "%s/r1.key", work);
	assert_int_equal(upk_keyfile_read(p, NULL, &r1, &e), UPK_OK);
	assert_int_equal(upk_metadata_sign(md, r1, &e), UPK_OK);
	assert_int_equal(upk_metadata_serialize(md, 0, &text, &len, &e), UPK_OK);
	json_decref(tu_srv_expect(srv_port[k], "PUT", "/v1/fleets/acme/image/metadata/root", creator,
	                          text, 200));
	free(text);
	upk_key_free(r1);
	upk_metadata_free(md);
}

static void test_config_move_release_and_transfer(void **state)
{
	char text[8192], out[8192], api[512], url_b[256];
	json_t *j, *c, *e;
	size_t i;
	int seen = 0;

	(void)state;
	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/dev\nhardware_id = hw-a\ncmdline = %s/cmdline\n"
	         "server = http://127.0.0.1:%u/v1/fleets/acme\n"
	         "[trust]\nimage_root = %s/img/staged/root.json\n"
	         "director_root = %s/dir/staged/root.json\n"
	         "[module.echo]\nhandler = %s/handler.sh\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n",
	         tmp, tmp, srv_port[0], work, work, tmp, tmp);
	tu_write_file(tu_path(tmp, "agent.conf"), text, strlen(text));
	tu_write_file(tu_path(tmp, "cmdline"), "console=ttyS0\n", 14);
	snprintf(text, sizeof(text),
	         "#!/bin/sh\ncase \"$1\" in\ndownload) cat > \"$UPKEEP_WORKDIR/p\" ;;\n"
	         "install) cp \"$UPKEEP_WORKDIR/p\" %s/installed-app ;;\nesac\n",
	         tmp);
	tu_write_file(tu_path(tmp, "handler.sh"), text, strlen(text));
	chmod(tu_path(tmp, "handler.sh"), 0755);
	assert_int_equal(tu_system("grub-editenv %s/grubenv create", tmp), 0);
	snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u/v1/fleets/acme", srv_port[1]);

	/* The device, pre-authorised on both servers and in mallory's fleet. */
	/* The first call generates the key (and says so on stderr); the second only prints the id. */
	assert_int_equal(agent(devid, sizeof(devid), "identity"), 0);
	assert_int_equal(agent(devid, sizeof(devid), "identity"), 0);
	devid[strcspn(devid, "\n")] = '\0';
	preauth(0, "acme");
	preauth(1, "acme");
	preauth(1, "mallory");
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	assert_non_null(strstr(out, "check: idle"));
	/* The seller's data in the owner-private area (made by the daemon at start). */
	tu_write_file(tu_path(tmp, "dev/private/secret"), "owner data", 10);

	/* Refused: a member this agent does not know. */
	assign(0, "acme", "config/bad.json");
	expect_config_failure("unknown member \"colour\"");
	assert_string_equal(deployment_state(0, "config/bad.json"), "failure");
	/* Refused by the probe: nobody listens there. */
	assign(0, "acme", "config/nowhere.json");
	expect_config_failure("probing server http://127.0.0.1:1/v1/fleets/acme");
	/* Refused by the probe: that fleet does not serve the owner's repositories. */
	assign(0, "acme", "config/wrong.json");
	expect_config_failure("/v1/fleets/mallory");
	j = state_get("last");
	assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "signature"));
	json_decref(j);

	/* A good move: probed, applied, success reported to server 1, then server 2 is used. */
	assign(0, "acme", "config/move.json");
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: done") == NULL)
		fail_msg("move: %s", out);
	j = state_get("server");
	assert_string_equal(json_string_value(j), url_b);
	json_decref(j);
	c = state_get("config");
	assert_string_equal(json_string_value(json_object_get(c, "factory_reset")), "deny");
	assert_string_equal(json_string_value(json_object_get(c, "server")), url_b);
	assert_int_equal(json_integer_value(json_object_get(c, "poll_interval")), 600);
	json_decref(c);
	assert_string_equal(deployment_state(0, "config/move.json"), "success");

	/* Server 2 assigns a release: the device checks in there and installs it. */
	assign(1, "acme", "modules/echo/app-2.bin");
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	if (strstr(out, "check: done") == NULL)
		fail_msg("release from server 2: %s", out);
	{
		char *got = tu_read_file(tu_path(tmp, "installed-app"), NULL);

		assert_non_null(got);
		assert_string_equal(got, "release two");
		free(got);
	}
	assert_string_equal(deployment_state(1, "modules/echo/app-2.bin"), "success");
	assert_int_equal(agent(out, sizeof(out), "status"), 0);
	assert_non_null(strstr(out, url_b));
	assert_non_null(strstr(out, "config:      config/move.json 4 (factory reset deny"));

	/* A root with a transfer record naming this device: followed, private data wiped. */
	upload_transfer_root(1);
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	assert_int_equal(access(tu_path(tmp, "dev/private/secret"), F_OK), -1);
	assert_int_equal(access(tu_path(tmp, "dev/private"), F_OK), 0);
	j = state_get("owner");
	assert_string_equal(json_string_value(json_object_get(j, "transfer")), TRANSFER_ID);
	json_decref(j);
	assert_int_equal(agent(out, sizeof(out), "status"), 0);
	assert_non_null(strstr(out, "event:       private-data-wiped (transfer " TRANSFER_ID));
	/* The next check-in delivers the event: an audit row on server 2, and it leaves the queue. */
	assert_int_equal(agent(out, sizeof(out), "check"), 0);
	assert_null(state_get("events"));
	snprintf(api, sizeof(api), "/v1/fleets/acme/audit?device=%s&limit=1000", devid);
	j = tu_srv_expect(srv_port[1], "GET", api, creator, NULL, 200);
	json_array_foreach(json_object_get(j, "entries"), i, e)
	{
		const json_t *d = json_object_get(e, "detail");

		if (strcmp(json_string_value(json_object_get(e, "action")), "device.event") == 0 &&
		    strcmp(json_string_value(json_object_get(d, "transfer")), TRANSFER_ID) == 0 &&
		    strcmp(json_string_value(json_object_get(d, "reason")), "transfer") == 0)
			seen++;
	}
	json_decref(j);
	assert_int_equal(seen, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config_move_release_and_transfer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
