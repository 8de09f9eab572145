/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON on the bytes in place: one validating pass with exactly the
 * verdicts of upk_json_parse() (jansson with duplicate keys, NUL, bad UTF-8,
 * reals, out-of-range integers, trailing data, size and depth refused), then
 * canonical JSON or jansson values of any part, made from the spans without
 * checking again. Lone jansson behaviours it copies are marked "as jansson".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hex_internal.h"
#include "json_scan.h"

/* ---- shared pieces ---- */

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Four hex digits at p (all present and checked by the caller). */
static unsigned hex4(const unsigned char *p)
{
	return (unsigned)(hex_digit(p[0]) << 12 | hex_digit(p[1]) << 8 | hex_digit(p[2]) << 4 |
			  hex_digit(p[3]));
}

static size_t utf8_put(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decode the contents of a validated string (between the quotes) into out,
 * which has room for n bytes: no escape decodes to more bytes than it takes.
 */
static size_t decode_string(const unsigned char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned cp;

		if (s[i] != '\\') {
			out[o++] = (char)s[i];
			continue;
		}
		switch (s[++i]) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u':
			cp = hex4(s + i + 1);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + i + 3) - 0xDC00);
				i += 6;
			}
			o += utf8_put(cp, out + o);
			break;
		default: /* '"', '\\', '/' */
			out[o++] = (char)s[i];
			break;
		}
	}
	return o;
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : (al > bl) - (al < bl);
}

static int member_cmp(const void *x, const void *y)
{
	const struct jmember *a = x, *b = y;

	return key_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* 1 when the n members are in strictly increasing key order. */
static int strictly_sorted(const struct jmember *m, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (key_cmp(m[i - 1].key, m[i - 1].key_len, m[i].key, m[i].key_len) >= 0)
			return 0;
	return 1;
}

/*
 * A stack of members shared by every object being walked (an object pushes
 * its members above its parent's and pops them when done) and a stack of
 * decoded keys beside it, so a walk costs a few reallocations in all.
 */
struct stacks {
	struct jmember *m;
	size_t n_m, cap_m;
	char *scratch;
	size_t n_scratch, cap_scratch;
};

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *np;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	np = realloc(*p, c * size);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = c;
	return 0;
}

/* Push a member whose key is s[0, n) as written; escaped keys are decoded into scratch. */
static struct jmember *push_member(struct stacks *st, const unsigned char *base, size_t start,
				   size_t n, int escaped)
{
	struct jmember *m;

	if (grow((void **)&st->m, &st->cap_m, st->n_m + 1, sizeof(*st->m)) != 0)
		return NULL;
	m = &st->m[st->n_m++];
	memset(m, 0, sizeof(*m));
	if (!escaped) {
		m->key_off = start;
		m->key_len = n;
		return m;
	}
	if (grow((void **)&st->scratch, &st->cap_scratch, st->n_scratch + n, 1) != 0)
		return NULL;
	m->key_in_scratch = 1;
	m->key_off = st->n_scratch;
	m->key_len = decode_string(base + start, n, st->scratch + st->n_scratch);
	st->n_scratch += m->key_len;
	return m;
}

/* Scratch no longer moves once an object's members are all read: point the keys at it. */
static void resolve_keys(struct stacks *st, const unsigned char *base, size_t from)
{
	for (size_t i = from; i < st->n_m; i++)
		st->m[i].key = st->m[i].key_in_scratch ? st->scratch + st->m[i].key_off
						       : (const char *)base + st->m[i].key_off;
}

/* ---- validation ---- */

struct scan {
	const unsigned char *p;
	size_t len, pos;
	size_t max_depth;
	/*
	 * Things seen so far that canonical JSON writes differently: blanks
	 * between tokens, escapes other than \\ and \", "-0", unsorted keys.
	 * A value during which this does not move is canonical as written.
	 */
	size_t noncanon;
	struct stacks st;
	struct jwatch *watch;
};

static void skip_ws(struct scan *s)
{
	size_t from = s->pos;

	while (s->pos < s->len && is_ws(s->p[s->pos]))
		s->pos++;
	if (s->pos != from)
		s->noncanon++;
}

