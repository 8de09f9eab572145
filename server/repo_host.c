/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image repository of each fleet. The owner signs root, targets and
 * delegated targets offline and uploads them; the server checks each upload
 * exactly as a client would check it next (signatures and thresholds from the
 * trusted root or delegator, version increase, expiry, delegated paths,
 * custom.upkeep fields), stores it, and publishes a new snapshot and
 * timestamp with its online keys. Files are then served under
 *   /v1/fleets/F/image/metadata/{N.root.json, root.json, timestamp.json,
 *                                V.snapshot.json, V.targets.json, V.ROLE.json}
 *   /v1/fleets/F/image/targets/DIR/HASH.NAME
 * which is the consistent-snapshot layout of any TUF repository, so a CDN or
 * plain web server can mirror it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_parse.h"
#include "audit.h"
#include "handlers.h"
#include "log.h"
#include "repo_host.h"
#include "server.h"
#include "signer.h"
#include "store.h"
#include "upkeep/client.h"
#include "upkeep/target_info.h"

#define MAX_SEARCH 32 /* roles visited per target search, like the client's default */

/* ---- the target search ---- */

struct search {
	struct server *srv;
	int64_t fleet, now;
	const char *path;
	unsigned visited;
	json_t *found;
	int stop; /* a terminating delegation ended the search */
};

static upk_status entry_json(const struct upk_target *t, const char *role, json_t **out,
			     struct upk_error *err)
{
	*out = json_pack("{s:s, s:I, s:O, s:O, s:s}", "path", t->path, "length",
			 (json_int_t)t->length, "hashes", t->hashes, "custom",
			 t->custom != NULL ? t->custom : json_null(), "role", role);
	return *out != NULL ? UPK_OK : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
}

static upk_status search_role(struct search *s, struct upk_metadata *md, const char *role,
			      int depth, struct upk_error *err)
{
	struct upk_target t;
	upk_status ret;

	if (upk_metadata_is_expired(md, (time_t)s->now))
		return upk_error_set(err, UPK_ERR_EXPIRED, "targets role %s v%lld has expired", role,
				     (long long)upk_metadata_version(md));
	ret = upk_targets_find(md, s->path, &t, err);
	if (ret == UPK_OK)
		return entry_json(&t, role, &s->found, err);
	if (ret != UPK_ERR_NOT_FOUND)
		return ret;
	for (size_t i = 0; i < upk_delegations_count(md) && s->found == NULL && !s->stop; i++) {
		struct upk_delegation d;
		struct upk_metadata *child = NULL;

		ret = upk_delegation_at(md, i, &d, err);
		if (ret != UPK_OK)
			return ret;
		if (!upk_delegation_covers(&d, s->path))
			continue;
		if (++s->visited > MAX_SEARCH || depth > MAX_SEARCH)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
					     "target search visited more than %d roles", MAX_SEARCH);
		ret = meta_load(s->srv->store, s->fleet, STORE_REPO_IMAGE, "", d.name, 0,
				UPK_ROLE_TARGETS, &child, NULL, NULL, err);
		if (ret == UPK_ERR_NOT_FOUND) {
			/* Not uploaded yet: like an empty role. */
			if (d.terminating)
				s->stop = 1;
			continue;
		}
		if (ret == UPK_OK)
			ret = upk_verify_delegated(md, d.name, child, NULL, err);
		if (ret == UPK_OK)
			ret = search_role(s, child, d.name, depth + 1, err);
		upk_metadata_free(child);
		if (ret != UPK_OK)
			return ret;
		if (d.terminating)
			s->stop = 1;
	}
	return UPK_OK;
}

