/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hosting a fleet's image repository: owner-signed uploads validated against
 * the trusted root before they are accepted, payloads accepted only when they
 * match the signed length and hashes, server-made snapshot and timestamp,
 * and the files served in the plain consistent-snapshot layout.
 */
#ifndef UPK_SERVER_REPO_HOST_H
#define UPK_SERVER_REPO_HOST_H

#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

struct server;

/*
 * Find path in the fleet's image repository the way a TUF client does
 * (top-level targets, then delegations depth-first, in order, honouring
 * terminating, each role verified by its delegator and not expired at now).
 * *entry is {"path", "length", "hashes", "custom" (may be null), "role"}.
 * UPK_ERR_NOT_FOUND when no role lists it.
 */
upk_status repo_find_target(struct server *srv, int64_t fleet, const char *path, int64_t now,
			    json_t **entry, struct upk_error *err);

/* The payload file of a target entry when uploaded: *present 1/0. */
upk_status repo_payload_present(struct server *srv, int64_t fleet, const json_t *entry,
				int *present, struct upk_error *err);

struct req;
struct reply;

/*
 * Serve metadata file `file` of (repo, scope): "N.root.json" and "root.json"
 * from the fleet-wide scope, the rest from scope. Versioned names are
 * immutable and cacheable for a year; the others must be revalidated.
 */
void repo_serve_meta(struct req *rq, struct reply *rp, const char *repo, const char *scope,
		     const char *file);

#endif
