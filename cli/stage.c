/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The staging area of an owner repository: loading and saving staged roles,
 * the published state that decides version bumps, the delegation tree, and
 * per-key signature checks for status reports. Layout: stage.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stage.h"
#include "upkeep/json.h"
#include "upkeep/target_info.h"

static const char *const top_roles[] = {"root", "targets", "snapshot", "timestamp"};

int stage_is_top_role(const char *name)
{
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(name, top_roles[i]) == 0)
			return 1;
	}
	return 0;
}

upk_status stage_check_role_name(const char *name, struct upk_error *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "role name \"%.64s\" must be 1 to 64 characters", name);
	if (stage_is_top_role(name))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "\"%s\" is a top-level role, not a delegated role name", name);
	/* "N.role.json" must stay unambiguous, and "1.root" must not shadow the root chain. */
	if (name[0] == '.' || (name[0] >= '0' && name[0] <= '9'))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "role name \"%.64s\" must not start with '.' or a digit", name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "role name \"%.64s\": character '%c' not allowed (use "
					     "A-Z a-z 0-9 . _ -)",
					     name, c > 32 && c < 127 ? c : '?');
	}
	return UPK_OK;
}

upk_status stage_check_target_path(const char *path, struct upk_error *err)
{
	size_t len = strlen(path);
	const char *seg = path;

	if (len == 0 || len > 1024)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "target path \"%.64s\" must be 1 to 1024 bytes", path);
	if (path[0] == '/')
		return upk_error_set(err, UPK_ERR_INVALID,
				     "target path \"%.64s\" must be relative (no leading '/')", path);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		/* Paths become file names here and URL paths on the server. */
		if (c <= 32 || c >= 127 || c == '\\' || c == '%' || c == '?' || c == '#')
			return upk_error_set(err, UPK_ERR_INVALID,
					     "target path \"%.64s\": byte 0x%02x at offset %zu is not "
					     "allowed",
					     path, c, i);
	}
	for (;;) {
		size_t n = strcspn(seg, "/");

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return upk_error_set(err, UPK_ERR_INVALID,
					     "target path \"%.64s\" has an empty, '.' or '..' segment",
					     path);
		if (seg[n] == '\0')
			break;
		seg += n + 1;
	}
	return UPK_OK;
}

char *stage_path(const struct stage *st, const char *sub, const char *name)
{
	char *a = cli_join(st->dir, sub), *b;

	if (a == NULL || name == NULL)
		return a;
	b = cli_join(a, name);
	free(a);
	return b;
}