/* Length of the valid UTF-8 sequence at p (2 to 4), or 0; as jansson's utf8_check_full. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* UTF-16 surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* \uXXXX at s->p[i] (i at the backslash): its code unit, or -1. */
static long escape_u(const struct scan *s, size_t i)
{
	if (s->len - i < 6 || s->p[i] != '\\' || s->p[i + 1] != 'u')
		return -1;
	for (size_t k = 2; k < 6; k++)
		if (hex_digit(s->p[i + k]) < 0)
			return -1;
	return (long)hex4(s->p + i + 2);
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * 1 when none of the 8 bytes at p needs a look: no control byte, quote,
 * backslash or non-ASCII byte (word-at-a-time tests that never miss one).
 */
static int plain8(const unsigned char *p)
{
	uint64_t x, quote, bslash;

	memcpy(&x, p, sizeof(x));
	quote = x ^ (ONES * '"');
	bslash = x ^ (ONES * '\\');
	return ((x | ((x - ONES * 0x20) & ~x) | ((quote - ONES) & ~quote) |
		 ((bslash - ONES) & ~bslash)) &
		HIGHS) == 0;
}

/*
 * A string at s->pos (the opening quote). Sets the span of its contents and
 * whether it has escapes; -1 on anything jansson refuses: control bytes,
 * bad escapes, lone or unpaired surrogates, \u0000, invalid UTF-8, no end.
 */
static int scan_string(struct scan *s, size_t *start, size_t *end, int *escaped)
{
	size_t i = s->pos + 1;

	*escaped = 0;
	*start = i;
	for (;;) {
		unsigned char c;
		long u, lo;
		size_t n;

		/* The common bytes, quickly: eight at a time, then one by one. */
		while (s->len - i >= 8 && plain8(s->p + i))
			i += 8;
		while (i < s->len && s->p[i] >= 0x20 && s->p[i] < 0x80 && s->p[i] != '"' &&
		       s->p[i] != '\\')
			i++;
		if (i >= s->len)
			return -1;
		c = s->p[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			n = utf8_seq(s->p + i, s->len - i);
			if (n == 0)
				return -1;
			i += n;
			continue;
		}
		/* A backslash. */
		*escaped = 1;
		if (i + 1 >= s->len)
			return -1;
		c = s->p[i + 1];
		if (c != 'u') {
			if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return -1;
			if (c != '"' && c != '\\')
				s->noncanon++;
			i += 2;
			continue;
		}
		s->noncanon++;
		u = escape_u(s, i);
		/* NUL is refused in values and keys alike (as jansson without JSON_ALLOW_NUL). */
		if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF))
			return -1;
		i += 6;
		if (u >= 0xD800 && u <= 0xDBFF) {
			lo = escape_u(s, i);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			i += 6;
		}
	}
	*end = i;
	s->pos = i + 1;
	return 0;
}

/* An integer in int64 range; a fraction or exponent (a real) is refused. */
static int scan_number(struct scan *s)
{
	size_t i = s->pos;
	int neg = 0;
	uint64_t mag = 0, limit;

	if (s->p[i] == '-') {
		neg = 1;
		i++;
	}
	if (i >= s->len || s->p[i] < '0' || s->p[i] > '9')
		return -1;
	if (s->p[i] == '0') {
		if (neg)
			s->noncanon++; /* "-0" is written "0" */
		i++;
		/* As jansson: "01" is not a number. */
		if (i < s->len && s->p[i] >= '0' && s->p[i] <= '9')
			return -1;
	} else {
		limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		while (i < s->len && s->p[i] >= '0' && s->p[i] <= '9') {
			unsigned d = (unsigned)(s->p[i] - '0');

			if (mag > (limit - d) / 10)
				return -1;
			mag = mag * 10 + d;
			i++;
		}
	}
	if (i < s->len && (s->p[i] == '.' || s->p[i] == 'e' || s->p[i] == 'E'))
		return -1;
	s->pos = i;
	return 0;
}

static int scan_literal(struct scan *s, const char *word, size_t n)
{
	if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
		return -1;
	s->pos += n;
	return 0;
}

static int scan_value(struct scan *s, size_t depth, long on_path);

/* Called only for members not in strictly increasing order. */
static int duplicate_keys(const struct jmember *m, size_t n)
{
	struct jmember *sorted;
	int dup = 0;

	if (n <= 16) {
		for (size_t i = 0; i < n && !dup; i++)
			for (size_t j = i + 1; j < n && !dup; j++)
				dup = key_cmp(m[i].key, m[i].key_len, m[j].key, m[j].key_len) == 0;
		return dup;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (sorted == NULL)
		return 1;
	memcpy(sorted, m, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), member_cmp);
	dup = !strictly_sorted(sorted, n);
	free(sorted);
	return dup;
}

