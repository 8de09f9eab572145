/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storage behind a struct of function pointers: one file per backend
 * (store_sqlite.c today, PostgreSQL next). Rows come back as jansson objects
 * whose members are the column names below, so handlers, tests and a second
 * backend share one vocabulary. Every function returns a status and fills
 * err; UPK_ERR_NOT_FOUND and UPK_ERR_EXISTS carry meaning (no such row, a
 * unique key taken). Results are new references / malloc()ed for the caller.
 *
 * Transactions: begin() starts an exclusive write transaction held by the
 * calling thread until commit() or rollback(); every other call made by that
 * thread in between belongs to it. Calls outside begin() are atomic alone.
 */
#ifndef UPK_SERVER_STORE_H
#define UPK_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

struct store;

/* Repositories of a fleet ("image" or "director") and metadata scopes. */
#define STORE_REPO_IMAGE "image"
#define STORE_REPO_DIRECTOR "director"

/* The longest a deferred check-in (device_seen) waits before it is written. */
#define STORE_SEEN_DELAY_MS 500

struct store_ops {
	const char *name;
	void (*close)(struct store *st);

	upk_status (*begin)(struct store *st, struct upk_error *err);
	upk_status (*commit)(struct store *st, struct upk_error *err);
	void (*rollback)(struct store *st);

	/* Online key sets made before a fleet exists: secret is JSON with private PEMs. */
	upk_status (*keyset_put)(struct store *st, const char *id, const char *creator,
				 const char *secret, int64_t now, struct upk_error *err);
	/* Return and delete (a key set names the keys of exactly one fleet). */
	upk_status (*keyset_take)(struct store *st, const char *id, const char *creator,
				  char **secret, struct upk_error *err);

	/* Fleets: {id, name, created_at}. */
	upk_status (*fleet_create)(struct store *st, const char *name, int64_t now, int64_t *id,
				   struct upk_error *err);
	upk_status (*fleet_get)(struct store *st, const char *name, json_t **row,
				struct upk_error *err);
	upk_status (*fleet_list)(struct store *st, json_t **rows, struct upk_error *err);

	/* Owner keys per fleet: {keyid, public_key (TUF key object), role, created_at}. */
	upk_status (*owner_key_put)(struct store *st, int64_t fleet, const char *keyid,
				    const json_t *public_key, const char *role, int64_t now,
				    struct upk_error *err);
	upk_status (*owner_key_get)(struct store *st, int64_t fleet, const char *keyid,
				    json_t **row, struct upk_error *err);
	upk_status (*owner_key_list)(struct store *st, int64_t fleet, json_t **rows,
				     struct upk_error *err);
	upk_status (*owner_key_delete)(struct store *st, int64_t fleet, const char *keyid,
				       struct upk_error *err);

	/* Online private keys held for a fleet: rows {keyid, pem}. */
	upk_status (*online_key_put)(struct store *st, int64_t fleet, const char *repo,
				     const char *role, const char *keyid, const char *pem,
				     struct upk_error *err);
	upk_status (*online_key_list)(struct store *st, int64_t fleet, const char *repo,
				      const char *role, json_t **rows, struct upk_error *err);

	/*
	 * Signed metadata as served. scope is "" for fleet-wide files and the
	 * device id for per-device director files. meta_get with version 0
	 * returns the newest; *version_out (may be NULL) says which.
	 */
	upk_status (*meta_put)(struct store *st, int64_t fleet, const char *repo,
			       const char *scope, const char *role, int64_t version,
			       int64_t expires, const void *body, size_t len, int64_t now,
			       struct upk_error *err);
	upk_status (*meta_get)(struct store *st, int64_t fleet, const char *repo,
			       const char *scope, const char *role, int64_t version, char **body,
			       size_t *len, int64_t *version_out, struct upk_error *err);
	/* Newest version of each role in a scope: rows {role, version, expires}. */
	upk_status (*meta_latest)(struct store *st, int64_t fleet, const char *repo,
				  const char *scope, json_t **rows, struct upk_error *err);
	/*
	 * The newest file of `role` in `repo`, per fleet and scope, when it
	 * expires before `before` (for re-signing): rows {fleet_id, scope,
	 * version, expires}, at most limit (0: 1000).
	 */
	upk_status (*meta_expiring)(struct store *st, const char *repo, const char *role,
				    int64_t before, int64_t limit, json_t **rows,
				    struct upk_error *err);

