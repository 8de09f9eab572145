/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP(S) fetcher on libcurl, in the separate library upkeep-net so that
 * libupkeep itself stays free of sockets. It enforces what TUF needs from a
 * transport: a hard maximum length while streaming (endless-data attacks) and
 * a minimum speed plus timeouts (slow-retrieval attacks).
 */
#ifndef UPKEEP_FETCH_CURL_H
#define UPKEEP_FETCH_CURL_H

#include "upkeep/fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero fields take the defaults below. */
struct upk_curl_options {
	long connect_timeout_ms; /* establishing the connection */
	long total_timeout_ms;   /* one whole transfer; -1 for none */
	long low_speed_bytes;    /* abort when slower than this many bytes/s ... */
	long low_speed_seconds;  /* ... for this many seconds in a row */
	long max_redirects;      /* -1 for none */
	const char *user_agent;
};

#define UPK_CURL_DEFAULT_CONNECT_TIMEOUT_MS 15000L
#define UPK_CURL_DEFAULT_TOTAL_TIMEOUT_MS (30L * 60L * 1000L)
#define UPK_CURL_DEFAULT_LOW_SPEED_BYTES 1024L
#define UPK_CURL_DEFAULT_LOW_SPEED_SECONDS 30L
#define UPK_CURL_DEFAULT_MAX_REDIRECTS 5L

/*
 * A fetcher for http:// and https:// URLs (no other protocol, also not after
 * a redirect). One connection is reused between calls, so the fetcher must
 * not be used from two threads at once. opts may be NULL. Free with
 * upk_fetcher_curl_free().
 */
upk_status upk_fetcher_curl_new(const struct upk_curl_options *opts, struct upk_fetcher **out,
                                struct upk_error *err);
void upk_fetcher_curl_free(struct upk_fetcher *f);

#ifdef __cplusplus
}
#endif

#endif
