/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TUF client workflow end to end over loopback HTTP: a simulated
 * repository publishes, rotates keys and is attacked in each way the TUF
 * specification lists; the client must refuse every attack with the right
 * status and keep what it already trusted.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tu_client.h"

/* ---- helpers ---- */

static void expect_refresh(struct fx *f, upk_status want, const char *substr)
{
	struct upk_error e = {0};
	upk_status got = fx_refresh(f, &e);

	if (got != want)
		fail_msg("refresh: expected %s, got %s: %s", upk_status_str(want),
		         upk_status_str(got), e.msg);
	if (substr != NULL && strstr(e.msg, substr) == NULL)
		fail_msg("refresh: message \"%s\" lacks \"%s\"", e.msg, substr);
}

static void expect_get(struct fx *f, const char *path, upk_status want, const char *substr)
{
	struct upk_error e = {0};
	upk_status got = fx_get(f, path, &e);

	if (got != want)
		fail_msg("get %s: expected %s, got %s: %s", path, upk_status_str(want),
		         upk_status_str(got), e.msg);
	if (substr != NULL && strstr(e.msg, substr) == NULL)
		fail_msg("get %s: message \"%s\" lacks \"%s\"", path, e.msg, substr);
}

static int64_t trusted_version(struct fx *f, const char *file)
{
	struct upk_metadata *md = NULL;
	size_t len;
	char *buf = fx_trusted(f, file, &len);
	int64_t v;

	if (buf == NULL)
		return 0;
	assert_int_equal(upk_metadata_parse(buf, len, UPK_ROLE_ANY, NULL, &md, NULL), UPK_OK);
	v = upk_metadata_version(md);
	upk_metadata_free(md);
	free(buf);
	return v;
}

static void assert_same_file(struct fx *f, const char *trusted, const char *served)
{
	size_t a_len, b_len;
	char *a = fx_trusted(f, trusted, &a_len);
	char *b = fx_served(f, served, &b_len);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len);
	free(a);
	free(b);
}

/* Make a role sign with a key the repository's root never listed. */
static void sign_with_stranger(struct fx *f, const char *role)
{
	struct tu_role *r = tu_repo_role(f->repo, role);

	upk_key_free(r->keys[0]);
	r->keys[0] = tu_repo_key(f->repo);
}

static void set_version(struct fx *f, const char *role, int64_t v)
{
	struct upk_error e = {0};

	fx_ok(upk_metadata_set_version(tu_repo_role(f->repo, role)->md, v, &e), &e, "version");
	fx_ok(tu_repo_write_role(f->repo, role, &e), &e, "write role");
}

static void rotate(struct fx *f, const char *role, size_t n, unsigned threshold)
{
	struct upk_error e = {0};

	fx_ok(tu_repo_rotate(f->repo, role, n, threshold, &e), &e, "rotate");
}

static void delegate(struct fx *f, const char *parent, const char *name, const char *path,
                     int terminating)
{
	struct upk_error e = {0};
	const char *paths[] = {path};

	fx_ok(tu_repo_delegate(f->repo, parent, name, paths, 1, terminating, 1, 1, &e), &e,
	      "delegate");
}

static void *setup(void **state)
{
	struct fx *f = fx_new(1);

	fx_add(f, "targets", "app/fw.bin", "firmware 1.0\n");
	fx_publish(f);
	*state = f;
	return f;
}

static int setup_fx(void **state)
{
	setup(state);
	return 0;
}

static int teardown_fx(void **state)
{
	fx_free(*state);
	return 0;
}

/* ---- the normal path ---- */

static void test_refresh_persists_verified_bytes(void **state)
{
	struct fx *f = *state;
	char path[4400];
	size_t len;
	char *data;

	expect_refresh(f, UPK_OK, NULL);
	/* Unversioned names, byte-identical to what was served and verified. */
	assert_same_file(f, "root.json", "1.root.json");
	assert_same_file(f, "timestamp.json", "timestamp.json");
	assert_same_file(f, "snapshot.json", "2.snapshot.json");
	assert_same_file(f, "targets.json", "2.targets.json");
	/* Consistent snapshots: versioned metadata names, hash-prefixed targets. */
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/2.snapshot.json"), 1);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/2.targets.json"), 1);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/snapshot.json"), 0);

	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	snprintf(path, sizeof(path), "%s/app/fw.bin", f->target_dir);
	data = tu_read_file(path, &len);
	assert_non_null(data);
	assert_string_equal(data, "firmware 1.0\n");
	free(data);
	assert_int_equal(tu_httpd_count(f->httpd, "/targets/app/fw.bin"), 0);
}

