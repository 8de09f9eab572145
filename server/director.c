/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Director repository of each fleet. The owner signs its root (uploaded at
 * fleet creation and rotated like the image root); each device gets its own
 * targets/snapshot/timestamp under /v1/fleets/F/director/DEVICE/metadata/,
 * regenerated whenever its assignments change. Entries copy the image
 * repository's length, hashes and custom fields exactly, so the device can
 * check that both repositories agree before it installs anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "audit.h"
#include "director.h"
#include "handlers.h"
#include "log.h"
#include "repo_host.h"
#include "server.h"
#include "signer.h"
#include "store.h"
#include "upkeep/selector.h"
#include "upkeep/target_info.h"

upk_status director_publish_device(struct server *srv, int64_t fleet, const char *device_id,
				   int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	struct upk_metadata *root = NULL, *md = NULL;
	json_t *rows = NULL, *row;
	int64_t version = 0;
	char *old = NULL;
	upk_status ret;
	size_t i;

	ret = meta_load(st, fleet, STORE_REPO_DIRECTOR, "", "root", 0, UPK_ROLE_ROOT, &root, NULL,
			NULL, err);
	if (ret != UPK_OK)
		goto out;
	ret = st->ops->meta_get(st, fleet, STORE_REPO_DIRECTOR, device_id, "targets", 0, &old, NULL,
				&version, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		version = 0;
		ret = UPK_OK;
	}
	if (ret == UPK_OK)
		ret = st->ops->assignment_list(st, fleet, device_id, &rows, err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_TARGETS,
				       (time_t)(now + srv->cfg.director_targets_expiry), &md, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(md, version + 1, err);
	json_array_foreach(rows, i, row) {
		const json_t *t = json_object_get(row, "target");
		const json_t *custom = json_object_get(t, "custom");

		if (ret != UPK_OK)
			break;
		ret = upk_targets_set(md, json_string_value(json_object_get(t, "path")),
				      json_integer_value(json_object_get(t, "length")),
				      json_object_get(t, "hashes"),
				      json_is_null(custom) ? NULL : custom, err);
	}
	if (ret == UPK_OK)
		ret = online_sign_store(srv, fleet, STORE_REPO_DIRECTOR, device_id, "targets", root, md,
					now, err);
	if (ret == UPK_OK)
		ret = publish_snapshot_timestamp(srv, fleet, STORE_REPO_DIRECTOR, device_id, 1, now,
						 err);
out:
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "director metadata of %s: ", device_id);
	free(old);
	json_decref(rows);
	upk_metadata_free(md);
	upk_metadata_free(root);
	return ret;
}

/* A JSON object of strings as key/value pairs borrowed from it. */
static size_t to_kv(const json_t *obj, struct upk_kv *kv, size_t max);

void director_device_attrs(const json_t *device, struct upk_device_attrs *attrs,
			   struct upk_kv tags[API_MAX_MAP_ENTRIES],
			   struct upk_kv inst[API_MAX_MAP_ENTRIES])
{
	memset(attrs, 0, sizeof(*attrs));
	attrs->device_id = json_string_value(json_object_get(device, "id"));
	attrs->hardware_id = json_string_value(json_object_get(device, "hardware_id"));
	attrs->tags = tags;
	attrs->n_tags = to_kv(json_object_get(device, "tags"), tags, API_MAX_MAP_ENTRIES);
	attrs->installed = inst;
	attrs->n_installed = to_kv(json_object_get(device, "installed"), inst, API_MAX_MAP_ENTRIES);
}

static size_t to_kv(const json_t *obj, struct upk_kv *kv, size_t max)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)obj, key, v) {
		if (n >= max || !json_is_string(v))
			continue;
		kv[n].key = key;
		kv[n].value = json_string_value(v);
		n++;
	}
	return n;
}

