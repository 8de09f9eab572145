/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config target payload: parsed strictly because it can move the device
 * to another server; a typo must fail loudly, never half-apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_target.h"
#include "upkeep/json.h"
#include "upkeep/transfer.h"

int config_fleet_url_ok(const char *url)
{
	const char *p, *fleets;
	size_t n = strlen(url);

	if (n > CONFIG_URL_MAX)
		return 0;
	if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return 0;
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f || strchr("?#@\\\"", *q))
			return 0;
	/* A non-empty authority, then the path. */
	if (*p == '/' || *p == '\0' || strchr(p, '/') == NULL)
		return 0;
	fleets = strstr(strchr(p, '/'), "/v1/fleets/");
	if (fleets == NULL)
		return 0;
	return upk_fleet_name_valid(fleets + 11);
}

/* "30s", "5m", "1h", "7d" or plain seconds, within CONFIG_POLL_MIN..CONFIG_POLL_MAX. */
static int parse_poll(const char *s, unsigned *out)
{
	unsigned long long v = 0, mult = 1;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (v > CONFIG_POLL_MAX)
			return 0;
	}
	if (i == 0)
		return 0;
	if (s[i] != '\0') {
		const char *units = "smhd";
		static const unsigned long long mults[] = {1, 60, 3600, 86400};
		const char *u = strchr(units, s[i]);

		if (u == NULL || s[i + 1] != '\0')
			return 0;
		mult = mults[u - units];
	}
	v *= mult;
	if (v < CONFIG_POLL_MIN || v > CONFIG_POLL_MAX)
		return 0;
	*out = (unsigned)v;
	return 1;
}

upk_status config_payload_parse(const void *buf, size_t len, struct config_payload *out,
                                struct upk_error *err)
{
	struct upk_json_limits lim = {.max_bytes = CONFIG_TARGET_MAX_BYTES, .max_depth = 4};
	struct config_payload p;
	json_t *doc = NULL, *v, *fmt;
	const char *key, *s;
	upk_status ret;

	memset(&p, 0, sizeof(p));
	p.factory_reset_allow = 1;
	if (len > CONFIG_TARGET_MAX_BYTES)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "config: %zu bytes, more than %u", len,
		                     CONFIG_TARGET_MAX_BYTES);
	ret = upk_json_parse(buf, len, &lim, &doc, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "config: ");
	if (!json_is_object(doc)) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "config: not a JSON object");
		goto out;
	}
	json_object_foreach(doc, key, v)
	{
		if (strcmp(key, "upkeep_config") != 0 && strcmp(key, "server") != 0 &&
		    strcmp(key, "factory_reset") != 0 && strcmp(key, "poll_interval") != 0) {
			ret = upk_error_set(err, UPK_ERR_INVALID, "config: unknown member \"%.64s\"",
			                    key);
			goto out;
		}
	}
	fmt = json_object_get(doc, "upkeep_config");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != 1) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "config: \"upkeep_config\" must be 1 (the format version)");
		goto out;
	}
	v = json_object_get(doc, "server");
	if (v != NULL) {
		s = json_string_value(v);
		if (s == NULL || !config_fleet_url_ok(s)) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "config: \"server\" must be an http(s) fleet URL "
			                    "(http[s]://HOST[:PORT]/v1/fleets/NAME, at most %u bytes)",
			                    CONFIG_URL_MAX);
			goto out;
		}
		snprintf(p.server, sizeof(p.server), "%s", s);
	}
	v = json_object_get(doc, "factory_reset");
	if (v != NULL) {
		s = json_string_value(v);
		if (s == NULL || (strcmp(s, "allow") != 0 && strcmp(s, "deny") != 0)) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "config: \"factory_reset\" must be \"allow\" or \"deny\"");
			goto out;
		}
		p.factory_reset_allow = strcmp(s, "allow") == 0;
	}
	v = json_object_get(doc, "poll_interval");
	if (v != NULL && (json_string_value(v) == NULL ||
	                  !parse_poll(json_string_value(v), &p.poll_interval_s))) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "config: \"poll_interval\" must be a duration from 30s to 7d");
		goto out;
	}
	*out = p;
	ret = UPK_OK;
out:
	json_decref(doc);
	return ret;
}

upk_status config_target_record(struct journal *j, const struct config_payload *p,
                                const char *target, const char *version, const char *sha256,
                                struct upk_error *err)
{
	json_t *c = json_pack("{s:s,s:s,s:s?,s:s}", "target", target, "version", version, "sha256",
	                      sha256, "factory_reset", p->factory_reset_allow ? "allow" : "deny");
	upk_status ret;

	if (c == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (p->server[0] != '\0')
		json_object_set_new(c, "server", json_string(p->server));
	if (p->poll_interval_s > 0)
		json_object_set_new(c, "poll_interval", json_integer((json_int_t)p->poll_interval_s));
	ret = journal_set(j, "config", c, err);
	if (ret == UPK_OK && p->server[0] != '\0')
		ret = journal_set(j, "server", json_string(p->server), err);
	return ret;
}

const char *config_current_server(const struct journal *j, const char *configured)
{
	const char *s = json_string_value(journal_get(j, "server"));

	return s != NULL ? s : configured;
}

unsigned config_current_poll(const struct journal *j, unsigned configured)
{
	json_int_t v = json_integer_value(json_object_get(journal_get(j, "config"), "poll_interval"));

	return v >= CONFIG_POLL_MIN && v <= CONFIG_POLL_MAX ? (unsigned)v : configured;
}
