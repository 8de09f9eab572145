/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed check-ins per second against upkeep-server on loopback: N devices
 * (accepted, in a fresh SQLite file) check in from client threads over
 * keep-alive connections, each request signed (RFC 9421, ed25519, its own
 * nonce) by its device. Two runs: requests signed by the load generator as
 * it goes (so the generator's signing shares the server's cores), and
 * requests signed just before the timed window, as devices sign on their own
 * CPUs (the server's capacity). Reports check-ins/s with p50/p99 latency,
 * beside a baseline measured in the same run: unsigned GET /v1/health, the
 * same HTTP path without signatures or the database.
 *
 * BENCH_CHECKIN_PRESIGNED=N runs only a warm-up and N pre-signed check-ins,
 * without a time limit: for profiling the server (perf record) and for
 * counting its instructions per check-in under callgrind
 * (scripts/checkin-instructions), a figure that unlike requests per second
 * does not depend on what else runs on the machine.
 *
 * usage: bench_checkin [DEVICES [CLIENT_THREADS [SECONDS [SERVER_THREADS]]]]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/syscall.h>

#include <curl/curl.h>

#include "config.h"
#include "server.h"
#include "store.h"
#include "testutil.h"
#include "upkeep/crypto.h"
#include "upkeep/httpsig.h"

#define MAX_SAMPLES (1u << 22)

struct dev {
	struct upk_key *key;
	char id[UPK_KEYID_HEX_LEN + 1];
};

/* One request signed ahead of time. */
struct presigned {
	char digest[96], input[640], sig[160], body[48];
};

struct run {
	unsigned port;
	struct dev *devs;
	size_t n_devs;
	int signed_checkin; /* 0: GET /v1/health */
	size_t presign;     /* requests each thread signs before the clock starts; 0: sign as it goes */
	double seconds;
	atomic_int stop;
	atomic_uint_fast64_t errors;
	pthread_barrier_t ready;
};

struct worker {
	struct run *run;
	size_t index, nthreads;
	uint32_t *lat_us; /* latencies of this thread */
	size_t n;
	size_t cap;
	double cpu_s; /* CPU time of this thread in the timed window */
};

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * CPU time of every thread of this process but the caller, from the
 * scheduler's per-thread account: measured around a run whose client
 * threads have exited by the second reading, that is the server's threads.
 */
static double other_threads_cpu_s(void)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	double total = 0;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[300];
		unsigned long long ns = 0;
		FILE *f;

		if (atoi(de->d_name) <= 0 || atoi(de->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", de->d_name);
		f = fopen(path, "r");
		if (f != NULL && fscanf(f, "%llu", &ns) == 1)
			total += (double)ns / 1e9;
		if (f != NULL)
			fclose(f);
	}
	if (d != NULL)
		closedir(d);
	return total;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *d, size_t s, size_t n, void *ctx)
{
	(void)d;
	(void)ctx;
	return s * n;
}

/* Sign POST path with body as device d; fills the three header lines. */
static int sign(const struct dev *d, const char *path, const char *body, char *h_digest,
		char *h_input, char *h_sig, size_t dsize, size_t isize, size_t ssize)
{
	static const char *const WITH[] = {"@method", "@path", "content-digest"};
	struct upk_error e = {0};
	char nonce[UPK_HTTPSIG_NONCE_LEN + 1], digest[UPK_CONTENT_DIGEST_LEN + 1];
	uint8_t sha[UPK_HASH_MAX_LEN];
	struct upk_http_field f[1];
	struct upk_http_request req;
	struct upk_httpsig_sign_params sp;
	char *input = NULL, *sig = NULL;

	if (upk_hash_buf(UPK_HASH_SHA256, body, strlen(body), sha, &e) != UPK_OK ||
	    upk_httpsig_nonce(nonce, &e) != UPK_OK)
		return -1;
	upk_content_digest_format(sha, digest);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = path;
	f[0].name = "Content-Digest";
	f[0].value = digest;
	req.fields = f;
	req.nfields = 1;
	req.body_sha256 = sha;
	memset(&sp, 0, sizeof(sp));
	sp.label = "sig1";
	sp.components = WITH;
	sp.ncomponents = 3;
	sp.created = (int64_t)time(NULL);
	sp.expires = UPK_HTTPSIG_NO_TIME;
	sp.keyid = d->id;
	sp.nonce = nonce;
	sp.alg = "ed25519";
	if (upk_httpsig_sign(&req, &sp, d->key, &input, &sig, &e) != UPK_OK)
		return -1;
	snprintf(h_digest, dsize, "Content-Digest: %s", digest);
	snprintf(h_input, isize, "Signature-Input: %s", input);
	snprintf(h_sig, ssize, "Signature: %s", sig);
	free(input);
	free(sig);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	CURL *c = curl_easy_init();
	char url[256], hd[512], hi[1024], hs[512], body[64];
	const char *path = r->signed_checkin ? "/v1/fleets/bench/checkin" : "/v1/health";
	size_t next = w->index, used = 0;
	struct presigned *pre = r->presign ? calloc(r->presign, sizeof(*pre)) : NULL;

	for (size_t i = 0; pre != NULL && i < r->presign; i++) {
		const struct dev *d = &r->devs[next % r->n_devs];

		next += w->nthreads;
		snprintf(pre[i].body, sizeof(pre[i].body), "{\"free_space\":%zu}", 1000000 + next);
		if (sign(d, path, pre[i].body, pre[i].digest, pre[i].input, pre[i].sig,
			 sizeof(pre[i].digest), sizeof(pre[i].input), sizeof(pre[i].sig)) != 0)
			atomic_fetch_add(&r->errors, 1);
	}
	pthread_barrier_wait(&r->ready);
	w->cpu_s = thread_cpu_s();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", r->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	while (!atomic_load(&r->stop)) {
		struct curl_slist *h = NULL;
		long status = 0;
		double t0;

		if (pre != NULL) {
			if (used == r->presign)
				break;
			t0 = now_s();
			h = curl_slist_append(h, "Expect:");
			h = curl_slist_append(h, "Content-Type: application/json");
			h = curl_slist_append(h, pre[used].digest);
			h = curl_slist_append(h, pre[used].input);
			h = curl_slist_append(h, pre[used].sig);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, pre[used].body);
			used++;
		} else if (r->signed_checkin) {
			const struct dev *d = &r->devs[next % r->n_devs];

			next += w->nthreads;
			snprintf(body, sizeof(body), "{\"free_space\":%zu}", 1000000 + next);
			t0 = now_s();
			if (sign(d, path, body, hd, hi, hs, sizeof(hd), sizeof(hi), sizeof(hs)) != 0) {
				atomic_fetch_add(&r->errors, 1);
				continue;
			}
			h = curl_slist_append(h, "Expect:");
			h = curl_slist_append(h, "Content-Type: application/json");
			h = curl_slist_append(h, hd);
			h = curl_slist_append(h, hi);
			h = curl_slist_append(h, hs);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else {
			t0 = now_s();
		}
		if (curl_easy_perform(c) != CURLE_OK ||
		    (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), status != 200))
			atomic_fetch_add(&r->errors, 1);
		else if (w->n < w->cap)
			w->lat_us[w->n++] = (uint32_t)((now_s() - t0) * 1e6);
		curl_slist_free_all(h);
	}
	w->cpu_s = thread_cpu_s() - w->cpu_s;
	curl_easy_cleanup(c);
	free(pre);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* CPU time per request of one run, in microseconds: the server's and the load generator's. */
