/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's key cache never decides who may do what: on a running
 * upkeep-server (real HTTP on 127.0.0.1, real SQLite file), a device that
 * checked in is refused as soon as its row says rejected and accepted again
 * when it says accepted, a device's key signs only for the fleet it is
 * enrolled in, a stored key replaced by another device's key stops working
 * at once, and an owner key's role is read on every request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "server.h"
#include "store.h"
#include "tu_srv.h"

#define OK(x) assert_int_equal((x), UPK_OK)

struct fx {
	char *tmp;
	struct server *srv;
	struct store *st; /* the running server's store */
	int64_t fleet, other;
	struct upk_key *dev, *dev2, *owner;
	char dev_id[UPK_KEYID_HEX_LEN + 1], dev2_id[UPK_KEYID_HEX_LEN + 1];
	char owner_id[UPK_KEYID_HEX_LEN + 1];
};

static void enrol(struct store *st, int64_t fleet, const struct upk_key *key, const char *id,
		  const char *status)
{
	json_t *tuf = NULL, *empty = json_object();

	OK(upk_key_to_tuf(key, &tuf, NULL));
	OK(st->ops->device_enrol(st, fleet, id, tuf, "hw-a", empty, status, empty, 1, NULL));
	json_decref(tuf);
	json_decref(empty);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char db[4200], data[4200];
	struct server_config cfg;
	struct store *st = NULL;
	json_t *tuf = NULL;

	f->tmp = tu_mkdtemp();
	snprintf(db, sizeof(db), "%s/s.db", f->tmp);
	snprintf(data, sizeof(data), "%s/data", f->tmp);
	OK(upk_key_generate_ed25519(&f->dev, NULL));
	OK(upk_key_id(f->dev, f->dev_id, NULL));
	OK(upk_key_generate_ed25519(&f->dev2, NULL));
	OK(upk_key_id(f->dev2, f->dev2_id, NULL));
	OK(upk_key_generate_ed25519(&f->owner, NULL));
	OK(upk_key_id(f->owner, f->owner_id, NULL));
	/* Rows straight into the file: the test is about requests, not set-up. */
	OK(store_sqlite_open(db, &st, NULL));
	OK(st->ops->fleet_create(st, "acme", 1, &f->fleet, NULL));
	OK(st->ops->fleet_create(st, "other", 1, &f->other, NULL));
	enrol(st, f->fleet, f->dev, f->dev_id, "accepted");
	enrol(st, f->fleet, f->dev2, f->dev2_id, "accepted");
	OK(upk_key_to_tuf(f->owner, &tuf, NULL));
	OK(st->ops->owner_key_put(st, f->fleet, f->owner_id, tuf, "operator", 1, NULL));
	json_decref(tuf);
	store_close(st);
	OK(config_init(&cfg, NULL));
	OK(config_set(&cfg, "database", db, NULL));
	OK(config_set(&cfg, "data_dir", data, NULL));
	OK(config_set(&cfg, "port", "0", NULL));
	OK(config_set(&cfg, "log_level", "warn", NULL));
	OK(server_start(&cfg, &f->srv, NULL));
	f->st = f->srv->store;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	server_stop(f->srv);
	upk_key_free(f->dev);
	upk_key_free(f->dev2);
	upk_key_free(f->owner);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f);
	return 0;
}

static long checkin(struct fx *f, const char *fleet, const struct upk_key *key)
{
	char path[256];
	struct tresp r;
	long status;

	snprintf(path, sizeof(path), "/v1/fleets/%s/checkin", fleet);
	status = tu_srv_call(f->srv->port, "POST", path, key, "{\"free_space\":5}", &r);
	tresp_clear(&r);
	return status;
}

static void test_device_status_and_fleet(void **state)
{
	struct fx *f = *state;

	assert_int_equal(checkin(f, "acme", f->dev), 200);
	assert_int_equal(checkin(f, "acme", f->dev), 200); /* now from the cache */
	OK(f->st->ops->device_set_status(f->st, f->fleet, f->dev_id, "rejected", NULL));
	assert_int_equal(checkin(f, "acme", f->dev), 403);
	OK(f->st->ops->device_set_status(f->st, f->fleet, f->dev_id, "accepted", NULL));
	assert_int_equal(checkin(f, "acme", f->dev), 200);
	/* Known in acme only: the same key means nothing to the other fleet. */
	assert_int_equal(checkin(f, "other", f->dev), 401);
	enrol(f->st, f->other, f->dev, f->dev_id, "rejected");
	assert_int_equal(checkin(f, "other", f->dev), 403);
	assert_int_equal(checkin(f, "acme", f->dev), 200);
}

static void test_replaced_key(void **state)
{
	struct fx *f = *state;
	json_t *tuf = NULL;

	assert_int_equal(checkin(f, "acme", f->dev2), 200);
	/* The row of dev2 now holds dev's key: its id no longer matches, dev2 is refused. */
	OK(upk_key_to_tuf(f->dev, &tuf, NULL));
	{
		/* Another process's write, as an operator's sqlite3 shell would make it. */
		char *text = json_dumps(tuf, JSON_COMPACT | JSON_SORT_KEYS), db[4200];
		sqlite3 *h = NULL;
		sqlite3_stmt *stmt = NULL;

		snprintf(db, sizeof(db), "%s/s.db", f->tmp);
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		sqlite3_busy_timeout(h, 5000);
		assert_int_equal(sqlite3_prepare_v2(h, "UPDATE devices SET public_key = ? WHERE id = ?",
						    -1, &stmt, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(stmt, 1, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(stmt, 2, f->dev2_id, -1, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
		assert_int_equal(sqlite3_changes(h), 1);
		sqlite3_finalize(stmt);
		sqlite3_close(h);
		free(text);
	}
	json_decref(tuf);
	assert_int_equal(checkin(f, "acme", f->dev2), 401);
}

static void test_owner_role_read_each_time(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct tresp r;
	json_t *tuf = NULL;

	snprintf(path, sizeof(path), "/v1/fleets/acme/devices/%s/reject", f->dev_id);
	assert_int_equal(tu_srv_call(f->srv->port, "POST", path, f->owner, NULL, &r), 200);
	tresp_clear(&r);
	OK(f->st->ops->owner_key_delete(f->st, f->fleet, f->owner_id, NULL));
	OK(upk_key_to_tuf(f->owner, &tuf, NULL));
	OK(f->st->ops->owner_key_put(f->st, f->fleet, f->owner_id, tuf, "viewer", 2, NULL));
	json_decref(tuf);
	assert_int_equal(tu_srv_call(f->srv->port, "POST", path, f->owner, NULL, &r), 403);
	tresp_clear(&r);
	assert_int_equal(tu_srv_call(f->srv->port, "GET", "/v1/fleets/acme/keys", f->owner, NULL,
				     &r),
			 200);
	tresp_clear(&r);
	OK(f->st->ops->owner_key_delete(f->st, f->fleet, f->owner_id, NULL));
	assert_int_equal(tu_srv_call(f->srv->port, "GET", "/v1/fleets/acme/keys", f->owner, NULL,
				     &r),
			 401);
	tresp_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_device_status_and_fleet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_role_read_each_time, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
