/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the signing (httpsig.c) and verifying (httpsig_verify.c) halves
 * of RFC 9421, so that both build the signature base with the same code.
 */
#ifndef UPK_HTTPSIG_INTERNAL_H
#define UPK_HTTPSIG_INTERNAL_H

#include "upkeep/httpsig.h"

#include "sfv_internal.h"

/*
 * Check one covered-component identifier (RFC 9421 section 2): an sf-string
 * without parameters naming a derived component we implement or a
 * lower-case field name. Writes the name to name[] on success.
 */
upk_status httpsig_check_component(const struct sfv_item *item,
				   char name[UPK_HTTPSIG_MAX_NAME + 1], struct upk_error *err);

/*
 * The combined value of field lcname (lower-case) in req, trimmed and joined
 * with ", " (RFC 9421 section 2.1), malloc()ed into *value.
 * UPK_ERR_NOT_FOUND when no line has that name, UPK_ERR_TOO_LARGE over
 * UPK_HTTPSIG_MAX_FIELD, UPK_ERR_INVALID for CR, LF or other control bytes.
 */
upk_status httpsig_field(const struct upk_http_request *req, const char *lcname, char **value,
			 size_t *value_len, struct upk_error *err);

/*
 * The signature base (RFC 9421 section 2.5) over the covered components
 * items[0..n) and the signature parameters params; n <= UPK_HTTPSIG_MAX_COMPONENTS.
 * Components must have passed httpsig_check_component(); duplicates are refused here.
 */
upk_status httpsig_build_base(const struct upk_http_request *req, const struct sfv_item *items,
			      size_t n, const struct sfv_params *params, char **base,
			      size_t *base_len, struct upk_error *err);

#endif
