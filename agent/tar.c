/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push-mode tar reader. Written here rather than taken from libarchive
 * because libarchive pulls its input through a read callback, while the
 * agent's data arrives pushed from the download; a bounded reader of the few
 * formats tar(1) writes today is small and keeps the streaming one pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar.h"

#define BLOCK 512u

enum state {
	ST_HEADER, /* collecting a 512-byte header */
	ST_DATA,   /* passing a regular file's bytes on */
	ST_META,   /* collecting a pax header or a GNU long name */
	ST_SKIP,   /* dropping data nobody needs */
	ST_PAD,    /* dropping padding up to the next block */
	ST_ZERO1,  /* one zero block seen; the second ends the archive */
	ST_END,    /* after the end marker: only zeros may follow */
};

enum meta_kind { META_PAX, META_GLOBAL, META_LONGNAME, META_LONGLINK };

struct tar_reader {
	struct tar_callbacks cb;
	void *ctx;
	enum state st;
	uint64_t offset; /* bytes consumed so far, for messages */
	unsigned char hdr[BLOCK];
	size_t hdr_len;
	uint64_t left; /* bytes left in ST_DATA, ST_META, ST_SKIP, ST_PAD */
	uint64_t pad;  /* padding after the current data */
	enum meta_kind meta_kind;
	char *meta;
	size_t meta_len;
	/* overrides for the next entry, from pax or GNU headers */
	char *next_path;
	char *next_link;
	int have_size, have_mtime;
	uint64_t next_size;
	int64_t next_mtime;
	/* the current entry */
	char path[TAR_MAX_PATH + 1];
	char link[TAR_MAX_PATH + 1];
	int in_entry;
};

upk_status tar_reader_new(const struct tar_callbacks *cb, void *ctx, struct tar_reader **out,
                          struct upk_error *err)
{
	struct tar_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	r->cb = *cb;
	r->ctx = ctx;
	r->st = ST_HEADER;
	*out = r;
	return UPK_OK;
}

void tar_reader_free(struct tar_reader *r)
{
	if (r == NULL)
		return;
	free(r->meta);
	free(r->next_path);
	free(r->next_link);
	free(r);
}

static void clear_overrides(struct tar_reader *r)
{
	free(r->next_path);
	free(r->next_link);
	r->next_path = r->next_link = NULL;
	r->have_size = r->have_mtime = 0;
}

