/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 9421 section 3.2: verifying an ed25519 request signature under a
 * policy (required components and parameters, clock window, replay check).
 * Everything cheap and structural is checked before the key is looked up or
 * any signature math is done, and the nonce is recorded only after the
 * signature verified, so forged requests cannot fill the caller's cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpsig_internal.h"

void upk_httpsig_policy_default(struct upk_httpsig_policy *policy, int64_t now)
{
	static const char *const REQUIRED[] = {"@method", "@path"};

	memset(policy, 0, sizeof(*policy));
	policy->required_components = REQUIRED;
	policy->nrequired = sizeof(REQUIRED) / sizeof(REQUIRED[0]);
	policy->require_content_digest = 1;
	policy->required_params = UPK_HTTPSIG_P_CREATED | UPK_HTTPSIG_P_KEYID | UPK_HTTPSIG_P_NONCE;
	policy->now = now;
	policy->max_age = 300;
	policy->max_skew = 300;
}

/* The signature parameters as RFC 9421 section 2.3 defines them, typed. */
struct sig_params {
	int64_t created, expires;
	const char *keyid, *nonce, *alg, *tag; /* borrowed from the parsed dictionary */
	unsigned present;                      /* UPK_HTTPSIG_P_* */
};

static upk_status param_string(const struct sfv_param *p, size_t max, const char **out,
			       struct upk_error *err)
{
	if (p->value.type != SFV_STRING)
		return upk_error_set(err, UPK_ERR_INVALID, "parameter \"%s\" is not a string",
				     p->key);
	if (p->value.len == 0 || p->value.len > max)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "parameter \"%s\" is %zu characters, allowed 1 to %zu", p->key,
				     p->value.len, max);
	*out = (const char *)p->value.data;
	return UPK_OK;
}

static upk_status param_time(const struct sfv_param *p, int64_t *out, struct upk_error *err)
{
	if (p->value.type != SFV_INTEGER || p->value.num < 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "parameter \"%s\" is not a non-negative integer", p->key);
	*out = p->value.num;
	return UPK_OK;
}

static upk_status read_params(const struct sfv_params *ps, struct sig_params *sp,
			      struct upk_error *err)
{
	upk_status ret = UPK_OK;

	sp->created = sp->expires = UPK_HTTPSIG_NO_TIME;
	for (size_t i = 0; i < ps->n && ret == UPK_OK; i++) {
		const struct sfv_param *p = &ps->v[i];

		if (strcmp(p->key, "created") == 0) {
			ret = param_time(p, &sp->created, err);
			sp->present |= UPK_HTTPSIG_P_CREATED;
		} else if (strcmp(p->key, "expires") == 0) {
			ret = param_time(p, &sp->expires, err);
			sp->present |= UPK_HTTPSIG_P_EXPIRES;
		} else if (strcmp(p->key, "keyid") == 0) {
			ret = param_string(p, UPK_HTTPSIG_MAX_KEYID, &sp->keyid, err);
			sp->present |= UPK_HTTPSIG_P_KEYID;
		} else if (strcmp(p->key, "nonce") == 0) {
			ret = param_string(p, UPK_HTTPSIG_MAX_NONCE, &sp->nonce, err);
			sp->present |= UPK_HTTPSIG_P_NONCE;
		} else if (strcmp(p->key, "alg") == 0) {
			ret = param_string(p, 32, &sp->alg, err);
			sp->present |= UPK_HTTPSIG_P_ALG;
		} else if (strcmp(p->key, "tag") == 0) {
			ret = param_string(p, UPK_HTTPSIG_MAX_TAG, &sp->tag, err);
			sp->present |= UPK_HTTPSIG_P_TAG;
		} else {
			/*
			 * Section 2.3 lets a registry add parameters; one we do not know
			 * might restrict the signature in a way we would not enforce.
			 */
			ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
					    "signature parameter \"%s\" not supported", p->key);
		}
	}
	if (ret != UPK_OK)
		return ret;
	/* Section 3.3.7: the algorithm is fixed by the key; a stated one must agree. */
	if (sp->alg != NULL && strcmp(sp->alg, "ed25519") != 0)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "alg \"%s\": only \"ed25519\" is supported", sp->alg);
	if (sp->created != UPK_HTTPSIG_NO_TIME && sp->expires != UPK_HTTPSIG_NO_TIME &&
	    sp->expires < sp->created)
		return upk_error_set(err, UPK_ERR_INVALID, "expires %lld is before created %lld",
				     (long long)sp->expires, (long long)sp->created);
	return UPK_OK;
}

static const char *const PARAM_NAMES[] = {"created", "expires", "keyid", "nonce", "alg", "tag"};

static upk_status check_policy(const struct upk_http_request *req,
			       const struct upk_httpsig_policy *pol, const struct sig_params *sp,
			       char names[][UPK_HTTPSIG_MAX_NAME + 1], size_t n,
			       struct upk_error *err)
{
	unsigned missing = pol->required_params & ~sp->present;
	int has_digest = 0;

