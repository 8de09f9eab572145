/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9421 signatures: the appendix B.2.6 and B.4 ed25519 vectors byte for
 * byte, sign/verify round trips, and every way verification must refuse.
 * With UPK_HTTPSIG_NPM_DIR set it instead runs the interop half driven by
 * tests/interop/test_httpsig_npm.sh (http-message-signatures@1.0.6).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"
#include "upkeep/crypto.h"
#include "upkeep/httpsig.h"

#include "base64_internal.h"

#define NOW INT64_C(1700000000)
/* 64 zero bytes: a well-formed ed25519 signature that verifies nothing. */
#define ZERO64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

/* ---- key store and nonce cache, as a server would keep them ---- */

struct keyent {
	const char *keyid;
	struct upk_key *key;
};

struct store {
	struct keyent keys[4];
	size_t nkeys;
	char seen[64][UPK_HTTPSIG_MAX_NONCE + 1];
	size_t nseen;
	int lookups, nonce_calls;
};

static upk_status lookup(void *ctx, const char *keyid, const char *alg,
			 const struct upk_key **key, struct upk_error *err)
{
	struct store *s = ctx;

	(void)alg;
	s->lookups++;
	for (size_t i = 0; i < s->nkeys; i++) {
		if (strcmp(s->keys[i].keyid, keyid) == 0) {
			*key = s->keys[i].key;
			return UPK_OK;
		}
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND, "unknown key");
}

static upk_status nonce_once(void *ctx, const char *keyid, const char *nonce, int64_t created,
			     struct upk_error *err)
{
	struct store *s = ctx;

	(void)keyid;
	(void)created;
	s->nonce_calls++;
	for (size_t i = 0; i < s->nseen; i++)
		if (strcmp(s->seen[i], nonce) == 0)
			return upk_error_set(err, UPK_ERR_REPLAY, "replayed");
	assert_true(s->nseen < 64);
	snprintf(s->seen[s->nseen++], sizeof(s->seen[0]), "%s", nonce);
	return UPK_OK;
}

static void store_free(struct store *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		upk_key_free(s->keys[i].key);
	memset(s, 0, sizeof(*s));
}

static struct upk_key *gen_key(void)
{
	struct upk_key *k = NULL;

	assert_int_equal(upk_key_generate_ed25519(&k, NULL), UPK_OK);
	return k;
}

static struct upk_key *pem_key(const char *relpath)
{
	struct upk_key *k = NULL;
	struct upk_error err = {0};
	size_t len;
	char *pem = tu_read_data(relpath, &len);

	if (upk_key_from_pem(pem, len, NULL, &k, &err) != UPK_OK)
		fail_msg("%s: %s", relpath, err.msg);
	free(pem);
	return k;
}

/* ---- a request under test ---- */

struct treq {
	struct upk_http_field fields[24];
	char owned[24][UPK_HTTPSIG_MAX_FIELD + 64]; /* values we wrote ourselves */
	struct upk_http_request req;
	uint8_t body_sha[UPK_HASH_MAX_LEN];
	char digest[UPK_CONTENT_DIGEST_LEN + 1];
};

static void add_field(struct treq *t, const char *name, const char *value)
{
	size_t i = t->req.nfields;

	assert_true(i < 24);
	snprintf(t->owned[i], sizeof(t->owned[i]), "%s", value);
	t->fields[i].name = name;
	t->fields[i].value = t->owned[i];
	t->req.nfields++;
}

static struct upk_http_field *find_field(struct treq *t, const char *name)
{
	for (size_t i = 0; i < t->req.nfields; i++)
		if (strcmp(t->fields[i].name, name) == 0)
			return &t->fields[i];
	return NULL;
}

static void set_field(struct treq *t, const char *name, const char *value)
{
	struct upk_http_field *f = find_field(t, name);

	if (f == NULL) {
		add_field(t, name, value);
		return;
	}
	snprintf(t->owned[f - t->fields], sizeof(t->owned[0]), "%s", value);
}

static void set_body(struct treq *t, const char *body)
{
	assert_int_equal(upk_hash_buf(UPK_HASH_SHA256, body, strlen(body), t->body_sha, NULL),
			 UPK_OK);
	t->req.body_sha256 = t->body_sha;
}

/* A device check-in: POST with a JSON body and its Content-Digest. */
static void treq_init(struct treq *t)
{
	memset(t, 0, sizeof(*t));
	t->req.method = "POST";
	t->req.scheme = "https";
	t->req.authority = "Updates.Example:443";
	t->req.path = "/v1/fleets/7/checkin";
	t->req.query = "full=1";
	t->req.fields = t->fields;
	add_field(t, "Host", "updates.example");
	add_field(t, "Content-Type", "application/json");
	set_body(t, "{\"hello\": \"world\"}");
	upk_content_digest_format(t->body_sha, t->digest);
	add_field(t, "Content-Digest", t->digest);
}

static const char *const SERVER_COMPONENTS[] = {"@method", "@path", "@query", "@authority",
						"content-type", "content-digest"};

static struct upk_httpsig_sign_params sign_params(const char *nonce)
{
	struct upk_httpsig_sign_params sp = {
		.label = "sig1",
		.components = SERVER_COMPONENTS,
		.ncomponents = sizeof(SERVER_COMPONENTS) / sizeof(SERVER_COMPONENTS[0]),
		.created = NOW - 10,
		.expires = UPK_HTTPSIG_NO_TIME,
		.keyid = "device-1",
		.nonce = nonce,
		.alg = "ed25519",
		.tag = NULL,
	};
	return sp;
}

static void sign_into(struct treq *t, const struct upk_httpsig_sign_params *sp,
		      const struct upk_key *key)
{
	char *in = NULL, *sig = NULL;
	struct upk_error err = {0};

	if (upk_httpsig_sign(&t->req, sp, key, &in, &sig, &err) != UPK_OK)
		fail_msg("sign: %s", err.msg);
	set_field(t, "Signature-Input", in);
	set_field(t, "Signature", sig);
	free(in);
	free(sig);
}

struct fixture {
	struct store store;
	struct upk_key *dev; /* "device-1" */
	struct upk_key *other;
	struct upk_httpsig_policy pol;
	struct treq t;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dev = gen_key();
	f->other = gen_key();
	f->store.keys[0] = (struct keyent){"device-1", f->dev};
	f->store.keys[1] = (struct keyent){"device-2", f->other};
	f->store.nkeys = 2;
	upk_httpsig_policy_default(&f->pol, NOW);
	f->pol.key_lookup = lookup;
	f->pol.nonce_check = nonce_once;
	f->pol.ctx = &f->store;
	treq_init(&f->t);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(&f->store);
	free(f);
	return 0;
}

