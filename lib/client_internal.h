/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the TUF client's files share: the client state, the trusted store
 * (crash-safe files in the metadata directory) and the helpers that load one
 * role either from the store or from the network, under the same checks.
 */
#ifndef UPK_CLIENT_INTERNAL_H
#define UPK_CLIENT_INTERNAL_H

#include "upkeep/client.h"

/* A delegated role loaded during the current search. */
struct client_role {
	char *name;
	struct upk_metadata *md;
};

struct upk_client {
	char *metadata_dir;
	char *metadata_url; /* always ends with '/' */
	char *target_url;   /* always ends with '/', or NULL */
	struct upk_fetcher fetcher;
	struct upk_client_limits limits;
	time_t (*clock)(void *ctx);
	void *clock_ctx;
	upk_status (*root_check)(void *ctx, const struct upk_metadata *root, const void *raw,
	                         size_t len, struct upk_error *err);
	void *root_check_ctx;

	time_t now; /* fixed update start time (spec 5.1) */
	int refreshed;
	int consistent_snapshot;
	struct upk_metadata *root;
	struct upk_metadata *timestamp;
	struct upk_metadata *snapshot;
	struct upk_metadata *targets;
	struct client_role *roles;
	size_t n_roles;
};

/* ---- trusted store (trusted_store.c) ---- */

/*
 * Read dir/file completely, at most max bytes (UPK_ERR_TOO_LARGE beyond).
 * UPK_ERR_NOT_FOUND when the file does not exist.
 */
upk_status store_read(const char *dir, const char *file, uint64_t max, char **buf, size_t *len,
                      struct upk_error *err);
/* Replace dir/file by buf atomically and durably (see the comment at the definition). */
upk_status store_write(const char *dir, const char *file, const void *buf, size_t len,
                       struct upk_error *err);
/* Remove dir/file durably; a missing file is fine. */
upk_status store_remove(const char *dir, const char *file, struct upk_error *err);
/* Remove temporary files that an interrupted store_write left in dir. */
void store_clean_temp(const char *dir);
/* Write a whole file at path atomically (temporary file beside it). */
upk_status store_write_path(const char *path, const void *buf, size_t len, struct upk_error *err);

/*
 * The file name of a role's metadata, "<escaped role>.json": bytes other
 * than [A-Za-z0-9._~-] are percent-encoded, so any delegated role name
 * (which may hold '/' or "..") is one safe file name and one URL segment.
 * UPK_ERR_INVALID when it would not fit a file name.
 */
upk_status role_file_name(const char *role, char *out, size_t out_size, struct upk_error *err);
#define ROLE_FILE_MAX 256

/* ---- fetching (client_fetch.c) ---- */

/* base + [version "."] + file, as a new string. version 0 leaves the prefix out. */
upk_status client_url(const char *base, int64_t version, const char *file, char **out,
                      struct upk_error *err);

/*
 * Check raw bytes against the length and hashes a trusted role gave for them
 * (either may be absent). Hashes must all match among the known algorithms.
 */
upk_status client_check_meta_bytes(const char *what, const void *buf, size_t len, int64_t length,
                                   const json_t *hashes, struct upk_error *err);

/* ---- roles ---- */

/*
 * Read and parse (not verify) the locally stored file. Any failure means
 * "nothing usable stored" to the caller; errors are not reported.
 */
upk_status client_read_local(struct upk_client *c, const char *file, enum upk_role_type type,
                             uint64_t max, char **buf, size_t *len, struct upk_metadata **md);
/* "<role> v<N> expired at <time>" as UPK_ERR_EXPIRED when md is expired at c->now. */
upk_status client_check_expiry(const struct upk_client *c, const char *role,
                               const struct upk_metadata *md, struct upk_error *err);

upk_status client_update_root(struct upk_client *c, struct upk_error *err);
upk_status client_update_timestamp(struct upk_client *c, struct upk_error *err);
upk_status client_update_snapshot(struct upk_client *c, struct upk_error *err);

/*
 * Load targets metadata for role (a "targets" or delegated role name)
 * checked against the trusted snapshot; delegator is NULL for the top-level
 * role, else the targets metadata whose delegation authorises the keys. The
 * returned metadata is owned by the client (borrowed here).
 */
upk_status client_load_targets(struct upk_client *c, const char *role,
                               const struct upk_metadata *delegator, struct upk_metadata **out,
                               struct upk_error *err);

void client_drop_roles(struct upk_client *c);

#endif
