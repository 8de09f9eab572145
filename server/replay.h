/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nonce cache that stops replayed request signatures: (keyid, nonce)
 * pairs remembered in memory until the signature's created time is too old
 * for the policy to accept anyway. Bounded: when full, requests are refused
 * (fail closed) rather than old entries evicted early.
 */
#ifndef UPK_SERVER_REPLAY_H
#define UPK_SERVER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

struct replay_cache;

/* max_age: seconds a created time stays acceptable (an entry lives created + max_age). */
upk_status replay_new(size_t max_entries, int64_t max_age, struct replay_cache **out,
		      struct upk_error *err);
void replay_free(struct replay_cache *rc);

/*
 * Remember (keyid, nonce). UPK_ERR_EXISTS when it was seen and has not
 * expired (a replay), UPK_ERR_TOO_LARGE when the cache is full. Thread-safe.
 */
upk_status replay_check(struct replay_cache *rc, const char *keyid, const char *nonce,
			int64_t created, int64_t now, struct upk_error *err);
size_t replay_count(struct replay_cache *rc);

#endif
