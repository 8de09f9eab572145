/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our client against a repository made by an independent implementation:
 * tests/vectors/tuf-repo, signed by securesystemslib with ed25519, ECDSA and
 * RSA-PSS keys (gen.py there), with a root rotation, a delegated role with
 * a threshold of two key types and real lengths and hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "tu_client.h"

struct ifx {
	char *tmp;
	char client_dir[4200], target_dir[4200], murl[4300], turl[4300];
	struct tu_httpd *h;
};

static int setup(void **state)
{
	struct ifx *x = calloc(1, sizeof(*x));
	struct upk_error e = {0};
	size_t len;
	char *root = tu_read_data("vectors/tuf-repo/metadata/1.root.json", &len);

	x->tmp = tu_mkdtemp();
	snprintf(x->client_dir, sizeof(x->client_dir), "%s/client", x->tmp);
	snprintf(x->target_dir, sizeof(x->target_dir), "%s/targets", x->tmp);
	mkdir(x->client_dir, 0755);
	fx_ok(upk_client_bootstrap(x->client_dir, root, len, &e), &e, "bootstrap");
	free(root);
	x->h = tu_httpd_start(UPK_TEST_DATA "/vectors/tuf-repo");
	assert_non_null(x->h);
	snprintf(x->murl, sizeof(x->murl), "%s/metadata", tu_httpd_url(x->h));
	snprintf(x->turl, sizeof(x->turl), "%s/targets", tu_httpd_url(x->h));
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ifx *x = *state;

	tu_httpd_stop(x->h);
	tu_rmtree(x->tmp);
	free(x->tmp);
	free(x);
	return 0;
}

static void same_as_vector(const char *dir, const char *trusted, const char *vector)
{
	char path[4400];
	size_t a_len, b_len;
	char *a, *b;

	snprintf(path, sizeof(path), "%s/%s", dir, trusted);
	a = tu_read_file(path, &a_len);
	snprintf(path, sizeof(path), "vectors/tuf-repo/metadata/%s", vector);
	b = tu_read_data(path, &b_len);
	assert_non_null(a);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len);
	free(a);
	free(b);
}

static void run(struct ifx *x, const struct upk_fetcher *fetcher, const char *murl,
                const char *turl)
{
	struct upk_client_config cfg = {.metadata_dir = x->client_dir,
	                                .metadata_url = murl,
	                                .target_url = turl,
	                                .fetcher = fetcher};
	const char *names[] = {"images/app-2.0.img", "vendor/fw.bin"};
	const char *content[] = {"firmware image 2.0\n", "vendor firmware\n"};
	struct upk_client *c = NULL;
	struct upk_error e = {0};

	fx_ok(upk_client_new(&cfg, &c, &e), &e, "client");
	fx_ok(upk_client_refresh(c, &e), &e, "refresh");
	assert_int_equal(upk_metadata_version(upk_client_trusted(c, "root")), 2);
	for (size_t i = 0; i < 2; i++) {
		struct upk_client_target *t = NULL;
		char path[4400];
		size_t len;
		char *got;

		fx_ok(upk_client_find_target(c, names[i], &t, &e), &e, names[i]);
		snprintf(path, sizeof(path), "%s/%s", x->target_dir, names[i]);
		fx_ok(upk_client_download_target_to_file(c, t, path, NULL, &e), &e, names[i]);
		got = tu_read_file(path, &len);
		assert_non_null(got);
		assert_string_equal(got, content[i]);
		free(got);
		upk_client_target_free(t);
	}
	/* Outside the vendor paths: no role may list it. */
	{
		struct upk_client_target *t = NULL;

		assert_int_equal(upk_client_find_target(c, "other/x", &t, &e), UPK_ERR_NOT_FOUND);
	}
	upk_client_free(c);
	same_as_vector(x->client_dir, "root.json", "2.root.json");
	same_as_vector(x->client_dir, "timestamp.json", "timestamp.json");
	same_as_vector(x->client_dir, "snapshot.json", "5.snapshot.json");
	same_as_vector(x->client_dir, "targets.json", "3.targets.json");
	same_as_vector(x->client_dir, "vendor.json", "1.vendor.json");
}

static void test_securesystemslib_repository_over_http(void **state)
{
	struct ifx *x = *state;
	struct upk_fetcher *curl = NULL;
	struct upk_error e = {0};

	fx_ok(upk_fetcher_curl_new(NULL, &curl, &e), &e, "curl");
	run(x, curl, x->murl, x->turl);
	/* Refreshing again over the trusted state changes nothing. */
	run(x, curl, x->murl, x->turl);
	upk_fetcher_curl_free(curl);
}

static void test_securesystemslib_repository_from_files(void **state)
{
	struct ifx *x = *state;
	struct upk_fetcher file;

	upk_fetcher_file_init(&file);
	run(x, &file, "file://" UPK_TEST_DATA "/vectors/tuf-repo/metadata",
	    "file://" UPK_TEST_DATA "/vectors/tuf-repo/targets");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_securesystemslib_repository_over_http, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_securesystemslib_repository_from_files, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
