/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's request key cache: a hit only for the same key id and an
 * equal key object, the same refusals as parsing, an entry replaced while
 * a request still uses it stays valid until released, and many threads
 * getting and replacing one slot (run under ASan in make check).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key_cache.h"
#include "testutil.h"

#define OK(x) assert_int_equal((x), UPK_OK)

struct fx {
	struct upk_key *priv;
	char id[UPK_KEYID_HEX_LEN + 1];
	json_t *obj;
	uint8_t *sig;
	size_t sig_len;
};

static const char MSG[] = "\"@method\": POST";

static void fx_init(struct fx *f)
{
	OK(upk_key_generate_ed25519(&f->priv, NULL));
	OK(upk_key_id(f->priv, f->id, NULL));
	OK(upk_key_to_tuf(f->priv, &f->obj, NULL));
	OK(upk_key_sign(f->priv, MSG, strlen(MSG), &f->sig, &f->sig_len, NULL));
}

static void fx_clear(struct fx *f)
{
	upk_key_free(f->priv);
	json_decref(f->obj);
	free(f->sig);
}

/* The key of ref verifies what the private key signed, and nothing else. */
static void assert_verifies(const struct fx *f, const struct key_ref *ref)
{
	uint8_t bad[64];

	OK(upk_key_verify(key_ref_key(ref), MSG, strlen(MSG), f->sig, f->sig_len, NULL));
	memcpy(bad, f->sig, sizeof(bad));
	bad[0] ^= 1;
	assert_int_equal(upk_key_verify(key_ref_key(ref), MSG, strlen(MSG), bad, sizeof(bad), NULL),
			 UPK_ERR_SIGNATURE);
}

static void test_hit_needs_equal_object(void **state)
{
	struct key_cache *kc = NULL;
	struct key_ref *a = NULL, *b = NULL, *c = NULL;
	struct fx f;
	json_t *copy, *other;

	(void)state;
	fx_init(&f);
	OK(key_cache_new(&kc, NULL));
	OK(key_cache_get(kc, f.obj, f.id, &a, NULL));
	assert_verifies(&f, a);
	assert_true(json_equal(key_ref_tuf(a), f.obj));
	/* An equal object built apart (as each database row is) hits. */
	copy = json_deep_copy(f.obj);
	OK(key_cache_get(kc, copy, f.id, &b, NULL));
	assert_ptr_equal(a, b);
	/* The same public key in an object that differs at all is parsed again. */
	other = json_deep_copy(f.obj);
	json_object_set_new(other, "keyid_hash_algorithms", json_pack("[s]", "sha256"));
	OK(key_cache_get(kc, other, f.id, &c, NULL));
	assert_ptr_not_equal(a, c);
	assert_verifies(&f, c);
	/* a was replaced in its slot while in use: still whole until released. */
	assert_verifies(&f, a);
	key_ref_release(kc, a);
	key_ref_release(kc, b);
	key_ref_release(kc, c);
	json_decref(copy);
	json_decref(other);
	key_cache_free(kc);
	fx_clear(&f);
}

static void test_refusals_like_parsing(void **state)
{
	struct key_cache *kc = NULL;
	struct key_ref *r = NULL;
	struct upk_error err = {0};
	struct fx f, g;
	json_t *bad;

	(void)state;
	fx_init(&f);
	fx_init(&g);
	OK(key_cache_new(&kc, NULL));
	/* Another key's id: refused, and not cached under that id. */
	assert_int_equal(key_cache_get(kc, g.obj, f.id, &r, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "is not the id of the key given"));
	assert_null(r);
	assert_int_equal(key_cache_get(kc, g.obj, f.id, &r, &err), UPK_ERR_NOT_FOUND);
	/* After a good lookup, the wrong key under the same id is still refused. */
	OK(key_cache_get(kc, f.obj, f.id, &r, NULL));
	key_ref_release(kc, r);
	r = NULL;
	assert_int_equal(key_cache_get(kc, g.obj, f.id, &r, &err), UPK_ERR_NOT_FOUND);
	/* Malformed and non-ed25519 objects: the parser's refusals. */
	bad = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519", "keyval",
			"public", "xyz");
	assert_int_equal(key_cache_get(kc, bad, f.id, &r, &err), UPK_ERR_INVALID);
	json_decref(bad);
	bad = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "rsa", "scheme", "ed25519", "keyval",
			"public", "x");
	assert_int_not_equal(key_cache_get(kc, bad, f.id, &r, &err), UPK_OK);
	json_decref(bad);
	assert_null(r);
	key_cache_free(kc);
	fx_clear(&f);
	fx_clear(&g);
}

struct worker {
	struct key_cache *kc;
	const struct fx *f;
	json_t *objs[2];
	int failures;
};

static void *churn(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 400; i++) {
		struct key_ref *r = NULL;

		/* Alternating objects for one id replace the slot's entry again and again. */
		if (key_cache_get(w->kc, w->objs[i % 2], w->f->id, &r, NULL) != UPK_OK ||
		    upk_key_verify(key_ref_key(r), MSG, strlen(MSG), w->f->sig, w->f->sig_len,
				   NULL) != UPK_OK)
			w->failures++;
		key_ref_release(w->kc, r);
	}
	return NULL;
}

static void test_threads_replacing_one_slot(void **state)
{
	struct key_cache *kc = NULL;
	struct worker w[4];
	pthread_t th[4];
	struct fx f;
	json_t *other;

	(void)state;
	fx_init(&f);
	OK(key_cache_new(&kc, NULL));
	other = json_deep_copy(f.obj);
	json_object_set_new(other, "x", json_true());
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){kc, &f, {f.obj, other}, 0};
		assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	json_decref(other);
	key_cache_free(kc);
	fx_clear(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_needs_equal_object),
		cmocka_unit_test(test_refusals_like_parsing),
		cmocka_unit_test(test_threads_replacing_one_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
