/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed requests to upkeep-server on libcurl. Every request covers @method,
 * @path and (with a body) content-digest, with created, keyid, nonce and alg
 * (the server's policy, docs/server.md); bodies are bounded, connections
 * reused between the requests of one command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "srv_client.h"
#include "upkeep/crypto.h"
#include "upkeep/httpsig.h"

struct srv_conn {
	char *base;   /* without a trailing '/' */
	char *fleet;
	struct upk_key *key;
	char keyid[UPK_KEYID_HEX_LEN + 1];
	char pubhex[2 * 32 + 1];
	int json;
	CURL *curl;
};

struct buf {
	char *data;
	size_t len;
	int too_big;
};

static const char *opt_or_env(const struct cli_args *a, const char *opt, const char *env)
{
	const char *v = cli_opt(a, opt);

	if (v == NULL || v[0] == '\0')
		v = getenv(env);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The connection without a key: server URL and fleet. */
static upk_status conn_new(const struct cli_args *a, int need_fleet, struct srv_conn **out,
			   struct upk_error *err)
{
	const char *url = opt_or_env(a, "server", "UPKEEP_SERVER");
	const char *fleet = opt_or_env(a, "fleet", "UPKEEP_FLEET");
	struct srv_conn *c;
	size_t n;

	if (url == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "no server: give --server URL or set UPKEEP_SERVER");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "server \"%.200s\" is not an http:// or https:// URL", url);
	if (need_fleet && fleet == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "no fleet: give --fleet NAME or set UPKEEP_FLEET");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	c->json = cli_flag(a, "json");
	c->base = strdup(url);
	c->fleet = fleet != NULL ? strdup(fleet) : NULL;
	c->curl = curl_easy_init();
	if (c->base == NULL || (fleet != NULL && c->fleet == NULL) || c->curl == NULL) {
		srv_close(c);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	*out = c;
	return UPK_OK;
}

upk_status srv_open_public(const struct cli_args *a, int need_fleet, struct srv_conn **out,
			   struct upk_error *err)
{
	return conn_new(a, need_fleet, out, err);
}

upk_status srv_open(const struct cli_args *a, int need_fleet, struct srv_conn **out,
		    struct upk_error *err)
{
	const char *key = opt_or_env(a, "key", "UPKEEP_KEY");
	struct srv_conn *c = NULL;
	json_t *tuf = NULL;
	upk_status ret;

	/* The server's absence is reported first, as before there was a key. */
	if (key == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
				     opt_or_env(a, "server", "UPKEEP_SERVER") == NULL
					     ? "no server: give --server URL or set UPKEEP_SERVER"
					     : "no owner key: give --key FILE or set UPKEEP_KEY");
	ret = conn_new(a, need_fleet, &c, err);
	if (ret != UPK_OK)
		return ret;
	ret = cli_load_key(key, cli_opt(a, "passphrase-file"), 1, &c->key, err);
	if (ret == UPK_OK && upk_key_type(c->key) != UPK_KEY_ED25519)
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED, "%s: requests are signed with ed25519 keys",
				    key);
	if (ret == UPK_OK)
		ret = upk_key_id(c->key, c->keyid, err);
	if (ret == UPK_OK)
		ret = upk_key_to_tuf(c->key, &tuf, err);
	if (ret == UPK_OK)
		snprintf(c->pubhex, sizeof(c->pubhex), "%s",
			 json_string_value(json_object_get(json_object_get(tuf, "keyval"), "public")));
	json_decref(tuf);
	if (ret != UPK_OK) {
		srv_close(c);
		return ret;
	}
	*out = c;
	return UPK_OK;
}

void srv_close(struct srv_conn *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	upk_key_free(c->key);
	free(c->base);
	free(c->fleet);
	free(c);
}

const char *srv_fleet(const struct srv_conn *c)
{
	return c->fleet;
}

int srv_json(const struct srv_conn *c)
{
	return c->json;
}

int srv_path_append(char *out, size_t size, const char *s, enum srv_append how)
{
	static const char HEX[] = "0123456789ABCDEF";
	size_t n = strlen(out);

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		int plain = how == SRV_RAW || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("._~-", *p) != NULL ||
			    (how == SRV_KEEP_SLASH && *p == '/');

		if (n + (plain ? 1 : 3) + 1 > size)
			return -1;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = HEX[*p >> 4];
			out[n++] = HEX[*p & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	char *nd;

	if (b->len + n > SRV_MAX_RESPONSE) {
		b->too_big = 1;
		return 0;
	}
	nd = realloc(b->data, b->len + n + 1);
	if (nd == NULL)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Signature headers for method + path (+ a body's SHA-256) appended to *h. */
static upk_status sign(struct srv_conn *c, const char *method, const char *path,
		       const uint8_t *sha256, struct curl_slist **h, struct upk_error *err)
{
	struct upk_httpsig_headers sh;
	char line[8400];
	upk_status ret;

	ret = upk_httpsig_sign_default(method, path, sha256, c->key, c->keyid, (int64_t)time(NULL),
				       &sh, err);
	if (ret != UPK_OK)
		return ret;
	if (sha256 != NULL) {
		snprintf(line, sizeof(line), "Content-Digest: %s", sh.content_digest);
		*h = curl_slist_append(*h, line);
	}
	snprintf(line, sizeof(line), "Signature-Input: %s", sh.signature_input);
	*h = curl_slist_append(*h, line);
	snprintf(line, sizeof(line), "Signature: %s", sh.signature);
	*h = curl_slist_append(*h, line);
	/* Lets a creator configured by key id only be recognised (docs/server.md). */
	snprintf(line, sizeof(line), "Upkeep-Key: %s", c->pubhex);
	*h = curl_slist_append(*h, line);
	upk_httpsig_headers_clear(&sh);
	return *h != NULL ? UPK_OK : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
}

/* The answer: JSON into *out on 2xx, else an error with the server's message. */
static upk_status answer(struct srv_conn *c, const char *method, const char *path, CURLcode rc,
			 struct buf *b, long *status_out, json_t **out, struct upk_error *err)
{
	long status = 0;
	json_t *j;

	if (rc != CURLE_OK) {
		if (b->too_big)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
					     "%s %s: answer over %u bytes", method, path,
					     SRV_MAX_RESPONSE);
		return upk_error_set(err, UPK_ERR_IO, "%s %s%s: %s", method, c->base, path,
				     curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status_out != NULL)
		*status_out = status;
	j = b->data != NULL ? json_loads(b->data, 0, NULL) : NULL;
	if (status < 200 || status > 299) {
		const char *msg = json_string_value(json_object_get(j, "message"));
		upk_status ret = upk_error_set(err, status == 404 ? UPK_ERR_NOT_FOUND : UPK_ERR_INVALID,
					       "%s %s: HTTP %ld: %.400s", method, path, status,
					       msg != NULL ? msg : b->data != NULL ? b->data : "");

		json_decref(j);
		return ret;
	}
	if (out != NULL)
		*out = j != NULL ? j : json_null();
	else
		json_decref(j);
	return UPK_OK;
}

static void reset(struct srv_conn *c, const char *method, const char *url, struct buf *b)
{
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
}

upk_status srv_call(struct srv_conn *c, const char *method, const char *path, const char *body,
		    long *status, json_t **out, struct upk_error *err)
{
	struct curl_slist *h = NULL;
	struct buf b = {0};
	uint8_t sha[UPK_HASH_MAX_LEN];
	size_t len = body != NULL ? strlen(body) : 0;
	char url[8400];
	upk_status ret;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", c->base, path);
	if (len > 0) {
		ret = upk_hash_buf(UPK_HASH_SHA256, body, len, sha, err);
		if (ret != UPK_OK)
			return ret;
	}
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/json");
	ret = sign(c, method, path, len > 0 ? sha : NULL, &h, err);
	if (ret != UPK_OK) {
		curl_slist_free_all(h);
		return ret;
	}
	reset(c, method, url, &b);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, len > 0 ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c->curl);
	ret = answer(c, method, path, rc, &b, status, out, err);
	curl_slist_free_all(h);
	free(b.data);
	return ret;
}

/*
 * An unsigned GET of base + path: the body lands in *b (the caller frees
 * b->data), the HTTP status in *status. With nobody, only the status is
 * wanted: the GET's body is not read, without needing a HEAD route. The
 * server does send that body, so the connection must not carry another
 * request.
 */
static upk_status unsigned_get(struct srv_conn *c, const char *path, int nobody, struct buf *b,
			       long *status, struct upk_error *err)
{
	char url[8400];
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", c->base, path);
	reset(c, "GET", url, b);
	if (nobody) {
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "GET");
		curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		if (b->too_big)
			return upk_error_set(err, UPK_ERR_TOO_LARGE, "GET %s: answer over %u bytes",
					     path, SRV_MAX_RESPONSE);
		return upk_error_set(err, UPK_ERR_IO, "GET %s: %s", url, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	return UPK_OK;
}

upk_status srv_exists(struct srv_conn *c, const char *path, int *exists, struct upk_error *err)
{
	struct buf b = {0};
	long status = 0;
	upk_status ret = unsigned_get(c, path, 1, &b, &status, err);

	free(b.data);
	if (ret == UPK_OK)
		*exists = status == 200;
	return ret;
}

upk_status srv_get_public(struct srv_conn *c, const char *path, char **body, size_t *len,
			  struct upk_error *err)
{
	struct buf b = {0};
	long status = 0;
	upk_status ret = unsigned_get(c, path, 0, &b, &status, err);

	if (ret == UPK_OK && status != 200)
		ret = upk_error_set(err, status == 404 ? UPK_ERR_NOT_FOUND : UPK_ERR_INVALID,
				    "GET %s: HTTP %ld", path, status);
	if (ret != UPK_OK) {
		free(b.data);
		return ret;
	}
	*len = b.len;
	*body = b.data != NULL ? b.data : strdup("");
	return *body != NULL ? UPK_OK : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
}

struct progress {
	const char *label;
	int tty;
	int64_t last_ms;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "label  [#####     ]  42%  12.3 MiB", redrawn at most ten times a second. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct progress *p = ctx;
	int64_t now = mono_ms();
	char bar[31];
	int pct, fill;

	(void)dltotal;
	(void)dlnow;
	if (!p->tty || ultotal <= 0 || (now - p->last_ms < 100 && ulnow < ultotal))
		return 0;
	p->last_ms = now;
	pct = (int)(ulnow * 100 / ultotal);
	fill = pct * 30 / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(30 - fill));
	bar[30] = '\0';
	fprintf(stderr, "\r%-32.32s [%s] %3d%% %8.1f MiB", p->label, bar, pct,
		(double)ulnow / (1024.0 * 1024.0));
	if (ulnow >= ultotal)
		fputc('\n', stderr);
	fflush(stderr);
	return 0;
}

upk_status srv_put_file(struct srv_conn *c, const char *path, const char *file,
			const char *label, json_t **out, struct upk_error *err)
{
	struct curl_slist *h = NULL;
	struct progress prog = {label, isatty(STDERR_FILENO), 0};
	struct cli_file_digest d;
	struct buf b = {0};
	uint8_t sha[32];
	char url[8400];
	FILE *fp = NULL;
	upk_status ret;
	CURLcode rc;

	/* Hash first: the signature covers the digest of the whole body. */
	ret = cli_copy_hashed(file, NULL, &d, err);
	if (ret != UPK_OK)
		return ret;
	for (size_t i = 0; i < 32; i++) {
		unsigned v = 0;

		sscanf(d.sha256 + 2 * i, "%2x", &v);
		sha[i] = (uint8_t)v;
	}
	fp = fopen(file, "rb");
	if (fp == NULL)
		return upk_error_set(err, UPK_ERR_IO, "%s: %s", file, strerror(errno));
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	ret = sign(c, "PUT", path, d.length > 0 ? sha : NULL, &h, err);
	if (ret == UPK_OK) {
		snprintf(url, sizeof(url), "%s%s", c->base, path);
		reset(c, "PUT", url, &b);
		curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->curl, CURLOPT_READDATA, fp);
		curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)d.length);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &prog);
		/* No overall timeout for big payloads; a stalled transfer ends after a minute. */
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
		rc = curl_easy_perform(c->curl);
		ret = answer(c, "PUT", path, rc, &b, NULL, out, err);
	}
	curl_slist_free_all(h);
	free(b.data);
	fclose(fp);
	return ret;
}

int srv_print_json(json_t *answer_json)
{
	struct upk_error err = {0};

	if (cli_print_json(answer_json, &err) != UPK_OK)
		return cli_fail(&err);
	return CLI_EXIT_OK;
}
