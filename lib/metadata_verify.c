/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Threshold verification. The one rule that matters: a threshold counts
 * distinct authorised keys that produced a valid signature over the
 * canonical "signed" bytes, never signatures or key ids as written (the bug
 * that python-tuf, go-tuf, rust-tuf and php-tuf all once had).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"

/* Does md carry a valid signature by keyid under key? Any of several entries may be it. */
static int signed_by(const struct upk_metadata *md, const char *keyid, const struct upk_key *key,
		     const char *bytes, size_t len)
{
	const json_t *sigs = json_object_get(md->doc, "signatures");
	const json_t *s;
	size_t i;

	json_array_foreach(sigs, i, s) {
		const char *hex = json_string_value(json_object_get(s, "sig"));
		size_t hex_len = json_string_length(json_object_get(s, "sig"));
		uint8_t raw[512];

		if (strcmp(json_string_value(json_object_get(s, "keyid")), keyid) != 0)
			continue;
		if (hex_len == 0 || hex_len / 2 > sizeof(raw) ||
		    upk_hex_decode(hex, raw, hex_len / 2, NULL) != UPK_OK)
			continue;
		if (upk_key_verify(key, bytes, len, raw, hex_len / 2, NULL) == UPK_OK)
			return 1;
	}
	return 0;
}

/*
 * keys_md holds the key map (a root, or a delegating targets role); role
 * lists the authorised key ids. O(keys * signatures), both bounded by limits.
 */
static upk_status verify_threshold(const struct upk_metadata *keys_md, const struct md_role *role,
				   struct upk_metadata *md, struct upk_sigcheck *check,
				   struct upk_error *err)
{
	const struct upk_key **counted = NULL;
	unsigned valid = 0;
	const char *bytes;
	char *fresh = NULL;
	size_t len;
	upk_status ret;

	/*
	 * A compact targets role is verified once and then only looked up in:
	 * its canonical bytes (as large as the role) are the document's own
	 * when it was written canonically, else made for this check and
	 * dropped, not cached.
	 */
	if (md->compact != NULL && md->canon == NULL) {
		ret = UPK_OK;
		if (!md_compact_signed_in_place(md, &bytes, &len)) {
			ret = md_compact_canonical(md, &fresh, &len, err);
			bytes = fresh;
		}
	} else {
		ret = upk_metadata_signed_bytes(md, &bytes, &len, err);
	}
	if (ret != UPK_OK)
		return ret;
	counted = calloc(role->n_keyids + 1, sizeof(*counted));
	if (counted == NULL) {
		free(fresh);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < role->n_keyids; i++) {
		const struct md_key *k = md_find_key(keys_md, role->keyids[i]);
		int dup = 0;

		if (k == NULL || k->key == NULL)
			continue;
		/* The same public key listed under two key ids is still one key. */
		for (unsigned j = 0; j < valid && !dup; j++)
			dup = upk_key_equal_public(counted[j], k->key);
		if (dup || !signed_by(md, k->keyid, k->key, bytes, len))
			continue;
		counted[valid++] = k->key;
	}
	free(counted);
	free(fresh);
	if (check != NULL) {
		check->valid = valid;
		check->threshold = role->threshold;
	}
	if (valid < role->threshold)
		return upk_error_set(err, UPK_ERR_SIGNATURE,
				     "%s v%" PRId64 ": signature threshold %u not met: %u valid of "
				     "%zu authorised keys",
				     role->name, md->version, role->threshold, valid, role->n_keyids);
	return UPK_OK;
}

upk_status upk_verify_role(const struct upk_metadata *root, const char *role,
			   struct upk_metadata *md, struct upk_sigcheck *check,
			   struct upk_error *err)
{
	const struct md_role *r;
	enum upk_role_type want;
	upk_status ret;

	if (root->type != UPK_ROLE_ROOT)
		return upk_error_set(err, UPK_ERR_INVALID, "verifying %s: %s is not a root", role,
				     upk_role_type_name(root->type));
	ret = upk_role_type_from_name(role, &want, err);
	if (ret != UPK_OK)
		return ret;
	if (md->type != want)
		return upk_error_set(err, UPK_ERR_INVALID, "%s metadata offered as %s",
				     upk_role_type_name(md->type), role);
	r = md_find_role(root, role);
	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "root has no role %s", role);
	return verify_threshold(root, r, md, check, err);
}

upk_status upk_verify_delegated(const struct upk_metadata *delegator, const char *role,
				struct upk_metadata *md, struct upk_sigcheck *check,
				struct upk_error *err)
{
	const struct md_role *r;

	if (delegator->type != UPK_ROLE_TARGETS)
		return upk_error_set(err, UPK_ERR_INVALID, "delegator of %s is %s metadata", role,
				     upk_role_type_name(delegator->type));
	if (md->type != UPK_ROLE_TARGETS)
		return upk_error_set(err, UPK_ERR_INVALID, "%s metadata offered as delegated role %s",
				     upk_role_type_name(md->type), role);
	r = md_find_role(delegator, role);
	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "no delegation to role \"%.64s\"", role);
	return verify_threshold(delegator, r, md, check, err);
}
