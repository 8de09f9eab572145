/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files: modes whatever the umask, refusal to overwrite, bounded reads,
 * passphrases, and that `openssl pkey` reads what we write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "upkeep/crypto.h"

struct fixture {
	char *dir;
	struct upk_key *key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->dir = tu_mkdtemp();
	if (upk_key_generate_ed25519(&f->key, NULL) != UPK_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f->dir);
	upk_key_free(f->key);
	free(f);
	return 0;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_private_plain(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct upk_key *back = NULL;
	struct upk_error err = {0};
	mode_t old;

	snprintf(path, sizeof(path), "%s/plain.key", f->dir);
	/* A permissive umask must not widen the mode. */
	old = umask(0);
	assert_int_equal(upk_keyfile_write_private(path, f->key, NULL, &err), UPK_OK);
	umask(old);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(tu_system("openssl pkey -in '%s' -noout 2>/dev/null", path), 0);
	assert_int_equal(upk_keyfile_read(path, NULL, &back, &err), UPK_OK);
	assert_true(upk_key_has_private(back));
	assert_true(upk_key_equal_public(back, f->key));
	upk_key_free(back);
}

static void test_private_encrypted(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct upk_key *back = NULL;
	struct upk_error err = {0};
	char *text;

	snprintf(path, sizeof(path), "%s/enc.key", f->dir);
	assert_int_equal(upk_keyfile_write_private(path, f->key, "pass phrase", &err), UPK_OK);
	assert_int_equal(file_mode(path), 0600);
	text = tu_read_file(path, NULL);
	assert_non_null(strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	free(text);
	/* openssl decrypts it with the passphrase, and refuses a wrong one. */
	assert_int_equal(tu_system("openssl pkey -in '%s' -passin 'pass:pass phrase' -noout "
				   "2>/dev/null",
				   path),
			 0);
	assert_int_not_equal(tu_system("openssl pkey -in '%s' -passin pass:wrong -noout "
				       "2>/dev/null",
				       path),
			     0);
	/* AES-256-CBC, as promised. */
	assert_int_equal(tu_system("openssl asn1parse -in '%s' 2>/dev/null | grep -q aes-256-cbc",
				   path),
			 0);
	assert_int_equal(upk_keyfile_read(path, "pass phrase", &back, &err), UPK_OK);
	assert_true(upk_key_equal_public(back, f->key));
	upk_key_free(back);
	back = NULL;
	assert_int_equal(upk_keyfile_read(path, "wrong", &back, &err), UPK_ERR_PASSPHRASE);
	assert_non_null(strstr(err.msg, path));
	/* No passphrase: an error, never a prompt (no password callback reaches OpenSSL). */
	assert_int_equal(upk_keyfile_read(path, NULL, &back, &err), UPK_ERR_PASSPHRASE);
	assert_null(back);
}

static void test_public(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct upk_key *back = NULL;
	struct upk_error err = {0};
	mode_t old;

	snprintf(path, sizeof(path), "%s/key.pub", f->dir);
	old = umask(077);
	assert_int_equal(upk_keyfile_write_public(path, f->key, &err), UPK_OK);
	umask(old);
	assert_int_equal(file_mode(path), 0644);
	assert_int_equal(tu_system("openssl pkey -pubin -in '%s' -noout 2>/dev/null", path), 0);
	assert_int_equal(upk_keyfile_read(path, "ignored", &back, &err), UPK_OK);
	assert_false(upk_key_has_private(back));
	assert_true(upk_key_equal_public(back, f->key));
	upk_key_free(back);
}

static void test_no_overwrite(void **state)
{
	struct fixture *f = *state;
	char path[4096], link[4096], target[4096];
	struct upk_error err = {0};
	char *text;

	snprintf(path, sizeof(path), "%s/existing", f->dir);
	tu_write_file(path, "keep me", 7);
	assert_int_equal(upk_keyfile_write_private(path, f->key, NULL, &err), UPK_ERR_EXISTS);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(upk_keyfile_write_public(path, f->key, &err), UPK_ERR_EXISTS);
	text = tu_read_file(path, NULL);
	assert_string_equal(text, "keep me");
	free(text);

	/* A dangling symlink is not followed to create its target. */
	snprintf(link, sizeof(link), "%s/link", f->dir);
	snprintf(target, sizeof(target), "%s/target", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(upk_keyfile_write_private(link, f->key, NULL, &err), UPK_ERR_EXISTS);
	assert_int_not_equal(access(target, F_OK), 0);

	snprintf(path, sizeof(path), "%s/no/such/dir/key", f->dir);
	assert_int_equal(upk_keyfile_write_private(path, f->key, NULL, &err), UPK_ERR_IO);
	assert_int_equal(upk_keyfile_write_public(path, f->key, &err), UPK_ERR_IO);
}

static void test_read_rejects(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct upk_key *key = NULL;
	struct upk_error err = {0};
	char *big;

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(upk_keyfile_read(f->dir, NULL, &key, &err), UPK_ERR_INVALID);

	snprintf(path, sizeof(path), "%s/garbage", f->dir);
	tu_write_file(path, "not a key\n", 10);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_ERR_INVALID);

	snprintf(path, sizeof(path), "%s/empty", f->dir);
	tu_write_file(path, "", 0);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_ERR_INVALID);

	/* 64 KiB is the most a key file may have; one byte more is refused unread. */
	big = malloc(64 * 1024 + 1);
	assert_non_null(big);
	memset(big, '\n', 64 * 1024 + 1);
	snprintf(path, sizeof(path), "%s/big", f->dir);
	tu_write_file(path, big, 64 * 1024 + 1);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_ERR_TOO_LARGE);
	snprintf(path, sizeof(path), "%s/just-fits", f->dir);
	tu_write_file(path, big, 64 * 1024);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_ERR_INVALID);
	free(big);
	assert_null(key);
}

static void test_openssl_generated_file(void **state)
{
	struct fixture *f = *state;
	char path[4096];
	struct upk_key *key = NULL;
	struct upk_error err = {0};

	snprintf(path, sizeof(path), "%s/openssl.pem", f->dir);
	assert_int_equal(tu_system("openssl genpkey -algorithm ed25519 -out '%s' 2>/dev/null", path),
			 0);
	assert_int_equal(upk_keyfile_read(path, NULL, &key, &err), UPK_OK);
	assert_int_equal(upk_key_type(key), UPK_KEY_ED25519);
	assert_true(upk_key_has_private(key));
	upk_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_private_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_encrypted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openssl_generated_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