upk_status repo_find_target(struct server *srv, int64_t fleet, const char *path, int64_t now,
			    json_t **entry, struct upk_error *err)
{
	struct search s = {.srv = srv, .fleet = fleet, .now = now, .path = path};
	struct upk_metadata *root = NULL, *targets = NULL;
	upk_status ret;

	ret = meta_load(srv->store, fleet, STORE_REPO_IMAGE, "", "root", 0, UPK_ROLE_ROOT, &root,
			NULL, NULL, err);
	if (ret == UPK_OK)
		ret = meta_load(srv->store, fleet, STORE_REPO_IMAGE, "", "targets", 0,
				UPK_ROLE_TARGETS, &targets, NULL, NULL, err);
	if (ret == UPK_ERR_NOT_FOUND)
		upk_error_set(err, ret, "the image repository has no targets yet");
	/* Stored roles were verified on upload; verify again: the root may have rotated. */
	if (ret == UPK_OK)
		ret = upk_verify_role(root, "targets", targets, NULL, err);
	if (ret == UPK_OK)
		ret = search_role(&s, targets, "targets", 0, err);
	if (ret == UPK_OK && s.found == NULL)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
				    "target \"%s\" is not listed by the image repository", path);
	if (ret == UPK_OK)
		*entry = s.found;
	else
		json_decref(s.found);
	upk_metadata_free(root);
	upk_metadata_free(targets);
	return ret;
}

/* The hash naming the stored file: sha256 when listed, else sha512. */
static const char *entry_file_hash(const json_t *hashes)
{
	const char *h = json_string_value(json_object_get(hashes, "sha256"));

	return h != NULL ? h : json_string_value(json_object_get(hashes, "sha512"));
}

upk_status repo_payload_present(struct server *srv, int64_t fleet, const json_t *entry,
				int *present, struct upk_error *err)
{
	const char *hash = entry_file_hash(json_object_get(entry, "hashes"));
	json_t *row = NULL;
	upk_status ret;

	if (hash == NULL)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "target lists neither sha256 nor sha512");
	ret = srv->store->ops->payload_find(srv->store, fleet,
					    json_string_value(json_object_get(entry, "path")), hash,
					    &row, err);
	json_decref(row);
	if (ret == UPK_ERR_NOT_FOUND) {
		*present = 0;
		return UPK_OK;
	}
	if (ret == UPK_OK)
		*present = 1;
	return ret;
}

/* ---- uploads ---- */

/* Every custom.upkeep must parse: devices refuse what they cannot honour, so refuse it now. */
static upk_status check_targets_content(struct upk_metadata *md, const char *role,
					const struct upk_delegation *deleg,
					struct upk_error *err)
{
	for (size_t i = 0; i < upk_targets_count(md); i++) {
		struct upk_target t;
		struct upk_target_info *info = NULL;
		upk_status ret = upk_targets_at(md, i, &t, err);

		if (ret != UPK_OK)
			return ret;
		if (deleg != NULL && !upk_delegation_covers(deleg, t.path))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s lists \"%s\", outside the paths delegated to it",
					     role, t.path);
		ret = upk_target_info_parse(t.custom, &info, err);
		upk_target_info_free(info);
		if (ret == UPK_ERR_NOT_FOUND)
			continue; /* a plain TUF target: hosted, but never assigned */
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: target \"%s\": ", role, t.path);
	}
	return UPK_OK;
}

static upk_status check_fresh(struct upk_metadata *md, const char *role, int64_t now,
			      struct upk_error *err)
{
	if (upk_metadata_is_expired(md, (time_t)now))
		return upk_error_set(err, UPK_ERR_EXPIRED, "%s v%lld has expired", role,
				     (long long)upk_metadata_version(md));
	return UPK_OK;
}

/* The stored version of role, 0 when none. */
static upk_status stored_version(struct server *srv, int64_t fleet, const char *repo,
				 const char *role, int64_t *out, struct upk_error *err)
{
	char *b = NULL;
	upk_status ret = srv->store->ops->meta_get(srv->store, fleet, repo, "", role, 0, &b, NULL,
						   out, err);

	free(b);
	if (ret == UPK_ERR_NOT_FOUND) {
		*out = 0;
		return UPK_OK;
	}
	return ret;
}

