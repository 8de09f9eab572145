/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How long and how much memory one TUF refresh takes on a realistic
 * repository: 10,000 targets, 3 delegated roles, 10 root rotations, read
 * through the file fetcher. Each measurement runs in a fresh process (this
 * program re-executes itself) so peak RSS is the client's, not the builder's,
 * and is reported beside a baseline from the same run: reading and SHA-256
 * hashing the very files the refresh reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tu_repo.h"
#include "upkeep/client.h"

#define N_TARGETS 10000
#define N_DELEG 3
#define N_ROTATIONS 10
#define RUNS 7

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/*
 * This process's own peak: VmHWM. getrusage()'s ru_maxrss would not do, as
 * Linux carries the high-water mark of the image before execve() into it,
 * so every child would report at least the repository builder's peak.
 */
static double peak_rss_mib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");
	struct rusage ru;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (kib >= 0)
		return (double)kib / 1024.0;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static int die(const char *what, const struct upk_error *e)
{
	fprintf(stderr, "bench_refresh: %s: %s\n", what, e != NULL ? e->msg : strerror(errno));
	return 1;
}

/* ---- the repository ---- */

static int build(const char *dir)
{
	struct tu_repo *r = NULL;
	struct upk_error e = {0};
	char path[64], name[16], pattern[16];
	json_t *hashes;
	upk_status ret;

	ret = tu_repo_new(dir, 1, &r, &e);
	for (int d = 0; d < N_DELEG && ret == UPK_OK; d++) {
		const char *paths[1] = {pattern};

		snprintf(name, sizeof(name), "team%d", d);
		snprintf(pattern, sizeof(pattern), "team%d/*", d);
		ret = tu_repo_delegate(r, "targets", name, paths, 1, 0, 1, 1, &e);
	}
	/* Entries only: the refresh reads metadata, not targets. */
	hashes = json_pack("{s:s}", "sha256",
	                   "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	for (int i = 0; i < N_TARGETS && ret == UPK_OK; i++) {
		int role = i % (N_DELEG + 1);

		if (role == N_DELEG) {
			snprintf(path, sizeof(path), "top/image-%05d.bin", i);
			snprintf(name, sizeof(name), "targets");
		} else {
			snprintf(path, sizeof(path), "team%d/image-%05d.bin", role, i);
			snprintf(name, sizeof(name), "team%d", role);
		}
		ret = upk_targets_set(tu_repo_role(r, name)->md, path, 1000 + i, hashes, NULL, &e);
		tu_repo_role(r, name)->dirty = 1;
	}
	json_decref(hashes);
	for (int i = 0; i < N_ROTATIONS && ret == UPK_OK; i++)
		ret = tu_repo_rotate(r, i % 2 ? "root" : "timestamp", 1, 0, &e);
	if (ret == UPK_OK)
		ret = tu_repo_publish(r, &e);
	tu_repo_free(r);
	return ret == UPK_OK ? 0 : die("building the repository", &e);
}

/* ---- measured children ---- */

