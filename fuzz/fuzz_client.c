/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer over the whole TUF refresh path: a small repository is signed
 * once in memory, then each input replaces one of the files an in-memory
 * fetcher serves (first byte: which one) before a full refresh and a target
 * search. Whatever the bytes, the client must fail cleanly, leak nothing,
 * and never trust what it cannot verify.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upkeep/client.h"

#define N_FILES 6

static const char *const names[N_FILES] = {"timestamp.json", "1.snapshot.json", "1.targets.json",
                                           "1.vendor.json",  "2.root.json",     "snapshot.json"};

struct served {
	char *data[N_FILES];
	size_t len[N_FILES];
	const uint8_t *fuzz;
	size_t fuzz_len;
	int replace;
};

static struct served repo;
static char *root_json;
static size_t root_len;
static char dir[] = "/dev/shm/upk-fuzz-client-XXXXXX";

static upk_status mem_fetch(void *ctx, const char *url, uint64_t max_len, upk_sink_fn sink,
                            void *sink_ctx, struct upk_error *err)
{
	struct served *s = ctx;
	const char *name = strrchr(url, '/') != NULL ? strrchr(url, '/') + 1 : url;

	for (int i = 0; i < N_FILES; i++) {
		const void *data = s->data[i];
		size_t len = s->len[i];

		if (strcmp(name, names[i]) != 0)
			continue;
		if (i == s->replace) {
			data = s->fuzz;
			len = s->fuzz_len;
		}
		if (data == NULL)
			break;
		if (len > max_len)
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s too large", url);
		return len == 0 ? UPK_OK : sink(sink_ctx, data, len, err);
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: not found", url);
}

static struct upk_key *key(uint8_t n)
{
	uint8_t seed[32] = {n};
	struct upk_key *k = NULL;

	upk_key_from_ed25519_seed(seed, &k, NULL);
	return k;
}

static void put(struct upk_metadata *md, struct upk_key *k, int slot)
{
	upk_metadata_sign(md, k, NULL);
	upk_metadata_serialize(md, 0, &repo.data[slot], &repo.len[slot], NULL);
}

static void build(void)
{
	struct upk_key *k[5];
	struct upk_metadata *root, *targets, *vendor, *snapshot, *timestamp;
	const char *roles[] = {"root", "targets", "snapshot", "timestamp"};
	const char *paths[] = {"vendor/*"};
	time_t exp = 4070908800; /* 2099 */
	json_t *h = json_pack("{s:s}", "sha256",
	                      "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");

	for (int i = 0; i < 5; i++)
		k[i] = key((uint8_t)(i + 1));
	upk_metadata_new(UPK_ROLE_ROOT, exp, &root, NULL);
	for (int i = 0; i < 4; i++)
		upk_root_add_key(root, roles[i], k[i], NULL);
	upk_metadata_sign(root, k[0], NULL);
	upk_metadata_serialize(root, 0, &root_json, &root_len, NULL);

	upk_metadata_new(UPK_ROLE_TARGETS, exp, &vendor, NULL);
	upk_targets_set(vendor, "vendor/fw.bin", 3, h, NULL, NULL);
	put(vendor, k[4], 3);
	upk_metadata_new(UPK_ROLE_TARGETS, exp, &targets, NULL);
	upk_targets_set(targets, "app.bin", 3, h, NULL, NULL);
	upk_targets_delegate(targets, "vendor", (const struct upk_key *const *)&k[4], 1, 1, paths,
	                     1, 0, NULL);
	put(targets, k[1], 2);
	upk_metadata_new(UPK_ROLE_SNAPSHOT, exp, &snapshot, NULL);
	upk_meta_set(snapshot, "targets.json", 1, -1, NULL, NULL);
	upk_meta_set(snapshot, "vendor.json", 1, -1, NULL, NULL);
	put(snapshot, k[2], 1);
	upk_metadata_new(UPK_ROLE_TIMESTAMP, exp, &timestamp, NULL);
	upk_meta_set(timestamp, "snapshot.json", 1, -1, NULL, NULL);
	put(timestamp, k[3], 0);
	upk_metadata_free(root);
	upk_metadata_free(targets);
	upk_metadata_free(vendor);
	upk_metadata_free(snapshot);
	upk_metadata_free(timestamp);
	for (int i = 0; i < 5; i++)
		upk_key_free(k[i]);
	json_decref(h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_client: could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	build();
	/* tmpfs when there is one: every input rewrites root.json with fsync. */
	if (mkdtemp(dir) == NULL) {
		memcpy(dir, "/tmp/upk-fuzz-client-XXXXXX", sizeof("/tmp/upk-fuzz-client-XXXXXX"));
		if (mkdtemp(dir) == NULL)
			abort();
	}
	atexit(remove_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upk_fetcher f = {.fetch = mem_fetch, .ctx = &repo};
	struct upk_client_config cfg = {.metadata_dir = dir,
	                                .metadata_url = "mem://m/",
	                                .target_url = "mem://t/",
	                                .fetcher = &f};
	const char *files[] = {"timestamp.json", "snapshot.json", "targets.json", "vendor.json"};
	struct upk_client *c = NULL;
	struct upk_client_target *t = NULL;
	char path[128];

	if (size < 1)
		return 0;
	repo.replace = data[0] % N_FILES;
	repo.fuzz = data + 1;
	repo.fuzz_len = size - 1;
	/* Every input starts from the same trusted state: only the root. */
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	if (upk_client_bootstrap(dir, root_json, root_len, NULL) != UPK_OK)
		abort();
	if (upk_client_new(&cfg, &c, NULL) != UPK_OK)
		abort();
	if (upk_client_refresh(c, NULL) == UPK_OK) {
		upk_client_find_target(c, "vendor/fw.bin", &t, NULL);
		upk_client_target_free(t);
		t = NULL;
		upk_client_find_target(c, "app.bin", &t, NULL);
		upk_client_target_free(t);
	}
	upk_client_free(c);
	return 0;
}
