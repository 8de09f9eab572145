/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Claims of unclaimed devices (docs/ownership.md, "Physical-presence reset
 * and claim"). An operator of fleet F relays a new owner's claim: F's roots
 * as exact texts and a MAC made with the code shown on the device. The
 * server checks the roots are versions F serves byte for byte and
 * pre-authorises the device in F; it cannot check the MAC (it never sees the
 * code) and does not need to: the device does. The device asks for its
 * claims, signed with its own key, before it belongs to any fleet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "claim_parse.h"
#include "director.h"
#include "handlers.h"
#include "server.h"
#include "store.h"
#include "upkeep/json.h"

/* The version of a root text, or an error naming which root is not one. */
static upk_status root_version(const char *which, const char *text, size_t len,
			       int64_t *version, struct upk_error *err)
{
	struct upk_json_limits lim = {.max_bytes = CLAIM_MAX_ROOT_BYTES, .max_depth = 16};
	json_t *doc = NULL, *signed_;
	upk_status ret = upk_json_parse(text, len, &lim, &doc, err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", which);
	signed_ = json_object_get(doc, "signed");
	if (!json_is_string(json_object_get(signed_, "_type")) ||
	    strcmp(json_string_value(json_object_get(signed_, "_type")), "root") != 0 ||
	    !json_is_integer(json_object_get(signed_, "version")) ||
	    json_integer_value(json_object_get(signed_, "version")) < 1)
		ret = upk_error_set(err, UPK_ERR_INVALID, "%s is not root metadata with a version",
				    which);
	else
		*version = json_integer_value(json_object_get(signed_, "version"));
	json_decref(doc);
	return ret;
}

/*
 * The fleet must serve exactly these bytes as that root version: a claim
 * then hands the device nothing the fleet's own chain does not hold.
 */
static upk_status check_served(struct store *st, int64_t fleet, const char *fleet_name,
			       const char *repo, const char *text, size_t len, int64_t *version,
			       struct upk_error *err)
{
	char which[32], *served = NULL;
	size_t slen = 0;
	upk_status ret;

	snprintf(which, sizeof(which), "%s_root", repo);
	ret = root_version(which, text, len, version, err);
	if (ret != UPK_OK)
		return ret;
	ret = st->ops->meta_get(st, fleet, repo, "", "root", *version, &served, &slen, NULL, err);
	if (ret == UPK_ERR_NOT_FOUND)
		return upk_error_set(err, UPK_ERR_INVALID, "%s: fleet %s serves no %s root version %lld",
				     which, fleet_name, repo, (long long)*version);
	if (ret == UPK_OK && (slen != len || memcmp(served, text, len) != 0))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "%s: version %lld differs from the %s root fleet %s serves "
				    "(%zu bytes given, %zu served): give the file exactly as the "
				    "fleet serves it (%s)",
				    which, (long long)*version, repo, fleet_name, len, slen,
				    strcmp(repo, STORE_REPO_IMAGE) == 0
					    ? "GET .../image/metadata/N.root.json"
					    : "GET .../director/DEVICE/metadata/N.root.json");
	free(served);
	return ret;
}

/* Pre-authorise the device in the fleet, or accept it when it is already there. */
static upk_status authorise(struct server *srv, int64_t fleet, const char *device, int64_t now,
			    struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *dev = NULL, *pre = NULL;
	upk_status ret = st->ops->device_get(st, fleet, device, &dev, err);

	if (ret == UPK_OK) {
		const char *status = json_string_value(json_object_get(dev, "status"));

		if (status == NULL || strcmp(status, "accepted") != 0) {
			ret = st->ops->device_set_status(st, fleet, device, "accepted", err);
			if (ret == UPK_OK)
				ret = director_publish_device(srv, fleet, device, now, err);
		}
	} else if (ret == UPK_ERR_NOT_FOUND) {
		/* Keep the tags of an earlier pre-authorisation. */
		ret = st->ops->preauth_take(st, fleet, device, &pre, err);
		if (ret == UPK_OK || ret == UPK_ERR_NOT_FOUND) {
			json_t *empty = json_object();
			json_t *tags = pre != NULL ? json_object_get(pre, "tags") : NULL;

			ret = st->ops->preauth_put(st, fleet, device, tags != NULL ? tags : empty,
						   now, err);
			json_decref(empty);
		}
	}
	json_decref(dev);
	json_decref(pre);
	return ret;
}

void handle_claim_create(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct claim_create_req c;
	struct upk_error err = {0};
	int64_t now = server_now(), iv = 0, dv = 0, open = 0;
	upk_status ret = parse_claim_create(rq->body, rq->body_len, &c, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->begin(st, &err);
	if (ret == UPK_OK) {
		ret = check_served(st, rq->fleet_id, rq->fleet, STORE_REPO_IMAGE, c.image_root,
				   c.image_len, &iv, &err);
		if (ret == UPK_OK)
			ret = check_served(st, rq->fleet_id, rq->fleet, STORE_REPO_DIRECTOR,
					   c.director_root, c.director_len, &dv, &err);
		if (ret == UPK_OK)
			ret = st->ops->claim_count(st, rq->fleet_id, &open, &err);
		if (ret == UPK_OK && open >= CLAIM_MAX_PER_FLEET)
			ret = upk_error_set(&err, UPK_ERR_TOO_LARGE,
					    "fleet %s has %d open claims; they close when the "
					    "devices enrol",
					    rq->fleet, CLAIM_MAX_PER_FLEET);
		if (ret == UPK_OK)
			ret = st->ops->claim_put(st, rq->fleet_id, c.device, c.image_root,
						 c.director_root, c.mac, rq->who.keyid, now, &err);
		if (ret == UPK_OK)
			ret = authorise(srv, rq->fleet_id, c.device, now, &err);
		if (ret == UPK_OK)
			ret = audit_record(srv, rq->fleet_id, c.device, &rq->who, "device.claim",
					   json_pack("{s:I, s:I}", "image_root", (json_int_t)iv,
						     "director_root", (json_int_t)dv),
					   now, &err);
		if (ret == UPK_OK)
			ret = st->ops->commit(st, &err);
		else
			st->ops->rollback(st);
	}
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "claim refused: ");
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 201, json_pack("{s:s, s:s, s:I, s:I}", "device", c.device, "fleet",
					      rq->fleet, "image_root", (json_int_t)iv,
					      "director_root", (json_int_t)dv));
	}
	claim_create_req_clear(&c);
}