static void test_unchanged_repository_costs_one_timestamp(void **state)
{
	struct fx *f = *state;

	expect_refresh(f, UPK_OK, NULL);
	tu_httpd_reset_counts(f->httpd);
	expect_refresh(f, UPK_OK, NULL);
	/* 2.root.json (absent) and timestamp.json; snapshot and targets come from the store. */
	assert_int_equal(tu_httpd_count(f->httpd, NULL), 2);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/timestamp.json"), 1);
}

static void test_cached_target_not_downloaded_again(void **state)
{
	struct fx *f = *state;
	unsigned before;

	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	before = tu_httpd_count(f->httpd, NULL);
	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	/* Only root probe and timestamp this time: no target request. */
	assert_int_equal(tu_httpd_count(f->httpd, NULL) - before, 2);
	/* A changed file on disk is fetched again. */
	{
		char path[4400];

		snprintf(path, sizeof(path), "%s/app/fw.bin", f->target_dir);
		tu_write_file(path, "tampered\n", 9);
	}
	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	assert_int_equal(tu_httpd_count(f->httpd, NULL) - before, 5);
}

static void test_plain_snapshots_use_unversioned_names(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	fx_add(f, "targets", "a.txt", "plain\n");
	fx_publish(f);
	expect_get(f, "a.txt", UPK_OK, NULL);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/snapshot.json"), 1);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/targets.json"), 1);
	assert_int_equal(tu_httpd_count(f->httpd, "/targets/a.txt"), 1);
	fx_free(f);
}

static void test_missing_target_not_found(void **state)
{
	struct fx *f = *state;

	expect_get(f, "app/none.bin", UPK_ERR_NOT_FOUND, "app/none.bin");
}

/* ---- arbitrary software installation ---- */

static void test_arbitrary_targets_signed_by_stranger(void **state)
{
	struct fx *f = *state;

	expect_refresh(f, UPK_OK, NULL);
	sign_with_stranger(f, "targets");
	fx_add(f, "targets", "app/evil.bin", "evil\n");
	fx_publish(f);
	expect_refresh(f, UPK_ERR_SIGNATURE, "targets v3");
	/* What was trusted stays trusted. */
	assert_int_equal(trusted_version(f, "targets.json"), 2);
}

static void test_arbitrary_timestamp_signed_by_stranger(void **state)
{
	struct fx *f = *state;

	sign_with_stranger(f, "timestamp");
	fx_publish(f);
	expect_refresh(f, UPK_ERR_SIGNATURE, "timestamp");
	assert_null(fx_trusted(f, "timestamp.json", NULL));
}

static void test_arbitrary_target_content(void **state)
{
	struct fx *f = *state;
	struct tu_repo *r = f->repo;
	struct upk_target t;
	char url[600], path[4400];
	const char *h;

	assert_int_equal(upk_targets_find(tu_repo_role(r, "targets")->md, "app/fw.bin", &t, NULL),
	                 UPK_OK);
	h = json_string_value(json_object_get(t.hashes, "sha256"));
	snprintf(url, sizeof(url), "/targets/app/%s.fw.bin", h);
	/* Same length, other bytes. */
	tu_httpd_set(f->httpd, url, TU_HTTPD_CONTENT, "firmware 6.6\n", 13);
	expect_get(f, "app/fw.bin", UPK_ERR_HASH, "does not match");
	snprintf(path, sizeof(path), "%s/app/fw.bin", f->target_dir);
	assert_int_equal(access(path, F_OK), -1);
	/* Shorter. */
	tu_httpd_set(f->httpd, url, TU_HTTPD_CONTENT, "firm", 4);
	expect_get(f, "app/fw.bin", UPK_ERR_HASH, "4 bytes");
	assert_int_equal(access(path, F_OK), -1);
}

/* ---- rollback ---- */

