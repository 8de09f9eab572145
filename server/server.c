/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server lifecycle: start (config, store, creator keys, replay cache, HTTP,
 * maintenance thread), the re-signing pass that keeps server-signed metadata
 * from expiring, and a graceful stop that lets in-flight requests finish
 * before the store is closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "director.h"
#include "http.h"
#include "key_cache.h"
#include "log.h"
#include "replay.h"
#include "rollout.h"
#include "server.h"
#include "signer.h"
#include "store.h"

int64_t server_now(void)
{
	return (int64_t)time(NULL);
}

int64_t server_clock(struct server *srv)
{
	return server_now() + atomic_load(&srv->clock_offset);
}

static upk_status load_creators(struct server *srv, struct upk_error *err)
{
	for (size_t i = 0; i < srv->cfg.n_creators; i++) {
		const char *c = srv->cfg.creators[i];
		struct creator *cr = &srv->creators[srv->n_creators];
		size_t n = strlen(c), j;
		upk_status ret;

		for (j = 0; j < n; j++)
			if (!((c[j] >= '0' && c[j] <= '9') || (c[j] >= 'a' && c[j] <= 'f')))
				break;
		if (n == UPK_KEYID_HEX_LEN && j == n) {
			memcpy(cr->keyid, c, n + 1);
		} else {
			ret = upk_keyfile_read(c, NULL, &cr->key, err);
			if (ret == UPK_OK && upk_key_type(cr->key) != UPK_KEY_ED25519)
				ret = upk_error_set(err, UPK_ERR_UNSUPPORTED, "not an ed25519 key");
			if (ret == UPK_OK)
				ret = upk_key_id(cr->key, cr->keyid, err);
			if (ret != UPK_OK) {
				upk_key_free(cr->key);
				cr->key = NULL;
				return upk_error_prefix(err, ret, "creator %s: ", c);
			}
		}
		srv->n_creators++;
	}
	return UPK_OK;
}

/* One kind of expiring file: (repo, role) and what to do about it. */
static upk_status renew_kind(struct server *srv, const char *repo, const char *role,
			     int64_t lifetime, int64_t now, unsigned *renewed,
			     struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *rows = NULL, *row;
	upk_status ret;
	size_t i;

	/* Renew at half the lifetime: a missed pass or two still leaves margin. */
	ret = st->ops->meta_expiring(st, repo, role, now + lifetime / 2, 1000, &rows, err);
	if (ret != UPK_OK)
		return ret;
	json_array_foreach(rows, i, row) {
		int64_t fleet = json_integer_value(json_object_get(row, "fleet_id"));
		const char *scope = json_string_value(json_object_get(row, "scope"));
		struct upk_error e = {0};

		ret = st->ops->begin(st, &e);
		if (ret != UPK_OK)
			break;
		if (strcmp(repo, STORE_REPO_DIRECTOR) == 0 && strcmp(role, "targets") == 0)
			ret = director_publish_device(srv, fleet, scope, now, &e);
		else
			ret = publish_snapshot_timestamp(srv, fleet, repo, scope,
							 strcmp(role, "snapshot") == 0, now, &e);
		if (ret == UPK_OK)
			ret = st->ops->commit(st, &e);
		else
			st->ops->rollback(st);
		if (ret != UPK_OK) {
			/* One fleet's problem must not stop re-signing for the others. */
			log_msg(LOG_ERROR, "maint", "fleet %lld %s %s %s: %s", (long long)fleet, repo,
				scope, role, e.msg);
			ret = UPK_OK;
			continue;
		}
		(*renewed)++;
	}
	json_decref(rows);
	return ret;
}

upk_status server_maintain(struct server *srv, int64_t now, struct upk_error *err)
{
	unsigned renewed = 0;
	upk_status ret;

	pthread_mutex_lock(&srv->repo_lock);
	/* Targets first: their new snapshot and timestamp make the later kinds fresh. */
	ret = renew_kind(srv, STORE_REPO_DIRECTOR, "targets", srv->cfg.director_targets_expiry, now,
			 &renewed, err);
	if (ret == UPK_OK)
		ret = renew_kind(srv, STORE_REPO_IMAGE, "snapshot", srv->cfg.snapshot_expiry, now,
				 &renewed, err);
	if (ret == UPK_OK)
		ret = renew_kind(srv, STORE_REPO_DIRECTOR, "snapshot", srv->cfg.snapshot_expiry, now,
				 &renewed, err);
	if (ret == UPK_OK)
		ret = renew_kind(srv, STORE_REPO_IMAGE, "timestamp", srv->cfg.timestamp_expiry, now,
				 &renewed, err);
	if (ret == UPK_OK)
		ret = renew_kind(srv, STORE_REPO_DIRECTOR, "timestamp", srv->cfg.timestamp_expiry,
				 now, &renewed, err);
	pthread_mutex_unlock(&srv->repo_lock);
	if (renewed > 0)
		log_msg(LOG_INFO, "maint", "re-signed %u metadata sets", renewed);
	/* Rollouts after re-signing: their assignments sign director metadata too. */
	if (ret == UPK_OK)
		ret = rollout_maintain(srv, now, err);
	return ret;
}

