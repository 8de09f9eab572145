/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who signed a request, and may they do this. Every non-public request must
 * carry an ed25519 RFC 9421 signature covering @method, @path and (with a
 * body) content-digest, with created, keyid and nonce (upkeep's default
 * policy); created must lie in the configured window and not before this
 * server process started (the replay cache lives in memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "auth.h"
#include "key_cache.h"
#include "replay.h"
#include "server.h"
#include "store.h"
#include "upkeep/httpsig.h"
#include "upkeep/json.h"

#define MAX_FIELDS 100

struct fields {
	struct upk_http_field f[MAX_FIELDS];
	size_t n;
	int overflow;
};

struct auth_ctx {
	struct req *rq;
	struct upk_key *key;  /* owned: a creator's or enrolling device's key */
	struct key_ref *ref;  /* or a stored key, from the key cache */
	char role[16];
	int found;
};

static enum MHD_Result collect_field(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct fields *fs = cls;

	(void)kind;
	if (fs->n >= MAX_FIELDS) {
		fs->overflow = 1;
		return MHD_NO;
	}
	fs->f[fs->n].name = key;
	fs->f[fs->n].value = value != NULL ? value : "";
	fs->n++;
	return MHD_YES;
}

int auth_role_rank(const char *role)
{
	if (role == NULL)
		return 0;
	if (strcmp(role, "viewer") == 0)
		return 1;
	if (strcmp(role, "operator") == 0)
		return 2;
	if (strcmp(role, "admin") == 0)
		return 3;
	return 0;
}

static int is_keyid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == UPK_KEYID_HEX_LEN;
}

static upk_status lookup_creator(struct auth_ctx *a, const char *keyid, struct upk_error *err)
{
	struct server *srv = a->rq->srv;

	for (size_t i = 0; i < srv->n_creators; i++) {
		const char *hex;
		json_t *obj;
		upk_status ret;

		if (strcmp(srv->creators[i].keyid, keyid) != 0)
			continue;
		if (srv->creators[i].key != NULL) {
			/* A borrowed key would do, but owning one keeps cleanup uniform. */
			json_t *tuf = NULL;

			ret = upk_key_to_tuf(srv->creators[i].key, &tuf, err);
			if (ret == UPK_OK)
				ret = key_parse_with_id(tuf, keyid, &a->key, err);
			json_decref(tuf);
			return ret;
		}
		/*
		 * Configured by id only: the client sends its public key in
		 * Upkeep-Key; it is accepted because its id is the configured one.
		 */
		hex = req_header(a->rq, "Upkeep-Key");
		if (hex == NULL)
			return upk_error_set(err, UPK_ERR_NOT_FOUND,
					     "creator %s is configured by id: send Upkeep-Key", keyid);
		obj = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519",
				"keyval", "public", hex);
		if (obj == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		ret = key_parse_with_id(obj, keyid, &a->key, err);
		json_decref(obj);
		return ret;
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND, "key %s may not create fleets", keyid);
}

static upk_status lookup(void *ctx, const char *keyid, const char *alg,
			 const struct upk_key **key, struct upk_error *err)
{
	struct auth_ctx *a = ctx;
	struct req *rq = a->rq;
	struct store *st = rq->srv->store;
	json_t *row = NULL, *doc = NULL;
	upk_status ret;

	(void)alg;
	if (a->found)
		return upk_error_set(err, UPK_ERR_INVALID, "more than one key lookup");
	if (!is_keyid(keyid))
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "keyid \"%.80s\" is not a key id",
				     keyid);
	switch (rq->route->auth) {
	case AUTH_CREATOR:
		ret = lookup_creator(a, keyid, err);
		break;
	case AUTH_VIEWER:
	case AUTH_OPERATOR:
	case AUTH_ADMIN:
		/* Only this fleet's keys: another fleet's owner is unknown here. */
		ret = st->ops->owner_key_get(st, rq->fleet_id, keyid, &row, err);
		if (ret == UPK_ERR_NOT_FOUND)
			upk_error_set(err, ret, "key %s is not an owner key of fleet %s", keyid,
				      rq->fleet);
		if (ret == UPK_OK) {
			snprintf(a->role, sizeof(a->role), "%s",
				 json_string_value(json_object_get(row, "role")));
			ret = key_cache_get(rq->srv->keys, json_object_get(row, "public_key"), keyid,
					    &a->ref, err);
		}
		break;
	case AUTH_DEVICE:
		/* The whole row: the handler (a check-in) needs it too, and reads it from here. */
		ret = st->ops->device_get(st, rq->fleet_id, keyid, &row, err);
		if (ret == UPK_ERR_NOT_FOUND)
			upk_error_set(err, ret, "key %s is not a device of fleet %s", keyid, rq->fleet);
		if (ret == UPK_OK) {
			snprintf(a->role, sizeof(a->role), "%s",
				 json_string_value(json_object_get(row, "status")));
			ret = key_cache_get(rq->srv->keys, json_object_get(row, "public_key"), keyid,
					    &a->ref, err);
			rq->who.device = json_incref(row);
		}
		break;
	case AUTH_ENROL:
		/*
		 * The body names the key; the signature proves the device holds
		 * its private half. The body is covered by content-digest.
		 */
		ret = upk_json_parse(rq->body, rq->body_len, NULL, &doc, err);
		if (ret == UPK_OK && !json_is_object(json_object_get(doc, "public_key")))
			ret = upk_error_set(err, UPK_ERR_INVALID, "body has no public_key object");
		if (ret == UPK_OK)
			ret = key_parse_with_id(json_object_get(doc, "public_key"), keyid, &a->key, err);
		snprintf(a->role, sizeof(a->role), "enrolling");
		break;
	default:
		ret = upk_error_set(err, UPK_ERR_INVALID, "route needs no key");
	}
	json_decref(row);
	json_decref(doc);
	if (ret != UPK_OK)
		return ret;
	a->found = 1;
	*key = a->ref != NULL ? key_ref_key(a->ref) : a->key;
	return UPK_OK;
}

