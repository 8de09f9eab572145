/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A compromised server cannot make a device install what the owner did not
 * sign for it. With the server stopped, the test edits its SQLite file
 * directly (an attacker with the database also holds the online keys, so
 * the restarted server signs whatever the rows say): it assigns a target
 * outside the device's selector, one below its security_version, one with
 * forged length and hashes, one the image repository does not list, and
 * forges the image repository's targets. The device side (upk_client
 * against the director and image repository URLs, then upk_admit_target,
 * as the agent does) refuses each; the honest assignment is admitted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "testutil.h"
#include "tu_fleet.h"

#include "config.h"
#include "server.h"
#include "upkeep/admission.h"
#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"
#include "upkeep/metadata.h"

static const struct tf_target TARGETS[] = {
	{"images/fw-2.0.img", "2.0.0", 2, NULL},
	{"images/fw-old.img", "1.0.0", 1, NULL},
	{"images/fw-paris.img", "2.1.0", 2, "tag \"site\" = \"paris\""},
};

struct fx {
	char *tmp;
	char work[4200], db[4200], data[4200], creator_pub[4200];
	struct upk_key *creator;
	struct server *srv;
	struct tfleet fl;
	unsigned clients;
	int64_t shift;
};

static void start(struct fx *f)
{
	struct server_config cfg;
	struct upk_error err = {0};

	OK(config_init(&cfg, &e_));
	OK(config_set(&cfg, "database", f->db, &e_));
	OK(config_set(&cfg, "data_dir", f->data, &e_));
	OK(config_set(&cfg, "port", "0", &e_));
	OK(config_set(&cfg, "threads", "2", &e_));
	OK(config_set(&cfg, "log_level", "warn", &e_));
	OK(config_set(&cfg, "maintenance_interval", "3600", &e_));
	OK(config_set(&cfg, "creator", f->creator_pub, &e_));
	if (server_start(&cfg, &f->srv, &err) != UPK_OK)
		fail_msg("server_start: %s", err.msg);
	f->fl.port = f->srv->port;
}

/* The image repository's entry for path, as the director copies it. */
static json_t *image_entry(struct fx *f, const char *path)
{
	char p[4400];
	json_t *doc, *t, *e;

	snprintf(p, sizeof(p), "%s/img/staged/targets.json", f->fl.dir);
	doc = json_load_file(p, 0, NULL);
	assert_non_null(doc);
	t = json_object_get(json_object_get(json_object_get(doc, "signed"), "targets"), path);
	assert_non_null(t);
	e = json_deep_copy(t);
	json_object_set_new(e, "path", json_string(path));
	json_object_set_new(e, "role", json_string("targets"));
	json_decref(doc);
	return e;
}