static void test_rollback_timestamp(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *old = fx_served(f, "timestamp.json", &len);

	fx_publish(f);
	expect_refresh(f, UPK_OK, NULL);
	tu_httpd_set(f->httpd, "/metadata/timestamp.json", TU_HTTPD_CONTENT, old, len);
	expect_refresh(f, UPK_ERR_ROLLBACK, "timestamp v2: version rolled back from 3");
	assert_int_equal(trusted_version(f, "timestamp.json"), 3);
	free(old);
}

static void test_rollback_snapshot_version_in_timestamp(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};
	struct tu_role *ts = tu_repo_role(f->repo, "timestamp");

	fx_publish(f); /* snapshot v3 */
	expect_refresh(f, UPK_OK, NULL);
	/* A newer timestamp naming an older snapshot. */
	fx_ok(upk_meta_set(ts->md, "snapshot.json", 2, -1, NULL, &e), &e, "meta");
	set_version(f, "timestamp", 10);
	expect_refresh(f, UPK_ERR_ROLLBACK, "snapshot version rolled back from 3 to 2");
}

static void test_rollback_targets_version_in_snapshot(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};
	struct tu_role *snap = tu_repo_role(f->repo, "snapshot");

	expect_refresh(f, UPK_OK, NULL);
	/* Snapshot v3 names targets v1 (older than the trusted v2), properly signed. */
	fx_ok(upk_meta_set(snap->md, "targets.json", 1, -1, NULL, &e), &e, "meta");
	f->repo->meta_hashes = 0;
	set_version(f, "snapshot", 2);
	fx_ok(
	    upk_meta_set(tu_repo_role(f->repo, "timestamp")->md, "snapshot.json", 3, -1, NULL, &e),
	    &e, "meta");
	set_version(f, "snapshot", 3);
	set_version(f, "timestamp", 5);
	expect_refresh(f, UPK_ERR_ROLLBACK, "targets.json version rolled back from 2 to 1");
	assert_int_equal(trusted_version(f, "snapshot.json"), 2);
}

static void test_rollback_root(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *v1 = fx_served(f, "1.root.json", &len);

	/* The old root served as the next one: properly signed, wrong version. */
	fx_ok(tu_repo_put(f->repo, "2.root.json", v1, len, NULL), NULL, "put");
	expect_refresh(f, UPK_ERR_ROLLBACK, "2.root.json: holds root v1, expected v2");
	free(v1);
}

/* ---- indefinite freeze ---- */

static void test_freeze_expired_timestamp(void **state)
{
	struct fx *f = *state;

	tu_repo_role(f->repo, "timestamp")->expires = time(NULL) + 3600;
	fx_publish(f);
	expect_refresh(f, UPK_OK, NULL);
	/* Two hours later the same timestamp is replayed (an equal version). */
	f->clock_offset = 7200;
	expect_refresh(f, UPK_ERR_EXPIRED, "timestamp v3: expired");
	/* And a newer but also expired one. */
	fx_publish(f);
	expect_refresh(f, UPK_ERR_EXPIRED, "timestamp v4: expired");
}

static void test_freeze_expired_snapshot_and_targets(void **state)
{
	struct fx *f = *state;

	tu_repo_role(f->repo, "snapshot")->expires = time(NULL) + 3600;
	fx_publish(f);
	f->clock_offset = 7200;
	expect_refresh(f, UPK_ERR_EXPIRED, "snapshot v3: expired");
	tu_repo_role(f->repo, "snapshot")->expires = 0;
	tu_repo_role(f->repo, "targets")->expires = time(NULL) + 3600;
	tu_repo_role(f->repo, "targets")->dirty = 1;
	fx_publish(f);
	expect_refresh(f, UPK_ERR_EXPIRED, "targets v3: expired");
}

/* ---- endless data ---- */

