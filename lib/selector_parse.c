/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Selector text to tree: a hand-written lexer and recursive-descent parser
 * for the grammar in docs/selectors.md. The text is owner-signed but may
 * still be hostile (a stolen key, a fuzzer), so every size is bounded and
 * every error names the byte offset, what was expected and what was found.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "selector_internal.h"

enum tok_kind {
	T_EOF,
	T_STRING,
	T_NUMBER,
	T_WORD,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_ASSIGN, /* = (tags) */
	T_EQ,     /* == (versions) */
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
};

struct token {
	enum tok_kind kind;
	size_t off; /* byte offset in the text */
	size_t len; /* raw length, quotes and escapes included */
};

struct parser {
	const char *s;
	size_t len;
	size_t pos; /* where the next token starts looking */
	struct token tok; /* the current token, not yet consumed */
	unsigned depth;
	struct upk_error *err;
};

static const char *const keywords[] = {
	"all", "and", "bucket", "device", "exists", "hardware", "in", "installed", "not", "or", "tag",
};

void sel_quote(const char *s, size_t len, char *buf, size_t bufsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* Room for the widest escape, "...", the closing quote and NUL. */
		if (o + 4 + 3 + 2 > bufsz) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

void sel_node_free(struct sel_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		sel_node_free(n->kids[i]);
	free(n->kids);
	for (size_t i = 0; i < n->n_strs; i++)
		free(n->strs[i]);
	free(n->strs);
	free(n->name);
	free(n);
}

void upk_selector_free(struct upk_selector *sel)
{
	if (sel == NULL)
		return;
	sel_node_free(sel->root);
	free(sel);
}

/* ---- lexer ---- */

static int is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_word_char(char c)
{
	return is_word_start(c) || is_digit(c);
}

/*
 * Length of the valid UTF-8 sequence at s[0..n), 0 when there is none:
 * overlong forms, surrogates and code points past U+10FFFF are refused so
 * that a selector always fits in a JSON string unchanged.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0u) != 0x80u)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3fu);
	}
	if (need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (need == 3 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return need + 1;
}

static upk_status lex_string(struct parser *p, size_t off)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t i = off + 1, decoded = 0;
	char q[16];

	for (;;) {
		size_t n;

		if (i >= p->len)
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     "selector: at byte %zu: string not closed by '\"'", off);
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (i + 1 >= p->len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				sel_quote(p->s + i, i + 1 < p->len ? 2 : 1, q, sizeof(q));
				return upk_error_set(p->err, UPK_ERR_INVALID,
						     "selector: at byte %zu: invalid escape %s "
						     "(only \\\" and \\\\ are allowed)",
						     i, q);
			}
			n = 2;
			decoded += 1;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			sel_quote(p->s + i, 1, q, sizeof(q));
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     "selector: at byte %zu: control character %s in string",
					     i, q);
		} else {
			n = utf8_len(s + i, p->len - i);
			if (n == 0) {
				sel_quote(p->s + i, 1, q, sizeof(q));
				return upk_error_set(p->err, UPK_ERR_INVALID,
						     "selector: at byte %zu: invalid UTF-8 at %s",
						     i, q);
			}
			decoded += n;
		}
		if (decoded > UPK_SELECTOR_MAX_STRING)
			return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
					     "selector: at byte %zu: string longer than %u bytes",
					     off, UPK_SELECTOR_MAX_STRING);
		i += n;
	}
	p->tok.kind = T_STRING;
	p->tok.len = i + 1 - off;
	return UPK_OK;
}

/* Read the token at p->pos into p->tok. */
static upk_status lex(struct parser *p)
{
	const char *s = p->s;
	size_t i = p->pos;
	upk_status ret = UPK_OK;
	char q[16];

	while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	p->tok.off = i;
	p->tok.len = 1;
	if (i >= p->len) {
		p->tok.kind = T_EOF;
		p->tok.len = 0;
	} else if (s[i] == '"') {
		ret = lex_string(p, i);
	} else if (is_word_start(s[i]) || is_digit(s[i])) {
		/*
		 * Numbers take letters and dots too, so that "10abc" or "1.2.3"
		 * is one bad token with a clear message, not two odd ones.
		 */
		int number = is_digit(s[i]);
		size_t j = i + 1;
		while (j < p->len && (is_word_char(s[j]) || (number && s[j] == '.')))
			j++;
		p->tok.kind = number ? T_NUMBER : T_WORD;
		p->tok.len = j - i;
	} else {
		char next = i + 1 < p->len ? s[i + 1] : '\0';
		switch (s[i]) {
		case '(': p->tok.kind = T_LPAREN; break;
		case ')': p->tok.kind = T_RPAREN; break;
		case '[': p->tok.kind = T_LBRACK; break;
		case ']': p->tok.kind = T_RBRACK; break;
		case ',': p->tok.kind = T_COMMA; break;
		case '=':
		case '<':
		case '>':
		case '!':
			if (next == '=') {
				p->tok.kind = s[i] == '=' ? T_EQ : s[i] == '<' ? T_LE
					      : s[i] == '>' ? T_GE : T_NE;
				p->tok.len = 2;
				break;
			}
			/* A lone '!' is not an operator. */
			if (s[i] != '!') {
				p->tok.kind = s[i] == '=' ? T_ASSIGN : s[i] == '<' ? T_LT : T_GT;
				break;
			}
			/* fall through */
		default:
			sel_quote(s + i, 1, q, sizeof(q));
			return upk_error_set(p->err, UPK_ERR_INVALID,
					     "selector: at byte %zu: unexpected character %s", i,
					     q);
		}
	}
	if (ret == UPK_OK)
		p->pos = p->tok.off + p->tok.len;
	return ret;
}

static int tok_is(const struct parser *p, const char *word)
{
	size_t n = strlen(word);

	return p->tok.kind == T_WORD && p->tok.len == n && memcmp(p->s + p->tok.off, word, n) == 0;
}

/* "expected X, found Y", with a hint when Y is a keyword in the wrong case. */
static upk_status expected(struct parser *p, const char *what)
{
	char q[64];
	const char *hint = "";

	if (p->tok.kind == T_EOF) {
		snprintf(q, sizeof(q), "the end of the text");
	} else {
		sel_quote(p->s + p->tok.off, p->tok.len, q, sizeof(q));
		if (p->tok.kind == T_WORD) {
			for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
				if (strlen(keywords[k]) == p->tok.len &&
				    strncasecmp(keywords[k], p->s + p->tok.off, p->tok.len) == 0)
					hint = " (keywords are lower-case)";
			}
		}
	}
	return upk_error_set(p->err, UPK_ERR_INVALID, "selector: at byte %zu: expected %s, found %s%s",
			     p->tok.off, what, q, hint);
}

