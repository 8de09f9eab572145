/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's settings: a `key = value` file, overridden by --key value flags
 * with the same names. One table describes every key, so the file parser, the
 * flags, --help and docs/server.md cannot drift apart.
 */
#ifndef UPK_SERVER_CONFIG_H
#define UPK_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "upkeep/error.h"

#define CONFIG_MAX_CREATORS 64
#define CONFIG_MAX_LINE 4096

struct server_config {
	char *listen;            /* address to bind, IPv4 or IPv6 literal */
	int64_t port;            /* 0: an ephemeral port (tests) */
	char *database;          /* the SQLite file */
	char *data_dir;          /* payload files */
	int64_t threads;         /* MHD thread pool size */
	int64_t max_connections;
	int64_t connection_timeout;
	int64_t max_body_bytes;    /* JSON request bodies (metadata uploads included) */
	int64_t max_payload_bytes; /* one uploaded target payload */
	int64_t signature_max_age;
	int64_t signature_max_skew;
	int64_t replay_cache_entries;
	int64_t timestamp_expiry;        /* seconds a server-made timestamp is valid */
	int64_t snapshot_expiry;
	int64_t director_targets_expiry;
	int64_t maintenance_interval;    /* seconds between re-signing passes */
	int64_t shutdown_timeout;        /* seconds to wait for in-flight requests */
	char *log_level;                 /* debug, info, warn, error */
	char *creators[CONFIG_MAX_CREATORS]; /* key ids (64 hex) or public key files */
	size_t n_creators;
};

/* Defaults for every key (strings strdup()ed). */
upk_status config_init(struct server_config *cfg, struct upk_error *err);
void config_free(struct server_config *cfg);

/*
 * Set one key from text, as the file and the flags do. Unknown keys and bad
 * values are UPK_ERR_INVALID naming both; "creator" appends.
 */
upk_status config_set(struct server_config *cfg, const char *key, const char *value,
		      struct upk_error *err);

/* Parse a whole file's text (name for messages): errors carry "name:LINE: ". */
upk_status config_parse_text(struct server_config *cfg, const char *name, const char *text,
			     size_t len, struct upk_error *err);
upk_status config_load_file(struct server_config *cfg, const char *path, struct upk_error *err);

/* Check the combination (required keys present, ranges). */
upk_status config_validate(const struct server_config *cfg, struct upk_error *err);

/* Write one line per key ("  --key VALUE  summary (default ...)") for --help. */
void config_print_help(FILE *out);

#endif
