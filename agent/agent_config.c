/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parser of the agent's configuration file. Strict on purpose: a typo in a
 * key must not silently fall back to a default on a device in the field, so
 * every unknown, repeated or malformed key is refused with its line number.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_config.h"
#include "fileio.h"

enum kind {
	K_PATH,     /* absolute path */
	K_URL,      /* http:// or https:// */
	K_HWID,     /* [A-Za-z0-9._:+-], as owner-signed hardware lists */
	K_DURATION, /* seconds, optional suffix s m h d */
	K_SIZE,     /* bytes, optional suffix K M G T (powers of 1024) */
	K_COUNT,    /* plain decimal */
	K_BLTYPE,   /* uboot | grub | script */
	K_COMMANDS, /* a shell command; the key may repeat */
	K_COMMAND,  /* one shell command */
};

struct key_def {
	const char *key;
	enum kind kind;
	size_t offset;
	uint64_t min, max;
};

#define F(type, member) offsetof(type, member)

static const struct key_def agent_keys[] = {
    {"data_dir", K_PATH, F(struct agent_config, data_dir), 0, 0},
    {"private_dir", K_PATH, F(struct agent_config, private_dir), 0, 0},
    {"key", K_PATH, F(struct agent_config, key_path), 0, 0},
    {"server", K_URL, F(struct agent_config, server_url), 0, 0},
    {"hardware_id", K_HWID, F(struct agent_config, hardware_id), 0, 0},
    {"poll_interval", K_DURATION, F(struct agent_config, poll_interval_s), 10, 7 * 86400},
    {"cmdline", K_PATH, F(struct agent_config, cmdline), 0, 0},
    {"reboot", K_COMMAND, F(struct agent_config, reboot_command), 0, 0},
    {"pre_install", K_COMMAND, F(struct agent_config, pre_install), 0, 0},
    {NULL, 0, 0, 0, 0},
};

static const struct key_def trust_keys[] = {
    {"image_root", K_PATH, F(struct agent_config, image_root), 0, 0},
    {"director_root", K_PATH, F(struct agent_config, director_root), 0, 0},
    {NULL, 0, 0, 0, 0},
};

static const struct key_def slot_keys[] = {
    {"device", K_PATH, F(struct config_slot, device), 0, 0},
    {"size", K_SIZE, F(struct config_slot, size), 512, UINT64_MAX},
    {NULL, 0, 0, 0, 0},
};

/* Index order matters: bootloader_applies() refers to it. */
static const struct key_def bootloader_keys[] = {
    {"type", K_BLTYPE, F(struct config_bootloader, type), 0, 0},
    {"fw_env_config", K_PATH, F(struct config_bootloader, fw_env_config), 0, 0},
    {"default_env", K_PATH, F(struct config_bootloader, default_env), 0, 0},
    {"bootlimit", K_COUNT, F(struct config_bootloader, bootlimit), 1, 100},
    {"grubenv", K_PATH, F(struct config_bootloader, grubenv), 0, 0},
    {"command", K_PATH, F(struct config_bootloader, command), 0, 0},
    {"timeout", K_DURATION, F(struct config_bootloader, timeout_s), 1, 3600},
    {NULL, 0, 0, 0, 0},
};

static const struct key_def health_keys[] = {
    {"command", K_COMMANDS, 0, 0, 0},
    {"timeout", K_DURATION, F(struct agent_config, health_timeout_s), 1, 86400},
    {NULL, 0, 0, 0, 0},
};

static const struct key_def archive_keys[] = {
    {"dir", K_PATH, F(struct agent_config, archive_dir), 0, 0},
    {"max_size", K_SIZE, F(struct agent_config, archive_max_bytes), 4096, UINT64_MAX},
    {"max_entries", K_COUNT, F(struct agent_config, archive_max_entries), 1, 10000000},
    {NULL, 0, 0, 0, 0},
};

static const struct key_def module_keys[] = {
    {"handler", K_PATH, F(struct config_module, handler), 0, 0},
    {"timeout", K_DURATION, F(struct config_module, timeout_s), 1, 86400},
    {NULL, 0, 0, 0, 0},
};

