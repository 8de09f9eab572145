/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite schema, one migration per entry. Append only: a migration that
 * shipped is never edited, a change is a new entry. Each runs in its own
 * transaction with its version recorded in schema_migrations.
 */
#include "schema_sqlite.h"

const char *const sqlite_migrations[] = {
	/* 1: fleets, keys, repositories, devices, deployments, audit. */
	"CREATE TABLE fleets ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL);"
	/* Online keys generated before the owner signs the roots that name them. */
	"CREATE TABLE keysets ("
	"  id TEXT PRIMARY KEY,"
	"  creator TEXT NOT NULL,"
	"  secret TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE owner_keys ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  keyid TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, keyid));"
	"CREATE TABLE online_keys ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  repo TEXT NOT NULL CHECK (repo IN ('image', 'director')),"
	"  role TEXT NOT NULL,"
	"  keyid TEXT NOT NULL,"
	"  pem TEXT NOT NULL,"
	"  PRIMARY KEY (fleet_id, repo, role, keyid));"
	/* Every version of every file served; scope '' or a device id. */
	"CREATE TABLE metadata ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  repo TEXT NOT NULL CHECK (repo IN ('image', 'director')),"
	"  scope TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  body BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, repo, scope, role, version));"
	"CREATE INDEX metadata_expiry ON metadata (role, expires);"
	"CREATE TABLE payloads ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  path TEXT NOT NULL,"
	"  length INTEGER NOT NULL,"
	"  sha256 TEXT,"
	"  sha512 TEXT,"
	"  file TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, path, file));"
	"CREATE TABLE devices ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  id TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),"
	"  hardware_id TEXT NOT NULL,"
	"  attributes TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  installed TEXT NOT NULL DEFAULT '{}',"
	"  free_space INTEGER,"
	"  enrolled_at INTEGER NOT NULL,"
	"  last_seen INTEGER,"
	"  PRIMARY KEY (fleet_id, id));"
	"CREATE INDEX devices_status ON devices (fleet_id, status);"
	"CREATE TABLE preauth ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  device_id TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, device_id));"
	/* rollout_id: set by the rollout engine (a later migration adds its table). */
	"CREATE TABLE deployments ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  device_id TEXT NOT NULL,"
	"  rollout_id INTEGER,"
	"  type TEXT NOT NULL,"
	"  target_path TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT,"
	"  log_tail TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX deployments_device ON deployments (fleet_id, device_id, id);"
	"CREATE TABLE assignments ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  device_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	"  PRIMARY KEY (fleet_id, device_id, type));"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fleet_id INTEGER,"
	"  device_id TEXT,"
	"  actor_kind TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX audit_fleet ON audit (fleet_id, id);"
	"CREATE INDEX audit_device ON audit (fleet_id, device_id, id);"
	/* Append-only in the database itself, not only by convention. */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",

	/*
	 * 2: rollouts (a release, an optional selector, phases with soak
	 * times, thresholds; the engine is server/rollout.c) and owner pins.
	 * Percentages are basis points, as selector buckets are.
	 */
	"CREATE TABLE rollouts ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  name TEXT NOT NULL,"
	"  target_path TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  selector TEXT,"
	"  phases TEXT NOT NULL,"
	"  failure_threshold INTEGER NOT NULL CHECK (failure_threshold BETWEEN 0 AND 10000),"
	"  success_ratio INTEGER NOT NULL CHECK (success_ratio BETWEEN 0 AND 10000),"
	"  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'halted', 'aborted',"
	"    'completed')),"
	"  phase INTEGER NOT NULL,"
	"  phase_started_at INTEGER NOT NULL,"
	"  reason TEXT,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX rollouts_fleet ON rollouts (fleet_id, id);"
	"CREATE INDEX rollouts_state ON rollouts (state);"
	"CREATE INDEX deployments_rollout ON deployments (rollout_id, device_id);"
	/* A pinned device keeps its target of that type: rollouts pass it by. */
	"CREATE TABLE pins ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  device_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  target_path TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, device_id, type));",

	/*
	 * 3: claims of unclaimed devices (after a factory reset): the new
	 * owner's roots as exact texts and the MAC made with the device's
	 * one-time code, relayed to the device until it enrols in the fleet.
	 */
	"CREATE TABLE claims ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  device_id TEXT NOT NULL,"
	"  image_root TEXT NOT NULL,"
	"  director_root TEXT NOT NULL,"
	"  mac TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (fleet_id, device_id));"
	"CREATE INDEX claims_device ON claims (device_id, created_at);",

	/*
	 * 4: ownership transfer (server/transfer.c). A device sold to another
	 * fleet stays in the seller's as 'transferred' with the name of the
	 * fleet it moved to. SQLite cannot change a CHECK constraint in place,
	 * so the devices table is rebuilt (nothing references it by key).
	 */
	"CREATE TABLE devices_new ("
	"  fleet_id INTEGER NOT NULL REFERENCES fleets(id),"
	"  id TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected',"
	"    'transferred')),"
	"  hardware_id TEXT NOT NULL,"
	"  attributes TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  installed TEXT NOT NULL DEFAULT '{}',"
	"  free_space INTEGER,"
	"  enrolled_at INTEGER NOT NULL,"
	"  last_seen INTEGER,"
	"  moved_to TEXT,"
	"  PRIMARY KEY (fleet_id, id));"
	"INSERT INTO devices_new (fleet_id, id, public_key, status, hardware_id, attributes, tags,"
	"  installed, free_space, enrolled_at, last_seen) SELECT fleet_id, id, public_key, status,"
	"  hardware_id, attributes, tags, installed, free_space, enrolled_at, last_seen FROM devices;"
	"DROP TABLE devices;"
	"ALTER TABLE devices_new RENAME TO devices;"
	"CREATE INDEX devices_status ON devices (fleet_id, status);",
};

const size_t sqlite_n_migrations = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
