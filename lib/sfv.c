/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 8941 Structured Field Values: a strict Dictionary parser and the
 * serializers that RFC 9421 needs to rebuild "@signature-params" exactly.
 * Field values come from the network, so every count and length is bounded
 * and every error names the byte offset and what was found there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64_internal.h"
#include "sfv_internal.h"

/* Every message names the byte offset where the input went wrong. */
#define AT "structured field: at byte %zu: "
#define OOM "structured field: out of memory"

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	struct upk_error *err;
};

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int is_lcalpha(int c)
{
	return c >= 'a' && c <= 'z';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* tchar of RFC 9110 section 5.6.2. */
static int is_tchar(int c)
{
	return c > 0 && (is_alpha(c) || is_digit(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static upk_status fail(struct parser *p, const char *expected)
{
	int c = peek(p);

	if (c < 0)
		return upk_error_set(p->err, UPK_ERR_INVALID,
				     AT "expected %s, found end of input",
				     p->pos, expected);
	if (c >= 0x21 && c <= 0x7e)
		return upk_error_set(p->err, UPK_ERR_INVALID,
				     AT "expected %s, found '%c'", p->pos,
				     expected, c);
	return upk_error_set(p->err, UPK_ERR_INVALID,
			     AT "expected %s, found byte 0x%02x", p->pos,
			     expected, (unsigned)c);
}

static void skip_sp(struct parser *p)
{
	while (peek(p) == ' ')
		p->pos++;
}

/* OWS of RFC 9110: SP and HTAB, allowed around dictionary commas only. */
static void skip_ows(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		p->pos++;
}

static void bare_clear(struct sfv_bare *v)
{
	free(v->data);
	v->data = NULL;
}

static void params_clear(struct sfv_params *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		bare_clear(&ps->v[i].value);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static void item_clear(struct sfv_item *it)
{
	bare_clear(&it->bare);
	params_clear(&it->params);
}

static void member_clear(struct sfv_member *m)
{
	item_clear(&m->item);
	for (size_t i = 0; i < m->nitems; i++)
		item_clear(&m->items[i]);
	free(m->items);
	m->items = NULL;
	m->nitems = 0;
	params_clear(&m->params);
}

void sfv_dict_clear(struct sfv_dict *dict)
{
	if (dict == NULL)
		return;
	for (size_t i = 0; i < dict->n; i++)
		member_clear(&dict->v[i]);
	free(dict->v);
	dict->v = NULL;
	dict->n = 0;
}

/* RFC 8941 4.2.3.3 */
static upk_status parse_key(struct parser *p, char key[SFV_MAX_KEY + 1])
{
	size_t n = 0;
	int c = peek(p);

	if (!is_lcalpha(c) && c != '*')
		return fail(p, "a key (lower-case letter or '*')");
	while ((c = peek(p)) >= 0 &&
	       (is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*')) {
		if (n == SFV_MAX_KEY)
			return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
					     AT "key longer than %d "
					     "characters",
					     p->pos, SFV_MAX_KEY);
		key[n++] = (char)c;
		p->pos++;
	}
	key[n] = '\0';
	return UPK_OK;
}

/* RFC 8941 4.2.4: sf-integer (15 digits) or sf-decimal (12.3 digits). */
static upk_status parse_number(struct parser *p, struct sfv_bare *v)
{
	size_t start = p->pos, digits = 0, frac = 0;
	int neg = 0, decimal = 0;
	int64_t num = 0;
	int c;

	if (peek(p) == '-') {
		neg = 1;
		p->pos++;
	}
	if (!is_digit(peek(p)))
		return fail(p, "a digit");
	while ((c = peek(p)) >= 0) {
		if (is_digit(c)) {
			num = num * 10 + (c - '0');
			digits++;
			if (decimal)
				frac++;
		} else if (c == '.' && !decimal) {
			if (digits > 12)
				return upk_error_set(p->err, UPK_ERR_INVALID,
						     AT "decimal with "
						     "more than 12 integer digits",
						     start);
			decimal = 1;
		} else {
			break;
		}
		p->pos++;
		if ((!decimal && digits > 15) || (decimal && frac > 3))
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     AT "number too long", start);
	}
	if (decimal) {
		if (frac == 0)
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     AT "decimal ends with '.'",
					     start);
		for (; frac < 3; frac++)
			num *= 10;
		v->type = SFV_DECIMAL;
	} else {
		v->type = SFV_INTEGER;
	}
	v->num = neg ? -num : num;
	return UPK_OK;
}

/*
 * RFC 8941 4.2.5: printable ASCII, with only \" and \\ as escapes. Validated
 * and measured first, then copied, so a field full of short strings costs
 * what it holds and not one input-sized buffer per string.
 */
static upk_status parse_string(struct parser *p, struct sfv_bare *v)
{
	size_t start = p->pos, n = 0, end;
	uint8_t *out;
	int c;

	p->pos++; /* the opening quote */
	for (;;) {
		c = peek(p);
		if (c < 0)
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     AT "string not closed",
					     start);
		if (c == '"')
			break;
		if (c == '\\') {
			p->pos++;
			c = peek(p);
			if (c != '"' && c != '\\')
				return fail(p, "'\"' or '\\' after '\\' in a string");
		} else if (c < 0x20 || c > 0x7e) {
			return fail(p, "a printable ASCII character in a string");
		}
		n++;
		p->pos++;
	}
	end = p->pos++; /* the closing quote */
	out = malloc(n + 1);
	if (out == NULL)
		return upk_error_set(p->err, UPK_ERR_NOMEM, OOM);
	n = 0;
	for (size_t i = start + 1; i < end; i++) {
		if (p->s[i] == '\\')
			i++;
		out[n++] = (uint8_t)p->s[i];
	}
	out[n] = '\0';
	v->type = SFV_STRING;
	v->data = out;
	v->len = n;
	return UPK_OK;
}

/* RFC 8941 4.2.6 */
static upk_status parse_token(struct parser *p, struct sfv_bare *v)
{
	size_t start = p->pos;
	int c;

	while ((c = peek(p)) >= 0 && (is_tchar(c) || c == ':' || c == '/'))
		p->pos++;
	v->len = p->pos - start;
	v->data = malloc(v->len + 1);
	if (v->data == NULL)
		return upk_error_set(p->err, UPK_ERR_NOMEM, OOM);
	memcpy(v->data, p->s + start, v->len);
	v->data[v->len] = '\0';
	v->type = SFV_TOKEN;
	return UPK_OK;
}

/* RFC 8941 4.2.7, with canonical padded base64 required (see base64_decode). */
static upk_status parse_bytes(struct parser *p, struct sfv_bare *v)
{
	size_t start = ++p->pos, n;
	int c;

	while ((c = peek(p)) >= 0 && c != ':')
		p->pos++;
	if (c != ':')
		return upk_error_set(p->err, UPK_ERR_INVALID,
				     AT "byte sequence not closed",
				     start - 1);
	n = p->pos - start;
	v->data = malloc(n / 4 * 3 + 1);
	if (v->data == NULL)
		return upk_error_set(p->err, UPK_ERR_NOMEM, OOM);
	if (base64_decode(p->s + start, n, v->data, &v->len) != 0) {
		free(v->data);
		v->data = NULL;
		return upk_error_set(p->err, UPK_ERR_INVALID,
				     AT "byte sequence is not canonical "
				     "padded base64",
				     start);
	}
	p->pos++;
	v->type = SFV_BYTES;
	return UPK_OK;
}

/* RFC 8941 4.2.3.1 */
static upk_status parse_bare(struct parser *p, struct sfv_bare *v)
{
	int c = peek(p);

	if (c == '-' || is_digit(c))
		return parse_number(p, v);
	if (c == '"')
		return parse_string(p, v);
	if (c == '*' || is_alpha(c))
		return parse_token(p, v);
	if (c == ':')
		return parse_bytes(p, v);
	if (c == '?') {
		p->pos++;
		c = peek(p);
		if (c != '0' && c != '1')
			return fail(p, "'0' or '1' after '?'");
		p->pos++;
		v->type = SFV_BOOLEAN;
		v->num = c == '1';
		return UPK_OK;
	}
	return fail(p, "an item (number, string, token, byte sequence or boolean)");
}

/* RFC 8941 4.2.3.2 */
static upk_status parse_params(struct parser *p, struct sfv_params *ps)
{
	upk_status ret;

	while (peek(p) == ';') {
		struct sfv_param prm = {0};
		size_t at;

		p->pos++;
		skip_sp(p);
		at = p->pos;
		ret = parse_key(p, prm.key);
		if (ret != UPK_OK)
			return ret;
		if (peek(p) == '=') {
			p->pos++;
			ret = parse_bare(p, &prm.value);
			if (ret != UPK_OK)
				return ret;
		} else {
			prm.value.type = SFV_BOOLEAN;
			prm.value.num = 1;
		}
		if (sfv_params_get(ps, prm.key) != NULL) {
			bare_clear(&prm.value);
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     AT "parameter \"%s\" repeated",
					     at, prm.key);
		}
		if (ps->n == SFV_MAX_PARAMS) {
			bare_clear(&prm.value);
			return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
					     AT "more than %d parameters",
					     at, SFV_MAX_PARAMS);
		}
		struct sfv_param *grown = realloc(ps->v, (ps->n + 1) * sizeof(*grown));
		if (grown == NULL) {
			bare_clear(&prm.value);
			return upk_error_set(p->err, UPK_ERR_NOMEM, OOM);
		}
		ps->v = grown;
		ps->v[ps->n++] = prm;
	}
	return UPK_OK;
}