enum section {
	S_NONE,
	S_AGENT,
	S_TRUST,
	S_ATTRIBUTES,
	S_SLOT,
	S_BOOTLOADER,
	S_HEALTH,
	S_ARCHIVE,
	S_MODULE,
};

#define MAX_KEYS 12

struct parser {
	const char *name;
	struct agent_config *cfg;
	unsigned line;
	enum section section;
	const struct key_def *keys;
	void *base;
	unsigned *seen;                    /* line where each key of the section was set */
	unsigned seen_simple[6][MAX_KEYS]; /* agent trust bootloader health archive: by section */
	unsigned seen_slot[AGENT_CONFIG_MAX_SLOTS][MAX_KEYS];
	unsigned *seen_module; /* AGENT_CONFIG_MAX_MODULES * MAX_KEYS */
	unsigned section_line[16];
	unsigned slot_line[AGENT_CONFIG_MAX_SLOTS];
	unsigned module_line[AGENT_CONFIG_MAX_MODULES];
	unsigned bootloader_section_line;
	struct upk_error *err;
};

const char *agent_config_bootloader_name(enum bootloader_type type)
{
	switch (type) {
	case BOOTLOADER_NONE:
		return "none";
	case BOOTLOADER_UBOOT:
		return "uboot";
	case BOOTLOADER_GRUB:
		return "grub";
	case BOOTLOADER_SCRIPT:
		return "script";
	}
	return "unknown";
}

int agent_config_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= AGENT_CONFIG_NAME_MAX;
}

static upk_status perr(struct parser *p, upk_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static upk_status perr(struct parser *p, upk_status code, const char *fmt, ...)
{
	char msg[UPK_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		return upk_error_set(p->err, code, "%s:%u: %s", p->name, p->line, msg);
	return upk_error_set(p->err, code, "%s: %s", p->name, msg);
}

/* Valid UTF-8 without control bytes other than tab. */
static int text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t need;
		unsigned cp, min;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int hwid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:+-", c) != NULL))
			return 0;
	}
	return 1;
}

static int attr_key_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:-", c) != NULL))
			return 0;
	}
	return 1;
}

/* Decimal number with an optional one-letter unit from units (multipliers in mult). */
static int parse_number(const char *v, const char *units, const uint64_t *mult, uint64_t *out)
{
	uint64_t n = 0;
	const char *s = v;

	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0') {
		const char *u = units != NULL ? strchr(units, *s) : NULL;
		if (u == NULL || *s == '\0' || s[1] != '\0')
			return 0;
		uint64_t m = mult[u - units];
		if (n > UINT64_MAX / m)
			return 0;
		n *= m;
	}
	*out = n;
	return 1;
}

static upk_status set_string(struct parser *p, char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return perr(p, UPK_ERR_NOMEM, "out of memory");
	free(*slot);
	*slot = copy;
	return UPK_OK;
}

