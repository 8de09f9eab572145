/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict, bounded JSON parsing of bytes that came from outside: size and
 * nesting are checked before jansson sees the input, then duplicate keys,
 * NUL, bad UTF-8 and trailing data by jansson, then stray NUL bytes and
 * reals by us.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "upkeep/json.h"

/* Plain identifiers print as .key, everything else as ["key"]. */
static int is_identifier(const char *key, size_t len)
{
	if (len == 0 || (key[0] >= '0' && key[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* Appends as much of s as fits; returns 0 once buf is full. */
static int path_put(char *buf, size_t size, size_t *pos, const char *s, size_t len)
{
	/* Keep room for "..." and the NUL so truncation stays visible. */
	if (*pos + len + 4 > size) {
		if (*pos + 4 <= size)
			memcpy(buf + *pos, "...", 4);
		*pos = size;
		return 0;
	}
	memcpy(buf + *pos, s, len);
	*pos += len;
	buf[*pos] = '\0';
	return 1;
}

void json_path_format(char *buf, size_t size, const struct json_path_seg *segs, size_t n)
{
	size_t pos = 0;
	char tmp[32];

	if (size < 8) {
		if (size > 0)
			buf[0] = '\0';
		return;
	}
	path_put(buf, size, &pos, "$", 1);
	for (size_t i = 0; i < n; i++) {
		const struct json_path_seg *s = &segs[i];
		int ok = 1;

		if (s->key == NULL) {
			int w = snprintf(tmp, sizeof(tmp), "[%zu]", s->index);
			ok = path_put(buf, size, &pos, tmp, (size_t)w);
		} else if (is_identifier(s->key, s->key_len)) {
			ok = path_put(buf, size, &pos, ".", 1) &&
			     path_put(buf, size, &pos, s->key, s->key_len);
		} else {
			ok = path_put(buf, size, &pos, "[\"", 2);
			for (size_t k = 0; ok && k < s->key_len; k++) {
				unsigned char c = (unsigned char)s->key[k];

				/*
				 * Keys are attacker-chosen: escape what could
				 * forge or garble the message on a terminal.
				 */
				if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
					snprintf(tmp, sizeof(tmp), "\\x%02x", c);
					ok = path_put(buf, size, &pos, tmp, 4);
				} else {
					ok = path_put(buf, size, &pos, (const char *)&c, 1);
				}
			}
			if (ok)
				ok = path_put(buf, size, &pos, "\"]", 2);
		}
		if (!ok)
			return;
	}
}

/*
 * Finds the first place where arrays and objects nest deeper than max_depth,
 * counting brackets outside strings. jansson recurses once per level, so this
 * bounds its stack by the caller's limit rather than its compiled-in 2048. The
 * string tracking matches jansson's lexer (a string ends at an unescaped
 * quote), so on any input this count is at least the depth jansson reaches
 * before it stops. Returns 1 and sets *where when too deep.
 */
static int too_deep(const unsigned char *p, size_t len, size_t max_depth, size_t *where)
{
	size_t depth = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			break;
		case '[':
		case '{':
			if (++depth > max_depth) {
				*where = i;
				return 1;
			}
			break;
		case ']':
		case '}':
			/* Unbalanced closers are jansson's to reject. */
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void line_column(const unsigned char *p, size_t offset, size_t *line, size_t *column)
{
	size_t l = 1, start = 0;

	for (size_t i = 0; i < offset; i++) {
		if (p[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*column = offset - start + 1;
}

/*
 * TUF metadata holds no reals and canonical JSON cannot encode them, so one
 * anywhere makes the document invalid. Recursion is bounded by the depth the
 * pre-scan allowed; segs has room for that many levels.
 */
static upk_status reject_reals(json_t *v, struct json_path_seg *segs, size_t depth,
			       size_t max_segs, struct upk_error *err)
{
	upk_status ret;

	if (json_is_real(v)) {
		char path[256];

		json_path_format(path, sizeof(path), segs, depth);
		return upk_error_set(err, UPK_ERR_INVALID,
				     "real number %.17g at %s: only integers are allowed "
				     "(canonical JSON cannot encode reals)",
				     json_real_value(v), path);
	}
	if (!json_is_object(v) && !json_is_array(v))
		return UPK_OK;
	if (depth >= max_segs)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
				     "JSON nesting deeper than %zu levels", max_segs);
	if (json_is_array(v)) {
		size_t n = json_array_size(v);

		for (size_t i = 0; i < n; i++) {
			segs[depth] = (struct json_path_seg){.key = NULL, .index = i};
			ret = reject_reals(json_array_get(v, i), segs, depth + 1, max_segs, err);
			if (ret != UPK_OK)
				return ret;
		}
		return UPK_OK;
	}
	for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
		const char *key = json_object_iter_key(it);

		segs[depth] = (struct json_path_seg){.key = key, .key_len = strlen(key)};
		ret = reject_reals(json_object_iter_value(it), segs, depth + 1, max_segs, err);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

upk_status upk_json_parse(const void *buf, size_t len, const struct upk_json_limits *limits,
			  json_t **out, struct upk_error *err)
{
	size_t max_bytes = UPK_JSON_DEFAULT_MAX_BYTES;
	size_t max_depth = UPK_JSON_DEFAULT_MAX_DEPTH;
	struct json_path_seg *segs = NULL;
	json_t *doc = NULL;
	json_error_t jerr;
	const char *nul;
	size_t where;
	upk_status ret;

	if (limits != NULL && limits->max_bytes != 0)
		max_bytes = limits->max_bytes;
	if (limits != NULL && limits->max_depth != 0)
		max_depth = limits->max_depth;
	/* jansson refuses deeper documents anyway; this also sizes segs. */
	if (max_depth > JSON_PARSER_MAX_DEPTH)
		max_depth = JSON_PARSER_MAX_DEPTH;

	if (out == NULL || (buf == NULL && len > 0)) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "JSON parse: no %s given",
				    out == NULL ? "output" : "input");
		goto out;
	}
	if (len > max_bytes) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
				    "JSON document of %zu bytes is over the limit of %zu bytes",
				    len, max_bytes);
		goto out;
	}
	if (len == 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "JSON document is empty");
		goto out;
	}
	if (too_deep(buf, len, max_depth, &where)) {
		size_t line, column;

		line_column(buf, where, &line, &column);
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
				    "JSON nests deeper than %zu levels at line %zu, column %zu "
				    "(byte %zu)",
				    max_depth, line, column, where);
		goto out;
	}

	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (doc == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_numeric_overflow:
			/* "too big integer" or "real number overflow" from jansson. */
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "JSON number out of range at line %d, column %d: %s "
					    "(integers must fit in 64 bits)",
					    jerr.line, jerr.column, jerr.text);
			break;
		case json_error_stack_overflow:
			ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
					    "JSON nests too deep at line %d, column %d: %s",
					    jerr.line, jerr.column, jerr.text);
			break;
		case json_error_out_of_memory:
			ret = upk_error_set(err, UPK_ERR_NOMEM,
					    "out of memory parsing JSON at line %d, column %d",
					    jerr.line, jerr.column);
			break;
		default:
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "invalid JSON at line %d, column %d: %s", jerr.line,
					    jerr.column, jerr.text);
			break;
		}
		goto out;
	}

	/*
	 * jansson drops a NUL byte that directly follows a number or a
	 * literal ("[1\0]" parses as [1]). A NUL byte is never JSON, and the
	 * in-place scanner (json_scan.c) must not need to copy that quirk.
	 */
	nul = memchr(buf, '\0', len);
	if (nul != NULL) {
		size_t line, column;

		where = (size_t)(nul - (const char *)buf);
		line_column(buf, where, &line, &column);
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "invalid JSON at line %zu, column %zu: NUL byte (byte %zu)",
				    line, column, where);
		goto out;
	}
	segs = calloc(max_depth, sizeof(*segs));
	if (segs == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory checking JSON for reals");
		goto out;
	}
	ret = reject_reals(doc, segs, 0, max_depth, err);
	if (ret != UPK_OK)
		goto out;

	*out = doc;
	doc = NULL;
	ret = UPK_OK;
out:
	free(segs);
	json_decref(doc);
	return ret;
}