static upk_status parse_item(struct parser *p, struct sfv_item *it)
{
	upk_status ret = parse_bare(p, &it->bare);

	if (ret != UPK_OK)
		return ret;
	return parse_params(p, &it->params);
}

/* RFC 8941 4.2.1.2 */
static upk_status parse_inner(struct parser *p, struct sfv_member *m)
{
	upk_status ret;

	m->inner = 1;
	p->pos++; /* '(' */
	for (;;) {
		skip_sp(p);
		if (peek(p) == ')') {
			p->pos++;
			return parse_params(p, &m->params);
		}
		if (m->nitems == SFV_MAX_INNER)
			return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
					     AT "more than %d items in an "
					     "inner list",
					     p->pos, SFV_MAX_INNER);
		struct sfv_item *grown = realloc(m->items, (m->nitems + 1) * sizeof(*grown));
		if (grown == NULL)
			return upk_error_set(p->err, UPK_ERR_NOMEM, OOM);
		m->items = grown;
		memset(&m->items[m->nitems], 0, sizeof(m->items[0]));
		m->nitems++;
		ret = parse_item(p, &m->items[m->nitems - 1]);
		if (ret != UPK_OK)
			return ret;
		if (peek(p) != ' ' && peek(p) != ')')
			return fail(p, "' ' or ')' after an inner-list item");
	}
}