	/*
	 * Payloads, several per path when its content changed between targets
	 * versions: {path, length, sha256, sha512, file, created_at}. find
	 * matches hash against sha256 or sha512 (lower-case hex).
	 */
	upk_status (*payload_put)(struct store *st, int64_t fleet, const char *path,
				  int64_t length, const char *sha256, const char *sha512,
				  const char *file, int64_t now, struct upk_error *err);
	upk_status (*payload_find)(struct store *st, int64_t fleet, const char *path,
				   const char *hash, json_t **row, struct upk_error *err);

	/*
	 * Devices: {id, public_key, status (pending|accepted|rejected|
	 * transferred), hardware_id, attributes, tags, installed, free_space,
	 * enrolled_at, last_seen, moved_to}. attributes/tags/installed are objects of strings.
	 */
	upk_status (*device_enrol)(struct store *st, int64_t fleet, const char *id,
				   const json_t *public_key, const char *hardware_id,
				   const json_t *attributes, const char *status, const json_t *tags,
				   int64_t now, struct upk_error *err);
	upk_status (*device_get)(struct store *st, int64_t fleet, const char *id, json_t **row,
				 struct upk_error *err);
	/* status NULL: all. Ordered by enrolment. */
	upk_status (*device_list)(struct store *st, int64_t fleet, const char *status,
				  json_t **rows, struct upk_error *err);
	upk_status (*device_set_status)(struct store *st, int64_t fleet, const char *id,
					const char *status, struct upk_error *err);
	upk_status (*device_set_tags)(struct store *st, int64_t fleet, const char *id,
				      const json_t *tags, struct upk_error *err);
	/* hardware_id NULL keeps it; free_space < 0 keeps it. */
	upk_status (*device_checkin)(struct store *st, int64_t fleet, const char *id,
				     const char *hardware_id, const json_t *installed,
				     int64_t free_space, const json_t *attributes, int64_t now,
				     struct upk_error *err);

	/* Owner pre-authorisations: {device_id, tags, created_at}; take deletes. */
	upk_status (*preauth_put)(struct store *st, int64_t fleet, const char *device_id,
				  const json_t *tags, int64_t now, struct upk_error *err);
	upk_status (*preauth_take)(struct store *st, int64_t fleet, const char *device_id,
				   json_t **row, struct upk_error *err);

	/*
	 * Deployments: {id, device_id, rollout_id (null for direct assignments),
	 * type, target_path, target (the image repository's entry), state,
	 * reason, log_tail, created_at, updated_at}. Creating one makes it the
	 * device's current assignment for its type (replacing the previous).
	 */
	upk_status (*deployment_create)(struct store *st, int64_t fleet, const char *device_id,
					int64_t rollout_id, const char *type, const char *path,
					const json_t *target, int64_t now, int64_t *id,
					struct upk_error *err);
	upk_status (*deployment_get)(struct store *st, int64_t fleet, int64_t id, json_t **row,
				     struct upk_error *err);
	/* Newest first; limit 0 = 100. */
	upk_status (*deployment_list)(struct store *st, int64_t fleet, const char *device_id,
				      int64_t limit, json_t **rows, struct upk_error *err);
	upk_status (*deployment_report)(struct store *st, int64_t fleet, int64_t id,
					const char *state, const char *reason,
					const char *log_tail, int64_t now, struct upk_error *err);
	/* The device's current assignments: deployment rows, one per type. */
	upk_status (*assignment_list)(struct store *st, int64_t fleet, const char *device_id,
				      json_t **rows, struct upk_error *err);
	upk_status (*assignment_delete)(struct store *st, int64_t fleet, const char *device_id,
					const char *type, struct upk_error *err);

	/*
	 * Check-ins that change nothing but last_seen and free_space (nearly
	 * all of them) go through here instead of device_checkin: the backend
	 * may defer the write by up to STORE_SEEN_DELAY_MS and batch it, so a
	 * check-in costs no fsync. Deferred values are visible to device_get
	 * and device_list at once, and durable at the next commit or flush;
	 * a crash loses at most that window of last_seen values, never a
	 * report, an inventory change or an owner action. free_space < 0 keeps it.
	 */
	upk_status (*device_seen)(struct store *st, int64_t fleet, const char *id,
				  int64_t free_space, int64_t now, struct upk_error *err);
	/* Write deferred check-ins now (also done on close). */
	upk_status (*flush)(struct store *st, struct upk_error *err);

