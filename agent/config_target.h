/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Targets of type `config` (docs/ownership.md, "Configuration targets and
 * server migration"): an owner-signed JSON object that moves the device to
 * another server, sets the factory-reset policy and the poll interval. This
 * is its strict parser and the state it becomes; update.c downloads,
 * verifies, probes and commits it.
 */
#ifndef UPKEEP_AGENT_CONFIG_TARGET_H
#define UPKEEP_AGENT_CONFIG_TARGET_H

#include <stddef.h>
#include <jansson.h>

#include "journal.h"
#include "upkeep/error.h"

#define CONFIG_TARGET_MAX_BYTES (64u * 1024u)
#define CONFIG_URL_MAX 512u
#define CONFIG_POLL_MIN 30u
#define CONFIG_POLL_MAX (7u * 86400u)

struct config_payload {
	char server[CONFIG_URL_MAX + 1]; /* "" when absent */
	int factory_reset_allow;         /* 1: allow (the default), 0: deny */
	unsigned poll_interval_s;        /* 0 when absent */
};

/*
 * Parse buf[0..len) strictly: a JSON object with "upkeep_config": 1 and
 * optional "server" (an http(s) fleet URL ending in /v1/fleets/NAME),
 * "factory_reset" ("allow" or "deny") and "poll_interval" ("30s" to "7d");
 * anything else, a duplicate member or more than CONFIG_TARGET_MAX_BYTES is
 * refused with a message naming the member.
 */
upk_status config_payload_parse(const void *buf, size_t len, struct config_payload *out,
                                struct upk_error *err);

/* 1 when url is "http[s]://AUTHORITY/.../v1/fleets/NAME" with nothing else (no query, no blanks). */
int config_fleet_url_ok(const char *url);

/*
 * Set the state for an applied config target (not committed): "config"
 * {"target", "version", "sha256", "server"?, "factory_reset",
 * "poll_interval"? (seconds)} and, when the payload names one, "server".
 */
upk_status config_target_record(struct journal *j, const struct config_payload *p,
                                const char *target, const char *version, const char *sha256,
                                struct upk_error *err);

/* The fleet URL the device talks to: state "server", else the configured one (may be NULL). */
const char *config_current_server(const struct journal *j, const char *configured);

/* The poll interval a config target set, else configured (seconds). */
unsigned config_current_poll(const struct journal *j, unsigned configured);

#endif