static upk_status verify(struct fixture *f, struct upk_httpsig_verified *v, struct upk_error *err)
{
	struct upk_httpsig_verified scratch;

	return upk_httpsig_verify(&f->t.req, &f->pol, v ? v : &scratch, err);
}

static void expect(struct fixture *f, upk_status want, const char *msg_part)
{
	struct upk_error err = {0};
	upk_status got = verify(f, NULL, &err);

	if (got != want || (msg_part != NULL && strstr(err.msg, msg_part) == NULL))
		fail_msg("want %s (\"%s\"), got %s: %s", upk_status_str(want),
			 msg_part ? msg_part : "", upk_status_str(got), err.msg);
}

/* ---- RFC 9421 appendix B ---- */

static json_t *vectors(void)
{
	json_error_t jerr;
	size_t len;
	char *text = tu_read_data("vectors/rfc9421/rfc9421_ed25519.json", &len);
	json_t *j = json_loadb(text, len, 0, &jerr);

	free(text);
	if (j == NULL)
		fail_msg("rfc9421_ed25519.json: %s", jerr.text);
	return j;
}

static json_t *vector_case(json_t *all, const char *label)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(all, "cases"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "label")), label) == 0)
			return c;
	}
	fail_msg("no case %s", label);
	return NULL;
}

/*
 * B.2: POST /foo?param=Value&Pet=dog to example.com; B.2.6 covers date,
 * @method, @path, @authority, content-type and content-length.
 */
static void b2_request(struct treq *t)
{
	memset(t, 0, sizeof(*t));
	t->req.method = "POST";
	t->req.scheme = "https";
	t->req.authority = "example.com";
	t->req.path = "/foo";
	t->req.query = "param=Value&Pet=dog";
	t->req.fields = t->fields;
	add_field(t, "Host", "example.com");
	add_field(t, "Date", "Tue, 20 Apr 2021 02:07:55 GMT");
	add_field(t, "Content-Type", "application/json");
	add_field(t, "Content-Digest",
		  "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyea"
		  "ldVLvRwEmTHWXvJwew==:");
	add_field(t, "Content-Length", "18");
	set_body(t, "{\"hello\": \"world\"}");
}

static const char *const B26_COMPONENTS[] = {"date",         "@method",       "@path",
					     "@authority",   "content-type", "content-length"};

static void test_rfc9421_b26_base_and_signature(void **state)
{
	struct fixture *f = *state;
	struct upk_key *priv = pem_key("vectors/rfc9421/test-key-ed25519.pem");
	json_t *all = vectors(), *c = vector_case(all, "sig-b26");
	struct upk_httpsig_sign_params sp = {
		.label = "sig-b26",
		.components = B26_COMPONENTS,
		.ncomponents = 6,
		.created = 1618884473,
		.expires = UPK_HTTPSIG_NO_TIME,
		.keyid = "test-key-ed25519",
	};
	struct upk_error err = {0};
	char *base = NULL, *in = NULL, *sig = NULL, *want_base;
	size_t base_len = 0, want_len;

	b2_request(&f->t);
	want_base = tu_read_data("vectors/rfc9421/base.txt", &want_len);
	if (upk_httpsig_base(&f->t.req, &sp, &base, &base_len, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(base_len, want_len);
	assert_memory_equal(base, want_base, want_len);
	assert_string_equal(base, json_string_value(json_object_get(c, "base")));
	/* Ed25519 is deterministic, so re-signing must give the published bytes. */
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, priv, &in, &sig, &err), UPK_OK);
	assert_string_equal(in, json_string_value(json_object_get(c, "signature_input")));
	assert_string_equal(sig, json_string_value(json_object_get(c, "signature")));
	free(base);
	free(in);
	free(sig);
	free(want_base);
	upk_key_free(priv);
	json_decref(all);
}

static void test_rfc9421_b26_verify_published(void **state)
{
	struct fixture *f = *state;
	json_t *all = vectors(), *c = vector_case(all, "sig-b26");
	struct upk_httpsig_verified v;
	struct upk_error err = {0};

	b2_request(&f->t);
	add_field(&f->t, "Signature-Input", json_string_value(json_object_get(c, "signature_input")));
	add_field(&f->t, "Signature", json_string_value(json_object_get(c, "signature")));
	f->store.keys[2] = (struct keyent){"test-key-ed25519",
					   pem_key("vectors/rfc9421/test-key-ed25519.pub.pem")};
	f->store.nkeys = 3;
	/* The example predates our policy: no nonce, and no content-digest covered. */
	f->pol.now = 1618884473 + 60;
	f->pol.required_params = UPK_HTTPSIG_P_CREATED | UPK_HTTPSIG_P_KEYID;
	f->pol.require_content_digest = 0;
	if (verify(f, &v, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(v.label, "sig-b26");
	assert_string_equal(v.keyid, "test-key-ed25519");
	assert_int_equal(v.created, 1618884473);
	assert_true(v.expires == UPK_HTTPSIG_NO_TIME);
	assert_string_equal(v.nonce, "");
	assert_int_equal(v.ncomponents, 6);
	assert_string_equal(v.components[0], "date");
	assert_string_equal(v.components[5], "content-length");

	/* upkeep's own policy refuses it: no nonce, body not covered. */
	f->pol.required_params |= UPK_HTTPSIG_P_NONCE;
	expect(f, UPK_ERR_SIGNATURE, "required parameter \"nonce\" is missing");
	f->pol.required_params &= ~(unsigned)UPK_HTTPSIG_P_NONCE;
	f->pol.require_content_digest = 1;
	expect(f, UPK_ERR_SIGNATURE, "\"content-digest\" is not covered");
	f->pol.require_content_digest = 0;
	/* The same bytes with one header changed. */
	set_field(&f->t, "Content-Length", "19");
	expect(f, UPK_ERR_SIGNATURE, "does not verify");
	/* And the clock: the example is from 2021. */
	set_field(&f->t, "Content-Length", "18");
	f->pol.now = NOW;
	expect(f, UPK_ERR_EXPIRED, "before now");
	json_decref(all);
}

/* B.4: the "transform" example, GET /demo to example.org with Accept. */
static void test_rfc9421_b4_transform(void **state)
{
	static const char *const comps[] = {"@method", "@path", "@authority", "accept"};
	struct fixture *f = *state;
	struct upk_key *priv = pem_key("vectors/rfc9421/test-key-ed25519.pem");
	json_t *all = vectors(), *c = vector_case(all, "transform");
	struct upk_httpsig_sign_params sp = {
		.label = "transform",
		.components = comps,
		.ncomponents = 4,
		.created = 1618884473,
		.expires = UPK_HTTPSIG_NO_TIME,
		.keyid = "test-key-ed25519",
	};
	char *base = NULL, *in = NULL, *sig = NULL;

	memset(&f->t, 0, sizeof(f->t));
	f->t.req = (struct upk_http_request){.method = "GET", .scheme = "https",
					     .authority = "example.org", .path = "/demo",
					     .query = "name1=Value1&Name2=value2", .fields = f->t.fields};
	add_field(&f->t, "Accept", "application/json, */*");
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base, json_string_value(json_object_get(c, "base")));
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, priv, &in, &sig, NULL), UPK_OK);
	assert_string_equal(in, json_string_value(json_object_get(c, "signature_input")));
	assert_string_equal(sig, json_string_value(json_object_get(c, "signature")));
	free(base);
	free(in);
	free(sig);
	upk_key_free(priv);
	json_decref(all);
}

