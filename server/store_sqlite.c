/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of struct store: one file, WAL journal with
 * synchronous=FULL (an acknowledged write survives power loss), schema
 * migrations, and one connection serialised by a recursive mutex so that a
 * thread's begin()..commit() sees nobody else's writes in between. Check-ins
 * that only say "still here" are deferred and written in batches (device_seen)
 * so that the common request costs no fsync; prepared statements are cached.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "schema_sqlite.h"
#include "store.h"
#include "upkeep/crypto.h"

/* One deferred check-in: the newest last_seen and free_space of a device. */
struct seen {
	int64_t fleet;
	int64_t free_space;
	int64_t at;
	int used;
	char id[UPK_KEYID_HEX_LEN + 1];
};

/* A power of two; a table three-quarters full is written at once. */
#define SEEN_CAP 16384u
/* Prepared statements kept, keyed by the address of their SQL literal: room for all of them. */
#define STMT_CACHE 256u

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct sq {
	struct store base;
	sqlite3 *db;
	pthread_mutex_t mu;
	struct stmt_slot cache[STMT_CACHE];
	/*
	 * Deferred check-ins under their own lock, so that a check-in never
	 * waits for someone's transaction. Lock order: mu, then seen_mu.
	 */
	pthread_mutex_t seen_mu;
	pthread_cond_t seen_cv;
	struct seen *seen;
	size_t seen_n;
	struct seen *spare; /* an empty table for the next flush to swap in; under mu */
	pthread_t flusher;
	int flusher_started;
	int stopping;
};

static struct sq *SQ(struct store *st)
{
	return (struct sq *)st;
}

static upk_status db_error(struct sq *s, int rc, const char *what, struct upk_error *err)
{
	int ext = sqlite3_extended_errcode(s->db);

	/* Extended result codes are on: compare the primary code in the low byte. */
	rc &= 0xff;
	if (rc == SQLITE_CONSTRAINT &&
	    (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE))
		return upk_error_set(err, UPK_ERR_EXISTS, "%s: already exists", what);
	if (rc == SQLITE_CONSTRAINT)
		return upk_error_set(err, UPK_ERR_INVALID, "%s: %s", what, sqlite3_errmsg(s->db));
	if (rc == SQLITE_NOMEM)
		return upk_error_set(err, UPK_ERR_NOMEM, "%s: out of memory", what);
	return upk_error_set(err, UPK_ERR_IO, "%s: database: %s", what, sqlite3_errmsg(s->db));
}

/*
 * Bind by a format: 'i' int64, 's' string (NULL binds NULL), 'j' json_t
 * (stored compact with sorted keys; NULL binds NULL), 'b' blob (ptr, size_t).
 */
/*
 * The cache slot of the SQL literal sql: open addressing by its address, so
 * every literal of this file keeps a slot of its own (a literal that had to
 * share one would be parsed again on every use). NULL when the table is full.
 */
static struct stmt_slot *stmt_slot(struct sq *s, const char *sql)
{
	size_t h = (size_t)(((uintptr_t)sql >> 3) * 0x9e3779b97f4a7c15ull);

	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *e = &s->cache[(h + i) % STMT_CACHE];

		if (e->sql == sql)
			return e;
		if (e->sql == NULL) {
			e->sql = sql;
			return e;
		}
	}
	return NULL;
}

/*
 * A statement for sql, from the cache when this literal was prepared before
 * (parsing SQL costs more than running the short queries of a check-in).
 * Callers hold s->mu and give it back with release().
 */
static int get_stmt(struct sq *s, const char *sql, sqlite3_stmt **out)
{
	struct stmt_slot *e = stmt_slot(s, sql);

	if (e != NULL && e->stmt != NULL) {
		*out = e->stmt;
		e->stmt = NULL; /* taken: a nested use prepares its own */
		return SQLITE_OK;
	}
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
}

/* Give a statement back to the cache (or finalize it when its slot is busy). */
static void release(struct sq *s, const char *sql, sqlite3_stmt *stmt)
{
	struct stmt_slot *e;

	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	e = stmt_slot(s, sql);
	if (e != NULL && e->stmt == NULL) {
		e->stmt = stmt;
		return;
	}
	sqlite3_finalize(stmt);
}

static upk_status prepare(struct sq *s, const char *sql, const char *fmt, va_list ap,
			  sqlite3_stmt **out, struct upk_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc = get_stmt(s, sql, &stmt);

	if (rc != SQLITE_OK)
		return db_error(s, rc, "prepare", err);
	for (int i = 0; fmt[i] != '\0'; i++) {
		int idx = i + 1;

		switch (fmt[i]) {
		case 'i':
			rc = sqlite3_bind_int64(stmt, idx, va_arg(ap, int64_t));
			break;
		case 's': {
			const char *v = va_arg(ap, const char *);

			rc = v == NULL ? sqlite3_bind_null(stmt, idx)
				       : sqlite3_bind_text(stmt, idx, v, -1, SQLITE_TRANSIENT);
			break;
		}
		case 'j': {
			const json_t *j = va_arg(ap, const json_t *);
			char *text;

			if (j == NULL) {
				rc = sqlite3_bind_null(stmt, idx);
				break;
			}
			text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
			if (text == NULL) {
				release(s, sql, stmt);
				return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			}
			rc = sqlite3_bind_text(stmt, idx, text, -1, free);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);

			rc = sqlite3_bind_blob64(stmt, idx, p, n, SQLITE_TRANSIENT);
			break;
		}
		default:
			rc = SQLITE_MISUSE;
		}
		if (rc != SQLITE_OK) {
			upk_status ret = db_error(s, rc, "bind", err);

			release(s, sql, stmt);
			return ret;
		}
	}
	*out = stmt;
	return UPK_OK;
}

