/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server as one object: configuration, store, HTTP daemon, replay cache
 * and the maintenance thread that re-signs expiring metadata. main.c and the
 * tests start and stop it through these functions only.
 */
#ifndef UPK_SERVER_SERVER_H
#define UPK_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "upkeep/crypto.h"
#include "upkeep/error.h"

struct store;
struct replay_cache;
struct MHD_Daemon;

/* One configured fleet creator: a key from a file, or only its id. */
struct creator {
	char keyid[UPK_KEYID_HEX_LEN + 1];
	struct upk_key *key; /* NULL when only the id was configured */
};

struct server {
	struct server_config cfg;
	struct store *store;
	struct MHD_Daemon *mhd;
	struct replay_cache *replay;
	struct key_cache *keys; /* parsed owner and device keys (key_cache.h) */
	struct creator creators[CONFIG_MAX_CREATORS];
	size_t n_creators;
	/*
	 * Requests signed before this second are refused: the replay cache is
	 * in memory, so a signature captured before a restart must not work
	 * after it (see auth.c).
	 */
	int64_t not_before;
	uint16_t port;
	atomic_long inflight;
	/* Serialises changes to a fleet's repositories (uploads, re-signing, assignments). */
	pthread_mutex_t repo_lock;
	pthread_t maint;
	int maint_started;
	int stopping;
	pthread_mutex_t maint_mu;
	pthread_cond_t maint_cv;
	/*
	 * Added to the clock of rollouts (soak times) and maintenance, so tests
	 * can let hours pass without sleeping. Signatures keep the real clock.
	 */
	_Atomic int64_t clock_offset;
};

/*
 * Validate cfg, take ownership of its contents (cfg is zeroed), open the
 * store, load creator keys, start the HTTP daemon and the maintenance
 * thread. On failure nothing is left running and cfg is freed.
 */
upk_status server_start(struct server_config *cfg, struct server **out, struct upk_error *err);

/*
 * Graceful stop: refuse new connections, wait up to shutdown_timeout for
 * in-flight requests to finish, stop the threads, close the store, free.
 */
void server_stop(struct server *srv);

/*
 * One maintenance pass: re-sign what expires soon in every fleet, then move
 * every running rollout on (rollout.c). The maintenance thread runs it.
 */
upk_status server_maintain(struct server *srv, int64_t now, struct upk_error *err);

/* The clock of the server (seconds since the epoch). */
int64_t server_now(void);

/* server_now() + srv->clock_offset: the clock of rollouts and maintenance. */
int64_t server_clock(struct server *srv);

#endif
