/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation pieces that root and targets share: key maps, key id lists,
 * thresholds, lengths and hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "hex_internal.h"
#include "metadata_internal.h"

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct md_key *)a)->keyid, ((const struct md_key *)b)->keyid);
}

upk_status md_index_keys(struct upk_metadata *md, const json_t *keys, const char *where,
			 struct upk_error *err)
{
	const char *keyid;
	const json_t *obj;
	upk_status ret;

	if (!json_is_object(keys))
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"keys\" must be an object", where);
	if (json_object_size(keys) > md->limits.max_keys)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %zu keys, at most %zu allowed",
				     where, json_object_size(keys), md->limits.max_keys);
	md->keys = calloc(json_object_size(keys) + 1, sizeof(*md->keys));
	if (md->keys == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)keys, keyid, obj) {
		struct md_key *k = &md->keys[md->n_keys];

		if (keyid[0] == '\0' || strlen(keyid) > 256)
			return upk_error_set(err, UPK_ERR_INVALID, "%s: key id of %zu bytes", where,
					     strlen(keyid));
		k->keyid = keyid;
		ret = upk_key_from_tuf(obj, &k->key, err);
		/*
		 * A key type we cannot verify is kept but can never count
		 * towards a threshold: other clients may understand it, and
		 * rejecting the whole root would freeze us on an old one.
		 */
		if (ret == UPK_ERR_UNSUPPORTED)
			k->key = NULL;
		else if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s key %.16s: ", where, keyid);
		md->n_keys++;
	}
	qsort(md->keys, md->n_keys, sizeof(*md->keys), key_cmp);
	return UPK_OK;
}

const struct md_key *md_find_key(const struct upk_metadata *md, const char *keyid)
{
	struct md_key needle = {.keyid = keyid};

	if (keyid == NULL || md->n_keys == 0)
		return NULL;
	return bsearch(&needle, md->keys, md->n_keys, sizeof(*md->keys), key_cmp);
}

const struct md_role *md_find_role(const struct upk_metadata *md, const char *name)
{
	for (size_t i = 0; i < md->n_roles; i++)
		if (strcmp(md->roles[i].name, name) == 0)
			return &md->roles[i];
	return NULL;
}

upk_status md_parse_keyids(const json_t *arr, const char *where, struct md_role *role,
			   struct upk_error *err)
{
	size_t i, n;
	const json_t *v;

	if (!json_is_array(arr))
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"keyids\" must be an array", where);
	n = json_array_size(arr);
	if (n > UPK_MD_DEFAULT_MAX_KEYS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %zu key ids", where, n);
	role->keyids = calloc(n + 1, sizeof(*role->keyids));
	if (role->keyids == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s keyids[%zu] must be a non-empty string", where, i);
		/* A repeated key id would let one key look like two to a careless counter. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(role->keyids[j], json_string_value(v)) == 0)
				return upk_error_set(err, UPK_ERR_INVALID,
						     "%s lists key id %.16s twice", where,
						     json_string_value(v));
		role->keyids[i] = json_string_value(v);
	}
	role->n_keyids = n;
	return UPK_OK;
}

upk_status md_parse_threshold(const json_t *obj, const char *where, unsigned *out,
			      struct upk_error *err)
{
	const json_t *t = json_object_get(obj, "threshold");

	if (!json_is_integer(t) || json_integer_value(t) < 1 ||
	    json_integer_value(t) > (json_int_t)UPK_MD_DEFAULT_MAX_KEYS)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "%s \"threshold\" must be an integer from 1 to %u", where,
				     UPK_MD_DEFAULT_MAX_KEYS);
	*out = (unsigned)json_integer_value(t);
	return UPK_OK;
}

int md_is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (hex_digit((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

upk_status md_check_hashes(const json_t *hashes, const char *where, struct upk_error *err)
{
	const char *alg;
	const json_t *v;

	if (!json_is_object(hashes) || json_object_size(hashes) == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"hashes\" must be a non-empty object",
				     where);
	if (json_object_size(hashes) > 16)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: %zu hashes", where,
				     json_object_size(hashes));
	json_object_foreach((json_t *)hashes, alg, v) {
		enum upk_hash_alg a;
		size_t len = json_string_length(v);

		if (!json_is_string(v) || len == 0 || len > 1024 ||
		    !md_is_hex(json_string_value(v), len))
			return upk_error_set(err, UPK_ERR_INVALID, "%s hash \"%.32s\" must be hex",
					     where, alg);
		/* Unknown algorithms are allowed and ignored; known ones must have the right size. */
		if (upk_hash_alg_from_name(alg, &a, NULL) == UPK_OK && len != 2 * upk_hash_alg_len(a))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s %s hash has %zu hex digits, expected %zu", where,
					     alg, len, 2 * upk_hash_alg_len(a));
	}
	return UPK_OK;
}

upk_status md_check_length(const json_t *obj, const char *where, int required, int64_t *out,
			   struct upk_error *err)
{
	const json_t *len = json_object_get(obj, "length");

	if (len == NULL && !required) {
		*out = -1;
		return UPK_OK;
	}
	if (!json_is_integer(len) || json_integer_value(len) < 0)
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"length\" must be an integer >= 0",
				     where);
	*out = json_integer_value(len);
	return UPK_OK;
}
