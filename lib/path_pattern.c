/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which targets a delegation covers. TUF path patterns are shell-style
 * wildcards (*, ?, [seq], [!seq]) matched one '/'-separated segment at a
 * time, so a pattern "vendor/STAR" covers "vendor/a.img" but not "vendor/x/a.img"; or a
 * list of prefixes of the hex SHA-256 of the target path.
 *
 * Written here rather than with fnmatch(3): glibc's matcher can take
 * exponential time on patterns with many stars, and patterns come from
 * metadata that is not yet trusted when it is first examined.
 */
#include <string.h>

#include "upkeep/metadata.h"

/* Match a [...] class at *pp against c; advances *pp past it. -1: not a class (literal '['). */
static int match_class(const char **pp, const char *pend, char c)
{
	const char *p = *pp + 1;
	int negate = 0, hit = 0;

	if (p < pend && *p == '!') {
		negate = 1;
		p++;
	}
	const char *first = p;
	while (p < pend && (*p != ']' || p == first)) {
		if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
			if ((unsigned char)c >= (unsigned char)p[0] &&
			    (unsigned char)c <= (unsigned char)p[2])
				hit = 1;
			p += 3;
		} else {
			if (c == *p)
				hit = 1;
			p++;
		}
	}
	if (p >= pend)
		return -1; /* no closing ']': the '[' is an ordinary character */
	*pp = p + 1;
	return hit != negate;
}

/*
 * One segment, no '/' in either. Classic star backtracking: remember the
 * last '*' and retry from one character further on mismatch, which is
 * O(len(pattern) * len(text)) in the worst case.
 */
static int match_segment(const char *p, const char *pend, const char *t, const char *tend)
{
	const char *star_p = NULL, *star_t = NULL;

	while (t < tend) {
		if (p < pend && *p == '*') {
			star_p = ++p;
			star_t = t;
			continue;
		}
		if (p < pend && *p == '[') {
			const char *q = p;
			int r = match_class(&q, pend, *t);
			if (r == 1) {
				p = q;
				t++;
				continue;
			}
			if (r == -1 && *t == '[') {
				p++;
				t++;
				continue;
			}
		} else if (p < pend && (*p == '?' || *p == *t)) {
			p++;
			t++;
			continue;
		}
		if (star_p == NULL)
			return 0;
		p = star_p;
		t = ++star_t;
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

int upk_path_pattern_match(const char *pattern, const char *path)
{
	const char *p = pattern, *t = path;

	if (pattern == NULL || path == NULL)
		return 0;
	for (;;) {
		const char *pe = strchr(p, '/');
		const char *te = strchr(t, '/');

		if (pe == NULL)
			pe = p + strlen(p);
		if (te == NULL)
			te = t + strlen(t);
		if (!match_segment(p, pe, t, te))
			return 0;
		/* Both must run out of segments together. */
		if (*pe == '\0' || *te == '\0')
			return *pe == '\0' && *te == '\0';
		p = pe + 1;
		t = te + 1;
	}
}

int upk_delegation_covers(const struct upk_delegation *d, const char *target_path)
{
	uint8_t digest[UPK_HASH_MAX_LEN];
	char hex[2 * 32 + 1];

	if (d->paths != NULL) {
		for (size_t i = 0; i < d->n_paths; i++)
			if (upk_path_pattern_match(d->paths[i], target_path))
				return 1;
		return 0;
	}
	if (d->hash_prefixes == NULL ||
	    upk_hash_buf(UPK_HASH_SHA256, target_path, strlen(target_path), digest, NULL) != UPK_OK)
		return 0;
	upk_hex_encode(digest, 32, hex);
	for (size_t i = 0; i < d->n_hash_prefixes; i++)
		if (strncmp(hex, d->hash_prefixes[i], strlen(d->hash_prefixes[i])) == 0)
			return 1;
	return 0;
}
