/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9421 signature bases and ed25519 signing: resolving covered
 * components of a request (section 2), building the base (section 2.5) and
 * writing the Signature-Input and Signature fields (section 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base64_internal.h"
#include "httpsig_internal.h"

/* Derived components we implement (RFC 9421 section 2.2), all request-side. */
static const char *const DERIVED[] = {
	"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query",
};

static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

upk_status httpsig_check_component(const struct sfv_item *item,
				   char name[UPK_HTTPSIG_MAX_NAME + 1], struct upk_error *err)
{
	const char *s;

	/* Section 2: component identifiers are sf-strings, never tokens. */
	if (item->bare.type != SFV_STRING)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "covered component is not a quoted string");
	s = (const char *)item->bare.data;
	if (item->bare.len == 0 || item->bare.len > UPK_HTTPSIG_MAX_NAME)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "covered component name \"%.80s\" is empty or longer than %d",
				     s, UPK_HTTPSIG_MAX_NAME);
	/*
	 * Component parameters (sf, key, bs, req, tr, name) change what the
	 * value is; we implement none, and section 3.2 says to fail on any we do
	 * not understand rather than sign or verify something else.
	 */
	if (item->params.n > 0)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "covered component \"%s\": parameter \"%s\" not supported", s,
				     item->params.v[0].key);
	if (s[0] == '@') {
		if (strcmp(s, "@signature-params") == 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "\"@signature-params\" cannot be a covered component");
		for (size_t i = 0; i < sizeof(DERIVED) / sizeof(DERIVED[0]); i++) {
			if (strcmp(s, DERIVED[i]) == 0)
				goto ok;
		}
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "derived component \"%s\" not supported", s);
	}
	/* Section 2.1: a field's component name is its lower-cased field name (a token). */
	for (size_t i = 0; i < item->bare.len; i++) {
		int c = (unsigned char)s[i];
		if (!is_tchar(c) || (c >= 'A' && c <= 'Z'))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "covered component \"%s\" is not a lower-case field "
					     "name",
					     s);
	}
ok:
	memcpy(name, s, item->bare.len + 1);
	return UPK_OK;
}

/* Bytes a signature base cannot carry: it is one line per component. */
static upk_status check_value(const char *what, const char *v, size_t len, struct upk_error *err)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "%s: value has control byte 0x%02x at offset %zu",
					     what, c, i);
	}
	return UPK_OK;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

upk_status httpsig_field(const struct upk_http_request *req, const char *lcname, char **value,
			 size_t *value_len, struct upk_error *err)
{
	struct sfv_buf b;
	int found = 0;
	upk_status ret;

	sfv_buf_init(&b, UPK_HTTPSIG_MAX_FIELD);
	for (size_t i = 0; i < req->nfields; i++) {
		const struct upk_http_field *f = &req->fields[i];
		const char *v;
		size_t len;

		if (f->name == NULL || strcasecmp(f->name, lcname) != 0)
			continue;
		v = f->value ? f->value : "";
		len = strlen(v);
		/* Section 2.1 step 1: strip leading and trailing whitespace of each line. */
		while (len > 0 && is_ws(v[0])) {
			v++;
			len--;
		}
		while (len > 0 && is_ws(v[len - 1]))
			len--;
		/*
		 * Obsolete line folding (RFC 9112 section 5.2) would be replaced by
		 * SP; servers reject it before we see it, so CR/LF here is refused.
		 */
		ret = check_value(lcname, v, len, err);
		if (ret != UPK_OK)
			goto out;
		/* Step 2: several lines are joined with ", " in the order received. */
		if (found)
			sfv_buf_add(&b, ", ", 2);
		sfv_buf_add(&b, v, len);
		found = 1;
	}
	if (!found) {
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "field \"%s\" is not in the request",
				    lcname);
		goto out;
	}
	ret = sfv_buf_finish(&b, value, value_len, err);
	if (ret != UPK_OK)
		ret = upk_error_prefix(err, ret, "field \"%s\": ", lcname);
out:
	sfv_buf_free(&b);
	return ret;
}

/* Section 2.2.3: host lower-cased, the scheme's default port left out. */
static void add_authority(struct sfv_buf *b, const struct upk_http_request *req)
{
	const char *a = req->authority;
	size_t len = strlen(a);
	char *lower = NULL;

	if (req->scheme != NULL) {
		if (strcasecmp(req->scheme, "https") == 0 && len > 4 &&
		    strcmp(a + len - 4, ":443") == 0)
			len -= 4;
		else if (strcasecmp(req->scheme, "http") == 0 && len > 3 &&
			 strcmp(a + len - 3, ":80") == 0)
			len -= 3;
	}
	lower = malloc(len + 1);
	if (lower == NULL) {
		b->nomem = 1;
		return;
	}
	for (size_t i = 0; i < len; i++)
		lower[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] - 'A' + 'a') : a[i];
	sfv_buf_add(b, lower, len);
	free(lower);
}

