/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ownership transfer (docs/ownership.md): POST /v1/transfers moves devices
 * from the seller's fleet into a new fleet of the buyer, after checking both
 * transfer roots as the next version of the seller's chains, signed by the
 * seller's root threshold and the buyer's. Everything happens in one store
 * transaction, so a refused or interrupted transfer leaves the seller fully
 * in control and a committed one leaves the buyer fully in control. The
 * seller's fleet keeps each sold device as 'transferred' with moved_to; the
 * guard here refuses every owner change to it there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "upkeep/transfer.h"
#include "audit.h"
#include "director.h"
#include "fleet.h"
#include "handlers.h"
#include "log.h"
#include "server.h"
#include "signer.h"
#include "store.h"
#include "transfer.h"

/* The two repositories of a transfer, with what the request brought for each. */
struct side {
	const char *repo; /* STORE_REPO_IMAGE or STORE_REPO_DIRECTOR */
	const char *what; /* "image_root" or "director_root" */
	const json_t *obj;
	struct upk_metadata *md; /* the new root N+1 */
	char *text;
	size_t len;
	struct upk_transfer_record rec;
};

static void side_clear(struct side *s)
{
	upk_metadata_free(s->md);
	free(s->text);
	upk_transfer_record_clear(&s->rec);
}

/*
 * Check the new root as version N+1 of the seller's chain (newest stored
 * root N): both thresholds, expiry, consistent snapshots (fleet_root_parse).
 */
static upk_status check_root(struct store *st, int64_t from, struct side *s, int64_t now,
			     struct upk_error *err)
{
	struct upk_metadata *trusted = NULL;
	upk_status ret = meta_load(st, from, s->repo, "", "root", 0, UPK_ROLE_ROOT, &trusted, NULL,
				   NULL, err);

	if (ret == UPK_OK)
		ret = fleet_root_parse(s->obj, s->what, trusted, now, &s->md, &s->text, &s->len,
				       err);
	upk_metadata_free(trusted);
	return ret;
}

/*
 * Copy the seller's whole root chain of one repository (every stored
 * version, byte for byte) into the new fleet, then store the new root, so a
 * device that trusts any older root can walk the chain in the new fleet.
 */
static upk_status copy_chain(struct store *st, int64_t from, int64_t to, struct side *s,
			     int64_t now, struct upk_error *err)
{
	int64_t next = upk_metadata_version(s->md);
	upk_status ret = UPK_OK;

	for (int64_t v = next - 1; v >= 1 && ret == UPK_OK; v--) {
		struct upk_metadata *md = NULL;
		char *bytes = NULL;
		size_t len = 0;

		ret = meta_load(st, from, s->repo, "", "root", v, UPK_ROLE_ROOT, &md, &bytes, &len,
				err);
		/* A fleet may have been created at any version: its chain starts there. */
		if (ret == UPK_ERR_NOT_FOUND) {
			ret = UPK_OK;
			break;
		}
		if (ret == UPK_OK)
			ret = st->ops->meta_put(st, to, s->repo, "", "root", v,
						(int64_t)upk_metadata_expires(md), bytes, len, now, err);
		upk_metadata_free(md);
		free(bytes);
	}
	if (ret == UPK_OK)
		ret = st->ops->meta_put(st, to, s->repo, "", "root", next,
					(int64_t)upk_metadata_expires(s->md), s->text, s->len, now,
					err);
	return ret;
}

/* Every listed device must be the seller's, and not sold already. */
static upk_status check_devices(struct store *st, int64_t from, const struct upk_transfer_record *rec,
				struct upk_error *err)
{
	const json_t *d;
	size_t i;
	upk_status ret = UPK_OK;

	json_array_foreach(rec->devices, i, d) {
		const char *id = json_string_value(d);
		json_t *row = NULL;

		ret = st->ops->device_get(st, from, id, &row, err);
		if (ret == UPK_ERR_NOT_FOUND)
			ret = upk_error_set(err, ret, "device %s is not in fleet %s", id,
					    rec->from_fleet);
		if (ret == UPK_OK &&
		    strcmp(json_string_value(json_object_get(row, "status")), "transferred") == 0)
			ret = upk_error_set(err, UPK_ERR_EXISTS,
					    "device %s was already transferred from fleet %s to %s", id,
					    rec->from_fleet,
					    json_string_value(json_object_get(row, "moved_to")));
		json_decref(row);
		if (ret != UPK_OK)
			break;
	}
	return ret;
}

/*
 * The device leaves the seller's fleet: its unfinished deployments end in
 * state "transferred" (which rollouts do not count), its assignments and
 * pins go, its director metadata is republished empty, and it is marked
 * transferred with moved_to.
 */
