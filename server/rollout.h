/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rollout engine: a release (an owner-signed target) goes to a fleet in
 * phases of growing percentages, each with a soak time, and halts by itself
 * when too many devices fail. Devices are taken in the order of a bucket
 * derived from their id with the rollout id as salt, so a phase's devices
 * stay the same however often the engine runs, and every assignment goes
 * through director_assign_locked() and its admission checks.
 */
#ifndef UPK_SERVER_ROLLOUT_H
#define UPK_SERVER_ROLLOUT_H

#include <stdint.h>

#include "upkeep/error.h"

struct server;

/*
 * Move one rollout on, in its own store transaction, at time now:
 * halt it when failed / assigned deployments exceed its failure threshold,
 * assign the current phase's devices (when assign is set: at creation, on
 * resume and in maintenance passes; reports only advance and halt), and
 * advance while a phase's soak time has passed and its success ratio is
 * met (completed after the last). Not running: nothing happens.
 */
upk_status rollout_step(struct server *srv, int64_t fleet, int64_t id, int64_t now, int assign,
			struct upk_error *err);

/*
 * rollout_step() with assignment for every running rollout of every fleet.
 * One rollout's failure is logged and does not stop the others.
 */
upk_status rollout_maintain(struct server *srv, int64_t now, struct upk_error *err);

#endif
