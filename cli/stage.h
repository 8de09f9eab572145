/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner's working copy of a repository (the "staging area"): its layout
 * on disk, the version-bump rule for edited roles, who may sign which role,
 * and which signatures a staged file carries. Documented in docs/owner-tool.md.
 *
 *   DIR/upkeep-repo.json        format marker and expiry periods per role
 *   DIR/staged/root.json        the next root (signed envelope, editable)
 *   DIR/staged/targets.json     top-level targets
 *   DIR/staged/<role>.json      each delegated targets role
 *   DIR/targets/<target path>   payload files, as added
 *   DIR/published/N.root.json   every root version ever published (the chain)
 *   DIR/published/<role>.json   the last published targets, delegated roles,
 *                               snapshot.json and timestamp.json
 */
#ifndef UPK_CLI_STAGE_H
#define UPK_CLI_STAGE_H

#include <time.h>
#include <jansson.h>

#include "upkeep/error.h"
#include "upkeep/metadata.h"

#define STAGE_CONFIG "upkeep-repo.json"
#define STAGE_FORMAT 1

struct stage {
	char *dir;
	json_t *config;
	struct upk_metadata *root;     /* staged root */
	struct upk_metadata *pub_root; /* latest published root; NULL before the first publish */
	time_t now;
};

/* Open DIR (made by `upkeep repo init`): config, staged root, published root. */
upk_status stage_open(const char *dir, struct stage **out, struct upk_error *err);
void stage_free(struct stage *st);

/* A malloc()ed path under the repository, e.g. stage_path(st, "staged", "root.json"). */
char *stage_path(const struct stage *st, const char *sub, const char *name);

/* 1 for root, targets, snapshot, timestamp. */
int stage_is_top_role(const char *name);
/*
 * Names of delegated roles become file names and URL path segments:
 * [A-Za-z0-9._-], 1..64 bytes, not starting with '.' or a digit, not a
 * top-level role name.
 */
upk_status stage_check_role_name(const char *name, struct upk_error *err);
/*
 * Target paths: relative, '/'-separated, no empty, "." or ".." segments,
 * printable ASCII without backslash, at most 1024 bytes.
 */
upk_status stage_check_target_path(const char *path, struct upk_error *err);

/* Load staged/<name>.json (UPK_ERR_NOT_FOUND naming the role when missing). */
upk_status stage_load(struct stage *st, const char *name, struct upk_metadata **out,
		      struct upk_error *err);
/*
 * Save md as staged/<name>.json (pretty JSON, atomic). st->root stays the root
 * as it was when the stage was opened (callers may hold keys borrowed from it).
 */
upk_status stage_save(struct stage *st, const char *name, struct upk_metadata *md,
		      struct upk_error *err);

/*
 * The last published version of a role (root: the newest in the chain);
 * UPK_ERR_NOT_FOUND when it was never published.
 */
upk_status stage_load_published(struct stage *st, const char *name, struct upk_metadata **out,
				struct upk_error *err);
/* Its version, 0 when never published. */
int64_t stage_published_version(struct stage *st, const char *name);

/* now + the role's configured period (delegated roles use the "targets" period). */
upk_status stage_default_expiry(struct stage *st, const char *name, time_t *out,
				struct upk_error *err);

/*
 * The bump rule, called before a staged role is changed: when its version is
 * not above the published one, it becomes published + 1 with a fresh default
 * expiry. So a role moves up exactly one version per staging round however
 * many edits it gets, and any edit drops its signatures (the model does that).
 */
upk_status stage_touch(struct stage *st, const char *name, struct upk_metadata *md,
		       struct upk_error *err);

/*
 * Delegated roles reachable from staged targets, in TUF search order
 * (preorder, depth first, each once), "targets" first. names[i] are malloc()ed.
 */
upk_status stage_targets_roles(struct stage *st, char ***names, size_t *n,
			       struct upk_error *err);
void stage_names_free(char **names, size_t n);

/* The staged role that delegates name (malloc()ed name and loaded document). */
upk_status stage_delegator(struct stage *st, const char *name, char **delegator,
			   struct upk_metadata **delegator_md, struct upk_error *err);

/* The keys allowed to sign a role, and which of them have signed a document. */
struct role_auth {
	char where[64]; /* "root v2", "targets v3": what defines these keys */
	unsigned threshold;
	size_t n;
	char **keyids;
	const struct upk_key **keys; /* borrowed from owner_md or the stage; NULL for unknown types */
	int *valid;                  /* filled by role_auth_check */
	struct upk_metadata *owner_md; /* the delegator, when this struct owns it */
};

/*
 * The keys for role name: from the staged root for top-level roles (from the
 * published root instead when previous_root is set; UPK_ERR_NOT_FOUND if
 * none), from the staged delegator for delegated roles.
 */
upk_status stage_role_auth(struct stage *st, const char *name, int previous_root,
			   struct role_auth *out, struct upk_error *err);
/* Mark which keys made a valid signature over md; *valid counts distinct public keys. */
upk_status role_auth_check(struct role_auth *a, struct upk_metadata *md, unsigned *valid,
			   struct upk_error *err);
/* Index of keyid in a, or -1. */
int role_auth_find(const struct role_auth *a, const char *keyid);
void role_auth_free(struct role_auth *a);

/* The signatures array of md's envelope (new reference). */
upk_status stage_signatures(struct upk_metadata *md, json_t **out, struct upk_error *err);
/* A copy of md carrying the given signatures array instead of its own. */
upk_status stage_with_signatures(struct upk_metadata *md, const json_t *sigs,
			      struct upk_metadata **out, struct upk_error *err);
/* Check every target's custom.upkeep in a targets document (the signing-time check). */
upk_status stage_check_target_infos(const struct upk_metadata *md, const char *role,
				 struct upk_error *err);

/*
 * Where a published repository keeps target path P under consistent
 * snapshots: "<dir of P>/<hex hash>.<basename of P>" (TUF spec 5.7.3), as a
 * malloc()ed path relative to PUBDIR/targets.
 */
char *stage_hashed_target_name(const char *path, const char *hex);

#endif
