/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parsed form of a selector, shared by the parser (selector_parse.c) and
 * the evaluator and printer (selector_eval.c). It is a tree whose depth the
 * parser bounds, so the recursive walks over it are bounded too.
 */
#ifndef UPK_SELECTOR_INTERNAL_H
#define UPK_SELECTOR_INTERNAL_H

#include <stddef.h>

#include "upkeep/selector.h"

enum sel_kind {
	SEL_ALL,
	SEL_OR,  /* kids[0..n_kids), at least two */
	SEL_AND, /* kids[0..n_kids), at least two */
	SEL_NOT, /* kids[0] */
	SEL_DEVICE_IN,
	SEL_HARDWARE_IN,
	SEL_TAG_IN, /* tag "k" = "v" is a list of one, printed with "=" */
	SEL_TAG_EXISTS,
	SEL_INSTALLED_CMP,
	SEL_INSTALLED_EXISTS,
	SEL_BUCKET,
};

enum sel_cmp {
	SEL_EQ,
	SEL_NE,
	SEL_LT,
	SEL_LE,
	SEL_GT,
	SEL_GE,
};

struct sel_node {
	enum sel_kind kind;
	struct sel_node **kids;
	size_t n_kids;
	char *name;   /* tag key, installed name or bucket salt ("" when none) */
	char **strs;  /* list items, or the version of SEL_INSTALLED_CMP */
	size_t n_strs;
	int tag_eq;   /* SEL_TAG_IN written as tag "k" = "v" */
	enum sel_cmp cmp;
	unsigned below; /* SEL_BUCKET: matches buckets < below (basis points) */
};

struct upk_selector {
	struct sel_node *root;
};

void sel_node_free(struct sel_node *n);

/*
 * Write s[0..len) into buf (size bufsz, at least 8) as a printable quoted
 * string for an error message: non-printable bytes become \xNN and long
 * input is cut with "...", so hostile input cannot garble a log line.
 */
void sel_quote(const char *s, size_t len, char *buf, size_t bufsz);

#endif
