/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TUF 1.0 client workflow (section 5 of the specification): update the
 * root through its chain, then timestamp, snapshot and targets with every
 * signature, version, hash and expiry check, find targets through
 * delegations, and download them verified. Trusted metadata lives in one
 * directory, written atomically; bytes come from a caller's fetcher.
 */
#ifndef UPKEEP_CLIENT_H
#define UPKEEP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "upkeep/error.h"
#include "upkeep/fetch.h"
#include "upkeep/metadata.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Limits an attacker cannot raise. Zero fields take the defaults. The byte
 * limits apply when signed metadata does not give a length (root and
 * timestamp always; snapshot and targets when the referring role leaves the
 * length out).
 */
struct upk_client_limits {
	uint64_t root_max_bytes;
	uint64_t timestamp_max_bytes;
	uint64_t snapshot_max_bytes;
	uint64_t targets_max_bytes;  /* top-level and delegated targets */
	unsigned max_root_rotations; /* N+1.root.json downloads per refresh */
	unsigned max_delegations;    /* roles visited per target search */
};

#define UPK_CLIENT_DEFAULT_ROOT_MAX (512u * 1024u)
#define UPK_CLIENT_DEFAULT_TIMESTAMP_MAX (16u * 1024u)
#define UPK_CLIENT_DEFAULT_SNAPSHOT_MAX (2u * 1024u * 1024u)
#define UPK_CLIENT_DEFAULT_TARGETS_MAX (5u * 1024u * 1024u)
#define UPK_CLIENT_DEFAULT_MAX_ROOT_ROTATIONS 256u
#define UPK_CLIENT_DEFAULT_MAX_DELEGATIONS 32u

struct upk_client_config {
	const char *metadata_dir;          /* trusted metadata; must hold root.json */
	const char *metadata_url;          /* base URL of the metadata; "/" is added when missing */
	const char *target_url;            /* base URL of targets; NULL when only refreshing */
	const struct upk_fetcher *fetcher; /* borrowed: must outlive the client */
	struct upk_client_limits limits;
	/*
	 * The clock read once at the start of each refresh (the spec's fixed
	 * update start time). NULL means time(), which libfaketime can move.
	 */
	time_t (*clock)(void *ctx);
	void *clock_ctx;
	/*
	 * Optional: a policy check on every NEW root of the chain (N+1, N+2,
	 * ...), called after its signatures (threshold of the trusted root and
	 * of its own) and its version were verified and BEFORE it is written or
	 * trusted. root is the parsed root (borrowed for the call; unknown
	 * members of "signed" are in upk_metadata_signed()), raw/len the exact
	 * bytes that would be stored. A non-OK return stops the refresh with
	 * that status and err: the previously trusted root stays trusted and on
	 * disk unchanged. Not called for the root loaded from disk or given to
	 * upk_client_bootstrap(), nor for any other role.
	 */
	upk_status (*root_check)(void *ctx, const struct upk_metadata *root, const void *raw,
	                         size_t len, struct upk_error *err);
	void *root_check_ctx;
};

struct upk_client;

/*
 * Trust root_json (the out-of-band root shipped with a device) in
 * metadata_dir: it must parse as root metadata signed by a threshold of its
 * own root keys (its expiry does not matter here). It is written atomically
 * as metadata_dir/root.json, byte for byte; no network is used.
 */
upk_status upk_client_bootstrap(const char *metadata_dir, const void *root_json, size_t len,
                                struct upk_error *err);

/*
 * A client over cfg (strings are copied). Loads metadata_dir/root.json
 * (UPK_ERR_NOT_FOUND when it is missing) and checks that it is signed by its
 * own threshold. Leftover temporary files of an interrupted write are removed.
 */
upk_status upk_client_new(const struct upk_client_config *cfg, struct upk_client **out,
                          struct upk_error *err);
void upk_client_free(struct upk_client *c);

/*
 * One update cycle: spec steps 5.1 to 5.6.6 (root chain, timestamp,
 * snapshot, top-level targets). Metadata already trusted locally is reused
 * when it is exactly what the newer role names, so an unchanged repository
 * costs one timestamp download. Errors: UPK_ERR_SIGNATURE (arbitrary
 * software, key compromise below threshold), UPK_ERR_ROLLBACK,
 * UPK_ERR_EXPIRED (freeze), UPK_ERR_HASH (mix-and-match, wrong length),
 * UPK_ERR_TOO_LARGE (endless data), UPK_ERR_IO (slow retrieval, transport),
 * UPK_ERR_INVALID (malformed). The message names role, version and file.
 * After an error, what was already trusted stays trusted and on disk.
 */
upk_status upk_client_refresh(struct upk_client *c, struct upk_error *err);

/* A target entry found through the delegation search, owned by the caller. */
struct upk_client_target {
	char *path;
	int64_t length;
	json_t *hashes; /* {"sha256": "hex", ...}; a new reference */
	json_t *custom; /* NULL when absent; a new reference */
	char *role;     /* the role that listed it */
};