static upk_status check_newer(struct server *srv, int64_t fleet, const char *role,
			      struct upk_metadata *md, struct upk_error *err)
{
	int64_t have = 0;
	upk_status ret = stored_version(srv, fleet, STORE_REPO_IMAGE, role, &have, err);

	if (ret != UPK_OK)
		return ret;
	if (upk_metadata_version(md) <= have)
		return upk_error_set(err, UPK_ERR_ROLLBACK,
				     "%s v%lld is not newer than the stored v%lld", role,
				     (long long)upk_metadata_version(md), (long long)have);
	return UPK_OK;
}

/* Find the role that delegates `name` (pre-order, as the search). *out is a copy. */
static upk_status find_delegator(struct server *srv, int64_t fleet, struct upk_metadata *md,
				 const char *name, int depth, struct upk_metadata **out,
				 struct upk_delegation *deleg, struct upk_error *err)
{
	upk_status ret;

	if (depth > MAX_SEARCH)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "delegation chain deeper than %d",
				     MAX_SEARCH);
	if (upk_delegation_find(md, name, deleg, NULL) == UPK_OK) {
		/* deleg must point into the copy the caller keeps, not into md. */
		ret = upk_metadata_dup(md, out, err);
		if (ret == UPK_OK)
			ret = upk_delegation_find(*out, name, deleg, err);
		return ret;
	}
	for (size_t i = 0; i < upk_delegations_count(md); i++) {
		struct upk_delegation d;
		struct upk_metadata *child = NULL;

		ret = upk_delegation_at(md, i, &d, err);
		if (ret != UPK_OK)
			return ret;
		ret = meta_load(srv->store, fleet, STORE_REPO_IMAGE, "", d.name, 0, UPK_ROLE_TARGETS,
				&child, NULL, NULL, err);
		if (ret == UPK_ERR_NOT_FOUND)
			continue;
		if (ret == UPK_OK)
			ret = find_delegator(srv, fleet, child, name, depth + 1, out, deleg, err);
		upk_metadata_free(child);
		/* Found below (deleg then points into *out), or a real error. */
		if (ret != UPK_ERR_NOT_FOUND)
			return ret;
	}
	return UPK_ERR_NOT_FOUND;
}

