/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transfer record of a sale (docs/ownership.md, "The transfer record"):
 * the member "upkeep_transfer" of a transfer root's "signed" object. The
 * server, the agent and the owner's tool read it with this one parser, so
 * they can never disagree on which records are valid.
 */
#ifndef UPKEEP_TRANSFER_H
#define UPKEEP_TRANSFER_H

#include <jansson.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UPK_TRANSFER_MAX_DEVICES 1000u
#define UPK_FLEET_NAME_MAX 63u

struct upk_transfer_record {
	char id[33]; /* 32 lower-case hex digits */
	char from_fleet[UPK_FLEET_NAME_MAX + 1];
	char to_fleet[UPK_FLEET_NAME_MAX + 1];
	json_t *devices; /* a reference: sorted, distinct device ids (64 lower-case hex) */
};

/*
 * Check signed.upkeep_transfer strictly: only the four members, a 32-hex
 * id, two different fleet names ([a-z0-9-]{1,63}, not starting with '-'),
 * 1 to UPK_TRANSFER_MAX_DEVICES device ids, sorted and distinct.
 * UPK_ERR_NOT_FOUND when signed has no such member; UPK_ERR_INVALID (or
 * UPK_ERR_TOO_LARGE for too many devices) naming the member otherwise. On
 * success release *out with upk_transfer_record_clear().
 */
upk_status upk_transfer_record_parse(const json_t *signed_, struct upk_transfer_record *out,
                                     struct upk_error *err);
void upk_transfer_record_clear(struct upk_transfer_record *r);

/* 1 when device_id is one of the record's devices. */
int upk_transfer_record_lists(const struct upk_transfer_record *r, const char *device_id);

/* 1 for a fleet name as the server accepts it: [a-z0-9-]{1,63}, not starting with '-'. */
int upk_fleet_name_valid(const char *s);

#ifdef __cplusplus
}
#endif

#endif
