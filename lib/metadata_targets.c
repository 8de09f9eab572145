/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Targets metadata: the target files a role vouches for, and the roles it
 * delegates path patterns to. Delegations keep their listed order, which is
 * the order of the TUF pre-order search.
 */
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"

static int is_top_level_name(const char *name)
{
	return strcmp(name, "root") == 0 || strcmp(name, "targets") == 0 ||
	       strcmp(name, "snapshot") == 0 || strcmp(name, "timestamp") == 0;
}

upk_status md_check_target(const char *path, const json_t *t, struct upk_error *err)
{
	size_t plen = strlen(path);
	const json_t *custom = json_object_get(t, "custom");
	int64_t length;
	char where[96];
	upk_status ret;

	if (plen == 0 || plen > UPK_MD_MAX_PATH)
		return upk_error_set(err, UPK_ERR_INVALID, "target path of %zu bytes", plen);
	snprintf(where, sizeof(where), "target \"%.64s\"", path);
	if (!json_is_object(t))
		return upk_error_set(err, UPK_ERR_INVALID, "%s must be an object", where);
	ret = md_check_length(t, where, 1, &length, err);
	if (ret == UPK_OK)
		ret = md_check_hashes(json_object_get(t, "hashes"), where, err);
	if (ret == UPK_OK && custom != NULL && !json_is_object(custom))
		ret = upk_error_set(err, UPK_ERR_INVALID, "%s \"custom\" must be an object", where);
	return ret;
}

static upk_status parse_string_list(const json_t *arr, const char *where, const char *field,
				    size_t max_len, const char ***out, size_t *n_out,
				    struct upk_error *err)
{
	size_t i, n;
	const json_t *v;

	if (!json_is_array(arr))
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"%s\" must be an array", where,
				     field);
	n = json_array_size(arr);
	if (n > UPK_MD_DEFAULT_MAX_DELEGATIONS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %zu %s", where, n, field);
	*out = calloc(n + 1, sizeof(**out));
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) > max_len)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s %s[%zu] must be a string of at most %zu bytes",
					     where, field, i, max_len);
		(*out)[i] = json_string_value(v);
	}
	*n_out = n;
	return UPK_OK;
}

static upk_status index_delegated_role(struct upk_metadata *md, size_t idx, const json_t *r,
				       struct upk_error *err)
{
	struct md_role *role = &md->roles[idx];
	const json_t *name = json_object_get(r, "name");
	const json_t *term = json_object_get(r, "terminating");
	const json_t *paths = json_object_get(r, "paths");
	const json_t *prefixes = json_object_get(r, "path_hash_prefixes");
	char where[96];
	upk_status ret;

	if (!json_is_object(r) || !json_is_string(name) || json_string_length(name) == 0 ||
	    json_string_length(name) > 255 || strlen(json_string_value(name)) != json_string_length(name))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "delegations roles[%zu] needs a \"name\" of 1 to 255 bytes", idx);
	role->name = json_string_value(name);
	snprintf(where, sizeof(where), "delegated role \"%.64s\"", role->name);
	if (is_top_level_name(role->name))
		return upk_error_set(err, UPK_ERR_INVALID, "%s uses a top-level role name", where);
	for (size_t j = 0; j < idx; j++)
		if (strcmp(md->roles[j].name, role->name) == 0)
			return upk_error_set(err, UPK_ERR_INVALID, "%s is delegated twice", where);
	if (!json_is_boolean(term))
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"terminating\" must be a boolean",
				     where);
	role->terminating = json_is_true(term);
	ret = md_parse_keyids(json_object_get(r, "keyids"), where, role, err);
	if (ret == UPK_OK)
		ret = md_parse_threshold(r, where, &role->threshold, err);
	if (ret != UPK_OK)
		return ret;
	if (json_object_get(r, "succinct_roles") != NULL)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "%s uses succinct_roles", where);
	if ((paths == NULL) == (prefixes == NULL))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "%s needs exactly one of \"paths\" and \"path_hash_prefixes\"",
				     where);
	if (paths != NULL)
		return parse_string_list(paths, where, "paths", UPK_MD_MAX_PATH, &role->paths,
					 &role->n_paths, err);
	ret = parse_string_list(prefixes, where, "path_hash_prefixes", 64, &role->prefixes,
				&role->n_prefixes, err);
	for (size_t i = 0; ret == UPK_OK && i < role->n_prefixes; i++)
		for (const char *p = role->prefixes[i]; *p != '\0'; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return upk_error_set(err, UPK_ERR_INVALID,
						     "%s path_hash_prefixes[%zu] \"%s\" is not "
						     "lower-case hex",
						     where, i, role->prefixes[i]);
	return ret;
}