static void upload(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	const char *role = rq->params[1];
	struct upk_metadata *md = NULL, *root = NULL, *targets = NULL, *delegator = NULL;
	struct upk_delegation deleg;
	struct upk_error err = {0};
	int64_t now = server_now(), have_targets = 0;
	int in_txn = 0;
	json_t *warnings = json_array();
	upk_status ret;

	if (strcmp(role, "snapshot") == 0 || strcmp(role, "timestamp") == 0) {
		reply_error(rp, 400, "invalid",
			    "the server makes %s itself with its online keys; upload root, targets "
			    "or delegated roles",
			    role);
		goto done;
	}
	if (strcmp(role, "root") != 0 && strcmp(role, "targets") != 0 &&
	    !api_valid_role_name(role)) {
		reply_error(rp, 400, "invalid", "\"%s\" is not a role name", role);
		goto done;
	}
	ret = upk_metadata_parse(rq->body, rq->body_len,
				 strcmp(role, "root") == 0 ? UPK_ROLE_ROOT : UPK_ROLE_TARGETS, NULL,
				 &md, &err);
	if (ret != UPK_OK)
		goto fail;
	ret = st->ops->begin(st, &err);
	if (ret != UPK_OK)
		goto fail;
	in_txn = 1;
	ret = meta_load(st, rq->fleet_id, STORE_REPO_IMAGE, "", "root", 0, UPK_ROLE_ROOT, &root,
			NULL, NULL, &err);
	if (ret == UPK_OK)
		ret = stored_version(srv, rq->fleet_id, STORE_REPO_IMAGE, "targets", &have_targets,
				     &err);
	if (ret != UPK_OK)
		goto fail;
	if (strcmp(role, "root") == 0) {
		struct online_keys k;

		ret = root_check_next(root, md, now, &err);
		/* A root naming online keys the server lacks would stop all publishing. */
		if (ret == UPK_OK)
			ret = online_keys_load(st, rq->fleet_id, STORE_REPO_IMAGE, "snapshot", &k, &err);
		if (ret == UPK_OK) {
			ret = online_keys_cover(md, "snapshot", &k, &err);
			online_keys_free(&k);
		}
		if (ret == UPK_OK)
			ret = online_keys_load(st, rq->fleet_id, STORE_REPO_IMAGE, "timestamp", &k,
					       &err);
		if (ret == UPK_OK) {
			ret = online_keys_cover(md, "timestamp", &k, &err);
			online_keys_free(&k);
		}
		if (ret == UPK_OK && have_targets > 0) {
			struct upk_error w = {0};

			if (meta_load(st, rq->fleet_id, STORE_REPO_IMAGE, "", "targets", 0,
				      UPK_ROLE_TARGETS, &targets, NULL, NULL, &w) == UPK_OK &&
			    upk_verify_role(md, "targets", targets, NULL, &w) != UPK_OK)
				json_array_append_new(
					warnings, json_sprintf("the stored targets no longer verify "
							       "under root v%lld: upload a new "
							       "targets: %s",
							       (long long)upk_metadata_version(md),
							       w.msg));
		}
	} else if (strcmp(role, "targets") == 0) {
		ret = upk_verify_role(root, "targets", md, NULL, &err);
		if (ret == UPK_OK)
			ret = check_fresh(md, role, now, &err);
		if (ret == UPK_OK)
			ret = check_newer(srv, rq->fleet_id, role, md, &err);
		if (ret == UPK_OK)
			ret = check_targets_content(md, role, NULL, &err);
	} else {
		if (have_targets == 0) {
			ret = upk_error_set(&err, UPK_ERR_NOT_FOUND,
					    "upload targets first: nothing delegates to \"%s\"", role);
			goto fail;
		}
		ret = meta_load(st, rq->fleet_id, STORE_REPO_IMAGE, "", "targets", 0,
				UPK_ROLE_TARGETS, &targets, NULL, NULL, &err);
		if (ret == UPK_OK) {
			ret = find_delegator(srv, rq->fleet_id, targets, role, 0, &delegator, &deleg,
					     &err);
			if (ret == UPK_ERR_NOT_FOUND || (ret == UPK_OK && delegator == NULL))
				ret = upk_error_set(&err, UPK_ERR_NOT_FOUND,
						    "no stored targets role delegates to \"%s\"", role);
		}
		if (ret == UPK_OK)
			ret = upk_verify_delegated(delegator, role, md, NULL, &err);
		if (ret == UPK_OK)
			ret = check_fresh(md, role, now, &err);
		if (ret == UPK_OK)
			ret = check_newer(srv, rq->fleet_id, role, md, &err);
		if (ret == UPK_OK)
			ret = check_targets_content(md, role, &deleg, &err);
	}
	if (ret != UPK_OK)
		goto fail;
	/* Store the owner's bytes exactly: snapshot hashes and clients see these. */
	ret = st->ops->meta_put(st, rq->fleet_id, STORE_REPO_IMAGE, "", role,
				upk_metadata_version(md), (int64_t)upk_metadata_expires(md), rq->body,
				rq->body_len, now, &err);
	if (ret == UPK_OK && (have_targets > 0 || strcmp(role, "targets") == 0))
		ret = publish_snapshot_timestamp(srv, rq->fleet_id, STORE_REPO_IMAGE, "", 1, now,
						 &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "image.upload",
				   json_pack("{s:s, s:I}", "role", role, "version",
					     (json_int_t)upk_metadata_version(md)),
				   now, &err);
	if (ret == UPK_OK) {
		in_txn = 0;
		ret = st->ops->commit(st, &err);
	}
	if (ret != UPK_OK)
		goto fail;
	log_msg(LOG_INFO, "repo", "fleet %s: accepted %s v%lld", rq->fleet, role,
		(long long)upk_metadata_version(md));
	reply_json(rp, 200,
		   json_pack("{s:s, s:I, s:O}", "role", role, "version",
			     (json_int_t)upk_metadata_version(md), "warnings", warnings));
	goto done;
fail:
	if (in_txn)
		st->ops->rollback(st);
	upk_error_prefix(&err, ret, "%s upload refused: ", role);
	reply_upk(rp, ret, &err);
done:
	json_decref(warnings);
	upk_metadata_free(md);
	upk_metadata_free(root);
	upk_metadata_free(targets);
	upk_metadata_free(delegator);
}

