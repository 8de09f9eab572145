/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's network loop (`upkeepd daemon`, `upkeepd check`): enrol, check
 * in with the inventory, follow the director through the update state
 * machine, deliver status reports, and retry with exponential backoff.
 */
#ifndef UPKEEP_AGENT_DAEMON_H
#define UPKEEP_AGENT_DAEMON_H

#include "agent_config.h"
#include "update.h"
#include "upkeep/error.h"

struct daemon_opts {
	int once;      /* one cycle (`upkeepd check`), then return */
	int no_reboot; /* record that a reboot is due instead of running the command */
};

/*
 * Run cycles until SIGTERM/SIGINT (or one with opts->once). *outcome is the
 * last cycle's. Errors only for what retrying cannot fix (configuration,
 * state file); network failures are retried with backoff in the loop and
 * returned by a single cycle.
 */
upk_status daemon_run(const struct agent_config *cfg, const struct daemon_opts *opts,
                      enum update_outcome *outcome, struct upk_error *err);

/* The next delay after failures consecutive failures: 5 s doubling, capped at poll, with jitter. */
unsigned daemon_backoff_s(unsigned failures, unsigned poll_s, unsigned rnd);

#endif
