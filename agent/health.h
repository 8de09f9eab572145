/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health check that decides, after a trial boot or a bundle switch,
 * between commit and rollback: the configured commands, each with the
 * configured timeout, all of which must exit 0.
 */
#ifndef UPKEEP_AGENT_HEALTH_H
#define UPKEEP_AGENT_HEALTH_H

#include "agent_config.h"
#include "upkeep/error.h"

/*
 * Run cfg->health_commands in order through /bin/sh -c, stopping at the
 * first failure: UPK_ERR_IO naming the command, its exit status (or the
 * timeout) and its last line of stderr. No commands: healthy. env adds
 * NAME=value entries (NULL-terminated, may be NULL), e.g. UPKEEP_SLOT.
 */
upk_status health_check(const struct agent_config *cfg, const char *const *env,
                        struct upk_error *err);

#endif
