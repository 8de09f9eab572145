/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request body parsers. Everything here came from the network, so every
 * string and collection has a hard maximum, and unknown members are refused
 * (a typo in "tags" must not silently do nothing).
 */
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "upkeep/crypto.h"
#include "upkeep/json.h"
#include "upkeep/metadata.h"
#include "upkeep/selector.h"
#include "upkeep/transfer.h"

/* Is s in the NULL-terminated set? */
static int one_of(const char *const *set, const char *s)
{
	for (size_t i = 0; set[i] != NULL; i++)
		if (strcmp(set[i], s) == 0)
			return 1;
	return 0;
}

static upk_status parse_object(const void *buf, size_t len, const char *const *allowed,
			       json_t **out, struct upk_error *err)
{
	struct upk_json_limits lim = {.max_bytes = 0, .max_depth = 16};
	json_t *doc = NULL;
	const char *key;
	json_t *v;
	upk_status ret = upk_json_parse(buf, len, &lim, &doc, err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "request body: ");
	if (!json_is_object(doc)) {
		json_decref(doc);
		return upk_error_set(err, UPK_ERR_INVALID, "request body is not a JSON object");
	}
	json_object_foreach(doc, key, v) {
		if (!one_of(allowed, key)) {
			ret = upk_error_set(err, UPK_ERR_INVALID, "unknown member \"%.64s\"", key);
			json_decref(doc);
			return ret;
		}
	}
	*out = doc;
	return UPK_OK;
}

static int charset(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

int api_valid_fleet_name(const char *s)
{
	return upk_fleet_name_valid(s);
}

int api_valid_keyid(const char *s)
{
	size_t n = strlen(s);

	if (n != UPK_KEYID_HEX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int api_valid_hwid(const char *s)
{
	return charset(s, 1, API_MAX_HWID, "._:+-");
}

int api_valid_role_name(const char *s)
{
	return charset(s, 1, 64, "._-") && !(s[0] >= '0' && s[0] <= '9') &&
	       strcmp(s, "root") != 0 && strcmp(s, "targets") != 0 &&
	       strcmp(s, "snapshot") != 0 && strcmp(s, "timestamp") != 0;
}

static upk_status get_string(const json_t *doc, const char *name, int required, size_t max,
			     const char **out, struct upk_error *err)
{
	const json_t *v = json_object_get(doc, name);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return upk_error_set(err, UPK_ERR_INVALID, "missing member \"%s\"", name);
		return UPK_OK;
	}
	if (!json_is_string(v))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not a string", name);
	if (json_string_length(v) > max)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "\"%s\" is longer than %zu bytes", name,
				     max);
	*out = json_string_value(v);
	return UPK_OK;
}

/* An object of at most API_MAX_MAP_ENTRIES strings with bounded keys and values. */
static upk_status check_map(const json_t *v, const char *name, int versions,
			    struct upk_error *err)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not an object", name);
	if (json_object_size(v) > API_MAX_MAP_ENTRIES)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "\"%s\" has more than %d entries", name,
				     API_MAX_MAP_ENTRIES);
	json_object_foreach((json_t *)v, key, val) {
		if (!charset(key, 1, API_MAX_MAP_KEY, "._:/+-"))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "\"%s\": key \"%.64s\" is not 1-%d bytes of "
					     "[A-Za-z0-9._:/+-]",
					     name, key, API_MAX_MAP_KEY);
		if (!json_is_string(val))
			return upk_error_set(err, UPK_ERR_INVALID, "\"%s\".\"%s\" is not a string",
					     name, key);
		if (json_string_length(val) > API_MAX_MAP_VALUE)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
					     "\"%s\".\"%s\" is longer than %d bytes", name, key,
					     API_MAX_MAP_VALUE);
		if (versions) {
			struct upk_error e2 = {0};

			/* Selectors compare these; an invalid one would fail them all later. */
			if (upk_version_validate(json_string_value(val), &e2) != UPK_OK)
				return upk_error_set(err, UPK_ERR_INVALID, "\"%s\".\"%s\": %s", name,
						     key, e2.msg);
		}
	}
	return UPK_OK;
}

static upk_status check_public_key(const json_t *obj, char keyid[UPK_KEYID_HEX_LEN + 1],
				   struct upk_error *err)
{
	struct upk_key *key = NULL;
	upk_status ret;

