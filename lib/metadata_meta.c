/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot and timestamp metadata: the "meta" map of metadata file names to
 * the version (and optionally length and hashes) a client must see, which is
 * what stops mix-and-match and rollback of the files they name.
 */
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"

static upk_status check_metafile(const char *name, const json_t *m, struct upk_error *err)
{
	const json_t *version = json_object_get(m, "version");
	const json_t *hashes = json_object_get(m, "hashes");
	char where[96];
	int64_t length;
	size_t len = strlen(name);
	upk_status ret;

	snprintf(where, sizeof(where), "meta \"%.64s\"", name);
	if (len < 6 || len > 260 || strcmp(name + len - 5, ".json") != 0)
		return upk_error_set(err, UPK_ERR_INVALID, "%s is not a ROLE.json name", where);
	if (!json_is_object(m))
		return upk_error_set(err, UPK_ERR_INVALID, "%s must be an object", where);
	if (!json_is_integer(version) || json_integer_value(version) < 1)
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"version\" must be an integer >= 1",
				     where);
	ret = md_check_length(m, where, 0, &length, err);
	if (ret == UPK_OK && hashes != NULL)
		ret = md_check_hashes(hashes, where, err);
	return ret;
}

upk_status md_index_meta(struct upk_metadata *md, struct upk_error *err)
{
	const json_t *meta = json_object_get(md->signed_, "meta");
	const char *name;
	const json_t *m;
	upk_status ret;

	if (!json_is_object(meta))
		return upk_error_set(err, UPK_ERR_INVALID, "\"meta\" must be an object");
	if (json_object_size(meta) > md->limits.max_meta)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu meta entries, at most %zu",
				     json_object_size(meta), md->limits.max_meta);
	if (md->type == UPK_ROLE_TIMESTAMP &&
	    (json_object_size(meta) != 1 || json_object_get(meta, "snapshot.json") == NULL))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "timestamp \"meta\" must hold exactly \"snapshot.json\"");
	md->names = calloc(json_object_size(meta) + 1, sizeof(*md->names));
	if (md->names == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)meta, name, m) {
		ret = check_metafile(name, m, err);
		if (ret != UPK_OK)
			return ret;
		md->names[md->n_names++] = name;
	}
	qsort(md->names, md->n_names, sizeof(*md->names), md_strcmp_ptr);
	return UPK_OK;
}

static int is_meta(const struct upk_metadata *md)
{
	return md->type == UPK_ROLE_SNAPSHOT || md->type == UPK_ROLE_TIMESTAMP;
}

size_t upk_meta_count(const struct upk_metadata *md)
{
	return is_meta(md) ? md->n_names : 0;
}

static void fill_meta(const struct upk_metadata *md, const char *name, struct upk_metafile *out)
{
	const json_t *m = json_object_get(json_object_get(md->signed_, "meta"), name);
	const json_t *len = json_object_get(m, "length");

	out->name = name;
	out->version = json_integer_value(json_object_get(m, "version"));
	out->length = len ? json_integer_value(len) : -1;
	out->hashes = json_object_get(m, "hashes");
}

upk_status upk_meta_at(const struct upk_metadata *md, size_t i, struct upk_metafile *out,
		       struct upk_error *err)
{
	if (!is_meta(md) || i >= md->n_names)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no meta entry number %zu", i);
	fill_meta(md, md->names[i], out);
	return UPK_OK;
}

upk_status upk_meta_find(const struct upk_metadata *md, const char *name,
			 struct upk_metafile *out, struct upk_error *err)
{
	const char **hit = NULL;

	if (is_meta(md) && md->n_names > 0)
		hit = bsearch(&name, md->names, md->n_names, sizeof(*md->names), md_strcmp_ptr);
	if (hit == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s lists no \"%.64s\"",
				     upk_role_type_name(md->type), name);
	fill_meta(md, *hit, out);
	return UPK_OK;
}

upk_status upk_meta_set(struct upk_metadata *md, const char *name, int64_t version,
			int64_t length, const json_t *hashes, struct upk_error *err)
{
	json_t *m;
	upk_status ret;

	if (!is_meta(md))
		return upk_error_set(err, UPK_ERR_INVALID, "%s metadata has no \"meta\"",
				     upk_role_type_name(md->type));
	if (md->type == UPK_ROLE_TIMESTAMP && strcmp(name, "snapshot.json") != 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "timestamp can only list snapshot.json, not \"%.64s\"", name);
	m = json_pack("{s:I}", "version", (json_int_t)version);
	if (m == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if ((length >= 0 && json_object_set_new(m, "length", json_integer(length)) != 0) ||
	    (hashes != NULL && json_object_set(m, "hashes", (json_t *)hashes) != 0)) {
		json_decref(m);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	ret = check_metafile(name, m, err);
	if (ret != UPK_OK) {
		json_decref(m);
		return ret;
	}
	if (json_object_set_new(json_object_get(md->signed_, "meta"), name, m) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(md, err);
}