/* on_path: how many keys of the watched path lead here, or -1 when off it. */
static int scan_object(struct scan *s, size_t depth, long on_path)
{
	size_t base = s->st.n_m, scratch_base = s->st.n_scratch;
	int ret = -1;

	s->pos++;
	skip_ws(s);
	if (s->pos < s->len && s->p[s->pos] == '}') {
		s->pos++;
		ret = 0;
		goto done;
	}
	for (;;) {
		size_t kstart, kend, vstart, idx;
		int escaped;
		long child = -1;
		struct jmember *m;

		if (s->pos >= s->len || s->p[s->pos] != '"' ||
		    scan_string(s, &kstart, &kend, &escaped) != 0)
			goto out;
		m = push_member(&s->st, s->p, kstart, kend - kstart, escaped);
		if (m == NULL)
			goto out;
		idx = s->st.n_m - 1;
		if (on_path >= 0 && s->watch != NULL && (size_t)on_path < s->watch->depth) {
			const char *want = s->watch->path[on_path];
			const char *key = m->key_in_scratch ? s->st.scratch + m->key_off
							    : (const char *)s->p + m->key_off;

			if (key_cmp(key, m->key_len, want, strlen(want)) == 0)
				child = on_path + 1;
		}
		skip_ws(s);
		if (s->pos >= s->len || s->p[s->pos] != ':')
			goto out;
		s->pos++;
		skip_ws(s);
		vstart = s->pos;
		if (scan_value(s, depth + 1, child) != 0)
			goto out;
		s->st.m[idx].value = (struct jspan){vstart, s->pos};
		skip_ws(s);
		if (s->pos < s->len && s->p[s->pos] == ',') {
			s->pos++;
			skip_ws(s);
			continue;
		}
		if (s->pos < s->len && s->p[s->pos] == '}') {
			s->pos++;
			break;
		}
		goto out;
	}
	resolve_keys(&s->st, s->p, base);
	if (!strictly_sorted(s->st.m + base, s->st.n_m - base)) {
		s->noncanon++;
		if (duplicate_keys(s->st.m + base, s->st.n_m - base))
			goto out;
	}
	ret = 0;
done:
	if (on_path >= 0 && s->watch != NULL && (size_t)on_path == s->watch->depth &&
	    s->watch->members != NULL) {
		resolve_keys(&s->st, s->p, base);
		if (s->watch->members(s->watch->ctx, s->st.m + base, s->st.n_m - base) != 0)
			ret = -1;
	}
out:
	s->st.n_m = base;
	s->st.n_scratch = scratch_base;
	return ret;
}

static int scan_array(struct scan *s, size_t depth)
{
	s->pos++;
	skip_ws(s);
	if (s->pos < s->len && s->p[s->pos] == ']') {
		s->pos++;
		return 0;
	}
	for (;;) {
		if (scan_value(s, depth + 1, -1) != 0)
			return -1;
		skip_ws(s);
		if (s->pos < s->len && s->p[s->pos] == ',') {
			s->pos++;
			skip_ws(s);
			continue;
		}
		if (s->pos < s->len && s->p[s->pos] == ']') {
			s->pos++;
			return 0;
		}
		return -1;
	}
}

/* depth: containers around this value. s->pos is at its first byte. */
static int scan_value(struct scan *s, size_t depth, long on_path)
{
	size_t start = s->pos, noncanon = s->noncanon, a, b;
	int escaped, ret;

	/* As jansson, which counts every value (scalars too) against its 2048. */
	if (depth + 1 > JSON_PARSER_MAX_DEPTH || s->pos >= s->len)
		return -1;
	switch (s->p[s->pos]) {
	case '{':
		ret = depth + 1 > s->max_depth ? -1 : scan_object(s, depth, on_path);
		break;
	case '[':
		ret = depth + 1 > s->max_depth ? -1 : scan_array(s, depth);
		break;
	case '"':
		ret = scan_string(s, &a, &b, &escaped);
		break;
	case 't':
		ret = scan_literal(s, "true", 4);
		break;
	case 'f':
		ret = scan_literal(s, "false", 5);
		break;
	case 'n':
		ret = scan_literal(s, "null", 4);
		break;
	default:
		ret = scan_number(s);
		break;
	}
	if (ret == 0 && on_path >= 0) {
		s->watch->found |= 1u << on_path;
		s->watch->at[on_path] = (struct jspan){start, s->pos};
		if (s->noncanon == noncanon)
			s->watch->canonical |= 1u << on_path;
	}
	return ret;
}

