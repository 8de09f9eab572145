/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libmicrohttpd glue: per-request state, the routing table, body
 * handling (bounded buffers for JSON, streaming for payloads) and replies.
 * Handlers run only after the whole body arrived and the signature checked
 * out; they fill a struct reply and never touch MHD themselves.
 */
#ifndef UPK_SERVER_HTTP_H
#define UPK_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/crypto.h"
#include "upkeep/error.h"

struct server;
struct MHD_Connection;

enum auth_kind {
	AUTH_NONE = 0,  /* public, cacheable files */
	AUTH_CREATOR,   /* a fleet creator listed in the configuration */
	AUTH_VIEWER,    /* an owner key of the fleet with at least this role */
	AUTH_OPERATOR,
	AUTH_ADMIN,
	AUTH_DEVICE,    /* an enrolled device of the fleet */
	AUTH_ENROL,     /* a device signing with the key its body presents */
};

enum body_kind { BODY_NONE = 0, BODY_JSON, BODY_STREAM };

enum principal_kind { PRINCIPAL_NONE = 0, PRINCIPAL_CREATOR, PRINCIPAL_OWNER, PRINCIPAL_DEVICE };

/* Who signed the request, filled by auth.c. */
struct principal {
	enum principal_kind kind;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	char role[16];        /* owners: admin, operator, viewer; devices: their status */
	json_t *public_key;   /* TUF key object of the signer (a reference; read-only, may be shared) */
	json_t *device;       /* device routes: the device's row as auth read it, for the handler */
};

#define REQ_MAX_SEGMENTS 16
#define REQ_MAX_PARAMS 4

struct route;

struct req {
	struct server *srv;
	struct MHD_Connection *conn;
	char *uri;         /* the request target as received, still percent-encoded */
	char *path;        /* its path part (raw) */
	char *query;       /* its query part without '?', or NULL */
	const char *method;
	const struct route *route;
	char *params[REQ_MAX_PARAMS]; /* decoded ":name" segments, in pattern order */
	size_t nparams;
	char *tail;        /* decoded "*" rest of the path, segments joined by '/' */
	int64_t fleet_id;  /* when the route has :fleet (its first parameter) */
	const char *fleet; /* = params[0] then */
	/* Body. */
	int started;
	uint64_t received;
	char *body;
	size_t body_len, body_cap;
	struct upk_hash *sha;
	uint8_t sha256[32];
	/* An error decided before the body ended; answered on the final call. */
	unsigned early_status;
	char *early_body;
	struct principal who;
	void *stream; /* state of a BODY_STREAM route */
	int64_t started_ms;
};

struct reply {
	unsigned status;
	char *body; /* owned */
	size_t len;
	const char *content_type;
	const char *cache_control;
	int fd;          /* a file to send instead of body; -1 when none */
	uint64_t fd_len;
};

typedef void (*handler_fn)(struct req *rq, struct reply *rp);

struct route {
	const char *method;
	const char *pattern; /* "/v1/fleets/:fleet/devices/:device", "*" = the rest */
	enum auth_kind auth;
	enum body_kind body;
	handler_fn handler;
	/* BODY_STREAM only: see repo_host.c. Non-zero return = reply filled, stop. */
	int (*stream_start)(struct req *rq, struct reply *rp);
	int (*stream_data)(struct req *rq, const void *data, size_t len, struct reply *rp);
	void (*stream_free)(struct req *rq);
};

/* Start/stop libmicrohttpd for srv (cfg listen/port/threads). */
upk_status http_start(struct server *srv, struct upk_error *err);
/* Stop accepting, wait for in-flight requests (bounded), stop the daemon. */
void http_stop(struct server *srv);

/* Find the route for method and a raw path; fills params/tail of rq. 404/405 via status. */
const struct route *http_route(const char *method, const char *path, struct req *rq,
			       unsigned *status);

/* Replies. The JSON ones take ownership of the value. */
void reply_json(struct reply *rp, unsigned status, json_t *value);
void reply_error(struct reply *rp, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* From a status and message: INVALID 400, NOT_FOUND 404, EXISTS 409, ... */
void reply_upk(struct reply *rp, upk_status status, const struct upk_error *err);
void reply_bytes(struct reply *rp, unsigned status, const char *content_type,
		 const char *cache_control, char *body_owned, size_t len);

/* A query parameter (decoded into out, bounded); 0 when absent. */
int req_query(const struct req *rq, const char *name, char *out, size_t out_size);
/* One request header's value (first line), or NULL. */
const char *req_header(const struct req *rq, const char *name);

#endif
