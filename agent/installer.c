/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The installer interface shared by the image, archive and module
 * installers: a broken stream stays broken, and abort runs on every path
 * that did not finish.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "installer.h"
#include "upkeep/crypto.h"

upk_status payload_expect_sha256_hex(struct payload_expect *e, const char *hex,
                                     struct upk_error *err)
{
	upk_status ret;

	if (strlen(hex) != 64)
		return upk_error_set(err, UPK_ERR_INVALID, "SHA-256 \"%.80s\" is not 64 hex digits",
		                     hex);
	ret = upk_hex_decode(hex, e->sha256, 32, err);
	if (ret != UPK_OK)
		return ret;
	e->have_sha256 = 1;
	return UPK_OK;
}

upk_status installer_write(struct installer *in, const void *data, size_t len,
                           struct upk_error *err)
{
	upk_status ret;

	if (in->failed || in->finished)
		return upk_error_set(err, UPK_ERR_INVALID, "%s installer: write after %s",
		                     in->ops->name, in->failed ? "a failure" : "finish");
	ret = in->ops->write(in, data, len, err);
	if (ret != UPK_OK)
		in->failed = 1;
	else
		in->payload_bytes += len;
	return ret;
}

upk_status installer_sink(void *ctx, const void *data, size_t len, struct upk_error *err)
{
	return installer_write(ctx, data, len, err);
}

upk_status installer_finish(struct installer *in, struct upk_error *err)
{
	upk_status ret;

	if (in->failed || in->finished)
		return upk_error_set(err, UPK_ERR_INVALID, "%s installer: finish after %s",
		                     in->ops->name, in->failed ? "a failure" : "finish");
	ret = in->ops->finish(in, err);
	if (ret != UPK_OK)
		in->failed = 1;
	else
		in->finished = 1;
	return ret;
}

void installer_free(struct installer *in)
{
	if (in == NULL)
		return;
	if (!in->finished)
		in->ops->abort(in);
	in->ops->free(in);
}

upk_status installer_check_payload(const struct payload_expect *e, uint64_t got_len,
                                   const uint8_t got_sha256[32], struct upk_error *err)
{
	char want[65], got[65];

	if (e->length != 0 && got_len != e->length)
		return upk_error_set(err, UPK_ERR_HASH, "payload is %llu bytes, expected %llu",
		                     (unsigned long long)got_len, (unsigned long long)e->length);
	/* Not secret, but constant time costs nothing here. */
	if (e->have_sha256 && CRYPTO_memcmp(got_sha256, e->sha256, 32) != 0) {
		upk_hex_encode(got_sha256, 32, got);
		upk_hex_encode(e->sha256, 32, want);
		return upk_error_set(err, UPK_ERR_HASH, "payload sha256 %s, expected %s", got,
		                     want);
	}
	return UPK_OK;
}
