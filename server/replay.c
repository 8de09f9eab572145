/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The replay cache: a chained hash table plus a FIFO in arrival order for
 * expiry. Arrival order is only roughly created order, so pruning stops at
 * the first live entry: an expired entry may linger a little, a live one is
 * never dropped early (that would reopen a replay window). The hash is
 * seeded at random; only requests with a valid signature get here anyway.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "upkeep/crypto.h"

#define NBUCKETS 65536u

struct entry {
	struct entry *next_bucket;
	struct entry *next_fifo;
	int64_t expires;
	uint64_t hash;
	char key[]; /* keyid '\n' nonce */
};

struct replay_cache {
	pthread_mutex_t mu;
	struct entry *buckets[NBUCKETS];
	struct entry *head, *tail;
	size_t count, max;
	int64_t max_age;
	uint64_t seed;
};

static uint64_t fnv(uint64_t seed, const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 0x100000001b3ull;
	h = (h ^ '\n') * 0x100000001b3ull;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 0x100000001b3ull;
	return h;
}

upk_status replay_new(size_t max_entries, int64_t max_age, struct replay_cache **out,
		      struct upk_error *err)
{
	struct replay_cache *rc = calloc(1, sizeof(*rc));
	upk_status ret;

	if (rc == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = upk_random_bytes(&rc->seed, sizeof(rc->seed), err);
	if (ret != UPK_OK) {
		free(rc);
		return ret;
	}
	pthread_mutex_init(&rc->mu, NULL);
	rc->max = max_entries;
	rc->max_age = max_age;
	*out = rc;
	return UPK_OK;
}

void replay_free(struct replay_cache *rc)
{
	struct entry *e, *n;

	if (rc == NULL)
		return;
	for (e = rc->head; e != NULL; e = n) {
		n = e->next_fifo;
		free(e);
	}
	pthread_mutex_destroy(&rc->mu);
	free(rc);
}

static void unlink_bucket(struct replay_cache *rc, struct entry *e)
{
	struct entry **pp = &rc->buckets[e->hash % NBUCKETS];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->next_bucket;
	if (*pp == e)
		*pp = e->next_bucket;
}

static void prune(struct replay_cache *rc, int64_t now)
{
	while (rc->head != NULL && rc->head->expires < now) {
		struct entry *e = rc->head;

		rc->head = e->next_fifo;
		if (rc->head == NULL)
			rc->tail = NULL;
		unlink_bucket(rc, e);
		free(e);
		rc->count--;
	}
}

upk_status replay_check(struct replay_cache *rc, const char *keyid, const char *nonce,
			int64_t created, int64_t now, struct upk_error *err)
{
	uint64_t h = fnv(rc->seed, keyid, nonce);
	size_t kl = strlen(keyid), nl = strlen(nonce);
	struct entry *e;
	upk_status ret = UPK_OK;

	pthread_mutex_lock(&rc->mu);
	prune(rc, now);
	for (e = rc->buckets[h % NBUCKETS]; e != NULL; e = e->next_bucket) {
		if (e->hash == h && strncmp(e->key, keyid, kl) == 0 && e->key[kl] == '\n' &&
		    strcmp(e->key + kl + 1, nonce) == 0) {
			ret = upk_error_set(err, UPK_ERR_EXISTS,
					    "nonce \"%s\" of key %.16s... was used before (replay)",
					    nonce, keyid);
			goto out;
		}
	}
	if (rc->count >= rc->max) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
				    "replay cache full (%zu entries): try again later", rc->max);
		goto out;
	}
	e = malloc(sizeof(*e) + kl + nl + 2);
	if (e == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(e->key, keyid, kl);
	e->key[kl] = '\n';
	memcpy(e->key + kl + 1, nonce, nl + 1);
	e->hash = h;
	/* Until created + max_age the policy would still accept this signature. */
	e->expires = created + rc->max_age;
	e->next_fifo = NULL;
	e->next_bucket = rc->buckets[h % NBUCKETS];
	rc->buckets[h % NBUCKETS] = e;
	if (rc->tail != NULL)
		rc->tail->next_fifo = e;
	else
		rc->head = e;
	rc->tail = e;
	rc->count++;
out:
	pthread_mutex_unlock(&rc->mu);
	return ret;
}

size_t replay_count(struct replay_cache *rc)
{
	size_t n;

	pthread_mutex_lock(&rc->mu);
	n = rc->count;
	pthread_mutex_unlock(&rc->mu);
	return n;
}
