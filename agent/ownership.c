/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transfer roots on the device: the strict check of the record, the rule
 * that only listed devices follow it, and the crash-safe completion (record
 * before trust, wipe, then one commit that says it is done).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "fileio.h"
#include "ownership.h"
#include "private_data.h"

/*
 * Journalled before the client writes the root: once it is trusted the wipe
 * is owed, and a crash between the two must not lose that.
 */
static upk_status record_pending(struct ownership_check *oc, const struct upk_transfer_record *tr,
                                 int64_t v, struct upk_error *err)
{
	const char *done =
	    json_string_value(json_object_get(journal_get(oc->journal, "owner"), "transfer"));
	json_t *pending, *rec;
	char vkey[32];
	upk_status ret;

	/* Already completed through the other chain (its wipe is done): nothing is owed. */
	if (done != NULL && strcmp(done, tr->id) == 0)
		return UPK_OK;
	snprintf(vkey, sizeof(vkey), "%s_version", oc->repo);
	pending = journal_get(oc->journal, "transfer_pending");
	/* A newer transfer on the same walk (a resale) replaces an older one: one wipe covers both. */
	if (json_is_object(pending) &&
	    (json_string_value(json_object_get(pending, "id")) == NULL ||
	     strcmp(json_string_value(json_object_get(pending, "id")), tr->id) != 0))
		pending = NULL;
	rec = json_is_object(pending) ? json_deep_copy(pending)
	                              : json_pack("{s:s,s:s,s:s}", "id", tr->id, "from_fleet",
	                                          tr->from_fleet, "to_fleet", tr->to_fleet);
	if (rec == NULL || json_object_set_new(rec, vkey, json_integer((json_int_t)v)) != 0) {
		json_decref(rec);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	ret = journal_set(oc->journal, "transfer_pending", rec, err);
	if (ret == UPK_OK)
		ret = journal_commit(oc->journal, err);
	return ret;
}

upk_status ownership_root_check(void *ctx, const struct upk_metadata *root, const void *raw,
                                size_t len, struct upk_error *err)
{
	struct ownership_check *oc = ctx;
	int64_t v = upk_metadata_version(root);
	struct upk_transfer_record tr;
	upk_status ret;

	(void)raw;
	(void)len;
	ret = upk_transfer_record_parse(upk_metadata_signed(root), &tr, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		upk_error_clear(err);
		return UPK_OK;
	}
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "root v%" PRId64 ": ", v);
	/* A transfer root names the devices sold: the seller's others must not follow it. */
	if (!upk_transfer_record_lists(&tr, oc->device_id))
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "root v%" PRId64 " transfers other devices (transfer %s from "
		                    "fleet %s to %s does not list this device)",
		                    v, tr.id, tr.from_fleet, tr.to_fleet);
	else if (oc->journal != NULL)
		ret = record_pending(oc, &tr, v, err);
	upk_transfer_record_clear(&tr);
	return ret;
}

upk_status ownership_trusted_root_version(const struct agent_config *cfg, const char *repo,
                                          int64_t *out, struct upk_error *err)
{
	char *meta = fio_path_join(cfg->data_dir, "metadata"), *dir = NULL, *path = NULL;
	char *buf = NULL;
	struct upk_metadata *md = NULL;
	size_t len = 0;
	upk_status ret;

	*out = 0;
	if (meta == NULL || (dir = fio_path_join(meta, repo)) == NULL ||
	    (path = fio_path_join(dir, "root.json")) == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_read_file(path, 1024u * 1024u, &buf, &len, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		upk_error_clear(err);
		ret = UPK_OK;
		goto out;
	}
	if (ret == UPK_OK)
		ret = upk_metadata_parse(buf, len, UPK_ROLE_ROOT, NULL, &md, err);
	if (ret == UPK_OK)
		*out = upk_metadata_version(md);
	else
		upk_error_prefix(err, ret, "%s: ", path);
out:
	upk_metadata_free(md);
	free(buf);
	free(path);
	free(dir);
	free(meta);
	return ret;
}

upk_status ownership_finish(const struct agent_config *cfg, struct journal *j, int *done,
                            struct upk_error *err)
{
	json_t *p = journal_get(j, "transfer_pending");
	json_t *want = json_object_get(p, "image_version");
	const char *id = json_string_value(json_object_get(p, "id"));
	char at[32];
	int64_t have = 0;
	time_t t = time(NULL);
	struct tm tm;
	upk_status ret;

	if (done != NULL)
		*done = 0;
	if (!json_is_object(p) || id == NULL || !json_is_integer(want))
		return UPK_OK; /* nothing pending, or the image chain has not met it yet */
	ret = ownership_trusted_root_version(cfg, "image", &have, err);
	if (ret != UPK_OK || have < json_integer_value(want))
		return ret;
	/* The new owner's first update comes after this: the seller's data goes first. */
	ret = private_data_wipe(cfg, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "transfer %s: wiping the private data: ", id);
	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ret = journal_set(j, "owner",
	                  json_pack("{s:s,s:I,s:s}", "transfer", id, "since_root",
	                            (json_int_t)json_integer_value(want), "wiped_at", at),
	                  err);
	if (ret == UPK_OK)
		ret = events_append_wipe(j, "transfer", id, err);
	if (ret != UPK_OK)
		return ret;
	journal_del(j, "transfer_pending");
	ret = journal_commit(j, err);
	if (ret == UPK_OK && done != NULL)
		*done = 1;
	return ret;
}