int jscan_validate(const char *buf, size_t len, size_t max_bytes, size_t max_depth,
		   struct jwatch *watch)
{
	struct scan s = {.p = (const unsigned char *)buf, .len = len, .watch = watch};
	int ok;

	/* The same limits as upk_json_parse(), whose pre-scan counts containers. */
	s.max_depth = max_depth > JSON_PARSER_MAX_DEPTH ? JSON_PARSER_MAX_DEPTH : max_depth;
	if (watch != NULL) {
		watch->found = 0;
		watch->canonical = 0;
		memset(watch->at, 0, sizeof(watch->at));
	}
	if (buf == NULL || len == 0 || len > max_bytes ||
	    (watch != NULL && watch->depth > JWATCH_MAX_DEPTH))
		return 0;
	/* Never NULL, so that an object's (maybe empty) member list has an address. */
	if (grow((void **)&s.st.m, &s.st.cap_m, 16, sizeof(*s.st.m)) != 0)
		return 0;
	skip_ws(&s);
	ok = scan_value(&s, 0, watch != NULL ? 0 : -1) == 0;
	skip_ws(&s);
	ok = ok && s.pos == s.len;
	free(s.st.m);
	free(s.st.scratch);
	return ok;
}

/* ---- walking a validated document ---- */

struct walk {
	const unsigned char *p;
	size_t pos, end; /* end bounds a top-level number, the only unbracketed value */
	struct stacks st;
	struct jspan skip;
	char *out; /* canonical output, room for the whole span */
	size_t len;
};

static void walk_ws(struct walk *w)
{
	while (is_ws(w->p[w->pos]))
		w->pos++;
}

/* After an element or member: past the blanks and the comma, if any. */
static void walk_comma(struct walk *w)
{
	walk_ws(w);
	if (w->p[w->pos] == ',') {
		w->pos++;
		walk_ws(w);
	}
}

/* The contents of the string at w->pos; moves past it. */
static void walk_string(struct walk *w, size_t *start, size_t *end, int *escaped)
{
	size_t i = w->pos + 1;
	/* Validated: the string ends before the span does. */
	const unsigned char *q = memchr(w->p + i, '"', w->end - i);

	*escaped = 0;
	*start = i;
	/* Most strings have no escapes: two memchr()s settle them. */
	if (memchr(w->p + i, '\\', (size_t)(q - (w->p + i))) == NULL) {
		*end = (size_t)(q - w->p);
		w->pos = *end + 1;
		return;
	}
	while (w->p[i] != '"') {
		if (w->p[i] == '\\') {
			*escaped = 1;
			i++;
		}
		i++;
	}
	*end = i;
	w->pos = i + 1;
}

static size_t walk_number(struct walk *w, int64_t *v)
{
	size_t start = w->pos;
	uint64_t mag = 0;
	int neg = w->p[w->pos] == '-';

	if (neg)
		w->pos++;
	while (w->pos < w->end && w->p[w->pos] >= '0' && w->p[w->pos] <= '9')
		mag = mag * 10 + (unsigned)(w->p[w->pos++] - '0');
	/* Through unsigned so that INT64_MIN has a magnitude. */
	*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return w->pos - start;
}

/* Past a value inside a container: it ends at a delimiter of that container. */
static void walk_skip(struct walk *w)
{
	size_t a, b, depth = 0;
	int escaped;

	for (;;) {
		unsigned char c = w->p[w->pos];

		if (c == '"') {
			walk_string(w, &a, &b, &escaped);
			continue;
		}
		if (depth == 0 && (c == ',' || c == '}' || c == ']' || is_ws(c)))
			return;
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		w->pos++;
	}
}

int jscan_next_member(const char *buf, struct jspan obj, size_t *pos, struct jmember *m)
{
	struct walk w = {.p = (const unsigned char *)buf, .pos = *pos ? *pos : obj.start + 1,
			 .end = obj.end};
	size_t a, b;
	int escaped;

	walk_ws(&w);
	if (w.p[w.pos] == ',') {
		w.pos++;
		walk_ws(&w);
	}
	if (w.p[w.pos] != '"')
		return 0;
	walk_string(&w, &a, &b, &escaped);
	walk_ws(&w);
	w.pos++; /* ':' */
	walk_ws(&w);
	memset(m, 0, sizeof(*m));
	m->key = buf + a;
	m->key_len = b - a;
	m->key_in_scratch = escaped;
	m->value.start = w.pos;
	walk_skip(&w);
	m->value.end = w.pos;
	*pos = w.pos;
	return 1;
}

