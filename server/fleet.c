/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleets (tenants) and their owner keys. A fleet is created by a configured
 * creator with two owner-signed roots (image repository and director) that
 * name online keys the server generated beforehand in a key set: the private
 * halves of those keys never leave the server, and the owner decides by
 * signing the roots whether to trust them. Owner keys then hold a role per
 * fleet (admin, operator, viewer); nothing else crosses fleets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api_parse.h"
#include "audit.h"
#include "auth.h"
#include "fleet.h"
#include "handlers.h"
#include "log.h"
#include "server.h"
#include "signer.h"
#include "store.h"

/* The online roles: {repo, role} in key-set order. */
static const char *const ONLINE[][2] = {
	{"image", "snapshot"},   {"image", "timestamp"},   {"director", "targets"},
	{"director", "snapshot"}, {"director", "timestamp"},
};
#define NONLINE (sizeof(ONLINE) / sizeof(ONLINE[0]))

void handle_health(struct req *rq, struct reply *rp)
{
	(void)rq;
	reply_json(rp, 200, json_pack("{s:s}", "status", "ok"));
}

void handle_keyset_create(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *secret = json_object(), *pub = json_object();
	char *secret_text = NULL;
	uint8_t rnd[16];
	char id[33];
	upk_status ret = UPK_OK;

	if (secret == NULL || pub == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = upk_random_bytes(rnd, sizeof(rnd), &err);
	if (ret != UPK_OK)
		goto out;
	upk_hex_encode(rnd, sizeof(rnd), id);
	for (size_t i = 0; i < NONLINE && ret == UPK_OK; i++) {
		struct upk_key *k = NULL;
		char *priv = NULL, *ppem = NULL, kid[UPK_KEYID_HEX_LEN + 1];
		size_t plen = 0, publen = 0;
		json_t *tuf = NULL;
		char name[32];

		snprintf(name, sizeof(name), "%s_%s", ONLINE[i][0], ONLINE[i][1]);
		ret = upk_key_generate_ed25519(&k, &err);
		if (ret == UPK_OK)
			ret = upk_key_private_pem(k, NULL, &priv, &plen, &err);
		if (ret == UPK_OK)
			ret = upk_key_public_pem(k, &ppem, &publen, &err);
		if (ret == UPK_OK)
			ret = upk_key_to_tuf(k, &tuf, &err);
		if (ret == UPK_OK)
			ret = upk_key_id(k, kid, &err);
		if (ret == UPK_OK) {
			json_object_set_new(secret, name, json_string(priv));
			json_object_set_new(pub, name,
					    json_pack("{s:s, s:O, s:s}", "keyid", kid, "public_key",
						      tuf, "pem", ppem));
		}
		if (priv != NULL) {
			OPENSSL_cleanse(priv, plen);
			free(priv);
		}
		free(ppem);
		json_decref(tuf);
		upk_key_free(k);
	}
	if (ret != UPK_OK)
		goto out;
	secret_text = json_dumps(secret, JSON_COMPACT);
	if (secret_text == NULL) {
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = st->ops->keyset_put(st, id, rq->who.keyid, secret_text, server_now(), &err);
out:
	if (secret_text != NULL) {
		OPENSSL_cleanse(secret_text, strlen(secret_text));
		free(secret_text);
	}
	json_decref(secret);
	if (ret != UPK_OK) {
		json_decref(pub);
		reply_upk(rp, ret, &err);
		return;
	}
	reply_json(rp, 201, json_pack("{s:s, s:o}", "keyset", id, "keys", pub));
}

upk_status fleet_root_parse(const json_t *obj, const char *what,
			    const struct upk_metadata *trusted, int64_t now,
			    struct upk_metadata **md, char **text, size_t *len,
			    struct upk_error *err)
{
	char *raw = json_dumps(obj, JSON_COMPACT);
	upk_status ret;

	if (raw == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = upk_metadata_parse(raw, strlen(raw), UPK_ROLE_ROOT, NULL, md, err);
	free(raw);
	if (ret == UPK_OK)
		ret = trusted != NULL ? root_check_next(trusted, *md, now, err)
				      : root_check_first(*md, now, err);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(*md, 0, text, len, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", what);
	return ret;
}

upk_status fleet_create_keyset(struct store *st, const char *name, const char *keyset,
			       const char *creator, const struct upk_metadata *iroot,
			       const struct upk_metadata *droot, int64_t now, int64_t *fleet,
			       struct upk_error *err)
{
	char *secret_text = NULL;
	json_t *secret = NULL;
	upk_status ret;

	/* Taken inside the caller's transaction: a refused request leaves the key set usable. */
	ret = st->ops->keyset_take(st, keyset, creator, &secret_text, err);
	if (ret == UPK_ERR_NOT_FOUND)
		upk_error_set(err, ret, "key set %s not found (it is used once, by its creator)",
			      keyset);
	if (ret == UPK_OK) {
		secret = json_loads(secret_text, 0, NULL);
		if (secret == NULL)
			ret = upk_error_set(err, UPK_ERR_INVALID, "key set %s is corrupt", keyset);
	}
	if (ret == UPK_OK)
		ret = st->ops->fleet_create(st, name, now, fleet, err);
	for (size_t i = 0; ret == UPK_OK && i < NONLINE; i++) {
		char role[32], kid[UPK_KEYID_HEX_LEN + 1];
		struct upk_key *k = NULL;
		const char *pem;
		struct online_keys one = {0};

		snprintf(role, sizeof(role), "%s_%s", ONLINE[i][0], ONLINE[i][1]);
		pem = json_string_value(json_object_get(secret, role));
		if (pem == NULL) {
			ret = upk_error_set(err, UPK_ERR_INVALID, "key set lacks %s", role);
			break;
		}
		ret = upk_key_from_pem(pem, strlen(pem), NULL, &k, err);
		if (ret == UPK_OK)
			ret = upk_key_id(k, kid, err);
		/* The owner's root must trust exactly the keys the server will sign with. */
		if (ret == UPK_OK) {
			one.keys[0] = k;
			one.n = 1;
			ret = online_keys_cover(strcmp(ONLINE[i][0], "image") == 0 ? iroot : droot,
						ONLINE[i][1], &one, err);
			if (ret != UPK_OK)
				upk_error_prefix(err, ret, "%s root does not name the key set's %s key "
							   "%s: ",
						 ONLINE[i][0], ONLINE[i][1], kid);
		}
		if (ret == UPK_OK)
			ret = st->ops->online_key_put(st, *fleet, ONLINE[i][0], ONLINE[i][1], kid,
						      pem, err);
		upk_key_free(k);
	}
	if (secret_text != NULL) {
		OPENSSL_cleanse(secret_text, strlen(secret_text));
		free(secret_text);
	}
	json_decref(secret);
	return ret;
}

void handle_fleet_create(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct fleet_create_req fc;
	struct upk_metadata *iroot = NULL, *droot = NULL;
	struct upk_error err = {0};
	char *itext = NULL, *dtext = NULL;
	size_t ilen = 0, dlen = 0;
	int64_t now = server_now(), fleet = 0;
	int in_txn = 0;
	upk_status ret;

	ret = parse_fleet_create(rq->body, rq->body_len, &fc, &err);
	if (ret == UPK_OK)
		ret = fleet_root_parse(fc.image_root, "image_root", NULL, now, &iroot, &itext, &ilen,
				       &err);
	if (ret == UPK_OK)
		ret = fleet_root_parse(fc.director_root, "director_root", NULL, now, &droot, &dtext,
				       &dlen, &err);
	if (ret == UPK_OK)
		ret = st->ops->begin(st, &err);
	if (ret != UPK_OK)
		goto out;
	in_txn = 1;
	ret = fleet_create_keyset(st, fc.name, fc.keyset, rq->who.keyid, iroot, droot, now, &fleet,
				  &err);
	if (ret == UPK_OK)
		ret = st->ops->owner_key_put(st, fleet, rq->who.keyid, rq->who.public_key, "admin",
					     now, &err);
	if (ret == UPK_OK)
		ret = st->ops->meta_put(st, fleet, STORE_REPO_IMAGE, "", "root",
					upk_metadata_version(iroot),
					(int64_t)upk_metadata_expires(iroot), itext, ilen, now, &err);
	if (ret == UPK_OK)
		ret = st->ops->meta_put(st, fleet, STORE_REPO_DIRECTOR, "", "root",
					upk_metadata_version(droot),
					(int64_t)upk_metadata_expires(droot), dtext, dlen, now, &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, fleet, NULL, &rq->who, "fleet.create",
				   json_pack("{s:s, s:I, s:I}", "name", fc.name, "image_root",
					     (json_int_t)upk_metadata_version(iroot), "director_root",
					     (json_int_t)upk_metadata_version(droot)),
				   now, &err);
	if (ret == UPK_OK) {
		in_txn = 0;
		ret = st->ops->commit(st, &err);
	}
out:
	if (in_txn)
		st->ops->rollback(st);
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "fleet creation refused: ");
		reply_upk(rp, ret, &err);
	} else {
		char im[256], dm[256];

		log_msg(LOG_INFO, "fleet", "created fleet %s by %s", fc.name, rq->who.keyid);
		snprintf(im, sizeof(im), "/v1/fleets/%s/image/metadata/", fc.name);
		snprintf(dm, sizeof(dm), "/v1/fleets/%s/director/DEVICE/metadata/", fc.name);
		reply_json(rp, 201, json_pack("{s:s, s:s, s:s}", "fleet", fc.name, "image_metadata",
					      im, "director_metadata", dm));
	}
	free(itext);
	free(dtext);
	upk_metadata_free(iroot);
	upk_metadata_free(droot);
	fleet_create_req_clear(&fc);
}

void handle_fleet_show(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *image = NULL, *director = NULL;
	upk_status ret;

	ret = st->ops->meta_latest(st, rq->fleet_id, STORE_REPO_IMAGE, "", &image, &err);
	if (ret == UPK_OK)
		ret = st->ops->meta_latest(st, rq->fleet_id, STORE_REPO_DIRECTOR, "", &director, &err);
	if (ret != UPK_OK) {
		json_decref(image);
		reply_upk(rp, ret, &err);
		return;
	}
	reply_json(rp, 200,
		   json_pack("{s:s, s:o, s:o, s:s, s:s}", "fleet", rq->fleet, "image", image,
			     "director", director, "you", rq->who.keyid, "role", rq->who.role));
}

void handle_key_list(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *rows = NULL;
	upk_status ret = st->ops->owner_key_list(st, rq->fleet_id, &rows, &err);

	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:o}", "keys", rows));
}

void handle_key_add(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	struct key_add_req k;
	int64_t now = server_now();
	upk_status ret = parse_key_add(rq->body, rq->body_len, &k, &err);

	if (ret == UPK_OK)
		ret = st->ops->begin(st, &err);
	if (ret == UPK_OK) {
		ret = st->ops->owner_key_put(st, rq->fleet_id, k.keyid, k.public_key, k.role, now,
					     &err);
		if (ret == UPK_OK)
			ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "key.add",
					   json_pack("{s:s, s:s}", "keyid", k.keyid, "key_role",
						     k.role),
					   now, &err);
		if (ret == UPK_OK)
			ret = st->ops->commit(st, &err);
		else
			st->ops->rollback(st);
	}
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s, s:s}", "keyid", k.keyid, "role", k.role));
	key_add_req_clear(&k);
}

void handle_key_delete(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	json_t *rows = NULL, *row;
	int64_t now = server_now();
	size_t i, admins = 0;
	int target_admin = 0;
	upk_status ret = st->ops->begin(st, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->owner_key_list(st, rq->fleet_id, &rows, &err);
	json_array_foreach(rows, i, row) {
		int is_admin = strcmp(json_string_value(json_object_get(row, "role")), "admin") == 0;

		admins += (size_t)is_admin;
		if (strcmp(json_string_value(json_object_get(row, "keyid")), rq->params[1]) == 0)
			target_admin = is_admin;
	}
	/* A fleet without an admin could never get keys again. */
	if (ret == UPK_OK && target_admin && admins <= 1)
		ret = upk_error_set(&err, UPK_ERR_INVALID, "refusing to remove the last admin key");
	if (ret == UPK_OK)
		ret = st->ops->owner_key_delete(st, rq->fleet_id, rq->params[1], &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "key.delete",
				   json_pack("{s:s}", "keyid", rq->params[1]), now, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
	json_decref(rows);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s}", "removed", rq->params[1]));
}
