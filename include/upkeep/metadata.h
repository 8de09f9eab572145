/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TUF 1.0 metadata model: parse, validate, build, sign, verify and
 * serialize root, targets (with delegations), snapshot and timestamp.
 *
 * A struct upk_metadata holds one signed envelope {"signatures", "signed"}.
 * Parsing checks structure only: nothing here is trusted until one of the
 * upk_verify_* functions has counted a threshold of valid signatures from
 * distinct authorised keys. The JSON tree is the source of truth, so fields
 * this code does not know are kept and stay covered by the signatures.
 *
 * A parsed targets role is held compactly: its entries stay in the
 * document's bytes, indexed by path, and become jansson values one by one
 * when looked up (docs/client.md, "Memory"). Calls that change the role or
 * want its whole tree (upk_metadata_signed, _serialize, _dup, the setters)
 * build the tree first, in O(targets); what was borrowed before stays valid.
 * Because even lookups fill that cache, one upk_metadata must not be used
 * from two threads at once, not even read-only.
 */
#ifndef UPKEEP_METADATA_H
#define UPKEEP_METADATA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "upkeep/crypto.h"
#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum upk_role_type {
	UPK_ROLE_ANY = 0, /* only as the "expected" argument of upk_metadata_parse */
	UPK_ROLE_ROOT = 1,
	UPK_ROLE_TARGETS = 2,
	UPK_ROLE_SNAPSHOT = 3,
	UPK_ROLE_TIMESTAMP = 4,
};

/* "root", "targets", "snapshot", "timestamp". */
const char *upk_role_type_name(enum upk_role_type type);
upk_status upk_role_type_from_name(const char *name, enum upk_role_type *out,
				   struct upk_error *err);

/* Hard limits applied while parsing; zero fields take the defaults below. */
struct upk_metadata_limits {
	size_t max_bytes;       /* whole document */
	size_t max_signatures;  /* entries in "signatures" */
	size_t max_keys;        /* keys in root or in a delegations object */
	size_t max_targets;     /* entries in a targets role */
	size_t max_delegations; /* delegated roles in one targets role */
	size_t max_meta;        /* entries in snapshot "meta" */
};

#define UPK_MD_DEFAULT_MAX_BYTES (32u * 1024u * 1024u)
#define UPK_MD_DEFAULT_MAX_SIGNATURES 256u
#define UPK_MD_DEFAULT_MAX_KEYS 256u
#define UPK_MD_DEFAULT_MAX_TARGETS 1000000u
#define UPK_MD_DEFAULT_MAX_DELEGATIONS 1024u
#define UPK_MD_DEFAULT_MAX_META 1000000u
#define UPK_MD_MAX_PATH 4096u
#define UPK_SPEC_VERSION "1.0.31"

struct upk_metadata;

/* ---- parsing and serializing ---- */

/*
 * Parse and validate one metadata document. expected is the role type the
 * caller asked for (UPK_ROLE_ANY to accept any): a different "_type" is
 * UPK_ERR_INVALID. spec_version must have major version 1
 * (UPK_ERR_UNSUPPORTED otherwise). limits may be NULL.
 * On success *out is owned by the caller (upk_metadata_free).
 */
upk_status upk_metadata_parse(const void *buf, size_t len, enum upk_role_type expected,
			      const struct upk_metadata_limits *limits, struct upk_metadata **out,
			      struct upk_error *err);

/*
 * A new, unsigned document of the given type: version 1, the given expiry,
 * spec_version UPK_SPEC_VERSION, and empty role content (a root has no keys
 * and the four roles with threshold 1 and no key ids; consistent_snapshot is
 * true).
 */
upk_status upk_metadata_new(enum upk_role_type type, time_t expires, struct upk_metadata **out,
			    struct upk_error *err);

/* A deep copy. */
upk_status upk_metadata_dup(const struct upk_metadata *md, struct upk_metadata **out,
			    struct upk_error *err);

void upk_metadata_free(struct upk_metadata *md);

/*
 * The whole envelope as JSON text with sorted keys: indented for people (and
 * ending in a newline) when pretty is set, otherwise compact. Both parse back
 * to the same document; signatures are over the canonical form of "signed"
 * only, see upk_metadata_signed_bytes(). *out is malloc()ed.
 */