static void sql(sqlite3 *db, const char *stmt, const char *a, const char *b, const char *c)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, stmt, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", stmt, sqlite3_errmsg(db));
	if (a != NULL)
		sqlite3_bind_text(s, 1, a, -1, SQLITE_TRANSIENT);
	if (b != NULL)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_TRANSIENT);
	if (c != NULL)
		sqlite3_bind_text(s, 3, c, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE)
		fail_msg("%s: %s", stmt, sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

/*
 * The attacker's move on the stopped server's file: make entry the device's
 * current image assignment. Then the server starts again and its
 * maintenance pass (three weeks on) re-signs director metadata from the rows.
 */
static void tamper_assignment(struct fx *f, json_t *entry)
{
	char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
	sqlite3 *db = NULL;

	server_stop(f->srv);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sql(db,
	    "INSERT INTO deployments (fleet_id, device_id, type, target_path, target, state, "
	    "created_at, updated_at) VALUES (1, ?1, 'image', ?2, ?3, 'assigned', 0, 0)",
	    f->fl.devid[0], json_string_value(json_object_get(entry, "path")), text);
	sql(db,
	    "UPDATE assignments SET deployment_id = last_insert_rowid() WHERE device_id = ?1 AND "
	    "type = 'image'",
	    f->fl.devid[0], NULL, NULL);
	sqlite3_close(db);
	free(text);
	json_decref(entry);
	start(f);
	/* Three weeks further each time: past half the life of what the last pass signed. */
	f->shift += 21 * 86400;
	f->srv->clock_offset = f->shift;
	OK(server_maintain(f->srv, server_clock(f->srv), &e_));
}

/*
 * The device: refresh the director and the image repository with the TUF
 * client, then admit the director's one target or not. *refresh_status gets
 * the image repository refresh's status (a forged repository fails there).
 */
static enum upk_refusal device_decides(struct fx *f, int64_t installed_sv,
				       upk_status *refresh_status, char *why, size_t why_size)
{
	char mdir[2][4400], murl[2][512], turl[512], root[4400];
	struct upk_client *c[2] = {NULL, NULL};
	struct upk_fetcher *curl = NULL;
	struct upk_client_target *it = NULL;
	const struct upk_metadata *dmd;
	struct upk_target dt, im;
	struct upk_kv tags[1] = {{"site", "berlin"}};
	struct upk_device_attrs attrs = {f->fl.devid[0], "hw-a", tags, 1, NULL, 0};
	struct upk_error err = {0};
	enum upk_refusal refusal = UPK_REFUSAL_NONE;
	upk_status ret;

	OK(upk_fetcher_curl_new(NULL, &curl, &e_));
	snprintf(turl, sizeof(turl), "http://127.0.0.1:%u/v1/fleets/acme/image/targets/",
		 f->fl.port);
	snprintf(murl[0], sizeof(murl[0]), "http://127.0.0.1:%u/v1/fleets/acme/director/%s/metadata/",
		 f->fl.port, f->fl.devid[0]);
	snprintf(murl[1], sizeof(murl[1]), "http://127.0.0.1:%u/v1/fleets/acme/image/metadata/",
		 f->fl.port);
	for (int i = 0; i < 2; i++) {
		struct upk_client_config cfg = {0};
		char *text;
		size_t len;

		snprintf(mdir[i], sizeof(mdir[i]), "%s/device-%u-%d", f->tmp, f->clients++, i);
		mkdir(mdir[i], 0700);
		snprintf(root, sizeof(root), "%s/%s/staged/root.json", f->fl.dir, i == 0 ? "dir" : "img");
		text = tu_read_file(root, &len);
		OK(upk_client_bootstrap(mdir[i], text, len, &e_));
		free(text);
		cfg.metadata_dir = mdir[i];
		cfg.metadata_url = murl[i];
		cfg.target_url = turl;
		cfg.fetcher = curl;
		OK(upk_client_new(&cfg, &c[i], &e_));
	}
	OK(upk_client_refresh(c[0], &e_));
	dmd = upk_client_trusted(c[0], "targets");
	assert_int_equal(upk_targets_count(dmd), 1);
	OK(upk_targets_at(dmd, 0, &dt, &e_));
	*refresh_status = upk_client_refresh(c[1], &err);
	snprintf(why, why_size, "%s", err.msg);
	if (*refresh_status == UPK_OK) {
		ret = upk_client_find_target(c[1], dt.path, &it, &err);
		if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND)
			fail_msg("find %s: %s", dt.path, err.msg);
		if (it != NULL) {
			im.path = it->path;
			im.length = it->length;
			im.hashes = it->hashes;
			im.custom = it->custom;
		}
		memset(&err, 0, sizeof(err));
		ret = upk_admit_target(&dt, it != NULL ? &im : NULL, &attrs, installed_sv, NULL,
				       &refusal, &err);
		assert_true(ret == UPK_OK || ret == UPK_ERR_SIGNATURE);
		assert_true((ret == UPK_OK) == (refusal == UPK_REFUSAL_NONE));
		snprintf(why, why_size, "%s", err.msg);
	}
	upk_client_target_free(it);
	upk_client_free(c[0]);
	upk_client_free(c[1]);
	upk_fetcher_curl_free(curl);
	return refusal;
}

static void expect_refusal(struct fx *f, int64_t installed_sv, enum upk_refusal want)
{
	upk_status rs = UPK_OK;
	char why[UPK_ERROR_MSG_MAX];
	enum upk_refusal got = device_decides(f, installed_sv, &rs, why, sizeof(why));

	if (rs != UPK_OK)
		fail_msg("image repository refresh failed: %s", why);
	if (got != want)
		fail_msg("device decided %s, expected %s (%s)", upk_refusal_name(got),
			 upk_refusal_name(want), why);
}

