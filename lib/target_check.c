/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifying bytes against the length and hashes that signed metadata gives
 * for them, while they stream: every known hash is computed in one pass, so
 * a target is read once whatever its size, and too many bytes are refused
 * the moment they arrive.
 */
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "upkeep/client.h"
#include "upkeep/crypto.h"

#define MAX_ALGS 2 /* sha256, sha512: one context each at most */

struct upk_target_check {
	char what[256];
	int64_t length;
	int64_t seen;
	size_t n;
	struct {
		enum upk_hash_alg alg;
		struct upk_hash *h;
		uint8_t want[UPK_HASH_MAX_LEN];
	} algs[MAX_ALGS];
};

void upk_target_check_free(struct upk_target_check *tc)
{
	if (tc == NULL)
		return;
	for (size_t i = 0; i < tc->n; i++)
		upk_hash_free(tc->algs[i].h);
	free(tc);
}

upk_status upk_target_check_new(const char *what, int64_t length, const json_t *hashes,
                                struct upk_target_check **out, struct upk_error *err)
{
	struct upk_target_check *tc;
	const char *name;
	const json_t *v;
	upk_status ret;

	if (length < 0)
		return upk_error_set(err, UPK_ERR_INVALID, "%s: negative length", what);
	if (!json_is_object(hashes))
		return upk_error_set(err, UPK_ERR_INVALID, "%s: no hashes", what);
	tc = calloc(1, sizeof(*tc));
	if (tc == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	snprintf(tc->what, sizeof(tc->what), "%s", what);
	tc->length = length;
	json_object_foreach((json_t *)hashes, name, v)
	{
		enum upk_hash_alg alg;
		const char *hex = json_string_value(v);
		int dup = 0;

		/* The spec: algorithms a client does not know are ignored. */
		if (upk_hash_alg_from_name(name, &alg, NULL) != UPK_OK)
			continue;
		for (size_t i = 0; i < tc->n; i++)
			dup |= tc->algs[i].alg == alg;
		if (dup || tc->n == MAX_ALGS)
			continue;
		if (hex == NULL || strlen(hex) != 2 * upk_hash_alg_len(alg) ||
		    upk_hex_decode(hex, tc->algs[tc->n].want, upk_hash_alg_len(alg), NULL) !=
		        UPK_OK) {
			ret = upk_error_set(err, UPK_ERR_INVALID, "%s: malformed %s hash", what,
			                    name);
			goto fail;
		}
		tc->algs[tc->n].alg = alg;
		ret = upk_hash_new(alg, &tc->algs[tc->n].h, err);
		if (ret != UPK_OK)
			goto fail;
		tc->n++;
	}
	if (tc->n == 0) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
		                    "%s: no sha256 or sha512 hash listed, cannot verify it", what);
		goto fail;
	}
	*out = tc;
	return UPK_OK;
fail:
	upk_target_check_free(tc);
	return ret;
}

upk_status upk_target_check_update(struct upk_target_check *tc, const void *data, size_t len,
                                   struct upk_error *err)
{
	upk_status ret;

	if ((uint64_t)len > (uint64_t)(tc->length - tc->seen))
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "%s: more than the %" PRId64 " bytes its metadata lists",
		                     tc->what, tc->length);
	tc->seen += (int64_t)len;
	for (size_t i = 0; i < tc->n; i++) {
		ret = upk_hash_update(tc->algs[i].h, data, len, err);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

upk_status upk_target_check_final(struct upk_target_check *tc, struct upk_error *err)
{
	upk_status ret;

	if (tc->seen != tc->length)
		return upk_error_set(err, UPK_ERR_HASH,
		                     "%s: %" PRId64 " bytes, metadata lists %" PRId64, tc->what,
		                     tc->seen, tc->length);
	for (size_t i = 0; i < tc->n; i++) {
		uint8_t got[UPK_HASH_MAX_LEN];
		size_t n = upk_hash_alg_len(tc->algs[i].alg);

		ret = upk_hash_final(tc->algs[i].h, got, err);
		if (ret != UPK_OK)
			return ret;
		if (CRYPTO_memcmp(got, tc->algs[i].want, n) != 0) {
			char hex[2 * UPK_HASH_MAX_LEN + 1];

			upk_hex_encode(got, n, hex);
			return upk_error_set(err, UPK_ERR_HASH,
			                     "%s: %s %s does not match its metadata", tc->what,
			                     upk_hash_alg_name(tc->algs[i].alg), hex);
		}
	}
	return UPK_OK;
}

upk_status upk_target_check_file(const char *path, int64_t length, const json_t *hashes,
                                 struct upk_error *err)
{
	struct upk_target_check *tc = NULL;
	char block[65536];
	upk_status ret;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: no such file", path);
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
	}
	ret = upk_target_check_new(path, length, hashes, &tc, err);
	while (ret == UPK_OK) {
		ssize_t r = read(fd, block, sizeof(block));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "%s: %s", path, strerror(errno));
			break;
		}
		if (r == 0) {
			ret = upk_target_check_final(tc, err);
			break;
		}
		ret = upk_target_check_update(tc, block, (size_t)r, err);
		/* A longer file is simply not the target. */
		if (ret == UPK_ERR_TOO_LARGE)
			ret = UPK_ERR_HASH;
	}
	upk_target_check_free(tc);
	close(fd);
	return ret;
}