static upk_status index_delegations(struct upk_metadata *md, const json_t *d,
				    struct upk_error *err)
{
	const json_t *roles = json_object_get(d, "roles");
	const json_t *r;
	size_t i;
	upk_status ret;

	if (!json_is_object(d))
		return upk_error_set(err, UPK_ERR_INVALID, "\"delegations\" must be an object");
	ret = md_index_keys(md, json_object_get(d, "keys"), "delegations", err);
	if (ret != UPK_OK)
		return ret;
	if (!json_is_array(roles))
		return upk_error_set(err, UPK_ERR_INVALID, "delegations \"roles\" must be an array");
	if (json_array_size(roles) > md->limits.max_delegations)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu delegated roles, at most %zu",
				     json_array_size(roles), md->limits.max_delegations);
	md->roles = calloc(json_array_size(roles) + 1, sizeof(*md->roles));
	if (md->roles == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_array_foreach(roles, i, r) {
		md->n_roles++;
		ret = index_delegated_role(md, i, r, err);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

/* The entries of a tree-held role: each checked, paths sorted. */
static upk_status index_target_tree(struct upk_metadata *md, const json_t *targets,
				    struct upk_error *err)
{
	const char *path;
	const json_t *t;
	upk_status ret;

	if (json_object_size(targets) > md->limits.max_targets)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu targets, at most %zu allowed",
				     json_object_size(targets), md->limits.max_targets);
	md->names = calloc(json_object_size(targets) + 1, sizeof(*md->names));
	if (md->names == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)targets, path, t) {
		ret = md_check_target(path, t, err);
		if (ret != UPK_OK)
			return ret;
		md->names[md->n_names++] = path;
	}
	qsort(md->names, md->n_names, sizeof(*md->names), md_strcmp_ptr);
	return UPK_OK;
}

upk_status md_index_targets(struct upk_metadata *md, struct upk_error *err)
{
	const json_t *targets = json_object_get(md->signed_, "targets");
	const json_t *delegations = json_object_get(md->signed_, "delegations");
	upk_status ret;

	if (!json_is_object(targets))
		return upk_error_set(err, UPK_ERR_INVALID, "\"targets\" must be an object");
	/* A compact role's "targets" is an empty stand-in: its entries are in the bytes. */
	ret = md->compact != NULL ? md_compact_index(md, err) : index_target_tree(md, targets, err);
	if (ret != UPK_OK)
		return ret;
	if (delegations != NULL)
		return index_delegations(md, delegations, err);
	return UPK_OK;
}

static upk_status need_targets(const struct upk_metadata *md, struct upk_error *err)
{
	if (md->type != UPK_ROLE_TARGETS)
		return upk_error_set(err, UPK_ERR_INVALID, "%s metadata is not a targets role",
				     upk_role_type_name(md->type));
	return UPK_OK;
}

size_t upk_targets_count(const struct upk_metadata *targets)
{
	return targets->type == UPK_ROLE_TARGETS ? targets->n_names : 0;
}

static upk_status fill_target(const struct upk_metadata *md, size_t i, struct upk_target *out,
			      struct upk_error *err)
{
	const json_t *t;

	if (md->compact != NULL) {
		upk_status ret = md_compact_entry(md, i, &t, err);

		if (ret != UPK_OK)
			return ret;
	} else {
		t = json_object_get(json_object_get(md->signed_, "targets"), md->names[i]);
	}
	out->path = md->names[i];
	out->length = json_integer_value(json_object_get(t, "length"));
	out->hashes = json_object_get(t, "hashes");
	out->custom = json_object_get(t, "custom");
	return UPK_OK;
}