static upk_status set_value(struct parser *p, const struct key_def *def, const char *value)
{
	static const uint64_t dur_mult[] = {1, 60, 3600, 86400};
	static const uint64_t size_mult[] = {1024ull, 1024ull * 1024, 1024ull * 1024 * 1024,
	                                     1024ull * 1024 * 1024 * 1024};
	char *field = (char *)p->base + def->offset;
	uint64_t n;

	switch (def->kind) {
	case K_PATH:
		if (value[0] != '/')
			return perr(p, UPK_ERR_INVALID, "%s: \"%s\" is not an absolute path",
			            def->key, value);
		return set_string(p, (char **)(void *)field, value);
	case K_COMMAND:
		if (value[0] == '\0')
			return perr(p, UPK_ERR_INVALID, "%s: empty command", def->key);
		return set_string(p, (char **)(void *)field, value);
	case K_URL:
		if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0)
			return perr(p, UPK_ERR_INVALID,
			            "%s: \"%s\" is not an http:// or https:// URL", def->key,
			            value);
		if (strpbrk(value, " \t") != NULL)
			return perr(p, UPK_ERR_INVALID, "%s: \"%s\" contains blanks", def->key,
			            value);
		return set_string(p, (char **)(void *)field, value);
	case K_HWID:
		if (!hwid_ok(value))
			return perr(p, UPK_ERR_INVALID,
			            "%s: \"%s\" is not 1 to 128 of [A-Za-z0-9._:+-]", def->key,
			            value);
		return set_string(p, (char **)(void *)field, value);
	case K_DURATION:
		if (!parse_number(value, "smhd", dur_mult, &n))
			return perr(
			    p, UPK_ERR_INVALID,
			    "%s: \"%s\" is not a duration (seconds, or a number with s, m, h or d)",
			    def->key, value);
		if (n < def->min || n > def->max)
			return perr(p, UPK_ERR_INVALID, "%s: %s is outside %llu to %llu seconds",
			            def->key, value, (unsigned long long)def->min,
			            (unsigned long long)def->max);
		*(unsigned *)(void *)field = (unsigned)n;
		return UPK_OK;
	case K_SIZE:
		if (!parse_number(value, "KMGT", size_mult, &n))
			return perr(
			    p, UPK_ERR_INVALID,
			    "%s: \"%s\" is not a size (bytes, or a number with K, M, G or T)",
			    def->key, value);
		if (n < def->min)
			return perr(p, UPK_ERR_INVALID, "%s: %s is less than %llu bytes", def->key,
			            value, (unsigned long long)def->min);
		*(uint64_t *)(void *)field = n;
		return UPK_OK;
	case K_COUNT:
		if (!parse_number(value, NULL, NULL, &n))
			return perr(p, UPK_ERR_INVALID, "%s: \"%s\" is not a decimal number",
			            def->key, value);
		if (n < def->min || n > def->max)
			return perr(p, UPK_ERR_INVALID, "%s: %s is outside %llu to %llu", def->key,
			            value, (unsigned long long)def->min,
			            (unsigned long long)def->max);
		*(unsigned *)(void *)field = (unsigned)n;
		return UPK_OK;
	case K_BLTYPE: {
		enum bootloader_type t;
		if (strcmp(value, "uboot") == 0)
			t = BOOTLOADER_UBOOT;
		else if (strcmp(value, "grub") == 0)
			t = BOOTLOADER_GRUB;
		else if (strcmp(value, "script") == 0)
			t = BOOTLOADER_SCRIPT;
		else
			return perr(p, UPK_ERR_INVALID,
			            "%s: unknown bootloader \"%s\" (uboot, grub, script)", def->key,
			            value);
		*(enum bootloader_type *)(void *)field = t;
		return UPK_OK;
	}
	case K_COMMANDS: {
		struct agent_config *c = p->cfg;
		char **nl;
		if (c->n_health >= AGENT_CONFIG_MAX_HEALTH)
			return perr(p, UPK_ERR_TOO_LARGE, "more than %u health commands",
			            AGENT_CONFIG_MAX_HEALTH);
		nl = realloc(c->health_commands, (c->n_health + 1) * sizeof(*nl));
		if (nl == NULL)
			return perr(p, UPK_ERR_NOMEM, "out of memory");
		c->health_commands = nl;
		nl[c->n_health] = strdup(value);
		if (nl[c->n_health] == NULL)
			return perr(p, UPK_ERR_NOMEM, "out of memory");
		c->n_health++;
		return UPK_OK;
	}
	}
	return perr(p, UPK_ERR_INVALID, "internal: bad key kind");
}