	if (!json_is_object(obj))
		return upk_error_set(err, UPK_ERR_INVALID, "\"public_key\" is not a TUF key object");
	ret = upk_key_from_tuf(obj, &key, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "public_key: ");
	if (upk_key_type(key) != UPK_KEY_ED25519)
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED, "public_key: must be ed25519");
	if (ret == UPK_OK)
		ret = upk_key_id(key, keyid, err);
	upk_key_free(key);
	return ret;
}

/* ---- fleets and keys ---- */

/* A key set id and two root objects, as fleet creation and transfers take them. */
static upk_status keyset_and_roots(const json_t *doc, char *keyset_out, size_t size,
				   json_t **image_root, json_t **director_root,
				   struct upk_error *err)
{
	const char *keyset;
	upk_status ret = get_string(doc, "keyset", 1, 64, &keyset, err);

	if (ret == UPK_OK && !charset(keyset, 32, 32, ""))
		ret = upk_error_set(err, UPK_ERR_INVALID, "keyset \"%s\" is not a key set id", keyset);
	if (ret == UPK_OK && (!json_is_object(json_object_get(doc, "image_root")) ||
			      !json_is_object(json_object_get(doc, "director_root"))))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "image_root and director_root must be signed root objects");
	if (ret == UPK_OK) {
		snprintf(keyset_out, size, "%s", keyset);
		*image_root = json_incref(json_object_get(doc, "image_root"));
		*director_root = json_incref(json_object_get(doc, "director_root"));
	}
	return ret;
}

upk_status parse_fleet_create(const void *buf, size_t len, struct fleet_create_req *out,
			      struct upk_error *err)
{
	static const char *const ALLOWED[] = {"name", "keyset", "image_root", "director_root",
					      NULL};
	json_t *doc = NULL;
	const char *name;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = get_string(doc, "name", 1, API_MAX_NAME, &name, err);
	if (ret == UPK_OK && !api_valid_fleet_name(name))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "name \"%s\" is not 1-%d bytes of [a-z0-9-] (not starting with -)",
				    name, API_MAX_NAME);
	if (ret == UPK_OK)
		ret = keyset_and_roots(doc, out->keyset, sizeof(out->keyset), &out->image_root,
				       &out->director_root, err);
	if (ret == UPK_OK)
		snprintf(out->name, sizeof(out->name), "%s", name);
	json_decref(doc);
	return ret;
}

void fleet_create_req_clear(struct fleet_create_req *r)
{
	json_decref(r->image_root);
	json_decref(r->director_root);
	memset(r, 0, sizeof(*r));
}

upk_status parse_key_add(const void *buf, size_t len, struct key_add_req *out,
			 struct upk_error *err)
{
	static const char *const ALLOWED[] = {"public_key", "role", NULL};
	json_t *doc = NULL;
	const char *role;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = check_public_key(json_object_get(doc, "public_key"), out->keyid, err);
	if (ret == UPK_OK)
		ret = get_string(doc, "role", 1, 15, &role, err);
	if (ret == UPK_OK && strcmp(role, "admin") != 0 && strcmp(role, "operator") != 0 &&
	    strcmp(role, "viewer") != 0)
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "role \"%s\" is not admin, operator or viewer", role);
	if (ret == UPK_OK) {
		snprintf(out->role, sizeof(out->role), "%s", role);
		out->public_key = json_incref(json_object_get(doc, "public_key"));
	}
	json_decref(doc);
	return ret;
}

void key_add_req_clear(struct key_add_req *r)
{
	json_decref(r->public_key);
	memset(r, 0, sizeof(*r));
}

/* ---- devices ---- */

