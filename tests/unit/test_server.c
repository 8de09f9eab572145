/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeep-server end to end on loopback with real SQLite files and real
 * signatures: repositories made with the `upkeep` owner tool, fleet creation,
 * validated uploads (and refusals), the TUF client verifying the served image
 * repository and a device's director metadata, enrolment/accept/check-in/
 * status, the isolation matrix, re-signing, restart, and the real binary's
 * --help, config errors and graceful SIGTERM. Plus unit tests of the config
 * parser, the replay cache, the request parsers and the store.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_srv.h"

/* Paths here are a temporary directory plus short names; truncation cannot happen. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "api_parse.h"
#include "config.h"
#include "replay.h"
#include "server.h"
#include "store.h"
#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"
#include "upkeep/json.h"
#include "upkeep/metadata.h"

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct upk_error e_ = {0};                                                         \
		upk_status s_ = (call);                                                            \
		if (s_ != UPK_OK)                                                                  \
			fail_msg("%s: %s (%s)", #call, e_.msg, upk_status_str(s_));                \
	} while (0)

static const char *build_dir(void)
{
	const char *b = getenv("UPK_BUILD_DIR");

	return b != NULL ? b : ".";
}

/* ---- config ---- */

static void test_config(void **state)
{
	struct server_config cfg;
	struct upk_error err = {0};
	const char *good = "# comment\n  port = 9000\nlog_level=debug\ncreator = "
			   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
			   "database = /tmp/x.db\ndata_dir=/tmp/d\n";

	(void)state;
	OK(config_init(&cfg, &e_));
	assert_int_equal(config_parse_text(&cfg, "good", good, strlen(good), &err), UPK_OK);
	assert_int_equal(cfg.port, 9000);
	assert_string_equal(cfg.log_level, "debug");
	assert_int_equal(cfg.n_creators, 1);
	assert_int_equal(config_validate(&cfg, &err), UPK_OK);
	assert_int_equal(config_parse_text(&cfg, "bad", "port = 1\n\nprot = 2\n", 20, &err),
			 UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "bad:3:"));
	assert_non_null(strstr(err.msg, "prot"));
	assert_int_equal(config_parse_text(&cfg, "bad", "port = 70000\n", 13, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(config_parse_text(&cfg, "bad", "just words\n", 11, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(config_set(&cfg, "threads", "0", &err), UPK_ERR_INVALID);
	assert_int_equal(config_set(&cfg, "log_level", "loud", &err), UPK_OK);
	assert_int_equal(config_validate(&cfg, &err), UPK_ERR_INVALID);
	config_free(&cfg);
}

/* ---- replay cache ---- */

static void test_replay(void **state)
{
	struct replay_cache *rc = NULL;
	struct upk_error err = {0};

	(void)state;
	OK(replay_new(3, 300, &rc, &e_));
	assert_int_equal(replay_check(rc, "k", "n1", 1000, 1000, &err), UPK_OK);
	assert_int_equal(replay_check(rc, "k", "n1", 1000, 1001, &err), UPK_ERR_EXISTS);
	assert_int_equal(replay_check(rc, "k2", "n1", 1000, 1001, &err), UPK_OK);
	assert_int_equal(replay_check(rc, "k", "n2", 1000, 1001, &err), UPK_OK);
	/* Full: refused, never evicted early. */
	assert_int_equal(replay_check(rc, "k", "n3", 1000, 1001, &err), UPK_ERR_TOO_LARGE);
	/* Past created + max_age the entries go, and the nonce may not come back in time. */
	assert_int_equal(replay_check(rc, "k", "n3", 1400, 1400, &err), UPK_OK);
	assert_int_equal(replay_count(rc), 1);
	replay_free(rc);
}

/* ---- request parsers ---- */

static void test_parsers(void **state)
{
	struct upk_error err = {0};
	struct checkin_req c;
	struct status_req s;
	struct tags_req t;
	struct preauth_req p;
	struct enrol_req en;
	const char *ci = "{\"installed\":{\"image\":\"1.2.3\"},\"free_space\":5,\"hardware_id\":\"hw\"}";

	(void)state;
	assert_int_equal(parse_checkin(ci, strlen(ci), &c, &err), UPK_OK);
	assert_int_equal(c.free_space, 5);
	checkin_req_clear(&c);
	assert_int_equal(parse_checkin("{\"installed\":{\"image\":\"v1\"}}", 27, &c, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(parse_checkin("{\"instaled\":{}}", 15, &c, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "instaled"));
	assert_int_equal(parse_checkin("{\"free_space\":-1}", 17, &c, &err), UPK_ERR_INVALID);
	{
		/* Device events: closed kinds and reasons, at most 16, each member checked. */
		static const char *const BAD[] = {
		    "{\"events\":{}}",
		    "{\"events\":[{\"kind\":\"exploded\",\"reason\":\"transfer\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":\"boredom\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":\"transfer\",\"at\":\"yesterday\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":\"transfer\",\"at\":\"2026-01-01T00:00:00Z\",\"x\":\"1\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":\"transfer\",\"transfer\":\"ABC\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":\"factory-reset\",\"transfer\":\"9f1c0d2e4b6a8c0e9f1c0d2e4b6a8c0e\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
		    "{\"events\":[{\"kind\":\"private-data-wiped\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
		    "{\"events\":[\"x\"]}",
		};
		const char *good = "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":"
		                   "\"transfer\",\"transfer\":\"9f1c0d2e4b6a8c0e9f1c0d2e4b6a8c0e\","
		                   "\"at\":\"2026-01-01T00:00:00Z\"}]}";
		char many[4096];
		size_t n = 0;

		for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
			if (parse_checkin(BAD[i], strlen(BAD[i]), &c, &err) != UPK_ERR_INVALID)
				fail_msg("accepted %s", BAD[i]);
		assert_int_equal(parse_checkin(good, strlen(good), &c, &err), UPK_OK);
		assert_int_equal(json_array_size(c.events), 1);
		checkin_req_clear(&c);
		n += (size_t)snprintf(many + n, sizeof(many) - n, "{\"events\":[");
		for (int i = 0; i < 17; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n,
			                      "%s{\"kind\":\"private-data-wiped\",\"reason\":"
			                      "\"factory-reset\",\"at\":\"2026-01-01T00:00:00Z\"}",
			                      i ? "," : "");
		snprintf(many + n, sizeof(many) - n, "]}");
		assert_int_equal(parse_checkin(many, strlen(many), &c, &err), UPK_ERR_TOO_LARGE);
	}
	assert_int_equal(parse_status("{\"state\":\"failure\"}", 19, &s, &err), UPK_ERR_INVALID);
	assert_int_equal(parse_status("{\"state\":\"exploded\"}", 20, &s, &err), UPK_ERR_INVALID);
	assert_int_equal(parse_status("{\"state\":\"failure\",\"reason\":\"disk\",\"log_tail\":\"x\"}",
				      50, &s, &err),
			 UPK_OK);
	assert_string_equal(s.reason, "disk");
	status_req_clear(&s);
	assert_int_equal(parse_tags("{\"tags\":{\"a b\":\"c\"}}", 20, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(parse_tags("{\"tags\":{\"site\":1}}", 19, &t, &err), UPK_ERR_INVALID);
	assert_int_equal(parse_preauth("{\"devices\":[{\"id\":\"abc\"}]}", 26, &p, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(parse_enrol("{\"public_key\":{},\"hardware_id\":\"x\"}", 35, &en, &err),
			 UPK_ERR_INVALID);
	assert_int_equal(parse_enrol("[1]", 3, &en, &err), UPK_ERR_INVALID);
	assert_true(api_valid_fleet_name("acme-1"));
	assert_false(api_valid_fleet_name("Acme"));
	assert_false(api_valid_fleet_name("-a"));
	assert_false(api_valid_role_name("1abc"));
	assert_false(api_valid_role_name("snapshot"));
}

/* ---- store: migrations and an append-only audit log ---- */

static void test_store(void **state)
{
	char *tmp = tu_mkdtemp(), db[4200];
	struct store *st = NULL;
	struct upk_error err = {0};
	json_t *rows = NULL;
	int64_t fleet = 0;
	int rc;

	(void)state;
	snprintf(db, sizeof(db), "%s/s.db", tmp);
	OK(store_sqlite_open(db, &st, &e_));
	OK(st->ops->fleet_create(st, "f", 1, &fleet, &e_));
	assert_int_equal(st->ops->fleet_create(st, "f", 1, &fleet, &err), UPK_ERR_EXISTS);
	OK(st->ops->audit_append(st, fleet, NULL, "owner", "k", "x", NULL, 2, &e_));
	store_close(st);
	/* Reopen: migrations are not applied twice; the database itself refuses edits. */
	OK(store_sqlite_open(db, &st, &e_));
	OK(st->ops->audit_query(st, fleet, NULL, 0, 10, &rows, &e_));
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	store_close(st);
	rc = tu_system("sqlite3 '%s' \"UPDATE audit SET action = 'y'\" 2>/dev/null", db);
	if (rc != 127)
		assert_int_not_equal(rc, 0);
	rc = tu_system("sqlite3 '%s' \"DELETE FROM audit\" 2>/dev/null", db);
	if (rc != 127)
		assert_int_not_equal(rc, 0);
	{
		struct stat sb;

		assert_int_equal(stat(db, &sb), 0);
		assert_int_equal(sb.st_mode & 0077, 0); /* it holds online keys */
	}
	tu_rmtree(tmp);
	free(tmp);
}

/* ---- the end-to-end fixture ---- */

struct fx {
	char *tmp;
	char work[4200], db[4200], data[4200];
	char creator_pub[4200], creator2_pub[4200];
	struct upk_key *creator, *creator2, *viewer, *dev[4];
	char devid[4][UPK_KEYID_HEX_LEN + 1];
	struct server *srv;
	unsigned port;
};

static void fx_start(struct fx *f)
{
	struct server_config cfg;
	struct upk_error err = {0};

	OK(config_init(&cfg, &e_));
	OK(config_set(&cfg, "database", f->db, &e_));
	OK(config_set(&cfg, "data_dir", f->data, &e_));
	OK(config_set(&cfg, "port", "0", &e_));
	OK(config_set(&cfg, "threads", "2", &e_));
	OK(config_set(&cfg, "log_level", "warn", &e_));
	OK(config_set(&cfg, "creator", f->creator_pub, &e_));
	OK(config_set(&cfg, "creator", f->creator2_pub, &e_));
	if (server_start(&cfg, &f->srv, &err) != UPK_OK)
		fail_msg("server_start: %s", err.msg);
	f->port = f->srv->port;
}

static char *cli(void)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/cli/upkeep", build_dir());
	return path;
}

static void run(const char *dir, const char *cmd)
{
	int rc = tu_system("cd '%s' && ( %s ) >/dev/null", dir, cmd);

	if (rc != 0)
		fail_msg("in %s: %s: exit %d", dir, cmd, rc);
}

/* keyset JSON -> PEM files NAME.pub in dir. */
static void write_keyset_pubs(const char *dir, json_t *keys)
{
	const char *name;
	json_t *v;

	json_object_foreach(keys, name, v) {
		char path[4400];
		const char *pem = json_string_value(json_object_get(v, "pem"));

		snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
		tu_write_file(path, pem, strlen(pem));
	}
}

static json_t *load_json(const char *dir, const char *rel)
{
	char path[4400];
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	j = json_load_file(path, 0, NULL);
	if (j == NULL)
		fail_msg("cannot load %s", path);
	return j;
}

static char *file_text(const char *dir, const char *rel)
{
	char path[4400];
	char *t;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	t = tu_read_file(path, NULL);
	if (t == NULL)
		fail_msg("cannot read %s", path);
	return t;
}

/*
 * The owner's side with the real `upkeep` tool: keys, an image repository
 * (root 2 of 3, targets 2 of 2, online keys from the server's key set) with
 * one target, and a director root. Then create fleet `name`.
 */
static void make_fleet(struct fx *f, const char *name, const struct upk_key *creator)
{
	char dir[4400], cmd[8192];
	json_t *ks, *body;
	char *text;

	snprintf(dir, sizeof(dir), "%s/%s", f->work, name);
	mkdir(dir, 0700);
	ks = tu_srv_expect(f->port, "POST", "/v1/keysets", creator, NULL, 201);
	write_keyset_pubs(dir, json_object_get(ks, "keys"));
	for (int i = 0; i < 6; i++) {
		static const char *const K[] = {"r1", "r2", "r3", "t1", "t2", "d1"};

		snprintf(cmd, sizeof(cmd), "%s key generate %s --no-passphrase", cli(), K[i]);
		run(dir, cmd);
	}
	snprintf(cmd, sizeof(cmd),
		 "%s repo init img --root-key r1.pub --root-key r2.pub --root-key r3.pub "
		 "--root-threshold 2 --targets-key t1.pub --targets-key t2.pub --targets-threshold 2 "
		 "--snapshot-key image_snapshot.pub --timestamp-key image_timestamp.pub",
		 cli());
	run(dir, cmd);
	snprintf(cmd, sizeof(cmd), "%s sign img root --key r1.key --key r2.key", cli());
	run(dir, cmd);
	tu_write_file("/dev/null", "", 0);
	snprintf(cmd, sizeof(cmd), "printf 'firmware one for %s' > fw.bin", name);
	run(dir, cmd);
	snprintf(cmd, sizeof(cmd),
		 "%s target add img fw.bin --path images/fw-1.0.img --type image --version 1.0.0 "
		 "--hardware hw-a --selector 'tag \"site\" = \"berlin\"'",
		 cli());
	run(dir, cmd);
	snprintf(cmd, sizeof(cmd), "%s sign img targets --key t1.key && cp img/staged/targets.json "
				   "targets-1of2.json && %s sign img targets --key t2.key",
		 cli(), cli());
	run(dir, cmd);
	snprintf(cmd, sizeof(cmd),
		 "%s repo init dir --root-key d1.pub --targets-key director_targets.pub "
		 "--snapshot-key director_snapshot.pub --timestamp-key director_timestamp.pub && "
		 "%s sign dir root --key d1.key",
		 cli(), cli());
	run(dir, cmd);
	body = json_pack("{s:s, s:O, s:o, s:o}", "name", name, "keyset",
			 json_object_get(ks, "keyset"), "image_root",
			 load_json(dir, "img/staged/root.json"), "director_root",
			 load_json(dir, "dir/staged/root.json"));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets", creator, text, 201));
	/* A key set is used once. */
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets", creator, text, 404));
	free(text);
	json_decref(body);
	json_decref(ks);
}

static void upload_repo(struct fx *f, const char *name, const struct upk_key *owner)
{
	char dir[4400], path[512];
	char *t;

	snprintf(dir, sizeof(dir), "%s/%s", f->work, name);
	snprintf(path, sizeof(path), "/v1/fleets/%s/image/metadata/targets", name);
	/* Below the threshold: one of the two targets keys. */
	t = file_text(dir, "targets-1of2.json");
	json_decref(tu_srv_expect(f->port, "PUT", path, owner, t, 422));
	free(t);
	t = file_text(dir, "img/staged/targets.json");
	json_decref(tu_srv_expect(f->port, "PUT", path, owner, t, 200));
	/* The same version again: a rollback. */
	json_decref(tu_srv_expect(f->port, "PUT", path, owner, t, 422));
	free(t);
	/* The root it already has: not newer. */
	snprintf(path, sizeof(path), "/v1/fleets/%s/image/metadata/root", name);
	t = file_text(dir, "img/staged/root.json");
	json_decref(tu_srv_expect(f->port, "PUT", path, owner, t, 422));
	free(t);
	/* Payload: wrong bytes of the right length, then the real ones. */
	snprintf(path, sizeof(path), "/v1/fleets/%s/image/targets/images/fw-1.0.img", name);
	t = file_text(dir, "fw.bin");
	{
		char *bad = strdup(t);

		bad[0] ^= 1;
		json_decref(tu_srv_expect(f->port, "PUT", path, owner, bad, 422));
		bad[strlen(bad) - 1] = '\0';
		json_decref(tu_srv_expect(f->port, "PUT", path, owner, bad, 422));
		free(bad);
	}
	json_decref(tu_srv_expect(f->port, "PUT", path, owner, t, 200));
	free(t);
}

static void test_expired_upload(struct fx *f)
{
	char dir[4400], kp[4400];
	struct upk_metadata *md = NULL;
	struct upk_key *t1 = NULL, *t2 = NULL;
	char *text = NULL, *buf;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/acme", f->work);
	buf = file_text(dir, "img/staged/targets.json");
	OK(upk_metadata_parse(buf, strlen(buf), UPK_ROLE_TARGETS, NULL, &md, &e_));
	free(buf);
	OK(upk_metadata_set_version(md, 9, &e_));
	OK(upk_metadata_set_expires(md, time(NULL) - 3600, &e_));
	snprintf(kp, sizeof(kp), "%s/t1.key", dir);
	OK(upk_keyfile_read(kp, NULL, &t1, &e_));
	snprintf(kp, sizeof(kp), "%s/t2.key", dir);
	OK(upk_keyfile_read(kp, NULL, &t2, &e_));
	OK(upk_metadata_sign(md, t1, &e_));
	OK(upk_metadata_sign(md, t2, &e_));
	OK(upk_metadata_serialize(md, 0, &text, &len, &e_));
	{
		json_t *r = tu_srv_expect(f->port, "PUT", "/v1/fleets/acme/image/metadata/targets",
					  f->creator, text, 422);

		assert_string_equal(json_string_value(json_object_get(r, "error")), "expired");
		json_decref(r);
	}
	free(text);
	upk_key_free(t1);
	upk_key_free(t2);
	upk_metadata_free(md);
}

/* The TUF client against a served repository: refresh, find, download, compare. */
static void tuf_check(struct fx *f, const char *root_file, const char *meta_path,
		      const char *target, const char *expect)
{
	char mdir[4400], murl[512], turl[512], out[4600];
	struct upk_client *c = NULL;
	struct upk_client_target *t = NULL;
	struct upk_fetcher *curl = NULL;
	struct upk_client_config cfg = {0};
	char *root, *got;
	size_t len;

	snprintf(mdir, sizeof(mdir), "%s/client-%u", f->work, (unsigned)rand());
	mkdir(mdir, 0700);
	root = tu_read_file(root_file, &len);
	assert_non_null(root);
	OK(upk_client_bootstrap(mdir, root, len, &e_));
	free(root);
	snprintf(murl, sizeof(murl), "http://127.0.0.1:%u%s", f->port, meta_path);
	snprintf(turl, sizeof(turl), "http://127.0.0.1:%u/v1/fleets/acme/image/targets/", f->port);
	OK(upk_fetcher_curl_new(NULL, &curl, &e_));
	cfg.metadata_dir = mdir;
	cfg.metadata_url = murl;
	cfg.target_url = turl;
	cfg.fetcher = curl;
	OK(upk_client_new(&cfg, &c, &e_));
	OK(upk_client_refresh(c, &e_));
	OK(upk_client_find_target(c, target, &t, &e_));
	snprintf(out, sizeof(out), "%s/out.bin", mdir);
	OK(upk_client_download_target_to_file(c, t, out, NULL, &e_));
	got = tu_read_file(out, NULL);
	assert_string_equal(got, expect);
	free(got);
	upk_client_target_free(t);
	upk_client_free(c);
	upk_fetcher_curl_free(curl);
}

static char *enrol_body(const struct upk_key *k, const char *hw)
{
	json_t *tuf = NULL, *b;
	char *s;

	OK(upk_key_to_tuf(k, &tuf, &e_));
	b = json_pack("{s:o, s:s, s:{s:s}}", "public_key", tuf, "hardware_id", hw, "attributes",
		      "serial", "s-1");
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

static char *key_body(const struct upk_key *k, const char *role)
{
	json_t *tuf = NULL, *b;
	char *s;

	OK(upk_key_to_tuf(k, &tuf, &e_));
	b = json_pack("{s:o, s:s}", "public_key", tuf, "role", role);
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

/* Everything an attacker could hope to change, as one string. */
static char *state_of(struct fx *f)
{
	struct store *st = f->srv->store;
	json_t *all = json_object(), *fleet = NULL, *v = NULL;
	char *s;

	OK(st->ops->fleet_get(st, "acme", &fleet, &e_));
	int64_t id = json_integer_value(json_object_get(fleet, "id"));
	json_decref(fleet);
	OK(st->ops->device_list(st, id, NULL, &v, &e_));
	json_object_set_new(all, "devices", v);
	OK(st->ops->owner_key_list(st, id, &v, &e_));
	json_object_set_new(all, "keys", v);
	OK(st->ops->audit_query(st, id, NULL, 0, 1000, &v, &e_));
	json_object_set_new(all, "audit", v);
	OK(st->ops->meta_latest(st, id, "image", "", &v, &e_));
	json_object_set_new(all, "image", v);
	OK(st->ops->meta_latest(st, id, "director", "", &v, &e_));
	json_object_set_new(all, "director", v);
	OK(st->ops->meta_latest(st, id, "director", f->devid[0], &v, &e_));
	json_object_set_new(all, "dev0", v);
	OK(st->ops->fleet_list(st, &v, &e_));
	json_object_set_new(all, "fleets", v);
	OK(st->ops->rollout_list(st, id, &v, &e_));
	json_object_set_new(all, "rollouts", v);
	OK(st->ops->pin_list(st, id, NULL, &v, &e_));
	json_object_set_new(all, "pins", v);
	OK(st->ops->deployment_list(st, id, f->devid[0], 0, &v, &e_));
	json_object_set_new(all, "dev0_deployments", v);
	s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(all);
	return s;
}

enum need { N_CREATOR, N_VIEW, N_OPER, N_ADMIN, N_DEVICE };

struct ep {
	const char *method;
	char path[512];
	char *body;
	enum need need;
	char alt_path[512]; /* for tampering without a body */
};

/*
 * A rollout of acme's release that no device matches, so it changes nobody's
 * assignment; its first phase soaks for a day, so it stays running.
 */
static const char IDLE_ROLLOUT[] =
	"{\"target\":\"images/fw-1.0.img\",\"phases\":[{\"percent\":50,\"soak\":86400},"
	"{\"percent\":100}],\"selector\":\"tag \\\"site\\\" = \\\"nowhere\\\"\"}";

static char *dup_or_null(const char *b)
{
	return b != NULL ? strdup(b) : NULL;
}

/* Create an idle rollout (above); its id. */
static int64_t idle_rollout(struct fx *f)
{
	json_t *j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/rollouts", f->creator,
				  IDLE_ROLLOUT, 201);
	int64_t id = json_integer_value(json_object_get(j, "id"));

	assert_true(id > 0);
	json_decref(j);
	return id;
}

static void isolation(struct fx *f, int64_t dep)
{
	char dir[4400];
	struct ep eps[40];
	size_t n = 0;
	char *before, *after;
	char *targets, *payload, *droot;
	const char *d0 = f->devid[0], *d2 = f->devid[2];
	/* Two rollouts: requests signed for the second are sent for the first. */
	int64_t ro = idle_rollout(f), ro2 = idle_rollout(f);

	snprintf(dir, sizeof(dir), "%s/acme", f->work);
	targets = file_text(dir, "img/staged/targets.json");
	payload = file_text(dir, "fw.bin");
	droot = file_text(dir, "dir/staged/root.json");
#define EP(m, b, nd, ...)                                                                          \
	do {                                                                                       \
		eps[n].method = m;                                                                 \
		snprintf(eps[n].path, sizeof(eps[n].path), __VA_ARGS__);                           \
		eps[n].body = dup_or_null(b);                                                       \
		eps[n].need = nd;                                                                  \
		eps[n].alt_path[0] = '\0';                                                         \
		n++;                                                                               \
	} while (0)
	EP("POST", NULL, N_CREATOR, "/v1/keysets");
	EP("POST", "{\"name\":\"zzz\",\"keyset\":\"00000000000000000000000000000000\","
		   "\"image_root\":{},\"director_root\":{}}",
	   N_CREATOR, "/v1/fleets");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/keys");
	{
		char *kb = key_body(f->dev[3], "admin");

		EP("POST", kb, N_ADMIN, "/v1/fleets/acme/keys");
		free(kb);
	}
	{
		char vid[UPK_KEYID_HEX_LEN + 1];

		OK(upk_key_id(f->viewer, vid, &e_));
		EP("DELETE", NULL, N_ADMIN, "/v1/fleets/acme/keys/%s", vid);
	}
	EP("PUT", targets, N_OPER, "/v1/fleets/acme/image/metadata/targets");
	EP("PUT", payload, N_OPER, "/v1/fleets/acme/image/targets/images/fw-1.0.img");
	EP("PUT", droot, N_ADMIN, "/v1/fleets/acme/director/metadata/root");
	EP("PUT", "{\"target\":\"images/fw-1.0.img\"}", N_OPER,
	   "/v1/fleets/acme/devices/%s/assignment", d0);
	EP("DELETE", NULL, N_OPER, "/v1/fleets/acme/devices/%s/assignment/image", d0);
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/devices");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/devices/%s", d0);
	EP("POST", NULL, N_OPER, "/v1/fleets/acme/devices/%s/accept", d2);
	EP("POST", NULL, N_OPER, "/v1/fleets/acme/devices/%s/reject", d0);
	/* Still Berlin, so that the replay test's one real change leaves d0 admitted for the pin. */
	EP("PUT", "{\"tags\":{\"site\":\"berlin\",\"ring\":\"beta\"}}", N_OPER,
	   "/v1/fleets/acme/devices/%s/tags", d0);
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/devices/%s/deployments", d0);
	EP("POST", "{\"devices\":[{\"id\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"}]}",
	   N_OPER, "/v1/fleets/acme/preauth");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/audit");
	EP("POST", "{\"installed\":{\"image\":\"9.9.9\"}}", N_DEVICE, "/v1/fleets/acme/checkin");
	EP("POST", "{\"state\":\"failure\",\"reason\":\"forged\"}", N_DEVICE,
	   "/v1/fleets/acme/deployments/%lld/status", (long long)dep);
	EP("POST", IDLE_ROLLOUT, N_OPER, "/v1/fleets/acme/rollouts");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/rollouts");
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/rollouts/%lld", (long long)ro);
	EP("GET", NULL, N_VIEW, "/v1/fleets/acme/rollouts/%lld/devices", (long long)ro);
	EP("POST", NULL, N_OPER, "/v1/fleets/acme/rollouts/%lld/pause", (long long)ro);
	EP("POST", NULL, N_OPER, "/v1/fleets/acme/rollouts/%lld/resume", (long long)ro);
	EP("POST", NULL, N_OPER, "/v1/fleets/acme/rollouts/%lld/abort", (long long)ro);
	EP("PUT", "{\"target\":\"images/fw-1.0.img\"}", N_OPER, "/v1/fleets/acme/devices/%s/pin",
	   d0);
	EP("DELETE", NULL, N_OPER, "/v1/fleets/acme/devices/%s/pin/image", d0);
	assert_true(n <= sizeof(eps) / sizeof(eps[0]));
	/* Tampering where there is no body: sign one path, send another. */
	for (size_t i = 0; i < n; i++) {
		char *r;

		if (eps[i].body != NULL)
			continue;
		if (strstr(eps[i].path, "/accept") != NULL)
			snprintf(eps[i].alt_path, sizeof(eps[i].alt_path),
				 "/v1/fleets/acme/devices/%s/accept", d0);
		else if (strstr(eps[i].path, "/pin/") != NULL)
			snprintf(eps[i].alt_path, sizeof(eps[i].alt_path),
				 "/v1/fleets/acme/devices/%s/pin/image", d2);
		else if ((r = strstr(eps[i].path, "/rollouts/")) != NULL)
			snprintf(eps[i].alt_path, sizeof(eps[i].alt_path),
				 "/v1/fleets/acme/rollouts/%lld%s", (long long)ro2,
				 strchr(r + 10, '/') != NULL ? strchr(r + 10, '/') : "");
		else
			memcpy(eps[i].alt_path, eps[i].path, sizeof(eps[i].alt_path));
	}

	before = state_of(f);
	for (size_t i = 0; i < n; i++) {
		struct ep *e = &eps[i];
		size_t blen = e->body ? strlen(e->body) : 0;
		const struct upk_key *right = e->need == N_DEVICE   ? f->dev[0]
					      : e->need == N_CREATOR ? f->creator
								     : f->creator;
		struct tresp r;
		struct tsig s;

		/* Another fleet's admin (beta's creator): unknown here. */
		if (e->need != N_CREATOR) {
			tu_srv_call(f->port, e->method, e->path, f->creator2, e->body, &r);
			if (r.status != 401)
				fail_msg("%s %s with beta's key: %ld %s", e->method, e->path, r.status,
					 r.body);
			tresp_clear(&r);
		}
		/* A device key on owner endpoints, an owner key on device endpoints. */
		tu_srv_call(f->port, e->method, e->path, e->need == N_DEVICE ? f->creator : f->dev[0],
			    e->body, &r);
		if (r.status != 401)
			fail_msg("%s %s with the wrong kind of key: %ld %s", e->method, e->path,
				 r.status, r.body);
		tresp_clear(&r);
		/* A viewer where more is needed. */
		if (e->need == N_OPER || e->need == N_ADMIN) {
			tu_srv_call(f->port, e->method, e->path, f->viewer, e->body, &r);
			if (r.status != 403)
				fail_msg("%s %s as viewer: %ld %s", e->method, e->path, r.status,
					 r.body);
			tresp_clear(&r);
		}
		if (e->need == N_CREATOR) {
			tu_srv_call(f->port, e->method, e->path, f->viewer, e->body, &r);
			if (r.status != 401)
				fail_msg("%s %s as viewer: %ld %s", e->method, e->path, r.status,
					 r.body);
			tresp_clear(&r);
		}
		/* No signature. */
		tu_srv_call(f->port, e->method, e->path, NULL, e->body, &r);
		if (r.status != 401)
			fail_msg("%s %s unsigned: %ld %s", e->method, e->path, r.status, r.body);
		tresp_clear(&r);
		/* Tampered: the right key, but the body (or path) changed after signing. */
		if (e->body != NULL) {
			char *t = strdup(e->body);

			tu_srv_sign(e->method, e->path, right, e->body, blen, time(NULL), &s);
			t[blen / 2] = t[blen / 2] == 'x' ? 'y' : 'x';
			tu_srv_send(f->port, e->method, e->path, &s, t, blen, &r);
			free(t);
		} else {
			tu_srv_sign(e->method, e->alt_path, right, NULL, 0, time(NULL), &s);
			if (strcmp(e->alt_path, e->path) == 0) {
				/* Same path: change the method instead. */
				tu_srv_send(f->port, strcmp(e->method, "GET") == 0 ? "DELETE" : "GET",
					    e->path, &s, NULL, 0, &r);
				if (r.status == 404 || r.status == 405) {
					tresp_clear(&r);
					r.status = 401;
				}
			} else {
				tu_srv_send(f->port, e->method, e->path, &s, NULL, 0, &r);
			}
		}
		if (r.status != 401)
			fail_msg("%s %s tampered: %ld %s", e->method, e->path, r.status, r.body);
		tresp_clear(&r);
		tsig_clear(&s);
		/* Signed too long ago / in the future. */
		tu_srv_sign(e->method, e->path, right, e->body, blen, time(NULL) - 3600, &s);
		tu_srv_send(f->port, e->method, e->path, &s, e->body, blen, &r);
		if (r.status != 401)
			fail_msg("%s %s stale: %ld %s", e->method, e->path, r.status, r.body);
		tresp_clear(&r);
		tsig_clear(&s);
	}
	after = state_of(f);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/*
	 * Replays: the first send works, the same signature again is refused.
	 * Rollout and pin endpoints in their list order: pause, resume, abort;
	 * pin, unpin, so that each first send is allowed.
	 */
	for (size_t i = 0; i < n; i++) {
		struct ep *e = &eps[i];
		const struct upk_key *right = e->need == N_DEVICE ? f->dev[0] : f->creator;
		size_t blen = e->body ? strlen(e->body) : 0;
		struct tresp r;
		struct tsig s;

		if (strcmp(e->method, "GET") != 0 && strstr(e->path, "/tags") == NULL &&
		    strstr(e->path, "/checkin") == NULL && strstr(e->path, "/rollouts") == NULL &&
		    strstr(e->path, "/pin") == NULL)
			continue;
		tu_srv_sign(e->method, e->path, right, e->body, blen, time(NULL), &s);
		tu_srv_send(f->port, e->method, e->path, &s, e->body, blen, &r);
		if (r.status != 200 && r.status != 201)
			fail_msg("%s %s: %ld %s", e->method, e->path, r.status, r.body);
		tresp_clear(&r);
		before = state_of(f);
		tu_srv_send(f->port, e->method, e->path, &s, e->body, blen, &r);
		if (r.status != 401 || strstr(r.body, "replay") == NULL)
			fail_msg("%s %s replayed: %ld %s", e->method, e->path, r.status, r.body);
		tresp_clear(&r);
		tsig_clear(&s);
		after = state_of(f);
		assert_string_equal(before, after);
		free(before);
		free(after);
	}
	for (size_t i = 0; i < n; i++)
		free(eps[i].body);
	free(targets);
	free(payload);
	free(droot);
}

static int64_t served_version(struct fx *f, const char *path)
{
	json_t *j = tu_srv_expect(f->port, "GET", path, NULL, NULL, 200);
	int64_t v = json_integer_value(json_object_get(json_object_get(j, "signed"), "version"));

	json_decref(j);
	return v;
}

static void test_end_to_end(void **state)
{
	struct fx fx = {0}, *f = &fx;
	char p[1024], *b;
	json_t *j;
	int64_t dep, v1, v2;

	(void)state;
	f->tmp = tu_mkdtemp();
	snprintf(f->work, sizeof(f->work), "%s/work", f->tmp);
	snprintf(f->db, sizeof(f->db), "%s/server.db", f->tmp);
	snprintf(f->data, sizeof(f->data), "%s/data", f->tmp);
	snprintf(f->creator_pub, sizeof(f->creator_pub), "%s/creator.pub", f->tmp);
	snprintf(f->creator2_pub, sizeof(f->creator2_pub), "%s/creator2.pub", f->tmp);
	mkdir(f->work, 0700);
	OK(upk_key_generate_ed25519(&f->creator, &e_));
	OK(upk_key_generate_ed25519(&f->creator2, &e_));
	OK(upk_key_generate_ed25519(&f->viewer, &e_));
	OK(upk_keyfile_write_public(f->creator_pub, f->creator, &e_));
	OK(upk_keyfile_write_public(f->creator2_pub, f->creator2, &e_));
	for (int i = 0; i < 4; i++) {
		OK(upk_key_generate_ed25519(&f->dev[i], &e_));
		OK(upk_key_id(f->dev[i], f->devid[i], &e_));
	}
	fx_start(f);
	json_decref(tu_srv_expect(f->port, "GET", "/v1/health", NULL, NULL, 200));
	/* Only configured creators make key sets and fleets. */
	json_decref(tu_srv_expect(f->port, "POST", "/v1/keysets", f->viewer, NULL, 401));

	make_fleet(f, "acme", f->creator);
	make_fleet(f, "beta", f->creator2);
	upload_repo(f, "acme", f->creator);
	test_expired_upload(f);

	/* The TUF client verifies the served image repository and downloads the payload. */
	snprintf(p, sizeof(p), "%s/acme/img/staged/root.json", f->work);
	tuf_check(f, p, "/v1/fleets/acme/image/metadata/", "images/fw-1.0.img",
		  "firmware one for acme");

	/* Enrolment: pending until accepted. */
	b = enrol_body(f->dev[0], "hw-a");
	j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/enrol", f->dev[0], b, 201);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	json_decref(j);
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/enrol", f->dev[0], b, 200));
	free(b);
	/* Enrolling with someone else's key in the body: the signature does not match it. */
	b = enrol_body(f->dev[1], "hw-a");
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/enrol", f->dev[0], b, 401));
	free(b);
	j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[0],
			  "{\"installed\":{\"image\":\"0.9.0\"},\"free_space\":1000}", 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
	assert_int_equal(json_array_size(json_object_get(j, "deployments")), 0);
	json_decref(j);
	j = tu_srv_expect(f->port, "GET", "/v1/fleets/acme/devices?status=pending", f->creator, NULL,
			  200);
	assert_int_equal(json_array_size(json_object_get(j, "devices")), 1);
	json_decref(j);
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/accept", f->devid[0]);
	json_decref(tu_srv_expect(f->port, "POST", p, f->creator, NULL, 200));
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/tags", f->devid[0]);
	json_decref(tu_srv_expect(f->port, "PUT", p, f->creator, "{\"tags\":{\"site\":\"berlin\"}}",
				  200));
	/* Pre-authorised: accepted at enrolment, with the owner's tags. */
	snprintf(p, sizeof(p), "{\"devices\":[{\"id\":\"%s\",\"tags\":{\"site\":\"paris\"}}]}",
		 f->devid[1]);
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/preauth", f->creator, p, 200));
	b = enrol_body(f->dev[1], "hw-a");
	j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/enrol", f->dev[1], b, 201);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
	json_decref(j);
	free(b);
	/* A device of other hardware in Berlin, and one still pending. */
	b = enrol_body(f->dev[2], "hw-b");
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/enrol", f->dev[2], b, 201));
	free(b);
	/* A device enrolled in beta is not a device of acme. */
	b = enrol_body(f->dev[3], "hw-a");
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/beta/enrol", f->dev[3], b, 201));
	free(b);
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[3], "{}", 401));

	/* Assignment: only what the owner signed for this hardware and selector. */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/assignment", f->devid[1]);
	json_decref(tu_srv_expect(f->port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-1.0.img\"}", 400)); /* paris */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/assignment", f->devid[2]);
	json_decref(tu_srv_expect(f->port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-1.0.img\"}", 400)); /* pending, hw-b */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/assignment", f->devid[0]);
	json_decref(tu_srv_expect(f->port, "PUT", p, f->creator,
				  "{\"target\":\"images/other.img\"}", 404));
	j = tu_srv_expect(f->port, "PUT", p, f->creator, "{\"target\":\"images/fw-1.0.img\"}", 200);
	dep = json_integer_value(json_object_get(j, "deployment"));
	assert_true(dep > 0);
	json_decref(j);

	/* The device's director metadata verifies with the TUF client and agrees with the image. */
	snprintf(p, sizeof(p), "/v1/fleets/acme/director/%s/metadata/", f->devid[0]);
	{
		char root[4400];

		snprintf(root, sizeof(root), "%s/acme/dir/staged/root.json", f->work);
		tuf_check(f, root, p, "images/fw-1.0.img", "firmware one for acme");
	}
	/* Check-in shows the deployment; status reports follow it. */
	j = tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[0],
			  "{\"installed\":{\"image\":\"0.9.0\"}}", 200);
	assert_int_equal(json_array_size(json_object_get(j, "deployments")), 1);
	json_decref(j);
	snprintf(p, sizeof(p), "/v1/fleets/acme/deployments/%lld/status", (long long)dep);
	json_decref(tu_srv_expect(f->port, "POST", p, f->dev[0], "{\"state\":\"downloading\"}", 200));
	json_decref(tu_srv_expect(f->port, "POST", p, f->dev[0], "{\"state\":\"failure\"}", 400));
	json_decref(tu_srv_expect(f->port, "POST", p, f->dev[1], "{\"state\":\"success\"}", 404));
	json_decref(tu_srv_expect(f->port, "POST", p, f->dev[0],
				  "{\"state\":\"failure\",\"reason\":\"health check\","
				  "\"log_tail\":\"app did not start\"}",
				  200));
	json_decref(tu_srv_expect(f->port, "POST", p, f->dev[0], "{\"state\":\"success\"}", 200));
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[0],
				  "{\"installed\":{\"image\":\"1.0.0\"}}", 200));
	/* A device event becomes an audit row; a bad one is refused and changes nothing. */
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[0],
				  "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":"
				  "\"factory-reset\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
				  200));
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/checkin", f->dev[0],
				  "{\"events\":[{\"kind\":\"private-data-wiped\",\"reason\":"
				  "\"boredom\",\"at\":\"2026-01-01T00:00:00Z\"}]}",
				  400));
	snprintf(p, sizeof(p), "/v1/fleets/acme/audit?device=%s", f->devid[0]);
	j = tu_srv_expect(f->port, "GET", p, f->creator, NULL, 200);
	{
		static const char *const WANT[] = {"device.enrol", "device.accept", "device.tags",
						   "device.assign", "deployment.status",
						   "device.inventory", "device.event",
						   "factory-reset"};
		char *dump = json_dumps(j, 0);

		for (size_t i = 0; i < sizeof(WANT) / sizeof(WANT[0]); i++)
			if (strstr(dump, WANT[i]) == NULL)
				fail_msg("audit lacks %s: %s", WANT[i], dump);
		free(dump);
	}
	json_decref(j);

	/* A viewer key for the isolation matrix. */
	b = key_body(f->viewer, "viewer");
	json_decref(tu_srv_expect(f->port, "POST", "/v1/fleets/acme/keys", f->creator, b, 200));
	free(b);
	isolation(f, dep);

	/* Re-signing: a pass "20 hours later" renews timestamps before they expire. */
	v1 = served_version(f, "/v1/fleets/acme/image/metadata/timestamp.json");
	OK(server_maintain(f->srv, time(NULL) + 20 * 3600, &e_));
	v2 = served_version(f, "/v1/fleets/acme/image/metadata/timestamp.json");
	assert_true(v2 > v1);
	snprintf(p, sizeof(p), "%s/acme/img/staged/root.json", f->work);
	tuf_check(f, p, "/v1/fleets/acme/image/metadata/", "images/fw-1.0.img",
		  "firmware one for acme");

	/* Restart on the same files: everything is still there. */
	b = state_of(f);
	server_stop(f->srv);
	fx_start(f);
	{
		char *again = state_of(f);

		assert_string_equal(b, again);
		free(again);
	}
	free(b);
	json_decref(tu_srv_expect(f->port, "GET", "/v1/fleets/acme", f->creator, NULL, 200));
	snprintf(p, sizeof(p), "/v1/fleets/acme/director/%s/metadata/", f->devid[0]);
	{
		char root[4400];

		snprintf(root, sizeof(root), "%s/acme/dir/staged/root.json", f->work);
		tuf_check(f, root, p, "images/fw-1.0.img", "firmware one for acme");
	}
	server_stop(f->srv);
	upk_key_free(f->creator);
	upk_key_free(f->creator2);
	upk_key_free(f->viewer);
	for (int i = 0; i < 4; i++)
		upk_key_free(f->dev[i]);
	tu_rmtree(f->tmp);
	free(f->tmp);
}

