/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side (enrolment, check-in with inventory, status reports per
 * deployment) and the owner's view of devices (list, show, accept, reject,
 * tag, pre-authorise, deployment history). A device is known by its key id
 * within one fleet; it is pending until the owner accepts it or an owner
 * pre-authorisation names its key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "audit.h"
#include "director.h"
#include "handlers.h"
#include "log.h"
#include "rollout.h"
#include "server.h"
#include "store.h"
#include "transfer.h"

/* Where a device finds its repositories (relative URLs: the server may sit behind a proxy). */
static json_t *urls(const struct req *rq, const char *device)
{
	char image_meta[256], image_targets[256], director[512];

	snprintf(image_meta, sizeof(image_meta), "/v1/fleets/%s/image/metadata/", rq->fleet);
	snprintf(image_targets, sizeof(image_targets), "/v1/fleets/%s/image/targets/", rq->fleet);
	snprintf(director, sizeof(director), "/v1/fleets/%s/director/%s/metadata/", rq->fleet,
		 device);
	return json_pack("{s:s, s:s, s:s}", "image_metadata", image_meta, "image_targets",
			 image_targets, "director_metadata", director);
}

/* Run fn inside a store transaction: commit on UPK_OK, roll back otherwise. */
#define TXN(st, err, body)                                                                         \
	do {                                                                                       \
		ret = (st)->ops->begin((st), (err));                                               \
		if (ret == UPK_OK) {                                                               \
			body;                                                                      \
			if (ret == UPK_OK)                                                         \
				ret = (st)->ops->commit((st), (err));                              \
			else                                                                       \
				(st)->ops->rollback(st);                                           \
		}                                                                                  \
	} while (0)

void handle_enrol(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct enrol_req e;
	struct upk_error err = {0};
	json_t *existing = NULL, *pre = NULL, *result = NULL;
	const char *status = "pending";
	int64_t now = server_now();
	upk_status ret;
	int created = 0;

	ret = parse_enrol(rq->body, rq->body_len, &e, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	TXN(st, &err, {
		ret = st->ops->device_get(st, rq->fleet_id, e.keyid, &existing, &err);
		if (ret == UPK_OK) {
			/* Enrolling again changes nothing: it only tells the device where it stands. */
			status = json_string_value(json_object_get(existing, "status"));
		} else if (ret == UPK_ERR_NOT_FOUND) {
			json_t *tags;

			ret = st->ops->preauth_take(st, rq->fleet_id, e.keyid, &pre, &err);
			if (ret == UPK_OK)
				status = "accepted";
			else if (ret == UPK_ERR_NOT_FOUND)
				ret = UPK_OK;
			tags = pre != NULL ? json_object_get(pre, "tags") : NULL;
			if (ret == UPK_OK) {
				json_t *empty = json_object();

				ret = st->ops->device_enrol(st, rq->fleet_id, e.keyid, e.public_key,
							    e.hardware_id, e.attributes, status,
							    tags != NULL ? tags : empty, now, &err);
				json_decref(empty);
				created = ret == UPK_OK;
			}
			if (ret == UPK_OK && strcmp(status, "accepted") == 0)
				ret = director_publish_device(srv, rq->fleet_id, e.keyid, now, &err);
			if (ret == UPK_OK)
				ret = audit_record(srv, rq->fleet_id, e.keyid, &rq->who, "device.enrol",
						   json_pack("{s:s, s:s, s:b}", "hardware_id",
							     e.hardware_id, "status", status,
							     "preauthorised", pre != NULL),
						   now, &err);
		}
		/* A claim is one-time: the device has found the fleet it was claimed into. */
		if (ret == UPK_OK)
			ret = st->ops->claim_delete(st, rq->fleet_id, e.keyid, &err);
		/* A sold device only learns where it went (docs/ownership.md). */
		if (ret == UPK_OK && strcmp(status, "transferred") == 0)
			result = transfer_moved_answer(e.keyid, existing);
		else if (ret == UPK_OK)
			result = json_pack("{s:s, s:s, s:o}", "device", e.keyid, "status", status,
					   "urls", urls(rq, e.keyid));
	});
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, created ? 201 : 200, result);
	json_decref(existing);
	json_decref(pre);
	enrol_req_clear(&e);
}

