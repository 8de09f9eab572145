/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep publish`: check that every staged role meets its threshold (a new
 * root: both the old and its own), make and sign snapshot and timestamp, and
 * write a consistent-snapshot repository (N.role.json, HASH.name targets)
 * that clients can fetch. Nothing is written until every check has passed,
 * and timestamp.json is written last so clients never see a half-made state.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

/* A targets role as it will be published. */
struct pub_role {
	char *name;
	struct upk_metadata *md;
	char *bytes; /* the exact file content clients get (snapshot hashes these) */
	size_t len;
	int changed; /* a version not published before */
};

struct publish {
	struct stage *st;
	const struct cli_args *args;
	const char *out;
	int allow_expired;
	struct pub_role *roles;
	size_t n_roles;
	char *root_bytes;
	size_t root_len;
	int root_changed;
	struct upk_metadata *snap;
	char *snap_bytes;
	size_t snap_len;
	int snap_changed;
	struct upk_metadata *ts;
	char *ts_bytes;
	size_t ts_len;
	size_t n_files;
};

static void publish_free(struct publish *p)
{
	for (size_t i = 0; i < p->n_roles; i++) {
		free(p->roles[i].name);
		upk_metadata_free(p->roles[i].md);
		free(p->roles[i].bytes);
	}
	free(p->roles);
	free(p->root_bytes);
	upk_metadata_free(p->snap);
	free(p->snap_bytes);
	upk_metadata_free(p->ts);
	free(p->ts_bytes);
}

/* The bytes of DIR/published/<file>. */
static upk_status read_published(struct stage *st, const char *file, char **out, size_t *len,
				 struct upk_error *err)
{
	char *path = stage_path(st, "published", file);
	upk_status ret;

	if (path == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = cli_read_file(path, CLI_MAX_FILE, out, len, err);
	free(path);
	return ret;
}

static upk_status threshold_error(const char *role, struct upk_metadata *md, upk_status ret,
				  const struct upk_sigcheck *chk, const char *keys_of,
				  const char *dir, struct upk_error *err)
{
	if (ret != UPK_ERR_SIGNATURE)
		return upk_error_prefix(err, ret, "publish refused: %s v%" PRId64 ": ", role,
					upk_metadata_version(md));
	return upk_error_set(err, UPK_ERR_SIGNATURE,
			     "publish refused: %s v%" PRId64 " has %u of %u signatures (keys of "
			     "%s); sign it with 'upkeep sign %s %s --key FILE'",
			     role, upk_metadata_version(md), chk->valid, chk->threshold, keys_of, dir,
			     role);
}

static upk_status check_expiry(struct publish *p, const char *role, struct upk_metadata *md,
			       struct upk_error *err)
{
	char exp[21];

	if (!upk_metadata_is_expired(md, p->st->now))
		return UPK_OK;
	upk_time_format(upk_metadata_expires(md), exp);
	if (p->allow_expired) {
		cli_warn("%s v%" PRId64 " expired at %s (published anyway: --allow-expired)", role,
			 upk_metadata_version(md), exp);
		return UPK_OK;
	}
	return upk_error_set(err, UPK_ERR_EXPIRED,
			     "publish refused: %s v%" PRId64 " expired at %s; renew it with "
			     "'upkeep renew %s %s' and sign it again",
			     role, upk_metadata_version(md), exp, p->st->dir, role);
}

static upk_status same_signed(struct upk_metadata *a, struct upk_metadata *b, int *same,
			      struct upk_error *err)
{
	const char *x, *y;
	size_t xl, yl;
	upk_status ret = upk_metadata_signed_bytes(a, &x, &xl, err);

	if (ret == UPK_OK)
		ret = upk_metadata_signed_bytes(b, &y, &yl, err);
	if (ret == UPK_OK)
		*same = xl == yl && memcmp(x, y, xl) == 0;
	return ret;
}

static upk_status check_root(struct publish *p, struct upk_error *err)
{
	struct stage *st = p->st;
	int64_t rv = upk_metadata_version(st->root);
	int64_t pv = st->pub_root ? upk_metadata_version(st->pub_root) : 0;
	struct upk_sigcheck chk = {0, 0};
	char where[48];
	upk_status ret;

	if (rv < pv || (st->pub_root == NULL && rv != 1) || rv > pv + 1)
		return upk_error_set(err, UPK_ERR_ROLLBACK,
				     "publish refused: staged root v%" PRId64
				     " does not follow the published root v%" PRId64
				     " (root versions must go up by one)",
				     rv, pv);
	if (rv == pv) {
		int same = 0;
		char file[48];

		ret = same_signed(st->root, st->pub_root, &same, err);
		if (ret != UPK_OK)
			return ret;
		if (!same)
			return upk_error_set(err, UPK_ERR_INVALID,
					     "publish refused: staged root differs from the published "
					     "root v%" PRId64 " but has its version; stage a new one "
					     "with 'upkeep root rotate'",
					     pv);
		snprintf(file, sizeof(file), "%" PRId64 ".root.json", pv);
		return read_published(st, file, &p->root_bytes, &p->root_len, err);
	}
	p->root_changed = 1;
	snprintf(where, sizeof(where), "root v%" PRId64, rv);
	ret = upk_verify_role(st->root, "root", st->root, &chk, err);
	if (ret != UPK_OK)
		return threshold_error("root", st->root, ret, &chk, where, st->dir, err);
	if (st->pub_root != NULL) {
		/* TUF root rotation: the old root's keys vouch for the new root. */
		snprintf(where, sizeof(where), "the published root v%" PRId64, pv);
		ret = upk_verify_role(st->pub_root, "root", st->root, &chk, err);
		if (ret != UPK_OK)
			return threshold_error("root", st->root, ret, &chk, where, st->dir, err);
	}
	ret = check_expiry(p, "root", st->root, err);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(st->root, 1, &p->root_bytes, &p->root_len, err);
	return ret;
}

static upk_status check_coverage(struct upk_metadata *delegator, const char *name,
				 struct upk_metadata *md, struct upk_error *err)
{
	struct upk_delegation d;
	upk_status ret = upk_delegation_find(delegator, name, &d, err);

	for (size_t i = 0; ret == UPK_OK && i < upk_targets_count(md); i++) {
		struct upk_target t;

		ret = upk_targets_at(md, i, &t, err);
		if (ret == UPK_OK && !upk_delegation_covers(&d, t.path))
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "publish refused: %s lists \"%.200s\", outside the paths "
					    "delegated to it",
					    name, t.path);
	}
	return ret;
}

static upk_status check_targets_role(struct publish *p, const char *name, struct upk_error *err)
{
	struct stage *st = p->st;
	struct pub_role *r = &p->roles[p->n_roles];
	struct upk_metadata *pub = NULL, *delegator = NULL;
	struct upk_sigcheck chk = {0, 0};
	char where[96];
	upk_status ret;

	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	if (r->name == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	p->n_roles++;
	ret = stage_load(st, name, &r->md, err);
	if (ret != UPK_OK)
		return ret;
	if (strcmp(name, "targets") == 0) {
		snprintf(where, sizeof(where), "root v%" PRId64, upk_metadata_version(st->root));
		ret = upk_verify_role(st->root, "targets", r->md, &chk, err);
	} else {
		/* Roles come in preorder, so the delegator was checked (and trusted) already. */
		for (size_t i = 0; i + 1 < p->n_roles && delegator == NULL; i++) {
			struct upk_delegation d;

			if (upk_delegation_find(p->roles[i].md, name, &d, NULL) == UPK_OK) {
				delegator = p->roles[i].md;
				snprintf(where, sizeof(where), "%.40s v%" PRId64, p->roles[i].name,
					 upk_metadata_version(delegator));
			}
		}
		if (delegator == NULL)
			return upk_error_set(err, UPK_ERR_NOT_FOUND, "no role delegates to %s", name);
		ret = upk_verify_delegated(delegator, name, r->md, &chk, err);
		if (ret == UPK_OK)
			ret = check_coverage(delegator, name, r->md, err);
		if (ret != UPK_OK && ret != UPK_ERR_SIGNATURE)
			return ret;
	}
	if (ret != UPK_OK)
		return threshold_error(name, r->md, ret, &chk, where, st->dir, err);
	ret = check_expiry(p, name, r->md, err);
	if (ret == UPK_OK)
		ret = stage_check_target_infos(r->md, name, err);
	if (ret != UPK_OK)
		return ret;
	ret = stage_load_published(st, name, &pub, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		r->changed = 1;
		return upk_metadata_serialize(r->md, 1, &r->bytes, &r->len, err);
	}
	if (ret != UPK_OK)
		return ret;
	if (upk_metadata_version(r->md) > upk_metadata_version(pub)) {
		r->changed = 1;
		ret = upk_metadata_serialize(r->md, 1, &r->bytes, &r->len, err);
	} else {
		int same = 0;
		char file[80];

		ret = same_signed(r->md, pub, &same, err);
		if (ret == UPK_OK && (!same || upk_metadata_version(r->md) !=
						  upk_metadata_version(pub)))
			ret = upk_error_set(err, UPK_ERR_ROLLBACK,
					    "publish refused: staged %s v%" PRId64
					    " differs from the published v%" PRId64
					    " without a newer version",
					    name, upk_metadata_version(r->md),
					    upk_metadata_version(pub));
		/* Unchanged: republish the very bytes the last snapshot hashed. */
		snprintf(file, sizeof(file), "%s.json", name);
		if (ret == UPK_OK)
			ret = read_published(st, file, &r->bytes, &r->len, err);
	}
	upk_metadata_free(pub);
	return ret;
}

static upk_status bytes_hashes(const char *bytes, size_t len, json_t **out,
			       struct upk_error *err)
{
	uint8_t d256[UPK_HASH_MAX_LEN], d512[UPK_HASH_MAX_LEN];
	char h256[65], h512[129];
	upk_status ret = upk_hash_buf(UPK_HASH_SHA256, bytes, len, d256, err);

	if (ret == UPK_OK)
		ret = upk_hash_buf(UPK_HASH_SHA512, bytes, len, d512, err);
	if (ret != UPK_OK)
		return ret;
	upk_hex_encode(d256, 32, h256);
	upk_hex_encode(d512, 64, h512);
	*out = json_pack("{s:s, s:s}", "sha256", h256, "sha512", h512);
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	return UPK_OK;
}

/* Sign md with every --<role>-key and check the role's threshold in the new root. */
static upk_status sign_online(struct publish *p, const char *role, struct upk_metadata *md,
			      struct upk_error *err)
{
	char opt[32], where[48];
	char *const *files;
	size_t n;
	struct upk_role_keys rk;
	struct upk_sigcheck chk = {0, 0};
	upk_status ret;

	snprintf(opt, sizeof(opt), "%s-key", role);
	files = cli_opt_all(p->args, opt, &n);
	if (n == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "publish needs a new %s v%" PRId64 ": give --%s FILE", role,
				     upk_metadata_version(md), opt);
	ret = upk_root_role(p->st->root, role, &rk, err);
	for (size_t i = 0; ret == UPK_OK && i < n; i++) {
		struct upk_key *key = NULL;
		char keyid[UPK_KEYID_HEX_LEN + 1];
		int allowed = 0;

		ret = cli_load_key(files[i], cli_opt(p->args, "passphrase-file"), 1, &key, err);
		if (ret == UPK_OK)
			ret = upk_key_id(key, keyid, err);
		for (size_t k = 0; ret == UPK_OK && k < rk.n_keyids; k++)
			allowed |= strcmp(rk.keyids[k], keyid) == 0;
		if (ret == UPK_OK && !allowed)
			ret = upk_error_set(err, UPK_ERR_SIGNATURE,
					    "--%s %s (key %.16s...) is not a %s key of root v%" PRId64,
					    opt, files[i], keyid, role,
					    upk_metadata_version(p->st->root));
		if (ret == UPK_OK)
			ret = upk_metadata_sign(md, key, err);
		upk_key_free(key);
	}
	if (ret != UPK_OK)
		return ret;
	snprintf(where, sizeof(where), "root v%" PRId64, upk_metadata_version(p->st->root));
	ret = upk_verify_role(p->st->root, role, md, &chk, err);
	if (ret != UPK_OK)
		return threshold_error(role, md, ret, &chk, where, p->st->dir, err);
	return UPK_OK;
}

static upk_status when_opt(struct publish *p, const char *role, time_t *out,
			   struct upk_error *err)
{
	char opt[32];
	const char *v;

	snprintf(opt, sizeof(opt), "%s-expires", role);
	v = cli_opt(p->args, opt);
	if (v == NULL)
		return stage_default_expiry(p->st, role, out, err);
	return cli_parse_when(v, p->st->now, out, err);
}

static upk_status make_snapshot(struct publish *p, time_t ts_expires, struct upk_error *err)
{
	struct upk_metadata *prev = NULL;
	int need = p->root_changed || cli_flag(p->args, "refresh-snapshot");
	time_t expires;
	upk_status ret;

	ret = stage_load_published(p->st, "snapshot", &prev, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		need = 1;
		ret = UPK_OK;
	}
	if (ret != UPK_OK)
		return ret;
	for (size_t i = 0; prev != NULL && i < p->n_roles && !need; i++) {
		struct upk_metafile mf;
		char file[80];

		snprintf(file, sizeof(file), "%s.json", p->roles[i].name);
		if (upk_meta_find(prev, file, &mf, NULL) != UPK_OK ||
		    mf.version != upk_metadata_version(p->roles[i].md))
			need = 1;
	}
	/* A snapshot must outlive the timestamp that points at it, or clients fail in between. */
	if (prev != NULL && upk_metadata_expires(prev) < ts_expires)
		need = 1;
	if (!need) {
		p->snap = prev;
		return read_published(p->st, "snapshot.json", &p->snap_bytes, &p->snap_len, err);
	}
	p->snap_changed = 1;
	ret = when_opt(p, "snapshot", &expires, err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_SNAPSHOT, expires, &p->snap, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(p->snap, prev ? upk_metadata_version(prev) + 1 : 1,
					       err);
	/*
	 * Roles dropped since (a revoked delegation) stay listed at their last
	 * version: TUF clients refuse a snapshot that forgets a role they know.
	 */
	for (size_t i = 0; ret == UPK_OK && prev != NULL && i < upk_meta_count(prev); i++) {
		struct upk_metafile mf;

		ret = upk_meta_at(prev, i, &mf, err);
		if (ret == UPK_OK)
			ret = upk_meta_set(p->snap, mf.name, mf.version, mf.length, mf.hashes, err);
	}
	for (size_t i = 0; ret == UPK_OK && i < p->n_roles; i++) {
		json_t *h = NULL;
		char file[80];

		snprintf(file, sizeof(file), "%s.json", p->roles[i].name);
		ret = bytes_hashes(p->roles[i].bytes, p->roles[i].len, &h, err);
		if (ret == UPK_OK)
			ret = upk_meta_set(p->snap, file, upk_metadata_version(p->roles[i].md),
					   (int64_t)p->roles[i].len, h, err);
		json_decref(h);
	}
	if (ret == UPK_OK)
		ret = sign_online(p, "snapshot", p->snap, err);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(p->snap, 1, &p->snap_bytes, &p->snap_len, err);
	upk_metadata_free(prev);
	return ret;
}

static upk_status make_timestamp(struct publish *p, time_t expires, struct upk_error *err)
{
	struct upk_metadata *prev = NULL;
	json_t *h = NULL;
	upk_status ret;

	ret = stage_load_published(p->st, "timestamp", &prev, err);
	if (ret == UPK_ERR_NOT_FOUND)
		ret = UPK_OK;
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_TIMESTAMP, expires, &p->ts, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(p->ts, prev ? upk_metadata_version(prev) + 1 : 1,
					       err);
	if (ret == UPK_OK)
		ret = bytes_hashes(p->snap_bytes, p->snap_len, &h, err);
	if (ret == UPK_OK)
		ret = upk_meta_set(p->ts, "snapshot.json", upk_metadata_version(p->snap),
				   (int64_t)p->snap_len, h, err);
	if (ret == UPK_OK)
		ret = sign_online(p, "timestamp", p->ts, err);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(p->ts, 1, &p->ts_bytes, &p->ts_len, err);
	json_decref(h);
	upk_metadata_free(prev);
	return ret;
}

/* Write PUBDIR/metadata/<file> unless it already holds exactly these bytes. */
static upk_status write_meta(struct publish *p, const char *file, const char *bytes, size_t len,
			     struct upk_error *err)
{
	char *path = NULL, *old = NULL;
	size_t old_len = 0;
	upk_status ret;

	if (asprintf(&path, "%s/metadata/%s", p->out, file) < 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (cli_read_file(path, CLI_MAX_FILE, &old, &old_len, NULL) == UPK_OK &&
	    old_len == len && memcmp(old, bytes, len) == 0)
		ret = UPK_OK;
	else
		ret = cli_write_atomic(path, bytes, len, 0644, err);
	free(old);
	free(path);
	return ret;
}

static int64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* Copy one payload to its hash-prefixed names, checking it still matches its entry. */
static upk_status publish_target(struct publish *p, const struct upk_target *t,
				 struct upk_error *err)
{
	const char *h256 = json_string_value(json_object_get(t->hashes, "sha256"));
	const char *h512 = json_string_value(json_object_get(t->hashes, "sha512"));
	char *src = stage_path(p->st, "targets", t->path);
	char *n256 = NULL, *n512 = NULL, *d256 = NULL, *d512 = NULL;
	struct cli_file_digest dg;
	upk_status ret = UPK_OK;

	if (src == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (h256 == NULL) {
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "target %.200s has no sha256 hash; add it again", t->path);
		goto out;
	}
	n256 = stage_hashed_target_name(t->path, h256);
	n512 = h512 ? stage_hashed_target_name(t->path, h512) : NULL;
	if (n256 == NULL || (h512 && n512 == NULL) ||
	    asprintf(&d256, "%s/targets/%s", p->out, n256) < 0 ||
	    (n512 && asprintf(&d512, "%s/targets/%s", p->out, n512) < 0)) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Names carry the content hash, so a file of the right size was written by us before. */
	if (file_size(d256) != t->length) {
		ret = cli_copy_hashed(src, d256, &dg, err);
		if (ret != UPK_OK)
			goto out;
		if (dg.length != t->length || strcmp(dg.sha256, h256) != 0 ||
		    (h512 && strcmp(dg.sha512, h512) != 0)) {
			unlink(d256);
			ret = upk_error_set(err, UPK_ERR_HASH,
					    "publish refused: payload %s no longer matches target "
					    "%.200s (length %" PRId64 ", sha256 %.16s...); add it again",
					    src, t->path, dg.length, dg.sha256);
			goto out;
		}
		p->n_files++;
	}
	/* Clients may prefix with any listed hash: give each its name (a hard link costs nothing). */
	if (d512 != NULL && file_size(d512) != t->length) {
		unlink(d512);
		if (link(d256, d512) != 0)
			ret = cli_copy_hashed(d256, d512, &dg, err);
	}
out:
	free(src);
	free(n256);
	free(n512);
	free(d256);
	free(d512);
	return ret;
}

static upk_status write_all(struct publish *p, struct upk_error *err)
{
	struct stage *st = p->st;
	int64_t rv = upk_metadata_version(st->root);
	char *dir = NULL, file[96];
	upk_status ret;

	if (asprintf(&dir, "%s/metadata", p->out) < 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = cli_mkdirs(dir, err);
	free(dir);
	dir = NULL;
	if (ret == UPK_OK && asprintf(&dir, "%s/targets", p->out) < 0)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (ret == UPK_OK)
		ret = cli_mkdirs(dir, err);
	free(dir);
	/* Payloads first, then what points at them, timestamp last: readers never dangle. */
	for (size_t i = 0; ret == UPK_OK && i < p->n_roles; i++) {
		for (size_t k = 0; ret == UPK_OK && k < upk_targets_count(p->roles[i].md); k++) {
			struct upk_target t;

			ret = upk_targets_at(p->roles[i].md, k, &t, err);
			if (ret == UPK_OK)
				ret = publish_target(p, &t, err);
		}
	}
	for (size_t i = 0; ret == UPK_OK && i < p->n_roles; i++) {
		snprintf(file, sizeof(file), "%" PRId64 ".%s.json",
			 upk_metadata_version(p->roles[i].md), p->roles[i].name);
		ret = write_meta(p, file, p->roles[i].bytes, p->roles[i].len, err);
	}
	/* Every root version, so a client that trusts any of them can walk the chain. */
	for (int64_t v = 1; ret == UPK_OK && v <= rv; v++) {
		char *bytes = NULL;
		size_t len = 0;

		snprintf(file, sizeof(file), "%" PRId64 ".root.json", v);
		if (v == rv) {
			ret = write_meta(p, file, p->root_bytes, p->root_len, err);
			continue;
		}
		ret = read_published(st, file, &bytes, &len, err);
		if (ret == UPK_OK)
			ret = write_meta(p, file, bytes, len, err);
		free(bytes);
	}
	if (ret == UPK_OK)
		ret = write_meta(p, "root.json", p->root_bytes, p->root_len, err);
	snprintf(file, sizeof(file), "%" PRId64 ".snapshot.json", upk_metadata_version(p->snap));
	if (ret == UPK_OK)
		ret = write_meta(p, file, p->snap_bytes, p->snap_len, err);
	if (ret == UPK_OK)
		ret = write_meta(p, "timestamp.json", p->ts_bytes, p->ts_len, err);
	return ret;
}

/* Record what was published: the next staging round bumps versions against it. */
static upk_status save_state(struct publish *p, struct upk_error *err)
{
	struct stage *st = p->st;
	char file[96];
	char *path = NULL;
	upk_status ret = UPK_OK;

#define SAVE(name, bytes, len)                                                                  \
	do {                                                                                    \
		path = stage_path(st, "published", (name));                                     \
		ret = path ? cli_write_atomic(path, (bytes), (len), 0644, err)                  \
			   : upk_error_set(err, UPK_ERR_NOMEM, "out of memory");                \
		free(path);                                                                     \
	} while (0)

	if (p->root_changed) {
		snprintf(file, sizeof(file), "%" PRId64 ".root.json",
			 upk_metadata_version(st->root));
		SAVE(file, p->root_bytes, p->root_len);
	}
	for (size_t i = 0; ret == UPK_OK && i < p->n_roles; i++) {
		if (!p->roles[i].changed)
			continue;
		snprintf(file, sizeof(file), "%s.json", p->roles[i].name);
		SAVE(file, p->roles[i].bytes, p->roles[i].len);
	}
	if (ret == UPK_OK && p->snap_changed)
		SAVE("snapshot.json", p->snap_bytes, p->snap_len);
	if (ret == UPK_OK)
		SAVE("timestamp.json", p->ts_bytes, p->ts_len);
#undef SAVE
	return ret;
}

static const struct cli_opt publish_opts[] = {
	{"out", "PUBDIR", "the directory clients are served from (required)", 0},
	{"snapshot-key", "FILE", "private snapshot key (when a new snapshot is needed)",
	 CLI_OPT_REPEAT},
	{"timestamp-key", "FILE", "private timestamp key (needed at every publish)", CLI_OPT_REPEAT},
	{"passphrase-file", "FILE", "passphrase of encrypted key files", 0},
	{"snapshot-expires", "WHEN", "expiry of a new snapshot (default: the configured period)", 0},
	{"timestamp-expires", "WHEN", "expiry of the new timestamp (default: the configured period)",
	 0},
	{"refresh-snapshot", NULL, "make a new snapshot even if no targets role changed", 0},
	{"allow-expired", NULL, "publish expired roles anyway (only to build test repositories)", 0},
	{"json", NULL, "print what was published as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec publish_spec = {
	"upkeep publish DIR --out PUBDIR --timestamp-key FILE [--snapshot-key FILE] [options]",
	"Check the staged repository DIR and write it to PUBDIR with consistent snapshots:\n"
	"PUBDIR/metadata/N.root.json (every version), N.targets.json, N.<role>.json,\n"
	"N.snapshot.json, timestamp.json and root.json, and PUBDIR/targets/<dir>/<SHA256>.<name>\n"
	"(and <SHA512>.<name>). Refused, with nothing written, when a role lacks its\n"
	"threshold (a new root needs the published root's threshold and its own), is expired,\n"
	"or a payload changed. Snapshot is re-made when a targets role or the root changed\n"
	"(or it would expire before the new timestamp); timestamp is re-made every time.",
	publish_opts, 1, 1,
};

int cmd_publish(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct publish p;
	char **names = NULL;
	size_t n = 0;
	time_t ts_expires;
	enum cli_parse_result pr = cli_parse(&publish_spec, argc, argv, &a);
	upk_status ret;

	memset(&p, 0, sizeof(p));
	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	p.args = &a;
	p.out = cli_opt(&a, "out");
	p.allow_expired = cli_flag(&a, "allow-expired");
	if (p.out == NULL) {
		ret = upk_error_set(&err, UPK_ERR_INVALID, "publish needs --out PUBDIR");
		goto out;
	}
	ret = stage_open(a.pos[0], &p.st, &err);
	if (ret == UPK_OK)
		ret = check_root(&p, &err);
	if (ret == UPK_OK)
		ret = stage_targets_roles(p.st, &names, &n, &err);
	if (ret == UPK_OK) {
		p.roles = calloc(n ? n : 1, sizeof(*p.roles));
		if (p.roles == NULL)
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; ret == UPK_OK && i < n; i++)
		ret = check_targets_role(&p, names[i], &err);
	if (ret == UPK_OK)
		ret = when_opt(&p, "timestamp", &ts_expires, &err);
	if (ret == UPK_OK && ts_expires <= p.st->now && !p.allow_expired)
		ret = upk_error_set(&err, UPK_ERR_EXPIRED,
				    "publish refused: --timestamp-expires is in the past");
	if (ret == UPK_OK)
		ret = make_snapshot(&p, ts_expires, &err);
	if (ret == UPK_OK)
		ret = make_timestamp(&p, ts_expires, &err);
	if (ret == UPK_OK)
		ret = write_all(&p, &err);
	if (ret == UPK_OK)
		ret = save_state(&p, &err);
	if (ret != UPK_OK)
		goto out;
	if (cli_flag(&a, "json")) {
		json_t *roles = json_object();

		for (size_t i = 0; roles != NULL && i < p.n_roles; i++)
			json_object_set_new(roles, p.roles[i].name,
					    json_integer(upk_metadata_version(p.roles[i].md)));
		json_object_set_new(roles, "root", json_integer(upk_metadata_version(p.st->root)));
		json_object_set_new(roles, "snapshot", json_integer(upk_metadata_version(p.snap)));
		json_object_set_new(roles, "timestamp", json_integer(upk_metadata_version(p.ts)));
		ret = cli_print_json(json_pack("{s:s, s:o, s:I}", "out", p.out, "versions", roles,
					       "new_target_files", (json_int_t)p.n_files),
				     &err);
	} else {
		printf("published to %s:\n", p.out);
		printf("  root       v%" PRId64 "%s\n", upk_metadata_version(p.st->root),
		       p.root_changed ? " (new)" : "");
		for (size_t i = 0; i < p.n_roles; i++)
			printf("  %-10s v%" PRId64 "%s\n", p.roles[i].name,
			       upk_metadata_version(p.roles[i].md), p.roles[i].changed ? " (new)" : "");
		printf("  snapshot   v%" PRId64 "%s\n", upk_metadata_version(p.snap),
		       p.snap_changed ? " (new)" : "");
		printf("  timestamp  v%" PRId64 " (new)\n", upk_metadata_version(p.ts));
		printf("  %zu new target file(s)\n", p.n_files);
	}
out:
	stage_names_free(names, n);
	publish_free(&p);
	stage_free(p.st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
