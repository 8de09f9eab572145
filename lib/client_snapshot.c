/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.5, updating the snapshot role: the list of every targets metadata
 * version that exists together, which stops mix-and-match (a file must be
 * the one the timestamp names) and rollback of any targets role.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "client_internal.h"

/* Spec 5.5.5: nothing the trusted snapshot listed may vanish or go back. */
static upk_status check_rollback(const struct upk_metadata *old, const struct upk_metadata *md,
                                 struct upk_error *err)
{
	size_t n = upk_meta_count(old);

	for (size_t i = 0; i < n; i++) {
		struct upk_metafile a, b;

		if (upk_meta_at(old, i, &a, NULL) != UPK_OK)
			continue;
		if (upk_meta_find(md, a.name, &b, NULL) != UPK_OK)
			return upk_error_set(err, UPK_ERR_ROLLBACK,
			                     "snapshot v%" PRId64
			                     ": %s (in trusted snapshot v%" PRId64 ") is missing",
			                     upk_metadata_version(md), a.name,
			                     upk_metadata_version(old));
		if (b.version < a.version)
			return upk_error_set(
			    err, UPK_ERR_ROLLBACK,
			    "snapshot v%" PRId64 ": %s version rolled back from %" PRId64
			    " to %" PRId64,
			    upk_metadata_version(md), a.name, a.version, b.version);
	}
	return UPK_OK;
}

upk_status client_update_snapshot(struct upk_client *c, struct upk_error *err)
{
	struct upk_metadata *trusted = NULL, *md = NULL;
	char *local = NULL, *url = NULL, *buf = NULL;
	size_t local_len = 0, len;
	struct upk_metafile mf;
	uint64_t max;
	upk_status ret;

	ret = upk_meta_find(c->timestamp, "snapshot.json", &mf, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "timestamp v%" PRId64 ": ",
		                        upk_metadata_version(c->timestamp));
	/* The stored snapshot counts as trusted only while the current root's keys sign it. */
	if (client_read_local(c, "snapshot.json", UPK_ROLE_SNAPSHOT, c->limits.snapshot_max_bytes,
	                      &local, &local_len, &trusted) == UPK_OK &&
	    upk_verify_role(c->root, "snapshot", trusted, NULL, NULL) != UPK_OK) {
		upk_metadata_free(trusted);
		trusted = NULL;
	}
	/*
	 * When the stored snapshot is exactly the one the timestamp names
	 * (version, and length and hashes when listed), downloading it again
	 * would fetch the same bytes: use it. This is also how an unchanged
	 * repository ends the cycle after the timestamp (spec 5.4.3.1).
	 */
	if (trusted != NULL && upk_metadata_version(trusted) == mf.version &&
	    client_check_meta_bytes("snapshot.json", local, local_len, mf.length, mf.hashes,
	                            NULL) == UPK_OK) {
		md = trusted;
		trusted = NULL;
		ret = client_check_expiry(c, "snapshot", md, err);
		if (ret != UPK_OK)
			goto out;
		c->snapshot = md;
		md = NULL;
		goto out;
	}

	/* Spec 5.5.1: up to the listed length, else the configured maximum. */
	max = mf.length >= 0 ? (uint64_t)mf.length : c->limits.snapshot_max_bytes;
	ret = client_url(c->metadata_url, c->consistent_snapshot ? mf.version : 0, "snapshot.json",
	                 &url, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_fetch_to_buffer(&c->fetcher, url, max, &buf, &len, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "snapshot v%" PRId64 ": ", mf.version);
		goto out;
	}
	/* Spec 5.5.2: hashes (and length) from the trusted timestamp, before anything else. */
	ret = client_check_meta_bytes("snapshot.json", buf, len, mf.length, mf.hashes, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret,
		                 "snapshot v%" PRId64 " named by timestamp v%" PRId64 ": ",
		                 mf.version, upk_metadata_version(c->timestamp));
		goto out;
	}
	ret = upk_metadata_parse(buf, len, UPK_ROLE_SNAPSHOT, NULL, &md, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "snapshot.json: ");
		goto out;
	}
	/* Spec 5.5.3. */
	ret = upk_verify_role(c->root, "snapshot", md, NULL, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "snapshot.json: ");
		goto out;
	}
	/* Spec 5.5.4. */
	if (upk_metadata_version(md) != mf.version) {
		ret = upk_error_set(
		    err, UPK_ERR_ROLLBACK,
		    "snapshot v%" PRId64 ": timestamp v%" PRId64 " names snapshot v%" PRId64,
		    upk_metadata_version(md), upk_metadata_version(c->timestamp), mf.version);
		goto out;
	}
	/* Spec 5.5.5. */
	if (trusted != NULL) {
		ret = check_rollback(trusted, md, err);
		if (ret != UPK_OK)
			goto out;
	}
	/* Spec 5.5.6. */
	ret = client_check_expiry(c, "snapshot", md, err);
	if (ret != UPK_OK)
		goto out;
	/* Spec 5.5.7. */
	ret = store_write(c->metadata_dir, "snapshot.json", buf, len, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "snapshot v%" PRId64 ": ", mf.version);
		goto out;
	}
	c->snapshot = md;
	md = NULL;
out:
	upk_metadata_free(trusted);
	upk_metadata_free(md);
	free(local);
	free(buf);
	free(url);
	return ret;
}