upk_status upk_metadata_serialize(const struct upk_metadata *md, int pretty, char **out,
				  size_t *out_len, struct upk_error *err);

/* The canonical bytes of "signed", which signatures cover. Borrowed, valid until md changes. */
upk_status upk_metadata_signed_bytes(struct upk_metadata *md, const char **bytes, size_t *len,
				     struct upk_error *err);

/* ---- common fields ---- */

enum upk_role_type upk_metadata_type(const struct upk_metadata *md);
int64_t upk_metadata_version(const struct upk_metadata *md);
time_t upk_metadata_expires(const struct upk_metadata *md);
const char *upk_metadata_spec_version(const struct upk_metadata *md);
/*
 * The "signed" object itself (borrowed; do not modify it behind the API's
 * back). NULL only when building the tree of a compact role ran out of memory.
 */
const json_t *upk_metadata_signed(const struct upk_metadata *md);
/* 1 when now >= expires. */
int upk_metadata_is_expired(const struct upk_metadata *md, time_t now);

upk_status upk_metadata_set_version(struct upk_metadata *md, int64_t version,
				    struct upk_error *err);
upk_status upk_metadata_set_expires(struct upk_metadata *md, time_t expires,
				    struct upk_error *err);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) <-> time_t. */
upk_status upk_time_parse(const char *text, time_t *out, struct upk_error *err);
void upk_time_format(time_t t, char out[21]);

/* ---- signatures ---- */

/*
 * Sign the canonical "signed" bytes with a private key and add the signature,
 * replacing an earlier one by the same key id. Any later change to the
 * document drops all signatures (they would no longer verify).
 */
upk_status upk_metadata_sign(struct upk_metadata *md, const struct upk_key *key,
			     struct upk_error *err);
size_t upk_metadata_signature_count(const struct upk_metadata *md);
/* Key id of signature i (borrowed), or NULL when i is out of range. */
const char *upk_metadata_signature_keyid(const struct upk_metadata *md, size_t i);
void upk_metadata_clear_signatures(struct upk_metadata *md);

/* The outcome of a threshold check, for callers that report progress ("1 of 2"). */
struct upk_sigcheck {
	unsigned valid;     /* distinct authorised keys with a valid signature */
	unsigned threshold; /* how many the role needs */
};

/*
 * Verify md against role `role` as defined by the root `root` (for the root
 * role itself, call it once with the trusted root and once with md as its
 * own root, as TUF root rotation requires). Counts distinct authorised keys
 * (key ids listed for the role, deduplicated also by public key) that made a
 * valid signature; duplicate signatures, unknown key ids and keys of types we
 * cannot verify add nothing. UPK_OK when the threshold is met, otherwise
 * UPK_ERR_SIGNATURE with "valid of threshold" in the message. md must be of
 * the role's type (a snapshot cannot pass as timestamp). check may be NULL.
 */
upk_status upk_verify_role(const struct upk_metadata *root, const char *role,
			   struct upk_metadata *md, struct upk_sigcheck *check,
			   struct upk_error *err);

/* The same for a role that the targets document `delegator` delegates to. */
upk_status upk_verify_delegated(const struct upk_metadata *delegator, const char *role,
				struct upk_metadata *md, struct upk_sigcheck *check,
				struct upk_error *err);

/* ---- root ---- */

/* Key ids and threshold of a top-level role in a root. Borrowed arrays. */
struct upk_role_keys {
	const char *const *keyids;
	size_t n_keyids;
	unsigned threshold;
};

upk_status upk_root_role(const struct upk_metadata *root, const char *role,
			 struct upk_role_keys *out, struct upk_error *err);
/* The key with this id in root "keys" (borrowed), or NULL. */
const struct upk_key *upk_root_key(const struct upk_metadata *root, const char *keyid);
int upk_root_consistent_snapshot(const struct upk_metadata *root);

/* Add key to root "keys" (if new) and to the role's key ids (if not there). */
upk_status upk_root_add_key(struct upk_metadata *root, const char *role,
			    const struct upk_key *key, struct upk_error *err);
