/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How libupkeep gets bytes from elsewhere without doing I/O itself: a caller
 * hands the TUF client a fetcher (a small struct of function pointers) and
 * every byte it returns is pushed through a sink with a hard length limit.
 * A directory/file:// fetcher lives here for tests and local mirrors; the
 * HTTP one is in upkeep/fetch_curl.h (library upkeep-net).
 */
#ifndef UPKEEP_FETCH_H
#define UPKEEP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Receives fetched bytes in order. A non-OK status stops the transfer and is
 * what the fetch returns. Bytes seen by a sink are NOT verified yet: only the
 * status of the call that started the transfer says whether they are good.
 */
typedef upk_status (*upk_sink_fn)(void *ctx, const void *data, size_t len, struct upk_error *err);

struct upk_fetcher {
	/*
	 * Fetch url and pass its bytes to sink. At most max_len bytes may be
	 * delivered: a resource longer than that is UPK_ERR_TOO_LARGE, reported
	 * as soon as it is known (before or while streaming, never after reading
	 * it all), so endless data cannot exhaust anything. A resource that does
	 * not exist (HTTP 404, a missing file) is UPK_ERR_NOT_FOUND; every other
	 * transport failure (timeouts, too slow, refused) is UPK_ERR_IO.
	 */
	upk_status (*fetch)(void *ctx, const char *url, uint64_t max_len, upk_sink_fn sink,
	                    void *sink_ctx, struct upk_error *err);
	void *ctx;
	/*
	 * Optional (NULL: the transport cannot resume). Like fetch, but only the
	 * bytes from offset on (HTTP "Range: bytes=OFFSET-"); max_len counts
	 * from offset. A server that ignores the range and sends the whole
	 * resource is UPK_ERR_UNSUPPORTED before any byte reaches sink. Added
	 * after the first two members, so fetchers initialised as {fetch, ctx}
	 * keep working.
	 */
	upk_status (*fetch_range)(void *ctx, const char *url, uint64_t offset, uint64_t max_len,
	                          upk_sink_fn sink, void *sink_ctx, struct upk_error *err);
};

/*
 * A fetcher reading local files: "file:///abs/path" (percent-escapes are
 * decoded) or a plain path. Stateless, so it is just filled in.
 */
void upk_fetcher_file_init(struct upk_fetcher *f);

/*
 * Fetch url into a new malloc()ed buffer of at most max_len bytes (NUL
 * appended, not counted in *len). Same errors as the fetcher. The buffer
 * grows as data arrives, never beyond max_len + 1.
 */
upk_status upk_fetch_to_buffer(const struct upk_fetcher *f, const char *url, uint64_t max_len,
                               char **buf, size_t *len, struct upk_error *err);

#ifdef __cplusplus
}
#endif

#endif