/* ---- round trips ---- */

static void test_sign_verify_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-0001");
	struct upk_httpsig_verified v;
	struct upk_error err = {0};
	char *base = NULL;

	sp.expires = NOW + 200;
	sp.tag = "upkeep-device";
	sign_into(&f->t, &sp, f->dev);
	assert_string_equal(find_field(&f->t, "Signature-Input")->value,
			    "sig1=(\"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" "
			    "\"content-digest\");created=1699999990;expires=1700000200;"
			    "keyid=\"device-1\";nonce=\"n-0001\";alg=\"ed25519\";tag=\"upkeep-device\"");
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base,
			    "\"@method\": POST\n"
			    "\"@path\": /v1/fleets/7/checkin\n"
			    "\"@query\": ?full=1\n"
			    "\"@authority\": updates.example\n"
			    "\"content-type\": application/json\n"
			    "\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
			    "\"@signature-params\": (\"@method\" \"@path\" \"@query\" \"@authority\" "
			    "\"content-type\" \"content-digest\");created=1699999990;expires=1700000200;"
			    "keyid=\"device-1\";nonce=\"n-0001\";alg=\"ed25519\";tag=\"upkeep-device\"");
	free(base);
	f->pol.tag = "upkeep-device";
	if (verify(f, &v, &err) != UPK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(v.label, "sig1");
	assert_string_equal(v.keyid, "device-1");
	assert_string_equal(v.nonce, "n-0001");
	assert_string_equal(v.tag, "upkeep-device");
	assert_int_equal(v.created, NOW - 10);
	assert_int_equal(v.expires, NOW + 200);
	assert_int_equal(v.ncomponents, 6);
	assert_string_equal(v.components[5], "content-digest");
	assert_int_equal(f->store.nonce_calls, 1);
}

static void test_derived_components(void **state)
{
	static const char *const comps[] = {"@target-uri", "@scheme", "@request-target",
					    "@authority", "@path", "@query"};
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n");
	char *base = NULL;

	sp.components = comps;
	sp.ncomponents = 6;
	sp.created = sp.expires = UPK_HTTPSIG_NO_TIME;
	sp.keyid = sp.nonce = sp.alg = NULL;
	f->t.req.scheme = "HTTPS";
	f->t.req.authority = "Updates.Example:8443";
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base, "\"@target-uri\": https://updates.example:8443/v1/fleets/7/checkin?full=1\n"
				  "\"@scheme\": https\n"
				  "\"@request-target\": /v1/fleets/7/checkin?full=1\n"
				  "\"@authority\": updates.example:8443\n"
				  "\"@path\": /v1/fleets/7/checkin\n"
				  "\"@query\": ?full=1\n"
				  "\"@signature-params\": (\"@target-uri\" \"@scheme\" "
				  "\"@request-target\" \"@authority\" \"@path\" \"@query\")");
	free(base);
	/* No query: "@query" is "?" alone (section 2.2.7); empty path is "/"; :80 on http dropped. */
	f->t.req.query = NULL;
	f->t.req.path = "";
	f->t.req.scheme = "http";
	f->t.req.authority = "h:80";
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base, "\"@target-uri\": http://h/\n"
				  "\"@scheme\": http\n"
				  "\"@request-target\": /\n"
				  "\"@authority\": h\n"
				  "\"@path\": /\n"
				  "\"@query\": ?\n"
				  "\"@signature-params\": (\"@target-uri\" \"@scheme\" "
				  "\"@request-target\" \"@authority\" \"@path\" \"@query\")");
	free(base);
	/* An empty query is still a query. */
	f->t.req.query = "";
	sp.components = &comps[5];
	sp.ncomponents = 1;
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base, "\"@query\": ?\n\"@signature-params\": (\"@query\")");
	free(base);
	/* Unknown scheme or authority: those components cannot be signed. */
	f->t.req.scheme = NULL;
	sp.components = &comps[0];
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_ERR_NOT_FOUND);
	f->t.req.authority = NULL;
	sp.components = &comps[3];
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_ERR_NOT_FOUND);
}

/* Section 2.1: lines of one field are trimmed and joined with ", ". */
static void test_field_combining(void **state)
{
	static const char *const comps[] = {"x-list", "x-empty"};
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-list");
	char *base = NULL;

	add_field(&f->t, "X-List", "  a, b \t");
	add_field(&f->t, "x-list", "c");
	add_field(&f->t, "X-Empty", "   ");
	sp.components = comps;
	sp.ncomponents = 2;
	sp.created = sp.expires = UPK_HTTPSIG_NO_TIME;
	sp.keyid = sp.nonce = sp.alg = NULL;
	assert_int_equal(upk_httpsig_base(&f->t.req, &sp, &base, NULL, NULL), UPK_OK);
	assert_string_equal(base, "\"x-list\": a, b, c\n\"x-empty\": \n"
				  "\"@signature-params\": (\"x-list\" \"x-empty\")");
	free(base);
	/* Signed and verified with those fields covered. */
	sp = sign_params("n-list");
	sp.components = comps;
	sp.ncomponents = 2;
	sign_into(&f->t, &sp, f->dev);
	f->pol.require_content_digest = 0;
	f->pol.nrequired = 0;
	expect(f, UPK_OK, NULL);
	set_field(&f->t, "X-List", "a,b");
	expect(f, UPK_ERR_SIGNATURE, NULL);
}