static void test_endless_data(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};

	tu_httpd_set(f->httpd, "/metadata/2.root.json", TU_HTTPD_ENDLESS, NULL, 0);
	expect_refresh(f, UPK_ERR_TOO_LARGE, "2.root.json");
	tu_httpd_set(f->httpd, "/metadata/2.root.json", TU_HTTPD_FILE, NULL, 0);
	tu_httpd_set(f->httpd, "/metadata/timestamp.json", TU_HTTPD_ENDLESS, NULL, 0);
	expect_refresh(f, UPK_ERR_TOO_LARGE, "16384");
	tu_httpd_set(f->httpd, "/metadata/timestamp.json", TU_HTTPD_FILE, NULL, 0);

	/* Snapshot without a length in the timestamp: bounded by the configured maximum. */
	f->repo->meta_hashes = 0;
	fx_publish(f);
	f->limits.snapshot_max_bytes = 100000;
	tu_httpd_set(f->httpd, "/metadata/3.snapshot.json", TU_HTTPD_ENDLESS, NULL, 0);
	expect_refresh(f, UPK_ERR_TOO_LARGE, "100000");
	tu_httpd_set(f->httpd, "/metadata/3.snapshot.json", TU_HTTPD_FILE, NULL, 0);

	/* A target: bounded by its signed length. */
	{
		struct upk_target t;
		char url[600];

		fx_ok(upk_targets_find(tu_repo_role(f->repo, "targets")->md, "app/fw.bin", &t, &e),
		      &e, "find");
		snprintf(url, sizeof(url), "/targets/app/%s.fw.bin",
		         json_string_value(json_object_get(t.hashes, "sha256")));
		tu_httpd_set(f->httpd, url, TU_HTTPD_ENDLESS, NULL, 0);
		expect_get(f, "app/fw.bin", UPK_ERR_TOO_LARGE, "app/fw.bin");
	}
}

/* ---- slow retrieval ---- */

static void test_slow_retrieval(void **state)
{
	struct fx *f = *state;
	time_t start = time(NULL);

	/* Below 1000 bytes/s for one second ends the transfer. */
	f->curl_opts.low_speed_bytes = 1000;
	f->curl_opts.low_speed_seconds = 1;
	tu_httpd_set(f->httpd, "/metadata/timestamp.json", TU_HTTPD_SLOW, NULL, 0);
	expect_refresh(f, UPK_ERR_IO, "too slow");
	assert_true(time(NULL) - start < 20);
	assert_null(fx_trusted(f, "timestamp.json", NULL));
}

/* ---- extraneous dependencies: delegation abuse ---- */

static void test_delegation_abuse(void **state)
{
	struct fx *f = *state;

	delegate(f, "targets", "vendor", "vendor/*", 0);
	fx_add(f, "vendor", "vendor/a.bin", "vendor a\n");
	/* Outside what vendor was delegated: must never be believed. */
	fx_add(f, "vendor", "app/evil.bin", "evil\n");
	fx_add(f, "vendor", "vendor/sub/deep.bin", "too deep for vendor/*\n");
	fx_publish(f);
	expect_get(f, "vendor/a.bin", UPK_OK, NULL);
	expect_get(f, "app/evil.bin", UPK_ERR_NOT_FOUND, NULL);
	expect_get(f, "vendor/sub/deep.bin", UPK_ERR_NOT_FOUND, NULL);
	/* The delegated role signed by a key its delegator did not list. */
	sign_with_stranger(f, "vendor");
	fx_add(f, "vendor", "vendor/b.bin", "vendor b\n");
	fx_publish(f);
	expect_get(f, "vendor/b.bin", UPK_ERR_SIGNATURE, "vendor");
}

static void test_delegated_role_missing_from_snapshot(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};
	const char *paths[] = {"x/*"};

	/* Delegated in targets but never published in the snapshot. */
	fx_ok(upk_targets_delegate(
	          tu_repo_role(f->repo, "targets")->md, "ghost",
	          (const struct upk_key *const *)tu_repo_role(f->repo, "targets")->keys, 1, 1,
	          paths, 1, 0, &e),
	      &e, "delegate");
	tu_repo_role(f->repo, "targets")->dirty = 1;
	fx_publish(f);
	expect_get(f, "x/y", UPK_ERR_NOT_FOUND, "does not list ghost.json");
}

/* ---- mix-and-match ---- */

static void test_mix_and_match(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *old_targets = fx_served(f, "2.targets.json", &len);

	fx_add(f, "targets", "app/fw2.bin", "firmware 2.0\n");
	fx_publish(f);
	/* The new snapshot names targets v3; the mirror mixes in the old targets. */
	tu_httpd_set(f->httpd, "/metadata/3.targets.json", TU_HTTPD_CONTENT, old_targets, len);
	expect_refresh(f, UPK_ERR_HASH, "targets");
	/* Without hashes in the snapshot, the version check catches it. */
	f->repo->meta_hashes = 0;
	fx_add(f, "targets", "app/fw3.bin", "firmware 3.0\n");
	fx_publish(f);
	tu_httpd_set(f->httpd, "/metadata/4.targets.json", TU_HTTPD_CONTENT, old_targets, len);
	expect_refresh(f, UPK_ERR_ROLLBACK, "role targets v2: snapshot v4 names v4");
	free(old_targets);
}

