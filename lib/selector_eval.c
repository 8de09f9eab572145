/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Selector trees at work: matching a device, the percentage bucket of a
 * device, and printing the normalized text. Devices and the server both run
 * this code, so nothing here depends on anything but the tree and the attrs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector_internal.h"
#include "upkeep/crypto.h"

/* ---- buckets ---- */

upk_status upk_selector_bucket(const char *device_id, const char *salt, unsigned *bucket,
			       struct upk_error *err)
{
	/* salt, the separator and the id: both strings are bounded, so no allocation. */
	char buf[2 * UPK_SELECTOR_MAX_STRING + 1];
	uint8_t digest[UPK_HASH_MAX_LEN];
	size_t id_len, salt_len;
	uint64_t v = 0;
	upk_status ret;

	if (salt == NULL)
		salt = "";
	if (device_id == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "bucket: no device id");
	id_len = strnlen(device_id, UPK_SELECTOR_MAX_STRING + 1);
	salt_len = strnlen(salt, UPK_SELECTOR_MAX_STRING + 1);
	if (id_len > UPK_SELECTOR_MAX_STRING || salt_len > UPK_SELECTOR_MAX_STRING)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "bucket: %s longer than %u bytes",
				     id_len > UPK_SELECTOR_MAX_STRING ? "device id" : "salt",
				     UPK_SELECTOR_MAX_STRING);
	/*
	 * The NUL separator keeps (salt "a", id "bc") apart from (salt "ab",
	 * id "c"): selector strings cannot contain NUL.
	 */
	memcpy(buf, salt, salt_len);
	buf[salt_len] = '\0';
	memcpy(buf + salt_len + 1, device_id, id_len);
	ret = upk_hash_buf(UPK_HASH_SHA256, buf, salt_len + 1 + id_len, digest, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "bucket: ");
	for (int i = 0; i < 8; i++)
		v = (v << 8) | digest[i];
	/* 2^64 mod 10000 is tiny next to 2^64, so the skew is below 1e-15. */
	*bucket = (unsigned)(v % UPK_SELECTOR_BUCKETS);
	return UPK_OK;
}

/* ---- matching ---- */

/* The value of key in kv, first occurrence only; NULL when absent. */
static const char *lookup(const struct upk_kv *kv, size_t n, const char *key)
{
	if (kv == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (kv[i].key != NULL && kv[i].value != NULL && strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	}
	return NULL;
}

static int in_list(const struct sel_node *n, const char *s)
{
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < n->n_strs; i++)
		if (strcmp(n->strs[i], s) == 0)
			return 1;
	return 0;
}

static upk_status eval_installed(const struct sel_node *n, const struct upk_device_attrs *a,
				 int *res, struct upk_error *err)
{
	const char *have = lookup(a->installed, a->n_installed, n->name);
	char q[80];
	upk_status ret;
	int c;

	if (have == NULL) {
		/* Not installed: no comparison holds, not even != . */
		*res = 0;
		return UPK_OK;
	}
	ret = upk_version_compare(have, n->strs[0], &c, err);
	if (ret != UPK_OK) {
		sel_quote(n->name, strlen(n->name), q, sizeof(q));
		return upk_error_prefix(err, ret, "selector: installed %s: ", q);
	}
	switch (n->cmp) {
	case SEL_EQ: *res = c == 0; break;
	case SEL_NE: *res = c != 0; break;
	case SEL_LT: *res = c < 0; break;
	case SEL_LE: *res = c <= 0; break;
	case SEL_GT: *res = c > 0; break;
	case SEL_GE: *res = c >= 0; break;
	}
	return UPK_OK;
}

/* Recursion depth is bounded by the parser's nesting limit. */
static upk_status eval(const struct sel_node *n, const struct upk_device_attrs *a, int *res,
		       struct upk_error *err)
{
	upk_status ret = UPK_OK;
	unsigned b;
	int r;

	switch (n->kind) {
	case SEL_ALL:
		*res = 1;
		break;
	case SEL_OR:
	case SEL_AND:
		/*
		 * Every operand runs, so whether an error shows does not depend
		 * on the order in which the owner wrote the terms.
		 */
		*res = n->kind == SEL_AND;
		for (size_t i = 0; i < n->n_kids; i++) {
			ret = eval(n->kids[i], a, &r, err);
			if (ret != UPK_OK)
				return ret;
			if (n->kind == SEL_AND)
				*res = *res && r;
			else
				*res = *res || r;
		}
		break;
	case SEL_NOT:
		ret = eval(n->kids[0], a, &r, err);
		if (ret == UPK_OK)
			*res = !r;
		break;
	case SEL_DEVICE_IN:
		*res = in_list(n, a->device_id);
		break;
	case SEL_HARDWARE_IN:
		*res = in_list(n, a->hardware_id);
		break;
	case SEL_TAG_IN:
		*res = in_list(n, lookup(a->tags, a->n_tags, n->name));
		break;
	case SEL_TAG_EXISTS:
		*res = lookup(a->tags, a->n_tags, n->name) != NULL;
		break;
	case SEL_INSTALLED_EXISTS:
		*res = lookup(a->installed, a->n_installed, n->name) != NULL;
		break;
	case SEL_INSTALLED_CMP:
		ret = eval_installed(n, a, res, err);
		break;
	case SEL_BUCKET:
		/* A device without an id falls in no bucket, like one not in a list. */
		if (a->device_id == NULL) {
			*res = 0;
			break;
		}
		ret = upk_selector_bucket(a->device_id, n->name, &b, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "selector: ");
		*res = b < n->below;
		break;
	}
	return ret;
}

