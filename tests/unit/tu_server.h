/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An upkeep-server for the server tests: in-process on a free loopback port
 * (tf_server_start), or the real binary in a child process (tf_spawn) that a
 * test can SIGKILL and start again on the same database. Header-only, like
 * tu_fleet.h; the child of a failed test is killed by tf_kill_spawned (a
 * cmocka teardown).
 */
#ifndef UPK_TU_SERVER_H
#define UPK_TU_SERVER_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "server.h"
#include "tu_fleet.h"

#define TF_MAX_CREATORS 4

/* Database, data directory and creator public key files of a server under test. */
struct tf_server {
	const char *db, *data;
	const char *creators[TF_MAX_CREATORS];
	size_t n_creators;
};

static inline void tf_cfg(struct server_config *cfg, const char *name, const char *value)
{
	struct upk_error e = {0};

	if (config_set(cfg, name, value, &e) != UPK_OK)
		fail_msg("config %s: %s", name, e.msg);
}

/* Started in this process; maintenance passes run only when the test calls them. */
static inline struct server *tf_server_start(const struct tf_server *s)
{
	struct server_config cfg;
	struct upk_error err = {0};
	struct server *srv = NULL;

	if (config_init(&cfg, &err) != UPK_OK)
		fail_msg("config_init: %s", err.msg);
	tf_cfg(&cfg, "database", s->db);
	tf_cfg(&cfg, "data_dir", s->data);
	tf_cfg(&cfg, "port", "0");
	tf_cfg(&cfg, "threads", "2");
	tf_cfg(&cfg, "log_level", getenv("UPK_LOG") ? getenv("UPK_LOG") : "warn");
	tf_cfg(&cfg, "maintenance_interval", "3600");
	for (size_t i = 0; i < s->n_creators; i++)
		tf_cfg(&cfg, "creator", s->creators[i]);
	if (server_start(&cfg, &srv, &err) != UPK_OK)
		fail_msg("server_start: %s", err.msg);
	return srv;
}

/* The running child, killed by the teardown when an assertion fails. */
static pid_t tf_spawned = -1;

static inline int tf_kill_spawned(void **state)
{
	(void)state;
	if (tf_spawned > 0) {
		kill(tf_spawned, SIGKILL);
		waitpid(tf_spawned, NULL, 0);
		tf_spawned = -1;
	}
	return 0;
}

/* The real binary, stderr to log; returns its pid once it said "ready on port N". */
static inline pid_t tf_spawn(const struct tf_server *s, const char *log, unsigned *port)
{
	char bin[4200];
	const char *argv[12 + 2 * TF_MAX_CREATORS];
	size_t n = 0;

	snprintf(bin, sizeof(bin), "%s/server/upkeep-server", tf_build_dir());
	argv[n++] = bin;
	argv[n++] = "--database";
	argv[n++] = s->db;
	argv[n++] = "--data-dir";
	argv[n++] = s->data;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--threads";
	argv[n++] = "2";
	for (size_t i = 0; i < s->n_creators; i++) {
		argv[n++] = "--creator";
		argv[n++] = s->creators[i];
	}
	argv[n] = NULL;
	tf_spawned = tu_spawn_server((char *const *)argv, log, port);
	return tf_spawned;
}

/* Stop the child: by SIGKILL (it must die by the signal) or SIGTERM (it must exit 0). */
static inline void tf_stop(pid_t pid, int sig)
{
	int st = 0;

	kill(pid, sig);
	waitpid(pid, &st, 0);
	tf_spawned = -1;
	if (sig == SIGKILL)
		assert_true(WIFSIGNALED(st));
	else
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

#endif