/* ---- malicious mirrors ---- */

static void test_malicious_mirror_cannot_block_good_one(void **state)
{
	struct fx *f = *state;
	struct tu_httpd *good = f->httpd;
	struct tu_httpd *bad = tu_httpd_start(f->repo_dir);
	char good_url[256];
	size_t len;
	char *stale = fx_served(f, "timestamp.json", &len);

	assert_non_null(bad);
	expect_refresh(f, UPK_OK, NULL);
	fx_add(f, "targets", "app/fw2.bin", "firmware 2.0\n");
	fx_publish(f);
	/* The bad mirror withholds the update (stale timestamp) or serves garbage. */
	tu_httpd_set(bad, "/metadata/timestamp.json", TU_HTTPD_CONTENT, "{\"signed\":1}", 12);
	snprintf(good_url, sizeof(good_url), "%s", f->murl);
	snprintf(f->murl, sizeof(f->murl), "%s/metadata/", tu_httpd_url(bad));
	expect_refresh(f, UPK_ERR_INVALID, "timestamp.json");
	tu_httpd_set(bad, "/metadata/timestamp.json", TU_HTTPD_NOT_FOUND, NULL, 0);
	expect_refresh(f, UPK_ERR_NOT_FOUND, "timestamp.json");
	/* Nothing the bad mirror did sticks: the good mirror updates the client. */
	snprintf(f->murl, sizeof(f->murl), "%s", good_url);
	expect_get(f, "app/fw2.bin", UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "timestamp.json"), 3);
	(void)good;
	free(stale);
	tu_httpd_stop(bad);
}

/* ---- key compromise below threshold ---- */

static void test_key_compromise_below_threshold(void **state)
{
	struct fx *f = *state;
	struct tu_role *targets = tu_repo_role(f->repo, "targets");
	struct upk_key *held[3];

	rotate(f, "targets", 3, 2);
	targets->dirty = 1;
	fx_publish(f);
	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	/* The attacker holds one of the three targets keys. */
	memcpy(held, targets->keys, sizeof(held));
	targets->n_keys = 1;
	fx_add(f, "targets", "app/evil.bin", "evil\n");
	fx_publish(f);
	expect_refresh(f, UPK_ERR_SIGNATURE, "1 valid");
	/* A second signature by the same key adds nothing: sign twice with keys[0]. */
	targets->keys[1] = held[0];
	targets->n_keys = 2;
	targets->dirty = 1;
	fx_publish(f);
	expect_refresh(f, UPK_ERR_SIGNATURE, "1 valid");
	targets->keys[1] = held[1];
	targets->keys[2] = held[2];
	targets->n_keys = 3;
}

/* ---- fast-forward ---- */

static void test_fast_forward_recovery(void **state)
{
	struct fx *f = *state;

	expect_refresh(f, UPK_OK, NULL);
	/* The attacker, holding the timestamp key, pushes the version far ahead. */
	set_version(f, "timestamp", 1000);
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "timestamp.json"), 1000);
	/* The repository recovers with an ordinary version: refused while the key is the same. */
	set_version(f, "timestamp", 3);
	expect_refresh(f, UPK_ERR_ROLLBACK, "rolled back from 1000");
	/* Rotating the timestamp key (root v2) makes the client forget the forged version. */
	rotate(f, "timestamp", 1, 0);
	fx_publish(f);
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 2);
	assert_int_equal(trusted_version(f, "timestamp.json"), 4);
}