upk_status director_admits(struct server *srv, int64_t fleet, const json_t *device,
			   const json_t *entry, const char **type_out, struct upk_error *err)
{
	const char *path = json_string_value(json_object_get(entry, "path"));
	const char *id = json_string_value(json_object_get(device, "id"));
	const char *hw = json_string_value(json_object_get(device, "hardware_id"));
	const json_t *custom = json_object_get(entry, "custom");
	struct upk_target_info *info = NULL;
	struct upk_selector *sel = NULL;
	struct upk_kv tags[API_MAX_MAP_ENTRIES], inst[API_MAX_MAP_ENTRIES];
	struct upk_device_attrs attrs;
	int ok = 0, present = 0;
	upk_status ret;

	if (strcmp(json_string_value(json_object_get(device, "status")), "accepted") != 0)
		return upk_error_set(err, UPK_ERR_INVALID, "device %s is %s, not accepted", id,
				     json_string_value(json_object_get(device, "status")));
	ret = upk_target_info_parse(json_is_null(custom) ? NULL : custom, &info, err);
	if (ret == UPK_ERR_NOT_FOUND)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "target \"%s\" has no owner-signed custom.upkeep fields", path);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "target \"%s\": ", path);
	/* The owner signed which hardware may take it; the server cannot widen that. */
	for (size_t i = 0; i < info->n_hardware; i++)
		ok |= strcmp(info->hardware[i], hw) == 0;
	if (!ok) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "target \"%s\" is not signed for hardware \"%s\" of device %s",
				    path, hw, id);
		goto out;
	}
	if (info->selector != NULL) {
		int matched = 0;

		director_device_attrs(device, &attrs, tags, inst);
		ret = upk_selector_parse(info->selector, strlen(info->selector), &sel, err);
		if (ret == UPK_OK)
			ret = upk_selector_match(sel, &attrs, &matched, err);
		/* Any error counts as "does not match" (selector.h). */
		if (ret != UPK_OK || !matched) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "the selector of target \"%s\" does not admit device %s: "
					    "%s",
					    path, id, info->selector);
			goto out;
		}
	}
	ret = repo_payload_present(srv, fleet, entry, &present, err);
	if (ret == UPK_OK && !present)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
				    "the payload of target \"%s\" was not uploaded yet", path);
	if (ret == UPK_OK && type_out != NULL)
		*type_out = upk_target_type_name(info->type);
out:
	upk_selector_free(sel);
	upk_target_info_free(info);
	return ret;
}

upk_status director_assign_locked(struct server *srv, int64_t fleet, const char *device_id,
				  const char *target_path, int64_t rollout_id,
				  const struct principal *who, int64_t now, int64_t *deployment_id,
				  struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *device = NULL, *entry = NULL;
	const char *type = NULL;
	int64_t id = 0;
	upk_status ret;

	ret = st->ops->device_get(st, fleet, device_id, &device, err);
	if (ret == UPK_OK)
		ret = repo_find_target(srv, fleet, target_path, now, &entry, err);
	if (ret == UPK_OK)
		ret = director_admits(srv, fleet, device, entry, &type, err);
	if (ret == UPK_OK)
		ret = st->ops->deployment_create(st, fleet, device_id, rollout_id, type, target_path,
						 entry, now, &id, err);
	if (ret == UPK_OK)
		ret = director_publish_device(srv, fleet, device_id, now, err);
	if (ret == UPK_OK)
		ret = audit_record(srv, fleet, device_id, who, "device.assign",
				   json_pack("{s:s, s:s, s:I, s:I}", "target", target_path, "type",
					     type, "deployment", (json_int_t)id, "rollout",
					     (json_int_t)rollout_id),
				   now, err);
	if (ret == UPK_OK)
		*deployment_id = id;
	json_decref(device);
	json_decref(entry);
	return ret;
}

upk_status director_assign(struct server *srv, int64_t fleet, const char *device_id,
			   const char *target_path, int64_t rollout_id,
			   const struct principal *who, int64_t now, int64_t *deployment_id,
			   struct upk_error *err)
{
	struct store *st = srv->store;
	upk_status ret = st->ops->begin(st, err);

