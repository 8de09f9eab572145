/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetchers and streaming verification: the file and HTTP fetchers enforce
 * their length limit while streaming and report 404 as not found; target
 * checks honour every known hash and ignore unknown algorithms.
 */
#include <stdlib.h>
#include <string.h>

#include "tu_client.h"

static void test_file_fetcher(void **state)
{
	char *dir = tu_mkdtemp();
	char path[4200], url[4300];
	struct upk_fetcher f;
	struct upk_error e = {0};
	char *buf = NULL;
	size_t len;

	(void)state;
	upk_fetcher_file_init(&f);
	snprintf(path, sizeof(path), "%s/a file.json", dir);
	tu_write_file(path, "0123456789", 10);
	snprintf(url, sizeof(url), "file://%s/a%%20file.json", dir);
	fx_ok(upk_fetch_to_buffer(&f, url, 10, &buf, &len, &e), &e, "fetch");
	assert_int_equal(len, 10);
	assert_string_equal(buf, "0123456789");
	free(buf);
	assert_int_equal(upk_fetch_to_buffer(&f, url, 9, &buf, &len, &e), UPK_ERR_TOO_LARGE);
	assert_int_equal(upk_fetch_to_buffer(&f, path, 10, &buf, &len, &e), UPK_OK);
	free(buf);
	snprintf(url, sizeof(url), "file://%s/missing.json", dir);
	assert_int_equal(upk_fetch_to_buffer(&f, url, 10, &buf, &len, &e), UPK_ERR_NOT_FOUND);
	assert_int_equal(upk_fetch_to_buffer(&f, "file:///x%00y", 10, &buf, &len, &e),
	                 UPK_ERR_INVALID);
	tu_rmtree(dir);
	free(dir);
}

static void test_curl_fetcher(void **state)
{
	char *dir = tu_mkdtemp();
	struct tu_httpd *h = tu_httpd_start(dir);
	struct upk_fetcher *f = NULL;
	struct upk_error e = {0};
	char path[4200], url[300];
	char *buf = NULL;
	size_t len;

	(void)state;
	assert_non_null(h);
	fx_ok(upk_fetcher_curl_new(NULL, &f, &e), &e, "curl");
	snprintf(path, sizeof(path), "%s/ten", dir);
	tu_write_file(path, "0123456789", 10);
	snprintf(url, sizeof(url), "%s/ten", tu_httpd_url(h));
	fx_ok(upk_fetch_to_buffer(f, url, 10, &buf, &len, &e), &e, "fetch");
	assert_int_equal(len, 10);
	free(buf);
	/* Content-Length over the limit: refused before the body. */
	assert_int_equal(upk_fetch_to_buffer(f, url, 9, &buf, &len, &e), UPK_ERR_TOO_LARGE);
	/* No length at all, and no end: refused once the limit is passed. */
	tu_httpd_set(h, "/ten", TU_HTTPD_ENDLESS, NULL, 0);
	assert_int_equal(upk_fetch_to_buffer(f, url, 1000000, &buf, &len, &e), UPK_ERR_TOO_LARGE);
	snprintf(url, sizeof(url), "%s/none", tu_httpd_url(h));
	assert_int_equal(upk_fetch_to_buffer(f, url, 10, &buf, &len, &e), UPK_ERR_NOT_FOUND);
	/* Only http and https. */
	assert_int_equal(upk_fetch_to_buffer(f, "file:///etc/passwd", 10000, &buf, &len, &e),
	                 UPK_ERR_IO);
	/* Nobody listening. */
	assert_int_equal(upk_fetch_to_buffer(f, "http://127.0.0.1:1/x", 10, &buf, &len, &e),
	                 UPK_ERR_IO);
	upk_fetcher_curl_free(f);
	tu_httpd_stop(h);
	tu_rmtree(dir);
	free(dir);
}

static json_t *hashes_of(const char *data, int with_512)
{
	uint8_t d[UPK_HASH_MAX_LEN];
	char hex[129];
	json_t *h = json_object();

	upk_hash_buf(UPK_HASH_SHA256, data, strlen(data), d, NULL);
	upk_hex_encode(d, 32, hex);
	json_object_set_new(h, "sha256", json_string(hex));
	if (with_512) {
		upk_hash_buf(UPK_HASH_SHA512, data, strlen(data), d, NULL);
		upk_hex_encode(d, 64, hex);
		json_object_set_new(h, "sha512", json_string(hex));
	}
	return h;
}

static upk_status check(const char *data, int64_t length, const json_t *hashes)
{
	struct upk_target_check *tc = NULL;
	upk_status ret = upk_target_check_new("t", length, hashes, &tc, NULL);

	/* In two pieces, as a stream would deliver it. */
	if (ret == UPK_OK)
		ret = upk_target_check_update(tc, data, strlen(data) / 2, NULL);
	if (ret == UPK_OK)
		ret = upk_target_check_update(tc, data + strlen(data) / 2,
		                              strlen(data) - strlen(data) / 2, NULL);
	if (ret == UPK_OK)
		ret = upk_target_check_final(tc, NULL);
	upk_target_check_free(tc);
	return ret;
}

static void test_target_check(void **state)
{
	json_t *h = hashes_of("payload", 1);
	json_t *other = hashes_of("PAYLOAD", 1);
	json_t *mixed, *unknown;

	(void)state;
	assert_int_equal(check("payload", 7, h), UPK_OK);
	assert_int_equal(check("payloaX", 7, h), UPK_ERR_HASH);
	assert_int_equal(check("payloa", 7, h), UPK_ERR_HASH);
	assert_int_equal(check("payload!", 7, h), UPK_ERR_TOO_LARGE);
	/* sha256 right but sha512 wrong: every known hash must match. */
	mixed = json_deep_copy(h);
	json_object_set(mixed, "sha512", json_object_get(other, "sha512"));
	assert_int_equal(check("payload", 7, mixed), UPK_ERR_HASH);
	/* Unknown algorithms are ignored ... */
	json_object_set(mixed, "sha512", json_object_get(h, "sha512"));
	json_object_set_new(mixed, "blake2b-256", json_string("zz"));
	assert_int_equal(check("payload", 7, mixed), UPK_OK);
	/* ... but one known hash is required. */
	unknown = json_pack("{s:s}", "md5", "00");
	assert_int_equal(check("payload", 7, unknown), UPK_ERR_UNSUPPORTED);
	json_decref(h);
	json_decref(other);
	json_decref(mixed);
	json_decref(unknown);
}

static void test_target_check_file(void **state)
{
	char *dir = tu_mkdtemp();
	char path[4200];
	json_t *h = hashes_of("cached\n", 0);

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(upk_target_check_file(path, 7, h, NULL), UPK_ERR_NOT_FOUND);
	tu_write_file(path, "cached\n", 7);
	assert_int_equal(upk_target_check_file(path, 7, h, NULL), UPK_OK);
	tu_write_file(path, "cached\nmore", 11);
	assert_int_equal(upk_target_check_file(path, 7, h, NULL), UPK_ERR_HASH);
	json_decref(h);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_fetcher),
	    cmocka_unit_test(test_curl_fetcher),
	    cmocka_unit_test(test_target_check),
	    cmocka_unit_test(test_target_check_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