static void test_fast_forward_snapshot_recovery(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};
	struct tu_role *snap = tu_repo_role(f->repo, "snapshot");

	expect_refresh(f, UPK_OK, NULL);
	/* Snapshot key compromised: targets.json pushed to version 999 in the snapshot. */
	fx_ok(upk_meta_set(snap->md, "targets.json", 999, -1, NULL, &e), &e, "meta");
	f->repo->meta_hashes = 0;
	fx_ok(upk_metadata_set_version(snap->md, 3, &e), &e, "v");
	fx_ok(tu_repo_write_role(f->repo, "snapshot", &e), &e, "write");
	fx_ok(
	    upk_meta_set(tu_repo_role(f->repo, "timestamp")->md, "snapshot.json", 3, -1, NULL, &e),
	    &e, "meta");
	set_version(f, "timestamp", 3);
	/* targets v999 does not exist: the refresh fails, but the snapshot is trusted. */
	expect_refresh(f, UPK_ERR_NOT_FOUND, NULL);
	assert_int_equal(trusted_version(f, "snapshot.json"), 3);
	/* Recovery: new snapshot key, honest snapshot naming targets v2 again. */
	fx_ok(upk_meta_set(snap->md, "targets.json", 2, -1, NULL, &e), &e, "meta");
	rotate(f, "snapshot", 1, 0);
	fx_publish(f);
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "snapshot.json"), 4);
}

/* ---- the root_check policy hook ---- */

struct root_seen {
	int64_t versions[16];
	size_t n;
	int64_t refuse_at; /* 0: accept all */
	int saw_marker;
};

static upk_status record_root(void *ctx, const struct upk_metadata *root, const void *raw,
                              size_t len, struct upk_error *err)
{
	struct root_seen *s = ctx;
	int64_t v = upk_metadata_version(root);
	struct upk_metadata *again = NULL;

	/* raw is exactly the verified file: it parses to the same version. */
	assert_int_equal(upk_metadata_parse(raw, len, UPK_ROLE_ROOT, NULL, &again, NULL), UPK_OK);
	assert_int_equal(upk_metadata_version(again), v);
	upk_metadata_free(again);
	if (json_object_get(upk_metadata_signed(root), "x_marker") != NULL)
		s->saw_marker = 1;
	if (s->n < 16)
		s->versions[s->n++] = v;
	if (s->refuse_at != 0 && v == s->refuse_at)
		return upk_error_set(err, UPK_ERR_SIGNATURE, "root v%lld refused by policy",
		                     (long long)v);
	return UPK_OK;
}

static upk_status refresh_checked(struct fx *f, struct root_seen *s, struct upk_error *e)
{
	struct upk_client *c = NULL;
	struct upk_client_config cfg = {
	    .metadata_dir = f->client_dir,
	    .metadata_url = f->murl,
	    .target_url = f->turl,
	    .clock = fx_clock,
	    .clock_ctx = f,
	    .root_check = record_root,
	    .root_check_ctx = s,
	};
	upk_status ret;

	if (f->curl == NULL)
		fx_ok(upk_fetcher_curl_new(&f->curl_opts, &f->curl, e), e, "curl");
	cfg.fetcher = f->curl;
	fx_ok(upk_client_new(&cfg, &c, e), e, "client");
	ret = upk_client_refresh(c, e);
	upk_client_free(c);
	return ret;
}

static void test_root_check_sees_each_new_root_in_order(void **state)
{
	struct fx *f = *state;
	struct root_seen s = {0};
	struct upk_error e = {0};
	json_t *sig;

	rotate(f, "root", 1, 0);
	rotate(f, "root", 2, 2);
	/* v4 carries an unknown member of "signed": the check can read it. */
	sig = (json_t *)upk_metadata_signed(tu_repo_role(f->repo, "root")->md);
	json_object_set_new(sig, "x_marker", json_string("seen"));
	rotate(f, "root", 1, 1);
	fx_publish(f);
	fx_ok(refresh_checked(f, &s, &e), &e, "refresh");
	assert_int_equal(s.n, 3);
	assert_int_equal(s.versions[0], 2);
	assert_int_equal(s.versions[1], 3);
	assert_int_equal(s.versions[2], 4);
	assert_true(s.saw_marker);
	assert_same_file(f, "root.json", "4.root.json");
	/* Nothing new: the trusted root is never passed again. */
	memset(&s, 0, sizeof(s));
	fx_ok(refresh_checked(f, &s, &e), &e, "refresh");
	assert_int_equal(s.n, 0);
}