upk_status parse_enrol(const void *buf, size_t len, struct enrol_req *out, struct upk_error *err)
{
	static const char *const ALLOWED[] = {"public_key", "hardware_id", "attributes", NULL};
	json_t *doc = NULL, *attrs;
	const char *hw;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = check_public_key(json_object_get(doc, "public_key"), out->keyid, err);
	if (ret == UPK_OK)
		ret = get_string(doc, "hardware_id", 1, API_MAX_HWID, &hw, err);
	if (ret == UPK_OK && !api_valid_hwid(hw))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "hardware_id \"%s\" is not 1-%d bytes of [A-Za-z0-9._:+-]", hw,
				    API_MAX_HWID);
	attrs = json_object_get(doc, "attributes");
	if (ret == UPK_OK && attrs != NULL)
		ret = check_map(attrs, "attributes", 0, err);
	if (ret == UPK_OK) {
		snprintf(out->hardware_id, sizeof(out->hardware_id), "%s", hw);
		out->public_key = json_incref(json_object_get(doc, "public_key"));
		out->attributes = attrs != NULL ? json_incref(attrs) : json_object();
		if (out->attributes == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	json_decref(doc);
	if (ret != UPK_OK)
		enrol_req_clear(out);
	return ret;
}

void enrol_req_clear(struct enrol_req *r)
{
	json_decref(r->public_key);
	json_decref(r->attributes);
	memset(r, 0, sizeof(*r));
}

/* One device event (docs/server.md, check-in): closed sets of kinds and reasons. */
static upk_status check_event(const json_t *ev, size_t i, struct upk_error *err)
{
	static const char *const KINDS[] = {"private-data-wiped", NULL};
	static const char *const REASONS[] = {"transfer", "factory-reset", NULL};
	static const char *const MEMBERS[] = {"kind", "reason", "transfer", "at", NULL};
	const char *key, *kind, *reason, *transfer, *at;
	json_t *v;
	time_t t;

	if (!json_is_object(ev))
		return upk_error_set(err, UPK_ERR_INVALID, "events[%zu] is not an object", i);
	json_object_foreach((json_t *)ev, key, v) {
		if (!one_of(MEMBERS, key))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "events[%zu]: unknown member \"%.64s\"", i, key);
		if (!json_is_string(v) || json_string_length(v) > 64)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "events[%zu]: \"%s\" is not a string of at most 64 "
					     "bytes",
					     i, key);
	}
	kind = json_string_value(json_object_get(ev, "kind"));
	reason = json_string_value(json_object_get(ev, "reason"));
	transfer = json_string_value(json_object_get(ev, "transfer"));
	at = json_string_value(json_object_get(ev, "at"));
	if (kind == NULL || reason == NULL || at == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "events[%zu]: \"kind\", \"reason\" and \"at\" are required",
				     i);
	if (!one_of(KINDS, kind))
		return upk_error_set(err, UPK_ERR_INVALID, "events[%zu]: unknown kind \"%s\"", i,
				     kind);
	if (!one_of(REASONS, reason))
		return upk_error_set(err, UPK_ERR_INVALID, "events[%zu]: unknown reason \"%s\"",
				     i, reason);
	if (transfer != NULL && (strcmp(reason, "transfer") != 0 || !upk_hex_is_lower(transfer, 32)))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "events[%zu]: \"transfer\" must be 32 lower-case hex digits "
				     "and only with reason \"transfer\"",
				     i);
	if (upk_time_parse(at, &t, NULL) != UPK_OK)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "events[%zu]: \"at\" \"%s\" is not an RFC 3339 UTC time", i,
				     at);
	return UPK_OK;
}

static upk_status check_events(const json_t *evs, struct upk_error *err)
{
	size_t i;
	json_t *ev;

	if (!json_is_array(evs))
		return upk_error_set(err, UPK_ERR_INVALID, "\"events\" is not an array");
	if (json_array_size(evs) > API_MAX_EVENTS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "\"events\" has more than %d entries",
				     API_MAX_EVENTS);
	json_array_foreach(evs, i, ev) {
		upk_status ret = check_event(ev, i, err);

		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

upk_status parse_checkin(const void *buf, size_t len, struct checkin_req *out,
			 struct upk_error *err)
{
	static const char *const ALLOWED[] = {"hardware_id", "installed", "free_space",
					      "attributes", "events", NULL};
	json_t *doc = NULL, *inst, *attrs, *fs, *evs;
	const char *hw = NULL;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	out->free_space = -1;
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = get_string(doc, "hardware_id", 0, API_MAX_HWID, &hw, err);
	if (ret == UPK_OK && hw != NULL && !api_valid_hwid(hw))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "hardware_id \"%s\" is not 1-%d bytes of [A-Za-z0-9._:+-]", hw,
				    API_MAX_HWID);
	inst = json_object_get(doc, "installed");
	if (ret == UPK_OK && inst != NULL)
		ret = check_map(inst, "installed", 1, err);
	attrs = json_object_get(doc, "attributes");
	if (ret == UPK_OK && attrs != NULL)
		ret = check_map(attrs, "attributes", 0, err);
	fs = json_object_get(doc, "free_space");
	if (ret == UPK_OK && fs != NULL && (!json_is_integer(fs) || json_integer_value(fs) < 0))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "\"free_space\" is not a non-negative integer (bytes)");
	evs = json_object_get(doc, "events");
	if (ret == UPK_OK && evs != NULL)
		ret = check_events(evs, err);
	if (ret == UPK_OK) {
		out->events = evs != NULL && json_array_size(evs) > 0 ? json_incref(evs) : NULL;
		if (hw != NULL)
			snprintf(out->hardware_id, sizeof(out->hardware_id), "%s", hw);
		out->installed = inst != NULL ? json_incref(inst) : NULL;
		out->attributes = attrs != NULL ? json_incref(attrs) : NULL;
		out->free_space = fs != NULL ? json_integer_value(fs) : -1;
	}
	json_decref(doc);
	return ret;
}

