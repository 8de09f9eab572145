/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers of the JSON request bodies, one per endpoint, pure functions of the
 * bytes (the fuzzers drive them directly). Strict: unknown members, wrong
 * types and values over their limits are UPK_ERR_INVALID / UPK_ERR_TOO_LARGE
 * naming the member. Outputs hold new references; *_clear() frees them.
 */
#ifndef UPK_SERVER_API_PARSE_H
#define UPK_SERVER_API_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "upkeep/crypto.h"
#include "upkeep/error.h"

#define API_MAX_NAME 63          /* fleet names */
#define API_MAX_MAP_ENTRIES 64   /* tags, attributes, installed */
#define API_MAX_MAP_KEY 64
#define API_MAX_MAP_VALUE 256
#define API_MAX_HWID 128
#define API_MAX_REASON 1024
#define API_MAX_LOG_TAIL 65536
#define API_MAX_PREAUTH 1000
#define API_MAX_TARGET_PATH 4096
#define API_MAX_PHASES 20
#define API_MAX_SOAK (366 * 86400) /* seconds; a longer soak is a paused rollout */
#define API_MAX_EVENTS 16        /* device events per check-in */

struct fleet_create_req {
	char name[API_MAX_NAME + 1];
	char keyset[65];
	json_t *image_root;    /* signed root envelopes, as objects */
	json_t *director_root;
};

struct key_add_req {
	json_t *public_key; /* an ed25519 TUF key object */
	char keyid[UPK_KEYID_HEX_LEN + 1];
	char role[16];
};

struct enrol_req {
	json_t *public_key;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	char hardware_id[API_MAX_HWID + 1];
	json_t *attributes; /* object of strings, never NULL after parsing */
};

struct checkin_req {
	char hardware_id[API_MAX_HWID + 1]; /* "" when absent */
	json_t *installed;  /* NULL when absent */
	int64_t free_space; /* -1 when absent */
	json_t *attributes; /* NULL when absent */
	/*
	 * NULL when absent; else 1..API_MAX_EVENTS objects {"kind":
	 * "private-data-wiped", "reason": "transfer"|"factory-reset",
	 * "transfer"?: 32 hex, "at": RFC 3339 UTC}, each checked.
	 */
	json_t *events;
};

struct status_req {
	char state[16]; /* downloading, installing, rebooting, success, failure */
	char *reason;   /* NULL when absent; required for failure */
	char *log_tail;
};

struct tags_req {
	json_t *tags;
};

struct preauth_req {
	json_t *devices; /* array of {"id": keyid, "tags": {...}} with tags filled in */
};

struct assign_req {
	char *target;
};

/*
 * A rollout. Percentages arrive as integers or as strings with at most two
 * decimals ("0.5": request bodies are canonical JSON, without reals) and
 * are kept as basis points (1 % = 100), the unit of selector buckets. Phases: 1..API_MAX_PHASES, percent strictly increasing in
 * (0, 100], soak in [0, API_MAX_SOAK] seconds.
 */
struct rollout_phase {
	int64_t percent_bp;
	int64_t soak;
};

struct rollout_create_req {
	char name[65];       /* defaults to the target path's last 64 bytes */
	char *target;
	char *selector;      /* NULL when absent; validated by upk_selector_parse */
	struct rollout_phase phases[API_MAX_PHASES];
	size_t n_phases;
	int64_t failure_threshold_bp; /* default 10 % */
	int64_t success_ratio_bp;     /* default 100 % - failure_threshold */
};

upk_status parse_rollout_create(const void *buf, size_t len, struct rollout_create_req *out,
				struct upk_error *err);
void rollout_create_req_clear(struct rollout_create_req *r);

upk_status parse_fleet_create(const void *buf, size_t len, struct fleet_create_req *out,
			      struct upk_error *err);
void fleet_create_req_clear(struct fleet_create_req *r);
upk_status parse_key_add(const void *buf, size_t len, struct key_add_req *out,
			 struct upk_error *err);
void key_add_req_clear(struct key_add_req *r);
upk_status parse_enrol(const void *buf, size_t len, struct enrol_req *out, struct upk_error *err);
void enrol_req_clear(struct enrol_req *r);
upk_status parse_checkin(const void *buf, size_t len, struct checkin_req *out,
			 struct upk_error *err);
void checkin_req_clear(struct checkin_req *r);
upk_status parse_status(const void *buf, size_t len, struct status_req *out,
			struct upk_error *err);
void status_req_clear(struct status_req *r);
upk_status parse_tags(const void *buf, size_t len, struct tags_req *out, struct upk_error *err);
void tags_req_clear(struct tags_req *r);
upk_status parse_preauth(const void *buf, size_t len, struct preauth_req *out,
			 struct upk_error *err);
void preauth_req_clear(struct preauth_req *r);
upk_status parse_assign(const void *buf, size_t len, struct assign_req *out,
			struct upk_error *err);
void assign_req_clear(struct assign_req *r);

/*
 * Shared by every parser: a JSON object with only the allowed members
 * (NULL-terminated list), and the key id of an ed25519 TUF key object.
 */
upk_status api_parse_object(const void *buf, size_t len, const char *const *allowed, json_t **out,
			    struct upk_error *err);
upk_status api_public_key_id(const json_t *obj, char keyid[UPK_KEYID_HEX_LEN + 1],
			     struct upk_error *err);

/*
 * Ownership transfer (docs/ownership.md). The request names a key set and
 * carries both transfer roots as objects; the record is the "upkeep_transfer"
 * member of each root's "signed", parsed by upk_transfer_record_parse().
 */

struct transfer_req {
	char keyset[33];
	json_t *image_root; /* signed root envelopes, as objects */
	json_t *director_root;
};


upk_status parse_transfer(const void *buf, size_t len, struct transfer_req *out,
			  struct upk_error *err);
void transfer_req_clear(struct transfer_req *r);

/* Shared checks. */
int api_valid_fleet_name(const char *s);
int api_valid_keyid(const char *s);
int api_valid_hwid(const char *s);
/* A delegated role name as the owner tool allows: [A-Za-z0-9._-], 1-64, no leading digit. */
int api_valid_role_name(const char *s);

#endif