static upk_status nonce_check(void *ctx, const char *keyid, const char *nonce, int64_t created,
			      struct upk_error *err)
{
	struct auth_ctx *a = ctx;

	return replay_check(a->rq->srv->replay, keyid, nonce, created, server_now(), err);
}

int auth_request(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct upk_httpsig_policy policy;
	struct upk_httpsig_verified ver;
	struct upk_http_request hr;
	struct auth_ctx a = {.rq = rq};
	struct upk_error err = {0};
	struct fields fs = {0};
	upk_status ret;
	int rc = 1, need;

	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, collect_field, &fs);
	if (fs.overflow) {
		reply_error(rp, 431, "too_large", "more than %d header fields", MAX_FIELDS);
		goto out;
	}
	memset(&hr, 0, sizeof(hr));
	hr.method = rq->method;
	hr.scheme = NULL;
	hr.authority = req_header(rq, "Host");
	hr.path = rq->path;
	hr.query = rq->query;
	hr.fields = fs.f;
	hr.nfields = fs.n;
	hr.body_sha256 = rq->received > 0 ? rq->sha256 : NULL;
	upk_httpsig_policy_default(&policy, server_now());
	policy.max_age = srv->cfg.signature_max_age;
	policy.max_skew = srv->cfg.signature_max_skew;
	policy.key_lookup = lookup;
	policy.nonce_check = nonce_check;
	policy.ctx = &a;
	if (req_header(rq, "Signature") == NULL || req_header(rq, "Signature-Input") == NULL) {
		reply_error(rp, 401, "unauthorized", "request is not signed (RFC 9421 Signature)");
		goto out;
	}
	ret = upk_httpsig_verify(&hr, &policy, &ver, &err);
	if (ret != UPK_OK) {
		unsigned status = ret == UPK_ERR_TOO_LARGE && strstr(err.msg, "replay") ? 503 : 401;

		reply_error(rp, status, ret == UPK_ERR_EXISTS ? "replayed" : "unauthorized",
			    "signature refused: %s", err.msg);
		goto out;
	}
	/*
	 * The nonce cache starts empty at each start, so a signature made
	 * before this process started could be replayed: refuse them all.
	 */
	if (ver.created < srv->not_before) {
		reply_error(rp, 401, "unauthorized",
			    "signature created %lld is older than the server start %lld: sign again",
			    (long long)ver.created, (long long)srv->not_before);
		goto out;
	}
	snprintf(rq->who.keyid, sizeof(rq->who.keyid), "%.64s", ver.keyid);
	snprintf(rq->who.role, sizeof(rq->who.role), "%s", a.role);
	/* The cached key object is shared between requests: principals treat it as read-only. */
	if (a.ref != NULL) {
		rq->who.public_key = json_incref(key_ref_tuf(a.ref));
	} else if (upk_key_to_tuf(a.key, &rq->who.public_key, &err) != UPK_OK) {
		reply_upk(rp, UPK_ERR_NOMEM, &err);
		goto out;
	}
	switch (rq->route->auth) {
	case AUTH_CREATOR:
		rq->who.kind = PRINCIPAL_CREATOR;
		break;
	case AUTH_VIEWER:
	case AUTH_OPERATOR:
	case AUTH_ADMIN:
		rq->who.kind = PRINCIPAL_OWNER;
		need = rq->route->auth == AUTH_VIEWER ? 1 : rq->route->auth == AUTH_OPERATOR ? 2 : 3;
		if (auth_role_rank(a.role) < need) {
			reply_error(rp, 403, "forbidden", "key %s is a %s of fleet %s; this needs %s",
				    ver.keyid, a.role, rq->fleet,
				    need == 2 ? "operator or admin" : "admin");
			goto out;
		}
		break;
	case AUTH_DEVICE:
		rq->who.kind = PRINCIPAL_DEVICE;
		if (strcmp(a.role, "rejected") == 0) {
			reply_error(rp, 403, "forbidden", "device %s was rejected by the owner",
				    ver.keyid);
			goto out;
		}
		break;
	case AUTH_ENROL:
		rq->who.kind = PRINCIPAL_DEVICE;
		break;
	default:
		break;
	}
	rc = 0;
out:
	upk_key_free(a.key);
	key_ref_release(srv->keys, a.ref);
	return rc;
}