/* Run a statement without rows; *changes (may be NULL) gets the rows touched. */
static upk_status exec(struct sq *s, int *changes, struct upk_error *err, const char *sql,
		       const char *fmt, ...)
{
	sqlite3_stmt *stmt = NULL;
	upk_status ret;
	va_list ap;
	int rc;

	pthread_mutex_lock(&s->mu);
	va_start(ap, fmt);
	ret = prepare(s, sql, fmt, ap, &stmt, err);
	va_end(ap);
	if (ret != UPK_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ret = db_error(s, rc, "write", err);
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes(s->db);
out:
	release(s, sql, stmt);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static int is_json_column(const char *name)
{
	static const char *const COLS[] = {"public_key", "attributes", "tags", "installed",
					   "target", "detail", "phases"};

	for (size_t i = 0; i < sizeof(COLS) / sizeof(COLS[0]); i++)
		if (strcmp(name, COLS[i]) == 0)
			return 1;
	return 0;
}

static upk_status row_to_json(sqlite3_stmt *stmt, json_t **out, struct upk_error *err)
{
	json_t *obj = json_object();
	int n = sqlite3_column_count(stmt);

	if (obj == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (int c = 0; c < n; c++) {
		const char *name = sqlite3_column_name(stmt, c);
		json_t *v = NULL;

		switch (sqlite3_column_type(stmt, c)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(stmt, c));
			break;
		case SQLITE_TEXT: {
			const char *t = (const char *)sqlite3_column_text(stmt, c);

			if (is_json_column(name))
				v = json_loads(t, JSON_DECODE_ANY, NULL);
			else
				v = json_string(t);
			break;
		}
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			continue; /* blobs are read by meta_get only */
		}
		if (v == NULL || json_object_set_new(obj, name, v) != 0) {
			json_decref(obj);
			return upk_error_set(err, UPK_ERR_NOMEM, "column %s: cannot convert", name);
		}
	}
	*out = obj;
	return UPK_OK;
}

/* All rows as an array of objects. */
static upk_status rows(struct sq *s, json_t **out, struct upk_error *err, const char *sql,
		       const char *fmt, ...)
{
	sqlite3_stmt *stmt = NULL;
	json_t *arr = json_array();
	upk_status ret;
	va_list ap;
	int rc;

	if (arr == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&s->mu);
	va_start(ap, fmt);
	ret = prepare(s, sql, fmt, ap, &stmt, err);
	va_end(ap);
	if (ret != UPK_OK)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *row = NULL;

		ret = row_to_json(stmt, &row, err);
		if (ret != UPK_OK)
			goto out;
		json_array_append_new(arr, row);
	}
	if (rc != SQLITE_DONE)
		ret = db_error(s, rc, "read", err);
out:
	release(s, sql, stmt);
	pthread_mutex_unlock(&s->mu);
	if (ret == UPK_OK)
		*out = arr;
	else
		json_decref(arr);
	return ret;
}

/* The first row, or UPK_ERR_NOT_FOUND naming what. */
static upk_status row1(struct sq *s, const char *what, json_t **out, struct upk_error *err,
		       const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *stmt = NULL;
	upk_status ret;
	va_list ap;
	int rc;

	pthread_mutex_lock(&s->mu);
	va_start(ap, fmt);
	ret = prepare(s, sql, fmt, ap, &stmt, err);
	va_end(ap);
	if (ret != UPK_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		ret = row_to_json(stmt, out, err);
	else if (rc == SQLITE_DONE)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "%s not found", what);
	else
		ret = db_error(s, rc, "read", err);
out:
	release(s, sql, stmt);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status plain(struct sq *s, const char *sql, struct upk_error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		upk_status ret = upk_error_set(err, UPK_ERR_IO, "database: %s: %s", sql,
					       msg != NULL ? msg : sqlite3_errstr(rc));

		sqlite3_free(msg);
		return ret;
	}
	return UPK_OK;
}

/* ---- transactions ---- */

static upk_status sq_begin(struct store *st, struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	ret = plain(s, "BEGIN IMMEDIATE", err);
	if (ret != UPK_OK)
		pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_commit(struct store *st, struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret = plain(s, "COMMIT", err);

	if (ret != UPK_OK)
		plain(s, "ROLLBACK", NULL);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static void sq_rollback(struct store *st)
{
	struct sq *s = SQ(st);

	plain(s, "ROLLBACK", NULL);
	pthread_mutex_unlock(&s->mu);
}

/* A savepoint makes a multi-statement operation atomic inside or outside begin(). */
static upk_status sp_begin(struct sq *s, struct upk_error *err)
{
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	ret = plain(s, "SAVEPOINT op", err);
	if (ret != UPK_OK)
		pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sp_end(struct sq *s, upk_status ret, struct upk_error *err)
{
	if (ret != UPK_OK)
		plain(s, "ROLLBACK TO op", NULL);
	if (plain(s, "RELEASE op", ret == UPK_OK ? err : NULL) != UPK_OK && ret == UPK_OK)
		ret = UPK_ERR_IO;
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* ---- key sets, fleets, owner keys, online keys ---- */

static upk_status sq_keyset_put(struct store *st, const char *id, const char *creator,
				const char *secret, int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO keysets (id, creator, secret, created_at) VALUES (?, ?, ?, ?)",
		    "sssi", id, creator, secret, now);
}

static upk_status sq_keyset_take(struct store *st, const char *id, const char *creator,
				 char **secret, struct upk_error *err)
{
	struct sq *s = SQ(st);
	json_t *row = NULL;
	upk_status ret = sp_begin(s, err);

	if (ret != UPK_OK)
		return ret;
	/* Only the creator that asked for the key set may use it. */
	ret = row1(s, "key set", &row, err, "SELECT secret FROM keysets WHERE id = ? AND creator = ?",
		   "ss", id, creator);
	if (ret == UPK_OK)
		ret = exec(s, NULL, err, "DELETE FROM keysets WHERE id = ?", "s", id);
	if (ret == UPK_OK) {
		*secret = strdup(json_string_value(json_object_get(row, "secret")));
		if (*secret == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	json_decref(row);
	return sp_end(s, ret, err);
}

static upk_status sq_fleet_create(struct store *st, const char *name, int64_t now, int64_t *id,
				  struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	ret = exec(s, NULL, err, "INSERT INTO fleets (name, created_at) VALUES (?, ?)", "si", name,
		   now);
	if (ret == UPK_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	else if (ret == UPK_ERR_EXISTS)
		upk_error_set(err, UPK_ERR_EXISTS, "fleet \"%s\" already exists", name);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_fleet_get(struct store *st, const char *name, json_t **row,
			       struct upk_error *err)
{
	return row1(SQ(st), "fleet", row, err, "SELECT id, name, created_at FROM fleets WHERE name = ?",
		    "s", name);
}

static upk_status sq_fleet_list(struct store *st, json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err, "SELECT id, name, created_at FROM fleets ORDER BY id", "");
}

static upk_status sq_owner_key_put(struct store *st, int64_t fleet, const char *keyid,
				   const json_t *public_key, const char *role, int64_t now,
				   struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO owner_keys (fleet_id, keyid, public_key, role, created_at) "
		    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (fleet_id, keyid) DO UPDATE SET role = "
		    "excluded.role",
		    "isjsi", fleet, keyid, public_key, role, now);
}

static upk_status sq_owner_key_get(struct store *st, int64_t fleet, const char *keyid,
				   json_t **row, struct upk_error *err)
{
	return row1(SQ(st), "owner key", row, err,
		    "SELECT keyid, public_key, role, created_at FROM owner_keys "
		    "WHERE fleet_id = ? AND keyid = ?",
		    "is", fleet, keyid);
}

static upk_status sq_owner_key_list(struct store *st, int64_t fleet, json_t **out,
				    struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT keyid, public_key, role, created_at FROM owner_keys WHERE fleet_id = ? "
		    "ORDER BY created_at, keyid",
		    "i", fleet);
}

static upk_status sq_owner_key_delete(struct store *st, int64_t fleet, const char *keyid,
				      struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "DELETE FROM owner_keys WHERE fleet_id = ? AND keyid = ?", "is",
			      fleet, keyid);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "owner key %s not found", keyid);
	return ret;
}

static upk_status sq_online_key_put(struct store *st, int64_t fleet, const char *repo,
				    const char *role, const char *keyid, const char *pem,
				    struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO online_keys (fleet_id, repo, role, keyid, pem) VALUES (?, ?, ?, ?, ?)",
		    "issss", fleet, repo, role, keyid, pem);
}

static upk_status sq_online_key_list(struct store *st, int64_t fleet, const char *repo,
				     const char *role, json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT keyid, pem FROM online_keys WHERE fleet_id = ? AND repo = ? AND role = ? "
		    "ORDER BY keyid",
		    "iss", fleet, repo, role);
}

/* ---- metadata ---- */

static upk_status sq_meta_put(struct store *st, int64_t fleet, const char *repo,
			      const char *scope, const char *role, int64_t version, int64_t expires,
			      const void *body, size_t len, int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO metadata (fleet_id, repo, scope, role, version, expires, body, "
		    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		    "isssiibi", fleet, repo, scope, role, version, expires, body, len, now);
}

static upk_status sq_meta_get(struct store *st, int64_t fleet, const char *repo,
			      const char *scope, const char *role, int64_t version, char **body,
			      size_t *len, int64_t *version_out, struct upk_error *err)
{
	struct sq *s = SQ(st);
	sqlite3_stmt *stmt = NULL;
	upk_status ret;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = sqlite3_prepare_v2(
		s->db,
		version > 0 ? "SELECT body, version FROM metadata WHERE fleet_id = ?1 AND repo = ?2 "
			      "AND scope = ?3 AND role = ?4 AND version = ?5"
			    : "SELECT body, version FROM metadata WHERE fleet_id = ?1 AND repo = ?2 "
			      "AND scope = ?3 AND role = ?4 ORDER BY version DESC LIMIT 1",
		-1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		ret = db_error(s, rc, "prepare", err);
		goto out;
	}
	sqlite3_bind_int64(stmt, 1, fleet);
	sqlite3_bind_text(stmt, 2, repo, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, role, -1, SQLITE_STATIC);
	if (version > 0)
		sqlite3_bind_int64(stmt, 5, version);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "%s metadata %s not found", repo, role);
	} else if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(stmt, 0);
		const void *p = sqlite3_column_blob(stmt, 0);
		char *copy = malloc(n + 1);

		if (copy == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (n > 0)
			memcpy(copy, p, n);
		copy[n] = '\0';
		*body = copy;
		if (len != NULL)
			*len = n;
		if (version_out != NULL)
			*version_out = sqlite3_column_int64(stmt, 1);
		ret = UPK_OK;
	} else {
		ret = db_error(s, rc, "read", err);
	}