void checkin_req_clear(struct checkin_req *r)
{
	json_decref(r->events);
	json_decref(r->installed);
	json_decref(r->attributes);
	memset(r, 0, sizeof(*r));
	r->free_space = -1;
}

upk_status parse_status(const void *buf, size_t len, struct status_req *out,
			struct upk_error *err)
{
	static const char *const ALLOWED[] = {"state", "reason", "log_tail", NULL};
	static const char *const STATES[] = {"downloading", "installing", "rebooting", "success",
					     "failure", NULL};
	json_t *doc = NULL;
	const char *state, *reason = NULL, *tail = NULL;
	upk_status ret;
	size_t i;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = get_string(doc, "state", 1, 15, &state, err);
	if (ret == UPK_OK) {
		for (i = 0; STATES[i] != NULL; i++)
			if (strcmp(STATES[i], state) == 0)
				break;
		if (STATES[i] == NULL)
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "state \"%s\" is not downloading, installing, rebooting, "
					    "success or failure",
					    state);
	}
	if (ret == UPK_OK)
		ret = get_string(doc, "reason", 0, API_MAX_REASON, &reason, err);
	if (ret == UPK_OK)
		ret = get_string(doc, "log_tail", 0, API_MAX_LOG_TAIL, &tail, err);
	if (ret == UPK_OK && strcmp(state, "failure") == 0 && (reason == NULL || reason[0] == '\0'))
		ret = upk_error_set(err, UPK_ERR_INVALID, "a failure report needs a \"reason\"");
	if (ret == UPK_OK) {
		snprintf(out->state, sizeof(out->state), "%s", state);
		out->reason = reason ? strdup(reason) : NULL;
		out->log_tail = tail ? strdup(tail) : NULL;
		if ((reason && !out->reason) || (tail && !out->log_tail)) {
			status_req_clear(out);
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		}
	}
	json_decref(doc);
	return ret;
}

void status_req_clear(struct status_req *r)
{
	free(r->reason);
	free(r->log_tail);
	memset(r, 0, sizeof(*r));
}

upk_status parse_tags(const void *buf, size_t len, struct tags_req *out, struct upk_error *err)
{
	static const char *const ALLOWED[] = {"tags", NULL};
	json_t *doc = NULL, *tags;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	tags = json_object_get(doc, "tags");
	if (tags == NULL)
		ret = upk_error_set(err, UPK_ERR_INVALID, "missing member \"tags\"");
	else
		ret = check_map(tags, "tags", 0, err);
	if (ret == UPK_OK)
		out->tags = json_incref(tags);
	json_decref(doc);
	return ret;
}

void tags_req_clear(struct tags_req *r)
{
	json_decref(r->tags);
	memset(r, 0, sizeof(*r));
}

upk_status parse_preauth(const void *buf, size_t len, struct preauth_req *out,
			 struct upk_error *err)
{
	static const char *const ALLOWED[] = {"devices", NULL};
	json_t *doc = NULL, *devs, *res = NULL, *d;
	upk_status ret;
	size_t i;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	devs = json_object_get(doc, "devices");
	if (!json_is_array(devs) || json_array_size(devs) == 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "\"devices\" is not a non-empty array");
		goto out;
	}
	if (json_array_size(devs) > API_MAX_PREAUTH) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %d devices",
				    API_MAX_PREAUTH);
		goto out;
	}
	res = json_array();
	if (res == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(devs, i, d) {
		json_t *id = json_object_get(d, "id"), *tags = json_object_get(d, "tags");

		if (!json_is_object(d) || json_object_size(d) != 1u + (tags != NULL) ||
		    !json_is_string(id) || !api_valid_keyid(json_string_value(id))) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "devices[%zu] is not {\"id\": KEYID, \"tags\": {...}} with "
					    "a 64-hex key id",
					    i);
			goto out;
		}
		if (tags != NULL) {
			ret = check_map(tags, "tags", 0, err);
			if (ret != UPK_OK) {
				upk_error_prefix(err, ret, "devices[%zu]: ", i);
				goto out;
			}
		}
		json_array_append_new(res, json_pack("{s:O, s:o}", "id", id, "tags",
						     tags ? json_incref(tags) : json_object()));
	}
	out->devices = res;
	res = NULL;
