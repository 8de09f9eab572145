/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical JSON as TUF signs it: the OLPC form exactly as securesystemslib's
 * encode_canonical() writes it. Runs on every verification of every role, so
 * it is linear apart from the per-object key sort, and allocation is amortized.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "upkeep/json.h"

/* An object member, sorted by key bytes before it is written. */
struct member {
	const char *key;
	size_t key_len;
	json_t *value;
};

struct encoder {
	char *buf;
	size_t len;
	size_t cap;
	size_t max; /* output cap, without the NUL */
	/*
	 * One stack of members shared by all objects being written: an object
	 * pushes its members above its parent's and pops them when done, so a
	 * document costs a few reallocations rather than one per object.
	 */
	struct member *members;
	size_t n_members;
	size_t cap_members;
	struct json_path_seg path[CJSON_MAX_DEPTH];
	struct upk_error *err;
};

static upk_status too_large(struct encoder *e, size_t depth)
{
	char path[256];

	json_path_format(path, sizeof(path), e->path, depth);
	return upk_error_set(e->err, UPK_ERR_TOO_LARGE,
			     "canonical JSON over the limit of %zu bytes at %s", e->max, path);
}

/* Makes room for n more bytes plus the final NUL. */
static upk_status reserve(struct encoder *e, size_t n, size_t depth)
{
	size_t want, cap;
	char *nb;

	if (n > e->max - e->len)
		return too_large(e, depth);
	want = e->len + n + 1;
	if (want <= e->cap)
		return UPK_OK;
	cap = e->cap ? e->cap : 4096;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	/* Never allocate far past the cap just because doubling overshoots. */
	if (cap > e->max + 1)
		cap = e->max + 1;
	nb = realloc(e->buf, cap);
	if (nb == NULL)
		return upk_error_set(e->err, UPK_ERR_NOMEM,
				     "out of memory growing canonical JSON to %zu bytes", cap);
	e->buf = nb;
	e->cap = cap;
	return UPK_OK;
}

static upk_status put(struct encoder *e, const char *s, size_t n, size_t depth)
{
	upk_status ret = reserve(e, n, depth);

	if (ret != UPK_OK)
		return ret;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	return UPK_OK;
}

/*
 * Only '"' and '\\' are escaped; every other byte, control characters and
 * UTF-8 alike, is copied as is. That is what makes the form canonical (one
 * spelling per string) and what securesystemslib does.
 */
static upk_status put_string(struct encoder *e, const char *s, size_t n, size_t depth)
{
	size_t start = 0;
	upk_status ret;

	/* The common case has nothing to escape: size once for all of it. */
	ret = reserve(e, n + 2, depth);
	if (ret != UPK_OK)
		return ret;
	e->buf[e->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		char esc[2] = {'\\', s[i]};

		ret = put(e, s + start, i - start, depth);
		if (ret == UPK_OK)
			ret = put(e, esc, 2, depth);
		if (ret != UPK_OK)
			return ret;
		start = i + 1;
	}
	ret = put(e, s + start, n - start, depth);
	if (ret != UPK_OK)
		return ret;
	return put(e, "\"", 1, depth);
}

static upk_status put_integer(struct encoder *e, json_int_t v, size_t depth)
{
	char digits[24];
	size_t i = sizeof(digits);
	/* Through unsigned so that the most negative value has a magnitude. */
	unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		digits[--i] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	if (v < 0)
		digits[--i] = '-';
	return put(e, digits + i, sizeof(digits) - i, depth);
}

/* Byte order of UTF-8 is code point order, which is how Python sorts str. */
static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static size_t iter_key_len(void *it)
{
#if JANSSON_VERSION_HEX >= 0x020e00
	return json_object_iter_key_len(it);
#else
	return strlen(json_object_iter_key(it));
#endif
}

static upk_status encode_value(struct encoder *e, json_t *v, size_t depth);

