/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeepd, the front-end users and systemd run. It links only libc, so the
 * daemon that sleeps between cycles stays small: every command is executed
 * by the agent core (upkeepd-core, which maps OpenSSL, jansson, zstd and the
 * bootloader libraries), and `daemon` is a loop here that runs each cycle as
 * a child core process, sleeps the poll interval with jitter, backs off
 * after failures and forwards SIGTERM.
 *
 * The core is $UPKEEPD_CORE, else upkeepd-core beside this program, else the
 * installed UPKEEPD_CORE_PATH.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schedule.h"

#ifndef UPKEEPD_CORE_PATH
#define UPKEEPD_CORE_PATH "/usr/libexec/upkeep/upkeepd-core"
#endif

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static const char *core_path(char *buf, size_t cap)
{
	const char *env = getenv("UPKEEPD_CORE");
	ssize_t n;
	char *slash;

	if (env != NULL && env[0] != '\0')
		return env;
	n = readlink("/proc/self/exe", buf, cap - sizeof("upkeepd-core"));
	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash != NULL) {
			strcpy(slash + 1, "upkeepd-core");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return UPKEEPD_CORE_PATH;
}

static int exec_core(const char *core, char **argv)
{
	execv(core, argv);
	fprintf(stderr, "upkeepd: cannot run the agent core %s: %s\n", core, strerror(errno));
	return 1;
}

/* What one cycle said: its line, or why there is none. */
struct cycle_result {
	int fatal;     /* set up failed (configuration, state, key): retrying cannot help */
	int ok;        /* the cycle ran and succeeded */
	int rebooting; /* the reboot command is running: nothing more to do */
	unsigned poll_s;
	char msg[1100];
};

/* Pass a stop request on to the running cycle, once. */
static void forward_stop(pid_t pid, int *forwarded)
{
	if (stop_signal != 0 && !*forwarded) {
		kill(pid, stop_signal);
		*forwarded = 1;
	}
}

/* Read the cycle's line from fd until EOF (bounded; the rest is drained). */
static void read_line(int fd, pid_t pid, int *forwarded, char *line, size_t cap)
{
	char drain[256];
	size_t len = 0;

	for (;;) {
		ssize_t n;

		forward_stop(pid, forwarded);
		n = len < cap - 1 ? read(fd, line + len, cap - 1 - len)
		                  : read(fd, drain, sizeof(drain));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < cap - 1)
			len += (size_t)n;
	}
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
}

static void parse_result(const char *line, int status, struct cycle_result *r)
{
	char word[16] = "", outcome[16] = "";
	int off = 0;

	memset(r, 0, sizeof(*r));
	if (sscanf(line, "%15s %u %15s %n", word, &r->poll_s, outcome, &off) < 3 ||
	    r->poll_s == 0) {
		/* No line: the core stopped before its cycle. */
		if (WIFSIGNALED(status)) {
			snprintf(r->msg, sizeof(r->msg), "the agent core was killed by signal %d",
			         WTERMSIG(status));
			return; /* a crash of the cycle: retried with backoff */
		}
		r->fatal = 1;
		return;
	}
	r->ok = strcmp(word, "ok") == 0;
	r->rebooting = strcmp(outcome, "rebooting") == 0;
	if (!r->ok)
		snprintf(r->msg, sizeof(r->msg), "%s", off > 0 ? line + off : "");
	else if (strcmp(outcome, "idle") != 0)
		snprintf(r->msg, sizeof(r->msg), "%s", outcome);
}

/* One cycle in a child core process; SIGTERM/SIGINT are passed on to it. */
static void run_cycle(const char *core, char **argv, struct cycle_result *r)
{
	char fdnum[16], line[1200];
	int p[2], status = 0, forwarded = 0;
	pid_t pid, self = getpid();

	if (pipe2(p, O_CLOEXEC) != 0) {
		memset(r, 0, sizeof(*r));
		snprintf(r->msg, sizeof(r->msg), "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* The cycle must not outlive the daemon (SIGKILL of the service included). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(1); /* it died before prctl took effect */
		/* Only the write end goes to the core (which keeps it from its own children). */
		fcntl(p[1], F_SETFD, 0);
		snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
		setenv(DAEMON_CYCLE_FD_ENV, fdnum, 1);
		_exit(exec_core(core, argv));
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		memset(r, 0, sizeof(*r));
		snprintf(r->msg, sizeof(r->msg), "fork: %s", strerror(errno));
		return;
	}
	read_line(p[0], pid, &forwarded, line, sizeof(line));
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		forward_stop(pid, &forwarded);
	parse_result(line, status, r);
}

static int daemon_loop(const char *core, char **argv, int no_reboot)
{
	struct sigaction sa;
	unsigned failures = 0, poll_s = 3600;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waits and sleeps end at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (stop_signal == 0) {
		struct cycle_result r;
		unsigned delay, rnd = 0;

		run_cycle(core, argv, &r);
		if (stop_signal != 0)
			break;
		if (r.fatal)
			return 1; /* the core said why on stderr */
		if (r.poll_s > 0)
			poll_s = r.poll_s;
		if (!r.ok) {
			failures++;
			fprintf(stderr, "upkeepd: check failed (%u in a row): %s\n", failures,
			        r.msg);
		} else {
			failures = 0;
			if (r.msg[0] != '\0')
				fprintf(stderr, "upkeepd: check: %s\n", r.msg);
			if (r.rebooting && !no_reboot)
				break; /* the reboot command runs */
		}
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd = (unsigned)getpid();
		delay = daemon_delay_s(failures, poll_s, rnd);
		for (unsigned s = 0; s < delay && stop_signal == 0; s++)
			sleep(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char buf[PATH_MAX];
	const char *core = core_path(buf, sizeof(buf));
	int i = 1, no_reboot = 0;

	/* Global options; anything unusual is the core's to judge (and explain). */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			i += 2;
		else if (strncmp(argv[i], "--config=", 9) == 0)
			i++;
		else
			return exec_core(core, argv);
	}
	if (i >= argc || strcmp(argv[i], "daemon") != 0)
		return exec_core(core, argv);
	for (int k = i + 1; k < argc; k++) {
		if (strcmp(argv[k], "--no-reboot") != 0)
			return exec_core(core, argv); /* --help, or a usage error */
		no_reboot = 1;
	}
	return daemon_loop(core, argv, no_reboot);
}