upk_status upk_targets_at(const struct upk_metadata *targets, size_t i, struct upk_target *out,
			  struct upk_error *err)
{
	upk_status ret = need_targets(targets, err);

	if (ret != UPK_OK)
		return ret;
	if (i >= targets->n_names)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no target number %zu", i);
	return fill_target(targets, i, out, err);
}

upk_status upk_targets_find(const struct upk_metadata *targets, const char *path,
			    struct upk_target *out, struct upk_error *err)
{
	const char **hit;
	upk_status ret = need_targets(targets, err);

	if (ret != UPK_OK)
		return ret;
	hit = targets->n_names ? bsearch(&path, targets->names, targets->n_names,
					 sizeof(*targets->names), md_strcmp_ptr)
			       : NULL;
	if (hit == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no target \"%.200s\"", path);
	return fill_target(targets, (size_t)(hit - targets->names), out, err);
}

upk_status upk_targets_set(struct upk_metadata *targets, const char *path, int64_t length,
			   const json_t *hashes, const json_t *custom, struct upk_error *err)
{
	json_t *entry;
	upk_status ret = need_targets(targets, err);

	if (ret == UPK_OK)
		ret = md_materialize(targets, err);
	if (ret != UPK_OK)
		return ret;
	entry = json_pack("{s:I,s:O}", "length", (json_int_t)length, "hashes", hashes);
	if (entry == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (custom != NULL && json_object_set(entry, "custom", (json_t *)custom) != 0) {
		json_decref(entry);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	/* Validate before touching the document, so a bad entry changes nothing. */
	ret = md_check_target(path, entry, err);
	if (ret != UPK_OK) {
		json_decref(entry);
		return ret;
	}
	if (json_object_set_new(json_object_get(targets->signed_, "targets"), path, entry) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(targets, err);
}

upk_status upk_targets_remove(struct upk_metadata *targets, const char *path,
			      struct upk_error *err)
{
	upk_status ret = need_targets(targets, err);

	if (ret == UPK_OK)
		ret = md_materialize(targets, err);
	if (ret != UPK_OK)
		return ret;
	if (json_object_del(json_object_get(targets->signed_, "targets"), path) != 0)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no target \"%.200s\"", path);
	return md_changed(targets, err);
}

size_t upk_delegations_count(const struct upk_metadata *targets)
{
	return targets->type == UPK_ROLE_TARGETS ? targets->n_roles : 0;
}

static void fill_delegation(const struct md_role *r, struct upk_delegation *out)
{
	out->name = r->name;
	out->keyids = r->keyids;
	out->n_keyids = r->n_keyids;
	out->threshold = r->threshold;
	out->terminating = r->terminating;
	out->paths = r->paths;
	out->n_paths = r->n_paths;
	out->hash_prefixes = r->prefixes;
	out->n_hash_prefixes = r->n_prefixes;
}

upk_status upk_delegation_at(const struct upk_metadata *targets, size_t i,
			     struct upk_delegation *out, struct upk_error *err)
{
	upk_status ret = need_targets(targets, err);

	if (ret != UPK_OK)
		return ret;
	if (i >= targets->n_roles)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no delegation number %zu", i);
	fill_delegation(&targets->roles[i], out);
	return UPK_OK;
}

upk_status upk_delegation_find(const struct upk_metadata *targets, const char *name,
			       struct upk_delegation *out, struct upk_error *err)
{
	const struct md_role *r;
	upk_status ret = need_targets(targets, err);

	if (ret != UPK_OK)
		return ret;
	r = md_find_role(targets, name);
	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no delegated role \"%.64s\"", name);
	fill_delegation(r, out);
	return UPK_OK;
}

const struct upk_key *upk_delegation_key(const struct upk_metadata *targets, const char *keyid)
{
	const struct md_key *k;

	if (targets->type != UPK_ROLE_TARGETS)
		return NULL;
	k = md_find_key(targets, keyid);
	return k ? k->key : NULL;
}

static json_t *delegations_object(struct upk_metadata *md)
{
	json_t *d = json_object_get(md->signed_, "delegations");

	if (d == NULL) {
		d = json_pack("{s:{},s:[]}", "keys", "roles");
		if (d == NULL || json_object_set_new(md->signed_, "delegations", d) != 0)
			return NULL;
	}
	return d;
}

/* Drop keys that no delegated role lists any more, so old keys do not linger. */
static void prune_delegation_keys(json_t *d)
{
	json_t *keys = json_object_get(d, "keys");
	json_t *roles = json_object_get(d, "roles");
	const char *keyid;
	json_t *v, *r;
	void *tmp;
	size_t i, j;

	json_object_foreach_safe(keys, tmp, keyid, v) {
		int used = 0;
		json_array_foreach(roles, i, r) {
			json_t *ids = json_object_get(r, "keyids");
			for (j = 0; j < json_array_size(ids) && !used; j++)
				used = strcmp(json_string_value(json_array_get(ids, j)), keyid) == 0;
		}
		if (!used)
			json_object_del(keys, keyid);
	}
}

upk_status upk_targets_delegate(struct upk_metadata *targets, const char *name,
				const struct upk_key *const *keys, size_t n_keys,
				unsigned threshold, const char *const *paths, size_t n_paths,
				int terminating, struct upk_error *err)
{
	json_t *d, *role = NULL, *ids = NULL, *pats = NULL, *roles;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	size_t i, pos;
	upk_status ret = need_targets(targets, err);

	if (ret == UPK_OK)
		ret = md_materialize(targets, err);
	if (ret != UPK_OK)
		return ret;
	if (name == NULL || *name == '\0' || strlen(name) > 255 || is_top_level_name(name))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" cannot name a delegated role",
				     name ? name : "");
	if (n_keys == 0 || threshold < 1 || threshold > n_keys)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "delegation \"%s\": threshold %u with %zu keys", name,
				     threshold, n_keys);
	if (n_paths == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "delegation \"%s\" needs a path pattern",
				     name);
	d = delegations_object(targets);
	ids = json_array();
	pats = json_array();
	if (d == NULL || ids == NULL || pats == NULL)
		goto nomem;
	for (i = 0; i < n_keys; i++) {
		json_t *obj = NULL;
		ret = upk_key_id(keys[i], keyid, err);
		if (ret == UPK_OK)
			ret = upk_key_to_tuf(keys[i], &obj, err);
		if (ret != UPK_OK)
			goto fail;
		if (json_object_set_new(json_object_get(d, "keys"), keyid, obj) != 0 ||
		    json_array_append_new(ids, json_string(keyid)) != 0)
			goto nomem;
	}
	for (i = 0; i < n_paths; i++)
		if (json_array_append_new(pats, json_string(paths[i])) != 0)
			goto nomem;
	role = json_pack("{s:s,s:o,s:i,s:b,s:o}", "name", name, "keyids", ids, "threshold",
			 (int)threshold, "terminating", terminating, "paths", pats);
	ids = pats = NULL;
	if (role == NULL)
		goto nomem;
	roles = json_object_get(d, "roles");
	pos = json_array_size(roles);
	for (i = 0; i < json_array_size(roles); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(roles, i), "name")),
			   name) == 0)
			pos = i;
	if (pos < json_array_size(roles) ? json_array_set_new(roles, pos, role) != 0
					  : json_array_append_new(roles, role) != 0)
		goto nomem;
	prune_delegation_keys(d);
	return md_changed(targets, err);
nomem:
	ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
fail:
	json_decref(ids);
	json_decref(pats);
	return ret;
}

upk_status upk_targets_undelegate(struct upk_metadata *targets, const char *name,
				  struct upk_error *err)
{
	json_t *d = json_object_get(targets->signed_, "delegations");
	json_t *roles = json_object_get(d, "roles");
	upk_status ret = need_targets(targets, err);

	if (ret == UPK_OK)
		ret = md_materialize(targets, err);
	if (ret != UPK_OK)
		return ret;
	for (size_t i = 0; i < json_array_size(roles); i++) {
		if (strcmp(json_string_value(json_object_get(json_array_get(roles, i), "name")),
			   name) == 0) {
			json_array_remove(roles, i);
			prune_delegation_keys(d);
			return md_changed(targets, err);
		}
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND, "no delegated role \"%.64s\"", name);
}
