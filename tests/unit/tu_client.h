/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture of the TUF client tests: a simulated repository served over
 * loopback HTTP, a client metadata directory bootstrapped with its first
 * root, and a clock the test can move. Header-only (static functions) so
 * each test program that wants it includes it.
 */
#ifndef UPK_TU_CLIENT_H
#define UPK_TU_CLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tu_httpd.h"
#include "tu_repo.h"
#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"

struct fx {
	char *tmp;
	char repo_dir[4200];
	char client_dir[4200];
	char target_dir[4200];
	char murl[256], turl[256];
	struct tu_repo *repo;
	struct tu_httpd *httpd;
	struct upk_fetcher *curl;
	struct upk_curl_options curl_opts;
	struct upk_client_limits limits;
	time_t clock_offset;
};

static inline void fx_ok(upk_status s, const struct upk_error *e, const char *what)
{
	if (s != UPK_OK)
		fail_msg("%s: %s (%s)", what, e->msg, upk_status_str(s));
}

static inline time_t fx_clock(void *ctx)
{
	struct fx *f = ctx;

	return time(NULL) + f->clock_offset;
}

/* Trust the repository's version-N root in the client directory. */
static inline void fx_trust_root(struct fx *f, int64_t version)
{
	struct upk_error e = {0};
	char path[4400];
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), "%s/%lld.root.json", f->repo->metadata_dir,
	         (long long)version);
	buf = tu_read_file(path, &len);
	assert_non_null(buf);
	fx_ok(upk_client_bootstrap(f->client_dir, buf, len, &e), &e, "bootstrap");
	free(buf);
}

static inline struct fx *fx_new(int consistent)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct upk_error e = {0};

	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	snprintf(f->repo_dir, sizeof(f->repo_dir), "%s/repo", f->tmp);
	snprintf(f->client_dir, sizeof(f->client_dir), "%s/client", f->tmp);
	snprintf(f->target_dir, sizeof(f->target_dir), "%s/download", f->tmp);
	mkdir(f->repo_dir, 0755);
	mkdir(f->client_dir, 0755);
	mkdir(f->target_dir, 0755);
	fx_ok(tu_repo_new(f->repo_dir, consistent, &f->repo, &e), &e, "repo");
	f->httpd = tu_httpd_start(f->repo_dir);
	assert_non_null(f->httpd);
	snprintf(f->murl, sizeof(f->murl), "%s/metadata/", tu_httpd_url(f->httpd));
	snprintf(f->turl, sizeof(f->turl), "%s/targets/", tu_httpd_url(f->httpd));
	fx_trust_root(f, 1);
	return f;
}

static inline void fx_free(struct fx *f)
{
	if (f == NULL)
		return;
	tu_httpd_stop(f->httpd);
	tu_repo_free(f->repo);
	upk_fetcher_curl_free(f->curl);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f);
}

static inline struct upk_client *fx_client(struct fx *f)
{
	struct upk_error e = {0};
	struct upk_client *c = NULL;
	struct upk_client_config cfg = {
	    .metadata_dir = f->client_dir,
	    .metadata_url = f->murl,
	    .target_url = f->turl,
	    .limits = f->limits,
	    .clock = fx_clock,
	    .clock_ctx = f,
	};

	if (f->curl == NULL)
		fx_ok(upk_fetcher_curl_new(&f->curl_opts, &f->curl, &e), &e, "curl");
	cfg.fetcher = f->curl;
	fx_ok(upk_client_new(&cfg, &c, &e), &e, "client");
	return c;
}

/* One refresh with a fresh client; the status, with the message in e. */
static inline upk_status fx_refresh(struct fx *f, struct upk_error *e)
{
	struct upk_client *c = fx_client(f);
	upk_status ret = upk_client_refresh(c, e);

	upk_client_free(c);
	return ret;
}

/* Find and download path into memory-less verification; returns the status. */
static inline upk_status fx_get(struct fx *f, const char *path, struct upk_error *e)
{
	struct upk_client *c = fx_client(f);
	struct upk_client_target *t = NULL;
	char out[8400];
	upk_status ret;

	snprintf(out, sizeof(out), "%s/%s", f->target_dir, path);
	ret = upk_client_find_target(c, path, &t, e);
	if (ret == UPK_OK)
		ret = upk_client_download_target_to_file(c, t, out, NULL, e);
	upk_client_target_free(t);
	upk_client_free(c);
	return ret;
}

static inline void fx_publish(struct fx *f)
{
	struct upk_error e = {0};

	fx_ok(tu_repo_publish(f->repo, &e), &e, "publish");
}

static inline void fx_add(struct fx *f, const char *role, const char *path, const char *data)
{
	struct upk_error e = {0};

	fx_ok(tu_repo_add_target(f->repo, role, path, data, strlen(data), &e), &e, "add target");
}

/* The bytes of a served metadata file (caller frees). */
static inline char *fx_served(struct fx *f, const char *name, size_t *len)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", f->repo->metadata_dir, name);
	return tu_read_file(path, len);
}

static inline char *fx_trusted(struct fx *f, const char *name, size_t *len)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", f->client_dir, name);
	return tu_read_file(path, len);
}

/* Run call (which may use the struct upk_error e_) and expect status; the message goes to msg. */
#define EXPECT(status, call)                                                                       \
	do {                                                                                       \
		struct upk_error e_ = {0};                                                         \
		upk_status s_ = (call);                                                            \
		if (s_ != (status))                                                                \
			fail_msg("%s: expected %s, got %s: %s", #call, upk_status_str(status),     \
			         upk_status_str(s_), e_.msg);                                      \
	} while (0)

#endif
