/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deferred check-ins in the SQLite store (store.h device_seen): visible to
 * reads at once, on disk after a flush or close, and a flushed batch never
 * comes back: the writer reuses its tables, and a value written once must
 * not be written again over a newer synchronous one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"

#define OK(x) assert_int_equal((x), UPK_OK)

static const char *const DEV[] = {"d1", "d2", "d3"};

static int64_t column(struct store *st, int64_t fleet, const char *id, const char *name)
{
	json_t *row = NULL;
	int64_t v;

	OK(st->ops->device_get(st, fleet, id, &row, NULL));
	v = json_is_integer(json_object_get(row, name)) ? json_integer_value(json_object_get(row, name))
							  : -1;
	json_decref(row);
	return v;
}

static void test_deferred_then_durable(void **state)
{
	char *tmp = tu_mkdtemp(), db[4200];
	struct store *st = NULL;
	json_t *key = json_pack("{s:s}", "keytype", "ed25519"), *empty = json_object();
	int64_t fleet = 0;

	(void)state;
	snprintf(db, sizeof(db), "%s/seen.db", tmp);
	OK(store_sqlite_open(db, &st, NULL));
	OK(st->ops->fleet_create(st, "f", 1, &fleet, NULL));
	for (size_t i = 0; i < 3; i++)
		OK(st->ops->device_enrol(st, fleet, DEV[i], key, "hw", empty, "accepted", empty, 1,
					 NULL));
	/* Round 1: seen, read back at once, before any write. */
	OK(st->ops->device_seen(st, fleet, "d2", 500, 1000, NULL));
	assert_int_equal(column(st, fleet, "d2", "last_seen"), 1000);
	assert_int_equal(column(st, fleet, "d2", "free_space"), 500);
	assert_int_equal(column(st, fleet, "d1", "last_seen"), -1);
	OK(st->ops->flush(st, NULL));
	/* A synchronous check-in after the flush has the newer free space. */
	OK(st->ops->device_checkin(st, fleet, "d2", NULL, NULL, 600, NULL, 1100, NULL));
	/* Rounds 2 and 3 reuse the writer's tables, round 1's last. */
	OK(st->ops->device_seen(st, fleet, "d1", -1, 1200, NULL));
	OK(st->ops->flush(st, NULL));
	OK(st->ops->device_seen(st, fleet, "d3", 700, 1300, NULL));
	OK(st->ops->device_seen(st, fleet, "d3", -1, 1250, NULL)); /* older: kept newest */
	OK(st->ops->flush(st, NULL));
	assert_int_equal(column(st, fleet, "d2", "free_space"), 600);
	assert_int_equal(column(st, fleet, "d2", "last_seen"), 1100);
	/* Deferred values again, then close: the close writes them. */
	OK(st->ops->device_seen(st, fleet, "d1", 800, 1400, NULL));
	store_close(st);
	OK(store_sqlite_open(db, &st, NULL));
	assert_int_equal(column(st, fleet, "d1", "last_seen"), 1400);
	assert_int_equal(column(st, fleet, "d1", "free_space"), 800);
	assert_int_equal(column(st, fleet, "d2", "free_space"), 600);
	assert_int_equal(column(st, fleet, "d3", "last_seen"), 1300);
	assert_int_equal(column(st, fleet, "d3", "free_space"), 700);
	store_close(st);
	json_decref(key);
	json_decref(empty);
	tu_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred_then_durable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