/* Signature-Input and Signature may hold other signatures, e.g. a proxy's. */
static void test_multiple_signatures(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-multi");
	char in[2048], sig[1024];

	sign_into(&f->t, &sp, f->dev);
	snprintf(in, sizeof(in), "proxy=(\"@method\");created=1, %s",
		 find_field(&f->t, "Signature-Input")->value);
	snprintf(sig, sizeof(sig), "%s,proxy=:%s:", find_field(&f->t, "Signature")->value,
		 ZERO64);
	set_field(&f->t, "Signature-Input", in);
	set_field(&f->t, "Signature", sig);
	/* Without a label the choice is ambiguous. */
	expect(f, UPK_ERR_INVALID, "exactly one signature");
	f->pol.label = "sig1";
	expect(f, UPK_OK, NULL);
	f->pol.label = "sig2";
	expect(f, UPK_ERR_SIGNATURE, "no signature labelled \"sig2\"");
	/* The same member split over two field lines (section 4.1, RFC 8941 3.2). */
	f->pol.label = "sig1";
	sp = sign_params("n-multi2");
	sign_into(&f->t, &sp, f->dev);
	{
		char sig1[1024];
		snprintf(sig1, sizeof(sig1), "%s", find_field(&f->t, "Signature")->value);
		set_field(&f->t, "Signature", "proxy=:" ZERO64 ":");
		add_field(&f->t, "signature", sig1);
	}
	expect(f, UPK_OK, NULL);
}

/* Section 3.2: whitespace the syntax allows does not change the base. */
static void test_whitespace_tolerated(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-ws");
	char in[2048], *p;

	sign_into(&f->t, &sp, f->dev);
	snprintf(in, sizeof(in), "  %s  ", find_field(&f->t, "Signature-Input")->value);
	/* "sig1=(" -> "sig1=(  " and each separating space doubled. */
	p = strstr(in, "(");
	memmove(p + 3, p + 1, strlen(p + 1) + 1);
	p[1] = ' ';
	p[2] = ' ';
	set_field(&f->t, "Signature-Input", in);
	expect(f, UPK_OK, NULL);
}

/* ---- refusals ---- */

static void test_tampered_components(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-t");
	uint8_t other_sha[32];
	char other_digest[UPK_CONTENT_DIGEST_LEN + 1];

	sign_into(&f->t, &sp, f->dev);
	f->pol.nonce_check = NULL; /* every variant below reuses the nonce */
	expect(f, UPK_OK, NULL);

	f->t.req.method = "PUT";
	expect(f, UPK_ERR_SIGNATURE, "does not verify");
	f->t.req.method = "post"; /* the method is case-sensitive */
	expect(f, UPK_ERR_SIGNATURE, "does not verify");
	f->t.req.method = "POST";

	f->t.req.path = "/v1/fleets/8/checkin";
	expect(f, UPK_ERR_SIGNATURE, "does not verify");
	f->t.req.path = "/v1/fleets/7/checkin";

	f->t.req.query = "full=0";
	expect(f, UPK_ERR_SIGNATURE, NULL);
	f->t.req.query = NULL;
	expect(f, UPK_ERR_SIGNATURE, NULL);
	f->t.req.query = "full=1";

	f->t.req.authority = "evil.example";
	expect(f, UPK_ERR_SIGNATURE, NULL);
	f->t.req.authority = "updates.example"; /* same after normalization */
	expect(f, UPK_OK, NULL);

	set_field(&f->t, "Content-Type", "text/plain");
	expect(f, UPK_ERR_SIGNATURE, NULL);
	set_field(&f->t, "Content-Type", "application/json");
	add_field(&f->t, "content-type", "text/plain"); /* a second line changes the value */
	expect(f, UPK_ERR_SIGNATURE, NULL);
	f->t.req.nfields--;
	expect(f, UPK_OK, NULL);

	/* Another body under the signed digest: the digest check catches it. */
	set_body(&f->t, "{\"hello\": \"mallory\"}");
	expect(f, UPK_ERR_HASH, "does not match the body");
	/* Another body with its own, matching digest: the signature catches it. */
	memcpy(other_sha, f->t.body_sha, 32);
	upk_content_digest_format(other_sha, other_digest);
	set_field(&f->t, "Content-Digest", other_digest);
	expect(f, UPK_ERR_SIGNATURE, "does not verify");

	/* A flipped signature bit. */
	set_body(&f->t, "{\"hello\": \"world\"}");
	set_field(&f->t, "Content-Digest", f->t.digest);
	expect(f, UPK_OK, NULL);
	{
		struct upk_http_field *s = find_field(&f->t, "Signature");
		char *v = f->t.owned[s - f->t.fields];
		v[10] = v[10] == 'A' ? 'B' : 'A';
	}
	expect(f, UPK_ERR_SIGNATURE, NULL);
}

static void test_missing_required(void **state)
{
	static const char *const no_path[] = {"@method", "@query", "content-digest"};
	static const char *const no_digest[] = {"@method", "@path"};
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-m1");

	sp.components = no_path;
	sp.ncomponents = 3;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_SIGNATURE, "required component \"@path\" is not covered");

	sp = sign_params("n-m2");
	sp.components = no_digest;
	sp.ncomponents = 2;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_SIGNATURE, "\"content-digest\" is not covered");
	/* Without a body the same signature is fine. */
	f->t.req.body_sha256 = NULL;
	expect(f, UPK_OK, NULL);
	f->t.req.body_sha256 = f->t.body_sha;

	sp = sign_params("n-m3");
	sp.created = UPK_HTTPSIG_NO_TIME;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_SIGNATURE, "required parameter \"created\" is missing");

	sp = sign_params(NULL);
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_SIGNATURE, "required parameter \"nonce\" is missing");

	sp = sign_params("n-m4");
	sp.keyid = NULL;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_SIGNATURE, "required parameter \"keyid\" is missing");
	f->pol.required_params &= ~(unsigned)UPK_HTTPSIG_P_KEYID;
	expect(f, UPK_ERR_SIGNATURE, "no keyid");

	sp = sign_params("n-m5");
	sign_into(&f->t, &sp, f->dev);
	f->pol.tag = "owner";
	expect(f, UPK_ERR_SIGNATURE, "tag \"(none)\" is not the expected \"owner\"");
	f->pol.tag = NULL;
	f->pol.required_params |= UPK_HTTPSIG_P_EXPIRES;
	expect(f, UPK_ERR_SIGNATURE, "\"expires\" is missing");
	f->pol.required_params = UPK_HTTPSIG_P_ALG;
	expect(f, UPK_OK, NULL);

	/* A covered field the request does not have. */
	{
		static const char *const with_date[] = {"@method", "@path", "content-digest",
							"date"};
		struct upk_error err = {0};
		char *in = NULL, *sig = NULL;
		sp = sign_params("n-m6");
		sp.components = with_date;
		sp.ncomponents = 4;
		assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err),
				 UPK_ERR_NOT_FOUND);
		assert_non_null(strstr(err.msg, "\"date\" is not in the request"));
		add_field(&f->t, "Date", "Tue, 14 Nov 2023 22:13:20 GMT");
		sign_into(&f->t, &sp, f->dev);
		expect(f, UPK_OK, NULL);
	}
	/* Missing fields: Signature and Signature-Input. */
	treq_init(&f->t);
	expect(f, UPK_ERR_SIGNATURE, "not signed: no Signature-Input");
	add_field(&f->t, "Signature-Input", "sig1=(\"@method\")");
	expect(f, UPK_ERR_SIGNATURE, "not signed: no Signature field");
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-k");

	/* device-2's key signs, claiming to be device-1. */
	sign_into(&f->t, &sp, f->other);
	expect(f, UPK_ERR_SIGNATURE, "does not verify with keyid \"device-1\"");
	assert_int_equal(f->store.nonce_calls, 0);
	sp.keyid = "device-9";
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_NOT_FOUND, "keyid \"device-9\": unknown key");
	/* A public key cannot sign. */
	{
		char *pem = NULL, *in = NULL, *sig = NULL;
		size_t len;
		struct upk_key *pub = NULL;
		assert_int_equal(upk_key_public_pem(f->dev, &pem, &len, NULL), UPK_OK);
		assert_int_equal(upk_key_from_pem(pem, len, NULL, &pub, NULL), UPK_OK);
		assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, pub, &in, &sig, NULL),
				 UPK_ERR_UNSUPPORTED);
		upk_key_free(pub);
		free(pem);
	}
}

