/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Online signing. The server holds only snapshot and timestamp keys of the
 * image repository and the targets/snapshot/timestamp keys of the director:
 * with them it can publish what the owner signed and say what each device
 * should run, but it can never sign an image-repository target or a root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "signer.h"
#include "store.h"

upk_status online_keys_load(struct store *st, int64_t fleet, const char *repo, const char *role,
			    struct online_keys *out, struct upk_error *err)
{
	json_t *rows = NULL, *row;
	upk_status ret;
	size_t i;

	memset(out, 0, sizeof(*out));
	ret = st->ops->online_key_list(st, fleet, repo, role, &rows, err);
	if (ret != UPK_OK)
		return ret;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no %s %s keys held", repo, role);
	}
	json_array_foreach(rows, i, row) {
		const char *pem = json_string_value(json_object_get(row, "pem"));

		if (out->n >= ONLINE_MAX_KEYS)
			break;
		ret = upk_key_from_pem(pem, strlen(pem), NULL, &out->keys[out->n], err);
		if (ret != UPK_OK) {
			online_keys_free(out);
			break;
		}
		out->n++;
	}
	json_decref(rows);
	return ret;
}

void online_keys_free(struct online_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		upk_key_free(k->keys[i]);
	memset(k, 0, sizeof(*k));
}

/* How many of k the root lists for role (distinct keys by construction). */
static upk_status count_listed(const struct upk_metadata *root, const char *role,
			       const struct online_keys *k, unsigned *listed, unsigned *threshold,
			       int *which, struct upk_error *err)
{
	struct upk_role_keys rk;
	upk_status ret = upk_root_role(root, role, &rk, err);

	if (ret != UPK_OK)
		return ret;
	*listed = 0;
	for (size_t i = 0; i < k->n; i++) {
		char id[UPK_KEYID_HEX_LEN + 1];

		which[i] = 0;
		ret = upk_key_id(k->keys[i], id, err);
		if (ret != UPK_OK)
			return ret;
		for (size_t j = 0; j < rk.n_keyids; j++) {
			if (strcmp(rk.keyids[j], id) == 0) {
				which[i] = 1;
				(*listed)++;
				break;
			}
		}
	}
	*threshold = rk.threshold;
	return UPK_OK;
}

upk_status online_keys_cover(const struct upk_metadata *root, const char *role,
			     const struct online_keys *k, struct upk_error *err)
{
	int which[ONLINE_MAX_KEYS];
	unsigned listed = 0, threshold = 0;
	upk_status ret = count_listed(root, role, k, &listed, &threshold, which, err);

	if (ret != UPK_OK)
		return ret;
	if (listed < threshold)
		return upk_error_set(err, UPK_ERR_SIGNATURE,
				     "root v%lld: role %s needs %u keys the server holds, it names %u "
				     "of them",
				     (long long)upk_metadata_version(root), role, threshold, listed);
	return UPK_OK;
}

upk_status online_sign(const struct upk_metadata *root, const char *role,
		       const struct online_keys *k, struct upk_metadata *md, struct upk_error *err)
{
	int which[ONLINE_MAX_KEYS];
	unsigned listed = 0, threshold = 0;
	upk_status ret = count_listed(root, role, k, &listed, &threshold, which, err);

	for (size_t i = 0; ret == UPK_OK && i < k->n; i++)
		if (which[i])
			ret = upk_metadata_sign(md, k->keys[i], err);
	/* Check what clients will check, so the server never serves what they refuse. */
	if (ret == UPK_OK)
		ret = upk_verify_role(root, role, md, NULL, err);
	return ret;
}

upk_status root_check_first(struct upk_metadata *root, int64_t now, struct upk_error *err)
{
	upk_status ret = upk_verify_role(root, "root", root, NULL, err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "root v%lld, its own root keys: ",
					(long long)upk_metadata_version(root));
	if (upk_metadata_is_expired(root, (time_t)now))
		return upk_error_set(err, UPK_ERR_EXPIRED, "root v%lld has expired",
				     (long long)upk_metadata_version(root));
	if (!upk_root_consistent_snapshot(root))
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "root v%lld: consistent_snapshot must be true (the server "
				     "serves consistent snapshots)",
				     (long long)upk_metadata_version(root));
	return UPK_OK;
}

upk_status root_check_next(const struct upk_metadata *trusted, struct upk_metadata *next,
			   int64_t now, struct upk_error *err)
{
	int64_t tv = upk_metadata_version(trusted), nv = upk_metadata_version(next);
	upk_status ret;

	if (nv <= tv)
		return upk_error_set(err, UPK_ERR_ROLLBACK,
				     "root v%lld is not newer than the trusted root v%lld",
				     (long long)nv, (long long)tv);
	if (nv != tv + 1)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "root v%lld skips versions: upload v%lld first", (long long)nv,
				     (long long)(tv + 1));
	ret = upk_verify_role(trusted, "root", next, NULL, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "root v%lld, keys of trusted root v%lld: ",
					(long long)nv, (long long)tv);
	return root_check_first(next, now, err);
}

upk_status meta_load(struct store *st, int64_t fleet, const char *repo, const char *scope,
		     const char *role, int64_t version, enum upk_role_type type,
		     struct upk_metadata **out, char **bytes, size_t *len, struct upk_error *err)
{
	char *b = NULL;
	size_t n = 0;
	upk_status ret = st->ops->meta_get(st, fleet, repo, scope, role, version, &b, &n, NULL, err);

	if (ret != UPK_OK)
		return ret;
	ret = upk_metadata_parse(b, n, type, NULL, out, err);
	if (ret == UPK_OK && bytes != NULL) {
		*bytes = b;
		b = NULL;
		if (len != NULL)
			*len = n;
	}
	free(b);
	return ret;
}