/* An octal field (leading blanks, digits, then blanks or NULs) or GNU base-256. */
static int parse_num(const unsigned char *f, size_t n, uint64_t *out, int *negative)
{
	uint64_t v = 0;
	size_t i = 0;

	*negative = 0;
	if (f[0] & 0x80) {
		/* base-256: big-endian two's complement after the marker bit. */
		if (f[0] == 0xff) {
			*negative = 1;
			return 1;
		}
		v = f[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v > (UINT64_MAX >> 8))
				return 0;
			v = (v << 8) | f[i];
		}
		if (v > (uint64_t)INT64_MAX)
			return 0;
		*out = v;
		return 1;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			return 0;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return 0;
	*out = v;
	return 1;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static int checksum_ok(const unsigned char *h)
{
	uint64_t want;
	int neg;
	unsigned long usum = 0;
	long ssum = 0;

	if (!parse_num(h + 148, 8, &want, &neg) || neg)
		return 0;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	/* POSIX uses unsigned bytes; some old writers summed signed chars. */
	return want == usum || (int64_t)want == ssum;
}

/* Copy a fixed field that may lack its NUL. */
static size_t field(char *dst, const unsigned char *src, size_t n)
{
	size_t len = strnlen((const char *)src, n);

	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}

static upk_status parse_pax(struct tar_reader *r, struct upk_error *err)
{
	size_t pos = 0;

	while (pos < r->meta_len) {
		size_t reclen = 0, i = pos, klen;
		const char *rec = r->meta + pos, *key, *eq, *val;
		size_t vlen;

		while (i < r->meta_len && r->meta[i] >= '0' && r->meta[i] <= '9' && i - pos < 8)
			reclen = reclen * 10 + (size_t)(r->meta[i++] - '0');
		if (i == pos || i >= r->meta_len || r->meta[i] != ' ' || reclen < 5 ||
		    reclen > r->meta_len - pos || rec[reclen - 1] != '\n')
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "malformed pax record at offset %zu of the pax header",
			                     pos);
		key = r->meta + i + 1;
		eq = memchr(key, '=', (size_t)(rec + reclen - 1 - key));
		if (eq == NULL || eq == key)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "pax record at offset %zu has no key=value", pos);
		klen = (size_t)(eq - key);
		val = eq + 1;
		vlen = (size_t)(rec + reclen - 1 - val);
		pos += reclen;
		if (r->meta_kind == META_GLOBAL)
			continue; /* global defaults: nothing we use may come from them */
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
		if (KEY("path") || KEY("linkpath")) {
			char **dst = KEY("path") ? &r->next_path : &r->next_link;
			if (vlen == 0 || vlen > TAR_MAX_PATH || memchr(val, '\0', vlen) != NULL)
				return upk_error_set(
				    err, UPK_ERR_INVALID,
				    "pax %.*s: empty, over %u bytes or holding NUL", (int)klen, key,
				    TAR_MAX_PATH);
			free(*dst);
			*dst = strndup(val, vlen);
			if (*dst == NULL)
				return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		} else if (KEY("size") || KEY("mtime")) {
			uint64_t v = 0;
			size_t k = 0;
			int neg = 0;
			if (KEY("mtime") && vlen > 0 && val[0] == '-')
				neg = 1, k = 1;
			if (k == vlen)
				return upk_error_set(err, UPK_ERR_INVALID, "pax %.*s: empty number",
				                     (int)klen, key);
			for (; k < vlen && val[k] >= '0' && val[k] <= '9'; k++) {
				if (v > ((uint64_t)INT64_MAX - 9) / 10)
					return upk_error_set(err, UPK_ERR_INVALID,
					                     "pax %.*s: number too large",
					                     (int)klen, key);
				v = v * 10 + (uint64_t)(val[k] - '0');
			}
			/* mtime may have a fraction; size may not. */
			if (k < vlen && !(KEY("mtime") && val[k] == '.'))
				return upk_error_set(
				    err, UPK_ERR_INVALID, "pax %.*s: \"%.*s\" is not a number",
				    (int)klen, key, (int)(vlen > 32 ? 32 : vlen), val);
			if (KEY("size")) {
				r->next_size = v;
				r->have_size = 1;
			} else {
				r->next_mtime = neg ? -(int64_t)v : (int64_t)v;
				r->have_mtime = 1;
			}
		} else if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
			return upk_error_set(err, UPK_ERR_UNSUPPORTED,
			                     "sparse files (pax GNU.sparse.*) are not supported");
		}
		/* Other keys (owners, atime, ctime, xattrs, charset) are not applied. */
#undef KEY
	}
	return UPK_OK;
}