	for (size_t b = 0; b < sizeof(PARAM_NAMES) / sizeof(PARAM_NAMES[0]); b++) {
		if (missing & (1u << b))
			return upk_error_set(err, UPK_ERR_SIGNATURE,
					     "required parameter \"%s\" is missing",
					     PARAM_NAMES[b]);
	}
	if (pol->tag != NULL && (sp->tag == NULL || strcmp(sp->tag, pol->tag) != 0))
		return upk_error_set(err, UPK_ERR_SIGNATURE,
				     "tag \"%s\" is not the expected \"%s\"",
				     sp->tag ? sp->tag : "(none)", pol->tag);
	for (size_t r = 0; r < pol->nrequired; r++) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(names[i], pol->required_components[r]) == 0)
				break;
		if (i == n)
			return upk_error_set(err, UPK_ERR_SIGNATURE,
					     "required component \"%s\" is not covered",
					     pol->required_components[r]);
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "content-digest") == 0)
			has_digest = 1;
	/* Without this a signature over method and path would accept any body. */
	if (pol->require_content_digest && req->body_sha256 != NULL && !has_digest)
		return upk_error_set(err, UPK_ERR_SIGNATURE,
				     "request has a body but \"content-digest\" is not covered");
	/*
	 * Clock (sections 3.3.4 and 7.2.2): a signature created too long ago is
	 * stale whatever its expires says; one from the future beyond the skew
	 * means a wrong clock or a pre-made signature to be used later.
	 */
	if (sp->created != UPK_HTTPSIG_NO_TIME) {
		if (sp->created < pol->now - pol->max_age)
			return upk_error_set(err, UPK_ERR_EXPIRED,
					     "created %lld is more than %lld s before now %lld",
					     (long long)sp->created, (long long)pol->max_age,
					     (long long)pol->now);
		if (sp->created > pol->now + pol->max_skew)
			return upk_error_set(err, UPK_ERR_EXPIRED,
					     "created %lld is more than %lld s after now %lld",
					     (long long)sp->created, (long long)pol->max_skew,
					     (long long)pol->now);
	}
	if (sp->expires != UPK_HTTPSIG_NO_TIME && sp->expires < pol->now - pol->max_skew)
		return upk_error_set(err, UPK_ERR_EXPIRED, "expired at %lld, now %lld",
				     (long long)sp->expires, (long long)pol->now);
	return UPK_OK;
}

/* Signature-Input and Signature, parsed; the chosen label's members. */
struct parsed {
	struct sfv_dict input, sigs;
	const struct sfv_member *in, *sig;
};

static upk_status parse_fields(const struct upk_http_request *req, const char *label,
			       struct parsed *p, struct upk_error *err)
{
	char *v = NULL;
	size_t len = 0;
	upk_status ret;

	ret = httpsig_field(req, "signature-input", &v, &len, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "request is not signed: no Signature-Input field");
		goto out;
	}
	if (ret == UPK_OK)
		ret = sfv_parse_dict(v, len, &p->input, err);
	if (ret != UPK_OK) {
		ret = upk_error_prefix(err, ret, "Signature-Input: ");
		goto out;
	}
	free(v);
	v = NULL;
	ret = httpsig_field(req, "signature", &v, &len, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "request is not signed: no Signature field");
		goto out;
	}
	if (ret == UPK_OK)
		ret = sfv_parse_dict(v, len, &p->sigs, err);
	if (ret != UPK_OK) {
		ret = upk_error_prefix(err, ret, "Signature: ");
		goto out;
	}
	if (label == NULL) {
		/*
		 * Without a label to look for, several signatures would leave it to
		 * us to pick one; refuse rather than guess which one the caller meant.
		 */
		if (p->input.n != 1 || p->sigs.n != 1) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "expected exactly one signature, found %zu inputs and "
					    "%zu signatures",
					    p->input.n, p->sigs.n);
			goto out;
		}
		label = p->input.v[0].key;
	}
	p->in = sfv_dict_get(&p->input, label);
	p->sig = sfv_dict_get(&p->sigs, label);
	if (p->in == NULL || p->sig == NULL) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "no signature labelled \"%.64s\" in %s", label,
				    p->in == NULL ? "Signature-Input" : "Signature");
		goto out;
	}
	if (!p->in->inner) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "Signature-Input \"%s\" is not an inner list", label);
		goto out;
	}
	if (p->sig->inner || p->sig->item.bare.type != SFV_BYTES || p->sig->item.params.n != 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "Signature \"%s\" is not a byte sequence without parameters",
				    label);
		goto out;
	}
	if (p->sig->item.bare.len != 64) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "Signature \"%s\" is %zu bytes, an ed25519 signature is 64",
				    label, p->sig->item.bare.len);
		goto out;
	}
	ret = UPK_OK;