void handle_claim_poll(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct claim_poll_req p;
	struct upk_error err = {0};
	json_t *rows = NULL, *row, *out = NULL;
	size_t i;
	upk_status ret = parse_claim_poll(rq->body, rq->body_len, &p, &err);

	/* auth.c already tied the signature to this key; a device asks for its own claims only. */
	if (ret == UPK_OK && strcmp(p.keyid, rq->who.keyid) != 0)
		ret = upk_error_set(&err, UPK_ERR_INVALID, "public_key is not the signing key");
	if (ret == UPK_OK)
		ret = st->ops->claim_list(st, p.keyid, CLAIM_MAX_PER_DEVICE, &rows, &err);
	if (ret == UPK_OK && (out = json_array()) == NULL)
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		json_decref(rows);
		return;
	}
	json_array_foreach(rows, i, row) {
		char url[128];

		snprintf(url, sizeof(url), "/v1/fleets/%s",
			 json_string_value(json_object_get(row, "fleet")));
		json_array_append_new(out, json_pack("{s:O, s:s, s:O, s:O, s:O}", "fleet",
						     json_object_get(row, "fleet"), "fleet_url", url,
						     "image_root", json_object_get(row, "image_root"),
						     "director_root",
						     json_object_get(row, "director_root"), "mac",
						     json_object_get(row, "mac")));
	}
	json_decref(rows);
	reply_json(rp, 200, json_pack("{s:o}", "claims", out));
}
