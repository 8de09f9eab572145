/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request authentication: RFC 9421 signatures (include/upkeep/httpsig.h)
 * checked against the key the route allows (fleet creator, owner key of the
 * fleet with a role, enrolled device, enrolling device), then the replay
 * cache. Isolation between fleets comes from here: keys are looked up only
 * among those of the fleet named in the path that the signature covers.
 */
#ifndef UPK_SERVER_AUTH_H
#define UPK_SERVER_AUTH_H

#include "http.h"

/* 0 when rq is authorised (rq->who filled); otherwise rp holds 401/403 and non-zero. */
int auth_request(struct req *rq, struct reply *rp);

/* Rank of an owner role name: viewer 1, operator 2, admin 3, anything else 0. */
int auth_role_rank(const char *role);

#endif
