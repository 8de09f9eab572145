/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The director: per-device TUF targets/snapshot/timestamp saying what each
 * device should run now, signed with the fleet's online director keys.
 * director_assign() is the one way anything (the owner API today, the rollout
 * engine next) gives a device a target; it admits only targets the image
 * repository lists and whose owner-signed hardware list and selector admit
 * the device.
 */
#ifndef UPK_SERVER_DIRECTOR_H
#define UPK_SERVER_DIRECTOR_H

#include <stdint.h>
#include <jansson.h>

#include "api_parse.h"
#include "http.h"
#include "upkeep/error.h"
#include "upkeep/selector.h"

struct server;

/*
 * Make and store a new director targets (the device's current assignments),
 * snapshot and timestamp for device_id. Inside a store transaction.
 */
upk_status director_publish_device(struct server *srv, int64_t fleet, const char *device_id,
				   int64_t now, struct upk_error *err);

/*
 * UPK_OK when the image-repository entry (as repo_find_target() returns it)
 * may go to the device row: upkeep fields present, device accepted, its
 * hardware listed, the selector matching its id, hardware, owner tags and
 * installed versions, payload uploaded. UPK_ERR_INVALID naming the reason
 * otherwise. *type_out (may be NULL) gets the target type name.
 */
upk_status director_admits(struct server *srv, int64_t fleet, const json_t *device,
			   const json_t *entry, const char **type_out, struct upk_error *err);

/*
 * What selectors see of a device row: its id, hardware id, owner tags and
 * reported installed versions, borrowed from the row (tags and inst are
 * the caller's arrays). Device-reported attributes are not used.
 */
void director_device_attrs(const json_t *device, struct upk_device_attrs *attrs,
			   struct upk_kv tags[API_MAX_MAP_ENTRIES],
			   struct upk_kv inst[API_MAX_MAP_ENTRIES]);

/*
 * Assign target_path to device_id: check it (director_admits), record a
 * deployment (rollout_id 0 for a direct assignment) replacing the device's
 * assignment of that type, publish the device's director metadata, audit.
 * The _locked variant runs inside the caller's store transaction.
 */
upk_status director_assign_locked(struct server *srv, int64_t fleet, const char *device_id,
				  const char *target_path, int64_t rollout_id,
				  const struct principal *who, int64_t now, int64_t *deployment_id,
				  struct upk_error *err);
upk_status director_assign(struct server *srv, int64_t fleet, const char *device_id,
			   const char *target_path, int64_t rollout_id,
			   const struct principal *who, int64_t now, int64_t *deployment_id,
			   struct upk_error *err);

#endif