static void list_keys(const struct key_def *keys, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const struct key_def *d = keys; d->key != NULL && off < cap; d++) {
		int n = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", d->key);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static const char *section_name(enum section s)
{
	switch (s) {
	case S_AGENT:
		return "agent";
	case S_TRUST:
		return "trust";
	case S_ATTRIBUTES:
		return "attributes";
	case S_SLOT:
		return "slot";
	case S_BOOTLOADER:
		return "bootloader";
	case S_HEALTH:
		return "health";
	case S_ARCHIVE:
		return "archive";
	case S_MODULE:
		return "module";
	case S_NONE:
		break;
	}
	return "(none)";
}

static upk_status begin_section(struct parser *p, const char *hdr)
{
	static const struct {
		const char *name;
		enum section s;
		int simple; /* index into seen_simple, -1 for named sections */
	} table[] = {
	    {"agent", S_AGENT, 0},
	    {"trust", S_TRUST, 1},
	    {"attributes", S_ATTRIBUTES, -1},
	    {"bootloader", S_BOOTLOADER, 2},
	    {"health", S_HEALTH, 3},
	    {"archive", S_ARCHIVE, 4},
	};
	struct agent_config *c = p->cfg;
	const char *dot = strchr(hdr, '.');

	if (dot != NULL) {
		const char *sub = dot + 1;
		size_t base_len = (size_t)(dot - hdr);

		if (!agent_config_name_valid(sub))
			return perr(p, UPK_ERR_INVALID,
			            "section [%s]: name \"%s\" is not 1 to %u of [A-Za-z0-9_-]",
			            hdr, sub, AGENT_CONFIG_NAME_MAX);
		if (base_len == 4 && strncmp(hdr, "slot", 4) == 0) {
			if (agent_config_find_slot(c, sub) != NULL)
				return perr(p, UPK_ERR_INVALID, "section [%s] repeated", hdr);
			if (c->n_slots >= AGENT_CONFIG_MAX_SLOTS)
				return perr(p, UPK_ERR_INVALID,
				            "section [%s]: more than %u slots (an A/B pair)", hdr,
				            AGENT_CONFIG_MAX_SLOTS);
			struct config_slot *s = &c->slots[c->n_slots];
			if ((s->name = strdup(sub)) == NULL)
				return perr(p, UPK_ERR_NOMEM, "out of memory");
			p->slot_line[c->n_slots] = p->line;
			p->seen = p->seen_slot[c->n_slots];
			c->n_slots++;
			p->section = S_SLOT;
			p->keys = slot_keys;
			p->base = s;
			return UPK_OK;
		}
		if (base_len == 6 && strncmp(hdr, "module", 6) == 0) {
			struct config_module *nm;
			if (agent_config_find_module(c, sub) != NULL)
				return perr(p, UPK_ERR_INVALID, "section [%s] repeated", hdr);
			if (c->n_modules >= AGENT_CONFIG_MAX_MODULES)
				return perr(p, UPK_ERR_TOO_LARGE, "more than %u modules",
				            AGENT_CONFIG_MAX_MODULES);
			nm = realloc(c->modules, (c->n_modules + 1) * sizeof(*nm));
			if (nm == NULL)
				return perr(p, UPK_ERR_NOMEM, "out of memory");
			c->modules = nm;
			memset(&nm[c->n_modules], 0, sizeof(*nm));
			nm[c->n_modules].timeout_s = 600;
			if ((nm[c->n_modules].name = strdup(sub)) == NULL)
				return perr(p, UPK_ERR_NOMEM, "out of memory");
			p->module_line[c->n_modules] = p->line;
			p->seen = p->seen_module + c->n_modules * MAX_KEYS;
			p->section = S_MODULE;
			p->keys = module_keys;
			p->base = &nm[c->n_modules];
			c->n_modules++;
			return UPK_OK;
		}
		return perr(p, UPK_ERR_INVALID,
		            "unknown section [%s] (agent, trust, attributes, slot.NAME, "
		            "bootloader, health, archive, module.NAME)",
		            hdr);
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(hdr, table[i].name) != 0)
			continue;
		if (p->section_line[table[i].s] != 0)
			return perr(p, UPK_ERR_INVALID, "section [%s] repeated (first on line %u)",
			            hdr, p->section_line[table[i].s]);
		p->section_line[table[i].s] = p->line;
		p->section = table[i].s;
		p->seen = table[i].simple >= 0 ? p->seen_simple[table[i].simple] : NULL;
		switch (table[i].s) {
		case S_AGENT:
			p->keys = agent_keys, p->base = c;
			break;
		case S_TRUST:
			p->keys = trust_keys, p->base = c;
			break;
		case S_BOOTLOADER:
			p->keys = bootloader_keys, p->base = &c->bootloader;
			p->bootloader_section_line = p->line;
			break;
		case S_HEALTH:
			p->keys = health_keys, p->base = c;
			break;
		case S_ARCHIVE:
			p->keys = archive_keys, p->base = c;
			break;
		default:
			p->keys = NULL, p->base = NULL;
			break;
		}
		return UPK_OK;
	}
	return perr(p, UPK_ERR_INVALID,
	            "unknown section [%s] (agent, trust, attributes, slot.NAME, bootloader, "
	            "health, archive, module.NAME)",
	            hdr);
}

