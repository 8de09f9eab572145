/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metadata envelope: parsing, the fields every role shares, signing and
 * serializing. Role-specific content lives in metadata_root.c,
 * metadata_targets.c and metadata_meta.c; threshold checks in metadata_verify.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"
#include "upkeep/json.h"

static const char *const role_names[] = {
	[UPK_ROLE_ROOT] = "root",
	[UPK_ROLE_TARGETS] = "targets",
	[UPK_ROLE_SNAPSHOT] = "snapshot",
	[UPK_ROLE_TIMESTAMP] = "timestamp",
};

const char *upk_role_type_name(enum upk_role_type type)
{
	if (type >= UPK_ROLE_ROOT && type <= UPK_ROLE_TIMESTAMP)
		return role_names[type];
	return "any";
}

upk_status upk_role_type_from_name(const char *name, enum upk_role_type *out,
				   struct upk_error *err)
{
	for (int t = UPK_ROLE_ROOT; t <= UPK_ROLE_TIMESTAMP; t++) {
		if (name != NULL && strcmp(name, role_names[t]) == 0) {
			*out = (enum upk_role_type)t;
			return UPK_OK;
		}
	}
	return upk_error_set(err, UPK_ERR_INVALID, "unknown role type \"%s\"",
			     name ? name : "(null)");
}

static void apply_default_limits(struct upk_metadata_limits *l)
{
	if (l->max_bytes == 0)
		l->max_bytes = UPK_MD_DEFAULT_MAX_BYTES;
	if (l->max_signatures == 0)
		l->max_signatures = UPK_MD_DEFAULT_MAX_SIGNATURES;
	if (l->max_keys == 0)
		l->max_keys = UPK_MD_DEFAULT_MAX_KEYS;
	if (l->max_targets == 0)
		l->max_targets = UPK_MD_DEFAULT_MAX_TARGETS;
	if (l->max_delegations == 0)
		l->max_delegations = UPK_MD_DEFAULT_MAX_DELEGATIONS;
	if (l->max_meta == 0)
		l->max_meta = UPK_MD_DEFAULT_MAX_META;
}

int md_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void md_free_index(struct upk_metadata *md)
{
	for (size_t i = 0; i < md->n_keys; i++)
		upk_key_free(md->keys[i].key);
	free(md->keys);
	md->keys = NULL;
	md->n_keys = 0;
	for (size_t i = 0; i < md->n_roles; i++) {
		free(md->roles[i].keyids);
		free(md->roles[i].paths);
		free(md->roles[i].prefixes);
	}
	free(md->roles);
	md->roles = NULL;
	md->n_roles = 0;
	free(md->names);
	md->names = NULL;
	md->n_names = 0;
	free(md->canon);
	md->canon = NULL;
	md->canon_len = 0;
}

/* "1.0.31" or "1.0": digits separated by dots; only major version 1 is ours. */
static upk_status check_spec_version(const char *v, struct upk_error *err)
{
	const char *p = v;
	int parts = 0;

	while (*p != '\0') {
		const char *start = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || p - start > 9)
			goto bad;
		parts++;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			goto bad;
		else
			break;
	}
	if (parts < 2 || parts > 3 || p[-1] == '.')
		goto bad;
	if (strtol(v, NULL, 10) != 1 || v[1] != '.')
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "spec_version \"%s\": only major version 1 is supported", v);
	return UPK_OK;
bad:
	return upk_error_set(err, UPK_ERR_INVALID, "spec_version \"%s\" is not MAJOR.MINOR[.PATCH]",
			     v);
}

static upk_status index_signatures(struct upk_metadata *md, struct upk_error *err)
{
	const json_t *sigs = json_object_get(md->doc, "signatures");
	size_t i;
	const json_t *s;

	if (!json_is_array(sigs))
		return upk_error_set(err, UPK_ERR_INVALID, "\"signatures\" must be an array");
	if (json_array_size(sigs) > md->limits.max_signatures)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "%zu signatures, at most %zu allowed",
				     json_array_size(sigs), md->limits.max_signatures);
	json_array_foreach(sigs, i, s) {
		const json_t *keyid = json_object_get(s, "keyid");
		const json_t *sig = json_object_get(s, "sig");
		size_t len;

		if (!json_is_object(s) || !json_is_string(keyid) || !json_is_string(sig))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "signatures[%zu] needs string \"keyid\" and \"sig\"", i);
		len = json_string_length(keyid);
		if (len == 0 || len > 256)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "signatures[%zu]: key id of %zu bytes", i, len);
		/* Hex of at most a 4096-bit RSA signature (or a DER ECDSA one). */
		len = json_string_length(sig);
		if (len > 1024 || len % 2 != 0)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "signatures[%zu]: \"sig\" of %zu hex digits", i, len);
	}
	return UPK_OK;
}