out:
	free(v);
	return ret;
}

upk_status upk_httpsig_verify(const struct upk_http_request *req,
			      const struct upk_httpsig_policy *policy,
			      struct upk_httpsig_verified *out, struct upk_error *err)
{
	char names[UPK_HTTPSIG_MAX_COMPONENTS][UPK_HTTPSIG_MAX_NAME + 1];
	struct parsed p = {0};
	struct sig_params sp = {0};
	const struct upk_key *key = NULL;
	char *base = NULL, *digest = NULL;
	size_t base_len = 0, digest_len = 0, n = 0;
	const char *label = NULL;
	upk_status ret;

	ret = parse_fields(req, policy->label, &p, err);
	if (ret != UPK_OK)
		goto fail;
	label = p.in->key;
	n = p.in->nitems;
	if (n > UPK_HTTPSIG_MAX_COMPONENTS) {
		ret = upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu covered components, limit %d", n,
				    UPK_HTTPSIG_MAX_COMPONENTS);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		ret = httpsig_check_component(&p.in->items[i], names[i], err);
		if (ret != UPK_OK)
			goto fail;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[k], names[i]) == 0) {
				ret = upk_error_set(err, UPK_ERR_INVALID,
						    "covered component \"%s\" listed twice",
						    names[i]);
				goto fail;
			}
		}
	}
	ret = read_params(&p.in->params, &sp, err);
	if (ret == UPK_OK)
		ret = check_policy(req, policy, &sp, names, n, err);
	if (ret != UPK_OK)
		goto fail;
	/* RFC 9530: the covered digest is only worth something if it matches the body. */
	for (size_t i = 0; i < n && req->body_sha256 != NULL; i++) {
		if (strcmp(names[i], "content-digest") != 0)
			continue;
		ret = httpsig_field(req, "content-digest", &digest, &digest_len, err);
		if (ret == UPK_OK)
			ret = upk_content_digest_check(digest, req->body_sha256, err);
		if (ret != UPK_OK)
			goto fail;
	}
	if (sp.keyid == NULL) {
		ret = upk_error_set(err, UPK_ERR_SIGNATURE, "no keyid: cannot choose a key");
		goto fail;
	}
	if (policy->key_lookup == NULL) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "policy has no key_lookup callback");
		goto fail;
	}
	ret = policy->key_lookup(policy->ctx, sp.keyid, sp.alg, &key, err);
	if (ret == UPK_OK && key == NULL)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND, "no key returned");
	if (ret != UPK_OK) {
		ret = upk_error_prefix(err, ret, "keyid \"%s\": ", sp.keyid);
		goto fail;
	}
	if (upk_key_type(key) != UPK_KEY_ED25519) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED, "keyid \"%s\" is not an Ed25519 key",
				    sp.keyid);
		goto fail;
	}
	/*
	 * Section 3.2 step 7: "@signature-params" is our serialization of the
	 * parsed parameters, never the received bytes, so the signer and we agree
	 * on one canonical form and whitespace games change nothing.
	 */
	ret = httpsig_build_base(req, p.in->items, n, &p.in->params, &base, &base_len, err);
	if (ret != UPK_OK)
		goto fail;
	ret = upk_key_verify(key, base, base_len, p.sig->item.bare.data, p.sig->item.bare.len,
			     err);
	if (ret != UPK_OK) {
		if (ret == UPK_ERR_SIGNATURE)
			ret = upk_error_set(err, UPK_ERR_SIGNATURE,
					    "ed25519 signature does not verify with keyid \"%s\"",
					    sp.keyid);
		goto fail;
	}
	if (sp.nonce != NULL && policy->nonce_check != NULL) {
		ret = policy->nonce_check(policy->ctx, sp.keyid, sp.nonce, sp.created, err);
		if (ret != UPK_OK) {
			ret = upk_error_prefix(err, ret, "nonce \"%s\": ", sp.nonce);
			goto fail;
		}
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->label, sizeof(out->label), "%s", label);
	snprintf(out->keyid, sizeof(out->keyid), "%s", sp.keyid);
	snprintf(out->nonce, sizeof(out->nonce), "%s", sp.nonce ? sp.nonce : "");
	snprintf(out->tag, sizeof(out->tag), "%s", sp.tag ? sp.tag : "");
	out->created = sp.created;
	out->expires = sp.expires;
	out->ncomponents = n;
	memcpy(out->components, names, n * sizeof(names[0]));
	ret = UPK_OK;
	goto out;
fail:
	if (label != NULL)
		ret = upk_error_prefix(err, ret, "http signature \"%s\": ", label);
	else
		ret = upk_error_prefix(err, ret, "http signature: ");
out:
	free(base);
	free(digest);
	sfv_dict_clear(&p.input);
	sfv_dict_clear(&p.sigs);
	return ret;
}
