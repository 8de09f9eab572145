/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subset of RFC 8941 Structured Field Values that HTTP signatures and
 * Content-Digest need: parsing Dictionaries (members that are Items or Inner
 * Lists, with Parameters) and serializing Items, Inner Lists and Parameters.
 */
#ifndef UPK_SFV_INTERNAL_H
#define UPK_SFV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

/*
 * Hard limits of this parser. RFC 8941 section 3 asks parsers to support at
 * least 1024 dictionary members, 256 inner-list items and 256 parameters;
 * we refuse far fewer because nothing we accept needs more, and a header
 * that names hundreds of components is an attack, not a request.
 */
#define SFV_MAX_INPUT 8192  /* bytes of field value */
#define SFV_MAX_MEMBERS 16  /* dictionary members */
#define SFV_MAX_INNER 32    /* items of one inner list */
#define SFV_MAX_PARAMS 16   /* parameters of one item or inner list */
#define SFV_MAX_KEY 64      /* characters of a key (RFC 8941 section 3.1.2 minimum) */

enum sfv_type {
	SFV_INTEGER = 1,
	SFV_DECIMAL, /* value in thousandths: 1.5 is 1500 */
	SFV_STRING,
	SFV_TOKEN,
	SFV_BYTES,
	SFV_BOOLEAN,
};

struct sfv_bare {
	enum sfv_type type;
	int64_t num;   /* INTEGER, DECIMAL (x1000), BOOLEAN (0/1) */
	uint8_t *data; /* STRING, TOKEN (NUL-terminated text), BYTES (decoded) */
	size_t len;
};

struct sfv_param {
	char key[SFV_MAX_KEY + 1];
	struct sfv_bare value;
};

struct sfv_params {
	struct sfv_param *v;
	size_t n;
};

struct sfv_item {
	struct sfv_bare bare;
	struct sfv_params params;
};

/* A dictionary member: a single item, or an inner list with its own parameters. */
struct sfv_member {
	char key[SFV_MAX_KEY + 1];
	int inner;                /* 1 for an inner list */
	struct sfv_item item;     /* when !inner */
	struct sfv_item *items;   /* when inner */
	size_t nitems;
	struct sfv_params params; /* the inner list's parameters */
};

struct sfv_dict {
	struct sfv_member *v;
	size_t n;
};

/*
 * Parse a Dictionary field value (RFC 8941 section 4.2.2), strictly:
 * anything the grammar does not allow is UPK_ERR_INVALID with the byte
 * offset; an input over SFV_MAX_INPUT or a count over the limits above is
 * UPK_ERR_TOO_LARGE. Unlike RFC 8941, which keeps the last of duplicate keys,
 * duplicate dictionary or parameter keys are refused: a sender that writes
 * two values for one name means nothing we should guess at, and two parsers
 * picking different ones is how signature checks get bypassed.
 * On success *dict owns everything; release with sfv_dict_clear().
 */
upk_status sfv_parse_dict(const char *s, size_t len, struct sfv_dict *dict, struct upk_error *err);
void sfv_dict_clear(struct sfv_dict *dict);
const struct sfv_member *sfv_dict_get(const struct sfv_dict *dict, const char *key);
const struct sfv_bare *sfv_params_get(const struct sfv_params *params, const char *key);

/*
 * An output buffer with a hard maximum (RFC 8941 section 4.1 serializing).
 * Appends past max set `toobig` and are dropped; sfv_buf_finish() turns that
 * into UPK_ERR_TOO_LARGE, so callers check once at the end.
 */
struct sfv_buf {
	char *p;
	size_t len, cap, max;
	int nomem, toobig;
};

void sfv_buf_init(struct sfv_buf *b, size_t max);
void sfv_buf_add(struct sfv_buf *b, const char *s, size_t len);
void sfv_buf_addstr(struct sfv_buf *b, const char *s);
/* Serialize a bare item / parameters / item / inner list (RFC 8941 4.1.3, 4.1.1.2, 4.1.1.1). */
void sfv_buf_bare(struct sfv_buf *b, const struct sfv_bare *v);
void sfv_buf_params(struct sfv_buf *b, const struct sfv_params *p);
void sfv_buf_item(struct sfv_buf *b, const struct sfv_item *item);
void sfv_buf_inner(struct sfv_buf *b, const struct sfv_item *items, size_t n,
		   const struct sfv_params *params);
/* On success hands over the NUL-terminated text (caller frees) and its length. */
upk_status sfv_buf_finish(struct sfv_buf *b, char **out, size_t *out_len, struct upk_error *err);
void sfv_buf_free(struct sfv_buf *b);

/* 1 when s is a valid key (RFC 8941 section 3.1.2): lcalpha or '*', then lcalpha DIGIT _ - . * */
int sfv_is_key(const char *s);
/* 1 when s[0..len) may be an sf-string: printable ASCII only. */
int sfv_is_string(const char *s, size_t len);

#endif
