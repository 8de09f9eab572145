/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-time claim codes of an unclaimed device (after `upkeepd reset
 * --factory`) and the MAC a new owner's claim carries (docs/ownership.md,
 * "Physical-presence reset and claim"). The code never leaves the device
 * and the owner's tool; the server only relays the MAC, so it cannot forge
 * a claim.
 */
#ifndef UPKEEP_CLAIM_H
#define UPKEEP_CLAIM_H

#include <stddef.h>

#include "upkeep/error.h"

/* 20 Crockford base32 characters: 100 bits. */
#define UPK_CLAIM_CODE_LEN 20
/* Shown as XXXXX-XXXXX-XXXXX-XXXXX. */
#define UPK_CLAIM_CODE_DISPLAY_LEN 23
#define UPK_CLAIM_MAC_HEX_LEN 64

/*
 * A fresh code from the OS's random generator, in display form
 * (NUL-terminated). Wipe it with OPENSSL_cleanse when done.
 */
upk_status upk_claim_code_generate(char out[UPK_CLAIM_CODE_DISPLAY_LEN + 1],
                                   struct upk_error *err);

/*
 * A typed code in its canonical form: upper case, '-' and blanks dropped,
 * Crockford's look-alikes mapped (I and L to 1, O to 0). Anything else
 * (another character, not 20 characters) is UPK_ERR_INVALID; the message
 * never quotes the code.
 */
upk_status upk_claim_code_normalise(const char *typed, char out[UPK_CLAIM_CODE_LEN + 1],
                                    struct upk_error *err);

/* The display form of a canonical code. */
void upk_claim_code_format(const char code[UPK_CLAIM_CODE_LEN + 1],
                           char out[UPK_CLAIM_CODE_DISPLAY_LEN + 1]);

/*
 * The claim MAC, lower-case hex: HMAC-SHA256 with the canonical code as key
 * over "upkeep-claim-v1\n" DEVICE "\n/v1/fleets/" FLEET "\n" sha256hex(image
 * root bytes) "\n" sha256hex(director root bytes). code may be typed (it is
 * normalised first).
 */
upk_status upk_claim_mac(const char *code, const char *device_id, const char *fleet,
                         const void *image_root, size_t image_len, const void *director_root,
                         size_t director_len, char mac_hex[UPK_CLAIM_MAC_HEX_LEN + 1],
                         struct upk_error *err);

/*
 * Check a claim's MAC in constant time: UPK_OK when it matches,
 * UPK_ERR_SIGNATURE when not (also for a MAC that is not 64 hex digits).
 */
upk_status upk_claim_verify(const char *code, const char *device_id, const char *fleet,
                            const void *image_root, size_t image_len, const void *director_root,
                            size_t director_len, const char *mac_hex, struct upk_error *err);

#endif