static void test_clock(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-c1");

	f->pol.nonce_check = NULL;
	sp.created = NOW - 300;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_OK, NULL);
	sp.created = NOW - 301;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_EXPIRED, "more than 300 s before now");
	sp.created = NOW + 300;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_OK, NULL);
	sp.created = NOW + 301;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_EXPIRED, "more than 300 s after now");
	sp.created = NOW - 100;
	sp.expires = NOW - 301;
	{
		char *in = NULL, *sig = NULL;
		assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, NULL),
				 UPK_ERR_INVALID); /* expires before created */
	}
	sp.created = NOW - 299;
	sp.expires = NOW - 290;
	f->pol.max_skew = 0;
	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_ERR_EXPIRED, "expired at 1699999710");
	f->pol.max_skew = 290;
	expect(f, UPK_OK, NULL);
}

static void test_replay(void **state)
{
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp = sign_params("n-replay");

	sign_into(&f->t, &sp, f->dev);
	expect(f, UPK_OK, NULL);
	expect(f, UPK_ERR_REPLAY, "nonce \"n-replay\": replayed");
	/* A bad signature never reaches the nonce cache. */
	sp = sign_params("n-fresh");
	sign_into(&f->t, &sp, f->other);
	expect(f, UPK_ERR_SIGNATURE, NULL);
	assert_int_equal(f->store.nonce_calls, 2);
	assert_int_equal(f->store.nseen, 1);
	/* Generated nonces are 32 base64 characters and differ. */
	{
		char a[UPK_HTTPSIG_NONCE_LEN + 1], b[UPK_HTTPSIG_NONCE_LEN + 1];
		assert_int_equal(upk_httpsig_nonce(a, NULL), UPK_OK);
		assert_int_equal(upk_httpsig_nonce(b, NULL), UPK_OK);
		assert_int_equal(strlen(a), UPK_HTTPSIG_NONCE_LEN);
		assert_string_not_equal(a, b);
	}
}

struct bad {
	const char *input; /* Signature-Input value */
	const char *sig;   /* Signature value; NULL: a 64-byte dummy under sig1 */
	upk_status want;
	const char *msg;
};

#define SIG64 "sig1=:" ZERO64 ":"
#define OKP ";created=1700000000;keyid=\"device-1\";nonce=\"x\""
#define OKC "(\"@method\" \"@path\" \"content-digest\")"

static const struct bad BAD[] = {
	/* dictionary syntax (RFC 8941) */
	{"", NULL, UPK_ERR_INVALID, "found 0 inputs and 1 signatures"},
	{"sig1=" OKC OKP ",", NULL, UPK_ERR_INVALID, "trailing ','"},
	{"sig1=" OKC OKP " sig2=()", NULL, UPK_ERR_INVALID, "expected ',' between members"},
	{"Sig1=" OKC OKP, NULL, UPK_ERR_INVALID, "expected a key"},
	{"sig1=(\"@method\" \"@path\"" OKP, NULL, UPK_ERR_INVALID, "expected ' ' or ')'"},
	{"sig1=(\"@method\"\"@path\")" OKP, NULL, UPK_ERR_INVALID, "expected ' ' or ')'"},
	{"sig1=(\"@method\" \"@path\")created=1", NULL, UPK_ERR_INVALID, "expected ','"},
	{"sig1=(\"@meth\\od\")" OKP, NULL, UPK_ERR_INVALID, "after '\\'"},
	{"sig1=(\"@method\x01\")" OKP, NULL, UPK_ERR_INVALID, "control byte 0x01"},
	{"sig1=(\"@method\x80\")" OKP, NULL, UPK_ERR_INVALID, "found byte 0x80"},
	{"sig1=(\"@method)", NULL, UPK_ERR_INVALID, "string not closed"},
	{"sig1=" OKC ";created=1700000000;created=1700000001;keyid=\"device-1\"", NULL,
	 UPK_ERR_INVALID, "parameter \"created\" repeated"},
	{"sig1=" OKC OKP ", sig1=" OKC OKP, NULL, UPK_ERR_INVALID, "member \"sig1\" repeated"},
	{"sig1=" OKC ";created=1234567890123456" ";keyid=\"device-1\";nonce=\"x\"", NULL,
	 UPK_ERR_INVALID, "number too long"},
	{"sig1=" OKC ";created=?2" ";keyid=\"device-1\"", NULL, UPK_ERR_INVALID, "'0' or '1'"},
	{"sig1=" OKC ";created=1.", NULL, UPK_ERR_INVALID, "decimal ends with '.'"},
	/* RFC 9421 structure */
	{"sig1=\"@method\"" OKP, NULL, UPK_ERR_INVALID, "not an inner list"},
	{"sig1=" OKC OKP, "sig1=(\"a\")", UPK_ERR_INVALID, "not a byte sequence"},
	{"sig1=" OKC OKP, "sig1=:AAAA:;x=1", UPK_ERR_INVALID, "not a byte sequence"},
	{"sig1=" OKC OKP, "sig1=:AAAA:", UPK_ERR_SIGNATURE, "is 3 bytes"},
	{"sig1=" OKC OKP, "sig1=:AAB=:", UPK_ERR_INVALID, "canonical"},
	{"sig1=" OKC OKP, "sig1=:AA A=:", UPK_ERR_INVALID, "canonical"},
	{"sig1=" OKC OKP, "sig1=:AAA:", UPK_ERR_INVALID, "canonical"},
	{"sig1=" OKC OKP, "sig1=:AAAA", UPK_ERR_INVALID, "not closed"},
	{"sig1=" OKC OKP, "sig2=:AAAA:", UPK_ERR_SIGNATURE, "no signature labelled \"sig1\" in Signature"},
	{"sig1=" OKC OKP, "sig1=:AAAA:, sig1=:AAAA:", UPK_ERR_INVALID, "repeated"},
	{"sig1=(@method \"@path\" \"content-digest\")" OKP, NULL, UPK_ERR_INVALID, "found '@'"},
	{"sig1=(date \"@path\" \"content-digest\")" OKP, NULL, UPK_ERR_INVALID,
	 "not a quoted string"},
	{"sig1=(\"@method\" \"@path\" \"@method\" \"content-digest\")" OKP, NULL, UPK_ERR_INVALID,
	 "\"@method\" listed twice"},
	{"sig1=(\"@method\" \"@path\" \"Content-Digest\")" OKP, NULL, UPK_ERR_INVALID,
	 "not a lower-case field name"},
	{"sig1=(\"@method\" \"@path\" \"content digest\")" OKP, NULL, UPK_ERR_INVALID,
	 "not a lower-case field name"},
	{"sig1=(\"@method\" \"@path\" \"\")" OKP, NULL, UPK_ERR_INVALID, "is empty"},
	{"sig1=(\"@method\" \"@path\" \"content-digest\";sf)" OKP, NULL, UPK_ERR_UNSUPPORTED,
	 "parameter \"sf\" not supported"},
	{"sig1=(\"@method\" \"@path\" \"@status\" \"content-digest\")" OKP, NULL,
	 UPK_ERR_UNSUPPORTED, "\"@status\" not supported"},
	{"sig1=(\"@method\" \"@path\" \"@signature-params\")" OKP, NULL, UPK_ERR_INVALID,
	 "cannot be a covered component"},
	{"sig1=" OKC OKP ";alg=\"rsa-pss-sha512\"", NULL, UPK_ERR_UNSUPPORTED,
	 "only \"ed25519\""},
	{"sig1=" OKC OKP ";foo=1", NULL, UPK_ERR_UNSUPPORTED, "\"foo\" not supported"},
	{"sig1=" OKC ";created=-5;keyid=\"device-1\";nonce=\"x\"", NULL, UPK_ERR_INVALID,
	 "not a non-negative integer"},
	{"sig1=" OKC ";created=1700000000.5;keyid=\"device-1\";nonce=\"x\"", NULL, UPK_ERR_INVALID,
	 "not a non-negative integer"},
	{"sig1=" OKC ";created=\"1700000000\";keyid=\"device-1\";nonce=\"x\"", NULL,
	 UPK_ERR_INVALID, "not a non-negative integer"},
	{"sig1=" OKC ";created=1700000000;keyid=device-1;nonce=\"x\"", NULL, UPK_ERR_INVALID,
	 "\"keyid\" is not a string"},
	{"sig1=" OKC ";created=1700000000;keyid=\"\";nonce=\"x\"", NULL, UPK_ERR_INVALID,
	 "allowed 1 to"},
	{"sig1=" OKC ";created=1700000000;keyid=\"device-1\";nonce=:AAAA:", NULL, UPK_ERR_INVALID,
	 "\"nonce\" is not a string"},
	{"sig1=" OKC OKP ";expires=1699999999", NULL, UPK_ERR_INVALID, "before created"},
	{"sig1=" OKC OKP ";tag", NULL, UPK_ERR_INVALID, "\"tag\" is not a string"},
};

