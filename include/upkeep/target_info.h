/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner-signed fields of an upkeep target: custom.upkeep in a TUF target
 * entry says what the payload is (type, version, security_version) and which
 * devices may take it (hardware, selector). Signing tools build and check it,
 * devices and the server parse it; all three must agree, so it lives here.
 */
#ifndef UPKEEP_TARGET_INFO_H
#define UPKEEP_TARGET_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only, like upk_status: values may be stored. */
enum upk_target_type {
	UPK_TARGET_IMAGE = 1,   /* a whole root file system image, written to the inactive slot */
	UPK_TARGET_ARCHIVE = 2, /* a file tree unpacked into place */
	UPK_TARGET_MODULE = 3,  /* an application or add-on installed beside the system */
	UPK_TARGET_ACL = 4,     /* an access control policy */
	UPK_TARGET_CONFIG = 5,  /* device configuration (server address, reset policy, ...) */
	UPK_TARGET_KEYS = 6,    /* a key rotation for the device */
};

/* Limits that keep a hostile entry from costing more than it is worth. */
#define UPK_TARGET_INFO_MAX_HARDWARE 256u /* entries in "hardware" */
#define UPK_TARGET_INFO_MAX_HWID 128u     /* bytes of one hardware id */
/* security_version fits an IEEE double exactly, so JavaScript and Python clients agree on it. */
#define UPK_TARGET_INFO_MAX_SECURITY_VERSION ((int64_t)9007199254740991) /* 2^53 - 1 */

/*
 * One target's custom.upkeep, owned by whoever made it (upk_target_info_free).
 * selector is NULL when the target is for every device of the listed hardware.
 */
struct upk_target_info {
	enum upk_target_type type;
	char *version;
	int64_t security_version;
	char **hardware;
	size_t n_hardware;
	char *selector;
};

/* "image", "archive", ...; NULL for a value outside the enum. */
const char *upk_target_type_name(enum upk_target_type type);
/* UPK_ERR_INVALID naming the text and the known types when it is none of them. */
upk_status upk_target_type_from_name(const char *name, enum upk_target_type *out,
				     struct upk_error *err);

/*
 * Check every field: type known, version valid (upk_version_validate),
 * security_version in [0, UPK_TARGET_INFO_MAX_SECURITY_VERSION], hardware a
 * non-empty list of distinct ids made of [A-Za-z0-9._:+-] (at most the limits
 * above), selector (when set) accepted by upk_selector_parse. The first
 * problem is UPK_ERR_INVALID (or UPK_ERR_TOO_LARGE) naming the field and value.
 */
upk_status upk_target_info_validate(const struct upk_target_info *info, struct upk_error *err);

/*
 * Parse and validate the "upkeep" member of a target's "custom" object.
 * custom NULL, or without "upkeep", is UPK_ERR_NOT_FOUND. Unknown members of
 * custom.upkeep are UPK_ERR_INVALID: they would be owner-signed rules that
 * this code cannot honour, and a device must not install what it does not
 * fully understand (fail closed). Other members of custom are ignored.
 * On success *out is the caller's.
 */
upk_status upk_target_info_parse(const json_t *custom, struct upk_target_info **out,
				 struct upk_error *err);

/*
 * Validate info and build {"upkeep": {...}} for a target's "custom" (a new
 * reference; a NULL selector is left out, security_version is always written).
 */
upk_status upk_target_info_to_custom(const struct upk_target_info *info, json_t **out,
				     struct upk_error *err);

void upk_target_info_free(struct upk_target_info *info);

#ifdef __cplusplus
}
#endif

#endif