upk_status md_reindex(struct upk_metadata *md, struct upk_error *err)
{
	const json_t *type, *spec, *version, *expires;
	enum upk_role_type t = UPK_ROLE_ANY;
	upk_status ret;

	md_free_index(md);
	if (!json_is_object(md->signed_))
		return upk_error_set(err, UPK_ERR_INVALID, "\"signed\" must be an object");
	type = json_object_get(md->signed_, "_type");
	spec = json_object_get(md->signed_, "spec_version");
	version = json_object_get(md->signed_, "version");
	expires = json_object_get(md->signed_, "expires");
	if (!json_is_string(type))
		return upk_error_set(err, UPK_ERR_INVALID, "\"_type\" must be a string");
	ret = upk_role_type_from_name(json_string_value(type), &t, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "\"_type\": ");
	if (md->type != UPK_ROLE_ANY && md->type != t)
		return upk_error_set(err, UPK_ERR_INVALID, "expected %s metadata, got \"_type\" \"%s\"",
				     upk_role_type_name(md->type), json_string_value(type));
	md->type = t;
	if (!json_is_string(spec))
		return upk_error_set(err, UPK_ERR_INVALID, "\"spec_version\" must be a string");
	ret = check_spec_version(json_string_value(spec), err);
	if (ret != UPK_OK)
		return ret;
	md->spec_version = json_string_value(spec);
	if (!json_is_integer(version) || json_integer_value(version) < 1)
		return upk_error_set(err, UPK_ERR_INVALID, "\"version\" must be an integer >= 1");
	md->version = json_integer_value(version);
	if (!json_is_string(expires))
		return upk_error_set(err, UPK_ERR_INVALID, "\"expires\" must be a string");
	ret = upk_time_parse(json_string_value(expires), &md->expires, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "\"expires\": ");
	ret = index_signatures(md, err);
	if (ret != UPK_OK)
		return ret;

	switch (t) {
	case UPK_ROLE_ROOT:
		return md_index_root(md, err);
	case UPK_ROLE_TARGETS:
		return md_index_targets(md, err);
	case UPK_ROLE_SNAPSHOT:
	case UPK_ROLE_TIMESTAMP:
		return md_index_meta(md, err);
	case UPK_ROLE_ANY:
		break;
	}
	return upk_error_set(err, UPK_ERR_INVALID, "no role type");
}

upk_status md_changed(struct upk_metadata *md, struct upk_error *err)
{
	/* The bytes of a compact role would no longer be the document. */
	if (md->compact != NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "internal: compact targets changed");
	upk_metadata_clear_signatures(md);
	return md_reindex(md, err);
}

/* Takes doc and compact (may be NULL) whatever happens. */
static upk_status adopt(json_t *doc, struct md_compact *compact, enum upk_role_type expected,
			const struct upk_metadata_limits *limits, struct upk_metadata **out,
			struct upk_error *err)
{
	struct upk_metadata *md;
	upk_status ret;

	md = calloc(1, sizeof(*md));
	if (md == NULL) {
		json_decref(doc);
		md_compact_free(compact);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	md->doc = doc;
	md->compact = compact;
	if (limits != NULL)
		md->limits = *limits;
	apply_default_limits(&md->limits);
	md->type = expected;
	md->signed_ = json_object_get(doc, "signed");
	ret = md_reindex(md, err);
	if (ret != UPK_OK) {
		upk_metadata_free(md);
		return ret;
	}
	*out = md;
	return UPK_OK;
}

static upk_status parse(const void *buf, size_t len, enum upk_role_type expected,
			const struct upk_metadata_limits *limits, int scan, struct upk_metadata **out,
			struct upk_error *err)
{
	struct upk_metadata_limits l = {0};
	struct upk_json_limits jl = {0};
	struct md_compact *compact = NULL;
	json_t *doc = NULL;
	upk_status ret;
	const char *what = expected == UPK_ROLE_ANY ? "metadata" : upk_role_type_name(expected);