static void test_compromised_database(void **state)
{
	struct fx fx, *f = &fx;
	char p[512];
	json_t *e;

	(void)state;
	memset(f, 0, sizeof(*f));
	f->tmp = tu_mkdtemp();
	snprintf(f->work, sizeof(f->work), "%s/work", f->tmp);
	snprintf(f->db, sizeof(f->db), "%s/server.db", f->tmp);
	snprintf(f->data, sizeof(f->data), "%s/data", f->tmp);
	snprintf(f->creator_pub, sizeof(f->creator_pub), "%s/creator.pub", f->tmp);
	mkdir(f->work, 0700);
	OK(upk_key_generate_ed25519(&f->creator, &e_));
	OK(upk_keyfile_write_public(f->creator_pub, f->creator, &e_));
	start(f);
	tf_create(&f->fl, f->srv->port, f->work, "acme", f->creator, TARGETS, 3);
	tf_add_devices(&f->fl, 1, "berlin");

	/* The honest server: what it assigns is admitted; it refuses the others itself. */
	snprintf(p, sizeof(p), "/v1/fleets/acme/devices/%s/assignment", f->fl.devid[0]);
	json_decref(tu_srv_expect(f->fl.port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-paris.img\"}", 400));
	json_decref(tu_srv_expect(f->fl.port, "PUT", p, f->creator,
				  "{\"target\":\"images/fw-2.0.img\"}", 200));
	expect_refusal(f, 2, UPK_REFUSAL_NONE);

	/* 1. A target outside the device's owner-signed selector. */
	tamper_assignment(f, image_entry(f, "images/fw-paris.img"));
	expect_refusal(f, 2, UPK_REFUSAL_SELECTOR);

	/* 2. An older release: security_version 1 below the installed 2. */
	tamper_assignment(f, image_entry(f, "images/fw-old.img"));
	expect_refusal(f, 2, UPK_REFUSAL_SECURITY_VERSION);

	/* 3. Forged length and hashes under an owner-signed path. */
	e = image_entry(f, "images/fw-2.0.img");
	json_object_set_new(e, "length", json_integer(666));
	json_object_set_new(e, "hashes",
			    json_pack("{s:s}", "sha256",
				      "66666666666666666666666666666666666666666666666666666666666666"
				      "66"));
	tamper_assignment(f, e);
	expect_refusal(f, 2, UPK_REFUSAL_MISMATCH);

	/* 4. A target the owner never signed, with forged owner fields widening everything. */
	e = image_entry(f, "images/fw-2.0.img");
	json_object_set_new(e, "path", json_string("images/evil.img"));
	tamper_assignment(f, e);
	expect_refusal(f, 0, UPK_REFUSAL_NOT_IN_IMAGE_REPO);

	/* 5. Forged image metadata: targets v2 listing evil.img, with v1's signatures. */
	{
		char path[4400];
		json_t *doc;
		char *text;
		sqlite3 *db = NULL;
		upk_status rs = UPK_OK;
		char why[UPK_ERROR_MSG_MAX];

		snprintf(path, sizeof(path), "%s/img/staged/targets.json", f->fl.dir);
		doc = json_load_file(path, 0, NULL);
		json_object_set_new(json_object_get(doc, "signed"), "version", json_integer(2));
		json_object_set(json_object_get(json_object_get(doc, "signed"), "targets"),
				"images/evil.img",
				json_object_get(json_object_get(json_object_get(doc, "signed"),
								"targets"),
						"images/fw-2.0.img"));
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		server_stop(f->srv);
		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		{
			sqlite3_stmt *s = NULL;

			assert_int_equal(
				sqlite3_prepare_v2(db,
						   "INSERT INTO metadata (fleet_id, repo, scope, role, "
						   "version, expires, body, created_at) VALUES (1, "
						   "'image', '', 'targets', 2, 4102444800, ?1, 0)",
						   -1, &s, NULL),
				SQLITE_OK);
			sqlite3_bind_blob(s, 1, text, (int)strlen(text), SQLITE_TRANSIENT);
			assert_int_equal(sqlite3_step(s), SQLITE_DONE);
			sqlite3_finalize(s);
		}
		sqlite3_close(db);
		free(text);
		json_decref(doc);
		start(f);
		f->shift += 21 * 86400;
		f->srv->clock_offset = f->shift;
		OK(server_maintain(f->srv, server_clock(f->srv), &e_));
		/* The server published a snapshot over it; the device still refuses the targets. */
		(void)device_decides(f, 0, &rs, why, sizeof(why));
		if (rs != UPK_ERR_SIGNATURE)
			fail_msg("forged targets: refresh gave %s: %s", upk_status_str(rs), why);
	}
	server_stop(f->srv);
	tf_free(&f->fl);
	upk_key_free(f->creator);
	tu_rmtree(f->tmp);
	free(f->tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compromised_database),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
