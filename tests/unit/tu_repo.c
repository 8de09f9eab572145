/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The repository simulator behind tu_repo.h: deterministic keys, one
 * metadata object per role, and files written the way a TUF repository
 * serves them (both versioned and unversioned names).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tu_repo.h"
#include "upkeep/crypto.h"

static const char *const top_names[4] = {"root", "targets", "snapshot", "timestamp"};

struct upk_key *tu_repo_key(struct tu_repo *r)
{
	uint8_t seed[32] = {0};
	struct upk_key *k = NULL;

	r->seed++;
	memcpy(seed, &r->seed, sizeof(r->seed));
	seed[31] = 0x5a;
	if (upk_key_from_ed25519_seed(seed, &k, NULL) != UPK_OK)
		return NULL;
	return k;
}

static upk_status write_file(const char *path, const void *data, size_t len, struct upk_error *err)
{
	FILE *f;
	char dir[4300];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "wb");
	if (f == NULL)
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
	if (len > 0 && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return upk_error_set(err, UPK_ERR_IO, "%s: short write", path);
	}
	if (fclose(f) != 0)
		return upk_error_set(err, UPK_ERR_IO, "%s: close failed", path);
	return UPK_OK;
}

upk_status tu_repo_put(struct tu_repo *r, const char *name, const void *data, size_t len,
                       struct upk_error *err)
{
	char path[8400];

	snprintf(path, sizeof(path), "%s/%s", r->metadata_dir, name);
	return write_file(path, data, len, err);
}

struct tu_role *tu_repo_role(struct tu_repo *r, const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, top_names[i]) == 0)
			return &r->top[i];
	for (size_t i = 0; i < r->n_deleg; i++)
		if (strcmp(name, r->deleg[i].name) == 0)
			return &r->deleg[i];
	return NULL;
}