void handle_image_upload(struct req *rq, struct reply *rp)
{
	upload(rq, rp);
}

/* ---- serving ---- */

#define IMMUTABLE "public, max-age=31536000, immutable"
#define MUTABLE "public, max-age=0, must-revalidate"

/*
 * "N.role.json" -> version N and role; "role.json" -> version 0 (newest).
 * 0 on success, -1 when the name is not a metadata file name.
 */
static int parse_meta_name(const char *file, int64_t *version, char *role, size_t role_size)
{
	size_t n = strlen(file);
	const char *p = file;
	int64_t v = 0;

	if (n < 6 || strcmp(file + n - 5, ".json") != 0)
		return -1;
	if (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9') {
			if (v > (INT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*p++ - '0');
		}
		if (*p++ != '.')
			return -1;
	}
	n = strlen(p) - 5;
	if (n == 0 || n >= role_size)
		return -1;
	memcpy(role, p, n);
	role[n] = '\0';
	*version = v;
	return 0;
}

void repo_serve_meta(struct req *rq, struct reply *rp, const char *repo, const char *scope,
		     const char *file)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	char role[80];
	int64_t version = 0;
	char *body = NULL;
	size_t len = 0;
	upk_status ret;

	if (parse_meta_name(file, &version, role, sizeof(role)) != 0 ||
	    (strcmp(role, "root") != 0 && strcmp(role, "targets") != 0 &&
	     strcmp(role, "snapshot") != 0 && strcmp(role, "timestamp") != 0 &&
	     !api_valid_role_name(role)) ||
	    (strcmp(role, "timestamp") == 0 && version != 0)) {
		reply_error(rp, 404, "not_found", "no metadata file \"%s\"", file);
		return;
	}
	/* Roots are fleet-wide; the rest of a director repository is per device. */
	ret = st->ops->meta_get(st, rq->fleet_id, repo, strcmp(role, "root") == 0 ? "" : scope,
				role, version, &body, &len, NULL, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	reply_bytes(rp, 200, "application/json", version > 0 ? IMMUTABLE : MUTABLE, body, len);
}

void handle_image_meta_get(struct req *rq, struct reply *rp)
{
	repo_serve_meta(rq, rp, STORE_REPO_IMAGE, "", rq->params[1]);
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* "dir/HASH.name" -> hash and "dir/name" (malloc()ed). -1 when malformed. */
static int split_hashed(const char *tail, char *hash, char **path)
{
	const char *base = strrchr(tail, '/'), *dot;
	size_t dirlen, hl;

	base = base ? base + 1 : tail;
	dot = strchr(base, '.');
	if (dot == NULL)
		return -1;
	hl = (size_t)(dot - base);
	if ((hl != 64 && hl != 128) || !is_hex(base, hl) || dot[1] == '\0')
		return -1;
	memcpy(hash, base, hl);
	hash[hl] = '\0';
	dirlen = (size_t)(base - tail);
	*path = malloc(dirlen + strlen(dot + 1) + 1);
	if (*path == NULL)
		return -1;
	memcpy(*path, tail, dirlen);
	strcpy(*path + dirlen, dot + 1);
	return 0;
}

void handle_image_target_get(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct upk_error err = {0};
	char hash[129], file[4600];
	char *path = NULL;
	json_t *row = NULL;
	struct stat sb;
	upk_status ret;
	int fd;

	if (split_hashed(rq->tail, hash, &path) != 0) {
		reply_error(rp, 404, "not_found",
			    "targets are served as DIR/HASH.NAME (consistent snapshots): \"%s\"",
			    rq->tail);
		return;
	}
	ret = srv->store->ops->payload_find(srv->store, rq->fleet_id, path, hash, &row, &err);
	free(path);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", srv->cfg.data_dir,
		 json_string_value(json_object_get(row, "file")));
	json_decref(row);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		log_msg(LOG_ERROR, "repo", "payload file %s: %s", file, strerror(errno));
		reply_error(rp, 500, "io", "payload file missing on the server");
		return;
	}
	rp->status = 200;
	rp->fd = fd;
	rp->fd_len = (uint64_t)sb.st_size;
	rp->content_type = "application/octet-stream";
	rp->cache_control = IMMUTABLE;
}