/* Consume the current token when it is the keyword word, else fail. */
static upk_status expect_word(struct parser *p, const char *word, const char *what)
{
	if (!tok_is(p, word))
		return expected(p, what);
	return lex(p);
}

/* The current string token, unescaped into a new string, then consumed. */
static upk_status take_string(struct parser *p, const char *what, char **out)
{
	const char *s = p->s + p->tok.off + 1;
	size_t n, o = 0;
	upk_status ret;
	char *buf;

	if (p->tok.kind != T_STRING)
		return expected(p, what);
	n = p->tok.len - 2;
	buf = malloc(n + 1);
	if (buf == NULL)
		return upk_error_set(p->err, UPK_ERR_NOMEM, "selector: out of memory");
	/* The lexer has checked the escapes, so there are only two kinds left. */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			i++;
		buf[o++] = s[i];
	}
	buf[o] = '\0';
	ret = lex(p);
	if (ret != UPK_OK) {
		free(buf);
		return ret;
	}
	*out = buf;
	return UPK_OK;
}

static upk_status node_new(struct parser *p, enum sel_kind kind, struct sel_node **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return upk_error_set(p->err, UPK_ERR_NOMEM, "selector: out of memory");
	(*out)->kind = kind;
	return UPK_OK;
}

/*
 * Capacity of an array that grows by doubling: the next power of two at or
 * above n, so arrays need no separate capacity field. 0 when n is full.
 */
static size_t grow_to(size_t n)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	return n ? n * 2 : 1;
}

