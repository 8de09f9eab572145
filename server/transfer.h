/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the rest of the server needs to know about transferred devices: the
 * answer a sold device gets from its old fleet, and the guard that keeps
 * the old owner's hands off it.
 */
#ifndef UPK_SERVER_TRANSFER_H
#define UPK_SERVER_TRANSFER_H

#include <jansson.h>

#include "http.h"

/*
 * {"device", "status": "transferred", "moved_to": "/v1/fleets/TO"} for a
 * device row whose status is transferred (new reference).
 */
json_t *transfer_moved_answer(const char *device, const json_t *row);

/*
 * Called after authentication: an owner request that would change a device
 * (a non-GET route with :device) of a transferred device is refused with 409
 * naming the fleet it moved to. Returns 1 when rp was filled (stop), else 0.
 */
int transfer_guard(struct req *rq, struct reply *rp);

#endif