/* The device's current deployments as it should see them. */
static upk_status deployments_view(struct store *st, int64_t fleet, const char *device,
				   json_t **out, struct upk_error *err)
{
	json_t *rows = NULL, *row, *arr = json_array();
	upk_status ret;
	size_t i;

	if (arr == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = st->ops->assignment_list(st, fleet, device, &rows, err);
	json_array_foreach(rows, i, row) {
		json_array_append_new(arr, json_pack("{s:O, s:O, s:O, s:O}", "id",
						     json_object_get(row, "id"), "type",
						     json_object_get(row, "type"), "target",
						     json_object_get(row, "target_path"), "state",
						     json_object_get(row, "state")));
	}
	json_decref(rows);
	if (ret == UPK_OK)
		*out = arr;
	else
		json_decref(arr);
	return ret;
}

/* Does a check-in change more than last_seen and free_space? */
static int changes_inventory(const struct checkin_req *c, const json_t *before)
{
	/* Events are audit rows: they take the transaction path too. */
	if (c->events != NULL)
		return 1;
	if (c->installed != NULL && !json_equal(c->installed, json_object_get(before, "installed")))
		return 1;
	if (c->attributes != NULL &&
	    !json_equal(c->attributes, json_object_get(before, "attributes")))
		return 1;
	return c->hardware_id[0] != '\0' &&
	       strcmp(c->hardware_id, json_string_value(json_object_get(before, "hardware_id"))) != 0;
}

void handle_checkin(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct checkin_req c;
	struct upk_error err = {0};
	json_t *before = NULL, *deps = NULL;
	int64_t now = server_now();
	upk_status ret;

	ret = parse_checkin(rq->body, rq->body_len, &c, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	/* auth.c read the row to find the key: no second read. */
	before = json_incref(rq->who.device);
	/* A sold device is told where it went; its old fleet records nothing more. */
	if (ret == UPK_OK &&
	    strcmp(json_string_value(json_object_get(before, "status")), "transferred") == 0) {
		reply_json(rp, 200, transfer_moved_answer(rq->who.keyid, before));
		json_decref(before);
		checkin_req_clear(&c);
		return;
	}
	if (ret == UPK_OK && !changes_inventory(&c, before)) {
		/*
		 * Nearly every check-in only says "still here": a deferred,
		 * batched write (store.h device_seen) instead of a transaction
		 * with an fsync. Reports and inventory changes stay synchronous.
		 */
		ret = st->ops->device_seen(st, rq->fleet_id, rq->who.keyid, c.free_space, now, &err);
		if (ret == UPK_OK)
			ret = deployments_view(st, rq->fleet_id, rq->who.keyid, &deps, &err);
		goto reply;
	}
	json_decref(before);
	before = NULL;
	TXN(st, &err, {
		ret = st->ops->device_get(st, rq->fleet_id, rq->who.keyid, &before, &err);
		if (ret == UPK_OK)
			ret = st->ops->device_checkin(st, rq->fleet_id, rq->who.keyid,
						      c.hardware_id[0] ? c.hardware_id : NULL,
						      c.installed, c.free_space, c.attributes, now,
						      &err);
		/*
		 * Check-ins are frequent; the audit log records only changes of
		 * what is installed or of the hardware id, which matter later.
		 */
		if (ret == UPK_OK &&
		    ((c.installed != NULL &&
		      !json_equal(c.installed, json_object_get(before, "installed"))) ||
		     (c.hardware_id[0] != '\0' &&
		      strcmp(c.hardware_id,
			     json_string_value(json_object_get(before, "hardware_id"))) != 0)))
			ret = audit_record(srv, rq->fleet_id, rq->who.keyid, &rq->who,
					   "device.inventory",
					   json_pack("{s:O?, s:s?}", "installed", c.installed,
						     "hardware_id",
						     c.hardware_id[0] ? c.hardware_id : NULL),
					   now, &err);
		/* One row per device event (a wipe of private data), in this transaction. */
		for (size_t i = 0; ret == UPK_OK && i < json_array_size(c.events); i++)
			ret = audit_record(srv, rq->fleet_id, rq->who.keyid, &rq->who,
					   "device.event",
					   json_deep_copy(json_array_get(c.events, i)), now, &err);
		if (ret == UPK_OK)
			ret = deployments_view(st, rq->fleet_id, rq->who.keyid, &deps, &err);
	});
reply:
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 200,
			   json_pack("{s:s, s:s, s:o, s:o}", "device", rq->who.keyid, "status",
				     json_string_value(json_object_get(before, "status")),
				     "deployments",
				     strcmp(json_string_value(json_object_get(before, "status")),
					    "accepted") == 0
					     ? json_incref(deps)
					     : json_array(),
				     "urls", urls(rq, rq->who.keyid)));
	}
	json_decref(deps);
	json_decref(before);
	checkin_req_clear(&c);
}

