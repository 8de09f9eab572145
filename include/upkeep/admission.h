/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rule that makes a compromised server harmless: a device takes a target
 * only when the director (server-signed) assigns it, the image repository
 * (owner-signed) lists the same path with the same length and hashes, and
 * the owner-signed custom.upkeep fields admit this device: its hardware id,
 * the selector, and a security_version not below the installed one. The
 * server applies the same rule before it assigns anything.
 */
#ifndef UPKEEP_ADMISSION_H
#define UPKEEP_ADMISSION_H

#include <stdint.h>

#include "upkeep/error.h"
#include "upkeep/metadata.h"
#include "upkeep/selector.h"
#include "upkeep/target_info.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a target was refused; stable values for reports (append-only). */
enum upk_refusal {
	UPK_REFUSAL_NONE = 0,
	UPK_REFUSAL_NOT_IN_IMAGE_REPO = 1, /* the image repository does not list the path */
	UPK_REFUSAL_MISMATCH = 2,          /* length or a hash differs between the repositories */
	UPK_REFUSAL_NO_COMMON_HASH = 3,    /* no known hash algorithm in both */
	UPK_REFUSAL_BAD_FIELDS = 4,        /* custom.upkeep missing or invalid */
	UPK_REFUSAL_HARDWARE = 5,          /* this hardware id is not in "hardware" */
	UPK_REFUSAL_SELECTOR = 6,          /* the selector does not admit this device */
	UPK_REFUSAL_SECURITY_VERSION = 7,  /* security_version below the installed one */
};

/* "hardware", "selector", ... for logs and reports. */
const char *upk_refusal_name(enum upk_refusal refusal);

/*
 * Decide whether a device may take `director` (the director's entry), given
 * `image` (the entry for the same path found in the image repository after
 * delegations; NULL when it lists none), the device's attributes, and the
 * security_version it has installed for this target type.
 *
 * UPK_OK: admitted; *info (when info is non-NULL) receives the owner-signed
 * fields, which the caller frees with upk_target_info_free().
 * UPK_ERR_SIGNATURE with *refusal set and a message naming the values:
 * refused. Other codes: the inputs themselves were unusable.
 */
upk_status upk_admit_target(const struct upk_target *director, const struct upk_target *image,
			    const struct upk_device_attrs *device,
			    int64_t installed_security_version, struct upk_target_info **info,
			    enum upk_refusal *refusal, struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
