/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd glue and the routing table. MHD runs an internal polling
 * thread per worker (epoll, thread pool). For each request: route on the raw
 * path, read the body completely (bounded, hashed while it streams), then
 * authenticate, then call the handler, and answer only on the final call:
 * queueing a response earlier would make MHD drop the rest of the upload.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "auth.h"
#include "handlers.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "transfer.h"

/* ---- the routing table: one line per endpoint (docs/server.md) ---- */

#define F "/v1/fleets/:fleet"

static const struct route ROUTES[] = {
	{"GET", "/v1/health", AUTH_NONE, BODY_NONE, handle_health, NULL, NULL, NULL},
	{"POST", "/v1/keysets", AUTH_CREATOR, BODY_NONE, handle_keyset_create, NULL, NULL, NULL},
	{"POST", "/v1/fleets", AUTH_CREATOR, BODY_JSON, handle_fleet_create, NULL, NULL, NULL},
	{"POST", "/v1/transfers", AUTH_CREATOR, BODY_JSON, handle_transfer_create, NULL, NULL, NULL},
	{"GET", F, AUTH_VIEWER, BODY_NONE, handle_fleet_show, NULL, NULL, NULL},
	{"GET", F "/keys", AUTH_VIEWER, BODY_NONE, handle_key_list, NULL, NULL, NULL},
	{"POST", F "/keys", AUTH_ADMIN, BODY_JSON, handle_key_add, NULL, NULL, NULL},
	{"DELETE", F "/keys/:keyid", AUTH_ADMIN, BODY_NONE, handle_key_delete, NULL, NULL, NULL},
	/* Image repository: owner uploads, public static files. */
	{"PUT", F "/image/metadata/:role", AUTH_OPERATOR, BODY_JSON, handle_image_upload, NULL,
	 NULL, NULL},
	{"PUT", F "/image/targets/*", AUTH_OPERATOR, BODY_STREAM, handle_payload_upload,
	 payload_stream_start, payload_stream_data, payload_stream_free},
	{"GET", F "/image/metadata/:file", AUTH_NONE, BODY_NONE, handle_image_meta_get, NULL, NULL,
	 NULL},
	{"GET", F "/image/targets/*", AUTH_NONE, BODY_NONE, handle_image_target_get, NULL, NULL,
	 NULL},
	/* Director. */
	{"PUT", F "/director/metadata/root", AUTH_ADMIN, BODY_JSON, handle_director_root_upload,
	 NULL, NULL, NULL},
	{"GET", F "/director/:device/metadata/:file", AUTH_NONE, BODY_NONE,
	 handle_director_meta_get, NULL, NULL, NULL},
	{"PUT", F "/devices/:device/assignment", AUTH_OPERATOR, BODY_JSON, handle_assign, NULL,
	 NULL, NULL},
	{"DELETE", F "/devices/:device/assignment/:type", AUTH_OPERATOR, BODY_NONE,
	 handle_unassign, NULL, NULL, NULL},
	/* Devices. */
	{"POST", F "/enrol", AUTH_ENROL, BODY_JSON, handle_enrol, NULL, NULL, NULL},
	{"POST", F "/checkin", AUTH_DEVICE, BODY_JSON, handle_checkin, NULL, NULL, NULL},
	{"POST", F "/deployments/:id/status", AUTH_DEVICE, BODY_JSON, handle_status_report, NULL,
	 NULL, NULL},
	/* Owner view of devices. */
	{"GET", F "/devices", AUTH_VIEWER, BODY_NONE, handle_device_list, NULL, NULL, NULL},
	{"GET", F "/devices/:device", AUTH_VIEWER, BODY_NONE, handle_device_show, NULL, NULL, NULL},
	{"POST", F "/devices/:device/accept", AUTH_OPERATOR, BODY_NONE, handle_device_accept, NULL,
	 NULL, NULL},
	{"POST", F "/devices/:device/reject", AUTH_OPERATOR, BODY_NONE, handle_device_reject, NULL,
	 NULL, NULL},
	{"PUT", F "/devices/:device/tags", AUTH_OPERATOR, BODY_JSON, handle_device_tags, NULL, NULL,
	 NULL},
	{"GET", F "/devices/:device/deployments", AUTH_VIEWER, BODY_NONE, handle_deployment_list,
	 NULL, NULL, NULL},
	{"POST", F "/preauth", AUTH_OPERATOR, BODY_JSON, handle_preauth, NULL, NULL, NULL},
	/* Claims (docs/ownership.md): the device signs with the key its body names, like enrol. */
	{"POST", F "/claims", AUTH_OPERATOR, BODY_JSON, handle_claim_create, NULL, NULL, NULL},
	{"POST", "/v1/claim", AUTH_ENROL, BODY_JSON, handle_claim_poll, NULL, NULL, NULL},
	{"GET", F "/audit", AUTH_VIEWER, BODY_NONE, handle_audit_query, NULL, NULL, NULL},
	/* Rollouts and pins (rollout.c). */
	{"POST", F "/rollouts", AUTH_OPERATOR, BODY_JSON, handle_rollout_create, NULL, NULL, NULL},
	{"GET", F "/rollouts", AUTH_VIEWER, BODY_NONE, handle_rollout_list, NULL, NULL, NULL},
	{"GET", F "/rollouts/:id", AUTH_VIEWER, BODY_NONE, handle_rollout_show, NULL, NULL, NULL},
	{"GET", F "/rollouts/:id/devices", AUTH_VIEWER, BODY_NONE, handle_rollout_devices, NULL,
	 NULL, NULL},
	{"POST", F "/rollouts/:id/pause", AUTH_OPERATOR, BODY_NONE, handle_rollout_pause, NULL, NULL,
	 NULL},
	{"POST", F "/rollouts/:id/resume", AUTH_OPERATOR, BODY_NONE, handle_rollout_resume, NULL,
	 NULL, NULL},
	{"POST", F "/rollouts/:id/abort", AUTH_OPERATOR, BODY_NONE, handle_rollout_abort, NULL, NULL,
	 NULL},
	{"PUT", F "/devices/:device/pin", AUTH_OPERATOR, BODY_JSON, handle_pin, NULL, NULL, NULL},
	{"DELETE", F "/devices/:device/pin/:type", AUTH_OPERATOR, BODY_NONE, handle_unpin, NULL,
	 NULL, NULL},
};

