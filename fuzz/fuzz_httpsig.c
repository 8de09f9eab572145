/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for RFC 9421 verification: the input is up to four lines
 * (Signature-Input, Signature, Content-Digest, one extra covered field) on
 * the RFC 9421 appendix B.2 request, verified with the B.1.4 test key. The
 * RFC 8941 dictionary parser must also reach a fixed point when serialized.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upkeep/httpsig.h"

#include "../lib/sfv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct upk_key *test_key;

static upk_status lookup(void *ctx, const char *keyid, const char *alg,
			 const struct upk_key **key, struct upk_error *err)
{
	(void)ctx;
	(void)alg;
	if (strcmp(keyid, "test-key-ed25519") != 0)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "unknown");
	*key = test_key;
	return UPK_OK;
}

static upk_status nonce_ok(void *ctx, const char *keyid, const char *nonce, int64_t created,
			   struct upk_error *err)
{
	(void)ctx;
	(void)keyid;
	(void)created;
	/* Exercise the callback's failure path on one particular nonce. */
	if (strcmp(nonce, "replayed") == 0)
		return upk_error_set(err, UPK_ERR_EXISTS, "replayed");
	return UPK_OK;
}

/* Serialize a dictionary the way test_sfv does; NULL when too large. */
static char *serialize(const struct sfv_dict *d, size_t *len)
{
	struct sfv_buf b;
	char *out = NULL;

	sfv_buf_init(&b, 1 << 16);
	for (size_t i = 0; i < d->n; i++) {
		const struct sfv_member *m = &d->v[i];
		if (i > 0)
			sfv_buf_addstr(&b, ", ");
		sfv_buf_addstr(&b, m->key);
		if (m->inner) {
			sfv_buf_addstr(&b, "=");
			sfv_buf_inner(&b, m->items, m->nitems, &m->params);
		} else if (m->item.bare.type == SFV_BOOLEAN && m->item.bare.num == 1) {
			sfv_buf_params(&b, &m->item.params);
		} else {
			sfv_buf_addstr(&b, "=");
			sfv_buf_item(&b, &m->item);
		}
	}
	if (sfv_buf_finish(&b, &out, len, NULL) != UPK_OK)
		return NULL;
	return out;
}

static void dict_fixed_point(const char *s, size_t len)
{
	struct sfv_dict d1 = {0}, d2 = {0};
	char *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (sfv_parse_dict(s, len, &d1, NULL) != UPK_OK)
		return;
	t1 = serialize(&d1, &l1);
	if (t1 == NULL || l1 > SFV_MAX_INPUT)
		goto out;
	/* What we serialize we must parse back to the same text. */
	if (sfv_parse_dict(t1, l1, &d2, NULL) != UPK_OK)
		abort();
	t2 = serialize(&d2, &l2);
	if (t2 == NULL || l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
out:
	free(t1);
	free(t2);
	sfv_dict_clear(&d1);
	sfv_dict_clear(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t seed[32] = {0x9f, 0x83, 0x62, 0xf8, 0x7a, 0x48, 0x4a, 0x95,
					 0x4e, 0x6e, 0x74, 0x0c, 0x5b, 0x4c, 0x0e, 0x84,
					 0x22, 0x91, 0x39, 0xa2, 0x0a, 0xa8, 0xab, 0x56,
					 0xff, 0x66, 0x58, 0x6f, 0x6a, 0x7d, 0x29, 0xc5};
	char *buf, *line[4] = {NULL, NULL, NULL, NULL};
	struct upk_http_field fields[9];
	struct upk_http_request req = {
		.method = "POST",
		.scheme = "https",
		.authority = "example.com",
		.path = "/foo",
		.query = "param=Value&Pet=dog",
		.fields = fields,
	};
	struct upk_httpsig_policy pol;
	struct upk_httpsig_verified v;
	uint8_t body_sha[UPK_HASH_MAX_LEN];
	size_t n = 0, nl = 0;

	if (test_key == NULL && upk_key_from_ed25519_seed(seed, &test_key, NULL) != UPK_OK)
		abort();
	if (size > 4 * UPK_HTTPSIG_MAX_FIELD)
		return 0;
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	line[0] = buf;
	for (size_t i = 0; i < size && nl < 3; i++) {
		if (buf[i] == '\n') {
			buf[i] = '\0';
			line[++nl] = buf + i + 1;
		}
	}
	dict_fixed_point(line[0], strlen(line[0]));

	fields[n++] = (struct upk_http_field){"Date", "Tue, 20 Apr 2021 02:07:55 GMT"};
	fields[n++] = (struct upk_http_field){"Content-Type", "application/json"};
	fields[n++] = (struct upk_http_field){"Content-Length", "18"};
	fields[n++] = (struct upk_http_field){"Signature-Input", line[0]};
	if (line[1] != NULL)
		fields[n++] = (struct upk_http_field){"Signature", line[1]};
	if (line[2] != NULL && line[2][0] != '\0') {
		fields[n++] = (struct upk_http_field){"Content-Digest", line[2]};
		/* The B.2 body, so a matching sha-256 member can be found by the fuzzer. */
		if (upk_hash_buf(UPK_HASH_SHA256, "{\"hello\": \"world\"}", 18, body_sha, NULL) !=
		    UPK_OK)
			abort();
		req.body_sha256 = body_sha;
		(void)upk_content_digest_check(line[2], body_sha, NULL);
	}
	if (line[3] != NULL)
		fields[n++] = (struct upk_http_field){"X-Extra", line[3]};
	req.nfields = n;

	/* A policy the B.2.6 example meets, so mutations start from a verifying request. */
	upk_httpsig_policy_default(&pol, 1618884473);
	pol.required_components = NULL;
	pol.nrequired = 0;
	pol.required_params = UPK_HTTPSIG_P_KEYID;
	pol.key_lookup = lookup;
	pol.nonce_check = nonce_ok;
	(void)upk_httpsig_verify(&req, &pol, &v, NULL);
	pol.label = "sig-b26";
	if (upk_httpsig_verify(&req, &pol, &v, NULL) == UPK_OK &&
	    strcmp(v.keyid, "test-key-ed25519") != 0)
		abort();
	free(buf);
	return 0;
}
