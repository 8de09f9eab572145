/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing of the server configuration. Strict on purpose: a misspelt key in a
 * security setting (a creator key, a signature window) must stop the server
 * with the line number rather than be ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum ctype { C_STR, C_INT, C_LIST };

struct ckey {
	const char *name;
	enum ctype type;
	size_t off;
	const char *def;
	int64_t min, max;
	const char *summary;
};

#define OFF(f) offsetof(struct server_config, f)
#define DAY 86400

static const struct ckey KEYS[] = {
	{"listen", C_STR, OFF(listen), "127.0.0.1", 0, 0, "address to listen on"},
	{"port", C_INT, OFF(port), "8080", 0, 65535, "TCP port (0: any free port)"},
	{"database", C_STR, OFF(database), NULL, 0, 0, "SQLite database file (required)"},
	{"data_dir", C_STR, OFF(data_dir), NULL, 0, 0, "directory for target payloads (required)"},
	{"threads", C_INT, OFF(threads), "4", 1, 256, "HTTP worker threads"},
	{"max_connections", C_INT, OFF(max_connections), "1024", 1, 1000000,
	 "concurrent connections"},
	{"connection_timeout", C_INT, OFF(connection_timeout), "30", 1, 3600,
	 "seconds an idle connection is kept"},
	{"max_body_bytes", C_INT, OFF(max_body_bytes), "16777216", 1024, INT64_C(1) << 32,
	 "largest JSON request body"},
	{"max_payload_bytes", C_INT, OFF(max_payload_bytes), "4294967296", 1, INT64_C(1) << 50,
	 "largest uploaded target payload"},
	{"signature_max_age", C_INT, OFF(signature_max_age), "300", 1, 3600,
	 "seconds a request signature's created time may lie in the past"},
	{"signature_max_skew", C_INT, OFF(signature_max_skew), "300", 0, 3600,
	 "seconds it may lie in the future"},
	{"replay_cache_entries", C_INT, OFF(replay_cache_entries), "1000000", 16, 100000000,
	 "nonces remembered (requests are refused when full)"},
	{"timestamp_expiry", C_INT, OFF(timestamp_expiry), "86400", 2, 365 * DAY,
	 "lifetime of server-signed timestamp metadata (seconds)"},
	{"snapshot_expiry", C_INT, OFF(snapshot_expiry), "604800", 2, 365 * DAY,
	 "lifetime of server-signed snapshot metadata"},
	{"director_targets_expiry", C_INT, OFF(director_targets_expiry), "2592000", 2, 365 * DAY,
	 "lifetime of per-device director targets metadata"},
	{"maintenance_interval", C_INT, OFF(maintenance_interval), "60", 1, DAY,
	 "seconds between re-signing passes"},
	{"shutdown_timeout", C_INT, OFF(shutdown_timeout), "30", 0, 3600,
	 "seconds to let in-flight requests finish on SIGTERM"},
	{"log_level", C_STR, OFF(log_level), "info", 0, 0, "debug, info, warn or error"},
	{"creator", C_LIST, 0, NULL, 0, 0,
	 "who may create fleets: a key id (64 hex) or a public key file; repeatable"},
};

#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static const struct ckey *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(KEYS[i].name, name) == 0)
			return &KEYS[i];
	return NULL;
}

static upk_status set_one(struct server_config *cfg, const struct ckey *k, const char *value,
			  struct upk_error *err)
{
	char *end = NULL;
	long long v;

	switch (k->type) {
	case C_STR: {
		char **slot = (char **)((char *)cfg + k->off);
		char *dup = strdup(value);

		if (dup == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		if (value[0] == '\0') {
			free(dup);
			return upk_error_set(err, UPK_ERR_INVALID, "%s: empty value", k->name);
		}
		free(*slot);
		*slot = dup;
		return UPK_OK;
	}
	case C_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < k->min || v > k->max)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s: \"%s\" is not a number in [%" PRId64 ", %" PRId64 "]",
					     k->name, value, k->min, k->max);
		*(int64_t *)((char *)cfg + k->off) = v;
		return UPK_OK;
	case C_LIST:
		if (cfg->n_creators >= CONFIG_MAX_CREATORS)
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: more than %d entries",
					     k->name, CONFIG_MAX_CREATORS);
		if (value[0] == '\0')
			return upk_error_set(err, UPK_ERR_INVALID, "%s: empty value", k->name);
		cfg->creators[cfg->n_creators] = strdup(value);
		if (cfg->creators[cfg->n_creators] == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		cfg->n_creators++;
		return UPK_OK;
	}
	return upk_error_set(err, UPK_ERR_INVALID, "%s: bad key type", k->name);
}