static upk_status sign_role(struct tu_role *role, struct upk_error *err)
{
	upk_status ret;

	upk_metadata_clear_signatures(role->md);
	for (size_t i = 0; i < role->n_keys; i++) {
		ret = upk_metadata_sign(role->md, role->keys[i], err);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

/* Serialize and write N.name.json and name.json; also returns length and hashes. */
static upk_status write_md(struct tu_repo *r, struct tu_role *role, int64_t *len_out,
                           json_t **hashes_out, struct upk_error *err)
{
	char *buf = NULL;
	size_t len;
	char name[300];
	upk_status ret;

	ret = upk_metadata_serialize(role->md, 0, &buf, &len, err);
	if (ret != UPK_OK)
		return ret;
	snprintf(name, sizeof(name), "%" PRId64 ".%s.json", upk_metadata_version(role->md),
	         role->name);
	ret = tu_repo_put(r, name, buf, len, err);
	if (ret == UPK_OK && role != &r->top[TU_ROOT]) {
		snprintf(name, sizeof(name), "%s.json", role->name);
		ret = tu_repo_put(r, name, buf, len, err);
	}
	if (ret == UPK_OK && hashes_out != NULL) {
		uint8_t d[UPK_HASH_MAX_LEN];
		char hex[2 * UPK_HASH_MAX_LEN + 1];

		upk_hash_buf(UPK_HASH_SHA256, buf, len, d, NULL);
		upk_hex_encode(d, 32, hex);
		*hashes_out = json_pack("{s:s}", "sha256", hex);
		*len_out = (int64_t)len;
	}
	free(buf);
	return ret;
}

upk_status tu_repo_write_role(struct tu_repo *r, const char *name, struct upk_error *err)
{
	struct tu_role *role = tu_repo_role(r, name);
	upk_status ret;

	if (role == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no role %s", name);
	ret = sign_role(role, err);
	if (ret == UPK_OK)
		ret = write_md(r, role, NULL, NULL, err);
	return ret;
}

static upk_status bump(struct tu_role *role, time_t def_expires, struct upk_error *err)
{
	upk_status ret = UPK_OK;

	if (role->published)
		ret = upk_metadata_set_version(role->md, upk_metadata_version(role->md) + 1, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_expires(role->md,
		                               role->expires ? role->expires : def_expires, err);
	role->published = 1;
	return ret;
}

upk_status tu_repo_publish(struct tu_repo *r, struct upk_error *err)
{
	struct tu_role *snap = &r->top[TU_SNAPSHOT], *ts = &r->top[TU_TIMESTAMP];
	upk_status ret = UPK_OK;
	int64_t len;
	json_t *hashes = NULL;

	for (size_t i = 0; i <= r->n_deleg && ret == UPK_OK; i++) {
		struct tu_role *role = i < r->n_deleg ? &r->deleg[i] : &r->top[TU_TARGETS];
		char meta[300];

		if (!role->dirty)
			continue;
		ret = bump(role, r->expires, err);
		if (ret == UPK_OK)
			ret = sign_role(role, err);
		if (ret == UPK_OK)
			ret = write_md(r, role, &len, &hashes, err);
		snprintf(meta, sizeof(meta), "%s.json", role->name);
		if (ret == UPK_OK)
			ret = upk_meta_set(snap->md, meta, upk_metadata_version(role->md),
			                   r->meta_hashes ? len : -1,
			                   r->meta_hashes ? hashes : NULL, err);
		json_decref(hashes);
		hashes = NULL;
		role->dirty = 0;
	}
	if (ret == UPK_OK)
		ret = bump(snap, r->expires, err);
	if (ret == UPK_OK)
		ret = sign_role(snap, err);
	if (ret == UPK_OK)
		ret = write_md(r, snap, &len, &hashes, err);
	if (ret == UPK_OK)
		ret = upk_meta_set(ts->md, "snapshot.json", upk_metadata_version(snap->md),
		                   r->meta_hashes ? len : -1, r->meta_hashes ? hashes : NULL, err);
	json_decref(hashes);
	hashes = NULL;
	if (ret == UPK_OK)
		ret = bump(ts, r->expires, err);
	if (ret == UPK_OK)
		ret = sign_role(ts, err);
	if (ret == UPK_OK)
		ret = write_md(r, ts, NULL, NULL, err);
	return ret;
}

upk_status tu_repo_new(const char *dir, int consistent, struct tu_repo **out, struct upk_error *err)
{
	struct tu_repo *r = calloc(1, sizeof(*r));
	upk_status ret = UPK_OK;

	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->metadata_dir, sizeof(r->metadata_dir), "%s/metadata", dir);
	snprintf(r->targets_dir, sizeof(r->targets_dir), "%s/targets", dir);
	mkdir(r->metadata_dir, 0755);
	mkdir(r->targets_dir, 0755);
	r->expires = time(NULL) + 30 * 86400;
	r->meta_hashes = 1;
	for (int i = 0; i < 4 && ret == UPK_OK; i++) {
		snprintf(r->top[i].name, sizeof(r->top[i].name), "%s", top_names[i]);
		ret = upk_metadata_new((enum upk_role_type)(i + 1), r->expires, &r->top[i].md, err);
		r->top[i].keys[0] = tu_repo_key(r);
		r->top[i].n_keys = 1;
	}
	for (int i = 0; i < 4 && ret == UPK_OK; i++)
		ret = upk_root_add_key(r->top[TU_ROOT].md, top_names[i], r->top[i].keys[0], err);
	if (ret == UPK_OK)
		ret = upk_root_set_consistent_snapshot(r->top[TU_ROOT].md, consistent, err);
	if (ret == UPK_OK)
		ret = bump(&r->top[TU_ROOT], r->expires, err);
	if (ret == UPK_OK)
		ret = tu_repo_write_role(r, "root", err);
	r->top[TU_TARGETS].dirty = 1;
	if (ret == UPK_OK)
		ret = tu_repo_publish(r, err);
	if (ret != UPK_OK) {
		tu_repo_free(r);
		return ret;
	}
	*out = r;
	return UPK_OK;
}

static void free_role(struct tu_role *role)
{
	upk_metadata_free(role->md);
	for (size_t i = 0; i < role->n_keys; i++)
		upk_key_free(role->keys[i]);
}

void tu_repo_free(struct tu_repo *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < 4; i++)
		free_role(&r->top[i]);
	for (size_t i = 0; i < r->n_deleg; i++)
		free_role(&r->deleg[i]);
	free(r);
}

upk_status tu_repo_add_target(struct tu_repo *r, const char *role_name, const char *path,
                              const void *data, size_t len, struct upk_error *err)
{
	struct tu_role *role = tu_repo_role(r, role_name);
	uint8_t d256[UPK_HASH_MAX_LEN], d512[UPK_HASH_MAX_LEN];
	char h256[129], h512[129], file[8600];
	const char *slash = strrchr(path, '/');
	int dirlen = slash != NULL ? (int)(slash - path) + 1 : 0;
	json_t *hashes;
	upk_status ret;

	if (role == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no role %s", role_name);
	upk_hash_buf(UPK_HASH_SHA256, data, len, d256, NULL);
	upk_hash_buf(UPK_HASH_SHA512, data, len, d512, NULL);
	upk_hex_encode(d256, 32, h256);
	upk_hex_encode(d512, 64, h512);
	snprintf(file, sizeof(file), "%s/%s", r->targets_dir, path);
	ret = write_file(file, data, len, err);
	snprintf(file, sizeof(file), "%s/%.*s%s.%s", r->targets_dir, dirlen, path, h256,
	         path + dirlen);
	if (ret == UPK_OK)
		ret = write_file(file, data, len, err);
	snprintf(file, sizeof(file), "%s/%.*s%s.%s", r->targets_dir, dirlen, path, h512,
	         path + dirlen);
	if (ret == UPK_OK)
		ret = write_file(file, data, len, err);
	hashes = json_pack("{s:s,s:s}", "sha256", h256, "sha512", h512);
	if (ret == UPK_OK)
		ret = upk_targets_set(role->md, path, (int64_t)len, hashes, NULL, err);
	json_decref(hashes);
	role->dirty = 1;
	return ret;
}

upk_status tu_repo_delegate(struct tu_repo *r, const char *parent, const char *name,
                            const char *const *paths, size_t n_paths, int terminating,
                            size_t n_keys, unsigned threshold, struct upk_error *err)
{
	struct tu_role *p = tu_repo_role(r, parent);
	struct tu_role *role = tu_repo_role(r, name);
	upk_status ret;

	if (p == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no role %s", parent);
	if (role == NULL) {
		if (r->n_deleg == TU_MAX_ROLES || n_keys > TU_MAX_ROLE_KEYS)
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "too many roles or keys");
		role = &r->deleg[r->n_deleg++];
		snprintf(role->name, sizeof(role->name), "%s", name);
		ret = upk_metadata_new(UPK_ROLE_TARGETS, r->expires, &role->md, err);
		if (ret != UPK_OK)
			return ret;
		for (size_t i = 0; i < n_keys; i++)
			role->keys[role->n_keys++] = tu_repo_key(r);
		role->dirty = 1;
	}
	ret = upk_targets_delegate(p->md, name, (const struct upk_key *const *)role->keys,
	                           role->n_keys, threshold, paths, n_paths, terminating, err);
	p->dirty = 1;
	return ret;
}

upk_status tu_repo_rotate(struct tu_repo *r, const char *name, size_t n_keys, unsigned threshold,
                          struct upk_error *err)
{
	struct tu_role *root = &r->top[TU_ROOT];
	struct tu_role *role = tu_repo_role(r, name);
	struct upk_key *old[TU_MAX_ROLE_KEYS];
	size_t n_old = role->n_keys;
	upk_status ret = UPK_OK;

	if (n_keys > TU_MAX_ROLE_KEYS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "too many keys");
	memcpy(old, role->keys, sizeof(old));
	for (size_t i = 0; i < n_old && ret == UPK_OK; i++) {
		char id[UPK_KEYID_HEX_LEN + 1];

		ret = upk_key_id(old[i], id, err);
		if (ret == UPK_OK)
			ret = upk_root_remove_key(root->md, name, id, err);
	}
	role->n_keys = 0;
	for (size_t i = 0; i < n_keys && ret == UPK_OK; i++) {
		role->keys[role->n_keys++] = tu_repo_key(r);
		ret = upk_root_add_key(root->md, name, role->keys[i], err);
	}
	if (ret == UPK_OK && threshold > 0)
		ret = upk_root_set_threshold(root->md, name, threshold, err);
	if (ret == UPK_OK)
		ret = bump(root, r->expires, err);
	/* A new root is signed by the old root keys and by the new ones. */
	if (ret == UPK_OK)
		ret = sign_role(root, err);
	if (ret == UPK_OK && role == root)
		for (size_t i = 0; i < n_old && ret == UPK_OK; i++)
			ret = upk_metadata_sign(root->md, old[i], err);
	if (ret == UPK_OK)
		ret = write_md(r, root, NULL, NULL, err);
	for (size_t i = 0; i < n_old; i++)
		upk_key_free(old[i]);
	return ret;
}
