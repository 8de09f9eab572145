/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log: every owner action and device report becomes one
 * append-only row, written in the same transaction as the change it
 * records, so neither exists without the other.
 */
#ifndef UPK_SERVER_AUDIT_H
#define UPK_SERVER_AUDIT_H

#include <stdint.h>
#include <jansson.h>

#include "http.h"
#include "upkeep/error.h"

struct server;

/* Record action by who (NULL: the server itself). detail is stolen (may be NULL). */
upk_status audit_record(struct server *srv, int64_t fleet, const char *device_id,
			const struct principal *who, const char *action, json_t *detail,
			int64_t now, struct upk_error *err);

#endif
