/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the device identity (agent/identity.c): first start, reload, refusals. */
#include <string.h>
#include <sys/stat.h>

#include "tu_agent.h"
#include "identity.h"

static void test_create_and_reload(void **state)
{
	char *dir = tu_mkdtemp();
	struct identity *a = NULL, *b = NULL;
	struct upk_error err = {0};
	char id[UPK_KEYID_HEX_LEN + 1];
	struct stat st;

	(void)state;
	/* Missing parents are made; the key is 0600 and its key id is the device id. */
	assert_int_equal(identity_load(tu_path(dir, "sub/device.key"), &a, &err),
	                 UPK_ERR_NOT_FOUND);
	assert_int_equal(identity_load_or_create(tu_path(dir, "sub/device.key"), &a, &err), UPK_OK);
	assert_true(a->created);
	assert_int_equal(stat(tu_path(dir, "sub/device.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(tu_path(dir, "sub"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(upk_key_id(a->key, id, &err), UPK_OK);
	assert_string_equal(a->id, id);
	assert_int_equal(strlen(a->id), 64);
	assert_int_equal(upk_key_type(a->key), UPK_KEY_ED25519);
	/* Second start: the same key, nothing generated. */
	assert_int_equal(identity_load_or_create(tu_path(dir, "sub/device.key"), &b, &err), UPK_OK);
	assert_false(b->created);
	assert_string_equal(a->id, b->id);
	/* `openssl pkey` reads it (PKCS#8 PEM). */
	assert_int_equal(tu_system("openssl pkey -in %s -noout", tu_path(dir, "sub/device.key")),
	                 0);
	identity_free(a);
	identity_free(b);
	tu_rmtree(dir);
	free(dir);
}

static void test_refusals(void **state)
{
	char *dir = tu_mkdtemp();
	struct identity *a = NULL;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(identity_load_or_create(tu_path(dir, "k"), &a, &err), UPK_OK);
	identity_free(a);
	a = NULL;
	/* A key others can read is not the device's alone any more. */
	assert_int_equal(chmod(tu_path(dir, "k"), 0644), 0);
	assert_int_equal(identity_load_or_create(tu_path(dir, "k"), &a, &err), UPK_ERR_INVALID);
	assert_null(a);
	assert_non_null(strstr(err.msg, "has mode 0644"));
	/* A public key is not a device key. */
	assert_int_equal(tu_system("openssl pkey -in %s -pubout -out %s", tu_path(dir, "k"),
	                           tu_path(dir, "pub")),
	                 0);
	assert_int_equal(chmod(tu_path(dir, "pub"), 0600), 0);
	assert_int_equal(identity_load(tu_path(dir, "pub"), &a, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "not an Ed25519 private key"));
	/* Garbage is an error, never silently replaced by a new identity. */
	tu_write_file(tu_path(dir, "bad"), "junk", 4);
	assert_int_equal(chmod(tu_path(dir, "bad"), 0600), 0);
	assert_int_not_equal(identity_load_or_create(tu_path(dir, "bad"), &a, &err), UPK_OK);
	assert_null(a);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_and_reload),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