static upk_status set_attr(struct parser *p, const char *key, const char *value)
{
	struct agent_config *c = p->cfg;
	struct config_attr *na;

	if (!attr_key_ok(key))
		return perr(p, UPK_ERR_INVALID,
		            "attribute name \"%s\" is not 1 to 64 of [A-Za-z0-9._:-]", key);
	if (strlen(value) > 256)
		return perr(p, UPK_ERR_TOO_LARGE, "attribute %s: value longer than 256 bytes", key);
	for (size_t i = 0; i < c->n_attrs; i++)
		if (strcmp(c->attrs[i].key, key) == 0)
			return perr(p, UPK_ERR_INVALID, "attribute \"%s\" repeated", key);
	if (c->n_attrs >= AGENT_CONFIG_MAX_ATTRS)
		return perr(p, UPK_ERR_TOO_LARGE, "more than %u attributes",
		            AGENT_CONFIG_MAX_ATTRS);
	na = realloc(c->attrs, (c->n_attrs + 1) * sizeof(*na));
	if (na == NULL)
		return perr(p, UPK_ERR_NOMEM, "out of memory");
	c->attrs = na;
	na[c->n_attrs].key = strdup(key);
	na[c->n_attrs].value = strdup(value);
	c->n_attrs++;
	if (na[c->n_attrs - 1].key == NULL || na[c->n_attrs - 1].value == NULL)
		return perr(p, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

static upk_status set_key(struct parser *p, const char *key, const char *value)
{
	char known[256];
	size_t i;

	if (p->section == S_NONE)
		return perr(p, UPK_ERR_INVALID, "key \"%s\" before any [section]", key);
	if (p->section == S_ATTRIBUTES)
		return set_attr(p, key, value);
	for (i = 0; p->keys[i].key != NULL; i++)
		if (strcmp(p->keys[i].key, key) == 0)
			break;
	if (p->keys[i].key == NULL) {
		list_keys(p->keys, known, sizeof(known));
		return perr(p, UPK_ERR_INVALID, "unknown key \"%s\" in [%s] (known: %s)", key,
		            section_name(p->section), known);
	}
	if (p->keys[i].kind != K_COMMANDS && p->seen[i] != 0)
		return perr(p, UPK_ERR_INVALID, "key \"%s\" repeated (first set on line %u)", key,
		            p->seen[i]);
	p->seen[i] = p->line;
	return set_value(p, &p->keys[i], value);
}

static int key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == ':';
}

static upk_status parse_line(struct parser *p, char *s)
{
	char *end = s + strlen(s), *eq, *k_end, *v;

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (*s == '\0' || *s == '#' || *s == ';')
		return UPK_OK;
	if (*s == '[') {
		if (end[-1] != ']' || end - s < 3)
			return perr(p, UPK_ERR_INVALID, "malformed section header \"%s\"", s);
		end[-1] = '\0';
		for (char *c = s + 1; *c != '\0'; c++)
			if (!key_char(*c))
				return perr(p, UPK_ERR_INVALID, "malformed section header \"[%s]\"",
				            s + 1);
		return begin_section(p, s + 1);
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return perr(p, UPK_ERR_INVALID, "expected \"key = value\", got \"%s\"", s);
	k_end = eq;
	while (k_end > s && (k_end[-1] == ' ' || k_end[-1] == '\t'))
		k_end--;
	*k_end = '\0';
	if (*s == '\0')
		return perr(p, UPK_ERR_INVALID, "missing key before \"=\"");
	for (char *c = s; *c != '\0'; c++)
		if (!key_char(*c))
			return perr(p, UPK_ERR_INVALID, "malformed key \"%s\"", s);
	v = eq + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v == '\0')
		return perr(p, UPK_ERR_INVALID, "key \"%s\" has no value", s);
	return set_key(p, s, v);
}

static upk_status default_path(struct parser *p, char **field, const char *dir, const char *leaf)
{
	if (*field != NULL)
		return UPK_OK;
	*field = dir != NULL ? fio_path_join(dir, leaf) : strdup(leaf);
	if (*field == NULL)
		return perr(p, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

static upk_status finish(struct parser *p)
{
	struct agent_config *c = p->cfg;
	struct config_bootloader *b = &c->bootloader;
	upk_status ret;

	p->line = 0;
	if ((ret = default_path(p, &c->data_dir, NULL, "/var/lib/upkeep")) != UPK_OK ||
	    (ret = default_path(p, &c->key_path, c->data_dir, "device.key")) != UPK_OK ||
	    (ret = default_path(p, &c->private_dir, c->data_dir, "private")) != UPK_OK ||
	    (ret = default_path(p, &c->image_root, NULL, "/etc/upkeep/image-root.json")) !=
	        UPK_OK ||
	    (ret = default_path(p, &c->director_root, NULL, "/etc/upkeep/director-root.json")) !=
	        UPK_OK ||
	    (ret = default_path(p, &c->cmdline, NULL, "/proc/cmdline")) != UPK_OK ||
	    (ret = default_path(p, &c->archive_dir, c->data_dir, "apps")) != UPK_OK)
		return ret;

	for (size_t i = 0; i < c->n_slots; i++) {
		if (c->slots[i].device == NULL) {
			p->line = p->slot_line[i];
			return perr(p, UPK_ERR_INVALID, "[slot.%s] has no device",
			            c->slots[i].name);
		}
	}
	for (size_t i = 0; i < c->n_modules; i++) {
		if (c->modules[i].handler == NULL) {
			p->line = p->module_line[i];
			return perr(p, UPK_ERR_INVALID, "[module.%s] has no handler",
			            c->modules[i].name);
		}
	}
	if (c->n_slots == 1) {
		p->line = p->slot_line[0];
		return perr(p, UPK_ERR_INVALID,
		            "[slot.%s] has no partner: slots come as an A/B pair",
		            c->slots[0].name);
	}
	if (c->n_slots == 2 && strcmp(c->slots[0].device, c->slots[1].device) == 0) {
		p->line = p->slot_line[1];
		return perr(p, UPK_ERR_INVALID, "slots %s and %s share the device %s",
		            c->slots[0].name, c->slots[1].name, c->slots[0].device);
	}

	if (p->bootloader_section_line != 0) {
		/* Which keys each backend reads, by index in bootloader_keys. */
		static const unsigned char applies[4][7] = {
		    [BOOTLOADER_UBOOT] = {1, 1, 1, 1, 0, 0, 0},
		    [BOOTLOADER_GRUB] = {1, 0, 0, 0, 1, 0, 0},
		    [BOOTLOADER_SCRIPT] = {1, 0, 0, 0, 0, 1, 1},
		};
		unsigned *seen = p->seen_simple[2];

		if (b->type == BOOTLOADER_NONE) {
			p->line = p->bootloader_section_line;
			return perr(p, UPK_ERR_INVALID,
			            "[bootloader] has no type (uboot, grub, script)");
		}
		for (size_t i = 0; bootloader_keys[i].key != NULL; i++) {
			if (seen[i] != 0 && !applies[b->type][i]) {
				p->line = seen[i];
				return perr(p, UPK_ERR_INVALID,
				            "key \"%s\" does not apply to bootloader type \"%s\"",
				            bootloader_keys[i].key,
				            agent_config_bootloader_name(b->type));
			}
		}
		if (b->type == BOOTLOADER_SCRIPT && b->command == NULL) {
			p->line = p->bootloader_section_line;
			return perr(p, UPK_ERR_INVALID,
			            "bootloader type \"script\" needs a command");
		}
		if (b->type == BOOTLOADER_UBOOT &&
		    (ret = default_path(p, &b->fw_env_config, NULL, "/etc/fw_env.config")) !=
		        UPK_OK)
			return ret;
		if (b->type == BOOTLOADER_GRUB &&
		    (ret = default_path(p, &b->grubenv, NULL, "/boot/grub/grubenv")) != UPK_OK)
			return ret;
	}
	if (c->n_slots == 2 && b->type == BOOTLOADER_NONE)
		return perr(p, UPK_ERR_INVALID,
		            "slots are defined but there is no [bootloader] to switch them");
	return UPK_OK;
}

upk_status agent_config_parse(const char *text, size_t len, const char *name,
                              struct agent_config **out, struct upk_error *err)
{
	struct parser *p = NULL;
	struct agent_config *c = NULL;
	char *line = NULL;
	size_t pos = 0;
	upk_status ret = UPK_OK;

	p = calloc(1, sizeof(*p));
	c = calloc(1, sizeof(*c));
	line = malloc(AGENT_CONFIG_MAX_LINE + 1);
	if (p == NULL || c == NULL || line == NULL ||
	    (p->seen_module = calloc(AGENT_CONFIG_MAX_MODULES * MAX_KEYS, sizeof(unsigned))) ==
	        NULL ||
	    (c->source = strdup(name)) == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	p->name = name;
	p->cfg = c;
	p->err = err;
	c->poll_interval_s = 3600;
	c->health_timeout_s = 60;
	c->archive_max_bytes = 4ull << 30;
	c->archive_max_entries = 100000;
	c->bootloader.bootlimit = 1;
	c->bootloader.timeout_s = 60;

	if (len > AGENT_CONFIG_MAX_BYTES) {
		ret = perr(p, UPK_ERR_TOO_LARGE, "%zu bytes, more than the %u allowed", len,
		           AGENT_CONFIG_MAX_BYTES);
		goto out;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t raw = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		size_t n = raw;

		p->line++;
		if (n > 0 && text[pos + n - 1] == '\r')
			n--; /* CRLF files from other systems */
		if (n > AGENT_CONFIG_MAX_LINE) {
			ret = perr(p, UPK_ERR_TOO_LARGE, "line longer than %u bytes",
			           AGENT_CONFIG_MAX_LINE);
			goto out;
		}
		if (!text_ok((const unsigned char *)text + pos, n)) {
			ret = perr(p, UPK_ERR_INVALID,
			           "control character or invalid UTF-8 in the line");
			goto out;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		ret = parse_line(p, line);
		if (ret != UPK_OK)
			goto out;
		pos += raw + 1;
	}
	ret = finish(p);
	if (ret != UPK_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	agent_config_free(c);
	if (p != NULL)
		free(p->seen_module);
	free(p);
	free(line);
	return ret;
}

upk_status agent_config_load(const char *path, struct agent_config **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret;

	ret = fio_read_file(path, AGENT_CONFIG_MAX_BYTES, &text, &len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "configuration: ");
	ret = agent_config_parse(text, len, path, out, err);
	free(text);
	return ret;
}

void agent_config_free(struct agent_config *c)
{
	if (c == NULL)
		return;
	free(c->source);
	free(c->data_dir);
	free(c->private_dir);
	free(c->key_path);
	free(c->server_url);
	free(c->hardware_id);
	free(c->image_root);
	free(c->director_root);
	free(c->cmdline);
	free(c->reboot_command);
	free(c->pre_install);
	for (size_t i = 0; i < c->n_attrs; i++) {
		free(c->attrs[i].key);
		free(c->attrs[i].value);
	}
	free(c->attrs);
	for (size_t i = 0; i < c->n_slots; i++) {
		free(c->slots[i].name);
		free(c->slots[i].device);
	}
	free(c->bootloader.fw_env_config);
	free(c->bootloader.default_env);
	free(c->bootloader.grubenv);
	free(c->bootloader.command);
	for (size_t i = 0; i < c->n_health; i++)
		free(c->health_commands[i]);
	free(c->health_commands);
	free(c->archive_dir);
	for (size_t i = 0; i < c->n_modules; i++) {
		free(c->modules[i].name);
		free(c->modules[i].handler);
	}
	free(c->modules);
	free(c);
}

const struct config_slot *agent_config_find_slot(const struct agent_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_slots; i++)
		if (strcmp(cfg->slots[i].name, name) == 0)
			return &cfg->slots[i];
	return NULL;
}

const struct config_module *agent_config_find_module(const struct agent_config *cfg,
                                                     const char *name)
{
	for (size_t i = 0; i < cfg->n_modules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	return NULL;
}