upk_status config_set(struct server_config *cfg, const char *key, const char *value,
		      struct upk_error *err)
{
	const struct ckey *k = find_key(key);

	if (k == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "unknown key \"%s\"", key);
	return set_one(cfg, k, value, err);
}

upk_status config_init(struct server_config *cfg, struct upk_error *err)
{
	upk_status ret;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (KEYS[i].def == NULL)
			continue;
		ret = set_one(cfg, &KEYS[i], KEYS[i].def, err);
		if (ret != UPK_OK) {
			config_free(cfg);
			return ret;
		}
	}
	return UPK_OK;
}

void config_free(struct server_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (KEYS[i].type == C_STR)
			free(*(char **)((char *)cfg + KEYS[i].off));
	for (size_t i = 0; i < cfg->n_creators; i++)
		free(cfg->creators[i]);
	memset(cfg, 0, sizeof(*cfg));
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

upk_status config_parse_text(struct server_config *cfg, const char *name, const char *text,
			     size_t len, struct upk_error *err)
{
	char line[CONFIG_MAX_LINE + 1];
	size_t pos = 0, lineno = 0;
	upk_status ret;

	while (pos < len) {
		size_t start = pos, n;
		char *p, *eq, *key, *value, *e;

		while (pos < len && text[pos] != '\n')
			pos++;
		n = pos - start;
		pos++; /* the newline */
		lineno++;
		if (n > CONFIG_MAX_LINE)
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "%s:%zu: line longer than %d bytes",
					     name, lineno, CONFIG_MAX_LINE);
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL)
			return upk_error_set(err, UPK_ERR_INVALID, "%s:%zu: NUL byte", name, lineno);
		p = line;
		while (is_space(*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s:%zu: expected \"key = value\", got \"%s\"", name,
					     lineno, p);
		key = p;
		e = eq;
		while (e > key && is_space(e[-1]))
			e--;
		*e = '\0';
		value = eq + 1;
		while (is_space(*value))
			value++;
		e = value + strlen(value);
		while (e > value && is_space(e[-1]))
			e--;
		*e = '\0';
		ret = config_set(cfg, key, value, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s:%zu: ", name, lineno);
	}
	return UPK_OK;
}

upk_status config_load_file(struct server_config *cfg, const char *path, struct upk_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	upk_status ret;

	if (f == NULL)
		return upk_error_set(err, errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
				     "%s: %s", path, strerror(errno));
	/* A configuration file is small; refuse anything that is not. */
	buf = malloc(1024 * 1024 + 1);
	if (buf == NULL) {
		fclose(f);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	len = fread(buf, 1, 1024 * 1024 + 1, f);
	if (ferror(f)) {
		ret = upk_error_set(err, UPK_ERR_IO, "%s: read failed", path);
		goto out;
	}
	if (len > 1024 * 1024) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%s: larger than 1 MiB", path);
		goto out;
	}
	ret = config_parse_text(cfg, path, buf, len, err);
out:
	fclose(f);
	free(buf);
	return ret;
}

upk_status config_validate(const struct server_config *cfg, struct upk_error *err)
{
	static const char *const LEVELS[] = {"debug", "info", "warn", "error"};
	int ok = 0;

	if (cfg->database == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "database is not set");
	if (cfg->data_dir == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "data_dir is not set");
	/* Payload paths are data_dir + a few hundred bytes; keep them well under PATH_MAX. */
	if (strlen(cfg->data_dir) > 3000)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "data_dir is longer than 3000 bytes");
	for (size_t i = 0; i < 4; i++)
		ok |= strcmp(cfg->log_level, LEVELS[i]) == 0;
	if (!ok)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "log_level: \"%s\" is not debug, info, warn or error",
				     cfg->log_level);
	/* Re-signing must happen well before expiry, or devices see stale metadata. */
	if (cfg->maintenance_interval * 2 > cfg->timestamp_expiry)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "maintenance_interval %" PRId64
				     " must be at most half of timestamp_expiry %" PRId64,
				     cfg->maintenance_interval, cfg->timestamp_expiry);
	return UPK_OK;
}

void config_print_help(FILE *out)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char flag[64];
		size_t j;

		snprintf(flag, sizeof(flag), "--%s", KEYS[i].name);
		for (j = 2; flag[j] != '\0'; j++)
			if (flag[j] == '_')
				flag[j] = '-';
		fprintf(out, "  %-28s %s", flag, KEYS[i].summary);
		if (KEYS[i].def != NULL)
			fprintf(out, " (default %s)", KEYS[i].def);
		fputc('\n', out);
	}
}