out:
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_meta_latest(struct store *st, int64_t fleet, const char *repo,
				 const char *scope, json_t **out, struct upk_error *err)
{
	/* SQLite takes the bare column expires from the row holding MAX(version). */
	return rows(SQ(st), out, err,
		    "SELECT role, MAX(version) AS version, expires FROM metadata "
		    "WHERE fleet_id = ? AND repo = ? AND scope = ? GROUP BY role ORDER BY role",
		    "iss", fleet, repo, scope);
}

static upk_status sq_meta_expiring(struct store *st, const char *repo, const char *role,
				   int64_t before, int64_t limit, json_t **out,
				   struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT * FROM (SELECT fleet_id, scope, MAX(version) AS version, expires "
		    "FROM metadata WHERE repo = ? AND role = ? GROUP BY fleet_id, scope) "
		    "WHERE expires < ? ORDER BY expires LIMIT ?",
		    "ssii", repo, role, before, limit > 0 ? limit : 1000);
}

/* ---- payloads ---- */

static upk_status sq_payload_put(struct store *st, int64_t fleet, const char *path,
				 int64_t length, const char *sha256, const char *sha512,
				 const char *file, int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO payloads (fleet_id, path, length, sha256, sha512, file, created_at) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fleet_id, path, file) DO NOTHING",
		    "isisssi", fleet, path, length, sha256, sha512, file, now);
}

