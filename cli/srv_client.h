/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner tool's side of upkeep-server: a small HTTP client on libcurl
 * that signs every request with RFC 9421 (include/upkeep/httpsig.h) using
 * the owner's key, the options every server command shares (--server,
 * --key, --fleet, --json, with UPKEEP_* environment variables), and error
 * messages that carry the server's own explanation.
 */
#ifndef UPK_CLI_SRV_CLIENT_H
#define UPK_CLI_SRV_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "cli.h"
#include "upkeep/error.h"

/* The options of every server command, for the tables of cmd_server_*.c. */
#define SRV_COMMON_OPTS                                                                            \
	{"server", "URL", "server base URL, e.g. http://127.0.0.1:8080 (or $UPKEEP_SERVER)", 0},  \
	{"key", "FILE", "owner private key file (or $UPKEEP_KEY)", 0},                           \
	{"passphrase-file", "FILE", "passphrase of an encrypted key (or $UPKEEP_PASSPHRASE)", 0}, \
	{"json", NULL, "print the server's answer as JSON", 0}
#define SRV_FLEET_OPT {"fleet", "NAME", "the fleet (or $UPKEEP_FLEET)", 0}

/* Largest answer read from the server (JSON lists included). */
#define SRV_MAX_RESPONSE (64u * 1024u * 1024u)

struct srv_conn;

/*
 * Connect the options of a parsed command line: server URL and key (from
 * the options or the environment; both required), fleet (required when
 * need_fleet). Nothing goes over the network yet.
 */
upk_status srv_open(const struct cli_args *a, int need_fleet, struct srv_conn **out,
		    struct upk_error *err);
/* The same without a key, for public GETs only (srv_get_public). */
upk_status srv_open_public(const struct cli_args *a, int need_fleet, struct srv_conn **out,
			   struct upk_error *err);
void srv_close(struct srv_conn *c);

/* The fleet name given, or NULL. */
const char *srv_fleet(const struct srv_conn *c);
/* 1 when --json was given. */
int srv_json(const struct srv_conn *c);

/*
 * Send a signed request: path is absolute ("/v1/fleets/acme/devices"),
 * body may be NULL. A 2xx answer's JSON goes to *out (may be NULL;
 * json_null() when the body was not JSON); any other status is an error
 * naming the method, path, status and the server's message (UPK_ERR_NOT_FOUND
 * for 404, UPK_ERR_INVALID otherwise; UPK_ERR_IO when unreachable).
 * *status (may be NULL) gets the HTTP status.
 */
upk_status srv_call(struct srv_conn *c, const char *method, const char *path, const char *body,
		    long *status, json_t **out, struct upk_error *err);

/*
 * PUT a file as the body of path, streaming it (hashed first, for the
 * signature's content-digest). A progress bar goes to stderr when it is a
 * terminal; label names the file in it.
 */
upk_status srv_put_file(struct srv_conn *c, const char *path, const char *file,
			const char *label, json_t **out, struct upk_error *err);

/*
 * An unsigned GET of a public file (a repository's metadata): its bytes
 * (NUL-terminated, malloc()ed) on 200, UPK_ERR_NOT_FOUND on 404.
 */
upk_status srv_get_public(struct srv_conn *c, const char *path, char **body, size_t *len,
			  struct upk_error *err);

/* 1 when an unsigned GET of path answers 200 (a public repository file exists). */
upk_status srv_exists(struct srv_conn *c, const char *path, int *exists, struct upk_error *err);

/*
 * Append s to a path. how: SRV_ENCODE percent-encodes every byte outside
 * [A-Za-z0-9._~-] (one path segment or query value), SRV_KEEP_SLASH keeps
 * '/' too (a target path), SRV_RAW copies s as it is (fixed text such as
 * "/devices" or "?status="). Returns 0, or -1 when out is too small.
 */
enum srv_append { SRV_ENCODE = 0, SRV_KEEP_SLASH = 1, SRV_RAW = 2 };
int srv_path_append(char *out, size_t size, const char *s, enum srv_append how);

/* Print the answer as JSON (--json) and free it; returns the exit status. */
int srv_print_json(json_t *answer);

#endif