static upk_status move_out(struct server *srv, int64_t from, const char *id,
			   const struct upk_transfer_record *rec, const struct principal *who,
			   int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *rows = NULL, *row;
	char reason[128];
	size_t i;
	upk_status ret;

	snprintf(reason, sizeof(reason), "transferred to fleet %s", rec->to_fleet);
	ret = st->ops->deployment_list(st, from, id, 1000, &rows, err);
	json_array_foreach(rows, i, row) {
		const char *state = json_string_value(json_object_get(row, "state"));

		if (ret != UPK_OK)
			break;
		if (strcmp(state, "success") == 0 || strcmp(state, "failure") == 0 ||
		    strcmp(state, "transferred") == 0)
			continue;
		ret = st->ops->deployment_report(st, from, json_integer_value(json_object_get(row, "id")),
						 "transferred", reason, NULL, now, err);
	}
	json_decref(rows);
	rows = NULL;
	if (ret == UPK_OK)
		ret = st->ops->assignment_list(st, from, id, &rows, err);
	json_array_foreach(rows, i, row) {
		if (ret != UPK_OK)
			break;
		ret = st->ops->assignment_delete(st, from, id,
						 json_string_value(json_object_get(row, "type")), err);
	}
	json_decref(rows);
	rows = NULL;
	if (ret == UPK_OK)
		ret = st->ops->pin_list(st, from, id, &rows, err);
	json_array_foreach(rows, i, row) {
		if (ret != UPK_OK)
			break;
		ret = st->ops->pin_delete(st, from, id, json_string_value(json_object_get(row, "type")),
					  err);
	}
	json_decref(rows);
	if (ret == UPK_OK)
		ret = st->ops->device_transfer_out(st, from, id, rec->to_fleet, err);
	if (ret == UPK_OK)
		ret = director_publish_device(srv, from, id, now, err);
	if (ret == UPK_OK)
		ret = audit_record(srv, from, id, who, "device.transfer_out",
				   json_pack("{s:s, s:s}", "transfer", rec->id, "to_fleet",
					     rec->to_fleet),
				   now, err);
	return ret;
}

/* The device arrives in the buyer's fleet: accepted, inventory kept, no tags. */
static upk_status move_in(struct server *srv, int64_t to, int64_t from, const char *id,
			  const struct upk_transfer_record *rec, const struct principal *who,
			  int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	upk_status ret = st->ops->device_transfer_in(st, to, from, id, now, err);

	if (ret == UPK_OK)
		ret = director_publish_device(srv, to, id, now, err);
	if (ret == UPK_OK)
		ret = audit_record(srv, to, id, who, "device.transfer_in",
				   json_pack("{s:s, s:s}", "transfer", rec->id, "from_fleet",
					     rec->from_fleet),
				   now, err);
	return ret;
}

/* Inside the transaction: everything after the roots were parsed. */
static upk_status transfer_locked(struct server *srv, const struct transfer_req *tr,
				  struct side sides[2], const struct principal *who, int64_t now,
				  struct upk_error *err)
{
	struct store *st = srv->store;
	const struct upk_transfer_record *rec = &sides[0].rec;
	json_t *row = NULL;
	int64_t from = 0, to = 0;
	const json_t *d;
	size_t i;
	upk_status ret;

	ret = st->ops->fleet_get(st, rec->from_fleet, &row, err);
	if (ret == UPK_ERR_NOT_FOUND)
		return upk_error_set(err, ret, "from_fleet %s does not exist", rec->from_fleet);
	if (ret != UPK_OK)
		return ret;
	from = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	for (size_t k = 0; k < 2 && ret == UPK_OK; k++)
		ret = check_root(st, from, &sides[k], now, err);
	if (ret == UPK_OK)
		ret = check_devices(st, from, rec, err);
	if (ret == UPK_OK) {
		ret = fleet_create_keyset(st, rec->to_fleet, tr->keyset, who->keyid, sides[0].md,
					  sides[1].md, now, &to, err);
		if (ret == UPK_ERR_EXISTS)
			upk_error_set(err, ret, "to_fleet %s already exists", rec->to_fleet);
	}
	if (ret == UPK_OK)
		ret = st->ops->owner_key_put(st, to, who->keyid, who->public_key, "admin", now, err);
	for (size_t k = 0; k < 2 && ret == UPK_OK; k++)
		ret = copy_chain(st, from, to, &sides[k], now, err);
	if (ret == UPK_OK)
		ret = audit_record(srv, to, NULL, who, "fleet.create",
				   json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", rec->to_fleet,
					     "image_root", (json_int_t)upk_metadata_version(sides[0].md),
					     "director_root",
					     (json_int_t)upk_metadata_version(sides[1].md), "transfer",
					     rec->id, "from_fleet", rec->from_fleet),
				   now, err);
	json_array_foreach(rec->devices, i, d) {
		if (ret != UPK_OK)
			break;
		ret = move_in(srv, to, from, json_string_value(d), rec, who, now, err);
		if (ret == UPK_OK)
			ret = move_out(srv, from, json_string_value(d), rec, who, now, err);
	}
	return ret;
}

