/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libcurl fetcher. What makes it safe for TUF rather than just an HTTP
 * client: the length limit is enforced on every received block (endless
 * data), a minimum transfer speed and timeouts bound a stalled or dripping
 * server (slow retrieval), and only http/https are ever spoken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "upkeep/fetch_curl.h"

struct curl_fetcher {
	struct upk_fetcher f; /* first, so the public pointer is ours */
	CURL *curl;
	struct upk_curl_options opts;
};

/* State of one transfer, seen by the write callback. */
struct transfer {
	const char *url;
	uint64_t max_len;
	uint64_t total;
	upk_sink_fn sink;
	void *sink_ctx;
	struct upk_error *err;
	upk_status failed; /* why the callback stopped the transfer */
	long status;       /* HTTP status, checked before the first byte is passed on */
	int ranged;        /* a Range request: only 206 carries the wanted bytes */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;
	upk_status ret;

	/* An error page is not content: stop at once, whatever its length. */
	if (t->status >= 400) {
		if (t->status == 404)
			t->failed =
			    upk_error_set(t->err, UPK_ERR_NOT_FOUND, "%s: HTTP 404", t->url);
		else
			t->failed =
			    upk_error_set(t->err, UPK_ERR_IO, "%s: HTTP %ld", t->url, t->status);
		return CURL_WRITEFUNC_ERROR;
	}
	/*
	 * A server that ignores Range answers 200 with the whole resource:
	 * passing that on would give the sink its first bytes a second time.
	 */
	if (t->ranged && t->status != 206) {
		t->failed = upk_error_set(t->err, UPK_ERR_UNSUPPORTED,
		                          "%s: HTTP %ld to a range request (no resume)", t->url,
		                          t->status);
		return CURL_WRITEFUNC_ERROR;
	}
	if (len > t->max_len - t->total) {
		t->failed = upk_error_set(t->err, UPK_ERR_TOO_LARGE,
		                          "%s: more than the limit of %llu bytes", t->url,
		                          (unsigned long long)t->max_len);
		return CURL_WRITEFUNC_ERROR;
	}
	t->total += len;
	ret = t->sink(t->sink_ctx, ptr, len, t->err);
	if (ret != UPK_OK) {
		t->failed = ret;
		return CURL_WRITEFUNC_ERROR;
	}
	return len;
}

/* Runs once the response headers are in: decides whether the body is content. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;

	/* The status line of each response (redirects have their own). */
	if (len > 9 && strncmp(ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(ptr, ' ', len);

		if (sp != NULL)
			t->status = strtol(sp + 1, NULL, 10);
	}
	return len;
}

static upk_status curl_fetch_from(struct curl_fetcher *cf, const char *url, uint64_t offset,
                                  uint64_t max_len, upk_sink_fn sink, void *sink_ctx,
                                  struct upk_error *err)
{
	struct transfer t = {.url = url,
	                     .max_len = max_len,
	                     .sink = sink,
	                     .sink_ctx = sink_ctx,
	                     .err = err,
	                     .failed = UPK_OK,
	                     .ranged = offset > 0};
	char errbuf[CURL_ERROR_SIZE] = "", range[32];
	long code = 0;
	CURLcode rc;