static int run_refresh(const char *repo, const char *client, int warm)
{
	struct upk_fetcher file;
	struct upk_client *c = NULL;
	struct upk_error e = {0};
	char murl[4200], root[4200];
	struct upk_client_config cfg = {
	    .metadata_dir = client, .metadata_url = murl, .fetcher = &file};
	double t0, t1, cpu0;
	size_t len;
	char *buf;
	FILE *f;

	upk_fetcher_file_init(&file);
	snprintf(murl, sizeof(murl), "file://%s/metadata/", repo);
	if (!warm) {
		snprintf(root, sizeof(root), "%s/metadata/1.root.json", repo);
		f = fopen(root, "rb");
		if (f == NULL)
			return die(root, NULL);
		buf = malloc(1 << 20);
		len = fread(buf, 1, 1 << 20, f);
		fclose(f);
		mkdir(client, 0755);
		if (upk_client_bootstrap(client, buf, len, &e) != UPK_OK)
			return die("bootstrap", &e);
		free(buf);
	}
	t0 = now_ms();
	cpu0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
	if (upk_client_new(&cfg, &c, &e) != UPK_OK || upk_client_refresh(c, &e) != UPK_OK)
		return die("refresh", &e);
	/* One lookup per delegated role loads every role of the repository. */
	for (int d = 0; d < N_DELEG; d++) {
		struct upk_client_target *t = NULL;
		char path[64];

		snprintf(path, sizeof(path), "team%d/image-%05d.bin", d, d);
		if (upk_client_find_target(c, path, &t, &e) != UPK_OK)
			return die(path, &e);
		upk_client_target_free(t);
	}
	upk_client_free(c);
	t1 = now_ms();
	/* CPU time beside wall time: other jobs on the machine only stretch the latter. */
	printf("%.3f %.2f %.3f\n", t1 - t0, peak_rss_mib(),
	       clock_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
	return 0;
}

/* The baseline: read and SHA-256 every file the refresh reads, nothing else. */
static int run_baseline(const char *repo)
{
	const char *fixed[] = {"timestamp.json", "snapshot.json", "targets.json",
	                       "team0.json",     "team1.json",    "team2.json"};
	const int n_fixed = (int)(sizeof(fixed) / sizeof(fixed[0]));
	char path[4400];
	static char block[65536];
	double t0 = now_ms();
	int64_t snap = 0;

	/* N.root.json for every version there is, then the other roles. */
	for (int i = 1; i <= N_ROTATIONS + 1 + n_fixed; i++) {
		char name[64];
		struct stat st;

		if (i <= N_ROTATIONS + 1)
			snprintf(name, sizeof(name), "%d.root.json", i);
		else
			snprintf(name, sizeof(name), "%s", fixed[i - N_ROTATIONS - 2]);
		snprintf(path, sizeof(path), "%s/metadata/%s", repo, name);
		if (stat(path, &st) != 0)
			continue;
		{
			FILE *f = fopen(path, "rb");
			uint8_t d[UPK_HASH_MAX_LEN];
			struct upk_hash *h = NULL;
			size_t n;

			upk_hash_new(UPK_HASH_SHA256, &h, NULL);
			while ((n = fread(block, 1, sizeof(block), f)) > 0)
				upk_hash_update(h, block, n, NULL);
			upk_hash_final(h, d, NULL);
			upk_hash_free(h);
			fclose(f);
			snap += st.st_size;
		}
	}
	printf("%.3f %.2f %lld\n", now_ms() - t0, peak_rss_mib(), (long long)snap);
	return 0;
}

/* Run this program again with args; parse "ms rss [cpu-ms or bytes]". */
static int child(char *const argv[], double *ms, double *rss, double *extra)
{
	int fds[2];
	pid_t pid;
	char out[256] = "";
	ssize_t n;
	int status;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	out[n] = '\0';
	*extra = 0;
	return sscanf(out, "%lf %lf %lf", ms, rss, extra) >= 2 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/upk-bench-refresh-XXXXXX";
	char repo[64], client[64], cmd[200];
	double cold[RUNS], cpu[RUNS], warm[RUNS], base[RUNS], r;
	double rss = 0, warm_rss = 0, base_rss = 0;
	double bytes = 0;
	char *dir;

	if (argc == 4 && strcmp(argv[1], "--refresh") == 0)
		return run_refresh(argv[2], argv[3], 0);
	if (argc == 4 && strcmp(argv[1], "--warm") == 0)
		return run_refresh(argv[2], argv[3], 1);
	if (argc == 3 && strcmp(argv[1], "--baseline") == 0)
		return run_baseline(argv[2]);
	/* For profiling: make the repository and keep it. */
	if (argc == 3 && strcmp(argv[1], "--build") == 0)
		return mkdir(argv[2], 0755) != 0 && errno != EEXIST ? die(argv[2], NULL)
		                                                    : build(argv[2]);

	dir = mkdtemp(tmpl);
	if (dir == NULL)
		return die("mkdtemp", NULL);
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	mkdir(repo, 0755);
	if (build(repo) != 0)
		return 1;
	for (int i = 0; i < RUNS; i++) {
		char *a_base[] = {argv[0], "--baseline", repo, NULL};
		char *a_cold[] = {argv[0], "--refresh", repo, client, NULL};
		char *a_warm[] = {argv[0], "--warm", repo, client, NULL};

		snprintf(client, sizeof(client), "%s/client%d", dir, i);
		if (child(a_base, &base[i], &base_rss, &bytes) != 0 ||
		    child(a_cold, &cold[i], &r, &cpu[i]) != 0)
			return die("measuring", NULL);
		rss = r > rss ? r : rss;
		if (child(a_warm, &warm[i], &r, &bytes) != 0)
			return die("measuring", NULL);
		warm_rss = r > warm_rss ? r : warm_rss;
	}
	qsort(cold, RUNS, sizeof(double), cmp_double);
	qsort(cpu, RUNS, sizeof(double), cmp_double);
	qsort(warm, RUNS, sizeof(double), cmp_double);
	qsort(base, RUNS, sizeof(double), cmp_double);
	/* Medians; the baseline process's RSS is what any process here costs. */
	printf("bench_refresh: %d targets, %d delegated roles, %d root rotations (file fetcher)\n",
	       N_TARGETS, N_DELEG, N_ROTATIONS);
	printf("bench_refresh: refresh %.1f ms (%.1f ms CPU), peak RSS %.1f MiB (target < 50 ms, "
	       "< 8 MiB)\n",
	       cold[RUNS / 2], cpu[RUNS / 2], rss);
	printf("bench_refresh: baseline read+sha256 of the same files %.2f ms, peak RSS %.1f MiB\n",
	       base[RUNS / 2], base_rss);
	printf("bench_refresh: ratio refresh/baseline %.1fx time, %.2fx RSS\n",
	       cold[RUNS / 2] / (base[RUNS / 2] > 0 ? base[RUNS / 2] : 1e-3), rss / base_rss);
	printf("bench_refresh: unchanged-repository refresh %.1f ms, peak RSS %.1f MiB\n",
	       warm[RUNS / 2], warm_rss);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