	if (ret != UPK_OK)
		return ret;
	ret = director_assign_locked(srv, fleet, device_id, target_path, rollout_id, who, now,
				     deployment_id, err);
	if (ret == UPK_OK)
		return st->ops->commit(st, err);
	st->ops->rollback(st);
	return ret;
}

/* ---- handlers ---- */

void handle_assign(struct req *rq, struct reply *rp)
{
	struct assign_req a;
	struct upk_error err = {0};
	int64_t id = 0;
	upk_status ret;

	ret = parse_assign(rq->body, rq->body_len, &a, &err);
	if (ret == UPK_OK)
		ret = director_assign(rq->srv, rq->fleet_id, rq->params[1], a.target, 0, &rq->who,
				      server_now(), &id, &err);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "assignment refused: ");
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 200,
			   json_pack("{s:s, s:s, s:I}", "device", rq->params[1], "target", a.target,
				     "deployment", (json_int_t)id));
	}
	assign_req_clear(&a);
}

void handle_unassign(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	int64_t now = server_now();
	upk_status ret = st->ops->begin(st, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->assignment_delete(st, rq->fleet_id, rq->params[1], rq->params[2], &err);
	if (ret == UPK_OK)
		ret = director_publish_device(srv, rq->fleet_id, rq->params[1], now, &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, rq->params[1], &rq->who, "device.unassign",
				   json_pack("{s:s}", "type", rq->params[2]), now, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s, s:s}", "device", rq->params[1], "removed",
					      rq->params[2]));
}

void handle_director_meta_get(struct req *rq, struct reply *rp)
{
	if (!api_valid_keyid(rq->params[1])) {
		reply_error(rp, 404, "not_found", "\"%s\" is not a device id", rq->params[1]);
		return;
	}
	repo_serve_meta(rq, rp, STORE_REPO_DIRECTOR, rq->params[1], rq->params[2]);
}

void handle_director_root_upload(struct req *rq, struct reply *rp)
{
	static const char *const ONLINE[] = {"targets", "snapshot", "timestamp"};
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_metadata *md = NULL, *root = NULL;
	struct upk_error err = {0};
	int64_t now = server_now();
	upk_status ret;
	int in_txn = 0;

	ret = upk_metadata_parse(rq->body, rq->body_len, UPK_ROLE_ROOT, NULL, &md, &err);
	if (ret == UPK_OK)
		ret = st->ops->begin(st, &err);
	if (ret == UPK_OK) {
		in_txn = 1;
		ret = meta_load(st, rq->fleet_id, STORE_REPO_DIRECTOR, "", "root", 0, UPK_ROLE_ROOT,
				&root, NULL, NULL, &err);
	}
	if (ret == UPK_OK)
		ret = root_check_next(root, md, now, &err);
	for (size_t i = 0; ret == UPK_OK && i < 3; i++) {
		struct online_keys k;

		ret = online_keys_load(st, rq->fleet_id, STORE_REPO_DIRECTOR, ONLINE[i], &k, &err);
		if (ret == UPK_OK) {
			ret = online_keys_cover(md, ONLINE[i], &k, &err);
			online_keys_free(&k);
		}
	}
	if (ret == UPK_OK)
		ret = st->ops->meta_put(st, rq->fleet_id, STORE_REPO_DIRECTOR, "", "root",
					upk_metadata_version(md), (int64_t)upk_metadata_expires(md),
					rq->body, rq->body_len, now, &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "director.root",
				   json_pack("{s:I}", "version", (json_int_t)upk_metadata_version(md)),
				   now, &err);
	if (ret == UPK_OK) {
		in_txn = 0;
		ret = st->ops->commit(st, &err);
	}
	if (in_txn)
		st->ops->rollback(st);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "director root refused: ");
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 200, json_pack("{s:s, s:I}", "role", "root", "version",
					      (json_int_t)upk_metadata_version(md)));
	}
	upk_metadata_free(md);
	upk_metadata_free(root);
}
