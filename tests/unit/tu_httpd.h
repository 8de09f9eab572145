/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A loopback HTTP server for tests (libmicrohttpd): serves a directory on
 * 127.0.0.1 at an ephemeral port (GET, and POST answered the same way with
 * the body ignored, for canned answers), and per URL path can misbehave the way an
 * attacker or a broken mirror would: drip bytes slowly, send endless data,
 * send other content, or answer 404. Every response is bounded in time and
 * size so a failing test cannot hang.
 */
#ifndef UPK_TU_HTTPD_H
#define UPK_TU_HTTPD_H

#include <stddef.h>

enum tu_httpd_mode {
	TU_HTTPD_FILE = 0, /* serve the file (the default) */
	TU_HTTPD_CONTENT,  /* serve the given bytes instead */
	TU_HTTPD_SLOW,     /* the file, one byte every 200 ms */
	TU_HTTPD_ENDLESS,  /* bytes without end (capped at 256 MiB), no length */
	TU_HTTPD_NOT_FOUND,
	/*
	 * The file, but a request without Range gets only its first half and then
	 * the connection is dropped (the declared length is the whole file).
	 * Every file is served with "Range: bytes=N-" support (206).
	 */
	TU_HTTPD_DROP,
};

struct tu_httpd;

/* Serve dir; NULL when the server cannot start. */
struct tu_httpd *tu_httpd_start(const char *dir);
/* "http://127.0.0.1:PORT" without a trailing slash. */
const char *tu_httpd_url(const struct tu_httpd *h);
/* Misbehave for one URL path ("/metadata/timestamp.json"); TU_HTTPD_FILE clears it. */
void tu_httpd_set(struct tu_httpd *h, const char *path, enum tu_httpd_mode mode,
                  const void *content, size_t len);
/* Requests seen for path, or for all paths when path is NULL. */
unsigned tu_httpd_count(struct tu_httpd *h, const char *path);
void tu_httpd_reset_counts(struct tu_httpd *h);
/* Requests with "Range: bytes=N-" answered with 206 so far. */
unsigned tu_httpd_ranges(struct tu_httpd *h);
void tu_httpd_stop(struct tu_httpd *h);

#endif