static upk_status finish_meta(struct tar_reader *r, struct upk_error *err)
{
	char **dst;
	size_t n;

	if (r->meta_kind == META_PAX || r->meta_kind == META_GLOBAL)
		return parse_pax(r, err);
	/* GNU long names: NUL-terminated (usually), exactly the data otherwise. */
	n = strnlen(r->meta, r->meta_len);
	if (n == 0 || n > TAR_MAX_PATH)
		return upk_error_set(err, UPK_ERR_INVALID, "GNU long %s: empty or over %u bytes",
		                     r->meta_kind == META_LONGNAME ? "name" : "link name",
		                     TAR_MAX_PATH);
	dst = r->meta_kind == META_LONGNAME ? &r->next_path : &r->next_link;
	free(*dst);
	*dst = strndup(r->meta, n);
	if (*dst == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

static upk_status start_data(struct tar_reader *r, enum state st, uint64_t size)
{
	r->left = size;
	r->pad = (BLOCK - size % BLOCK) % BLOCK;
	r->st = st;
	return UPK_OK;
}

static upk_status header(struct tar_reader *r, struct upk_error *err)
{
	const unsigned char *h = r->hdr;
	struct tar_entry e;
	uint64_t size, mode, mtime;
	int neg_size, neg_mode, neg_mtime, posix;
	char name[101], prefix[156];
	size_t nlen, plen;
	char type = (char)h[156];
	upk_status ret;

	if (all_zero(h, BLOCK)) {
		if (r->next_path != NULL || r->next_link != NULL || r->have_size)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "archive ends after an extended header with no entry");
		r->st = ST_ZERO1;
		return UPK_OK;
	}
	if (memcmp(h + 257,
	           "ustar\0"
	           "00",
	           8) == 0)
		posix = 1;
	else if (memcmp(h + 257, "ustar  \0", 8) == 0)
		posix = 0;
	else
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
		                     "header at offset %llu is not ustar, pax or GNU tar",
		                     (unsigned long long)(r->offset - BLOCK));
	if (!checksum_ok(h))
		return upk_error_set(err, UPK_ERR_INVALID, "header at offset %llu: bad checksum",
		                     (unsigned long long)(r->offset - BLOCK));
	if (!parse_num(h + 124, 12, &size, &neg_size) || neg_size ||
	    !parse_num(h + 100, 8, &mode, &neg_mode) || neg_mode ||
	    !parse_num(h + 136, 12, &mtime, &neg_mtime))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "header at offset %llu: malformed size, mode or mtime",
		                     (unsigned long long)(r->offset - BLOCK));

	switch (type) {
	case 'x':
	case 'g':
	case 'L':
	case 'K':
		if (size > TAR_MAX_META)
			return upk_error_set(
			    err, UPK_ERR_TOO_LARGE,
			    "extended header of %llu bytes at offset %llu (at most %u)",
			    (unsigned long long)size, (unsigned long long)(r->offset - BLOCK),
			    TAR_MAX_META);
		free(r->meta);
		r->meta = malloc(size + 1);
		if (r->meta == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		r->meta_len = 0;
		r->meta_kind = type == 'x'   ? META_PAX
		               : type == 'g' ? META_GLOBAL
		               : type == 'L' ? META_LONGNAME
		                             : META_LONGLINK;
		return start_data(r, ST_META, size);
	default:
		break;
	}

	memset(&e, 0, sizeof(e));
	switch (type) {
	case '0':
	case '\0':
	case '7':
		e.type = TAR_FILE;
		break;
	case '1':
		e.type = TAR_HARDLINK;
		break;
	case '2':
		e.type = TAR_SYMLINK;
		break;
	case '3':
		e.type = TAR_CHAR;
		break;
	case '4':
		e.type = TAR_BLOCK;
		break;
	case '5':
		e.type = TAR_DIR;
		break;
	case '6':
		e.type = TAR_FIFO;
		break;
	default:
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
		                     "entry type '%c' (0x%02x) at offset %llu is not supported",
		                     type >= 0x20 && type < 0x7f ? type : '?', (unsigned char)type,
		                     (unsigned long long)(r->offset - BLOCK));
	}
	if (r->next_path != NULL) {
		memcpy(r->path, r->next_path, strlen(r->next_path) + 1);
	} else {
		nlen = field(name, h, 100);
		plen = posix ? field(prefix, h + 345, 155) : 0;
		if (plen > 0)
			snprintf(r->path, sizeof(r->path), "%s/%s", prefix, name);
		else
			memcpy(r->path, name, nlen + 1);
	}
	if (r->next_link != NULL)
		memcpy(r->link, r->next_link, strlen(r->next_link) + 1);
	else
		field(r->link, h + 157, 100);
	if (r->have_size)
		size = r->next_size;
	e.path = r->path;
	e.linkpath = (e.type == TAR_SYMLINK || e.type == TAR_HARDLINK) ? r->link : "";
	e.size = e.type == TAR_FILE ? size : 0;
	e.mode = (unsigned)(mode & 07777);
	e.mtime = r->have_mtime ? r->next_mtime : (neg_mtime ? 0 : (int64_t)mtime);
	clear_overrides(r);
	if (e.path[0] == '\0')
		return upk_error_set(err, UPK_ERR_INVALID, "entry at offset %llu has an empty name",
		                     (unsigned long long)(r->offset - BLOCK));
	if ((e.type == TAR_SYMLINK || e.type == TAR_HARDLINK) && e.linkpath[0] == '\0')
		return upk_error_set(err, UPK_ERR_INVALID, "link \"%s\" has an empty target",
		                     e.path);
	ret = r->cb.begin(r->ctx, &e, err);
	if (ret != UPK_OK)
		return ret;
	r->in_entry = 1;
	/* Data of anything but a regular file (rare: hard links "with data") is dropped. */
	if (e.type == TAR_FILE)
		return start_data(r, ST_DATA, size);
	ret = r->cb.end(r->ctx, err);
	r->in_entry = 0;
	if (ret != UPK_OK)
		return ret;
	return start_data(r, ST_SKIP, size);
}