	curl_easy_setopt(cf->curl, CURLOPT_URL, url);
	curl_easy_setopt(cf->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cf->curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(cf->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(cf->curl, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(cf->curl, CURLOPT_ERRORBUFFER, errbuf);
	snprintf(range, sizeof(range), "%llu-", (unsigned long long)offset);
	curl_easy_setopt(cf->curl, CURLOPT_RANGE, offset > 0 ? range : NULL);
	/*
	 * A declared Content-Length over the limit fails before the body; a
	 * server that declares nothing (or lies) is stopped in on_data().
	 */
	curl_easy_setopt(cf->curl, CURLOPT_MAXFILESIZE_LARGE,
	                 (curl_off_t)(max_len > INT64_MAX ? INT64_MAX : max_len));
	rc = curl_easy_perform(cf->curl);
	curl_easy_getinfo(cf->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(cf->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(cf->curl, CURLOPT_RANGE, NULL);
	if (t.failed != UPK_OK)
		return t.failed;
	if (rc == CURLE_FILESIZE_EXCEEDED)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "%s: longer than the limit of %llu bytes", url,
		                     (unsigned long long)max_len);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return upk_error_set(err, UPK_ERR_IO,
		                     "%s: too slow or timed out after %llu bytes (%s)", url,
		                     (unsigned long long)t.total, errbuf[0] ? errbuf : "timeout");
	if (rc != CURLE_OK)
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", url,
		                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (code == 404)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: HTTP 404", url);
	if (code >= 400 || (code != 0 && code < 200))
		return upk_error_set(err, UPK_ERR_IO, "%s: HTTP %ld", url, code);
	return UPK_OK;
}

static upk_status curl_fetch(void *ctx, const char *url, uint64_t max_len, upk_sink_fn sink,
                             void *sink_ctx, struct upk_error *err)
{
	return curl_fetch_from(ctx, url, 0, max_len, sink, sink_ctx, err);
}

static upk_status curl_fetch_range(void *ctx, const char *url, uint64_t offset, uint64_t max_len,
                                   upk_sink_fn sink, void *sink_ctx, struct upk_error *err)
{
	return curl_fetch_from(ctx, url, offset, max_len, sink, sink_ctx, err);
}

static long pick(long v, long def)
{
	return v != 0 ? v : def;
}

upk_status upk_fetcher_curl_new(const struct upk_curl_options *opts, struct upk_fetcher **out,
                                struct upk_error *err)
{
	struct curl_fetcher *cf;
	struct upk_curl_options o = {0};
	long redirects;

	if (opts != NULL)
		o = *opts;
	/* Thread-safe since curl 7.84, and cheap after the first call. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return upk_error_set(err, UPK_ERR_IO, "curl_global_init failed");
	cf = calloc(1, sizeof(*cf));
	if (cf == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	cf->curl = curl_easy_init();
	if (cf->curl == NULL) {
		free(cf);
		return upk_error_set(err, UPK_ERR_NOMEM, "curl_easy_init failed");
	}
	cf->opts = o;
	curl_easy_setopt(cf->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cf->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cf->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	redirects = pick(o.max_redirects, UPK_CURL_DEFAULT_MAX_REDIRECTS);
	curl_easy_setopt(cf->curl, CURLOPT_FOLLOWLOCATION, redirects > 0 ? 1L : 0L);
	curl_easy_setopt(cf->curl, CURLOPT_MAXREDIRS, redirects > 0 ? redirects : 0L);
	curl_easy_setopt(cf->curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 pick(o.connect_timeout_ms, UPK_CURL_DEFAULT_CONNECT_TIMEOUT_MS));
	if (pick(o.total_timeout_ms, UPK_CURL_DEFAULT_TOTAL_TIMEOUT_MS) > 0)
		curl_easy_setopt(cf->curl, CURLOPT_TIMEOUT_MS,
		                 pick(o.total_timeout_ms, UPK_CURL_DEFAULT_TOTAL_TIMEOUT_MS));
	/* Slow retrieval: below this speed for this long ends the transfer. */
	curl_easy_setopt(cf->curl, CURLOPT_LOW_SPEED_LIMIT,
	                 pick(o.low_speed_bytes, UPK_CURL_DEFAULT_LOW_SPEED_BYTES));
	curl_easy_setopt(cf->curl, CURLOPT_LOW_SPEED_TIME,
	                 pick(o.low_speed_seconds, UPK_CURL_DEFAULT_LOW_SPEED_SECONDS));
	/* Metadata and targets are verified by hash: no transparent decoding surprises. */
	curl_easy_setopt(cf->curl, CURLOPT_ACCEPT_ENCODING, NULL);
	curl_easy_setopt(cf->curl, CURLOPT_USERAGENT,
	                 o.user_agent != NULL ? o.user_agent : "upkeep/0.1");
	cf->f.fetch = curl_fetch;
	cf->f.fetch_range = curl_fetch_range;
	cf->f.ctx = cf;
	*out = &cf->f;
	return UPK_OK;
}

void upk_fetcher_curl_free(struct upk_fetcher *f)
{
	struct curl_fetcher *cf = (struct curl_fetcher *)f;

	if (cf == NULL)
		return;
	curl_easy_cleanup(cf->curl);
	free(cf);
}
