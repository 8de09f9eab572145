/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Root metadata: the keys and thresholds of the four top-level roles.
 * Changes go through the JSON tree and a full re-validation, so a root that
 * the tooling writes is always one the parser accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"

static const char *const top_roles[] = {"root", "targets", "snapshot", "timestamp"};

upk_status md_index_root(struct upk_metadata *md, struct upk_error *err)
{
	const json_t *cs = json_object_get(md->signed_, "consistent_snapshot");
	const json_t *roles = json_object_get(md->signed_, "roles");
	upk_status ret;

	if (cs != NULL && !json_is_boolean(cs))
		return upk_error_set(err, UPK_ERR_INVALID, "\"consistent_snapshot\" must be a boolean");
	md->consistent_snapshot = json_is_true(cs);
	ret = md_index_keys(md, json_object_get(md->signed_, "keys"), "root", err);
	if (ret != UPK_OK)
		return ret;
	if (!json_is_object(roles))
		return upk_error_set(err, UPK_ERR_INVALID, "root \"roles\" must be an object");
	md->roles = calloc(4, sizeof(*md->roles));
	if (md->roles == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < 4; i++) {
		const json_t *r = json_object_get(roles, top_roles[i]);
		char where[32];
		struct md_role *role = &md->roles[i];

		snprintf(where, sizeof(where), "root role %s", top_roles[i]);
		if (!json_is_object(r))
			return upk_error_set(err, UPK_ERR_INVALID, "root has no \"%s\" role",
					     top_roles[i]);
		role->name = top_roles[i];
		md->n_roles++;
		ret = md_parse_keyids(json_object_get(r, "keyids"), where, role, err);
		if (ret == UPK_OK)
			ret = md_parse_threshold(r, where, &role->threshold, err);
		if (ret != UPK_OK)
			return ret;
	}
	if (json_object_size(roles) != 4)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "root \"roles\" has %zu entries; only root, targets, snapshot "
				     "and timestamp are allowed",
				     json_object_size(roles));
	return UPK_OK;
}

static upk_status need_root(const struct upk_metadata *md, struct upk_error *err)
{
	if (md->type != UPK_ROLE_ROOT)
		return upk_error_set(err, UPK_ERR_INVALID, "%s metadata is not a root",
				     upk_role_type_name(md->type));
	return UPK_OK;
}

static upk_status find_top_role(const struct upk_metadata *root, const char *role,
				const struct md_role **out, struct upk_error *err)
{
	upk_status ret = need_root(root, err);

	if (ret != UPK_OK)
		return ret;
	*out = md_find_role(root, role ? role : "");
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "\"%s\" is not a top-level role",
				     role ? role : "(null)");
	return UPK_OK;
}

upk_status upk_root_role(const struct upk_metadata *root, const char *role,
			 struct upk_role_keys *out, struct upk_error *err)
{
	const struct md_role *r;
	upk_status ret = find_top_role(root, role, &r, err);

	if (ret != UPK_OK)
		return ret;
	out->keyids = r->keyids;
	out->n_keyids = r->n_keyids;
	out->threshold = r->threshold;
	return UPK_OK;
}

const struct upk_key *upk_root_key(const struct upk_metadata *root, const char *keyid)
{
	const struct md_key *k;

	if (root->type != UPK_ROLE_ROOT)
		return NULL;
	k = md_find_key(root, keyid);
	return k ? k->key : NULL;
}

int upk_root_consistent_snapshot(const struct upk_metadata *root)
{
	return root->consistent_snapshot;
}

static json_t *role_keyids(struct upk_metadata *root, const char *role)
{
	return json_object_get(json_object_get(json_object_get(root->signed_, "roles"), role),
			       "keyids");
}

upk_status upk_root_add_key(struct upk_metadata *root, const char *role,
			    const struct upk_key *key, struct upk_error *err)
{
	char keyid[UPK_KEYID_HEX_LEN + 1];
	const struct md_role *r;
	json_t *obj = NULL, *ids;
	size_t i;
	upk_status ret;

	ret = find_top_role(root, role, &r, err);
	if (ret == UPK_OK)
		ret = upk_key_id(key, keyid, err);
	if (ret == UPK_OK)
		ret = upk_key_to_tuf(key, &obj, err);
	if (ret != UPK_OK)
		return ret;
	if (json_object_set_new(json_object_get(root->signed_, "keys"), keyid, obj) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ids = role_keyids(root, role);
	for (i = 0; i < json_array_size(ids); i++)
		if (strcmp(json_string_value(json_array_get(ids, i)), keyid) == 0)
			break;
	if (i == json_array_size(ids) && json_array_append_new(ids, json_string(keyid)) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(root, err);
}

upk_status upk_root_remove_key(struct upk_metadata *root, const char *role, const char *keyid,
			       struct upk_error *err)
{
	const struct md_role *r;
	json_t *ids;
	int found = 0, used = 0;
	upk_status ret = find_top_role(root, role, &r, err);

	if (ret != UPK_OK)
		return ret;
	ids = role_keyids(root, role);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		if (strcmp(json_string_value(json_array_get(ids, i)), keyid) == 0) {
			json_array_remove(ids, i);
			found = 1;
			break;
		}
	}
	if (!found)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "root role %s has no key %s", role,
				     keyid);
	for (size_t t = 0; t < 4 && !used; t++) {
		json_t *other = role_keyids(root, top_roles[t]);
		for (size_t i = 0; i < json_array_size(other); i++)
			if (strcmp(json_string_value(json_array_get(other, i)), keyid) == 0)
				used = 1;
	}
	if (!used)
		json_object_del(json_object_get(root->signed_, "keys"), keyid);
	return md_changed(root, err);
}

upk_status upk_root_set_threshold(struct upk_metadata *root, const char *role,
				  unsigned threshold, struct upk_error *err)
{
	const struct md_role *r;
	upk_status ret = find_top_role(root, role, &r, err);

	if (ret != UPK_OK)
		return ret;
	if (threshold < 1 || threshold > UPK_MD_DEFAULT_MAX_KEYS)
		return upk_error_set(err, UPK_ERR_INVALID, "threshold %u for %s out of range",
				     threshold, role);
	if (json_object_set_new(json_object_get(json_object_get(root->signed_, "roles"), role),
				"threshold", json_integer(threshold)) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(root, err);
}

upk_status upk_root_set_consistent_snapshot(struct upk_metadata *root, int on,
					    struct upk_error *err)
{
	upk_status ret = need_root(root, err);

	if (ret != UPK_OK)
		return ret;
	if (json_object_set_new(root->signed_, "consistent_snapshot", json_boolean(on)) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(root, err);
}
