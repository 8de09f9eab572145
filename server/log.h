/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-line logs to stderr: "2025-01-02T03:04:05Z info http: GET /v1/... 200".
 * Lines are written whole under a lock so threads never interleave.
 */
#ifndef UPK_SERVER_LOG_H
#define UPK_SERVER_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* The minimum level written; "debug", "info", "warn", "error" (others: info). */
void log_set_level(const char *name);
void log_msg(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
