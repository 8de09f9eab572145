/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeep-server: a thin main over upkeep-server-core. Reads the config file
 * and flags, starts the server, and waits for SIGTERM/SIGINT to stop it
 * gracefully (in-flight requests finish, the database is closed).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "server.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: upkeep-server [--config FILE] [--KEY VALUE]...\n"
		"\n"
		"Serves fleets of upkeep devices: image repositories, per-device director\n"
		"metadata, the device API and the owner API (docs/server.md).\n"
		"\n"
		"  --config FILE                `key = value` lines with the keys below\n"
		"                               (flags override the file)\n"
		"  --help                       this text\n"
		"\n"
		"Keys (as flags, '_' may be written '-'):\n");
	config_print_help(out);
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	struct server *srv = NULL;
	struct upk_error err = {0};
	sigset_t set;
	int sig = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	if (config_init(&cfg, &err) != UPK_OK) {
		fprintf(stderr, "upkeep-server: %s\n", err.msg);
		return 1;
	}
	/* The file first, wherever --config appears, so flags override it. */
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 &&
		    config_load_file(&cfg, argv[i + 1], &err) != UPK_OK) {
			fprintf(stderr, "upkeep-server: %s\n", err.msg);
			config_free(&cfg);
			return 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		char key[64];

		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc || strlen(argv[i]) >= 66) {
			fprintf(stderr, "upkeep-server: unexpected argument \"%s\" (see --help)\n",
				argv[i]);
			config_free(&cfg);
			return 2;
		}
		snprintf(key, sizeof(key), "%s", argv[i] + 2);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (strcmp(key, "config") != 0 && config_set(&cfg, key, argv[i + 1], &err) != UPK_OK) {
			fprintf(stderr, "upkeep-server: --%s: %s\n", argv[i] + 2, err.msg);
			config_free(&cfg);
			return 2;
		}
		i++;
	}
	/* Block the signals before threads start so only sigwait() below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (server_start(&cfg, &srv, &err) != UPK_OK) {
		fprintf(stderr, "upkeep-server: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "upkeep-server: ready on port %u\n", srv->port);
	sigwait(&set, &sig);
	server_stop(srv);
	return 0;
}
