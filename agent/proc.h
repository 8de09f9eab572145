/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Child processes of the agent: health checks, module handlers and the
 * script bootloader. Each runs in its own process group with a deadline,
 * optional streamed stdin, bounded capture of stdout and of stderr's tail.
 */
#ifndef UPKEEP_AGENT_PROC_H
#define UPKEEP_AGENT_PROC_H

#include <stddef.h>

#include "upkeep/error.h"

#define PROC_STDERR_TAIL 1024u

struct proc;

struct proc_spec {
	/* argv[0] is the program's path (no PATH search); NULL-terminated. */
	const char *const *argv;
	/* "NAME=value" entries added to (or replacing in) the agent's environment; may be NULL. */
	const char *const *env;
	/* 1: the caller streams stdin with proc_write(); 0: stdin is /dev/null. */
	int feed_stdin;
	/* Deadline for the whole run, counted from proc_start(); 0: none. */
	unsigned timeout_ms;
	/* Bytes of stdout kept (the rest is read and dropped); 0: 4096. */
	size_t stdout_max;
};

/*
 * Start the child. A program that cannot be executed is UPK_ERR_NOT_FOUND
 * (missing) or UPK_ERR_IO, reported here rather than as exit status 127.
 */
upk_status proc_start(const struct proc_spec *spec, struct proc **out, struct upk_error *err);

/*
 * Stream bytes to the child's stdin (only with feed_stdin). Output is read
 * meanwhile, so a chatty child cannot deadlock us. A child that exits or
 * closes stdin early is UPK_ERR_IO; so is the deadline passing.
 */
upk_status proc_write(struct proc *p, const void *data, size_t len, struct upk_error *err);

/*
 * Close stdin, wait for the child and return its result in *status: the exit
 * code, or 128 + signal number when it was killed. Past the deadline the
 * group gets SIGTERM, then SIGKILL two seconds later, and the result is
 * UPK_ERR_IO ("timed out after N s"). Called once.
 */
upk_status proc_finish(struct proc *p, int *status, struct upk_error *err);

/* Captured output (NUL-terminated; valid until proc_free). */
const char *proc_stdout(const struct proc *p, size_t *len);
const char *proc_stderr_tail(const struct proc *p);

/* Kill (SIGKILL to its group) a child still running, reap it, free everything. NULL is fine. */
void proc_free(struct proc *p);

/*
 * Describe a non-zero *status of p as an error, e.g.
 * "exit status 3: <last line of stderr>". Returns code.
 */
upk_status proc_status_error(const struct proc *p, int status, upk_status code,
                             struct upk_error *err, const char *what);

/* Run `/bin/sh -c command` with a deadline; stdout and stderr captured. *status as proc_finish. */
upk_status proc_run_shell(const char *command, unsigned timeout_ms, const char *const *env,
                          int *status, struct proc **done, struct upk_error *err);

#endif
