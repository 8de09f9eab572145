/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device events (state key "events"): things the owner must learn about even
 * though no deployment asked, such as a wipe of the owner-private data. They
 * wait in the state file until a check-in delivered them (docs/agent.md).
 */
#ifndef UPKEEP_AGENT_EVENTS_H
#define UPKEEP_AGENT_EVENTS_H

#include <jansson.h>

#include "journal.h"
#include "upkeep/error.h"

#define EVENTS_MAX 16u

/*
 * Append {"kind": "private-data-wiped", "reason", "transfer"?, "at": now} to
 * the state's "events" (oldest dropped beyond EVENTS_MAX). reason is
 * "transfer" or "factory-reset"; transfer (32 hex) may be NULL. Visible on
 * disk at the next journal_commit().
 */
upk_status events_append_wipe(struct journal *j, const char *reason, const char *transfer,
                              struct upk_error *err);

/* The queued events (borrowed) or NULL when there are none. */
const json_t *events_pending(const struct journal *j);

/*
 * The first n events were delivered: drop them and commit. Events appended
 * since the check-in was sent stay.
 */
upk_status events_delivered(struct journal *j, size_t n, struct upk_error *err);

#endif