upk_status upk_selector_match(const struct upk_selector *sel,
			      const struct upk_device_attrs *attrs, int *matched,
			      struct upk_error *err)
{
	static const struct upk_device_attrs none;
	upk_status ret;
	int r;

	if (sel == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "selector: none given");
	ret = eval(sel->root, attrs ? attrs : &none, &r, err);
	if (ret != UPK_OK)
		return ret;
	*matched = r;
	return UPK_OK;
}

/* ---- normalized text ---- */

struct sbuf {
	char buf[UPK_SELECTOR_MAX_LEN + 1];
	size_t len;
	int over; /* the text did not fit in UPK_SELECTOR_MAX_LEN */
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->over || n > UPK_SELECTOR_MAX_LEN - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_string(struct sbuf *b, const char *s)
{
	put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			put(b, "\\", 1);
		put(b, s, 1);
	}
	put(b, "\"", 1);
}

static void put_list(struct sbuf *b, const struct sel_node *n)
{
	put(b, "[", 1);
	for (size_t i = 0; i < n->n_strs; i++) {
		if (i > 0)
			put(b, ", ", 2);
		put_string(b, n->strs[i]);
	}
	put(b, "]", 1);
}

static void print(struct sbuf *b, const struct sel_node *n);

/* Parentheses only where the precedence (not > and > or) needs them. */
static void print_kid(struct sbuf *b, const struct sel_node *parent, const struct sel_node *kid)
{
	int paren = kid->kind == SEL_OR ||
		    (kid->kind == SEL_AND && parent->kind != SEL_OR);

	if (paren)
		put(b, "(", 1);
	print(b, kid);
	if (paren)
		put(b, ")", 1);
}

static void print(struct sbuf *b, const struct sel_node *n)
{
	static const char *const ops[] = {
		[SEL_EQ] = " == ", [SEL_NE] = " != ", [SEL_LT] = " < ",
		[SEL_LE] = " <= ", [SEL_GT] = " > ",  [SEL_GE] = " >= ",
	};
	char num[16];

	if (b->over)
		return;
	switch (n->kind) {
	case SEL_ALL:
		puts_(b, "all");
		break;
	case SEL_OR:
	case SEL_AND:
		for (size_t i = 0; i < n->n_kids; i++) {
			if (i > 0)
				puts_(b, n->kind == SEL_OR ? " or " : " and ");
			print_kid(b, n, n->kids[i]);
		}
		break;
	case SEL_NOT:
		puts_(b, "not ");
		print_kid(b, n, n->kids[0]);
		break;
	case SEL_DEVICE_IN:
		puts_(b, "device in ");
		put_list(b, n);
		break;
	case SEL_HARDWARE_IN:
		puts_(b, "hardware in ");
		put_list(b, n);
		break;
	case SEL_TAG_IN:
	case SEL_TAG_EXISTS:
		puts_(b, "tag ");
		put_string(b, n->name);
		if (n->kind == SEL_TAG_EXISTS) {
			puts_(b, " exists");
		} else if (n->tag_eq) {
			puts_(b, " = ");
			put_string(b, n->strs[0]);
		} else {
			puts_(b, " in ");
			put_list(b, n);
		}
		break;
	case SEL_INSTALLED_CMP:
	case SEL_INSTALLED_EXISTS:
		puts_(b, "installed ");
		put_string(b, n->name);
		if (n->kind == SEL_INSTALLED_EXISTS) {
			puts_(b, " exists");
		} else {
			puts_(b, ops[n->cmp]);
			put_string(b, n->strs[0]);
		}
		break;
	case SEL_BUCKET:
		puts_(b, "bucket");
		if (n->name[0] != '\0') {
			put(b, "(", 1);
			put_string(b, n->name);
			put(b, ")", 1);
		}
		/* Shortest form: 10, 0.5, 12.25. */
		if (n->below % 100 == 0)
			snprintf(num, sizeof(num), " < %u", n->below / 100);
		else if (n->below % 10 == 0)
			snprintf(num, sizeof(num), " < %u.%u", n->below / 100, n->below % 100 / 10);
		else
			snprintf(num, sizeof(num), " < %u.%02u", n->below / 100, n->below % 100);
		puts_(b, num);
		break;
	}
}

upk_status upk_selector_to_string(const struct upk_selector *sel, char **out,
				  struct upk_error *err)
{
	upk_status ret = UPK_OK;
	struct sbuf *b;
	char *text;

	if (sel == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "selector: none given");
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "selector: out of memory");
	print(b, sel->root);
	if (b->over) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE,
				    "selector: normalized text longer than %u bytes",
				    UPK_SELECTOR_MAX_LEN);
		goto out;
	}
	text = malloc(b->len + 1);
	if (text == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "selector: out of memory");
		goto out;
	}
	memcpy(text, b->buf, b->len);
	text[b->len] = '\0';
	*out = text;
out:
	free(b);
	return ret;
}
