/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When the daemon runs its next cycle: the poll interval with jitter, or an
 * exponential backoff after failures. libc only: the small `upkeepd`
 * front-end that sleeps between cycles links this and nothing else.
 */
#ifndef UPKEEP_AGENT_SCHEDULE_H
#define UPKEEP_AGENT_SCHEDULE_H

/*
 * The front-end runs each cycle as `upkeepd-core ... daemon` with this
 * variable naming the descriptor of a pipe; the cycle writes its one-line
 * result there (see struct daemon_opts in daemon.h).
 */
#define DAEMON_CYCLE_FD_ENV "UPKEEPD_CYCLE_FD"

/* The next delay after failures consecutive failures: 5 s doubling, capped at poll, with jitter. */
unsigned daemon_backoff_s(unsigned failures, unsigned poll_s, unsigned rnd);

/* The delay before the next cycle: daemon_backoff_s after failures, else poll_s +-10 %. */
unsigned daemon_delay_s(unsigned failures, unsigned poll_s, unsigned rnd);

#endif