upk_status sfv_parse_dict(const char *s, size_t len, struct sfv_dict *dict, struct upk_error *err)
{
	struct parser p = {s, len, 0, err};
	struct sfv_dict d = {0};
	upk_status ret;

	if (len > SFV_MAX_INPUT) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
				    "structured field: %zu bytes, more than the limit of %d", len,
				    SFV_MAX_INPUT);
		goto out;
	}
	skip_sp(&p);
	/* An empty dictionary is valid RFC 8941 and simply has no members. */
	while (p.pos < p.len) {
		struct sfv_member *m;
		size_t at = p.pos;

		if (d.n == SFV_MAX_MEMBERS) {
			ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
					    AT "more than %d members", at,
					    SFV_MAX_MEMBERS);
			goto out;
		}
		m = realloc(d.v, (d.n + 1) * sizeof(*m));
		if (m == NULL) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, OOM);
			goto out;
		}
		d.v = m;
		m = &d.v[d.n++];
		memset(m, 0, sizeof(*m));
		ret = parse_key(&p, m->key);
		if (ret != UPK_OK)
			goto out;
		for (size_t i = 0; i + 1 < d.n; i++) {
			if (strcmp(d.v[i].key, m->key) == 0) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
						    AT "member \"%s\" "
						    "repeated",
						    at, m->key);
				goto out;
			}
		}
		if (peek(&p) == '=') {
			p.pos++;
			if (peek(&p) == '(')
				ret = parse_inner(&p, m);
			else
				ret = parse_item(&p, &m->item);
		} else {
			m->item.bare.type = SFV_BOOLEAN;
			m->item.bare.num = 1;
			ret = parse_params(&p, &m->item.params);
		}
		if (ret != UPK_OK)
			goto out;
		skip_ows(&p);
		if (p.pos == p.len)
			break;
		if (peek(&p) != ',') {
			ret = fail(&p, "',' between members");
			goto out;
		}
		p.pos++;
		skip_ows(&p);
		if (p.pos == p.len) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    AT "trailing ','", p.pos);
			goto out;
		}
	}
	*dict = d;
	memset(&d, 0, sizeof(d));
	ret = UPK_OK;
out:
	sfv_dict_clear(&d);
	return ret;
}

const struct sfv_member *sfv_dict_get(const struct sfv_dict *dict, const char *key)
{
	for (size_t i = 0; i < dict->n; i++)
		if (strcmp(dict->v[i].key, key) == 0)
			return &dict->v[i];
	return NULL;
}