static void test_malformed_fields(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		struct upk_error err = {0};
		upk_status got;

		treq_init(&f->t);
		add_field(&f->t, "Signature-Input", BAD[i].input);
		add_field(&f->t, "Signature", BAD[i].sig ? BAD[i].sig : SIG64);
		got = verify(f, NULL, &err);
		if (got != BAD[i].want || (BAD[i].msg && strstr(err.msg, BAD[i].msg) == NULL))
			fail_msg("case %zu [%s | %s]: want %s \"%s\", got %s: %s", i, BAD[i].input,
				 BAD[i].sig ? BAD[i].sig : "SIG64", upk_status_str(BAD[i].want),
				 BAD[i].msg ? BAD[i].msg : "", upk_status_str(got), err.msg);
		assert_int_equal(f->store.lookups, 0); /* nothing malformed reaches the key store */
	}
}

static void test_oversize(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(UPK_HTTPSIG_MAX_FIELD + 2);
	char comps[4096];
	size_t o = 0;

	assert_non_null(big);
	/* One field over the limit. */
	memset(big, 'a', UPK_HTTPSIG_MAX_FIELD + 1);
	big[UPK_HTTPSIG_MAX_FIELD + 1] = '\0';
	memcpy(big, "sig1=\"", 6);
	big[UPK_HTTPSIG_MAX_FIELD] = '"';
	add_field(&f->t, "Signature-Input", big);
	add_field(&f->t, "Signature", SIG64);
	expect(f, UPK_ERR_TOO_LARGE, "more than 8192 bytes");
	/* Under the limit per line, over it once lines are joined. */
	treq_init(&f->t);
	big[UPK_HTTPSIG_MAX_FIELD / 2] = '\0';
	add_field(&f->t, "Signature-Input", big);
	add_field(&f->t, "Signature-Input", big);
	add_field(&f->t, "Signature", SIG64);
	expect(f, UPK_ERR_TOO_LARGE, NULL);
	free(big);
	/* Too many members. */
	treq_init(&f->t);
	o = 0;
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(comps + o, sizeof(comps) - o, "%ss%d=()", i ? "," : "", i);
	add_field(&f->t, "Signature-Input", comps);
	add_field(&f->t, "Signature", SIG64);
	expect(f, UPK_ERR_TOO_LARGE, "more than 16 members");
	/* Too many components. */
	treq_init(&f->t);
	o = (size_t)snprintf(comps, sizeof(comps), "sig1=(");
	for (int i = 0; i < 33; i++)
		o += (size_t)snprintf(comps + o, sizeof(comps) - o, "%s\"x-h%d\"", i ? " " : "", i);
	snprintf(comps + o, sizeof(comps) - o, ")" OKP);
	add_field(&f->t, "Signature-Input", comps);
	add_field(&f->t, "Signature", SIG64);
	expect(f, UPK_ERR_TOO_LARGE, "more than 32 items");
	/* A key over 64 characters. */
	treq_init(&f->t);
	add_field(&f->t, "Signature-Input",
		  "s123456789012345678901234567890123456789012345678901234567890123456789=()");
	add_field(&f->t, "Signature", SIG64);
	expect(f, UPK_ERR_TOO_LARGE, "key longer than 64");
	/* A keyid over the limit. */
	treq_init(&f->t);
	{
		char in[1024];
		char id[UPK_HTTPSIG_MAX_KEYID + 2];
		memset(id, 'k', sizeof(id) - 1);
		id[sizeof(id) - 1] = '\0';
		snprintf(in, sizeof(in), "sig1=" OKC ";created=1700000000;keyid=\"%s\";nonce=\"x\"",
			 id);
		add_field(&f->t, "Signature-Input", in);
		add_field(&f->t, "Signature", SIG64);
		expect(f, UPK_ERR_INVALID, "\"keyid\" is 257 characters");
	}
	/* A covered header value with a control byte cannot be signed or verified. */
	treq_init(&f->t);
	{
		static const char *const comps2[] = {"@method", "@path", "content-digest",
						     "x-bad"};
		struct upk_httpsig_sign_params sp = sign_params("n-o");
		char *in = NULL, *sig = NULL;
		add_field(&f->t, "X-Bad", "a\r\nInjected: yes");
		sp.components = comps2;
		sp.ncomponents = 4;
		assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, NULL),
				 UPK_ERR_INVALID);
	}
}