static void *maint_main(void *arg)
{
	struct server *srv = arg;

	pthread_mutex_lock(&srv->maint_mu);
	while (!srv->stopping) {
		struct timespec until;
		struct upk_error err = {0};

		pthread_mutex_unlock(&srv->maint_mu);
		if (server_maintain(srv, server_clock(srv), &err) != UPK_OK)
			log_msg(LOG_ERROR, "maint", "%s", err.msg);
		pthread_mutex_lock(&srv->maint_mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += srv->cfg.maintenance_interval;
		while (!srv->stopping &&
		       pthread_cond_timedwait(&srv->maint_cv, &srv->maint_mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&srv->maint_mu);
	return NULL;
}

static void wait_next_second(int64_t *out)
{
	int64_t start = server_now();

	/*
	 * Requests signed in the second the previous process may have died
	 * in must not be accepted again: start serving in a fresh second.
	 */
	while (server_now() == start) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	*out = start + 1;
}

upk_status server_start(struct server_config *cfg, struct server **out, struct upk_error *err)
{
	struct server *srv = calloc(1, sizeof(*srv));
	upk_status ret;

	if (srv == NULL) {
		config_free(cfg);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	srv->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&srv->repo_lock, NULL);
	pthread_mutex_init(&srv->maint_mu, NULL);
	pthread_cond_init(&srv->maint_cv, NULL);
	log_set_level(srv->cfg.log_level);
	ret = config_validate(&srv->cfg, err);
	if (ret == UPK_OK && mkdir(srv->cfg.data_dir, 0700) != 0 && errno != EEXIST)
		ret = upk_error_set(err, UPK_ERR_IO, "data_dir %s: %s", srv->cfg.data_dir,
				    strerror(errno));
	if (ret == UPK_OK)
		ret = load_creators(srv, err);
	if (ret == UPK_OK)
		ret = store_sqlite_open(srv->cfg.database, &srv->store, err);
	if (ret == UPK_OK)
		ret = replay_new((size_t)srv->cfg.replay_cache_entries,
				 srv->cfg.signature_max_age, &srv->replay, err);
	if (ret == UPK_OK)
		ret = key_cache_new(&srv->keys, err);
	if (ret != UPK_OK)
		goto fail;
	wait_next_second(&srv->not_before);
	ret = http_start(srv, err);
	if (ret != UPK_OK)
		goto fail;
	if (pthread_create(&srv->maint, NULL, maint_main, srv) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "cannot start the maintenance thread");
		goto fail;
	}
	srv->maint_started = 1;
	log_msg(LOG_INFO, "server", "listening on %s port %u (%lld threads, database %s)",
		srv->cfg.listen, srv->port, (long long)srv->cfg.threads, srv->cfg.database);
	*out = srv;
	return UPK_OK;
fail:
	server_stop(srv);
	return ret;
}

void server_stop(struct server *srv)
{
	if (srv == NULL)
		return;
	http_stop(srv);
	if (srv->maint_started) {
		pthread_mutex_lock(&srv->maint_mu);
		srv->stopping = 1;
		pthread_cond_signal(&srv->maint_cv);
		pthread_mutex_unlock(&srv->maint_mu);
		pthread_join(srv->maint, NULL);
	}
	store_close(srv->store);
	replay_free(srv->replay);
	key_cache_free(srv->keys);
	for (size_t i = 0; i < srv->n_creators; i++)
		upk_key_free(srv->creators[i].key);
	pthread_mutex_destroy(&srv->repo_lock);
	pthread_mutex_destroy(&srv->maint_mu);
	pthread_cond_destroy(&srv->maint_cv);
	if (srv->store != NULL)
		log_msg(LOG_INFO, "server", "stopped");
	config_free(&srv->cfg);
	free(srv);
}