const struct sfv_bare *sfv_params_get(const struct sfv_params *params, const char *key)
{
	for (size_t i = 0; i < params->n; i++)
		if (strcmp(params->v[i].key, key) == 0)
			return &params->v[i].value;
	return NULL;
}

int sfv_is_key(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SFV_MAX_KEY || (!is_lcalpha((unsigned char)s[0]) && s[0] != '*'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		int c = (unsigned char)s[i];
		if (!is_lcalpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.' && c != '*')
			return 0;
	}
	return 1;
}

int sfv_is_string(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* ---- serializing (RFC 8941 section 4.1) ---- */

void sfv_buf_init(struct sfv_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void sfv_buf_add(struct sfv_buf *b, const char *s, size_t len)
{
	if (b->nomem || b->toobig)
		return;
	if (len > b->max - b->len) {
		b->toobig = 1;
		return;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->nomem = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void sfv_buf_addstr(struct sfv_buf *b, const char *s)
{
	sfv_buf_add(b, s, strlen(s));
}

void sfv_buf_bare(struct sfv_buf *b, const struct sfv_bare *v)
{
	char num[48];

	switch (v->type) {
	case SFV_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)v->num);
		sfv_buf_addstr(b, num);
		break;
	case SFV_DECIMAL: {
		/* 4.1.5: at most three fraction digits, trailing zeros dropped but one kept. */
		int64_t a = v->num < 0 ? -v->num : v->num;
		char frac[8];
		size_t digits = 3;

		snprintf(frac, sizeof(frac), "%03d", (int)(a % 1000));
		while (digits > 1 && frac[digits - 1] == '0')
			digits--;
		frac[digits] = '\0';
		snprintf(num, sizeof(num), "%s%lld.%s", v->num < 0 ? "-" : "",
			 (long long)(a / 1000), frac);
		sfv_buf_addstr(b, num);
		break;
	}
	case SFV_STRING:
		sfv_buf_add(b, "\"", 1);
		for (size_t i = 0; i < v->len; i++) {
			if (v->data[i] == '"' || v->data[i] == '\\')
				sfv_buf_add(b, "\\", 1);
			sfv_buf_add(b, (const char *)&v->data[i], 1);
		}
		sfv_buf_add(b, "\"", 1);
		break;
	case SFV_TOKEN:
		sfv_buf_add(b, (const char *)v->data, v->len);
		break;
	case SFV_BYTES: {
		char *enc = malloc(BASE64_ENCODED_LEN(v->len) + 1);
		if (enc == NULL) {
			b->nomem = 1;
			break;
		}
		base64_encode(v->data, v->len, enc);
		sfv_buf_add(b, ":", 1);
		sfv_buf_addstr(b, enc);
		sfv_buf_add(b, ":", 1);
		free(enc);
		break;
	}
	case SFV_BOOLEAN:
		sfv_buf_addstr(b, v->num ? "?1" : "?0");
		break;
	}
}

void sfv_buf_params(struct sfv_buf *b, const struct sfv_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		sfv_buf_add(b, ";", 1);
		sfv_buf_addstr(b, p->v[i].key);
		/* 4.1.1.2: a true boolean parameter is written as the bare key. */
		if (p->v[i].value.type == SFV_BOOLEAN && p->v[i].value.num == 1)
			continue;
		sfv_buf_add(b, "=", 1);
		sfv_buf_bare(b, &p->v[i].value);
	}
}

void sfv_buf_item(struct sfv_buf *b, const struct sfv_item *item)
{
	sfv_buf_bare(b, &item->bare);
	sfv_buf_params(b, &item->params);
}

void sfv_buf_inner(struct sfv_buf *b, const struct sfv_item *items, size_t n,
		   const struct sfv_params *params)
{
	sfv_buf_add(b, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			sfv_buf_add(b, " ", 1);
		sfv_buf_item(b, &items[i]);
	}
	sfv_buf_add(b, ")", 1);
	sfv_buf_params(b, params);
}

upk_status sfv_buf_finish(struct sfv_buf *b, char **out, size_t *out_len, struct upk_error *err)
{
	upk_status ret;

	if (b->nomem) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (b->toobig) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %zu bytes", b->max);
		goto out;
	}
	if (b->p == NULL)
		sfv_buf_add(b, "", 0);
	if (b->p == NULL) {
		/* sfv_buf_add of nothing allocates the first block, unless memory ran out. */
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = b->p;
	if (out_len != NULL)
		*out_len = b->len;
	b->p = NULL;
	ret = UPK_OK;
out:
	sfv_buf_free(b);
	return ret;
}

void sfv_buf_free(struct sfv_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