static void test_sign_misuse(void **state)
{
	static const char *const dup[] = {"@method", "@method"};
	static const char *const bad[] = {"@method", "@bogus"};
	static const char *const upper[] = {"Content-Type"};
	struct fixture *f = *state;
	struct upk_httpsig_sign_params sp;
	struct upk_error err = {0};
	char *in = NULL, *sig = NULL;

	sp = sign_params("n");
	sp.label = "Sig";
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err), UPK_ERR_INVALID);
	sp = sign_params("n");
	sp.components = dup;
	sp.ncomponents = 2;
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "listed twice"));
	sp.components = bad;
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err),
			 UPK_ERR_UNSUPPORTED);
	sp.components = upper;
	sp.ncomponents = 1;
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err), UPK_ERR_INVALID);
	sp = sign_params("bad\"nonce\x7f");
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err), UPK_ERR_INVALID);
	sp = sign_params("n");
	sp.alg = "hmac-sha256";
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err),
			 UPK_ERR_UNSUPPORTED);
	sp = sign_params("n");
	sp.created = -1;
	assert_int_equal(upk_httpsig_sign(&f->t.req, &sp, f->dev, &in, &sig, &err), UPK_ERR_INVALID);
	/* Strings with quotes and backslashes are escaped in the field (RFC 8941 4.1.6). */
	sp = sign_params("a\"b\\c");
	sign_into(&f->t, &sp, f->dev);
	assert_non_null(strstr(find_field(&f->t, "Signature-Input")->value,
			       "nonce=\"a\\\"b\\\\c\""));
	expect(f, UPK_OK, NULL);
	assert_string_equal(f->store.seen[0], "a\"b\\c");
}

/* ---- interop with http-message-signatures (driven by test_httpsig_npm.sh) ---- */

struct jreq {
	struct treq t;
	char *strs[32];
	size_t nstrs;
};

static const char *keep(struct jreq *j, const char *s)
{
	if (s == NULL)
		return NULL;
	assert_true(j->nstrs < 32);
	j->strs[j->nstrs] = strdup(s);
	return j->strs[j->nstrs++];
}

static void jreq_free(struct jreq *j)
{
	for (size_t i = 0; i < j->nstrs; i++)
		free(j->strs[i]);
}

/* {method, scheme, authority, path, query|null, body_b64|null, headers: [[n, v], ...]} */
static void jreq_load(struct jreq *j, json_t *c)
{
	json_t *h, *body = json_object_get(c, "body_b64");
	size_t i;

	memset(j, 0, sizeof(*j));
	j->t.req.method = keep(j, json_string_value(json_object_get(c, "method")));
	j->t.req.scheme = keep(j, json_string_value(json_object_get(c, "scheme")));
	j->t.req.authority = keep(j, json_string_value(json_object_get(c, "authority")));
	j->t.req.path = keep(j, json_string_value(json_object_get(c, "path")));
	j->t.req.query = keep(j, json_string_value(json_object_get(c, "query")));
	j->t.req.fields = j->t.fields;
	json_array_foreach(json_object_get(c, "headers"), i, h)
	{
		add_field(&j->t, keep(j, json_string_value(json_array_get(h, 0))),
			  json_string_value(json_array_get(h, 1)));
	}
	if (json_is_string(body)) {
		const char *b64 = json_string_value(body);
		size_t len = strlen(b64), n = 0;
		uint8_t *raw = malloc(len / 4 * 3 + 1);
		assert_non_null(raw);
		assert_int_equal(base64_decode(b64, len, raw, &n), 0);
		assert_int_equal(upk_hash_buf(UPK_HASH_SHA256, n ? raw : (uint8_t *)"", n,
					      j->t.body_sha, NULL),
				 UPK_OK);
		j->t.req.body_sha256 = j->t.body_sha;
		free(raw);
	}
}

static json_t *load_json(const char *path)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);

	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return j;
}

