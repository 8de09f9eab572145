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

static int lower_hex(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int fleet_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n < 1 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

upk_status transfer_record_parse(const json_t *signed_, struct transfer_record *out,
                                 struct upk_error *err)
{
	const json_t *t = json_object_get(signed_, "upkeep_transfer"), *devs, *d;
	const char *key, *id, *from, *to;
	json_t *v;
	size_t i;

	if (t == NULL)
		return UPK_ERR_NOT_FOUND;
	if (!json_is_object(t))
		return upk_error_set(err, UPK_ERR_INVALID, "upkeep_transfer is not an object");
	json_object_foreach((json_t *)t, key, v)
	{
		if (strcmp(key, "id") != 0 && strcmp(key, "from_fleet") != 0 &&
		    strcmp(key, "to_fleet") != 0 && strcmp(key, "devices") != 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer: unknown member \"%.64s\"", key);
	}
	id = json_string_value(json_object_get(t, "id"));
	from = json_string_value(json_object_get(t, "from_fleet"));
	to = json_string_value(json_object_get(t, "to_fleet"));
	devs = json_object_get(t, "devices");
	if (!lower_hex(id, 32))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer: \"id\" is not 32 lower-case hex digits");
	if (!fleet_name_ok(from) || !fleet_name_ok(to))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer %s: \"from_fleet\" and \"to_fleet\" must be "
		                     "fleet names ([a-z0-9-]{1,63})",
		                     id);
	if (!json_is_array(devs) || json_array_size(devs) < 1 ||
	    json_array_size(devs) > TRANSFER_MAX_DEVICES)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer %s: \"devices\" must list 1 to %u devices", id,
		                     TRANSFER_MAX_DEVICES);
	json_array_foreach(devs, i, d)
	{
		const char *s = json_string_value(d);

		if (!lower_hex(s, 64))
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer %s: devices[%zu] is not a device id "
			                     "(64 lower-case hex)",
			                     id, i);
		/* Strictly increasing: sorted and distinct in one comparison. */
		if (i > 0 && strcmp(json_string_value(json_array_get(devs, i - 1)), s) >= 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer %s: devices are not sorted and distinct "
			                     "at [%zu]",
			                     id, i);
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->from_fleet, sizeof(out->from_fleet), "%s", from);
	snprintf(out->to_fleet, sizeof(out->to_fleet), "%s", to);
	out->devices = devs;
	return UPK_OK;
}

int transfer_record_lists(const struct transfer_record *t, const char *device_id)
{
	size_t i;
	json_t *d;

	json_array_foreach(t->devices, i, d)
	{
		if (strcmp(json_string_value(d), device_id) == 0)
			return 1;
	}
	return 0;
}

upk_status ownership_root_check(void *ctx, const struct upk_metadata *root, const void *raw,
                                size_t len, struct upk_error *err)
{
	struct ownership_check *oc = ctx;
	int64_t v = upk_metadata_version(root);
	struct transfer_record tr;
	json_t *pending, *rec;
	char vkey[32];
	upk_status ret;

	(void)raw;
	(void)len;
	ret = transfer_record_parse(upk_metadata_signed(root), &tr, err);
	if (ret == UPK_ERR_NOT_FOUND)
		return UPK_OK;
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "root v%" PRId64 ": ", v);
	/* A transfer root names the devices sold: the seller's others must not follow it. */
	if (!transfer_record_lists(&tr, oc->device_id))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "root v%" PRId64 " transfers other devices (transfer %s from "
		                     "fleet %s to %s does not list this device)",
		                     v, tr.id, tr.from_fleet, tr.to_fleet);
	if (oc->journal == NULL)
		return UPK_OK;
	/* Already completed through the other chain (its wipe is done): nothing is owed. */
	{
		const char *done = json_string_value(
		    json_object_get(journal_get(oc->journal, "owner"), "transfer"));

		if (done != NULL && strcmp(done, tr.id) == 0)
			return UPK_OK;
	}
	/*
	 * Journalled before the client writes the root: once it is trusted the
	 * wipe is owed, and a crash between the two must not lose that.
	 */
	snprintf(vkey, sizeof(vkey), "%s_version", oc->repo);
	pending = journal_get(oc->journal, "transfer_pending");
	/* A newer transfer on the same walk (a resale) replaces an older one: one wipe covers both. */
	if (json_is_object(pending) &&
	    (json_string_value(json_object_get(pending, "id")) == NULL ||
	     strcmp(json_string_value(json_object_get(pending, "id")), tr.id) != 0))
		pending = NULL;
	rec = json_is_object(pending) ? json_deep_copy(pending)
	                              : json_pack("{s:s,s:s,s:s}", "id", tr.id, "from_fleet",
	                                          tr.from_fleet, "to_fleet", tr.to_fleet);
	if (rec == NULL || json_object_set_new(rec, vkey, json_integer((json_int_t)v)) != 0) {
		json_decref(rec);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	ret = journal_set(oc->journal, "transfer_pending", rec, err);
	if (ret == UPK_OK)
		ret = journal_commit(oc->journal, err);
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