/* ---- payload uploads, streamed to a temporary file and checked on the way ---- */

struct payload_up {
	int fd;
	char tmp[4200];
	struct upk_target_check *tc;
	json_t *entry;
};

static int stream_fail(struct reply *rp, upk_status ret, const struct upk_error *err)
{
	reply_upk(rp, ret, err);
	return 1;
}

int payload_stream_start(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct upk_error err = {0};
	struct payload_up *up;
	json_t *row = NULL;
	const char *cl;
	char dir[4096];
	upk_status ret;

	ret = srv->store->ops->fleet_get(srv->store, rq->fleet, &row, &err);
	if (ret != UPK_OK)
		return stream_fail(rp, ret, &err);
	rq->fleet_id = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	/*
	 * Refuse unsigned uploads before writing anything; the signature
	 * itself can only be checked once the whole body was hashed.
	 */
	if (req_header(rq, "Signature") == NULL) {
		reply_error(rp, 401, "unauthorized", "request is not signed (RFC 9421 Signature)");
		return 1;
	}
	up = calloc(1, sizeof(*up));
	if (up == NULL)
		return stream_fail(rp, upk_error_set(&err, UPK_ERR_NOMEM, "out of memory"), &err);
	up->fd = -1;
	rq->stream = up;
	/* Only what the owner signed, and only its signed length, is accepted. */
	ret = repo_find_target(srv, rq->fleet_id, rq->tail, server_now(), &up->entry, &err);
	if (ret != UPK_OK)
		return stream_fail(rp, ret, &err);
	if (json_integer_value(json_object_get(up->entry, "length")) > srv->cfg.max_payload_bytes) {
		reply_error(rp, 413, "too_large", "target \"%s\" is longer than max_payload_bytes",
			    rq->tail);
		return 1;
	}
	cl = req_header(rq, "Content-Length");
	if (cl != NULL && strtoll(cl, NULL, 10) != json_integer_value(json_object_get(up->entry,
										     "length"))) {
		reply_error(rp, 422, "hash", "target \"%s\" is signed with length %lld, body has %s",
			    rq->tail,
			    (long long)json_integer_value(json_object_get(up->entry, "length")), cl);
		return 1;
	}
	ret = upk_target_check_new(rq->tail, json_integer_value(json_object_get(up->entry, "length")),
				   json_object_get(up->entry, "hashes"), &up->tc, &err);
	if (ret != UPK_OK)
		return stream_fail(rp, ret, &err);
	snprintf(dir, sizeof(dir), "%s/tmp", srv->cfg.data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return stream_fail(rp, upk_error_set(&err, UPK_ERR_IO, "%s: %s", dir, strerror(errno)),
				   &err);
	snprintf(up->tmp, sizeof(up->tmp), "%s/upload-XXXXXX", dir);
	up->fd = mkstemp(up->tmp);
	if (up->fd < 0) {
		up->tmp[0] = '\0';
		return stream_fail(rp, upk_error_set(&err, UPK_ERR_IO, "temporary file: %s",
						     strerror(errno)),
				   &err);
	}
	return 0;
}

int payload_stream_data(struct req *rq, const void *data, size_t len, struct reply *rp)
{
	struct payload_up *up = rq->stream;
	struct upk_error err = {0};
	const char *p = data;
	upk_status ret;

	/* upk_target_check stops at the first byte over the signed length. */
	ret = upk_target_check_update(up->tc, data, len, &err);
	if (ret != UPK_OK)
		return stream_fail(rp, ret, &err);
	while (len > 0) {
		ssize_t w = write(up->fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return stream_fail(rp, upk_error_set(&err, UPK_ERR_IO, "write: %s",
							     strerror(errno)),
					   &err);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

void payload_stream_free(struct req *rq)
{
	struct payload_up *up = rq->stream;

	if (up == NULL)
		return;
	if (up->fd >= 0)
		close(up->fd);
	if (up->tmp[0] != '\0')
		unlink(up->tmp);
	upk_target_check_free(up->tc);
	json_decref(up->entry);
	free(up);
	rq->stream = NULL;
}

static upk_status fsync_dir(const char *dir, struct upk_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", dir, strerror(errno));
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? UPK_OK : upk_error_set(err, UPK_ERR_IO, "fsync %s: %s", dir, strerror(errno));
}

void handle_payload_upload(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct payload_up *up = rq->stream;
	struct upk_error err = {0};
	const json_t *hashes = json_object_get(up->entry, "hashes");
	const char *hash = entry_file_hash(hashes);
	char dir[4096], rel[200], final[4400];
	int64_t length = json_integer_value(json_object_get(up->entry, "length"));
	upk_status ret;

	ret = upk_target_check_final(up->tc, &err);
	if (ret != UPK_OK)
		goto fail;
	/*
	 * Durable before acknowledged: fsync the file, rename it to its
	 * content-addressed name, fsync the directory so the rename survives
	 * a crash; only then record it.
	 */
	if (fsync(up->fd) != 0) {
		ret = upk_error_set(&err, UPK_ERR_IO, "fsync: %s", strerror(errno));
		goto fail;
	}
	snprintf(rel, sizeof(rel), "%lld", (long long)rq->fleet_id);
	snprintf(dir, sizeof(dir), "%s/%s", srv->cfg.data_dir, rel);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ret = upk_error_set(&err, UPK_ERR_IO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(rel + strlen(rel), sizeof(rel) - strlen(rel), "/%s", hash);
	snprintf(final, sizeof(final), "%s/%s", srv->cfg.data_dir, rel);
	if (rename(up->tmp, final) != 0) {
		ret = upk_error_set(&err, UPK_ERR_IO, "rename to %s: %s", final, strerror(errno));
		goto fail;
	}
	up->tmp[0] = '\0';
	ret = fsync_dir(dir, &err);
	if (ret == UPK_OK)
		ret = srv->store->ops->begin(srv->store, &err);
	if (ret != UPK_OK)
		goto fail;
	ret = srv->store->ops->payload_put(srv->store, rq->fleet_id, rq->tail, length,
					   json_string_value(json_object_get(hashes, "sha256")),
					   json_string_value(json_object_get(hashes, "sha512")), rel,
					   server_now(), &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "image.payload",
				   json_pack("{s:s, s:I}", "path", rq->tail, "length",
					     (json_int_t)length),
				   server_now(), &err);
	if (ret == UPK_OK)
		ret = srv->store->ops->commit(srv->store, &err);
	else
		srv->store->ops->rollback(srv->store);
	if (ret != UPK_OK)
		goto fail;
	reply_json(rp, 200, json_pack("{s:s, s:I}", "path", rq->tail, "length", (json_int_t)length));
	return;
fail:
	upk_error_prefix(&err, ret, "payload \"%s\" refused: ", rq->tail);
	reply_upk(rp, ret, &err);
}