upk_status tar_reader_feed(struct tar_reader *r, const void *data, size_t len,
                           struct upk_error *err)
{
	const unsigned char *p = data;
	upk_status ret;

	while (len > 0) {
		size_t take;

		switch (r->st) {
		case ST_HEADER:
		case ST_ZERO1:
			take = BLOCK - r->hdr_len;
			if (take > len)
				take = len;
			memcpy(r->hdr + r->hdr_len, p, take);
			r->hdr_len += take;
			p += take, len -= take, r->offset += take;
			if (r->hdr_len < BLOCK)
				break;
			r->hdr_len = 0;
			if (r->st == ST_ZERO1) {
				if (!all_zero(r->hdr, BLOCK))
					return upk_error_set(
					    err, UPK_ERR_INVALID,
					    "data after a zero block at offset %llu",
					    (unsigned long long)(r->offset - BLOCK));
				r->st = ST_END;
				break;
			}
			ret = header(r, err);
			if (ret != UPK_OK)
				return ret;
			break;
		case ST_DATA:
		case ST_META:
		case ST_SKIP:
			take = r->left < len ? (size_t)r->left : len;
			if (r->st == ST_DATA && take > 0) {
				ret = r->cb.data(r->ctx, p, take, err);
				if (ret != UPK_OK)
					return ret;
			} else if (r->st == ST_META) {
				memcpy(r->meta + r->meta_len, p, take);
				r->meta_len += take;
			}
			p += take, len -= take, r->offset += take;
			r->left -= take;
			if (r->left > 0)
				break;
			if (r->st == ST_DATA) {
				r->in_entry = 0;
				ret = r->cb.end(r->ctx, err);
				if (ret != UPK_OK)
					return ret;
			} else if (r->st == ST_META) {
				r->meta[r->meta_len] = '\0';
				ret = finish_meta(r, err);
				if (ret != UPK_OK)
					return ret;
			}
			r->left = r->pad;
			r->st = ST_PAD;
			break;
		case ST_PAD:
			take = r->left < len ? (size_t)r->left : len;
			p += take, len -= take, r->offset += take;
			r->left -= take;
			if (r->left == 0)
				r->st = ST_HEADER;
			break;
		case ST_END:
			if (!all_zero(p, len))
				return upk_error_set(
				    err, UPK_ERR_INVALID,
				    "non-zero data after the end of the archive (offset %llu)",
				    (unsigned long long)r->offset);
			r->offset += len;
			len = 0;
			break;
		}
	}
	/* An entry whose data is complete is closed before more input arrives. */
	if (r->st == ST_DATA && r->left == 0 && r->in_entry) {
		r->in_entry = 0;
		ret = r->cb.end(r->ctx, err);
		if (ret != UPK_OK)
			return ret;
		r->left = r->pad;
		r->st = r->pad ? ST_PAD : ST_HEADER;
	}
	return UPK_OK;
}

upk_status tar_reader_finish(struct tar_reader *r, struct upk_error *err)
{
	if (r->st == ST_HEADER && r->hdr_len == 0 && r->offset == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "empty archive");
	/* One zero block is enough: it cannot be the middle of an entry. */
	if ((r->st == ST_ZERO1 && r->hdr_len == 0) || r->st == ST_END)
		return UPK_OK;
	return upk_error_set(err, UPK_ERR_INVALID,
	                     "archive truncated at offset %llu (no end-of-archive marker)",
	                     (unsigned long long)r->offset);
}