static upk_status sq_payload_find(struct store *st, int64_t fleet, const char *path,
				  const char *hash, json_t **row, struct upk_error *err)
{
	return row1(SQ(st), "payload", row, err,
		    "SELECT path, length, sha256, sha512, file, created_at FROM payloads "
		    "WHERE fleet_id = ? AND path = ? AND (sha256 = ?3 OR sha512 = ?3)",
		    "iss", fleet, path, hash);
}

/* ---- devices ---- */

#define DEVICE_COLS                                                                                \
	"id, public_key, status, hardware_id, attributes, tags, installed, free_space, "          \
	"enrolled_at, last_seen, moved_to"

static upk_status sq_device_enrol(struct store *st, int64_t fleet, const char *id,
				  const json_t *public_key, const char *hardware_id,
				  const json_t *attributes, const char *status, const json_t *tags,
				  int64_t now, struct upk_error *err)
{
	upk_status ret = exec(SQ(st), NULL, err,
			      "INSERT INTO devices (fleet_id, id, public_key, status, hardware_id, "
			      "attributes, tags, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			      "isjssjji", fleet, id, public_key, status, hardware_id, attributes,
			      tags, now);

	if (ret == UPK_ERR_EXISTS)
		upk_error_set(err, UPK_ERR_EXISTS, "device %s is already enrolled", id);
	return ret;
}

/* ---- deferred check-ins ---- */

static size_t seen_slot(int64_t fleet, const char *id)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)fleet;

	for (const char *p = id; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)(h & (SEEN_CAP - 1));
}

/* The entry of (fleet, id), or the free slot where it would go. Under seen_mu. */
static struct seen *seen_find(struct sq *s, int64_t fleet, const char *id)
{
	size_t i = seen_slot(fleet, id);

	for (;;) {
		struct seen *e = &s->seen[i];

		if (!e->used || (e->fleet == fleet && strcmp(e->id, id) == 0))
			return e;
		i = (i + 1) & (SEEN_CAP - 1);
	}
}

/*
 * Write every deferred check-in. Holds mu for the whole time, so readers
 * (who hold mu while they overlay) see each value either deferred or
 * written, never neither. in_txn: part of the caller's transaction.
 */
static upk_status seen_flush(struct sq *s, int in_txn, struct upk_error *err)
{
	static const char SQL[] = "UPDATE devices SET last_seen = MAX(COALESCE(last_seen, 0), ?1), "
				  "free_space = CASE WHEN ?2 >= 0 THEN ?2 ELSE free_space END "
				  "WHERE fleet_id = ?3 AND id = ?4";
	struct seen *batch = NULL;
	sqlite3_stmt *stmt = NULL;
	upk_status ret = UPK_OK;
	size_t n;
	int rc;

	pthread_mutex_lock(&s->mu);
	pthread_mutex_lock(&s->seen_mu);
	n = s->seen_n;
	if (n > 0) {
		/* Swap in the empty spare: check-ins wait for no allocation or clearing. */
		batch = s->seen;
		s->seen = s->spare;
		s->spare = NULL;
		s->seen_n = 0;
	}
	pthread_mutex_unlock(&s->seen_mu);
	if (n == 0) {
		pthread_mutex_unlock(&s->mu);
		return UPK_OK;
	}
	if (!in_txn)
		ret = plain(s, "BEGIN IMMEDIATE", err);
	if (ret == UPK_OK) {
		rc = get_stmt(s, SQL, &stmt);
		if (rc != SQLITE_OK)
			ret = db_error(s, rc, "prepare", err);
	}
	for (size_t i = 0; ret == UPK_OK && i < SEEN_CAP; i++) {
		struct seen *e = &batch[i];

		if (!e->used)
			continue;
		sqlite3_bind_int64(stmt, 1, e->at);
		sqlite3_bind_int64(stmt, 2, e->free_space);
		sqlite3_bind_int64(stmt, 3, e->fleet);
		sqlite3_bind_text(stmt, 4, e->id, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			ret = db_error(s, rc, "deferred check-ins", err);
		memset(e, 0, sizeof(*e));
	}
	release(s, SQL, stmt);
	/* Emptied (all of it after a failure), the batch is the next spare. */
	if (ret != UPK_OK)
		memset(batch, 0, SEEN_CAP * sizeof(*batch));
	s->spare = batch;
	if (!in_txn) {
		if (ret == UPK_OK)
			ret = plain(s, "COMMIT", err);
		if (ret != UPK_OK)
			plain(s, "ROLLBACK", NULL);
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_device_seen(struct store *st, int64_t fleet, const char *id,
				 int64_t free_space, int64_t now, struct upk_error *err)
{
	struct sq *s = SQ(st);
	struct seen *e;
	int full;

	if (strlen(id) > UPK_KEYID_HEX_LEN)
		return upk_error_set(err, UPK_ERR_INVALID, "device id too long");
	pthread_mutex_lock(&s->seen_mu);
	e = seen_find(s, fleet, id);
	if (!e->used) {
		e->used = 1;
		e->fleet = fleet;
		snprintf(e->id, sizeof(e->id), "%s", id);
		e->free_space = -1;
		e->at = 0; /* a slot emptied by seen_drop keeps its old values */
		s->seen_n++;
	}
	if (now > e->at)
		e->at = now;
	if (free_space >= 0)
		e->free_space = free_space;
	full = s->seen_n >= SEEN_CAP / 4 * 3;
	pthread_mutex_unlock(&s->seen_mu);
	/* A full table is written by the caller that filled it: the bound holds under any load. */
	return full ? seen_flush(s, 0, err) : UPK_OK;
}

static upk_status sq_flush(struct store *st, struct upk_error *err)
{
	return seen_flush(SQ(st), 0, err);
}

/* Put a deferred check-in over a device row. Under mu. */
static void seen_overlay(struct sq *s, int64_t fleet, json_t *row)
{
	const char *id = json_string_value(json_object_get(row, "id"));
	struct seen *e;

	if (id == NULL || strlen(id) > UPK_KEYID_HEX_LEN)
		return;
	pthread_mutex_lock(&s->seen_mu);
	if (s->seen_n > 0) {
		e = seen_find(s, fleet, id);
		if (e->used) {
			json_t *ls = json_object_get(row, "last_seen");

			if (!json_is_integer(ls) || json_integer_value(ls) < e->at)
				json_object_set_new(row, "last_seen", json_integer(e->at));
			if (e->free_space >= 0)
				json_object_set_new(row, "free_space", json_integer(e->free_space));
		}
	}
	pthread_mutex_unlock(&s->seen_mu);
}

/*
 * Forget a deferred check-in of a device whose row is being written in
 * full, so an older deferred free_space cannot overwrite a newer one.
 */
static void seen_drop(struct sq *s, int64_t fleet, const char *id)
{
	struct seen *e;

	pthread_mutex_lock(&s->seen_mu);
	if (s->seen_n > 0 && strlen(id) <= UPK_KEYID_HEX_LEN) {
		e = seen_find(s, fleet, id);
		if (e->used) {
			/* Re-insert the rest of the probe run so lookups still find them. */
			size_t i = (size_t)(e - s->seen);

			e->used = 0;
			s->seen_n--;
			for (size_t j = (i + 1) & (SEEN_CAP - 1); s->seen[j].used;
			     j = (j + 1) & (SEEN_CAP - 1)) {
				struct seen tmp = s->seen[j], *to;

				s->seen[j].used = 0;
				to = seen_find(s, tmp.fleet, tmp.id);
				*to = tmp;
			}
		}
	}
	pthread_mutex_unlock(&s->seen_mu);
}

static void *flusher_main(void *arg)
{
	struct sq *s = arg;

	pthread_mutex_lock(&s->seen_mu);
	while (!s->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)STORE_SEEN_DELAY_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->seen_cv, &s->seen_mu, &until) == 0)
			;
		if (s->stopping || s->seen_n == 0)
			continue;
		pthread_mutex_unlock(&s->seen_mu);
		{
			struct upk_error err = {0};

			/* A failure leaves the values deferred no longer: they are lost, like a crash would lose them. */
			(void)seen_flush(s, 0, &err);
		}
		pthread_mutex_lock(&s->seen_mu);
	}
	pthread_mutex_unlock(&s->seen_mu);
	return NULL;
}

