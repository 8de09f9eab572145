/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of a sale (docs/ownership.md): a root carrying
 * "upkeep_transfer" is trusted only by a device it lists; accepting one is
 * journalled before the root is trusted, and once the image chain reached it
 * the owner-private data is wiped and reported, before anything the new
 * owner signed is installed.
 */
#ifndef UPKEEP_AGENT_OWNERSHIP_H
#define UPKEEP_AGENT_OWNERSHIP_H

#include <stdint.h>
#include <jansson.h>

#include "agent_config.h"
#include "journal.h"
#include "upkeep/error.h"
#include "upkeep/metadata.h"
#include "upkeep/transfer.h"

/* The context of ownership_root_check(): one per TUF client. */
struct ownership_check {
	struct journal *journal; /* NULL: check only, record nothing (probes) */
	const char *device_id;
	const char *repo; /* "image" or "director" */
};

/*
 * The TUF client's root_check (include/upkeep/client.h): a root without a
 * transfer record passes; one with a record is refused unless it is valid
 * and lists this device. An accepted one is committed to the state as
 * "transfer_pending" {"id", "from_fleet", "to_fleet", "image_version"? |
 * "director_version"?} before the client writes or trusts the root.
 */
upk_status ownership_root_check(void *ctx, const struct upk_metadata *root, const void *raw,
                                size_t len, struct upk_error *err);

/* Version of the trusted root of repo ("image", "director") on disk; 0 when none yet. */
upk_status ownership_trusted_root_version(const struct agent_config *cfg, const char *repo,
                                          int64_t *out, struct upk_error *err);

/*
 * Finish a pending transfer once the trusted image root has reached its
 * version: empty private_dir, then in one commit record "owner" {"transfer",
 * "since_root", "wiped_at"}, queue a private-data-wiped event and drop
 * "transfer_pending". Does nothing when nothing is pending or the chain is
 * not there yet. A crash at any point is finished by the next call (the
 * wipe is idempotent, the record goes in one commit). *done is 1 when it
 * completed a transfer now (may be NULL).
 */
upk_status ownership_finish(const struct agent_config *cfg, struct journal *j, int *done,
                            struct upk_error *err);

#endif