int jscan_integer(const char *buf, struct jspan span, int64_t *out)
{
	struct walk w = {.p = (const unsigned char *)buf, .pos = span.start, .end = span.end};
	char c = buf[span.start];

	if (c != '-' && (c < '0' || c > '9'))
		return 0;
	walk_number(&w, out);
	return 1;
}

int jscan_plain_string(const char *buf, struct jspan span, const char **s, size_t *len)
{
	if (buf[span.start] != '"' ||
	    memchr(buf + span.start, '\\', span.end - span.start) != NULL)
		return 0;
	*s = buf + span.start + 1;
	*len = span.end - span.start - 2;
	return 1;
}

/* ---- canonical form ---- */

static void put(struct walk *w, const void *s, size_t n)
{
	memcpy(w->out + w->len, s, n);
	w->len += n;
}

/* Only '"' and '\\' are escaped, every other byte is written as is (see cjson.c). */
static void put_escaped(struct walk *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			put(w, "\\", 1);
		put(w, s + i, 1);
	}
	put(w, "\"", 1);
}

/* A string: as written when it has no escapes, else decoded and escaped again. */
static int canon_string(struct walk *w)
{
	size_t a, b;
	int escaped;

	walk_string(w, &a, &b, &escaped);
	if (!escaped) {
		put(w, w->p + a - 1, b - a + 2);
		return 0;
	}
	if (grow((void **)&w->st.scratch, &w->st.cap_scratch, w->st.n_scratch + (b - a), 1) != 0)
		return -1;
	put_escaped(w, w->st.scratch + w->st.n_scratch,
		    decode_string(w->p + a, b - a, w->st.scratch + w->st.n_scratch));
	return 0;
}

static int canon_value(struct walk *w);

/*
 * Members are written in document order, each remembered as a chunk of the
 * output; when the keys were not already sorted the chunks are rewritten
 * in key order, which documents written by canonical tools never need.
 */
static int canon_object(struct walk *w)
{
	size_t base = w->st.n_m, scratch_base = w->st.n_scratch, body, n;
	char *tmp;
	int ret = -1;

	put(w, "{", 1);
	body = w->len;
	w->pos++;
	walk_ws(w);
	while (w->p[w->pos] != '}') {
		size_t a, b, chunk;
		int escaped;
		struct jmember *m;

		if (w->st.n_m > base)
			put(w, ",", 1);
		chunk = w->len;
		walk_string(w, &a, &b, &escaped);
		m = push_member(&w->st, w->p, a, b - a, escaped);
		if (m == NULL)
			goto out;
		if (escaped)
			put_escaped(w, w->st.scratch + m->key_off, m->key_len);
		else
			put(w, w->p + a - 1, b - a + 2);
		put(w, ":", 1);
		walk_ws(w);
		w->pos++; /* ':' */
		walk_ws(w);
		n = w->st.n_m - 1;
		if (canon_value(w) != 0)
			goto out;
		/* The chunk, without its comma, rides in the member's value span. */
		w->st.m[n].value = (struct jspan){chunk, w->len};
		walk_comma(w);
	}
	w->pos++;
	n = w->st.n_m - base;
	resolve_keys(&w->st, w->p, base);
	if (n > 1 && !strictly_sorted(w->st.m + base, n)) {
		tmp = malloc(w->len - body);
		if (tmp == NULL)
			goto out;
		memcpy(tmp, w->out + body, w->len - body);
		qsort(w->st.m + base, n, sizeof(*w->st.m), member_cmp);
		w->len = body;
		for (size_t i = 0; i < n; i++) {
			const struct jspan *c = &w->st.m[base + i].value;

			if (i > 0)
				put(w, ",", 1);
			put(w, tmp + (c->start - body), c->end - c->start);
		}
		free(tmp);
	}
	put(w, "}", 1);
	ret = 0;
out:
	w->st.n_m = base;
	w->st.n_scratch = scratch_base;
	return ret;
}