static upk_status sq_device_get(struct store *st, int64_t fleet, const char *id, json_t **row,
				struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	ret = row1(s, "device", row, err,
		   "SELECT " DEVICE_COLS " FROM devices WHERE fleet_id = ? AND id = ?", "is", fleet,
		   id);
	if (ret == UPK_OK)
		seen_overlay(s, fleet, *row);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_device_list(struct store *st, int64_t fleet, const char *status,
				 json_t **out, struct upk_error *err)
{
	struct sq *s = SQ(st);
	json_t *row;
	upk_status ret;
	size_t i;

	pthread_mutex_lock(&s->mu);
	ret = rows(s, out, err,
		   "SELECT " DEVICE_COLS " FROM devices WHERE fleet_id = ? AND "
		   "(?2 IS NULL OR status = ?2) ORDER BY enrolled_at, id",
		   "is", fleet, status);
	if (ret == UPK_OK)
		json_array_foreach(*out, i, row)
			seen_overlay(s, fleet, row);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status changed_one(upk_status ret, int n, const char *id, struct upk_error *err)
{
	if (ret == UPK_OK && n == 0)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "device %s not found", id);
	return ret;
}

static upk_status sq_device_set_status(struct store *st, int64_t fleet, const char *id,
				       const char *status, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "UPDATE devices SET status = ? WHERE fleet_id = ? AND id = ?", "sis",
			      status, fleet, id);

	return changed_one(ret, n, id, err);
}

static upk_status sq_device_set_tags(struct store *st, int64_t fleet, const char *id,
				     const json_t *tags, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "UPDATE devices SET tags = ? WHERE fleet_id = ? AND id = ?", "jis",
			      tags, fleet, id);

	return changed_one(ret, n, id, err);
}

static upk_status sq_device_checkin(struct store *st, int64_t fleet, const char *id,
				    const char *hardware_id, const json_t *installed,
				    int64_t free_space, const json_t *attributes, int64_t now,
				    struct upk_error *err)
{
	struct sq *s = SQ(st);
	int n = 0;
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	seen_drop(s, fleet, id);
	ret = exec(s, &n, err,
		   "UPDATE devices SET hardware_id = COALESCE(?, hardware_id), "
		   "installed = COALESCE(?, installed), "
		   "free_space = CASE WHEN ? >= 0 THEN ?3 ELSE free_space END, "
		   "attributes = COALESCE(?, attributes), last_seen = MAX(COALESCE(last_seen, 0), ?) "
		   "WHERE fleet_id = ? AND id = ?",
		   "sjijiis", hardware_id, installed, free_space, attributes, now, fleet, id);
	pthread_mutex_unlock(&s->mu);
	return changed_one(ret, n, id, err);
}

static upk_status sq_preauth_put(struct store *st, int64_t fleet, const char *device_id,
				 const json_t *tags, int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO preauth (fleet_id, device_id, tags, created_at) VALUES (?, ?, ?, ?) "
		    "ON CONFLICT (fleet_id, device_id) DO UPDATE SET tags = excluded.tags",
		    "isji", fleet, device_id, tags, now);
}

static upk_status sq_preauth_take(struct store *st, int64_t fleet, const char *device_id,
				  json_t **row, struct upk_error *err)
{
	struct sq *s = SQ(st);
	json_t *r = NULL;
	upk_status ret = sp_begin(s, err);

	if (ret != UPK_OK)
		return ret;
	ret = row1(s, "pre-authorisation", &r, err,
		   "SELECT device_id, tags, created_at FROM preauth WHERE fleet_id = ? AND "
		   "device_id = ?",
		   "is", fleet, device_id);
	if (ret == UPK_OK)
		ret = exec(s, NULL, err, "DELETE FROM preauth WHERE fleet_id = ? AND device_id = ?",
			   "is", fleet, device_id);
	ret = sp_end(s, ret, err);
	if (ret == UPK_OK)
		*row = r;
	else
		json_decref(r);
	return ret;
}

