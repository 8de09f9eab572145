/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsed request keys, kept between requests: turning a stored TUF key
 * object into an OpenSSL key and checking its key id costs more than the
 * rest of a check-in but the signature check itself. Entries are found by
 * key id and used only when the stored key object names the very same
 * public key, so the database stays the only authority: a changed key or
 * a removed device is seen at once, nothing needs invalidating. Bounded:
 * a fixed number of slots, a newcomer replaces the entry in its slot.
 */
#ifndef UPK_SERVER_KEY_CACHE_H
#define UPK_SERVER_KEY_CACHE_H

#include <jansson.h>

#include "upkeep/crypto.h"

struct key_cache;

/* A key in use: valid until key_ref_release, even if evicted meanwhile. */
struct key_ref;

upk_status key_cache_new(struct key_cache **out, struct upk_error *err);
void key_cache_free(struct key_cache *kc);

/*
 * The ed25519 key of the TUF key object obj, whose key id must be keyid:
 * from the cache, or parsed, checked and added. *tuf (borrowed from the
 * reference, read-only) is the key object as upk_key_to_tuf makes it.
 */
upk_status key_cache_get(struct key_cache *kc, const json_t *obj, const char *keyid,
			 struct key_ref **out, struct upk_error *err);
const struct upk_key *key_ref_key(const struct key_ref *ref);
json_t *key_ref_tuf(const struct key_ref *ref);
void key_ref_release(struct key_cache *kc, struct key_ref *ref);

/* Parse obj into a new key whose id must be keyid (ed25519 only); no cache. */
upk_status key_parse_with_id(const json_t *obj, const char *keyid, struct upk_key **out,
			     struct upk_error *err);

#endif