static int canon_value(struct walk *w)
{
	int64_t v;
	size_t start = w->pos, n;

	switch (w->p[w->pos]) {
	case '{':
		return canon_object(w);
	case '[':
		put(w, "[", 1);
		w->pos++;
		walk_ws(w);
		for (size_t i = 0; w->p[w->pos] != ']'; i++) {
			if (i > 0)
				put(w, ",", 1);
			if (canon_value(w) != 0)
				return -1;
			walk_comma(w);
		}
		w->pos++;
		put(w, "]", 1);
		return 0;
	case '"':
		return canon_string(w);
	case 't':
	case 'n':
		put(w, w->p + w->pos, 4);
		w->pos += 4;
		return 0;
	case 'f':
		put(w, "false", 5);
		w->pos += 5;
		return 0;
	default:
		n = walk_number(w, &v);
		/* "-0" is the one integer with a second spelling. */
		if (v == 0)
			put(w, "0", 1);
		else
			put(w, w->p + start, n);
		return 0;
	}
}

upk_status jscan_canonical(const char *buf, struct jspan span, char **out, size_t *out_len,
			   struct upk_error *err)
{
	struct walk w = {.p = (const unsigned char *)buf, .pos = span.start, .end = span.end};
	upk_status ret = UPK_OK;

	w.out = malloc(span.end - span.start + 1);
	if (w.out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory for canonical JSON");
	walk_ws(&w);
	if (canon_value(&w) != 0) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory for canonical JSON");
		free(w.out);
	} else {
		w.out[w.len] = '\0';
		*out = w.out;
		*out_len = w.len;
	}
	free(w.st.m);
	free(w.st.scratch);
	return ret;
}

/* ---- jansson values ---- */

static json_t *build_value(struct walk *w);

/* The decoded string at w->pos (moved past it) in scratch; NULL when out of memory. */
static const char *build_text(struct walk *w, size_t *n)
{
	size_t a, b;
	int escaped;

	walk_string(w, &a, &b, &escaped);
	if (!escaped) {
		*n = b - a;
		return (const char *)w->p + a;
	}
	if (grow((void **)&w->st.scratch, &w->st.cap_scratch, b - a + 1, 1) != 0)
		return NULL;
	*n = decode_string(w->p + a, b - a, w->st.scratch);
	return w->st.scratch;
}

static json_t *build_object(struct walk *w)
{
	json_t *obj = json_object();

	w->pos++;
	walk_ws(w);
	while (obj != NULL && w->p[w->pos] != '}') {
		size_t key_at = w->pos, n, a, b;
		const char *key;
		json_t *v;
		int escaped;

		walk_string(w, &a, &b, &escaped);
		walk_ws(w);
		w->pos++; /* ':' */
		walk_ws(w);
		if (w->skip.start != w->skip.end && w->pos == w->skip.start) {
			w->pos = w->skip.end;
			v = json_object();
		} else {
			v = build_value(w);
		}
		/* The key after its value: the value's strings reuse the scratch buffer. */
		{
			size_t after = w->pos;

			w->pos = key_at;
			key = build_text(w, &n);
			w->pos = after;
		}
		if (v == NULL || key == NULL || json_object_setn_new_nocheck(obj, key, n, v) != 0) {
			json_decref(v);
			json_decref(obj);
			return NULL;
		}
		walk_comma(w);
	}
	w->pos++;
	return obj;
}

static json_t *build_array(struct walk *w)
{
	json_t *arr = json_array();

	w->pos++;
	walk_ws(w);
	while (arr != NULL && w->p[w->pos] != ']') {
		if (json_array_append_new(arr, build_value(w)) != 0) {
			json_decref(arr);
			return NULL;
		}
		walk_comma(w);
	}
	w->pos++;
	return arr;
}

static json_t *build_value(struct walk *w)
{
	const char *s;
	int64_t v;
	size_t n;

	switch (w->p[w->pos]) {
	case '{':
		return build_object(w);
	case '[':
		return build_array(w);
	case '"':
		s = build_text(w, &n);
		return s != NULL ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		w->pos += 4;
		return json_true();
	case 'f':
		w->pos += 5;
		return json_false();
	case 'n':
		w->pos += 4;
		return json_null();
	default:
		walk_number(w, &v);
		return json_integer((json_int_t)v);
	}
}

upk_status jscan_build(const char *buf, struct jspan span, struct jspan skip, json_t **out,
		       struct upk_error *err)
{
	struct walk w = {
	    .p = (const unsigned char *)buf, .pos = span.start, .end = span.end, .skip = skip};
	json_t *v;

	walk_ws(&w);
	v = build_value(&w);
	free(w.st.m);
	free(w.st.scratch);
	if (v == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory building JSON");
	*out = v;
	return UPK_OK;
}