static upk_status load_md_file(const char *path, enum upk_role_type type,
			       struct upk_metadata **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret;

	ret = cli_read_file(path, CLI_MAX_FILE, &text, &len, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_metadata_parse(text, len, type, NULL, out, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", path);
	free(text);
	return ret;
}

static enum upk_role_type role_type(const char *name)
{
	enum upk_role_type t;

	if (upk_role_type_from_name(name, &t, NULL) == UPK_OK)
		return t;
	return UPK_ROLE_TARGETS;
}

upk_status stage_load(struct stage *st, const char *name, struct upk_metadata **out,
		      struct upk_error *err)
{
	char file[80];
	char *path;
	upk_status ret;

	snprintf(file, sizeof(file), "%s.json", name);
	path = stage_path(st, "staged", file);
	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = load_md_file(path, role_type(name), out, err);
	if (ret == UPK_ERR_NOT_FOUND)
		upk_error_set(err, ret, "role %.64s is not staged in %s (no %s)", name, st->dir,
			      path);
	free(path);
	return ret;
}

upk_status stage_save(struct stage *st, const char *name, struct upk_metadata *md,
		      struct upk_error *err)
{
	char file[80];
	char *path = NULL, *text = NULL;
	size_t len = 0;
	upk_status ret;

	snprintf(file, sizeof(file), "%s.json", name);
	path = stage_path(st, "staged", file);
	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = upk_metadata_serialize(md, 1, &text, &len, err);
	if (ret == UPK_OK)
		ret = cli_write_atomic(path, text, len, 0644, err);
	free(text);
	free(path);
	return ret;
}

/* Newest N with published/N.root.json, following the chain from 1 (0 when none). */
static int64_t latest_root_version(const struct stage *st)
{
	int64_t v = 0;

	for (;;) {
		char file[48];
		char *path;
		int have;

		snprintf(file, sizeof(file), "%" PRId64 ".root.json", v + 1);
		path = stage_path(st, "published", file);
		if (path == NULL)
			return v;
		have = cli_exists(path);
		free(path);
		if (!have)
			return v;
		v++;
	}
}

upk_status stage_load_published(struct stage *st, const char *name, struct upk_metadata **out,
				struct upk_error *err)
{
	char file[80];
	char *path;
	upk_status ret;

	if (strcmp(name, "root") == 0) {
		int64_t v = latest_root_version(st);

		if (v == 0)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "root was never published");
		snprintf(file, sizeof(file), "%" PRId64 ".root.json", v);
	} else {
		snprintf(file, sizeof(file), "%s.json", name);
	}
	path = stage_path(st, "published", file);
	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = load_md_file(path, role_type(name), out, err);
	if (ret == UPK_ERR_NOT_FOUND)
		upk_error_set(err, ret, "%s was never published", name);
	free(path);
	return ret;
}

int64_t stage_published_version(struct stage *st, const char *name)
{
	struct upk_metadata *md = NULL;
	int64_t v;

	if (strcmp(name, "root") == 0)
		return latest_root_version(st);
	if (stage_load_published(st, name, &md, NULL) != UPK_OK)
		return 0;
	v = upk_metadata_version(md);
	upk_metadata_free(md);
	return v;
}

upk_status stage_default_expiry(struct stage *st, const char *name, time_t *out,
				struct upk_error *err)
{
	const json_t *exp = json_object_get(st->config, "expires");
	const json_t *v = json_object_get(exp, name);
	upk_status ret;

	if (v == NULL && !stage_is_top_role(name))
		v = json_object_get(exp, "targets");
	if (!json_is_string(v))
		return upk_error_set(err, UPK_ERR_INVALID, "%s/%s: no expiry period for role %s",
				     st->dir, STAGE_CONFIG, name);
	ret = cli_parse_when(json_string_value(v), st->now, out, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s/%s: expires.%s: ", st->dir, STAGE_CONFIG,
					name);
	return UPK_OK;
}

upk_status stage_touch(struct stage *st, const char *name, struct upk_metadata *md,
		       struct upk_error *err)
{
	int64_t published = stage_published_version(st, name);
	time_t expires;
	upk_status ret;

	if (upk_metadata_version(md) > published)
		return UPK_OK;
	ret = stage_default_expiry(st, name, &expires, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(md, published + 1, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_expires(md, expires, err);
	return ret;
}

upk_status stage_open(const char *dir, struct stage **out, struct upk_error *err)
{
	struct stage *st = calloc(1, sizeof(*st));
	char *path = NULL, *text = NULL;
	size_t len = 0;
	upk_status ret;

	if (st == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	st->now = time(NULL);
	st->dir = strdup(dir);
	path = cli_join(dir, STAGE_CONFIG);
	if (st->dir == NULL || path == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = cli_read_file(path, 1024 * 1024, &text, &len, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		ret = upk_error_set(err, ret,
				    "%s is not an upkeep repository (no %s; create one with "
				    "'upkeep repo init')",
				    dir, STAGE_CONFIG);
		goto out;
	}
	if (ret == UPK_OK)
		ret = upk_json_parse(text, len, NULL, &st->config, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", path);
		goto out;
	}
	if (json_integer_value(json_object_get(st->config, "upkeep_repository")) != STAGE_FORMAT) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "%s: not an upkeep repository of format %d", path, STAGE_FORMAT);
		goto out;
	}
	ret = stage_load(st, "root", &st->root, err);
	if (ret != UPK_OK)
		goto out;
	ret = stage_load_published(st, "root", &st->pub_root, err);
	if (ret == UPK_ERR_NOT_FOUND)
		ret = UPK_OK;
	if (ret != UPK_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	free(path);
	free(text);
	stage_free(st);
	return ret;
}

void stage_free(struct stage *st)
{
	if (st == NULL)
		return;
	free(st->dir);
	json_decref(st->config);
	upk_metadata_free(st->root);
	upk_metadata_free(st->pub_root);
	free(st);
}

void stage_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n && names != NULL; i++)
		free(names[i]);
	free(names);
}

static int names_have(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Preorder walk; depth is bounded by the number of distinct roles, each visited once. */
static upk_status walk_roles(struct stage *st, const char *name, char ***names, size_t *n,
			     struct upk_error *err)
{
	struct upk_metadata *md = NULL;
	char **nn;
	upk_status ret;

	if (names_have(*names, *n, name))
		return UPK_OK;
	if (*n >= UPK_MD_DEFAULT_MAX_DELEGATIONS)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %u delegated roles",
				     UPK_MD_DEFAULT_MAX_DELEGATIONS);
	nn = realloc(*names, (*n + 1) * sizeof(*nn));
	if (nn == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	*names = nn;
	nn[*n] = strdup(name);
	if (nn[*n] == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	(*n)++;
	ret = stage_load(st, name, &md, err);
	if (ret != UPK_OK)
		return ret;
	for (size_t i = 0; i < upk_delegations_count(md) && ret == UPK_OK; i++) {
		struct upk_delegation d;

		ret = upk_delegation_at(md, i, &d, err);
		if (ret == UPK_OK)
			ret = walk_roles(st, d.name, names, n, err);
	}
	upk_metadata_free(md);
	return ret;
}

upk_status stage_targets_roles(struct stage *st, char ***names, size_t *n,
			       struct upk_error *err)
{
	char **list = NULL;
	size_t count = 0;
	upk_status ret = walk_roles(st, "targets", &list, &count, err);

	if (ret != UPK_OK) {
		stage_names_free(list, count);
		return ret;
	}
	*names = list;
	*n = count;
	return UPK_OK;
}

upk_status stage_delegator(struct stage *st, const char *name, char **delegator,
			   struct upk_metadata **delegator_md, struct upk_error *err)
{
	char **names = NULL;
	size_t n = 0;
	upk_status ret;

	ret = stage_targets_roles(st, &names, &n, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
			    "no staged role delegates to \"%.64s\" (see 'upkeep delegate add')",
			    name);
	for (size_t i = 0; i < n; i++) {
		struct upk_metadata *md = NULL;
		struct upk_delegation d;

		ret = stage_load(st, names[i], &md, err);
		if (ret != UPK_OK)
			break;
		if (upk_delegation_find(md, name, &d, NULL) == UPK_OK) {
			*delegator = strdup(names[i]);
			if (*delegator == NULL) {
				upk_metadata_free(md);
				ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
				break;
			}
			*delegator_md = md;
			ret = UPK_OK;
			break;
		}
		upk_metadata_free(md);
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
				    "no staged role delegates to \"%.64s\" (see 'upkeep delegate "
				    "add')",
				    name);
	}
	stage_names_free(names, n);
	return ret;
}

void role_auth_free(struct role_auth *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n && a->keyids != NULL; i++)
		free(a->keyids[i]);
	free(a->keyids);
	free(a->keys);
	free(a->valid);
	upk_metadata_free(a->owner_md);
	memset(a, 0, sizeof(*a));
}

static upk_status auth_alloc(struct role_auth *a, size_t n, struct upk_error *err)
{
	a->n = 0;
	a->keyids = calloc(n ? n : 1, sizeof(*a->keyids));
	a->keys = calloc(n ? n : 1, sizeof(*a->keys));
	a->valid = calloc(n ? n : 1, sizeof(*a->valid));
	if (a->keyids == NULL || a->keys == NULL || a->valid == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

upk_status stage_role_auth(struct stage *st, const char *name, int previous_root,
			   struct role_auth *out, struct upk_error *err)
{
	struct role_auth a;
	upk_status ret;

	memset(&a, 0, sizeof(a));
	if (stage_is_top_role(name)) {
		const struct upk_metadata *root = previous_root ? st->pub_root : st->root;
		struct upk_role_keys rk;

		if (root == NULL)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "no published root yet");
		ret = upk_root_role(root, name, &rk, err);
		if (ret == UPK_OK)
			ret = auth_alloc(&a, rk.n_keyids, err);
		for (size_t i = 0; ret == UPK_OK && i < rk.n_keyids; i++) {
			a.keyids[i] = strdup(rk.keyids[i]);
			if (a.keyids[i] == NULL)
				ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			a.keys[i] = upk_root_key(root, rk.keyids[i]);
			a.n++;
		}
		a.threshold = rk.threshold;
		snprintf(a.where, sizeof(a.where), "root v%" PRId64, upk_metadata_version(root));
	} else {
		char *dname = NULL;
		struct upk_delegation d;

		ret = stage_delegator(st, name, &dname, &a.owner_md, err);
		if (ret == UPK_OK)
			ret = upk_delegation_find(a.owner_md, name, &d, err);
		if (ret == UPK_OK)
			ret = auth_alloc(&a, d.n_keyids, err);
		for (size_t i = 0; ret == UPK_OK && i < d.n_keyids; i++) {
			a.keyids[i] = strdup(d.keyids[i]);
			if (a.keyids[i] == NULL)
				ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			a.keys[i] = upk_delegation_key(a.owner_md, d.keyids[i]);
			a.n++;
		}
		if (ret == UPK_OK) {
			a.threshold = d.threshold;
			snprintf(a.where, sizeof(a.where), "%.40s v%" PRId64, dname,
				 upk_metadata_version(a.owner_md));
		}
		free(dname);
	}
	if (ret != UPK_OK) {
		role_auth_free(&a);
		return ret;
	}
	*out = a;
	return UPK_OK;
}

int role_auth_find(const struct role_auth *a, const char *keyid)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->keyids[i], keyid) == 0)
			return (int)i;
	}
	return -1;
}

