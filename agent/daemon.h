/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One cycle of the agent's network loop (`upkeepd daemon`, `upkeepd check`):
 * enrol, check in with the inventory, follow the director through the update
 * state machine, deliver status reports. The `upkeepd` front-end repeats it
 * in a new process each time, with the timing of schedule.h.
 */
#ifndef UPKEEP_AGENT_DAEMON_H
#define UPKEEP_AGENT_DAEMON_H

#include "agent_config.h"
#include "schedule.h"
#include "update.h"
#include "upkeep/error.h"

struct daemon_opts {
	int no_reboot; /* record that a reboot is due instead of running the command */
	/*
	 * > 0: the front-end's pipe. The cycle's result goes there as one line,
	 * "ok|fail POLL_SECONDS OUTCOME[ MESSAGE]", and a failed cycle is not an
	 * error of the call (the front-end backs off and retries).
	 */
	int cycle_fd;
};

/*
 * Run one cycle. *outcome is its outcome. Errors for what retrying cannot
 * fix (configuration, state file, device key), and, without cycle_fd, for a
 * failed cycle (network, server).
 */
upk_status daemon_run(const struct agent_config *cfg, const struct daemon_opts *opts,
                      enum update_outcome *outcome, struct upk_error *err);

#endif
