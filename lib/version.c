/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Version numbers of targets and of installed software: one strict syntax and
 * one total order, used by selectors and by the anti-rollback checks alike,
 * so that a device and the server can never disagree on "newer".
 */
#include <string.h>

#include "selector_internal.h"

struct vparts {
	const char *rel; /* "1.2.3" */
	size_t rel_len;
	const char *pre; /* "rc.1", NULL when there is none */
	size_t pre_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_pre_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static upk_status bad_version(const char *v, size_t vlen, size_t at, const char *why,
			      struct upk_error *err)
{
	char q[96];

	sel_quote(v, vlen, q, sizeof(q));
	return upk_error_set(err, UPK_ERR_INVALID, "invalid version %s: %s at byte %zu", q, why,
			     at);
}

/*
 * Validate v and split it. Leading zeros are refused because "1.01" would
 * otherwise be a second spelling of "1.1" that only looks different.
 */
static upk_status split_version(const char *v, struct vparts *out, struct upk_error *err)
{
	size_t len, i = 0;

	if (v == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "invalid version: none given");
	len = strnlen(v, UPK_VERSION_MAX_LEN + 1);
	if (len > UPK_VERSION_MAX_LEN) {
		char q[96];
		sel_quote(v, len, q, sizeof(q));
		return upk_error_set(err, UPK_ERR_INVALID,
				     "invalid version %s: longer than %u bytes", q,
				     UPK_VERSION_MAX_LEN);
	}
	if (len == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "invalid version \"\": empty");
	for (;;) {
		size_t start = i;
		while (i < len && is_digit(v[i]))
			i++;
		if (i == start)
			return bad_version(v, len, i, "expected a number", err);
		if (v[start] == '0' && i - start > 1)
			return bad_version(v, len, start, "number with a leading zero", err);
		if (i < len && v[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	out->rel = v;
	out->rel_len = i;
	out->pre = NULL;
	out->pre_len = 0;
	if (i == len)
		return UPK_OK;
	if (v[i] != '-')
		return bad_version(v, len, i, "expected '.', '-' or the end", err);
	i++;
	out->pre = v + i;
	for (;;) {
		size_t start = i;
		int all_digits = 1;
		while (i < len && is_pre_char(v[i])) {
			if (!is_digit(v[i]))
				all_digits = 0;
			i++;
		}
		if (i == start)
			return bad_version(v, len, i, "expected a pre-release identifier", err);
		if (all_digits && v[start] == '0' && i - start > 1)
			return bad_version(v, len, start, "number with a leading zero", err);
		if (i < len && v[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	if (i != len)
		return bad_version(v, len, i, "expected '.' or the end", err);
	out->pre_len = (size_t)(v + len - out->pre);
	return UPK_OK;
}

upk_status upk_version_validate(const char *v, struct upk_error *err)
{
	struct vparts p;

	return split_version(v, &p, err);
}

/* Next dot-separated field of s[*pos..len); empty when exhausted. */
static void next_field(const char *s, size_t len, size_t *pos, const char **f, size_t *flen)
{
	size_t i = *pos;

	*f = s + i;
	while (i < len && s[i] != '.')
		i++;
	*flen = i - *pos;
	*pos = i < len ? i + 1 : len;
}

/* Digit strings without leading zeros: the longer is larger, else bytewise. */
static int cmp_num(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return (c > 0) - (c < 0);
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

static int cmp_release(const struct vparts *a, const struct vparts *b)
{
	size_t ia = 0, ib = 0;

	/* A missing number counts as 0, which is why 1.0 == 1.0.0. */
	while (ia < a->rel_len || ib < b->rel_len) {
		const char *fa = "0", *fb = "0";
		size_t la = 1, lb = 1;
		int c;

		if (ia < a->rel_len)
			next_field(a->rel, a->rel_len, &ia, &fa, &la);
		if (ib < b->rel_len)
			next_field(b->rel, b->rel_len, &ib, &fb, &lb);
		c = cmp_num(fa, la, fb, lb);
		if (c != 0)
			return c;
	}
	return 0;
}

/* Semantic Versioning 2.0.0, section 11, for the parts after '-'. */
static int cmp_pre(const struct vparts *a, const struct vparts *b)
{
	size_t ia = 0, ib = 0;

	if (a->pre == NULL || b->pre == NULL)
		return (a->pre == NULL) - (b->pre == NULL);
	for (;;) {
		const char *fa, *fb;
		size_t la, lb;
		int da, db, c;

		if (ia >= a->pre_len || ib >= b->pre_len)
			return (ia < a->pre_len) - (ib < b->pre_len);
		next_field(a->pre, a->pre_len, &ia, &fa, &la);
		next_field(b->pre, b->pre_len, &ib, &fb, &lb);
		da = all_digits(fa, la);
		db = all_digits(fb, lb);
		if (da && db) {
			c = cmp_num(fa, la, fb, lb);
		} else if (da || db) {
			c = da ? -1 : 1; /* numeric identifiers sort first */
		} else {
			c = memcmp(fa, fb, la < lb ? la : lb);
			c = (c > 0) - (c < 0);
			if (c == 0)
				c = (la > lb) - (la < lb);
		}
		if (c != 0)
			return c;
	}
}

upk_status upk_version_compare(const char *a, const char *b, int *cmp, struct upk_error *err)
{
	struct vparts pa, pb;
	upk_status ret;
	int c;

	ret = split_version(a, &pa, err);
	if (ret != UPK_OK)
		return ret;
	ret = split_version(b, &pb, err);
	if (ret != UPK_OK)
		return ret;
	c = cmp_release(&pa, &pb);
	if (c == 0)
		c = cmp_pre(&pa, &pb);
	*cmp = c;
	return UPK_OK;
}
