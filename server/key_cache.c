/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request key cache (key_cache.h): a direct-mapped table of reference-
 * counted entries under one mutex, held only to look up and count. A hit
 * needs the same key id and a key object equal (json_equal) to the one the
 * entry was parsed from, so a hit gives exactly what parsing would give.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_cache.h"

/*
 * Slots (a power of two). An entry (OpenSSL key, two small JSON objects)
 * takes about 1.5 KiB, so the cache stays under 25 MiB; a fleet with more
 * devices checking in than slots hits less often, and each miss costs one
 * parse (about 4 % of a check-in), no more than without the cache.
 */
#define KEY_CACHE_SLOTS 16384u

struct key_ref {
	unsigned refs; /* under the cache's mutex; the table's own slot counts as one */
	char keyid[UPK_KEYID_HEX_LEN + 1];
	json_t *source; /* the key object the key was parsed from */
	json_t *tuf;
	struct upk_key *key;
};

struct key_cache {
	pthread_mutex_t mu;
	struct key_ref *slot[KEY_CACHE_SLOTS];
};

upk_status key_parse_with_id(const json_t *obj, const char *keyid, struct upk_key **out,
			     struct upk_error *err)
{
	char id[UPK_KEYID_HEX_LEN + 1];
	struct upk_key *key = NULL;
	upk_status ret = upk_key_from_tuf(obj, &key, err);

	if (ret != UPK_OK)
		return ret;
	ret = upk_key_id(key, id, err);
	if (ret == UPK_OK && upk_key_type(key) != UPK_KEY_ED25519)
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED, "request keys must be ed25519");
	if (ret == UPK_OK && strcmp(id, keyid) != 0)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "keyid %s is not the id of the key given",
				    keyid);
	if (ret != UPK_OK) {
		upk_key_free(key);
		return ret;
	}
	*out = key;
	return UPK_OK;
}

upk_status key_cache_new(struct key_cache **out, struct upk_error *err)
{
	struct key_cache *kc = calloc(1, sizeof(*kc));

	if (kc == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&kc->mu, NULL);
	*out = kc;
	return UPK_OK;
}

static void ref_free(struct key_ref *ref)
{
	json_decref(ref->source);
	json_decref(ref->tuf);
	upk_key_free(ref->key);
	free(ref);
}

void key_cache_free(struct key_cache *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
		if (kc->slot[i] != NULL)
			ref_free(kc->slot[i]); /* no request runs any more: no other reference */
	pthread_mutex_destroy(&kc->mu);
	free(kc);
}

static size_t slot_of(const char *keyid)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *keyid != '\0'; keyid++)
		h = (h ^ (unsigned char)*keyid) * 0x100000001b3ull;
	return (size_t)(h & (KEY_CACHE_SLOTS - 1));
}

/* A new entry for obj, with one reference for the caller. */
static upk_status ref_new(const json_t *obj, const char *keyid, struct key_ref **out,
			  struct upk_error *err)
{
	struct key_ref *ref = calloc(1, sizeof(*ref));
	upk_status ret;

	if (ref == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ref->refs = 1;
	snprintf(ref->keyid, sizeof(ref->keyid), "%s", keyid);
	ret = key_parse_with_id(obj, keyid, &ref->key, err);
	if (ret == UPK_OK)
		ret = upk_key_to_tuf(ref->key, &ref->tuf, err);
	/* A copy: the caller's object is a row that it will change or free. */
	if (ret == UPK_OK && (ref->source = json_deep_copy(obj)) == NULL)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (ret != UPK_OK) {
		ref_free(ref);
		return ret;
	}
	*out = ref;
	return UPK_OK;
}

upk_status key_cache_get(struct key_cache *kc, const json_t *obj, const char *keyid,
			 struct key_ref **out, struct upk_error *err)
{
	size_t i = slot_of(keyid);
	struct key_ref *ref, *old = NULL;
	upk_status ret;

	pthread_mutex_lock(&kc->mu);
	ref = kc->slot[i];
	if (ref != NULL && strcmp(ref->keyid, keyid) == 0 && json_equal(ref->source, obj)) {
		ref->refs++;
		pthread_mutex_unlock(&kc->mu);
		*out = ref;
		return UPK_OK;
	}
	pthread_mutex_unlock(&kc->mu);
	/* Parse outside the lock: it is the slow part. */
	ret = ref_new(obj, keyid, &ref, err);
	if (ret != UPK_OK)
		return ret;
	pthread_mutex_lock(&kc->mu);
	old = kc->slot[i];
	kc->slot[i] = ref;
	ref->refs++; /* the slot's */
	if (old != NULL && --old->refs > 0)
		old = NULL; /* still in use: its last user frees it */
	pthread_mutex_unlock(&kc->mu);
	if (old != NULL)
		ref_free(old);
	*out = ref;
	return UPK_OK;
}

const struct upk_key *key_ref_key(const struct key_ref *ref)
{
	return ref->key;
}

json_t *key_ref_tuf(const struct key_ref *ref)
{
	return ref->tuf;
}

void key_ref_release(struct key_cache *kc, struct key_ref *ref)
{
	int last;

	if (ref == NULL)
		return;
	pthread_mutex_lock(&kc->mu);
	last = --ref->refs == 0;
	pthread_mutex_unlock(&kc->mu);
	if (last)
		ref_free(ref);
}