upk_status meta_hashes(const void *bytes, size_t len, json_t **out, struct upk_error *err)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	char hex[2 * UPK_HASH_MAX_LEN + 1];
	upk_status ret = upk_hash_buf(UPK_HASH_SHA256, bytes, len, d, err);

	if (ret != UPK_OK)
		return ret;
	upk_hex_encode(d, 32, hex);
	*out = json_pack("{s:s}", "sha256", hex);
	return *out != NULL ? UPK_OK : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
}

upk_status online_sign_store(struct server *srv, int64_t fleet, const char *repo,
			     const char *scope, const char *role, const struct upk_metadata *root,
			     struct upk_metadata *md, int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	struct online_keys k;
	char *text = NULL;
	size_t len = 0;
	upk_status ret = online_keys_load(st, fleet, repo, role, &k, err);

	if (ret != UPK_OK)
		return ret;
	ret = online_sign(root, role, &k, md, err);
	online_keys_free(&k);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(md, 0, &text, &len, err);
	if (ret == UPK_OK)
		ret = st->ops->meta_put(st, fleet, repo, scope, role, upk_metadata_version(md),
					(int64_t)upk_metadata_expires(md), text, len, now, err);
	free(text);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s %s: ", repo, role);
	return UPK_OK;
}

static upk_status latest_version(struct store *st, int64_t fleet, const char *repo,
				 const char *scope, const char *role, int64_t *out,
				 struct upk_error *err)
{
	char *b = NULL;
	upk_status ret = st->ops->meta_get(st, fleet, repo, scope, role, 0, &b, NULL, out, err);

	free(b);
	if (ret == UPK_ERR_NOT_FOUND) {
		*out = 0;
		return UPK_OK;
	}
	return ret;
}

static upk_status make_snapshot(struct server *srv, int64_t fleet, const char *repo,
				const char *scope, const struct upk_metadata *root, int64_t now,
				struct upk_error *err)
{
	struct store *st = srv->store;
	struct upk_metadata *snap = NULL;
	json_t *rows = NULL, *row;
	int64_t version = 0;
	upk_status ret;
	size_t i;

	ret = latest_version(st, fleet, repo, scope, "snapshot", &version, err);
	if (ret == UPK_OK)
		ret = st->ops->meta_latest(st, fleet, repo, scope, &rows, err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_SNAPSHOT, (time_t)(now + srv->cfg.snapshot_expiry),
				       &snap, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(snap, version + 1, err);
	json_array_foreach(rows, i, row) {
		const char *role = json_string_value(json_object_get(row, "role"));
		int64_t v = json_integer_value(json_object_get(row, "version"));
		char name[128], *bytes = NULL;
		json_t *hashes = NULL;
		size_t len = 0;

		if (ret != UPK_OK)
			break;
		if (strcmp(role, "root") == 0 || strcmp(role, "snapshot") == 0 ||
		    strcmp(role, "timestamp") == 0)
			continue;
		ret = st->ops->meta_get(st, fleet, repo, scope, role, v, &bytes, &len, NULL, err);
		if (ret == UPK_OK)
			ret = meta_hashes(bytes, len, &hashes, err);
		snprintf(name, sizeof(name), "%s.json", role);
		if (ret == UPK_OK)
			ret = upk_meta_set(snap, name, v, (int64_t)len, hashes, err);
		json_decref(hashes);
		free(bytes);
	}
	if (ret == UPK_OK)
		ret = online_sign_store(srv, fleet, repo, scope, "snapshot", root, snap, now, err);
	upk_metadata_free(snap);
	json_decref(rows);
	return ret;
}

static upk_status make_timestamp(struct server *srv, int64_t fleet, const char *repo,
				 const char *scope, const struct upk_metadata *root, int64_t now,
				 struct upk_error *err)
{
	struct store *st = srv->store;
	struct upk_metadata *ts = NULL;
	int64_t version = 0, snap_version = 0;
	char *bytes = NULL;
	size_t len = 0;
	json_t *hashes = NULL;
	upk_status ret;

	ret = latest_version(st, fleet, repo, scope, "timestamp", &version, err);
	if (ret == UPK_OK)
		ret = st->ops->meta_get(st, fleet, repo, scope, "snapshot", 0, &bytes, &len,
					&snap_version, err);
	if (ret == UPK_OK)
		ret = meta_hashes(bytes, len, &hashes, err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_TIMESTAMP,
				       (time_t)(now + srv->cfg.timestamp_expiry), &ts, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(ts, version + 1, err);
	if (ret == UPK_OK)
		ret = upk_meta_set(ts, "snapshot.json", snap_version, (int64_t)len, hashes, err);
	if (ret == UPK_OK)
		ret = online_sign_store(srv, fleet, repo, scope, "timestamp", root, ts, now, err);
	upk_metadata_free(ts);
	json_decref(hashes);
	free(bytes);
	return ret;
}

upk_status publish_snapshot_timestamp(struct server *srv, int64_t fleet, const char *repo,
				      const char *scope, int new_snapshot, int64_t now,
				      struct upk_error *err)
{
	struct upk_metadata *root = NULL;
	upk_status ret = meta_load(srv->store, fleet, repo, "", "root", 0, UPK_ROLE_ROOT, &root,
				   NULL, NULL, err);

	if (ret == UPK_OK && new_snapshot)
		ret = make_snapshot(srv, fleet, repo, scope, root, now, err);
	if (ret == UPK_OK)
		ret = make_timestamp(srv, fleet, repo, scope, root, now, err);
	upk_metadata_free(root);
	return ret;
}