static void add_lower(struct sfv_buf *b, const char *s)
{
	for (; *s; s++) {
		char c = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
		sfv_buf_add(b, &c, 1);
	}
}

/* The value of a derived component (section 2.2), appended to b. */
static upk_status add_derived(struct sfv_buf *b, const struct upk_http_request *req,
			      const char *name, struct upk_error *err)
{
	const char *path = req->path && req->path[0] ? req->path : "/";

	if (strcmp(name, "@method") == 0) {
		if (req->method == NULL || req->method[0] == '\0')
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "@method: request has none");
		/* Section 2.2.1: the method is case-sensitive and used as is. */
		sfv_buf_addstr(b, req->method);
		return UPK_OK;
	}
	if ((strcmp(name, "@scheme") == 0 || strcmp(name, "@target-uri") == 0) &&
	    (req->scheme == NULL || req->scheme[0] == '\0'))
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "%s: the request's scheme is unknown",
				     name);
	if ((strcmp(name, "@authority") == 0 || strcmp(name, "@target-uri") == 0) &&
	    (req->authority == NULL || req->authority[0] == '\0'))
		return upk_error_set(err, UPK_ERR_NOT_FOUND,
				     "%s: the request's authority is unknown", name);
	if (strcmp(name, "@scheme") == 0) {
		add_lower(b, req->scheme);
	} else if (strcmp(name, "@authority") == 0) {
		add_authority(b, req);
	} else if (strcmp(name, "@target-uri") == 0) {
		/* Section 2.2.2: the absolute target URI (RFC 9110 section 7.1). */
		add_lower(b, req->scheme);
		sfv_buf_add(b, "://", 3);
		add_authority(b, req);
		sfv_buf_addstr(b, path);
		if (req->query != NULL) {
			sfv_buf_add(b, "?", 1);
			sfv_buf_addstr(b, req->query);
		}
	} else if (strcmp(name, "@request-target") == 0) {
		/* Section 2.2.5: origin form, as sent on an HTTP/1.1 request line. */
		sfv_buf_addstr(b, path);
		if (req->query != NULL) {
			sfv_buf_add(b, "?", 1);
			sfv_buf_addstr(b, req->query);
		}
	} else if (strcmp(name, "@path") == 0) {
		/* Section 2.2.6: an empty path is "/". */
		sfv_buf_addstr(b, path);
	} else if (strcmp(name, "@query") == 0) {
		/* Section 2.2.7: "?" and the query, or "?" alone when there is none. */
		sfv_buf_add(b, "?", 1);
		if (req->query != NULL)
			sfv_buf_addstr(b, req->query);
	} else {
		return upk_error_set(err, UPK_ERR_UNSUPPORTED, "derived component \"%s\"", name);
	}
	return UPK_OK;
}

upk_status httpsig_build_base(const struct upk_http_request *req, const struct sfv_item *items,
			      size_t n, const struct sfv_params *params, char **base,
			      size_t *base_len, struct upk_error *err)
{
	char names[UPK_HTTPSIG_MAX_COMPONENTS][UPK_HTTPSIG_MAX_NAME + 1];
	struct sfv_buf b;
	char *value = NULL;
	upk_status ret;

	sfv_buf_init(&b, UPK_HTTPSIG_MAX_BASE);
	if (n > UPK_HTTPSIG_MAX_COMPONENTS) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu covered components, limit %d", n,
				    UPK_HTTPSIG_MAX_COMPONENTS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;

		ret = httpsig_check_component(&items[i], names[i], err);
		if (ret != UPK_OK)
			goto out;
		/* Section 2.5 step 2.1: a component identifier may appear only once. */
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[k], names[i]) == 0) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
						    "covered component \"%s\" listed twice",
						    names[i]);
				goto out;
			}
		}
		/* Step 2.2: the identifier serialized as an sf-item, then ": ". */
		sfv_buf_item(&b, &items[i]);
		sfv_buf_add(&b, ": ", 2);
		if (names[i][0] == '@') {
			struct sfv_buf d;

			sfv_buf_init(&d, UPK_HTTPSIG_MAX_FIELD);
			ret = add_derived(&d, req, names[i], err);
			if (ret == UPK_OK)
				ret = sfv_buf_finish(&d, &value, &len, err);
			sfv_buf_free(&d);
			if (ret == UPK_OK)
				ret = check_value(names[i], value, len, err);
		} else {
			ret = httpsig_field(req, names[i], &value, &len, err);
		}
		if (ret != UPK_OK)
			goto out;
		sfv_buf_add(&b, value, len);
		free(value);
		value = NULL;
		sfv_buf_add(&b, "\n", 1);
	}
	/* Step 3: the "@signature-params" line, with no newline after it. */
	sfv_buf_addstr(&b, "\"@signature-params\": ");
	sfv_buf_inner(&b, items, n, params);
	ret = sfv_buf_finish(&b, base, base_len, err);
	if (ret != UPK_OK)
		ret = upk_error_prefix(err, ret, "signature base: ");