/* Remove keyid from the role; the key leaves "keys" when no role uses it any more. */
upk_status upk_root_remove_key(struct upk_metadata *root, const char *role, const char *keyid,
			       struct upk_error *err);
upk_status upk_root_set_threshold(struct upk_metadata *root, const char *role,
				  unsigned threshold, struct upk_error *err);
upk_status upk_root_set_consistent_snapshot(struct upk_metadata *root, int on,
					    struct upk_error *err);

/* ---- targets ---- */

struct upk_target {
	const char *path;    /* borrowed */
	int64_t length;
	const json_t *hashes; /* {"sha256": "hex", ...}, borrowed */
	const json_t *custom; /* NULL when absent, borrowed */
};

size_t upk_targets_count(const struct upk_metadata *targets);
/* Target i in sorted path order. */
upk_status upk_targets_at(const struct upk_metadata *targets, size_t i, struct upk_target *out,
			  struct upk_error *err);
/* UPK_ERR_NOT_FOUND when the role lists no such path. */
upk_status upk_targets_find(const struct upk_metadata *targets, const char *path,
			    struct upk_target *out, struct upk_error *err);
/* Add or replace a target entry. hashes needs at least one entry; custom may be NULL. */
upk_status upk_targets_set(struct upk_metadata *targets, const char *path, int64_t length,
			   const json_t *hashes, const json_t *custom, struct upk_error *err);
upk_status upk_targets_remove(struct upk_metadata *targets, const char *path,
			      struct upk_error *err);

struct upk_delegation {
	const char *name;
	const char *const *keyids;
	size_t n_keyids;
	unsigned threshold;
	int terminating;
	const char *const *paths;       /* NULL when path_hash_prefixes is used */
	size_t n_paths;
	const char *const *hash_prefixes; /* NULL when paths is used */
	size_t n_hash_prefixes;
};

/* Delegated roles in the order they are listed (the order of the TUF search). */
size_t upk_delegations_count(const struct upk_metadata *targets);
upk_status upk_delegation_at(const struct upk_metadata *targets, size_t i,
			     struct upk_delegation *out, struct upk_error *err);
upk_status upk_delegation_find(const struct upk_metadata *targets, const char *name,
			       struct upk_delegation *out, struct upk_error *err);
/* The key with this id in the delegations "keys" (borrowed), or NULL. */
const struct upk_key *upk_delegation_key(const struct upk_metadata *targets, const char *keyid);

/*
 * 1 when the delegation's paths or path_hash_prefixes cover target_path.
 * Path patterns follow the TUF spec: shell-style wildcards matched segment by
 * segment, so '*' never matches '/'.
 */
int upk_delegation_covers(const struct upk_delegation *d, const char *target_path);
int upk_path_pattern_match(const char *pattern, const char *path);

/*
 * Add (or replace) a delegated role: its keys are added to the delegations
 * "keys", paths are TUF path patterns (at least one). New roles go last.
 */
upk_status upk_targets_delegate(struct upk_metadata *targets, const char *name,
				const struct upk_key *const *keys, size_t n_keys,
				unsigned threshold, const char *const *paths, size_t n_paths,
				int terminating, struct upk_error *err);
upk_status upk_targets_undelegate(struct upk_metadata *targets, const char *name,
				  struct upk_error *err);

/* ---- snapshot and timestamp ---- */

struct upk_metafile {
	const char *name; /* "targets.json", "vendor.json", "snapshot.json" */
	int64_t version;
	int64_t length;       /* -1 when absent */
	const json_t *hashes; /* NULL when absent */
};

size_t upk_meta_count(const struct upk_metadata *md);
upk_status upk_meta_at(const struct upk_metadata *md, size_t i, struct upk_metafile *out,
		       struct upk_error *err);
/* UPK_ERR_NOT_FOUND when "meta" has no such entry. */
upk_status upk_meta_find(const struct upk_metadata *md, const char *name,
			 struct upk_metafile *out, struct upk_error *err);
/* Add or replace an entry; length < 0 and hashes NULL leave those fields out. */
upk_status upk_meta_set(struct upk_metadata *md, const char *name, int64_t version,
			int64_t length, const json_t *hashes, struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
