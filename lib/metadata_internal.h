/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the metadata model keeps beside the JSON tree: typed indexes that are
 * rebuilt (and so re-validated) from the tree after parsing and after every
 * change, so the two can never disagree.
 */
#ifndef UPK_METADATA_INTERNAL_H
#define UPK_METADATA_INTERNAL_H

#include "upkeep/metadata.h"

/* A key listed in root "keys" or in a delegations "keys" object. */
struct md_key {
	const char *keyid;   /* borrowed from the tree */
	struct upk_key *key; /* owned; NULL for a key type we cannot verify */
};

/* A role: top-level (from root "roles") or delegated. Strings are borrowed. */
struct md_role {
	const char *name;
	const char **keyids;
	size_t n_keyids;
	unsigned threshold;
	int terminating;
	const char **paths; /* NULL unless "paths" is given */
	size_t n_paths;
	const char **prefixes; /* NULL unless "path_hash_prefixes" is given */
	size_t n_prefixes;
};

struct upk_metadata {
	json_t *doc;     /* the envelope {"signatures", "signed"}, owned */
	json_t *signed_; /* doc["signed"], borrowed */
	struct upk_metadata_limits limits;

	enum upk_role_type type;
	int64_t version;
	time_t expires;
	const char *spec_version;

	char *canon; /* cached canonical form of signed_, NULL until asked for */
	size_t canon_len;

	struct md_key *keys; /* sorted by keyid */
	size_t n_keys;
	struct md_role *roles; /* root: the four top-level roles; targets: delegations in order */
	size_t n_roles;
	int consistent_snapshot;

	const char **names; /* targets: paths; snapshot/timestamp: meta names; sorted */
	size_t n_names;

	/*
	 * A parsed targets role: entries stay in the document bytes and
	 * signed_["targets"] is an empty stand-in (metadata_compact.c). NULL for
	 * every other document and once md_materialize() has run.
	 */
	struct md_compact *compact;
	/* Its decoded paths, kept once it is materialized: callers may hold them. */
	char *compact_paths;
};

/* Re-validate the tree and rebuild every index; the first problem is reported. */
upk_status md_reindex(struct upk_metadata *md, struct upk_error *err);
/* The tree changed: signatures no longer apply and caches are stale. */
upk_status md_changed(struct upk_metadata *md, struct upk_error *err);

/* Per-type validation and indexing, called by md_reindex. */
upk_status md_index_root(struct upk_metadata *md, struct upk_error *err);
upk_status md_index_targets(struct upk_metadata *md, struct upk_error *err);
upk_status md_index_meta(struct upk_metadata *md, struct upk_error *err);

/* Shared pieces of the validators. */
upk_status md_index_keys(struct upk_metadata *md, const json_t *keys, const char *where,
			 struct upk_error *err);
upk_status md_parse_keyids(const json_t *arr, const char *where, struct md_role *role,
			   struct upk_error *err);
upk_status md_parse_threshold(const json_t *obj, const char *where, unsigned *out,
			      struct upk_error *err);
upk_status md_check_hashes(const json_t *hashes, const char *where, struct upk_error *err);
upk_status md_check_length(const json_t *obj, const char *where, int required, int64_t *out,
			   struct upk_error *err);
const struct md_key *md_find_key(const struct upk_metadata *md, const char *keyid);
const struct md_role *md_find_role(const struct upk_metadata *md, const char *name);
void md_free_index(struct upk_metadata *md);
int md_strcmp_ptr(const void *a, const void *b);
/* 1 when s[0, len) is all hex digits (either case). */
int md_is_hex(const char *s, size_t len);
upk_status md_check_target(const char *path, const json_t *t, struct upk_error *err);

/*
 * upk_metadata_parse() by jansson alone, never compact: the reference that
 * tests and fuzz/fuzz_metadata_compact.c hold the compact path to.
 */
upk_status md_parse_tree(const void *buf, size_t len, enum upk_role_type expected,
			 const struct upk_metadata_limits *limits, struct upk_metadata **out,
			 struct upk_error *err);

/* ---- compact targets roles (metadata_compact.c) ---- */

struct md_compact;

/*
 * The fast parse: json_scan.c validates buf with the limits and builds the
 * envelope; for a targets role the entries are left in the bytes
 * (*compact set, owned by the caller), otherwise *compact is NULL. Any
 * status but UPK_OK means "not taken", with no message: the jansson path
 * then decides, so refusals read exactly as they always did.
 */
upk_status md_scan_parse(const void *buf, size_t len, const struct upk_metadata_limits *limits,
			 json_t **doc, struct md_compact **compact);
/* md_index_targets() for a compact role: checks every entry, sorts names. */
upk_status md_compact_index(struct upk_metadata *md, struct upk_error *err);
/* Entry names[i] as a jansson object, built on first use and kept (borrowed). */
upk_status md_compact_entry(const struct upk_metadata *md, size_t i, const json_t **out,
			    struct upk_error *err);
/* The canonical bytes of "signed", freshly made from the document bytes. */
upk_status md_compact_canonical(const struct upk_metadata *md, char **out, size_t *len,
				struct upk_error *err);
/* 1 when "signed" as written is canonical already: *bytes points into the document. */
int md_compact_signed_in_place(const struct upk_metadata *md, const char **bytes, size_t *len);
/*
 * Turn a compact role into an ordinary one (no-op for others): required
 * before the tree is changed or handed out. Entries and paths already given out stay
 * valid. O(targets).
 */
upk_status md_materialize(struct upk_metadata *md, struct upk_error *err);
void md_compact_free(struct md_compact *c);

#endif
