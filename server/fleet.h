/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What creating a fleet and taking one over by a transfer share: checking
 * the owner's roots as they arrive, and installing the online keys of a
 * key set the roots name.
 */
#ifndef UPK_SERVER_FLEET_H
#define UPK_SERVER_FLEET_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"
#include "upkeep/metadata.h"

struct store;

/*
 * Parse a root given as a JSON object and check it: as a fleet's first root
 * (trusted NULL: its own threshold, not expired, consistent_snapshot) or as
 * the version after trusted (both thresholds too). *md and *text (compact
 * serialization, to store) are the caller's. Errors are prefixed with what.
 */
upk_status fleet_root_parse(const json_t *obj, const char *what,
			    const struct upk_metadata *trusted, int64_t now,
			    struct upk_metadata **md, char **text, size_t *len,
			    struct upk_error *err);

/*
 * Inside a store transaction: take (consume) key set `keyset` of `creator`,
 * create fleet `name` (*fleet gets its id), check that the image root names
 * the key set's image snapshot/timestamp keys and the director root its
 * director targets/snapshot/timestamp keys, and store them as the fleet's
 * online keys. UPK_ERR_NOT_FOUND: no such key set of creator;
 * UPK_ERR_EXISTS: the fleet name is taken.
 */
upk_status fleet_create_keyset(struct store *st, const char *name, const char *keyset,
			       const char *creator, const struct upk_metadata *iroot,
			       const struct upk_metadata *droot, int64_t now, int64_t *fleet,
			       struct upk_error *err);

#endif
