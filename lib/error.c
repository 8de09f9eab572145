/* SPDX-License-Identifier: Apache-2.0 */
/* Error values with messages that gain context on their way up. */
#include <stdio.h>
#include <string.h>

#include "upkeep/error.h"

const char *upk_status_str(upk_status status)
{
	switch (status) {
	case UPK_OK: return "ok";
	case UPK_ERR_NOMEM: return "out of memory";
	case UPK_ERR_INVALID: return "invalid";
	case UPK_ERR_CRYPTO: return "crypto";
	case UPK_ERR_SIGNATURE: return "signature";
	case UPK_ERR_IO: return "io";
	case UPK_ERR_EXPIRED: return "expired";
	case UPK_ERR_ROLLBACK: return "rollback";
	case UPK_ERR_TOO_LARGE: return "too large";
	case UPK_ERR_UNSUPPORTED: return "unsupported";
	case UPK_ERR_NOT_FOUND: return "not found";
	case UPK_ERR_HASH: return "hash mismatch";
	case UPK_ERR_PASSPHRASE: return "passphrase";
	case UPK_ERR_EXISTS: return "exists";
	case UPK_ERR_REPLAY: return "replay";
	}
	return "unknown";
}

upk_status upk_error_set(struct upk_error *err, upk_status code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

upk_status upk_error_prefix(struct upk_error *err, upk_status code, const char *fmt, ...)
{
	char old[UPK_ERROR_MSG_MAX];
	va_list ap;
	int n;

	if (err == NULL)
		return code;
	err->code = code;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* The old message goes after the prefix, truncated if the two do not fit. */
	if (n >= 0 && (size_t)n < sizeof(err->msg)) {
		size_t room = sizeof(err->msg) - (size_t)n - 1;
		size_t old_len = strnlen(old, sizeof(old) - 1);
		if (old_len > room)
			old_len = room;
		memcpy(err->msg + n, old, old_len);
		err->msg[(size_t)n + old_len] = '\0';
	}
	return code;
}

void upk_error_clear(struct upk_error *err)
{
	if (err == NULL)
		return;
	err->code = UPK_OK;
	err->msg[0] = '\0';
}
