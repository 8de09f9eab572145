/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Health checks: the integrator's commands decide whether a new version is
 * good. Sequential and fail-fast, so the first reason is the one reported.
 */
#include <stdio.h>

#include "health.h"
#include "proc.h"

upk_status health_check(const struct agent_config *cfg, const char *const *env,
                        struct upk_error *err)
{
	for (size_t i = 0; i < cfg->n_health; i++) {
		struct proc *p = NULL;
		int status = 0;
		char what[128];
		upk_status ret;

		snprintf(what, sizeof(what), "health check %zu (%.80s)", i + 1,
		         cfg->health_commands[i]);
		ret = proc_run_shell(cfg->health_commands[i], cfg->health_timeout_s * 1000u, env,
		                     &status, &p, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: ", what);
		if (status != 0)
			ret = proc_status_error(p, status, UPK_ERR_IO, err, what);
		proc_free(p);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}