struct cpu_cost {
	double server_us, client_us;
};

/* One timed run: rate in requests/s, p50/p99 in microseconds; cost may be NULL. */
static void measure(struct run *r, size_t nthreads, double *rate, uint32_t *p50, uint32_t *p99,
		    struct cpu_cost *cost)
{
	double server_cpu = other_threads_cpu_s(), client_cpu = 0;
	pthread_t th[64];
	struct worker w[64];
	uint32_t *all;
	size_t total = 0;
	double t0, t1;

	atomic_store(&r->stop, 0);
	pthread_barrier_init(&r->ready, NULL, (unsigned)nthreads + 1);
	for (size_t i = 0; i < nthreads; i++) {
		w[i] = (struct worker){r, i, nthreads, NULL, 0, MAX_SAMPLES / nthreads, 0};
		w[i].lat_us = malloc(w[i].cap * sizeof(uint32_t));
	}
	for (size_t i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	/* The clock starts when every thread has signed what it signs ahead. */
	pthread_barrier_wait(&r->ready);
	t0 = now_s();
	while (now_s() - t0 < r->seconds) {
		size_t done = 0;

		/* Pre-signed threads stop when their requests run out. */
		for (size_t i = 0; r->presign && i < nthreads; i++)
			done += w[i].n + 0 >= r->presign;
		if (r->presign && done == nthreads)
			break;
		usleep(5000);
	}
	atomic_store(&r->stop, 1);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now_s();
	pthread_barrier_destroy(&r->ready);
	server_cpu = other_threads_cpu_s() - server_cpu;
	for (size_t i = 0; i < nthreads; i++) {
		total += w[i].n;
		client_cpu += w[i].cpu_s;
	}
	if (cost != NULL) {
		cost->server_us = total ? server_cpu * 1e6 / (double)total : 0;
		cost->client_us = total ? client_cpu * 1e6 / (double)total : 0;
	}
	all = malloc((total ? total : 1) * sizeof(uint32_t));
	total = 0;
	for (size_t i = 0; i < nthreads; i++) {
		memcpy(all + total, w[i].lat_us, w[i].n * sizeof(uint32_t));
		total += w[i].n;
		free(w[i].lat_us);
	}
	qsort(all, total, sizeof(uint32_t), cmp_u32);
	*rate = (double)total / (t1 - t0);
	*p50 = total ? all[total / 2] : 0;
	*p99 = total ? all[total * 99 / 100] : 0;
	free(all);
}

int main(int argc, char **argv)
{
	size_t ndev = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	size_t nthreads = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
	double seconds = argc > 3 ? strtod(argv[3], NULL) : 5.0;
	const char *sthreads = argc > 4 ? argv[4] : "2";
	char *tmp = tu_mkdtemp(), db[4200], data[4200];
	struct server_config cfg;
	struct server *srv = NULL;
	struct store *st = NULL;
	struct upk_error err = {0};
	struct run r;
	int64_t fleet = 0;
	json_t *empty = json_object(), *attrs = json_object();
	double base_rate = 0, rate, pre_rate;
	uint32_t b50 = 0, b99 = 0, p50, p99, q50, q99;
	uint64_t seen_rows = 0;
	struct cpu_cost cost = {0, 0}, base_cost = {0, 0};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *fixed_env = getenv("BENCH_CHECKIN_PRESIGNED");
	size_t fixed = fixed_env != NULL ? strtoul(fixed_env, NULL, 10) : 0;

	if (ndev == 0 || nthreads == 0 || nthreads > 64) {
		fprintf(stderr, "usage: bench_checkin [DEVICES [CLIENT_THREADS(1-64) [SECONDS [SERVER_THREADS]]]]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db, sizeof(db), "%s/bench.db", tmp);
	snprintf(data, sizeof(data), "%s/data", tmp);
	memset(&r, 0, sizeof(r));
	r.devs = calloc(ndev, sizeof(*r.devs));
	r.n_devs = ndev;
	r.seconds = seconds;
	/* The fleet and its accepted devices go straight into the store: only check-ins are timed. */
	if (store_sqlite_open(db, &st, &err) != UPK_OK ||
	    st->ops->fleet_create(st, "bench", 1, &fleet, &err) != UPK_OK ||
	    st->ops->begin(st, &err) != UPK_OK)
		goto fail;
	for (size_t i = 0; i < ndev; i++) {
		json_t *tuf = NULL;

		if (upk_key_generate_ed25519(&r.devs[i].key, &err) != UPK_OK ||
		    upk_key_id(r.devs[i].key, r.devs[i].id, &err) != UPK_OK ||
		    upk_key_to_tuf(r.devs[i].key, &tuf, &err) != UPK_OK ||
		    st->ops->device_enrol(st, fleet, r.devs[i].id, tuf, "hw-bench", attrs, "accepted",
					  empty, 1, &err) != UPK_OK) {
			json_decref(tuf);
			st->ops->rollback(st);
			goto fail;
		}
		json_decref(tuf);
	}
	if (st->ops->commit(st, &err) != UPK_OK)
		goto fail;
	store_close(st);
	st = NULL;
	if (config_init(&cfg, &err) != UPK_OK)
		goto fail;
	config_set(&cfg, "database", db, &err);
	config_set(&cfg, "data_dir", data, &err);
	config_set(&cfg, "port", "0", &err);
	config_set(&cfg, "threads", sthreads, &err);
	config_set(&cfg, "log_level", "warn", &err);
	if (server_start(&cfg, &srv, &err) != UPK_OK)
		goto fail;
	r.port = srv->port;

	r.signed_checkin = 1;
	if (fixed == 0) {
		r.signed_checkin = 0;
		measure(&r, nthreads, &base_rate, &b50, &b99, &base_cost);
		r.signed_checkin = 1;
		r.seconds = 1.0; /* warm-up: connections, statement cache */
		measure(&r, nthreads, &rate, &p50, &p99, NULL);
		r.seconds = seconds;
		measure(&r, nthreads, &rate, &p50, &p99, NULL);
		/* Enough pre-signed requests for 15,000/s over the window; the run ends when they do. */
		r.presign = (size_t)(15000.0 * seconds) / nthreads + 1;
	} else {
		/* A fixed amount of work whatever the speed: one warm-up request per thread, then N. */
		r.seconds = 1e9;
		r.presign = 1;
		measure(&r, nthreads, &rate, &p50, &p99, NULL);
		r.presign = (fixed + nthreads - 1) / nthreads;
	}
	measure(&r, nthreads, &pre_rate, &q50, &q99, &cost);
	/* Deferred check-ins reach the file: every device was seen. */
	if (srv->store->ops->flush(srv->store, &err) != UPK_OK)
		goto fail;
	{
		json_t *rows = NULL, *row;
		size_t i;

		if (srv->store->ops->device_list(srv->store, fleet, NULL, &rows, &err) != UPK_OK)
			goto fail;
		json_array_foreach(rows, i, row)
			seen_rows += json_is_integer(json_object_get(row, "last_seen"));
		json_decref(rows);
	}
	server_stop(srv);
	srv = NULL;
	printf("checkin: %zu devices, %zu client threads, %s server threads, %.0f s windows\n"
	       "checkin:   signed by the devices beforehand: %.0f signed check-ins/s (p50 %.2f ms, "
	       "p99 %.2f ms), ratio to baseline %.2f\n"
	       "checkin:   signed by the load generator on the same cores: %.0f/s (p50 %.2f ms, "
	       "p99 %.2f ms), ratio %.2f\n"
	       "checkin:   baseline unsigned GET /v1/health: %.0f/s (p50 %.2f ms, p99 %.2f ms; "
	       "CPU per request: server %.0f us, load generator %.0f us)\n"
	       "checkin:   CPU per pre-signed check-in: server %.0f us, load generator %.0f us: "
	       "at most %.0f/s on %ld cores\n"
	       "checkin:   errors %llu; devices with last_seen on disk %llu/%zu\n",
	       ndev, nthreads, sthreads, seconds, pre_rate, q50 / 1000.0, q99 / 1000.0,
	       pre_rate / base_rate, rate, p50 / 1000.0, p99 / 1000.0, rate / base_rate, base_rate,
	       b50 / 1000.0, b99 / 1000.0, base_cost.server_us, base_cost.client_us, cost.server_us, cost.client_us,
	       cost.server_us + cost.client_us > 0
		       ? (double)ncpu * 1e6 / (cost.server_us + cost.client_us)
		       : 0.0,
	       ncpu, (unsigned long long)atomic_load(&r.errors),
	       (unsigned long long)seen_rows, ndev);
	for (size_t i = 0; i < ndev; i++)
		upk_key_free(r.devs[i].key);
	free(r.devs);
	json_decref(empty);
	json_decref(attrs);
	tu_rmtree(tmp);
	free(tmp);
	curl_global_cleanup();
	return atomic_load(&r.errors) == 0 ? 0 : 1;
fail:
	fprintf(stderr, "bench_checkin: %s\n", err.msg);
	server_stop(srv);
	store_close(st);
	tu_rmtree(tmp);
	return 1;
}
