/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the client's files live on a repository (spec 6.2: VERSION.name.json
 * metadata under consistent snapshots) and the check of fetched metadata
 * bytes against the length and hashes that a trusted role lists for them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

upk_status client_url(const char *base, int64_t version, const char *file, char **out,
                      struct upk_error *err)
{
	size_t n = strlen(base) + strlen(file) + 32;
	char *url = malloc(n);

	if (url == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (version > 0)
		snprintf(url, n, "%s%" PRId64 ".%s", base, version, file);
	else
		snprintf(url, n, "%s%s", base, file);
	*out = url;
	return UPK_OK;
}

upk_status client_check_meta_bytes(const char *what, const void *buf, size_t len, int64_t length,
                                   const json_t *hashes, struct upk_error *err)
{
	struct upk_target_check *tc = NULL;
	upk_status ret;

	if (length >= 0 && (uint64_t)length != (uint64_t)len)
		return upk_error_set(err, UPK_ERR_HASH,
		                     "%s: %zu bytes, the trusted metadata lists %" PRId64, what,
		                     len, length);
	if (hashes == NULL)
		return UPK_OK;
	ret = upk_target_check_new(what, (int64_t)len, hashes, &tc, err);
	if (ret == UPK_OK)
		ret = upk_target_check_update(tc, buf, len, err);
	if (ret == UPK_OK)
		ret = upk_target_check_final(tc, err);
	upk_target_check_free(tc);
	return ret;
}