/* Append s to n->strs; s is freed on failure. */
static upk_status push_str(struct parser *p, struct sel_node *n, char *s)
{
	size_t cap = grow_to(n->n_strs);

	if (cap != 0) {
		char **grown = realloc(n->strs, cap * sizeof(*grown));
		if (grown == NULL) {
			free(s);
			return upk_error_set(p->err, UPK_ERR_NOMEM, "selector: out of memory");
		}
		n->strs = grown;
	}
	n->strs[n->n_strs++] = s;
	return UPK_OK;
}

/* Append kid to n->kids; kid is freed on failure. */
static upk_status push_kid(struct parser *p, struct sel_node *n, struct sel_node *kid)
{
	size_t cap = grow_to(n->n_kids);

	if (cap != 0) {
		struct sel_node **grown = realloc(n->kids, cap * sizeof(*grown));
		if (grown == NULL) {
			sel_node_free(kid);
			return upk_error_set(p->err, UPK_ERR_NOMEM, "selector: out of memory");
		}
		n->kids = grown;
	}
	n->kids[n->n_kids++] = kid;
	return UPK_OK;
}

/* "[" string ("," string)* "]" into n->strs. */
static upk_status parse_list(struct parser *p, struct sel_node *n)
{
	upk_status ret;
	char *s = NULL;

	if (p->tok.kind != T_LBRACK)
		return expected(p, "'['");
	ret = lex(p);
	if (ret != UPK_OK)
		return ret;
	for (;;) {
		if (n->n_strs == UPK_SELECTOR_MAX_LIST)
			return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
					     "selector: at byte %zu: list longer than %u strings",
					     p->tok.off, UPK_SELECTOR_MAX_LIST);
		ret = take_string(p, "a string", &s);
		if (ret != UPK_OK)
			return ret;
		ret = push_str(p, n, s);
		if (ret != UPK_OK)
			return ret;
		if (p->tok.kind == T_RBRACK)
			return lex(p);
		if (p->tok.kind != T_COMMA)
			return expected(p, "',' or ']'");
		ret = lex(p);
		if (ret != UPK_OK)
			return ret;
	}
}

/* A percentage 0..100 with at most two decimals, in basis points. */
static upk_status parse_percent(struct parser *p, unsigned *out)
{
	static const char *const what =
		"a percentage from 0 to 100 with at most two decimals";
	const char *s = p->s + p->tok.off;
	size_t n = p->tok.len, i = 0;
	unsigned whole = 0, frac = 0;

	if (p->tok.kind != T_NUMBER)
		return expected(p, what);
	while (i < n && is_digit(s[i])) {
		whole = whole * 10 + (unsigned)(s[i] - '0');
		if (whole > 100)
			return expected(p, what);
		i++;
	}
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && is_digit(s[i]) && i - start < 2) {
			frac = frac * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start)
			return expected(p, what);
		if (i - start == 1)
			frac *= 10;
	}
	if (i != n || whole * 100 + frac > UPK_SELECTOR_BUCKETS)
		return expected(p, what);
	*out = whole * 100 + frac;
	return lex(p);
}

static upk_status parse_or(struct parser *p, struct sel_node **out);

static upk_status enter(struct parser *p)
{
	if (++p->depth > UPK_SELECTOR_MAX_DEPTH)
		return upk_error_set(p->err, UPK_ERR_TOO_LARGE,
				     "selector: at byte %zu: nested deeper than %u", p->tok.off,
				     UPK_SELECTOR_MAX_DEPTH);
	return UPK_OK;
}

static upk_status parse_tag(struct parser *p, struct sel_node *n)
{
	upk_status ret;
	char *v = NULL;

	ret = take_string(p, "a tag name string", &n->name);
	if (ret != UPK_OK)
		return ret;
	if (p->tok.kind == T_ASSIGN) {
		n->tag_eq = 1;
		ret = lex(p);
		if (ret != UPK_OK)
			return ret;
		ret = take_string(p, "a tag value string", &v);
		if (ret != UPK_OK)
			return ret;
		return push_str(p, n, v);
	}
	if (tok_is(p, "in")) {
		ret = lex(p);
		if (ret != UPK_OK)
			return ret;
		return parse_list(p, n);
	}
	if (tok_is(p, "exists")) {
		n->kind = SEL_TAG_EXISTS;
		return lex(p);
	}
	return expected(p, "'=', \"in\" or \"exists\" after the tag name");
}