void handle_status_report(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct status_req s;
	struct upk_error err = {0};
	json_t *dep = NULL;
	int64_t now = server_now(), id;
	char *end = NULL;
	upk_status ret;

	id = strtoll(rq->params[1], &end, 10);
	if (end == rq->params[1] || *end != '\0' || id <= 0) {
		reply_error(rp, 404, "not_found", "\"%s\" is not a deployment id", rq->params[1]);
		return;
	}
	if (strcmp(rq->who.role, "accepted") != 0) {
		reply_error(rp, 403, "forbidden", "device %s is not accepted", rq->who.keyid);
		return;
	}
	ret = parse_status(rq->body, rq->body_len, &s, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	TXN(st, &err, {
		ret = st->ops->deployment_get(st, rq->fleet_id, id, &dep, &err);
		/* A device reports on its own deployments only. */
		if (ret == UPK_OK &&
		    strcmp(json_string_value(json_object_get(dep, "device_id")), rq->who.keyid) != 0)
			ret = upk_error_set(&err, UPK_ERR_NOT_FOUND, "deployment %lld not found",
					    (long long)id);
		if (ret == UPK_OK)
			ret = st->ops->deployment_report(st, rq->fleet_id, id, s.state, s.reason,
							 s.log_tail, now, &err);
		if (ret == UPK_OK)
			ret = audit_record(srv, rq->fleet_id, rq->who.keyid, &rq->who,
					   "deployment.status",
					   json_pack("{s:I, s:s, s:s?, s:O}", "deployment",
						     (json_int_t)id, "state", s.state, "reason",
						     s.reason, "target",
						     json_object_get(dep, "target_path")),
					   now, &err);
	});
	/*
	 * The report is committed (acknowledged, durable) first; its rollout
	 * moves on in a transaction of its own. Should the server die in
	 * between, the next maintenance pass takes the same decision.
	 */
	if (ret == UPK_OK && json_is_integer(json_object_get(dep, "rollout_id"))) {
		struct upk_error e = {0};

		if (rollout_step(srv, rq->fleet_id,
				 json_integer_value(json_object_get(dep, "rollout_id")),
				 server_clock(srv), 0, &e) != UPK_OK)
			log_msg(LOG_ERROR, "rollout", "%s", e.msg);
	}
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:I, s:s}", "deployment", (json_int_t)id, "state",
					      s.state));
	json_decref(dep);
	status_req_clear(&s);
}

/* ---- owner side ---- */

