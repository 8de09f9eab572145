/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.3, updating the root role: follow N+1.root.json one version at a
 * time, each signed by a threshold of the previous root and of itself, so a
 * device that slept through many key rotations still reaches today's keys
 * by an unbroken chain. Expiry is checked only at the end of the chain.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* Did the keys or threshold of a top-level role change between two roots? */
static int role_rotated(const struct upk_metadata *a, const struct upk_metadata *b,
                        const char *role)
{
	struct upk_role_keys ka, kb;

	if (upk_root_role(a, role, &ka, NULL) != UPK_OK ||
	    upk_root_role(b, role, &kb, NULL) != UPK_OK)
		return 1;
	if (ka.threshold != kb.threshold || ka.n_keyids != kb.n_keyids)
		return 1;
	/* O(n^2) in the keys of one role, which are few. */
	for (size_t i = 0; i < ka.n_keyids; i++) {
		int found = 0;

		for (size_t j = 0; j < kb.n_keyids && !found; j++)
			found = strcmp(ka.keyids[i], kb.keyids[j]) == 0;
		if (!found)
			return 1;
	}
	return 0;
}

/* Download, verify and persist N+1.root.json; UPK_ERR_NOT_FOUND ends the chain. */
static upk_status next_root(struct upk_client *c, struct upk_error *err)
{
	struct upk_metadata *next = NULL;
	int64_t cur = upk_metadata_version(c->root);
	int64_t want = cur + 1;
	char *url = NULL, *buf = NULL;
	size_t len;
	upk_status ret;

	if (cur == INT64_MAX)
		return upk_error_set(err, UPK_ERR_INVALID, "root v%" PRId64 " cannot be followed",
		                     cur);
	ret = client_url(c->metadata_url, want, "root.json", &url, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_fetch_to_buffer(&c->fetcher, url, c->limits.root_max_bytes, &buf, &len, err);
	if (ret == UPK_ERR_NOT_FOUND)
		goto out;
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%" PRId64 ".root.json: ", want);
		goto out;
	}
	ret = upk_metadata_parse(buf, len, UPK_ROLE_ROOT, NULL, &next, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%" PRId64 ".root.json: ", want);
		goto out;
	}
	/* Spec 5.3.4: a threshold of the trusted root's keys AND of the new root's own keys. */
	ret = upk_verify_role(c->root, "root", next, NULL, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret,
		                 "%" PRId64 ".root.json: not signed by trusted root v%" PRId64 ": ",
		                 want, cur);
		goto out;
	}
	ret = upk_verify_role(next, "root", next, NULL, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret,
		                 "%" PRId64 ".root.json: not signed by its own root keys: ", want);
		goto out;
	}
	/* Spec 5.3.5: exactly N+1, nothing else. */
	if (upk_metadata_version(next) != want) {
		ret = upk_error_set(err, UPK_ERR_ROLLBACK,
		                    "%" PRId64 ".root.json: holds root v%" PRId64
		                    ", expected v%" PRId64,
		                    want, upk_metadata_version(next), want);
		goto out;
	}
	/* The caller's policy (e.g. upkeep's transfer rule) sees it before anything is kept. */
	if (c->root_check != NULL) {
		ret = c->root_check(c->root_check_ctx, next, buf, len, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "%" PRId64 ".root.json: ", want);
			goto out;
		}
	}
	/* Spec 5.3.8: persist before trusting, byte for byte what was verified. */
	ret = store_write(c->metadata_dir, "root.json", buf, len, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "root v%" PRId64 ": ", want);
		goto out;
	}
	upk_metadata_free(c->root);
	c->root = next;
	next = NULL;
out:
	upk_metadata_free(next);
	free(buf);
	free(url);
	return ret;
}

upk_status client_update_root(struct upk_client *c, struct upk_error *err)
{
	struct upk_metadata *start = NULL;
	upk_status ret;
	unsigned hops;

	/* Kept to see, after the chain, whether timestamp or snapshot keys rotated. */
	ret = upk_metadata_dup(c->root, &start, err);
	if (ret != UPK_OK)
		return ret;
	/* Spec 5.3.3: at most Y downloads, then go on with what we reached. */
	for (hops = 0; hops < c->limits.max_root_rotations; hops++) {
		ret = next_root(c, err);
		if (ret == UPK_ERR_NOT_FOUND) {
			upk_error_clear(err);
			break;
		}
		if (ret != UPK_OK)
			goto out;
	}
	ret = UPK_OK;
	/* Spec 5.3.10: only the final root must be unexpired. */
	ret = client_check_expiry(c, "root", c->root, err);
	if (ret != UPK_OK)
		goto out;
	/*
	 * Spec 5.3.11, fast-forward recovery: when the timestamp or snapshot
	 * keys rotated (after a repository compromise), the versions trusted
	 * under the old keys may have been pushed arbitrarily high; forget them
	 * so the new keys' lower versions are accepted.
	 */
	if (role_rotated(start, c->root, "timestamp") || role_rotated(start, c->root, "snapshot")) {
		ret = store_remove(c->metadata_dir, "timestamp.json", err);
		if (ret == UPK_OK)
			ret = store_remove(c->metadata_dir, "snapshot.json", err);
		if (ret != UPK_OK)
			goto out;
	}
	/* Spec 5.3.12. */
	c->consistent_snapshot = upk_root_consistent_snapshot(c->root);
out:
	upk_metadata_free(start);
	return ret;
}