static upk_status parse_installed(struct parser *p, struct sel_node *n)
{
	static const enum tok_kind ops[] = {T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE};
	static const enum sel_cmp cmps[] = {SEL_EQ, SEL_NE, SEL_LT, SEL_LE, SEL_GT, SEL_GE};
	upk_status ret;
	size_t off;
	char *v = NULL;

	ret = take_string(p, "an installed name string", &n->name);
	if (ret != UPK_OK)
		return ret;
	if (tok_is(p, "exists")) {
		n->kind = SEL_INSTALLED_EXISTS;
		return lex(p);
	}
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (p->tok.kind != ops[k])
			continue;
		n->cmp = cmps[k];
		ret = lex(p);
		if (ret != UPK_OK)
			return ret;
		off = p->tok.off;
		ret = take_string(p, "a version string", &v);
		if (ret != UPK_OK)
			return ret;
		ret = push_str(p, n, v);
		if (ret != UPK_OK)
			return ret;
		/* Checked now so that a bad selector is refused when it is signed. */
		ret = upk_version_validate(v, p->err);
		if (ret != UPK_OK)
			return upk_error_prefix(p->err, ret, "selector: at byte %zu: ", off);
		return UPK_OK;
	}
	return expected(p, "'==', '!=', '<', '<=', '>', '>=' or \"exists\" after the name");
}

static upk_status parse_bucket(struct parser *p, struct sel_node *n)
{
	upk_status ret;

	if (p->tok.kind == T_LPAREN) {
		ret = lex(p);
		if (ret == UPK_OK)
			ret = take_string(p, "a salt string", &n->name);
		if (ret != UPK_OK)
			return ret;
		if (p->tok.kind != T_RPAREN)
			return expected(p, "')' after the salt");
		ret = lex(p);
	} else {
		n->name = strdup("");
		ret = n->name ? UPK_OK : upk_error_set(p->err, UPK_ERR_NOMEM, "selector: out of memory");
	}
	if (ret != UPK_OK)
		return ret;
	if (p->tok.kind != T_LT)
		return expected(p, "'<'");
	ret = lex(p);
	if (ret != UPK_OK)
		return ret;
	return parse_percent(p, &n->below);
}

static upk_status parse_primary(struct parser *p, struct sel_node **out)
{
	struct sel_node *n = NULL;
	upk_status ret;

	if (p->tok.kind == T_LPAREN) {
		ret = enter(p);
		if (ret == UPK_OK)
			ret = lex(p);
		if (ret == UPK_OK)
			ret = parse_or(p, &n);
		if (ret != UPK_OK)
			goto out;
		if (p->tok.kind != T_RPAREN) {
			ret = expected(p, "\"and\", \"or\" or ')'");
			goto out;
		}
		p->depth--;
		ret = lex(p);
		goto out;
	}
	if (tok_is(p, "all")) {
		ret = node_new(p, SEL_ALL, &n);
		if (ret == UPK_OK)
			ret = lex(p);
	} else if (tok_is(p, "device") || tok_is(p, "hardware")) {
		const char *word = tok_is(p, "device") ? "\"in\" after \"device\""
						       : "\"in\" after \"hardware\"";
		ret = node_new(p, tok_is(p, "device") ? SEL_DEVICE_IN : SEL_HARDWARE_IN, &n);
		if (ret == UPK_OK)
			ret = lex(p);
		if (ret == UPK_OK)
			ret = expect_word(p, "in", word);
		if (ret == UPK_OK)
			ret = parse_list(p, n);
	} else if (tok_is(p, "tag")) {
		ret = node_new(p, SEL_TAG_IN, &n);
		if (ret == UPK_OK)
			ret = lex(p);
		if (ret == UPK_OK)
			ret = parse_tag(p, n);
	} else if (tok_is(p, "installed")) {
		ret = node_new(p, SEL_INSTALLED_CMP, &n);
		if (ret == UPK_OK)
			ret = lex(p);
		if (ret == UPK_OK)
			ret = parse_installed(p, n);
	} else if (tok_is(p, "bucket")) {
		ret = node_new(p, SEL_BUCKET, &n);
		if (ret == UPK_OK)
			ret = lex(p);
		if (ret == UPK_OK)
			ret = parse_bucket(p, n);
	} else {
		ret = expected(p, "\"all\", \"device\", \"hardware\", \"tag\", \"installed\", "
				  "\"bucket\", \"not\" or '('");
	}
out:
	if (ret != UPK_OK) {
		sel_node_free(n);
		return ret;
	}
	*out = n;
	return UPK_OK;
}