out:
	free(value);
	sfv_buf_free(&b);
	return ret;
}

/* ---- signing ---- */

static void set_string(struct sfv_param *p, const char *key, const char *s)
{
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->value.type = SFV_STRING;
	/* Borrowed: the caller's string outlives the params, which are never freed. */
	p->value.data = (uint8_t *)(uintptr_t)s;
	p->value.len = strlen(s);
}

static upk_status check_param_string(const char *what, const char *s, size_t max,
				     struct upk_error *err)
{
	size_t len = strlen(s);

	if (len == 0 || len > max || !sfv_is_string(s, len))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "%s \"%.80s\" must be 1 to %zu printable ASCII characters",
				     what, s, max);
	return UPK_OK;
}

/*
 * The sfv form of sign params. Strings are borrowed from params, so the
 * result is released with free() of the two arrays only, never sfv clears.
 */
static upk_status sign_inputs(const struct upk_httpsig_sign_params *sp, struct sfv_item *items,
			      struct sfv_params *params, struct sfv_param pv[6],
			      struct upk_error *err)
{
	upk_status ret;
	size_t n = 0;

	if (sp->ncomponents > UPK_HTTPSIG_MAX_COMPONENTS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu covered components, limit %d",
				     sp->ncomponents, UPK_HTTPSIG_MAX_COMPONENTS);
	for (size_t i = 0; i < sp->ncomponents; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		if (sp->components[i] == NULL ||
		    !sfv_is_string(sp->components[i], strlen(sp->components[i])))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "covered component %zu is not printable ASCII", i);
		items[i].bare.type = SFV_STRING;
		items[i].bare.data = (uint8_t *)(uintptr_t)sp->components[i];
		items[i].bare.len = strlen(sp->components[i]);
	}
	memset(pv, 0, 6 * sizeof(pv[0]));
	if (sp->created != UPK_HTTPSIG_NO_TIME) {
		if (sp->created < 0)
			return upk_error_set(err, UPK_ERR_INVALID, "created %lld is negative",
					     (long long)sp->created);
		snprintf(pv[n].key, sizeof(pv[n].key), "created");
		pv[n].value.type = SFV_INTEGER;
		pv[n++].value.num = sp->created;
	}
	if (sp->expires != UPK_HTTPSIG_NO_TIME) {
		if (sp->expires < 0 ||
		    (sp->created != UPK_HTTPSIG_NO_TIME && sp->expires < sp->created))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "expires %lld is negative or before created",
					     (long long)sp->expires);
		snprintf(pv[n].key, sizeof(pv[n].key), "expires");
		pv[n].value.type = SFV_INTEGER;
		pv[n++].value.num = sp->expires;
	}
	if (sp->keyid != NULL) {
		ret = check_param_string("keyid", sp->keyid, UPK_HTTPSIG_MAX_KEYID, err);
		if (ret != UPK_OK)
			return ret;
		set_string(&pv[n++], "keyid", sp->keyid);
	}
	if (sp->nonce != NULL) {
		ret = check_param_string("nonce", sp->nonce, UPK_HTTPSIG_MAX_NONCE, err);
		if (ret != UPK_OK)
			return ret;
		set_string(&pv[n++], "nonce", sp->nonce);
	}
	if (sp->alg != NULL) {
		if (strcmp(sp->alg, "ed25519") != 0)
			return upk_error_set(err, UPK_ERR_UNSUPPORTED,
					     "alg \"%.80s\": only \"ed25519\" is supported",
					     sp->alg);
		set_string(&pv[n++], "alg", sp->alg);
	}
	if (sp->tag != NULL) {
		ret = check_param_string("tag", sp->tag, UPK_HTTPSIG_MAX_TAG, err);
		if (ret != UPK_OK)
			return ret;
		set_string(&pv[n++], "tag", sp->tag);
	}
	params->v = pv;
	params->n = n;
	return UPK_OK;
}

upk_status upk_httpsig_base(const struct upk_http_request *req,
			    const struct upk_httpsig_sign_params *params, char **base,
			    size_t *base_len, struct upk_error *err)
{
	struct sfv_item items[UPK_HTTPSIG_MAX_COMPONENTS];
	struct sfv_param pv[6];
	struct sfv_params sp;
	upk_status ret;

	ret = sign_inputs(params, items, &sp, pv, err);
	if (ret == UPK_OK)
		ret = httpsig_build_base(req, items, params->ncomponents, &sp, base, base_len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "http signature: ");
	return UPK_OK;
}

