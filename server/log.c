/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server log. The level is process-wide (the one global of the server
 * core, set once at start); control bytes in messages are escaped so a
 * client-supplied string cannot forge log lines.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(const char *name)
{
	static const char *const NAMES[] = {"debug", "info", "warn", "error"};

	for (int i = 0; i < 4; i++)
		if (name != NULL && strcmp(name, NAMES[i]) == 0)
			min_level = (enum log_level)i;
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	static const char *const NAMES[] = {"debug", "info", "warn", "error"};
	char msg[1024], line[1200], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;
	size_t j = 0;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Escape control bytes: no request may add a line of its own. */
	for (size_t i = 0; msg[i] != '\0' && j + 5 < sizeof(line) - 100; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c < 0x20 || c == 0x7f)
			j += (size_t)snprintf(line + j, 5, "\\x%02x", c);
		else
			line[j++] = (char)c;
	}
	line[j] = '\0';
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s %s %s: %s\n", ts, NAMES[level], component, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
