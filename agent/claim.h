/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Physical-presence factory reset and the claim of an unclaimed device
 * (docs/ownership.md). State keys: `claim` {"status": "unclaimed" |
 * "claimed", ...}, `reset` (a reset under way, for crash recovery); the
 * one-time code lives in DATA_DIR/claim-code (mode 0600), never in the
 * state file.
 */
#ifndef UPKEEP_AGENT_CLAIM_H
#define UPKEEP_AGENT_CLAIM_H

#include "agent_config.h"
#include "identity.h"
#include "journal.h"
#include "server_link.h"
#include "upkeep/claim.h"
#include "upkeep/error.h"

/* 1 when the device was reset and no claim was accepted since: it trusts no owner. */
int claim_unclaimed(const struct journal *j);

/*
 * Why a factory reset must not run now (UPK_ERR_INVALID naming it): the
 * owner's config says factory_reset = deny, or an update is in progress.
 */
upk_status factory_reset_allowed(const struct journal *j, struct upk_error *err);

/*
 * The reset: journal the intent, empty private_dir, forget both
 * repositories' trusted metadata, the enrolment, the config and pending
 * reports, make a claim code, then commit `claim` unclaimed and a
 * `factory-reset` event. Installed versions, anti-rollback counters, slot
 * records and `server` stay. A crash at any point after the intent is
 * finished by claim_recover(); before it, nothing changed. code gets the
 * display form (wipe it after use).
 */
upk_status factory_reset(const struct agent_config *cfg, struct journal *j,
                         char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1], struct upk_error *err);

/*
 * At every start: finish a reset or a claim that a crash interrupted, and
 * make sure an unclaimed device has a code.
 */
upk_status claim_recover(const struct agent_config *cfg, struct journal *j,
                         struct upk_error *err);

/* The stored code (display form); UPK_ERR_NOT_FOUND when the device is not unclaimed. */
upk_status claim_code_read(const struct agent_config *cfg, const struct journal *j,
                           char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1], struct upk_error *err);

/*
 * Ask the server for claims (POST /v1/claim on the origin of link, signed
 * by the device key) and take the first one whose MAC verifies with the
 * code and whose roots are each signed by their own threshold: trust them,
 * set state `server` to the claiming fleet's URL, forget the code. Refused
 * claims are logged on stderr and noted in `claim.refused`. *claimed says
 * whether one was taken. Errors: transport, local I/O.
 */
upk_status claim_poll(const struct agent_config *cfg, struct journal *j,
                      const struct identity *id, struct server_link *link, int *claimed,
                      struct upk_error *err);

#endif