/* Verify what http-message-signatures signed: npm-signed.json from httpsig_npm.mjs sign. */
static void test_npm_signed_verify(void **state)
{
	char path[4096];
	json_t *doc, *c;
	struct store store = {0};
	struct upk_httpsig_policy pol;
	const char *pem;
	size_t i, checked = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/npm-signed.json", getenv("UPK_HTTPSIG_NPM_DIR"));
	doc = load_json(path);
	pem = json_string_value(json_object_get(doc, "public_key_pem"));
	assert_non_null(pem);
	assert_int_equal(upk_key_from_pem(pem, strlen(pem), NULL, &store.keys[0].key, NULL),
			 UPK_OK);
	store.keys[0].keyid = json_string_value(json_object_get(doc, "keyid"));
	store.nkeys = 1;
	upk_httpsig_policy_default(&pol, json_integer_value(json_object_get(doc, "now")));
	pol.key_lookup = lookup;
	pol.nonce_check = nonce_once;
	pol.ctx = &store;
	pol.label = "sig1";
	json_array_foreach(json_object_get(doc, "cases"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *want = json_string_value(json_object_get(c, "expect"));
		struct upk_httpsig_verified v;
		struct upk_error err = {0};
		struct jreq j;
		upk_status got;

		jreq_load(&j, c);
		got = upk_httpsig_verify(&j.t.req, &pol, &v, &err);
		printf("  npm -> upkeep: %-22s %s%s%s\n", name, upk_status_str(got),
		       got ? ": " : "", got ? err.msg : "");
		if (strcmp(upk_status_str(got), want) != 0)
			fail_msg("%s: want %s, got %s: %s", name, want, upk_status_str(got),
				 err.msg);
		if (got == UPK_OK) {
			assert_string_equal(v.keyid, store.keys[0].keyid);
			/* Replaying the very same request is refused by the nonce cache. */
			got = upk_httpsig_verify(&j.t.req, &pol, &v, &err);
			assert_int_equal(got, UPK_ERR_REPLAY);
		}
		jreq_free(&j);
		checked++;
	}
	assert_true(checked >= 5);
	store_free(&store);
	json_decref(doc);
}

static json_t *req_json(const struct treq *t, const char *name, const char *body,
			const char *expect_)
{
	json_t *c = json_object(), *hs = json_array();

	json_object_set_new(c, "name", json_string(name));
	json_object_set_new(c, "expect", json_string(expect_));
	json_object_set_new(c, "method", json_string(t->req.method));
	json_object_set_new(c, "scheme", json_string(t->req.scheme));
	json_object_set_new(c, "authority", json_string(t->req.authority));
	json_object_set_new(c, "path", json_string(t->req.path));
	json_object_set_new(c, "query", t->req.query ? json_string(t->req.query) : json_null());
	if (body != NULL) {
		char *b64 = malloc(BASE64_ENCODED_LEN(strlen(body)) + 1);
		assert_non_null(b64);
		base64_encode((const uint8_t *)body, strlen(body), b64);
		json_object_set_new(c, "body_b64", json_string(b64));
		free(b64);
	}
	for (size_t i = 0; i < t->req.nfields; i++)
		json_array_append_new(hs, json_pack("[ss]", t->fields[i].name, t->fields[i].value));
	json_object_set_new(c, "headers", hs);
	return c;
}

/* Sign requests for http-message-signatures to verify: writes upkeep-signed.json. */
static void test_upkeep_signed_write(void **state)
{
	static const char *const get_comps[] = {"@method", "@target-uri", "@authority", "@path",
						"@query", "accept", "x-upkeep-list"};
	struct upk_key *key = gen_key();
	const char *now_s = getenv("UPK_HTTPSIG_NOW");
	int64_t now = now_s ? strtoll(now_s, NULL, 10) : 0;
	json_t *doc = json_object(), *cases = json_array();
	char path[4096], *pem = NULL, nonce[UPK_HTTPSIG_NONCE_LEN + 1];
	size_t pem_len;
	struct treq *t = calloc(1, sizeof(*t));
	struct upk_httpsig_sign_params sp;
	const char *body = "{\"device\": \"pi-7\", \"installed\": {\"image\": \"1.4.2\"}}";

	(void)state;
	assert_non_null(t);
	assert_true(now > 0);
	assert_int_equal(upk_key_public_pem(key, &pem, &pem_len, NULL), UPK_OK);
	json_object_set_new(doc, "public_key_pem", json_string(pem));
	json_object_set_new(doc, "keyid", json_string("upkeep-device-1"));

	/* 1. POST with a body: the server's components, every parameter. */
	treq_init(t);
	t->req.authority = "updates.example:8443";
	set_body(t, body);
	upk_content_digest_format(t->body_sha, t->digest);
	set_field(t, "Content-Digest", t->digest);
	assert_int_equal(upk_httpsig_nonce(nonce, NULL), UPK_OK);
	sp = sign_params(nonce);
	sp.keyid = "upkeep-device-1";
	sp.created = now - 5;
	sp.expires = now + 300;
	sp.tag = "upkeep";
	sign_into(t, &sp, key);
	json_array_append_new(cases, req_json(t, "post-checkin", body, "ok"));
	/* The same, tampered after signing: the path, then the digest and body. */
	t->req.path = "/v1/fleets/8/checkin";
	json_array_append_new(cases, req_json(t, "post-tampered-path", body, "fail"));
	t->req.path = "/v1/fleets/7/checkin";
	set_field(t, "Content-Type", "text/plain");
	json_array_append_new(cases, req_json(t, "post-tampered-header", body, "fail"));
	set_field(t, "Content-Type", "application/json");
	json_array_append_new(cases, req_json(t, "post-tampered-body", "{\"device\": \"pi-8\"}",
					      "fail"));

	/* 2. GET without a body, with derived components and a multi-line field. */
	memset(t, 0, sizeof(*t));
	t->req = (struct upk_http_request){.method = "GET", .scheme = "https",
					   .authority = "updates.example", .path = "/v1/director/pi-7/targets.json",
					   .query = "v=3&x=a%20b", .fields = t->fields};
	add_field(t, "Accept", "application/json");
	add_field(t, "X-Upkeep-List", "a, b");
	add_field(t, "X-Upkeep-List", "c");
	assert_int_equal(upk_httpsig_nonce(nonce, NULL), UPK_OK);
	sp = sign_params(nonce);
	sp.keyid = "upkeep-device-1";
	sp.components = get_comps;
	sp.ncomponents = sizeof(get_comps) / sizeof(get_comps[0]);
	sp.created = now - 5;
	sp.alg = NULL;
	sign_into(t, &sp, key);
	json_array_append_new(cases, req_json(t, "get-derived", NULL, "ok"));
	t->req.query = "v=4&x=a%20b";
	json_array_append_new(cases, req_json(t, "get-tampered-query", NULL, "fail"));

	/* 3. The smallest signature the server accepts, signed by another key. */
	{
		struct upk_key *other = gen_key();
		static const char *const min_comps[] = {"@method", "@path"};
		memset(t, 0, sizeof(*t));
		t->req = (struct upk_http_request){.method = "DELETE", .scheme = "https",
						   .authority = "updates.example", .path = "/v1/x",
						   .fields = t->fields};
		sp = sign_params("wrong-key");
		sp.keyid = "upkeep-device-1";
		sp.components = min_comps;
		sp.ncomponents = 2;
		sp.created = now - 5;
		sign_into(t, &sp, other);
		json_array_append_new(cases, req_json(t, "delete-wrong-key", NULL, "fail"));
		sign_into(t, &sp, key);
		json_array_append_new(cases, req_json(t, "delete-minimal", NULL, "ok"));
		upk_key_free(other);
	}

	json_object_set_new(doc, "cases", cases);
	snprintf(path, sizeof(path), "%s/upkeep-signed.json", getenv("UPK_HTTPSIG_NPM_DIR"));
	assert_int_equal(json_dump_file(doc, path, JSON_INDENT(1)), 0);
	json_decref(doc);
	free(pem);
	free(t);
	upk_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc9421_b26_base_and_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_b26_verify_published, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_b4_transform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_components, setup, teardown),
		cmocka_unit_test_setup_teardown(test_field_combining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiple_signatures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whitespace_tolerated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_components, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_misuse, setup, teardown),
	};
	const struct CMUnitTest interop[] = {
		cmocka_unit_test(test_npm_signed_verify),
		cmocka_unit_test(test_upkeep_signed_write),
	};

	/* The interop half needs files made by node; the shell script provides them. */
	if (getenv("UPK_HTTPSIG_NPM_DIR") != NULL)
		return cmocka_run_group_tests_name("httpsig-npm", interop, NULL, NULL);
	return cmocka_run_group_tests_name("httpsig", tests, NULL, NULL);
}