out:
	json_decref(res);
	json_decref(doc);
	return ret;
}

void preauth_req_clear(struct preauth_req *r)
{
	json_decref(r->devices);
	memset(r, 0, sizeof(*r));
}

upk_status parse_assign(const void *buf, size_t len, struct assign_req *out,
			struct upk_error *err)
{
	static const char *const ALLOWED[] = {"target", NULL};
	json_t *doc = NULL;
	const char *t;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = get_string(doc, "target", 1, API_MAX_TARGET_PATH, &t, err);
	if (ret == UPK_OK && t[0] == '\0')
		ret = upk_error_set(err, UPK_ERR_INVALID, "\"target\" is empty");
	if (ret == UPK_OK) {
		out->target = strdup(t);
		if (out->target == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	json_decref(doc);
	return ret;
}

void assign_req_clear(struct assign_req *r)
{
	free(r->target);
	memset(r, 0, sizeof(*r));
}

/* ---- rollouts ---- */

/*
 * A percentage within [min_bp, 10000] basis points: a JSON integer, or a
 * string with at most two decimals ("0.5", "12.25") because request bodies
 * are canonical JSON, which has no reals. Buckets are basis points: finer
 * percentages would promise what cannot be kept.
 */
static upk_status get_percent(const json_t *v, const char *name, int64_t min_bp, int64_t *bp,
			      struct upk_error *err)
{
	int64_t r = 0;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || json_integer_value(v) > 100)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "\"%s\" %lld is not within 0..100 percent", name,
					     (long long)json_integer_value(v));
		r = json_integer_value(v) * 100;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v), *p = s;
		int64_t whole = 0, frac = 0;
		int digits = 0, decimals = 0;

		for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
			whole = whole * 10 + (*p - '0');
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9' && decimals < 3; p++, decimals++)
				frac = frac * 10 + (*p - '0');
			if (decimals == 0)
				decimals = 3; /* "5." is refused below */
		}
		if (digits == 0 || *p != '\0' || decimals > 2)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "\"%s\" \"%.32s\" is not a percentage with at most two "
					     "decimals",
					     name, s);
		r = whole * 100 + (decimals == 1 ? frac * 10 : frac);
		if (r > 10000)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "\"%s\" \"%s\" is not within 0..100 percent", name, s);
	} else {
		return upk_error_set(err, UPK_ERR_INVALID,
				     "\"%s\" is not a percentage (an integer or a string like "
				     "\"0.5\")",
				     name);
	}
	if (r < min_bp)
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" must be above 0", name);
	*bp = r;
	return UPK_OK;
}