	if (limits != NULL)
		l = *limits;
	apply_default_limits(&l);
	jl.max_bytes = l.max_bytes;
	/* Envelope, signed, delegations, roles, role, paths: custom fields get the rest. */
	jl.max_depth = UPK_JSON_DEFAULT_MAX_DEPTH;
	/*
	 * The in-place scanner accepts exactly what upk_json_parse() accepts;
	 * when it refuses, jansson parses again only to say why.
	 */
	if (!scan || md_scan_parse(buf, len, &l, &doc, &compact) != UPK_OK) {
		ret = upk_json_parse(buf, len, &jl, &doc, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: ", what);
	}
	if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "signed"))) {
		md_compact_free(compact);
		json_decref(doc);
		return upk_error_set(err, UPK_ERR_INVALID,
				     "%s: not a metadata envelope (object with \"signed\")", what);
	}
	ret = adopt(doc, compact, expected, &l, out, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", what);
	return UPK_OK;
}

upk_status upk_metadata_parse(const void *buf, size_t len, enum upk_role_type expected,
			      const struct upk_metadata_limits *limits, struct upk_metadata **out,
			      struct upk_error *err)
{
	return parse(buf, len, expected, limits, 1, out, err);
}

upk_status md_parse_tree(const void *buf, size_t len, enum upk_role_type expected,
			 const struct upk_metadata_limits *limits, struct upk_metadata **out,
			 struct upk_error *err)
{
	return parse(buf, len, expected, limits, 0, out, err);
}

static json_t *new_root_signed(void)
{
	json_t *roles = json_object();

	for (int t = UPK_ROLE_ROOT; t <= UPK_ROLE_TIMESTAMP; t++)
		json_object_set_new(roles, role_names[t],
				    json_pack("{s:[],s:i}", "keyids", "threshold", 1));
	return json_pack("{s:b,s:{},s:o}", "consistent_snapshot", 1, "keys", "roles", roles);
}

upk_status upk_metadata_new(enum upk_role_type type, time_t expires, struct upk_metadata **out,
			    struct upk_error *err)
{
	char when[21];
	json_t *body, *doc;