/* A device row as owners see it (the public key stays, it is public). */
void handle_device_list(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	char status[16] = "";
	json_t *rows = NULL;
	upk_status ret;

	if (req_query(rq, "status", status, sizeof(status)) < 0 ||
	    (status[0] != '\0' && strcmp(status, "pending") != 0 &&
	     strcmp(status, "accepted") != 0 && strcmp(status, "rejected") != 0 &&
	     strcmp(status, "transferred") != 0)) {
		reply_error(rp, 400, "invalid",
			    "status must be pending, accepted, rejected or transferred");
		return;
	}
	ret = st->ops->device_list(st, rq->fleet_id, status[0] ? status : NULL, &rows, &err);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:o}", "devices", rows));
}

void handle_device_show(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *dev = NULL, *deps = NULL;
	upk_status ret = st->ops->device_get(st, rq->fleet_id, rq->params[1], &dev, &err);

	json_t *pins = NULL;

	if (ret == UPK_OK)
		ret = deployments_view(st, rq->fleet_id, rq->params[1], &deps, &err);
	if (ret == UPK_OK)
		ret = st->ops->pin_list(st, rq->fleet_id, rq->params[1], &pins, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		json_decref(deps);
		json_decref(dev);
		return;
	}
	json_object_set_new(dev, "assignments", deps);
	json_object_set_new(dev, "pins", pins);
	reply_json(rp, 200, dev);
}

static void set_status(struct req *rq, struct reply *rp, const char *status)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	int64_t now = server_now();
	upk_status ret;

	TXN(st, &err, {
		ret = st->ops->device_set_status(st, rq->fleet_id, rq->params[1], status, &err);
		/* An accepted device gets (empty) director metadata at once. */
		if (ret == UPK_OK && strcmp(status, "accepted") == 0)
			ret = director_publish_device(srv, rq->fleet_id, rq->params[1], now, &err);
		if (ret == UPK_OK)
			ret = audit_record(srv, rq->fleet_id, rq->params[1], &rq->who,
					   strcmp(status, "accepted") == 0 ? "device.accept"
									   : "device.reject",
					   json_object(), now, &err);
	});
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s, s:s}", "device", rq->params[1], "status",
					      status));
}

void handle_device_accept(struct req *rq, struct reply *rp)
{
	set_status(rq, rp, "accepted");
}

void handle_device_reject(struct req *rq, struct reply *rp)
{
	set_status(rq, rp, "rejected");
}

void handle_device_tags(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	struct tags_req t;
	upk_status ret = parse_tags(rq->body, rq->body_len, &t, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	TXN(st, &err, {
		ret = st->ops->device_set_tags(st, rq->fleet_id, rq->params[1], t.tags, &err);
		if (ret == UPK_OK)
			ret = audit_record(srv, rq->fleet_id, rq->params[1], &rq->who, "device.tags",
					   json_pack("{s:O}", "tags", t.tags), server_now(), &err);
	});
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s, s:O}", "device", rq->params[1], "tags", t.tags));
	tags_req_clear(&t);
}

void handle_preauth(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	struct preauth_req p;
	json_t *d;
	size_t i;
	upk_status ret = parse_preauth(rq->body, rq->body_len, &p, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	TXN(st, &err, {
		json_array_foreach(p.devices, i, d) {
			const char *id = json_string_value(json_object_get(d, "id"));

			ret = st->ops->preauth_put(st, rq->fleet_id, id, json_object_get(d, "tags"),
						   server_now(), &err);
			if (ret == UPK_OK)
				ret = audit_record(srv, rq->fleet_id, id, &rq->who, "device.preauth",
						   json_pack("{s:O}", "tags",
							     json_object_get(d, "tags")),
						   server_now(), &err);
			if (ret != UPK_OK)
				break;
		}
	});
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:I}", "preauthorised",
					      (json_int_t)json_array_size(p.devices)));
	preauth_req_clear(&p);
}

void handle_deployment_list(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *rows = NULL, *dev = NULL;
	upk_status ret = st->ops->device_get(st, rq->fleet_id, rq->params[1], &dev, &err);

	json_decref(dev);
	if (ret == UPK_OK)
		ret = st->ops->deployment_list(st, rq->fleet_id, rq->params[1], 100, &rows, &err);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:o}", "deployments", rows));
}