/*
 * Spec step 5.6.7: pre-order depth-first search of the delegation graph
 * from the top-level targets, skipping roles already visited (cycles),
 * stopping after max_delegations roles or at a terminating delegation.
 * Refreshes first when this client has not refreshed yet. UPK_ERR_NOT_FOUND
 * when no role that may list path does; when a role on the way cannot be
 * downloaded or verified the search ends with that role's error.
 */
upk_status upk_client_find_target(struct upk_client *c, const char *path,
                                  struct upk_client_target **out, struct upk_error *err);
void upk_client_target_free(struct upk_client_target *t);

/*
 * Download t from target_url (HASH.basename under consistent snapshots),
 * streaming it into sink while checking length and every known hash. The
 * sink sees unverified bytes: only UPK_OK here makes them good; UPK_ERR_HASH
 * means they must be thrown away. UPK_ERR_TOO_LARGE when more than t->length
 * bytes arrive.
 */
upk_status upk_client_download_target(struct upk_client *c, const struct upk_client_target *t,
                                      upk_sink_fn sink, void *sink_ctx, struct upk_error *err);

/*
 * How upk_client_download_target_resumable() may resume.
 *   max_attempts: transfers in all (0 or 1: no retry). After a transport
 *     failure (UPK_ERR_IO) with a fetcher that has fetch_range, the next
 *     attempt asks only for the bytes not yet delivered; without one it
 *     fails. Verification failures (hash, length) are never retried.
 *   resume_from, replay: the sink already holds the first resume_from
 *     bytes from an earlier run (e.g. before a crash). replay must feed
 *     exactly those bytes, read back from where the sink put them, to the
 *     given function, so that the length and hash check covers every byte
 *     of the target, not only the ones fetched now. replay NULL with
 *     resume_from > 0 is UPK_ERR_INVALID.
 *   on_progress: called after each delivered block with the bytes so far
 *     (may be NULL); a non-OK status stops the download.
 */
struct upk_download_resume {
	unsigned max_attempts;
	uint64_t resume_from;
	upk_status (*replay)(void *ctx, upk_sink_fn check, void *check_ctx,
	                     struct upk_error *err);
	void *replay_ctx;
	upk_status (*on_progress)(void *ctx, uint64_t done, struct upk_error *err);
	void *progress_ctx;
};

/*
 * upk_client_download_target() that survives dropped connections (see
 * struct upk_download_resume; opts NULL is one attempt). The sink never sees
 * a byte twice: a resumed transfer continues exactly where the sink is.
 */
upk_status upk_client_download_target_resumable(struct upk_client *c,
                                                const struct upk_client_target *t,
                                                const struct upk_download_resume *opts,
                                                upk_sink_fn sink, void *sink_ctx,
                                                struct upk_error *err);

/*
 * Make path hold t: when the file there already matches length and hashes
 * nothing is fetched (*fetched = 0); otherwise it is downloaded into a
 * temporary file beside path and renamed over it only once verified
 * (*fetched = 1). fetched may be NULL. Missing parent directories are made.
 */
upk_status upk_client_download_target_to_file(struct upk_client *c,
                                              const struct upk_client_target *t, const char *path,
                                              int *fetched, struct upk_error *err);

/*
 * Trusted metadata of a top-level role ("root", "timestamp", "snapshot",
 * "targets"), borrowed until the next refresh, or NULL. Delegated roles are
 * held only during upk_client_find_target() (they are as large as the
 * top-level targets), so they are never returned here. The time of the last
 * refresh start.
 */
const struct upk_metadata *upk_client_trusted(const struct upk_client *c, const char *role);
time_t upk_client_update_time(const struct upk_client *c);

/* ---- streaming verification of one target against its metadata ---- */

struct upk_target_check;

/*
 * Checks bytes against length and hashes: unknown hash algorithms are
 * ignored, but at least one of sha256/sha512 must be listed
 * (UPK_ERR_UNSUPPORTED otherwise). what names the file in messages.
 */
upk_status upk_target_check_new(const char *what, int64_t length, const json_t *hashes,
                                struct upk_target_check **out, struct upk_error *err);
/* UPK_ERR_TOO_LARGE as soon as more than length bytes were seen. */
upk_status upk_target_check_update(struct upk_target_check *tc, const void *data, size_t len,
                                   struct upk_error *err);
/* UPK_ERR_HASH when the length is short or a hash differs. */
upk_status upk_target_check_final(struct upk_target_check *tc, struct upk_error *err);
void upk_target_check_free(struct upk_target_check *tc);

/* UPK_OK when the file at path matches; UPK_ERR_NOT_FOUND when absent; UPK_ERR_HASH otherwise. */
upk_status upk_target_check_file(const char *path, int64_t length, const json_t *hashes,
                                 struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