static void test_root_check_refusal_keeps_trusted_root(void **state)
{
	struct fx *f = *state;
	struct root_seen s = {.refuse_at = 3};
	struct upk_error e = {0};
	size_t before_len, after_len;
	char *before, *after;

	rotate(f, "root", 1, 0);
	fx_publish(f);
	expect_refresh(f, UPK_OK, NULL);
	before = fx_trusted(f, "root.json", &before_len);
	rotate(f, "root", 1, 0);
	rotate(f, "root", 1, 0);
	fx_publish(f);
	assert_int_equal(refresh_checked(f, &s, &e), UPK_ERR_SIGNATURE);
	assert_non_null(strstr(e.msg, "3.root.json: root v3 refused by policy"));
	/* v2 stays trusted, byte for byte; v3 was never written, v4 never asked for. */
	after = fx_trusted(f, "root.json", &after_len);
	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	assert_int_equal(s.n, 1);
	free(before);
	free(after);
	/* Without the policy the same chain is fine. */
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 4);
}

/* ---- root rotation chains ---- */

static void test_root_chain_20_hops(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 20; i++) {
		rotate(f, "root", 1 + (size_t)(i % 3), (unsigned)(1 + i % 3));
		if (i % 5 == 0)
			rotate(f, "targets", 1, 0);
	}
	tu_repo_role(f->repo, "targets")->dirty = 1;
	fx_publish(f);
	expect_get(f, "app/fw.bin", UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 1 + 20 + 4);
	assert_same_file(f, "root.json", "25.root.json");
}

static void test_root_chain_longer_than_max_hops(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 20; i++)
		rotate(f, "root", 1, 0);
	fx_publish(f);
	f->limits.max_root_rotations = 8;
	/* Each cycle follows at most 8 links, then goes on from where it got. */
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 9);
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 17);
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 21);
}

static void test_root_expiry_checked_after_chain(void **state)
{
	struct fx *f = *state;
	struct tu_role *root = tu_repo_role(f->repo, "root");

	/* Intermediate roots that expire in an hour, then a fresh one. */
	root->expires = time(NULL) + 3600;
	rotate(f, "root", 1, 0);
	rotate(f, "root", 1, 0);
	root->expires = 0;
	rotate(f, "root", 1, 0);
	f->clock_offset = 7200;
	expect_refresh(f, UPK_OK, NULL);
	assert_int_equal(trusted_version(f, "root.json"), 4);
	/* The newest root expired: a freeze, reported after following the chain. */
	root->expires = time(NULL) + 3600;
	rotate(f, "root", 1, 0);
	expect_refresh(f, UPK_ERR_EXPIRED, "root v5: expired");
	/* It was still trusted (persisted) on the way. */
	assert_int_equal(trusted_version(f, "root.json"), 5);
}

static void test_root_not_signed_by_previous(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};

	rotate(f, "root", 1, 0);
	/* Re-sign 2.root.json with the new key alone. */
	fx_ok(tu_repo_write_role(f->repo, "root", &e), &e, "write");
	expect_refresh(f, UPK_ERR_SIGNATURE, "not signed by trusted root v1");
	assert_int_equal(trusted_version(f, "root.json"), 1);
}

static void test_root_not_signed_by_itself(void **state)
{
	struct fx *f = *state;
	struct tu_role *root = tu_repo_role(f->repo, "root");
	struct upk_error e = {0};
	struct upk_key *old = tu_repo_key(f->repo);
	struct upk_key *first = NULL;
	uint8_t seed[32] = {0};

	/* The first key the repository made (seed 1) is root v1's key. */
	seed[0] = 1;
	seed[31] = 0x5a;
	fx_ok(upk_key_from_ed25519_seed(seed, &first, &e), &e, "seed");
	rotate(f, "root", 1, 0);
	/* 2.root.json signed by the old root key only. */
	upk_metadata_clear_signatures(root->md);
	fx_ok(upk_metadata_sign(root->md, first, &e), &e, "sign");
	{
		char *buf;
		size_t len;

		fx_ok(upk_metadata_serialize(root->md, 0, &buf, &len, &e), &e, "ser");
		fx_ok(tu_repo_put(f->repo, "2.root.json", buf, len, &e), &e, "put");
		free(buf);
	}
	expect_refresh(f, UPK_ERR_SIGNATURE, "not signed by its own root keys");
	upk_key_free(first);
	upk_key_free(old);
}

/* ---- delegation graphs ---- */