upk_status upk_httpsig_sign(const struct upk_http_request *req,
			    const struct upk_httpsig_sign_params *params,
			    const struct upk_key *key, char **signature_input, char **signature,
			    struct upk_error *err)
{
	struct sfv_item items[UPK_HTTPSIG_MAX_COMPONENTS];
	struct sfv_param pv[6];
	struct sfv_params sp;
	struct sfv_buf in, sig;
	struct sfv_bare bytes = {0};
	char *base = NULL, *in_text = NULL;
	uint8_t *raw = NULL;
	size_t base_len = 0, raw_len = 0;
	upk_status ret;

	sfv_buf_init(&in, UPK_HTTPSIG_MAX_FIELD);
	sfv_buf_init(&sig, UPK_HTTPSIG_MAX_FIELD);
	if (params->label == NULL || !sfv_is_key(params->label)) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "http signature: label \"%.80s\" is not a structured-field key",
				    params->label ? params->label : "(null)");
		goto out;
	}
	if (key == NULL || upk_key_type(key) != UPK_KEY_ED25519 || !upk_key_has_private(key)) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "http signature: signing needs an Ed25519 private key");
		goto out;
	}
	ret = sign_inputs(params, items, &sp, pv, err);
	if (ret == UPK_OK)
		ret = httpsig_build_base(req, items, params->ncomponents, &sp, &base, &base_len,
					 err);
	if (ret != UPK_OK)
		goto fail;
	ret = upk_key_sign(key, base, base_len, &raw, &raw_len, err);
	if (ret != UPK_OK)
		goto fail;
	/* Section 4.1 and 4.2: one dictionary member each, under the same label. */
	sfv_buf_addstr(&in, params->label);
	sfv_buf_add(&in, "=", 1);
	sfv_buf_inner(&in, items, params->ncomponents, &sp);
	bytes.type = SFV_BYTES;
	bytes.data = raw;
	bytes.len = raw_len;
	sfv_buf_addstr(&sig, params->label);
	sfv_buf_add(&sig, "=", 1);
	sfv_buf_bare(&sig, &bytes);
	ret = sfv_buf_finish(&in, &in_text, NULL, err);
	if (ret == UPK_OK)
		ret = sfv_buf_finish(&sig, signature, NULL, err);
	if (ret != UPK_OK)
		goto fail;
	*signature_input = in_text;
	in_text = NULL;
	goto out;
fail:
	ret = upk_error_prefix(err, ret, "http signature: ");
out:
	free(in_text);
	free(base);
	free(raw);
	sfv_buf_free(&in);
	sfv_buf_free(&sig);
	return ret;
}

upk_status upk_httpsig_nonce(char out[UPK_HTTPSIG_NONCE_LEN + 1], struct upk_error *err)
{
	uint8_t r[24];
	upk_status ret = upk_random_bytes(r, sizeof(r), err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "http signature nonce: ");
	/* 192 bits: collisions between honest clients never happen in practice. */
	base64_encode(r, sizeof(r), out);
	return UPK_OK;
}

upk_status upk_httpsig_sign_default(const char *method, const char *path,
				    const uint8_t *body_sha256, const struct upk_key *key,
				    const char *keyid, int64_t created,
				    struct upk_httpsig_headers *out, struct upk_error *err)
{
	static const char *const covered[] = {"@method", "@path", "content-digest"};
	char nonce[UPK_HTTPSIG_NONCE_LEN + 1];
	struct upk_http_field field;
	struct upk_http_request req;
	struct upk_httpsig_sign_params sp;
	size_t plen = strcspn(path, "?");
	char *bare;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	/* @path never includes the query. */
	bare = strndup(path, plen);
	if (bare == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = bare;
	if (body_sha256 != NULL) {
		upk_content_digest_format(body_sha256, out->content_digest);
		field.name = "Content-Digest";
		field.value = out->content_digest;
		req.fields = &field;
		req.nfields = 1;
		req.body_sha256 = body_sha256;
	}
	ret = upk_httpsig_nonce(nonce, err);
	if (ret == UPK_OK) {
		memset(&sp, 0, sizeof(sp));
		sp.label = "sig1";
		sp.components = covered;
		sp.ncomponents = body_sha256 != NULL ? 3 : 2;
		sp.created = created;
		sp.expires = UPK_HTTPSIG_NO_TIME;
		sp.keyid = keyid;
		sp.nonce = nonce;
		sp.alg = "ed25519";
		ret = upk_httpsig_sign(&req, &sp, key, &out->signature_input, &out->signature, err);
	}
	free(bare);
	return ret;
}

void upk_httpsig_headers_clear(struct upk_httpsig_headers *h)
{
	if (h == NULL)
		return;
	free(h->signature_input);
	free(h->signature);
	memset(h, 0, sizeof(*h));
}