/* ---- the real binary ---- */

static pid_t spawn_server(const char *tmp, const char *log, unsigned *port)
{
	char bin[4200], db[4200], data[4200];

	snprintf(bin, sizeof(bin), "%s/server/upkeep-server", build_dir());
	snprintf(db, sizeof(db), "%s/bin.db", tmp);
	snprintf(data, sizeof(data), "%s/bindata", tmp);
	char *const argv[] = {bin, "--database", db, "--data-dir", data, "--port", "0",
	                      "--threads", "2", NULL};

	return tu_spawn_server(argv, log, port);
}

static int wait_exit(pid_t pid, int seconds)
{
	int status = 0;

	for (int i = 0; i < seconds * 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void test_binary(void **state)
{
	char *tmp = tu_mkdtemp(), log[4200], cfg[4200], *text;
	unsigned port = 0;
	struct sockaddr_in sa;
	char resp[512];
	pid_t pid;
	int fd, rc;
	ssize_t got;
	static const char PART1[] = "PUT /v1/fleets/none/image/targets/x.bin HTTP/1.1\r\n"
				    "Host: 127.0.0.1\r\nContent-Length: 10\r\n\r\n01234";

	(void)state;
	assert_int_equal(tu_system("%s/server/upkeep-server --help | grep -q -- --database",
				   build_dir()),
			 0);
	snprintf(cfg, sizeof(cfg), "%s/bad.conf", tmp);
	tu_write_file(cfg, "port = 1\n# fine\ndatabsae = x\n", 29);
	snprintf(log, sizeof(log), "%s/bad.log", tmp);
	rc = tu_system("%s/server/upkeep-server --config %s 2>%s", build_dir(), cfg, log);
	assert_int_equal(rc, 1);
	text = tu_read_file(log, NULL);
	assert_non_null(strstr(text, "bad.conf:3:"));
	free(text);

	snprintf(log, sizeof(log), "%s/run.log", tmp);
	pid = spawn_server(tmp, log, &port);
	json_decref(tu_srv_expect(port, "GET", "/v1/health", NULL, NULL, 200));
	/* A request in flight (half its body sent) when SIGTERM arrives still gets its answer. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, PART1, strlen(PART1)), (ssize_t)strlen(PART1));
	usleep(200 * 1000);
	kill(pid, SIGTERM);
	usleep(300 * 1000);
	assert_int_equal(waitpid(pid, &rc, WNOHANG), 0); /* still waiting for it */
	assert_int_equal(write(fd, "56789", 5), 5);
	got = read(fd, resp, sizeof(resp) - 1);
	assert_true(got > 12);
	resp[got] = '\0';
	assert_non_null(strstr(resp, "HTTP/1.1 404"));
	close(fd);
	assert_int_equal(wait_exit(pid, 10), 0);
	text = tu_read_file(log, NULL);
	assert_non_null(strstr(text, "stopped"));
	free(text);
	/* And it starts again on the same database. */
	snprintf(log, sizeof(log), "%s/run2.log", tmp);
	pid = spawn_server(tmp, log, &port);
	json_decref(tu_srv_expect(port, "GET", "/v1/health", NULL, NULL, 200));
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 10), 0);
	tu_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),   cmocka_unit_test(test_replay),
		cmocka_unit_test(test_parsers),  cmocka_unit_test(test_store),
		cmocka_unit_test(test_end_to_end), cmocka_unit_test(test_binary),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
