/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of the server's device API (docs/server.md): JSON
 * requests to the fleet URL, each signed with the device key (RFC 9421,
 * covering method, path and Content-Digest, with created and a nonce).
 * libcurl honours http_proxy/https_proxy/no_proxy from the environment.
 */
#ifndef UPKEEP_AGENT_SERVER_LINK_H
#define UPKEEP_AGENT_SERVER_LINK_H

#include <jansson.h>

#include "identity.h"
#include "upkeep/error.h"

#define SERVER_LINK_MAX_RESPONSE (1024u * 1024u)

struct server_link;

/*
 * fleet_url: "http[s]://host[:port]/v1/fleets/FLEET" (the agent's `server`
 * key). The identity is borrowed and must outlive the link.
 */
upk_status server_link_new(const char *fleet_url, const struct identity *id,
                           struct server_link **out, struct upk_error *err);
void server_link_free(struct server_link *l);

/*
 * Sign and send METHOD fleet_url/rel with body (may be NULL: no body); a rel
 * starting with '/' is a path on the server's origin instead (e.g. "/v1/claim").
 * *status is the HTTP status, *resp the parsed JSON answer (NULL when none;
 * the caller's). A transport failure is UPK_ERR_IO; HTTP errors are not
 * errors here (callers decide by status).
 */
upk_status server_link_call(struct server_link *l, const char *method, const char *rel,
                            const json_t *body, long *status, json_t **resp,
                            struct upk_error *err);

/* An absolute URL for a server path from a response ("/v1/..."), malloc()ed. */
char *server_link_url(const struct server_link *l, const char *path);

#endif