/* ---- deployments ---- */

#define DEPLOYMENT_COLS                                                                            \
	"d.id AS id, d.device_id AS device_id, d.rollout_id AS rollout_id, d.type AS type, "       \
	"d.target_path AS target_path, d.target AS target, d.state AS state, "                    \
	"d.reason AS reason, d.log_tail AS log_tail, d.created_at AS created_at, "                \
	"d.updated_at AS updated_at"

static upk_status sq_deployment_create(struct store *st, int64_t fleet, const char *device_id,
				       int64_t rollout_id, const char *type, const char *path,
				       const json_t *target, int64_t now, int64_t *id,
				       struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret = sp_begin(s, err);
	int64_t new_id = 0;

	if (ret != UPK_OK)
		return ret;
	ret = exec(s, NULL, err,
		   "INSERT INTO deployments (fleet_id, device_id, rollout_id, type, target_path, "
		   "target, state, created_at, updated_at) VALUES (?, ?, NULLIF(?, 0), ?, ?, ?, "
		   "'assigned', ?, ?)",
		   "isissjii", fleet, device_id, rollout_id, type, path, target, now, now);
	if (ret == UPK_OK) {
		new_id = sqlite3_last_insert_rowid(s->db);
		ret = exec(s, NULL, err,
			   "INSERT INTO assignments (fleet_id, device_id, type, deployment_id) "
			   "VALUES (?, ?, ?, ?) ON CONFLICT (fleet_id, device_id, type) DO UPDATE "
			   "SET deployment_id = excluded.deployment_id",
			   "issi", fleet, device_id, type, new_id);
	}
	ret = sp_end(s, ret, err);
	if (ret == UPK_OK)
		*id = new_id;
	return ret;
}

static upk_status sq_deployment_get(struct store *st, int64_t fleet, int64_t id, json_t **row,
				    struct upk_error *err)
{
	return row1(SQ(st), "deployment", row, err,
		    "SELECT " DEPLOYMENT_COLS " FROM deployments d WHERE d.fleet_id = ? AND d.id = ?",
		    "ii", fleet, id);
}

static upk_status sq_deployment_list(struct store *st, int64_t fleet, const char *device_id,
				     int64_t limit, json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT " DEPLOYMENT_COLS " FROM deployments d WHERE d.fleet_id = ? AND "
		    "d.device_id = ? ORDER BY d.id DESC LIMIT ?",
		    "isi", fleet, device_id, limit > 0 ? limit : 100);
}

static upk_status sq_deployment_report(struct store *st, int64_t fleet, int64_t id,
				       const char *state, const char *reason, const char *log_tail,
				       int64_t now, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "UPDATE deployments SET state = ?, reason = ?, log_tail = ?, "
			      "updated_at = ? WHERE fleet_id = ? AND id = ?",
			      "sssiii", state, reason, log_tail, now, fleet, id);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "deployment %lld not found",
				    (long long)id);
	return ret;
}

static upk_status sq_assignment_list(struct store *st, int64_t fleet, const char *device_id,
				     json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT " DEPLOYMENT_COLS " FROM assignments a JOIN deployments d ON "
		    "d.id = a.deployment_id WHERE a.fleet_id = ? AND a.device_id = ? ORDER BY a.type",
		    "is", fleet, device_id);
}

static upk_status sq_assignment_delete(struct store *st, int64_t fleet, const char *device_id,
				       const char *type, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "DELETE FROM assignments WHERE fleet_id = ? AND device_id = ? AND "
			      "type = ?",
			      "iss", fleet, device_id, type);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "device %s has no %s assignment",
				    device_id, type);
	return ret;
}

/* ---- rollouts and pins ---- */

#define ROLLOUT_COLS                                                                               \
	"id, fleet_id, name, target_path, type, selector, phases, failure_threshold, "            \
	"success_ratio, state, phase, phase_started_at, reason, created_by, created_at, "         \
	"updated_at"

static upk_status sq_rollout_create(struct store *st, int64_t fleet, const char *name,
				    const char *target_path, const char *type,
				    const char *selector, const json_t *phases,
				    int64_t failure_threshold, int64_t success_ratio,
				    const char *created_by, int64_t now, int64_t *id,
				    struct upk_error *err)
{
	struct sq *s = SQ(st);
	upk_status ret;

	pthread_mutex_lock(&s->mu);
	ret = exec(s, NULL, err,
		   "INSERT INTO rollouts (fleet_id, name, target_path, type, selector, phases, "
		   "failure_threshold, success_ratio, state, phase, phase_started_at, created_by, "
		   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', 0, ?, ?, ?, ?)",
		   "issssjiiisii", fleet, name, target_path, type, selector, phases,
		   failure_threshold, success_ratio, now, created_by, now, now);
	if (ret == UPK_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

static upk_status sq_rollout_get(struct store *st, int64_t fleet, int64_t id, json_t **row,
				 struct upk_error *err)
{
	return row1(SQ(st), "rollout", row, err,
		    "SELECT " ROLLOUT_COLS " FROM rollouts WHERE fleet_id = ? AND id = ?", "ii",
		    fleet, id);
}

static upk_status sq_rollout_list(struct store *st, int64_t fleet, json_t **out,
				  struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT " ROLLOUT_COLS " FROM rollouts WHERE fleet_id = ? ORDER BY id DESC", "i",
		    fleet);
}

static upk_status sq_rollout_update(struct store *st, int64_t fleet, int64_t id,
				    const char *state, int64_t phase, int64_t phase_started_at,
				    const char *reason, int64_t now, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "UPDATE rollouts SET state = ?, phase = ?, phase_started_at = ?, "
			      "reason = ?, updated_at = ? WHERE fleet_id = ? AND id = ?",
			      "siisiii", state, phase, phase_started_at, reason, now, fleet, id);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "rollout %lld not found", (long long)id);
	return ret;
}

static upk_status sq_rollout_running(struct store *st, json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT fleet_id, id FROM rollouts WHERE state = 'running' ORDER BY id", "");
}