upk_status parse_rollout_create(const void *buf, size_t len, struct rollout_create_req *out,
				struct upk_error *err)
{
	static const char *const ALLOWED[] = {"name", "target", "selector", "phases",
					      "failure_threshold", "success_ratio", NULL};
	static const char *const PHASE[] = {"percent", "soak", NULL};
	json_t *doc = NULL, *phases, *ph, *v;
	const char *name = NULL, *target = NULL, *selector = NULL;
	struct upk_selector *sel = NULL;
	upk_status ret;
	size_t i;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = get_string(doc, "target", 1, API_MAX_TARGET_PATH, &target, err);
	if (ret == UPK_OK && target[0] == '\0')
		ret = upk_error_set(err, UPK_ERR_INVALID, "\"target\" is empty");
	if (ret == UPK_OK)
		ret = get_string(doc, "name", 0, 64, &name, err);
	if (ret == UPK_OK && name != NULL && !charset(name, 1, 64, "._:/+-"))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "name \"%.64s\" is not 1-64 bytes of [A-Za-z0-9._:/+-]", name);
	if (ret == UPK_OK)
		ret = get_string(doc, "selector", 0, UPK_SELECTOR_MAX_LEN, &selector, err);
	if (ret == UPK_OK && selector != NULL) {
		ret = upk_selector_parse(selector, strlen(selector), &sel, err);
		if (ret != UPK_OK)
			upk_error_prefix(err, ret, "selector: ");
		upk_selector_free(sel);
	}
	phases = json_object_get(doc, "phases");
	if (ret == UPK_OK && (!json_is_array(phases) || json_array_size(phases) == 0 ||
			      json_array_size(phases) > API_MAX_PHASES))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "\"phases\" is not an array of 1 to %d phases", API_MAX_PHASES);
	json_array_foreach(phases, i, ph) {
		const char *key;
		json_t *m;
		struct rollout_phase *p = &out->phases[i];

		if (ret != UPK_OK)
			break;
		if (!json_is_object(ph)) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "phases[%zu] is not {\"percent\": N, \"soak\": SECONDS}", i);
			break;
		}
		json_object_foreach(ph, key, m) {
			size_t k;

			for (k = 0; PHASE[k] != NULL && strcmp(PHASE[k], key) != 0; k++)
				;
			if (PHASE[k] == NULL) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
						    "phases[%zu]: unknown member \"%.64s\"", i, key);
				break;
			}
		}
		if (ret == UPK_OK)
			ret = get_percent(json_object_get(ph, "percent"), "percent", 1, &p->percent_bp,
					  err);
		if (ret == UPK_OK && i > 0 && p->percent_bp <= out->phases[i - 1].percent_bp)
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "phases[%zu]: percent must grow from phase to phase", i);
		v = json_object_get(ph, "soak");
		if (ret == UPK_OK && v != NULL &&
		    (!json_is_integer(v) || json_integer_value(v) < 0 ||
		     json_integer_value(v) > API_MAX_SOAK))
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "phases[%zu]: soak is not 0..%d seconds", i, API_MAX_SOAK);
		if (ret != UPK_OK) {
			if (strncmp(err->msg, "phases[", 7) != 0)
				upk_error_prefix(err, ret, "phases[%zu]: ", i);
			break;
		}
		p->soak = v != NULL ? json_integer_value(v) : 0;
		out->n_phases = i + 1;
	}
	out->failure_threshold_bp = 1000;
	v = json_object_get(doc, "failure_threshold");
	if (ret == UPK_OK && v != NULL)
		ret = get_percent(v, "failure_threshold", 0, &out->failure_threshold_bp, err);
	out->success_ratio_bp = 10000 - out->failure_threshold_bp;
	v = json_object_get(doc, "success_ratio");
	if (ret == UPK_OK && v != NULL)
		ret = get_percent(v, "success_ratio", 0, &out->success_ratio_bp, err);
	if (ret == UPK_OK) {
		const char *base = strrchr(target, '/');

		base = base != NULL ? base + 1 : target;
		if (name == NULL && strlen(base) > 64)
			base += strlen(base) - 64;
		snprintf(out->name, sizeof(out->name), "%s", name != NULL ? name : base);
		out->target = strdup(target);
		out->selector = selector != NULL ? strdup(selector) : NULL;
		if (out->target == NULL || (selector != NULL && out->selector == NULL))
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	json_decref(doc);
	if (ret != UPK_OK)
		rollout_create_req_clear(out);
	return ret;
}

void rollout_create_req_clear(struct rollout_create_req *r)
{
	free(r->target);
	free(r->selector);
	memset(r, 0, sizeof(*r));
}

/* ---- shared with the other parsers of the server (claim_parse.c) ---- */

upk_status api_parse_object(const void *buf, size_t len, const char *const *allowed, json_t **out,
			    struct upk_error *err)
{
	return parse_object(buf, len, allowed, out, err);
}

upk_status api_public_key_id(const json_t *obj, char keyid[UPK_KEYID_HEX_LEN + 1],
			     struct upk_error *err)
{
	return check_public_key(obj, keyid, err);
}

/* ---- ownership transfer ---- */

upk_status parse_transfer(const void *buf, size_t len, struct transfer_req *out,
			  struct upk_error *err)
{
	static const char *const ALLOWED[] = {"keyset", "image_root", "director_root", NULL};
	json_t *doc = NULL;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = keyset_and_roots(doc, out->keyset, sizeof(out->keyset), &out->image_root,
			       &out->director_root, err);
	json_decref(doc);
	return ret;
}

void transfer_req_clear(struct transfer_req *r)
{
	json_decref(r->image_root);
	json_decref(r->director_root);
	memset(r, 0, sizeof(*r));
}