#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

/* ---- replies ---- */

void reply_bytes(struct reply *rp, unsigned status, const char *content_type,
		 const char *cache_control, char *body_owned, size_t len)
{
	free(rp->body);
	rp->status = status;
	rp->content_type = content_type;
	rp->cache_control = cache_control;
	rp->body = body_owned;
	rp->len = len;
}

void reply_json(struct reply *rp, unsigned status, json_t *value)
{
	char *text = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(value);
	if (text == NULL) {
		static const char OOM[] = "{\"error\":\"nomem\",\"message\":\"out of memory\"}";

		text = strdup(OOM);
		status = 500;
	}
	reply_bytes(rp, status, "application/json", "no-store", text, text ? strlen(text) : 0);
}

static json_t *error_json(const char *code, const char *msg)
{
	return json_pack("{s:s, s:s}", "error", code, "message", msg);
}

void reply_error(struct reply *rp, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[UPK_ERROR_MSG_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(rp, status, error_json(code, msg));
}

void reply_upk(struct reply *rp, upk_status status, const struct upk_error *err)
{
	unsigned http;

	switch (status) {
	case UPK_ERR_NOT_FOUND: http = 404; break;
	case UPK_ERR_EXISTS: http = 409; break;
	case UPK_ERR_TOO_LARGE: http = 413; break;
	case UPK_ERR_NOMEM:
	case UPK_ERR_IO:
	case UPK_ERR_CRYPTO: http = 500; break;
	case UPK_ERR_UNSUPPORTED: http = 422; break;
	/* Refused content: bad signatures, rollbacks, expiry, hash mismatch. */
	case UPK_ERR_SIGNATURE:
	case UPK_ERR_ROLLBACK:
	case UPK_ERR_EXPIRED:
	case UPK_ERR_HASH: http = 422; break;
	default: http = 400;
	}
	reply_error(rp, http, upk_status_str(status), "%s",
		    err != NULL && err->msg[0] != '\0' ? err->msg : upk_status_str(status));
}

/* ---- request helpers ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode n bytes of s into a new string; NULL when malformed or with NUL/'/' escaped. */
static char *pct_decode(const char *s, size_t n, int allow_slash)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				goto bad;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			out[j] = (char)(hi * 16 + lo);
			/* An escaped '/' or NUL would let one segment pose as two. */
			if (out[j] == '\0' || (out[j] == '/' && !allow_slash))
				goto bad;
			j++;
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

int req_query(const struct req *rq, const char *name, char *out, size_t out_size)
{
	size_t nlen = strlen(name);
	const char *p = rq->query;

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);

		if (seg > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			char *v = pct_decode(p + nlen + 1, seg - nlen - 1, 1);

			if (v == NULL || strlen(v) + 1 > out_size) {
				free(v);
				return -1;
			}
			memcpy(out, v, strlen(v) + 1);
			free(v);
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

const char *req_header(const struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static void clear_params(struct req *rq)
{
	for (size_t i = 0; i < rq->nparams; i++) {
		free(rq->params[i]);
		rq->params[i] = NULL;
	}
	rq->nparams = 0;
	free(rq->tail);
	rq->tail = NULL;
}

/* Match one pattern against the raw path; 1 on a match (params filled), 0 otherwise, -1 bad path. */
static int match(const char *pattern, const char *path, struct req *rq)
{
	const char *pp = pattern, *sp = path;

	clear_params(rq);
	while (*pp == '/' && *sp == '/') {
		const char *pe, *se;
		size_t pn, sn;

		pp++;
		sp++;
		pe = strchr(pp, '/');
		pn = pe ? (size_t)(pe - pp) : strlen(pp);
		if (pn == 1 && pp[0] == '*') {
			/* The rest, as a relative path without empty, "." or ".." segments. */
			char *t;

			if (*sp == '\0')
				return 0;
			t = pct_decode(sp, strlen(sp), 0);
			if (t == NULL)
				return -1;
			for (char *s = t; s != NULL;) {
				char *slash = strchr(s, '/');
				size_t n = slash ? (size_t)(slash - s) : strlen(s);

				if (n == 0 || (n == 1 && s[0] == '.') ||
				    (n == 2 && s[0] == '.' && s[1] == '.')) {
					free(t);
					return -1;
				}
				s = slash ? slash + 1 : NULL;
			}
			rq->tail = t;
			return 1;
		}
		se = strchr(sp, '/');
		sn = se ? (size_t)(se - sp) : strlen(sp);
		if (pp[0] == ':') {
			char *v;

			if (sn == 0 || rq->nparams >= REQ_MAX_PARAMS)
				return 0;
			v = pct_decode(sp, sn, 0);
			if (v == NULL)
				return -1;
			rq->params[rq->nparams++] = v;
		} else if (pn != sn || strncmp(pp, sp, pn) != 0) {
			return 0;
		}
		pp += pn;
		sp += sn;
	}
	return *pp == '\0' && *sp == '\0';
}

const struct route *http_route(const char *method, const char *path, struct req *rq,
			       unsigned *status)
{
	int path_matched = 0;

	for (size_t i = 0; i < NROUTES; i++) {
		int m = match(ROUTES[i].pattern, path, rq);

		if (m < 0) {
			*status = 400;
			clear_params(rq);
			return NULL;
		}
		if (m == 0)
			continue;
		if (strcmp(ROUTES[i].method, method) == 0) {
			rq->fleet = strstr(ROUTES[i].pattern, ":fleet") != NULL ? rq->params[0] : NULL;
			return &ROUTES[i];
		}
		path_matched = 1;
	}
	clear_params(rq);
	*status = path_matched ? 405 : 404;
	return NULL;
}

/* ---- MHD callbacks ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_early(struct req *rq, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_early(struct req *rq, unsigned status, const char *code, const char *fmt, ...)
{
	struct reply rp = {.fd = -1};
	char msg[512];
	va_list ap;

	if (rq->early_status != 0)
		return; /* the first problem is the one reported */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error(&rp, status, code, "%s", msg);
	rq->early_status = rp.status;
	rq->early_body = rp.body;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	char **q = cls;
	size_t old = *q ? strlen(*q) : 0;
	size_t add = strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	char *n;

	(void)kind;
	if (old + add > 8192)
		return MHD_NO;
	n = realloc(*q, old + add + 1);
	if (n == NULL)
		return MHD_NO;
	snprintf(n + old, add + 1, "%s%s%s%s", old ? "&" : "", key, value ? "=" : "",
		 value ? value : "");
	*q = n;
	return MHD_YES;
}

static enum MHD_Result send_reply(struct req *rq, struct reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (rp->fd >= 0) {
		resp = MHD_create_response_from_fd64(rp->fd_len, rp->fd);
		if (resp == NULL)
			close(rp->fd);
		rp->fd = -1;
	} else {
		resp = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			rp->body = NULL; /* MHD frees it */
	}
	free(rp->body);
	rp->body = NULL;
	if (resp == NULL)
		return MHD_NO;
	if (rp->content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rp->content_type);
	if (rp->cache_control != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, rp->cache_control);
	r = MHD_queue_response(rq->conn, rp->status, resp);
	MHD_destroy_response(resp);
	log_msg(rp->status >= 500 ? LOG_WARN : LOG_INFO, "http", "%s %s %u %lldms%s%s",
		rq->method, rq->path, rp->status, (long long)(now_ms() - rq->started_ms),
		rq->who.kind != PRINCIPAL_NONE ? " key=" : "", rq->who.keyid);
	return r;
}

/* The final call: body complete. Resolve the fleet, authenticate, run the handler. */
static void finish(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct upk_error err = {0};
	uint8_t digest[UPK_HASH_MAX_LEN];
	upk_status ret;

	ret = upk_hash_final(rq->sha, digest, &err);
	upk_hash_free(rq->sha);
	rq->sha = NULL;
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	memcpy(rq->sha256, digest, 32);
	if (rq->fleet != NULL) {
		json_t *row = NULL;

		ret = srv->store->ops->fleet_get(srv->store, rq->fleet, &row, &err);
		if (ret != UPK_OK) {
			reply_upk(rp, ret, &err);
			return;
		}
		rq->fleet_id = json_integer_value(json_object_get(row, "id"));
		json_decref(row);
	}
	if (rq->route->auth != AUTH_NONE && auth_request(rq, rp) != 0)
		return;
	if (transfer_guard(rq, rp) != 0)
		return;
	rq->route->handler(rq, rp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct req *rq = *con_cls;
	struct reply rp = {.fd = -1};

	(void)version;
	if (rq == NULL) {
		unsigned status = 404;
		const char *cl;
		struct upk_error err = {0};

		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*con_cls = rq;
		atomic_fetch_add(&srv->inflight, 1);
		rq->srv = srv;
		rq->conn = conn;
		rq->method = method;
		rq->started_ms = now_ms();
		/* url is raw: the unescape callback leaves it as received (auth needs @path). */
		rq->path = strdup(url);
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &rq->query);
		if (rq->path == NULL || upk_hash_new(UPK_HASH_SHA256, &rq->sha, &err) != UPK_OK)
			return MHD_NO;
		rq->route = http_route(method, rq->path, rq, &status);
		if (rq->route == NULL) {
			set_early(rq, status, status == 405 ? "method" : "not_found",
				  status == 400 ? "malformed path" : "no such endpoint: %s %s",
				  method, rq->path);
			return MHD_YES;
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && rq->route->body == BODY_JSON &&
		    strtoull(cl, NULL, 10) > (unsigned long long)srv->cfg.max_body_bytes) {
			/*
			 * Refuse before the upload starts: nothing was read yet,
			 * so answering now loses nothing the client sent.
			 */
			reply_error(&rp, 413, "too_large", "body of %s bytes is over the limit of %lld",
				    cl, (long long)srv->cfg.max_body_bytes);
			return send_reply(rq, &rp);
		}
		if (rq->route->body == BODY_STREAM && rq->route->stream_start(rq, &rp) != 0) {
			rq->early_status = rp.status;
			rq->early_body = rp.body;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		rq->received += n;
		if (rq->early_status != 0) {
			/* Drain what the client sends, but not without end. */
			return rq->received > (uint64_t)srv->cfg.max_payload_bytes ? MHD_NO : MHD_YES;
		}
		if (upk_hash_update(rq->sha, upload_data, n, NULL) != UPK_OK) {
			set_early(rq, 500, "crypto", "hashing the body failed");
			return MHD_YES;
		}
		switch (rq->route->body) {
		case BODY_NONE:
			set_early(rq, 400, "invalid", "%s %s takes no body", method, rq->path);
			break;
		case BODY_JSON:
			if (rq->body_len + n > (size_t)srv->cfg.max_body_bytes) {
				set_early(rq, 413, "too_large", "body over the limit of %lld bytes",
					  (long long)srv->cfg.max_body_bytes);
				break;
			}
			if (rq->body_len + n + 1 > rq->body_cap) {
				size_t cap = rq->body_cap ? rq->body_cap : 4096;
				char *nb;

				while (cap < rq->body_len + n + 1)
					cap *= 2;
				nb = realloc(rq->body, cap);
				if (nb == NULL) {
					set_early(rq, 500, "nomem", "out of memory");
					break;
				}
				rq->body = nb;
				rq->body_cap = cap;
			}
			memcpy(rq->body + rq->body_len, upload_data, n);
			rq->body_len += n;
			rq->body[rq->body_len] = '\0';
			break;
		case BODY_STREAM:
			if (rq->route->stream_data(rq, upload_data, n, &rp) != 0) {
				rq->early_status = rp.status;
				rq->early_body = rp.body;
				rp.body = NULL;
			}
			break;
		}
		return MHD_YES;
	}
	if (rq->early_status != 0) {
		rp.status = rq->early_status;
		rp.body = rq->early_body;
		rp.len = rp.body ? strlen(rp.body) : 0;
		rp.content_type = "application/json";
		rq->early_body = NULL;
	} else {
		finish(rq, &rp);
	}
	if (rp.status == 0)
		reply_error(&rp, 500, "internal", "handler gave no reply");
	return send_reply(rq, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct req *rq = *con_cls;

	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	if (rq->route != NULL && rq->route->stream_free != NULL)
		rq->route->stream_free(rq);
	clear_params(rq);
	free(rq->path);
	free(rq->query);
	free(rq->body);
	free(rq->early_body);
	upk_hash_free(rq->sha);
	json_decref(rq->who.public_key);
	json_decref(rq->who.device);
	free(rq);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

/* Leave the URL as received: signatures cover the raw @path, and we decode per segment. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_msg(LOG_WARN, "mhd", "%s", msg);
}

upk_status http_start(struct server *srv, struct upk_error *err)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, srv->cfg.listen, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)srv->cfg.port);
		sa = (struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, srv->cfg.listen, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)srv->cfg.port);
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		return upk_error_set(err, UPK_ERR_INVALID,
				     "listen: \"%s\" is not an IPv4 or IPv6 address", srv->cfg.listen);
	}
	srv->mhd = MHD_start_daemon(
		flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, srv,
		/* First, so that MHD's own messages also go through our log. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.connection_timeout,
		/*
		 * Headers (signatures included) must fit; bodies go through our
		 * buffers. No bigger: MHD zeroes the whole pool after every
		 * request (128 KiB cost 8 % of a check-in's instructions).
		 */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK,
		no_unescape, NULL, MHD_OPTION_END);
	if (srv->mhd == NULL)
		return upk_error_set(err, UPK_ERR_IO, "cannot listen on %s port %lld",
				     srv->cfg.listen, (long long)srv->cfg.port);
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info != NULL ? info->port : (uint16_t)srv->cfg.port;
	return UPK_OK;
}

void http_stop(struct server *srv)
{
	MHD_socket lfd;
	int64_t deadline;

	if (srv->mhd == NULL)
		return;
	/* Stop accepting; requests already in progress run to their end. */
	lfd = MHD_quiesce_daemon(srv->mhd);
	deadline = now_ms() + srv->cfg.shutdown_timeout * 1000;
	while (atomic_load(&srv->inflight) > 0 && now_ms() < deadline) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&srv->inflight) > 0)
		log_msg(LOG_WARN, "http", "%ld requests still running after %llds; closing them",
			(long)atomic_load(&srv->inflight), (long long)srv->cfg.shutdown_timeout);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
}
