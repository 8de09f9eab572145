/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A signed HTTP client for the server tests (libcurl + RFC 9421 from
 * libupkeep), as owners and devices will talk to upkeep-server: every request
 * signs @method, @path and (with a body) content-digest with created, keyid,
 * nonce and alg. Signatures can be made once and sent twice (replay) or sent
 * with another body (tampering). Header-only so each test program that wants
 * it includes it.
 */
#ifndef UPK_TU_SRV_H
#define UPK_TU_SRV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "testutil.h"
#include "upkeep/crypto.h"
#include "upkeep/httpsig.h"

struct tsig {
	char digest[UPK_CONTENT_DIGEST_LEN + 1];
	int has_digest;
	char *input, *sig;
	char keyhdr[80]; /* Upkeep-Key for creators configured by id */
};

struct tresp {
	long status;
	char *body;
	size_t len;
	json_t *json;
};

static inline void tsig_clear(struct tsig *s)
{
	free(s->input);
	free(s->sig);
	memset(s, 0, sizeof(*s));
}

static inline void tresp_clear(struct tresp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Sign method + path (query excluded from @path) + body with key. */
static inline void tu_srv_sign(const char *method, const char *path, const struct upk_key *key,
			       const void *body, size_t len, int64_t created, struct tsig *out)
{
	static const char *const WITH[] = {"@method", "@path", "content-digest"};
	struct upk_error e = {0};
	char nonce[UPK_HTTPSIG_NONCE_LEN + 1], keyid[UPK_KEYID_HEX_LEN + 1], p[4096];
	uint8_t sha[UPK_HASH_MAX_LEN];
	struct upk_http_field f[1];
	struct upk_http_request req;
	struct upk_httpsig_sign_params sp;
	char *q;

	memset(out, 0, sizeof(*out));
	snprintf(p, sizeof(p), "%s", path);
	q = strchr(p, '?');
	if (q != NULL)
		*q = '\0';
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = p;
	if (len > 0) {
		assert_int_equal(upk_hash_buf(UPK_HASH_SHA256, body, len, sha, &e), UPK_OK);
		upk_content_digest_format(sha, out->digest);
		out->has_digest = 1;
		f[0].name = "Content-Digest";
		f[0].value = out->digest;
		req.fields = f;
		req.nfields = 1;
		req.body_sha256 = sha;
	}
	assert_int_equal(upk_httpsig_nonce(nonce, &e), UPK_OK);
	assert_int_equal(upk_key_id(key, keyid, &e), UPK_OK);
	memset(&sp, 0, sizeof(sp));
	sp.label = "sig1";
	sp.components = WITH;
	sp.ncomponents = len > 0 ? 3 : 2;
	sp.created = created;
	sp.expires = UPK_HTTPSIG_NO_TIME;
	sp.keyid = keyid;
	sp.nonce = nonce;
	sp.alg = "ed25519";
	if (upk_httpsig_sign(&req, &sp, key, &out->input, &out->sig, &e) != UPK_OK)
		fail_msg("sign: %s", e.msg);
}

static size_t tu_srv_write(char *data, size_t size, size_t n, void *ctx)
{
	struct tresp *r = ctx;
	char *nb = realloc(r->body, r->len + size * n + 1);

	if (nb == NULL)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, data, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* Send a request with the given signature headers (NULL: unsigned). */
static inline long tu_srv_send(unsigned port, const char *method, const char *path,
			       const struct tsig *sig, const void *body, size_t len,
			       struct tresp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4200], line[8400];
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_srv_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, len > 0 ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/json");
	if (sig != NULL) {
		if (sig->has_digest) {
			snprintf(line, sizeof(line), "Content-Digest: %s", sig->digest);
			h = curl_slist_append(h, line);
		}
		snprintf(line, sizeof(line), "Signature-Input: %s", sig->input);
		h = curl_slist_append(h, line);
		snprintf(line, sizeof(line), "Signature: %s", sig->sig);
		h = curl_slist_append(h, line);
		if (sig->keyhdr[0] != '\0') {
			snprintf(line, sizeof(line), "Upkeep-Key: %s", sig->keyhdr);
			h = curl_slist_append(h, line);
		}
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (out->body != NULL)
		out->json = json_loads(out->body, 0, NULL);
	return out->status;
}

/* Sign and send; key NULL sends it unsigned. Returns the HTTP status. */
static inline long tu_srv_call(unsigned port, const char *method, const char *path,
			       const struct upk_key *key, const char *body, struct tresp *out)
{
	struct tsig s;
	size_t len = body != NULL ? strlen(body) : 0;
	long st;

	if (key == NULL)
		return tu_srv_send(port, method, path, NULL, body, len, out);
	tu_srv_sign(method, path, key, body, len, (int64_t)time(NULL), &s);
	st = tu_srv_send(port, method, path, &s, body, len, out);
	tsig_clear(&s);
	return st;
}

/* Call, expect a status, and return the JSON (caller json_decref()s; may be NULL). */
static inline json_t *tu_srv_expect(unsigned port, const char *method, const char *path,
				    const struct upk_key *key, const char *body, long status)
{
	struct tresp r;
	json_t *j;

	tu_srv_call(port, method, path, key, body, &r);
	if (r.status != status)
		fail_msg("%s %s: expected %ld, got %ld: %s", method, path, status, r.status,
			 r.body ? r.body : "");
	j = r.json;
	r.json = NULL;
	tresp_clear(&r);
	return j;
}

#endif
