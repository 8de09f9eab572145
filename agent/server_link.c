/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed JSON requests from the device to its fleet on the server. The
 * signature covers @method, @path and content-digest, with a creation time
 * and a fresh nonce, so a captured request can be neither replayed nor
 * altered (docs/server.md, "Authentication").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "server_link.h"
#include "upkeep/crypto.h"
#include "upkeep/httpsig.h"

struct server_link {
	CURL *curl;
	char *base;   /* the fleet URL, without a trailing '/' */
	char *origin; /* scheme://authority */
	const char *path; /* into base: "/v1/fleets/F" */
	const struct identity *id;
};

struct body {
	char *data;
	size_t len;
	int too_large;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *nd;

	if (b->len + n > SERVER_LINK_MAX_RESPONSE) {
		b->too_large = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	nd = realloc(b->data, b->len + n + 1);
	if (nd == NULL)
		return CURL_WRITEFUNC_ERROR;
	b->data = nd;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

upk_status server_link_new(const char *fleet_url, const struct identity *id,
                           struct server_link **out, struct upk_error *err)
{
	struct server_link *l;
	const char *p = strstr(fleet_url, "://");
	size_t n;

	if (p == NULL || (strncmp(fleet_url, "http://", 7) != 0 &&
	                  strncmp(fleet_url, "https://", 8) != 0))
		return upk_error_set(err, UPK_ERR_INVALID, "server \"%s\" is not an http(s) URL",
		                     fleet_url);
	p = strchr(p + 3, '/');
	if (p == NULL || strstr(p, "/fleets/") == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "server \"%s\" must be the fleet URL (.../v1/fleets/NAME)",
		                     fleet_url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return upk_error_set(err, UPK_ERR_IO, "curl_global_init failed");
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	l->base = strdup(fleet_url);
	l->origin = strndup(fleet_url, (size_t)(p - fleet_url));
	l->curl = curl_easy_init();
	if (l->base == NULL || l->origin == NULL || l->curl == NULL) {
		server_link_free(l);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	n = strlen(l->base);
	while (n > 0 && l->base[n - 1] == '/')
		l->base[--n] = '\0';
	l->path = l->base + strlen(l->origin);
	l->id = id;
	curl_easy_setopt(l->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(l->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(l->curl, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(l->curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(l->curl, CURLOPT_USERAGENT, "upkeepd/0.1");
	*out = l;
	return UPK_OK;
}

void server_link_free(struct server_link *l)
{
	if (l == NULL)
		return;
	if (l->curl != NULL)
		curl_easy_cleanup(l->curl);
	free(l->base);
	free(l->origin);
	free(l);
}

char *server_link_url(const struct server_link *l, const char *path)
{
	size_t n = strlen(l->origin) + strlen(path) + 1;
	char *u = malloc(n);

	if (u != NULL)
		snprintf(u, n, "%s%s", l->origin, path);
	return u;
}

upk_status server_link_call(struct server_link *l, const char *method, const char *rel,
                            const json_t *body, long *status, json_t **resp,
                            struct upk_error *err)
{
	char *text = NULL, *url = NULL, *path = NULL;
	char line[4096];
	uint8_t sha[UPK_HASH_MAX_LEN];
	struct upk_httpsig_headers sh = {0};
	struct curl_slist *h = NULL;
	struct body b = {0};
	size_t len = 0;
	long code = 0;
	CURLcode rc;
	upk_status ret;

	*resp = NULL;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		len = strlen(text);
	}
	/* base is longer than origin: enough for both forms of rel below. */
	url = malloc(strlen(l->base) + strlen(rel) + 2);
	path = malloc(strlen(l->path) + strlen(rel) + 2);
	if (url == NULL || path == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (rel[0] == '/') { /* a path on the server's origin, outside the fleet (/v1/claim) */
		sprintf(url, "%s%s", l->origin, rel);
		sprintf(path, "%s", rel);
	} else {
		sprintf(url, "%s/%s", l->base, rel);
		sprintf(path, "%s/%s", l->path, rel);
	}
	if (text != NULL) {
		ret = upk_hash_buf(UPK_HASH_SHA256, text, len, sha, err);
		if (ret != UPK_OK)
			goto out;
	}
	ret = upk_httpsig_sign_default(method, path, text != NULL ? sha : NULL, l->id->key,
				       l->id->id, (int64_t)time(NULL), &sh, err);
	if (ret != UPK_OK)
		goto out;
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type: application/json");
	if (text != NULL) {
		snprintf(line, sizeof(line), "Content-Digest: %s", sh.content_digest);
		h = curl_slist_append(h, line);
	}
	snprintf(line, sizeof(line), "Signature-Input: %s", sh.signature_input);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Signature: %s", sh.signature);
	h = curl_slist_append(h, line);
	curl_easy_setopt(l->curl, CURLOPT_URL, url);
	curl_easy_setopt(l->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(l->curl, CURLOPT_HTTPGET, strcmp(method, "GET") == 0 ? 1L : 0L);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(l->curl, CURLOPT_POSTFIELDS, text != NULL ? text : "");
		curl_easy_setopt(l->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(l->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(l->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(l->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(l->curl);
	curl_easy_setopt(l->curl, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		ret = upk_error_set(err, b.too_large ? UPK_ERR_TOO_LARGE : UPK_ERR_IO, "%s %s: %s",
		                    method, url, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (b.data != NULL)
		*resp = json_loads(b.data, 0, NULL);
	ret = UPK_OK;
out:
	curl_slist_free_all(h);
	free(b.data);
	free(text);
	upk_httpsig_headers_clear(&sh);
	free(url);
	free(path);
	return ret;
}