upk_status stage_signatures(struct upk_metadata *md, json_t **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	upk_status ret;

	ret = upk_metadata_serialize(md, 0, &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_json_parse(text, len, NULL, &doc, err);
	free(text);
	if (ret != UPK_OK)
		return ret;
	*out = json_incref(json_object_get(doc, "signatures"));
	json_decref(doc);
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "metadata has no signatures array");
	return UPK_OK;
}

upk_status stage_with_signatures(struct upk_metadata *md, const json_t *sigs,
				 struct upk_metadata **out, struct upk_error *err)
{
	json_t *env = json_object(), *signed_copy = json_deep_copy(upk_metadata_signed(md));
	json_t *sigs_copy = json_deep_copy(sigs);
	char *text = NULL;
	size_t len = 0;
	upk_status ret;

	if (env == NULL || signed_copy == NULL || sigs_copy == NULL ||
	    json_object_set_new(env, "signed", signed_copy) != 0) {
		json_decref(env);
		json_decref(sigs_copy);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	signed_copy = NULL;
	if (json_object_set_new(env, "signatures", sigs_copy) != 0) {
		json_decref(env);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	ret = upk_cjson_encode(env, &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, upk_metadata_type(md), NULL, out, err);
	free(text);
	json_decref(env);
	return ret;
}

upk_status role_auth_check(struct role_auth *a, struct upk_metadata *md, unsigned *valid,
			   struct upk_error *err)
{
	json_t *sigs = NULL;
	const char *bytes;
	size_t blen, i;
	json_t *s;
	unsigned count = 0;
	upk_status ret;

	ret = upk_metadata_signed_bytes(md, &bytes, &blen, err);
	if (ret == UPK_OK)
		ret = stage_signatures(md, &sigs, err);
	if (ret != UPK_OK)
		return ret;
	memset(a->valid, 0, (a->n ? a->n : 1) * sizeof(*a->valid));
	json_array_foreach(sigs, i, s) {
		const char *kid = json_string_value(json_object_get(s, "keyid"));
		const char *hex = json_string_value(json_object_get(s, "sig"));
		int k = kid ? role_auth_find(a, kid) : -1;
		uint8_t sig[1024];
		size_t slen;

		if (k < 0 || hex == NULL || a->keys[k] == NULL || a->valid[k])
			continue;
		slen = strlen(hex) / 2;
		if (slen == 0 || slen > sizeof(sig) || upk_hex_decode(hex, sig, slen, NULL) != UPK_OK)
			continue;
		if (upk_key_verify(a->keys[k], bytes, blen, sig, slen, NULL) == UPK_OK)
			a->valid[k] = 1;
	}
	json_decref(sigs);
	/* Count distinct public keys: one key listed under two ids is still one holder. */
	for (size_t k = 0; k < a->n; k++) {
		int dup = 0;

		if (!a->valid[k])
			continue;
		for (size_t j = 0; j < k; j++) {
			if (a->valid[j] && upk_key_equal_public(a->keys[j], a->keys[k]))
				dup = 1;
		}
		count += !dup;
	}
	*valid = count;
	return UPK_OK;
}

upk_status stage_check_target_infos(const struct upk_metadata *md, const char *role,
				    struct upk_error *err)
{
	for (size_t i = 0; i < upk_targets_count(md); i++) {
		struct upk_target t;
		struct upk_target_info *info = NULL;
		upk_status ret;

		memset(&t, 0, sizeof(t));
		ret = upk_targets_at(md, i, &t, err);

		if (ret == UPK_OK)
			ret = upk_target_info_parse(t.custom, &info, err);
		upk_target_info_free(info);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: target %.200s: ", role,
						t.path ? t.path : "?");
	}
	return UPK_OK;
}

char *stage_hashed_target_name(const char *path, const char *hex)
{
	const char *slash = strrchr(path, '/');
	char *out = NULL;
	int n;

	if (slash == NULL)
		n = asprintf(&out, "%s.%s", hex, path);
	else
		n = asprintf(&out, "%.*s/%s.%s", (int)(slash - path), path, hex, slash + 1);
	return n < 0 ? NULL : out;
}