static upk_status sq_rollout_deployments(struct store *st, int64_t fleet, int64_t id,
					 json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT " DEPLOYMENT_COLS " FROM deployments d WHERE d.fleet_id = ? AND "
		    "d.rollout_id = ? ORDER BY d.id",
		    "ii", fleet, id);
}

static upk_status sq_pin_put(struct store *st, int64_t fleet, const char *device_id,
			     const char *type, const char *target_path, const char *created_by,
			     int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO pins (fleet_id, device_id, type, target_path, created_by, "
		    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fleet_id, device_id, type) "
		    "DO UPDATE SET target_path = excluded.target_path, created_by = "
		    "excluded.created_by, created_at = excluded.created_at",
		    "issssi", fleet, device_id, type, target_path, created_by, now);
}

static upk_status sq_pin_list(struct store *st, int64_t fleet, const char *device_id,
			      json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT device_id, type, target_path, created_by, created_at FROM pins "
		    "WHERE fleet_id = ? AND (?2 IS NULL OR device_id = ?2) ORDER BY device_id, type",
		    "is", fleet, device_id);
}

static upk_status sq_pin_delete(struct store *st, int64_t fleet, const char *device_id,
				const char *type, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "DELETE FROM pins WHERE fleet_id = ? AND device_id = ? AND type = ?",
			      "iss", fleet, device_id, type);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "device %s has no %s pin", device_id,
				    type);
	return ret;
}

/* ---- audit ---- */

static upk_status sq_audit_append(struct store *st, int64_t fleet, const char *device_id,
				  const char *actor_kind, const char *actor, const char *action,
				  const json_t *detail, int64_t now, struct upk_error *err)
{
	json_t *empty = NULL;
	upk_status ret;

	if (detail == NULL)
		detail = empty = json_object();
	ret = exec(SQ(st), NULL, err,
		   "INSERT INTO audit (fleet_id, device_id, actor_kind, actor, action, detail, at) "
		   "VALUES (NULLIF(?, 0), ?, ?, ?, ?, ?, ?)",
		   "issssji", fleet, device_id, actor_kind, actor,
		   action, detail, now);
	json_decref(empty);
	return ret;
}

static upk_status sq_audit_query(struct store *st, int64_t fleet, const char *device_id,
				 int64_t after, int64_t limit, json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT id, fleet_id, device_id, actor_kind, actor, action, detail, at FROM audit "
		    "WHERE fleet_id = ? AND (?2 IS NULL OR device_id = ?2) AND id > ? "
		    "ORDER BY id LIMIT ?",
		    "isii", fleet, device_id, after, limit > 0 && limit <= 1000 ? limit : 1000);
}

/* ---- ownership transfer ---- */

static upk_status sq_device_transfer_in(struct store *st, int64_t to, int64_t from,
					const char *id, int64_t now, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "INSERT INTO devices (fleet_id, id, public_key, status, hardware_id, "
			      "attributes, tags, installed, free_space, enrolled_at) SELECT ?, id, "
			      "public_key, 'accepted', hardware_id, attributes, '{}', installed, "
			      "free_space, ? FROM devices WHERE fleet_id = ? AND id = ?",
			      "iiis", to, now, from, id);

	if (ret == UPK_ERR_EXISTS)
		upk_error_set(err, ret, "device %s is already in the new fleet", id);
	return changed_one(ret, n, id, err);
}

static upk_status sq_device_transfer_out(struct store *st, int64_t fleet, const char *id,
					 const char *moved_to, struct upk_error *err)
{
	int n = 0;
	upk_status ret = exec(SQ(st), &n, err,
			      "UPDATE devices SET status = 'transferred', moved_to = ? WHERE "
			      "fleet_id = ? AND id = ? AND status != 'transferred'",
			      "sis", moved_to, fleet, id);

	if (ret == UPK_OK && n == 0)
		ret = upk_error_set(err, UPK_ERR_EXISTS,
				    "device %s is not in the fleet or was transferred already", id);
	return ret;
}

/* ---- open / close ---- */

static void sq_close(struct store *st)
{
	struct sq *s = SQ(st);

	if (s == NULL)
		return;
	if (s->flusher_started) {
		pthread_mutex_lock(&s->seen_mu);
		s->stopping = 1;
		pthread_cond_signal(&s->seen_cv);
		pthread_mutex_unlock(&s->seen_mu);
		pthread_join(s->flusher, NULL);
	}
	if (s->db != NULL && s->seen != NULL) {
		struct upk_error err = {0};

		(void)seen_flush(s, 0, &err);
	}
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].stmt);
	/* A clean close checkpoints the WAL into the main file. */
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->seen_mu);
	pthread_cond_destroy(&s->seen_cv);
	free(s->seen);
	free(s->spare);
	free(s);
}

/* ---- claims ---- */

static upk_status sq_claim_put(struct store *st, int64_t fleet, const char *device_id,
			       const char *image_root, const char *director_root, const char *mac,
			       const char *created_by, int64_t now, struct upk_error *err)
{
	return exec(SQ(st), NULL, err,
		    "INSERT INTO claims (fleet_id, device_id, image_root, director_root, mac, "
		    "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
		    "ON CONFLICT (fleet_id, device_id) DO UPDATE SET image_root = "
		    "excluded.image_root, director_root = excluded.director_root, mac = excluded.mac, "
		    "created_by = excluded.created_by, created_at = excluded.created_at",
		    "isssssi", fleet, device_id, image_root, director_root, mac, created_by, now);
}

static upk_status sq_claim_list(struct store *st, const char *device_id, int64_t limit,
				json_t **out, struct upk_error *err)
{
	return rows(SQ(st), out, err,
		    "SELECT f.name AS fleet, c.device_id AS device_id, c.image_root AS image_root, "
		    "c.director_root AS director_root, c.mac AS mac, c.created_by AS created_by, "
		    "c.created_at AS created_at FROM claims c JOIN fleets f ON f.id = c.fleet_id "
		    "WHERE c.device_id = ? ORDER BY c.created_at DESC, c.fleet_id DESC LIMIT ?",
		    "si", device_id, limit);
}

