/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.4, updating the timestamp role: the short-lived, online-signed file
 * that says which snapshot is current. Its expiry defeats freeze attacks and
 * its version checks defeat rollback of it and of the snapshot it names.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "client_internal.h"

static int64_t snapshot_version(const struct upk_metadata *ts)
{
	struct upk_metafile mf;

	if (upk_meta_find(ts, "snapshot.json", &mf, NULL) != UPK_OK)
		return 0;
	return mf.version;
}

/* The stored timestamp, if it is still signed by the current root's timestamp keys. */
static struct upk_metadata *load_trusted(struct upk_client *c)
{
	struct upk_metadata *md = NULL;
	char *buf = NULL;
	size_t len;

	if (client_read_local(c, "timestamp.json", UPK_ROLE_TIMESTAMP,
	                      c->limits.timestamp_max_bytes, &buf, &len, &md) != UPK_OK)
		return NULL;
	free(buf);
	/*
	 * Keys that rotated without the rotation being noticed (a crash between
	 * persisting the root and the fast-forward recovery) leave a file the
	 * new keys did not sign: it is no longer trusted, as if deleted.
	 */
	if (upk_verify_role(c->root, "timestamp", md, NULL, NULL) != UPK_OK) {
		upk_metadata_free(md);
		return NULL;
	}
	return md;
}

upk_status client_update_timestamp(struct upk_client *c, struct upk_error *err)
{
	struct upk_metadata *trusted = load_trusted(c);
	struct upk_metadata *md = NULL;
	char *url = NULL, *buf = NULL;
	size_t len;
	int64_t v;
	upk_status ret;

	/* Spec 5.4.1: never versioned, even under consistent snapshots. */
	ret = client_url(c->metadata_url, 0, "timestamp.json", &url, err);
	if (ret != UPK_OK)
		goto out;
	ret = upk_fetch_to_buffer(&c->fetcher, url, c->limits.timestamp_max_bytes, &buf, &len, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "timestamp.json: ");
		goto out;
	}
	ret = upk_metadata_parse(buf, len, UPK_ROLE_TIMESTAMP, NULL, &md, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "timestamp.json: ");
		goto out;
	}
	v = upk_metadata_version(md);
	/* Spec 5.4.2. */
	ret = upk_verify_role(c->root, "timestamp", md, NULL, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "timestamp.json: ");
		goto out;
	}
	/* Spec 5.4.3. */
	if (trusted != NULL) {
		int64_t tv = upk_metadata_version(trusted);

		if (v < tv) {
			ret = upk_error_set(
			    err, UPK_ERR_ROLLBACK,
			    "timestamp v%" PRId64 ": version rolled back from %" PRId64, v, tv);
			goto out;
		}
		if (v == tv) {
			/*
			 * Nothing changed on the repository: keep what we trust
			 * (the spec ends the cycle without error). It must still
			 * be fresh, or replaying it would freeze us forever.
			 */
			ret = client_check_expiry(c, "timestamp", trusted, err);
			if (ret != UPK_OK)
				goto out;
			c->timestamp = trusted;
			trusted = NULL;
			goto out;
		}
		if (snapshot_version(md) < snapshot_version(trusted)) {
			ret = upk_error_set(err, UPK_ERR_ROLLBACK,
			                    "timestamp v%" PRId64
			                    ": snapshot version rolled back from "
			                    "%" PRId64 " to %" PRId64,
			                    v, snapshot_version(trusted), snapshot_version(md));
			goto out;
		}
	}
	/* Spec 5.4.4. */
	ret = client_check_expiry(c, "timestamp", md, err);
	if (ret != UPK_OK)
		goto out;
	/* Spec 5.4.5. */
	ret = store_write(c->metadata_dir, "timestamp.json", buf, len, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "timestamp v%" PRId64 ": ", v);
		goto out;
	}
	c->timestamp = md;
	md = NULL;
out:
	upk_metadata_free(trusted);
	upk_metadata_free(md);
	free(buf);
	free(url);
	return ret;
}
