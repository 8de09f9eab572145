/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the server signs and checks as a TUF repository operator, shared by
 * the image repository and the director: root chain checks for uploads, the
 * online keys it holds per fleet, and the snapshot/timestamp it makes.
 */
#ifndef UPK_SERVER_SIGNER_H
#define UPK_SERVER_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"
#include "upkeep/metadata.h"

struct server;
struct store;

#define ONLINE_MAX_KEYS 8

struct online_keys {
	struct upk_key *keys[ONLINE_MAX_KEYS];
	size_t n;
};

/* The private keys held for (fleet, repo, role). None held is UPK_ERR_NOT_FOUND. */
upk_status online_keys_load(struct store *st, int64_t fleet, const char *repo, const char *role,
			    struct online_keys *out, struct upk_error *err);
void online_keys_free(struct online_keys *k);

/* UPK_OK when root lists enough of k for role's threshold (so the server can sign it). */
upk_status online_keys_cover(const struct upk_metadata *root, const char *role,
			     const struct online_keys *k, struct upk_error *err);

/* Sign md with the keys of k that root lists for role, then check the threshold. */
upk_status online_sign(const struct upk_metadata *root, const char *role,
		       const struct online_keys *k, struct upk_metadata *md, struct upk_error *err);

/* Sign md for role with the held keys, serialize it and store it as (fleet, repo, scope, role). */
upk_status online_sign_store(struct server *srv, int64_t fleet, const char *repo,
			     const char *scope, const char *role, const struct upk_metadata *root,
			     struct upk_metadata *md, int64_t now, struct upk_error *err);

/*
 * A fleet's first root: signed by its own root threshold, not expired,
 * consistent_snapshot (the server serves that layout only).
 */
upk_status root_check_first(struct upk_metadata *root, int64_t now, struct upk_error *err);

/*
 * The next root of the chain (TUF 5.3.4/5.3.5): version trusted+1, signed by
 * a threshold of the trusted root's root keys and of its own, not expired.
 */
upk_status root_check_next(const struct upk_metadata *trusted, struct upk_metadata *next,
			   int64_t now, struct upk_error *err);

/* Stored metadata parsed (version 0: newest). bytes/len may be NULL. */
upk_status meta_load(struct store *st, int64_t fleet, const char *repo, const char *scope,
		     const char *role, int64_t version, enum upk_role_type type,
		     struct upk_metadata **out, char **bytes, size_t *len, struct upk_error *err);

/* {"sha256": hex} of bytes (new reference). */
upk_status meta_hashes(const void *bytes, size_t len, json_t **out, struct upk_error *err);

/*
 * Make and store, in (fleet, repo, scope): a new snapshot (when new_snapshot)
 * listing the newest version of every targets role of the scope, then a new
 * timestamp for the newest snapshot. Signed with the online keys the fleet's
 * root (scope "") names. Call inside a store transaction.
 */
upk_status publish_snapshot_timestamp(struct server *srv, int64_t fleet, const char *repo,
				      const char *scope, int new_snapshot, int64_t now,
				      struct upk_error *err);

#endif