static upk_status sq_claim_count(struct store *st, int64_t fleet, int64_t *n,
				 struct upk_error *err)
{
	json_t *r = NULL;
	upk_status ret = row1(SQ(st), "claim count", &r, err,
			      "SELECT COUNT(*) AS n FROM claims WHERE fleet_id = ?", "i", fleet);

	if (ret == UPK_OK)
		*n = json_integer_value(json_object_get(r, "n"));
	json_decref(r);
	return ret;
}

static upk_status sq_claim_delete(struct store *st, int64_t fleet, const char *device_id,
				  struct upk_error *err)
{
	return exec(SQ(st), NULL, err, "DELETE FROM claims WHERE fleet_id = ? AND device_id = ?",
		    "is", fleet, device_id);
}

static const struct store_ops SQLITE_OPS = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.keyset_put = sq_keyset_put,
	.keyset_take = sq_keyset_take,
	.fleet_create = sq_fleet_create,
	.fleet_get = sq_fleet_get,
	.fleet_list = sq_fleet_list,
	.owner_key_put = sq_owner_key_put,
	.owner_key_get = sq_owner_key_get,
	.owner_key_list = sq_owner_key_list,
	.owner_key_delete = sq_owner_key_delete,
	.online_key_put = sq_online_key_put,
	.online_key_list = sq_online_key_list,
	.meta_put = sq_meta_put,
	.meta_get = sq_meta_get,
	.meta_latest = sq_meta_latest,
	.meta_expiring = sq_meta_expiring,
	.payload_put = sq_payload_put,
	.payload_find = sq_payload_find,
	.device_enrol = sq_device_enrol,
	.device_get = sq_device_get,
	.device_list = sq_device_list,
	.device_set_status = sq_device_set_status,
	.device_set_tags = sq_device_set_tags,
	.device_checkin = sq_device_checkin,
	.preauth_put = sq_preauth_put,
	.preauth_take = sq_preauth_take,
	.deployment_create = sq_deployment_create,
	.deployment_get = sq_deployment_get,
	.deployment_list = sq_deployment_list,
	.deployment_report = sq_deployment_report,
	.assignment_list = sq_assignment_list,
	.assignment_delete = sq_assignment_delete,
	.audit_append = sq_audit_append,
	.audit_query = sq_audit_query,
	.device_seen = sq_device_seen,
	.flush = sq_flush,
	.rollout_create = sq_rollout_create,
	.rollout_get = sq_rollout_get,
	.rollout_list = sq_rollout_list,
	.rollout_update = sq_rollout_update,
	.rollout_running = sq_rollout_running,
	.rollout_deployments = sq_rollout_deployments,
	.pin_put = sq_pin_put,
	.pin_list = sq_pin_list,
	.pin_delete = sq_pin_delete,
	.claim_put = sq_claim_put,
	.claim_list = sq_claim_list,
	.claim_count = sq_claim_count,
	.claim_delete = sq_claim_delete,
	.device_transfer_in = sq_device_transfer_in,
	.device_transfer_out = sq_device_transfer_out,
};

static upk_status migrate(struct sq *s, struct upk_error *err)
{
	json_t *r = NULL;
	int64_t have = 0;
	upk_status ret;

	ret = plain(s,
		    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
		    "applied_at INTEGER NOT NULL)",
		    err);
	if (ret != UPK_OK)
		return ret;
	ret = row1(s, "migrations", &r, err,
		   "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", "");
	if (ret != UPK_OK)
		return ret;
	have = json_integer_value(json_object_get(r, "v"));
	json_decref(r);
	/* A database written by a newer server may hold what this one cannot honour. */
	if (have > (int64_t)sqlite_n_migrations)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "database schema version %lld is newer than this server's %zu",
				     (long long)have, sqlite_n_migrations);
	for (int64_t v = have + 1; v <= (int64_t)sqlite_n_migrations; v++) {
		ret = plain(s, "BEGIN IMMEDIATE", err);
		if (ret == UPK_OK)
			ret = plain(s, sqlite_migrations[v - 1], err);
		if (ret == UPK_OK)
			ret = exec(s, NULL, err,
				   "INSERT INTO schema_migrations (version, applied_at) VALUES "
				   "(?, strftime('%s', 'now'))",
				   "i", v);
		if (ret == UPK_OK)
			ret = plain(s, "COMMIT", err);
		if (ret != UPK_OK) {
			plain(s, "ROLLBACK", NULL);
			return upk_error_prefix(err, ret, "migration %lld: ", (long long)v);
		}
	}
	return UPK_OK;
}

upk_status store_sqlite_open(const char *path, struct store **out, struct upk_error *err)
{
	pthread_mutexattr_t attr;
	struct sq *s = calloc(1, sizeof(*s));
	upk_status ret;
	int fd, rc;

	if (s == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	s->base.ops = &SQLITE_OPS;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&s->seen_mu, NULL);
	pthread_cond_init(&s->seen_cv, NULL);
	s->seen = calloc(SEEN_CAP, sizeof(*s->seen));
	s->spare = calloc(SEEN_CAP, sizeof(*s->spare));
	if (s->seen == NULL || s->spare == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* Create the file ourselves so it is 0600 from the start: it holds online keys. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", path,
				    s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	/*
	 * WAL lets readers of other processes (backups) proceed during writes;
	 * synchronous=FULL fsyncs the WAL at every commit, so what the server
	 * acknowledged is on disk. foreign_keys catches handler bugs early.
	 */
	ret = plain(s, "PRAGMA journal_mode = WAL", err);
	if (ret == UPK_OK)
		ret = plain(s, "PRAGMA synchronous = FULL", err);
	if (ret == UPK_OK)
		ret = plain(s, "PRAGMA foreign_keys = ON", err);
	if (ret == UPK_OK)
		ret = migrate(s, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", path);
		goto fail;
	}
	if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "cannot start the check-in writer thread");
		goto fail;
	}
	s->flusher_started = 1;
	*out = &s->base;
	return UPK_OK;
fail:
	sq_close(&s->base);
	return ret;
}