static upk_status parse_not(struct parser *p, struct sel_node **out)
{
	struct sel_node *n = NULL, *kid = NULL;
	upk_status ret;

	if (!tok_is(p, "not"))
		return parse_primary(p, out);
	ret = enter(p);
	if (ret == UPK_OK)
		ret = lex(p);
	if (ret == UPK_OK)
		ret = parse_not(p, &kid);
	if (ret != UPK_OK)
		goto out;
	p->depth--;
	ret = node_new(p, SEL_NOT, &n);
	if (ret == UPK_OK)
		ret = push_kid(p, n, kid);
	else
		sel_node_free(kid);
out:
	if (ret != UPK_OK) {
		sel_node_free(n);
		return ret;
	}
	*out = n;
	return UPK_OK;
}

/* operand (word operand)*: one operand stays itself, more become one n-ary node. */
static upk_status parse_chain(struct parser *p, enum sel_kind kind, const char *word,
			      upk_status (*operand)(struct parser *, struct sel_node **),
			      struct sel_node **out)
{
	struct sel_node *n = NULL, *kid = NULL;
	upk_status ret;

	ret = operand(p, &kid);
	if (ret != UPK_OK)
		return ret;
	if (!tok_is(p, word)) {
		*out = kid;
		return UPK_OK;
	}
	ret = node_new(p, kind, &n);
	if (ret != UPK_OK) {
		sel_node_free(kid);
		return ret;
	}
	ret = push_kid(p, n, kid);
	while (ret == UPK_OK && tok_is(p, word)) {
		ret = lex(p);
		if (ret == UPK_OK)
			ret = operand(p, &kid);
		if (ret == UPK_OK)
			ret = push_kid(p, n, kid);
	}
	if (ret != UPK_OK) {
		sel_node_free(n);
		return ret;
	}
	*out = n;
	return UPK_OK;
}

static upk_status parse_and(struct parser *p, struct sel_node **out)
{
	return parse_chain(p, SEL_AND, "and", parse_not, out);
}

static upk_status parse_or(struct parser *p, struct sel_node **out)
{
	return parse_chain(p, SEL_OR, "or", parse_and, out);
}

upk_status upk_selector_parse(const char *text, size_t len, struct upk_selector **out,
			      struct upk_error *err)
{
	struct parser p = {.s = text, .len = len, .err = err};
	struct upk_selector *sel = NULL;
	struct sel_node *root = NULL;
	upk_status ret;

	if (len > UPK_SELECTOR_MAX_LEN)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
				     "selector: %zu bytes long, more than the %u allowed", len,
				     UPK_SELECTOR_MAX_LEN);
	if (text == NULL && len > 0)
		return upk_error_set(err, UPK_ERR_INVALID, "selector: no text");
	ret = lex(&p);
	if (ret != UPK_OK)
		goto out;
	if (p.tok.kind == T_EOF) {
		/* Absence means "all" but only the caller can tell absent from empty. */
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "selector: empty text (write \"all\" to select every device)");
		goto out;
	}
	ret = parse_or(&p, &root);
	if (ret != UPK_OK)
		goto out;
	if (p.tok.kind != T_EOF) {
		ret = expected(&p, "\"and\", \"or\" or the end of the text");
		goto out;
	}
	sel = malloc(sizeof(*sel));
	if (sel == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "selector: out of memory");
		goto out;
	}
	sel->root = root;
	root = NULL;
	*out = sel;
out:
	sel_node_free(root);
	return ret;
}