static void test_delegation_cycle_terminates(void **state)
{
	struct fx *f = *state;

	delegate(f, "targets", "a", "*", 0);
	delegate(f, "a", "b", "*", 0);
	delegate(f, "b", "a", "*", 0);
	delegate(f, "b", "b", "*", 0);
	fx_add(f, "b", "in-b", "found in b\n");
	fx_publish(f);
	expect_get(f, "nowhere", UPK_ERR_NOT_FOUND, "3 roles searched");
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/1.a.json"), 1);
	assert_int_equal(tu_httpd_count(f->httpd, "/metadata/1.b.json"), 1);
	expect_get(f, "in-b", UPK_OK, NULL);
}

static void test_preorder_and_terminating(void **state)
{
	struct fx *f = *state;
	struct upk_error e = {0};
	struct upk_client *c;
	struct upk_client_target *t = NULL;

	/* targets -> [first -> [first-child], second]: pre-order finds first-child's entry. */
	delegate(f, "targets", "first", "p/*", 0);
	delegate(f, "first", "first-child", "p/*", 0);
	delegate(f, "targets", "second", "p/*", 0);
	fx_add(f, "first-child", "p/x", "from first-child\n");
	fx_add(f, "second", "p/x", "from second, must lose\n");
	/* A terminating delegation that covers q/ but lacks the target ends the search. */
	delegate(f, "targets", "stop", "q/*", 1);
	delegate(f, "targets", "after", "q/*", 0);
	fx_add(f, "after", "q/y", "never reached\n");
	fx_publish(f);
	c = fx_client(f);
	fx_ok(upk_client_find_target(c, "p/x", &t, &e), &e, "find");
	assert_string_equal(t->role, "first-child");
	upk_client_target_free(t);
	assert_int_equal(upk_client_find_target(c, "q/y", &t, &e), UPK_ERR_NOT_FOUND);
	upk_client_free(c);
}

static void test_max_delegations(void **state)
{
	struct fx *f = *state;
	char parent[32] = "targets", name[32];

	/* A chain of 40 roles; the target sits in the last one. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		delegate(f, parent, name, "deep/*", 0);
		snprintf(parent, sizeof(parent), "%s", name);
	}
	fx_add(f, "d39", "deep/file", "deep\n");
	fx_publish(f);
	expect_get(f, "deep/file", UPK_ERR_NOT_FOUND, "32 roles searched");
	f->limits.max_delegations = 64;
	expect_get(f, "deep/file", UPK_OK, NULL);
}

static void test_role_names_are_safe_file_names(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf;

	delegate(f, "targets", "team/x y", "t/*", 0);
	fx_add(f, "team/x y", "t/file", "team\n");
	fx_publish(f);
	/* The repository serves it under its plain name; the URL escapes it. */
	expect_get(f, "t/file", UPK_OK, NULL);
	buf = fx_trusted(f, "team%2Fx%20y.json", &len);
	assert_non_null(buf);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refresh_persists_verified_bytes, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_unchanged_repository_costs_one_timestamp, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_cached_target_not_downloaded_again, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test(test_plain_snapshots_use_unversioned_names),
	    cmocka_unit_test_setup_teardown(test_missing_target_not_found, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_arbitrary_targets_signed_by_stranger, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_arbitrary_timestamp_signed_by_stranger, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_arbitrary_target_content, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_rollback_timestamp, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_rollback_snapshot_version_in_timestamp, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_rollback_targets_version_in_snapshot, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_rollback_root, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_freeze_expired_timestamp, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_freeze_expired_snapshot_and_targets, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_endless_data, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_slow_retrieval, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_delegation_abuse, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_delegated_role_missing_from_snapshot, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_mix_and_match, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_malicious_mirror_cannot_block_good_one, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_key_compromise_below_threshold, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_fast_forward_recovery, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_fast_forward_snapshot_recovery, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_chain_20_hops, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_check_sees_each_new_root_in_order, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_check_refusal_keeps_trusted_root, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_chain_longer_than_max_hops, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_expiry_checked_after_chain, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_not_signed_by_previous, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_root_not_signed_by_itself, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_delegation_cycle_terminates, setup_fx,
	                                    teardown_fx),
	    cmocka_unit_test_setup_teardown(test_preorder_and_terminating, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_max_delegations, setup_fx, teardown_fx),
	    cmocka_unit_test_setup_teardown(test_role_names_are_safe_file_names, setup_fx,
	                                    teardown_fx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
