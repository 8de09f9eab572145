/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner-private data area ([agent] private_dir): data and data keys that
 * belong to the device's current owner. A completed transfer and a factory
 * reset empty it before anyone else can act on the device
 * (docs/ownership.md).
 */
#ifndef UPKEEP_AGENT_PRIVATE_DATA_H
#define UPKEEP_AGENT_PRIVATE_DATA_H

#include "agent_config.h"
#include "upkeep/error.h"

/*
 * Make private_dir (mode 0700) when it is missing, and finish a wipe that a
 * crash interrupted (a leftover "private_dir.wiping" is removed).
 */
upk_status private_data_ensure(const struct agent_config *cfg, struct upk_error *err);

/*
 * Empty private_dir. The directory is first renamed aside in one step, so
 * from that moment on nothing in it is reachable under its name even if the
 * removal is cut short; a new empty private_dir takes its place. Calling it
 * again after a crash at any point completes the wipe.
 */
upk_status private_data_wipe(const struct agent_config *cfg, struct upk_error *err);

#endif
