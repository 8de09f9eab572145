/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A TUF repository simulator for tests and benchmarks: it signs metadata
 * with our builder API and writes it in the layout a client expects
 * (DIR/metadata/N.role.json and role.json, DIR/targets/[HASH.]name), so tests
 * can publish, rotate keys and then tamper with what is served.
 * No cmocka here (the benchmark uses it too): failures return a status.
 */
#ifndef UPK_TU_REPO_H
#define UPK_TU_REPO_H

#include <stddef.h>
#include <time.h>

#include "upkeep/error.h"
#include "upkeep/metadata.h"

#define TU_MAX_ROLE_KEYS 8
#define TU_MAX_ROLES 64

struct tu_role {
	char name[256];
	struct upk_metadata *md;
	struct upk_key *keys[TU_MAX_ROLE_KEYS]; /* signers */
	size_t n_keys;
	int dirty;
	int published;
	time_t expires; /* 0: the repository default */
};

struct tu_repo {
	char dir[4096];
	char metadata_dir[4200];
	char targets_dir[4200];
	time_t expires;        /* default expiry of new versions */
	int meta_hashes;       /* list length and hashes in timestamp/snapshot meta */
	unsigned seed;         /* next deterministic key seed */
	struct tu_role top[4]; /* root, targets, snapshot, timestamp */
	struct tu_role deleg[TU_MAX_ROLES];
	size_t n_deleg;
};

enum { TU_ROOT = 0, TU_TARGETS = 1, TU_SNAPSHOT = 2, TU_TIMESTAMP = 3 };

/* A repository with one key per role, everything at version 1, published. */
upk_status tu_repo_new(const char *dir, int consistent, struct tu_repo **out,
                       struct upk_error *err);
void tu_repo_free(struct tu_repo *r);

/* The role by name ("root", "targets", ... or a delegated name), or NULL. */
struct tu_role *tu_repo_role(struct tu_repo *r, const char *name);

/* A new deterministic Ed25519 key (caller frees). */
struct upk_key *tu_repo_key(struct tu_repo *r);

/* Add a target to a targets role (writes its files under targets/). */
upk_status tu_repo_add_target(struct tu_repo *r, const char *role, const char *path,
                              const void *data, size_t len, struct upk_error *err);

/* Delegate paths from parent to a new role with n_keys fresh keys and the given threshold. */
upk_status tu_repo_delegate(struct tu_repo *r, const char *parent, const char *name,
                            const char *const *paths, size_t n_paths, int terminating,
                            size_t n_keys, unsigned threshold, struct upk_error *err);

/*
 * Sign and write every dirty targets role (version+1 when already
 * published), then a new snapshot and timestamp.
 */
upk_status tu_repo_publish(struct tu_repo *r, struct upk_error *err);

/* Sign (with the role's signers) and write one role as it is, without touching others. */
upk_status tu_repo_write_role(struct tu_repo *r, const char *name, struct upk_error *err);

/*
 * Replace the keys of a top-level role with n_keys new ones (threshold
 * unchanged unless threshold > 0), then publish root version+1 signed by the
 * old and the new root keys.
 */
upk_status tu_repo_rotate(struct tu_repo *r, const char *role, size_t n_keys, unsigned threshold,
                          struct upk_error *err);

/* Write bytes as DIR/metadata/<name> (for serving tampered files). */
upk_status tu_repo_put(struct tu_repo *r, const char *name, const void *data, size_t len,
                       struct upk_error *err);

#endif