	/*
	 * Rollouts (server/rollout.c): {id, fleet_id, name, target_path, type,
	 * selector (null: none), phases ([{"percent", "soak"}], percent in
	 * basis points), failure_threshold, success_ratio (basis points),
	 * state (running|paused|halted|aborted|completed), phase (index),
	 * phase_started_at, reason, created_by, created_at, updated_at}.
	 */
	upk_status (*rollout_create)(struct store *st, int64_t fleet, const char *name,
				     const char *target_path, const char *type,
				     const char *selector, const json_t *phases,
				     int64_t failure_threshold, int64_t success_ratio,
				     const char *created_by, int64_t now, int64_t *id,
				     struct upk_error *err);
	upk_status (*rollout_get)(struct store *st, int64_t fleet, int64_t id, json_t **row,
				  struct upk_error *err);
	/* Newest first. */
	upk_status (*rollout_list)(struct store *st, int64_t fleet, json_t **rows,
				   struct upk_error *err);
	/* reason NULL clears it. */
	upk_status (*rollout_update)(struct store *st, int64_t fleet, int64_t id, const char *state,
				     int64_t phase, int64_t phase_started_at, const char *reason,
				     int64_t now, struct upk_error *err);
	/* Running rollouts of every fleet: rows {fleet_id, id}. */
	upk_status (*rollout_running)(struct store *st, json_t **rows, struct upk_error *err);
	/* The rollout's deployments, oldest first (deployment rows). */
	upk_status (*rollout_deployments)(struct store *st, int64_t fleet, int64_t id,
					  json_t **rows, struct upk_error *err);

	/* Pins: {device_id, type, target_path, created_by, created_at}; device NULL: all. */
	upk_status (*pin_put)(struct store *st, int64_t fleet, const char *device_id,
			      const char *type, const char *target_path, const char *created_by,
			      int64_t now, struct upk_error *err);
	upk_status (*pin_list)(struct store *st, int64_t fleet, const char *device_id,
			       json_t **rows, struct upk_error *err);
	upk_status (*pin_delete)(struct store *st, int64_t fleet, const char *device_id,
				 const char *type, struct upk_error *err);

	/*
	 * The audit log, append-only (the SQLite schema refuses UPDATE and
	 * DELETE). Rows {id, fleet_id, device_id, actor_kind, actor, action,
	 * detail, at}; query returns ids > after, oldest first, at most limit.
	 */
	upk_status (*audit_append)(struct store *st, int64_t fleet, const char *device_id,
				   const char *actor_kind, const char *actor, const char *action,
				   const json_t *detail, int64_t now, struct upk_error *err);
	upk_status (*audit_query)(struct store *st, int64_t fleet, const char *device_id,
				  int64_t after, int64_t limit, json_t **rows,
				  struct upk_error *err);

	/*
	 * Claims of unclaimed devices (docs/ownership.md): one per device and
	 * fleet, put replaces. Rows {fleet (its name), device_id, image_root,
	 * director_root (the exact texts), mac, created_by, created_at}; list
	 * is every fleet's claims for one device, newest first, at most limit.
	 * delete of a missing claim is not an error.
	 */
	upk_status (*claim_put)(struct store *st, int64_t fleet, const char *device_id,
				const char *image_root, const char *director_root, const char *mac,
				const char *created_by, int64_t now, struct upk_error *err);
	upk_status (*claim_list)(struct store *st, const char *device_id, int64_t limit,
				 json_t **rows, struct upk_error *err);
	upk_status (*claim_count)(struct store *st, int64_t fleet, int64_t *n,
				  struct upk_error *err);
	upk_status (*claim_delete)(struct store *st, int64_t fleet, const char *device_id,
				   struct upk_error *err);

	/*
	 * Ownership transfer (server/transfer.c). transfer_in copies device id
	 * of fleet `from` into fleet `to` as accepted, with its public key,
	 * hardware id, attributes and installed inventory, without tags.
	 * transfer_out marks it 'transferred' in its fleet with moved_to (a
	 * fleet name); UPK_ERR_EXISTS when it already was. Device rows carry
	 * moved_to (null unless transferred).
	 */
	upk_status (*device_transfer_in)(struct store *st, int64_t to, int64_t from, const char *id,
					 int64_t now, struct upk_error *err);
	upk_status (*device_transfer_out)(struct store *st, int64_t fleet, const char *id,
					  const char *moved_to, struct upk_error *err);
};

struct store {
	const struct store_ops *ops;
};

/*
 * Open (creating when missing) the SQLite database at path, apply pending
 * migrations, and set WAL with synchronous=FULL: an acknowledged request
 * survives power loss. The file is created mode 0600: it holds online keys.
 */
upk_status store_sqlite_open(const char *path, struct store **out, struct upk_error *err);

static inline void store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

#endif
