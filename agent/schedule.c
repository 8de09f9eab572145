/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's timing: poll interval with jitter, exponential backoff after failures. */
#include "schedule.h"

#define BACKOFF_BASE_S 5u

unsigned daemon_backoff_s(unsigned failures, unsigned poll_s, unsigned rnd)
{
	unsigned d = BACKOFF_BASE_S;

	for (unsigned i = 1; i < failures && d < poll_s; i++)
		d *= 2;
	if (d > poll_s)
		d = poll_s;
	/* +-20 % so that a fleet that lost its server does not come back in lockstep. */
	return d - d / 5 + (d / 5 > 0 ? rnd % (2 * (d / 5) + 1) : 0);
}

unsigned daemon_delay_s(unsigned failures, unsigned poll_s, unsigned rnd)
{
	if (failures > 0)
		return daemon_backoff_s(failures, poll_s, rnd);
	return poll_s - poll_s / 10 + rnd % (poll_s / 5 + 1);
}