	switch (type) {
	case UPK_ROLE_ROOT:
		body = new_root_signed();
		break;
	case UPK_ROLE_TARGETS:
		body = json_pack("{s:{}}", "targets");
		break;
	case UPK_ROLE_SNAPSHOT:
		body = json_pack("{s:{s:{s:i}}}", "meta", "targets.json", "version", 1);
		break;
	case UPK_ROLE_TIMESTAMP:
		body = json_pack("{s:{s:{s:i}}}", "meta", "snapshot.json", "version", 1);
		break;
	default:
		return upk_error_set(err, UPK_ERR_INVALID, "cannot create metadata of type %d", type);
	}
	upk_time_format(expires, when);
	if (body == NULL ||
	    json_object_set_new(body, "_type", json_string(role_names[type])) != 0 ||
	    json_object_set_new(body, "spec_version", json_string(UPK_SPEC_VERSION)) != 0 ||
	    json_object_set_new(body, "version", json_integer(1)) != 0 ||
	    json_object_set_new(body, "expires", json_string(when)) != 0) {
		json_decref(body);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	doc = json_pack("{s:[],s:o}", "signatures", "signed", body);
	if (doc == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return adopt(doc, NULL, type, NULL, out, err);
}

/*
 * For the functions that take a const document but need its whole tree:
 * building the entries of a compact role is invisible to callers (what
 * they borrowed stays valid), hence logically const.
 */
static upk_status whole_tree(const struct upk_metadata *md, struct upk_error *err)
{
	return md_materialize((struct upk_metadata *)md, err);
}

upk_status upk_metadata_dup(const struct upk_metadata *md, struct upk_metadata **out,
			    struct upk_error *err)
{
	json_t *doc;
	upk_status ret = whole_tree(md, err);

	if (ret != UPK_OK)
		return ret;
	doc = json_deep_copy(md->doc);
	if (doc == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return adopt(doc, NULL, md->type, &md->limits, out, err);
}

void upk_metadata_free(struct upk_metadata *md)
{
	if (md == NULL)
		return;
	md_free_index(md);
	md_compact_free(md->compact);
	free(md->compact_paths);
	json_decref(md->doc);
	free(md);
}

upk_status upk_metadata_signed_bytes(struct upk_metadata *md, const char **bytes, size_t *len,
				     struct upk_error *err)
{
	if (md->canon == NULL) {
		upk_status ret = md->compact != NULL
				     ? md_compact_canonical(md, &md->canon, &md->canon_len, err)
				     : upk_cjson_encode(md->signed_, &md->canon, &md->canon_len, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s v%" PRId64 ": ",
						upk_role_type_name(md->type), md->version);
	}
	*bytes = md->canon;
	*len = md->canon_len;
	return UPK_OK;
}

upk_status upk_metadata_serialize(const struct upk_metadata *md, int pretty, char **out,
				  size_t *out_len, struct upk_error *err)
{
	/*
	 * Not canonical JSON: that form writes control characters (the newlines
	 * of a PEM key) raw, which is no longer valid JSON. Sorted keys keep
	 * files stable and diff-friendly for key holders.
	 */
	size_t flags = JSON_SORT_KEYS | (pretty ? JSON_INDENT(1) : JSON_COMPACT);
	char *text, *grown;
	upk_status ret = whole_tree(md, err);

	if (ret != UPK_OK)
		return ret;
	text = json_dumps(md->doc, flags);

	if (text == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "cannot serialize %s metadata",
				     upk_role_type_name(md->type));
	*out_len = strlen(text);
	grown = realloc(text, *out_len + 2);
	if (grown == NULL) {
		free(text);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	if (pretty)
		grown[(*out_len)++] = '\n';
	grown[*out_len] = '\0';
	*out = grown;
	return UPK_OK;
}

enum upk_role_type upk_metadata_type(const struct upk_metadata *md)
{
	return md->type;
}

int64_t upk_metadata_version(const struct upk_metadata *md)
{
	return md->version;
}

time_t upk_metadata_expires(const struct upk_metadata *md)
{
	return md->expires;
}

const char *upk_metadata_spec_version(const struct upk_metadata *md)
{
	return md->spec_version;
}

const json_t *upk_metadata_signed(const struct upk_metadata *md)
{
	return whole_tree(md, NULL) == UPK_OK ? md->signed_ : NULL;
}

int upk_metadata_is_expired(const struct upk_metadata *md, time_t now)
{
	return now >= md->expires;
}

upk_status upk_metadata_set_version(struct upk_metadata *md, int64_t version,
				    struct upk_error *err)
{
	upk_status ret = md_materialize(md, err);

	if (ret != UPK_OK)
		return ret;
	if (version < 1)
		return upk_error_set(err, UPK_ERR_INVALID, "version %" PRId64 " must be >= 1",
				     version);
	if (json_object_set_new(md->signed_, "version", json_integer(version)) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(md, err);
}

upk_status upk_metadata_set_expires(struct upk_metadata *md, time_t expires,
				    struct upk_error *err)
{
	char when[21];
	upk_status ret = md_materialize(md, err);

	if (ret != UPK_OK)
		return ret;
	upk_time_format(expires, when);
	if (json_object_set_new(md->signed_, "expires", json_string(when)) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return md_changed(md, err);
}

upk_status upk_metadata_sign(struct upk_metadata *md, const struct upk_key *key,
			     struct upk_error *err)
{
	char keyid[UPK_KEYID_HEX_LEN + 1];
	const char *bytes = NULL;
	size_t len = 0, sig_len, i;
	uint8_t *sig = NULL;
	char *hex = NULL;
	json_t *sigs = json_object_get(md->doc, "signatures");
	json_t *s;
	upk_status ret;

	ret = upk_key_id(key, keyid, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_metadata_signed_bytes(md, &bytes, &len, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_key_sign(key, bytes, len, &sig, &sig_len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "signing %s with key %.16s: ",
					upk_role_type_name(md->type), keyid);
	hex = malloc(2 * sig_len + 1);
	if (hex == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	upk_hex_encode(sig, sig_len, hex);
	/* One signature per key: signing again replaces the old one. */
	for (i = json_array_size(sigs); i-- > 0;) {
		s = json_array_get(sigs, i);
		if (strcmp(json_string_value(json_object_get(s, "keyid")), keyid) == 0)
			json_array_remove(sigs, i);
	}
	if (json_array_append_new(sigs, json_pack("{s:s,s:s}", "keyid", keyid, "sig", hex)) != 0)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
out:
	free(sig);
	free(hex);
	return ret;
}

size_t upk_metadata_signature_count(const struct upk_metadata *md)
{
	return json_array_size(json_object_get(md->doc, "signatures"));
}

const char *upk_metadata_signature_keyid(const struct upk_metadata *md, size_t i)
{
	const json_t *s = json_array_get(json_object_get(md->doc, "signatures"), i);

	return s ? json_string_value(json_object_get(s, "keyid")) : NULL;
}

void upk_metadata_clear_signatures(struct upk_metadata *md)
{
	json_array_clear(json_object_get(md->doc, "signatures"));
}