static upk_status encode_object(struct encoder *e, json_t *obj, size_t depth)
{
	size_t n = json_object_size(obj), base = e->n_members;
	upk_status ret;
	size_t i = 0;

	if (n > e->cap_members - e->n_members) {
		size_t cap = e->cap_members ? e->cap_members : 64;
		struct member *nm;

		while (cap - e->n_members < n)
			cap *= 2;
		nm = realloc(e->members, cap * sizeof(*nm));
		if (nm == NULL)
			return upk_error_set(e->err, UPK_ERR_NOMEM,
					     "out of memory sorting %zu object keys", n);
		e->members = nm;
		e->cap_members = cap;
	}
	for (void *it = json_object_iter(obj); it != NULL && i < n;
	     it = json_object_iter_next(obj, it), i++) {
		e->members[base + i] = (struct member){
			.key = json_object_iter_key(it),
			.key_len = iter_key_len(it),
			.value = json_object_iter_value(it),
		};
	}
	e->n_members = base + n;
	/* members is still NULL while only empty objects were seen. */
	if (n > 1)
		qsort(e->members + base, n, sizeof(*e->members), member_cmp);

	ret = put(e, "{", 1, depth);
	for (i = 0; ret == UPK_OK && i < n; i++) {
		/* A copy: nested objects may move the members array. */
		struct member m = e->members[base + i];

		e->path[depth] = (struct json_path_seg){.key = m.key, .key_len = m.key_len};
		if (i > 0)
			ret = put(e, ",", 1, depth);
		if (ret == UPK_OK)
			ret = put_string(e, m.key, m.key_len, depth);
		if (ret == UPK_OK)
			ret = put(e, ":", 1, depth + 1);
		if (ret == UPK_OK)
			ret = encode_value(e, m.value, depth + 1);
	}
	if (ret == UPK_OK)
		ret = put(e, "}", 1, depth);
	e->n_members = base;
	return ret;
}

static upk_status encode_array(struct encoder *e, json_t *arr, size_t depth)
{
	size_t n = json_array_size(arr);
	upk_status ret = put(e, "[", 1, depth);

	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		e->path[depth] = (struct json_path_seg){.key = NULL, .index = i};
		if (i > 0)
			ret = put(e, ",", 1, depth);
		if (ret == UPK_OK)
			ret = encode_value(e, json_array_get(arr, i), depth + 1);
	}
	if (ret == UPK_OK)
		ret = put(e, "]", 1, depth);
	return ret;
}

/* depth is the number of containers around v; e->path[0..depth) leads to it. */
static upk_status encode_value(struct encoder *e, json_t *v, size_t depth)
{
	char path[256];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		/*
		 * Bounds the recursion on hand-built trees (parsed ones are
		 * bounded already) and stops on reference cycles.
		 */
		if (depth >= CJSON_MAX_DEPTH) {
			json_path_format(path, sizeof(path), e->path, depth);
			return upk_error_set(e->err, UPK_ERR_TOO_LARGE,
					     "canonical JSON nests deeper than %d levels at %s",
					     CJSON_MAX_DEPTH, path);
		}
		if (json_is_object(v))
			return encode_object(e, v, depth);
		return encode_array(e, v, depth);
	case JSON_STRING:
		return put_string(e, json_string_value(v), json_string_length(v), depth);
	case JSON_INTEGER:
		return put_integer(e, json_integer_value(v), depth);
	case JSON_TRUE:
		return put(e, "true", 4, depth);
	case JSON_FALSE:
		return put(e, "false", 5, depth);
	case JSON_NULL:
		return put(e, "null", 4, depth);
	case JSON_REAL:
		json_path_format(path, sizeof(path), e->path, depth);
		return upk_error_set(e->err, UPK_ERR_INVALID,
				     "real number %.17g at %s cannot be encoded as canonical JSON",
				     json_real_value(v), path);
	}
	return upk_error_set(e->err, UPK_ERR_INVALID, "unknown JSON type %d",
			     (int)json_typeof(v));
}

upk_status cjson_encode_max(const json_t *value, size_t max_bytes, char **out, size_t *out_len,
			    struct upk_error *err)
{
	struct encoder e = {.max = max_bytes, .err = err};
	upk_status ret;

	if (value == NULL || out == NULL) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "canonical JSON: no %s given",
				    value == NULL ? "value" : "output");
		goto out;
	}
	/* jansson's accessors take json_t *; nothing here writes through it. */
	ret = encode_value(&e, (json_t *)value, 0);
	if (ret != UPK_OK)
		goto out;
	/* Even "0" needs the buffer; reserve() left room for the NUL. */
	e.buf[e.len] = '\0';
	*out = e.buf;
	if (out_len != NULL)
		*out_len = e.len;
	e.buf = NULL;
out:
	free(e.buf);
	free(e.members);
	return ret;
}

upk_status upk_cjson_encode(const json_t *value, char **out, size_t *out_len,
			    struct upk_error *err)
{
	return cjson_encode_max(value, CJSON_MAX_BYTES, out, out_len, err);
}