void handle_transfer_create(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct transfer_req tr;
	struct side sides[2] = {
		{.repo = STORE_REPO_IMAGE, .what = "image_root"},
		{.repo = STORE_REPO_DIRECTOR, .what = "director_root"},
	};
	struct upk_error err = {0};
	int64_t now = server_now();
	upk_status ret;

	ret = parse_transfer(rq->body, rq->body_len, &tr, &err);
	if (ret == UPK_OK) {
		sides[0].obj = tr.image_root;
		sides[1].obj = tr.director_root;
	}
	for (size_t k = 0; k < 2 && ret == UPK_OK; k++) {
		ret = upk_transfer_record_parse(json_object_get(sides[k].obj, "signed"), &sides[k].rec,
					    &err);
		/* A root without a record is a plain rotation: upload it, do not submit it. */
		if (ret == UPK_ERR_NOT_FOUND)
			ret = UPK_ERR_INVALID;
		if (ret != UPK_OK)
			upk_error_prefix(&err, ret, "%s: ", sides[k].what);
	}
	/* One sale, one record: the two roots must say exactly the same thing. */
	if (ret == UPK_OK && !json_equal(json_object_get(json_object_get(tr.image_root, "signed"),
							 "upkeep_transfer"),
					 json_object_get(json_object_get(tr.director_root, "signed"),
							 "upkeep_transfer")))
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "the upkeep_transfer records of image_root and director_root "
				    "differ");
	if (ret == UPK_OK) {
		ret = st->ops->begin(st, &err);
		if (ret == UPK_OK) {
			ret = transfer_locked(srv, &tr, sides, &rq->who, now, &err);
			if (ret == UPK_OK)
				ret = st->ops->commit(st, &err);
			else
				st->ops->rollback(st);
		}
	}
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "transfer refused: ");
		reply_upk(rp, ret, &err);
	} else {
		const struct upk_transfer_record *rec = &sides[0].rec;
		char im[256], dm[256];

		log_msg(LOG_INFO, "transfer", "transfer %s: %zu device(s) from %s to new fleet %s",
			rec->id, json_array_size(rec->devices), rec->from_fleet, rec->to_fleet);
		snprintf(im, sizeof(im), "/v1/fleets/%s/image/metadata/", rec->to_fleet);
		snprintf(dm, sizeof(dm), "/v1/fleets/%s/director/DEVICE/metadata/", rec->to_fleet);
		reply_json(rp, 201,
			   json_pack("{s:s, s:s, s:s, s:O, s:s, s:s}", "transfer", rec->id,
				     "from_fleet", rec->from_fleet, "fleet", rec->to_fleet, "devices",
				     rec->devices, "image_metadata", im, "director_metadata", dm));
	}
	for (size_t k = 0; k < 2; k++)
		side_clear(&sides[k]);
	transfer_req_clear(&tr);
}

json_t *transfer_moved_answer(const char *device, const json_t *row)
{
	char url[128];

	snprintf(url, sizeof(url), "/v1/fleets/%s",
		 json_string_value(json_object_get(row, "moved_to")));
	return json_pack("{s:s, s:s, s:s}", "device", device, "status", "transferred", "moved_to",
			 url);
}

int transfer_guard(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *row = NULL;
	int refused = 0;

	/* Owner changes to one device: the routes with a :device that are not reads. */
	if (rq->who.kind != PRINCIPAL_OWNER || strcmp(rq->method, "GET") == 0 ||
	    strstr(rq->route->pattern, "/devices/:device") == NULL || rq->nparams < 2)
		return 0;
	if (st->ops->device_get(st, rq->fleet_id, rq->params[1], &row, &err) != UPK_OK)
		return 0; /* the handler reports a missing device */
	if (strcmp(json_string_value(json_object_get(row, "status")), "transferred") == 0) {
		reply_error(rp, 409, "transferred",
			    "device %s was transferred to fleet %s: only its owner there can change "
			    "it",
			    rq->params[1], json_string_value(json_object_get(row, "moved_to")));
		refused = 1;
	}
	json_decref(row);
	return refused;
}
