/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep verify`: check a published repository the way a client would,
 * starting from a root the user trusts: the root chain (each version signed
 * by the previous root's threshold and its own), timestamp, snapshot,
 * targets, delegated roles (versions, lengths, hashes, expiry), and then
 * every target file. The first problem is reported with role and file.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"
#include "upkeep/target_info.h"

#define MAX_ROOT_STEPS 10000 /* bounds the walk however many root files a server offers */

struct vrole {
	char *name;
	struct upk_metadata *md;
};

struct verify {
	const char *pub;
	time_t now;
	int consistent;
	struct upk_metadata *root; /* the newest trusted root */
	int64_t first_root;
	struct upk_metadata *ts, *snap;
	struct vrole *roles;
	size_t n_roles, cap_roles;
	json_t *targets; /* report entries */
};

static void verify_free(struct verify *v)
{
	upk_metadata_free(v->root);
	upk_metadata_free(v->ts);
	upk_metadata_free(v->snap);
	for (size_t i = 0; i < v->n_roles; i++) {
		free(v->roles[i].name);
		upk_metadata_free(v->roles[i].md);
	}
	free(v->roles);
	json_decref(v->targets);
}

static upk_status read_meta(struct verify *v, const char *file, char **out, size_t *len,
			    struct upk_error *err)
{
	char *path = NULL;
	upk_status ret;

	if (asprintf(&path, "%s/metadata/%s", v->pub, file) < 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = cli_read_file(path, CLI_MAX_FILE, out, len, err);
	free(path);
	return ret;
}

static upk_status check_fresh(struct verify *v, const char *file, struct upk_metadata *md,
			      struct upk_error *err)
{
	char exp[21];

	if (!upk_metadata_is_expired(md, v->now))
		return UPK_OK;
	upk_time_format(upk_metadata_expires(md), exp);
	return upk_error_set(err, UPK_ERR_EXPIRED, "%s: %s v%" PRId64 " expired at %s", file,
			     upk_role_type_name(upk_metadata_type(md)), upk_metadata_version(md),
			     exp);
}

static upk_status sig_error(const char *file, const char *what, upk_status ret,
			    const struct upk_sigcheck *chk, struct upk_error *err)
{
	if (ret == UPK_ERR_SIGNATURE)
		return upk_error_set(err, ret, "%s: %u of %u signatures from %s", file, chk->valid,
				     chk->threshold, what);
	return upk_error_prefix(err, ret, "%s: ", file);
}

static upk_status walk_root_chain(struct verify *v, struct upk_error *err)
{
	struct upk_sigcheck chk = {0, 0};
	char what[64];
	upk_status ret;

	snprintf(what, sizeof(what), "its own root keys");
	ret = upk_verify_role(v->root, "root", v->root, &chk, err);
	if (ret != UPK_OK)
		return sig_error("trusted root", what, ret, &chk, err);
	v->first_root = upk_metadata_version(v->root);
	for (int step = 0; step < MAX_ROOT_STEPS; step++) {
		int64_t next = upk_metadata_version(v->root) + 1;
		struct upk_metadata *md = NULL;
		char file[48], *text = NULL;
		size_t len = 0;

		snprintf(file, sizeof(file), "%" PRId64 ".root.json", next);
		ret = read_meta(v, file, &text, &len, err);
		if (ret == UPK_ERR_NOT_FOUND) {
			ret = UPK_OK; /* the newest root: the chain ends here */
			break;
		}
		if (ret == UPK_OK)
			ret = upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &md, err);
		free(text);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: ", file);
		if (upk_metadata_version(md) != next) {
			ret = upk_error_set(err, UPK_ERR_ROLLBACK, "%s holds root v%" PRId64, file,
					    upk_metadata_version(md));
			upk_metadata_free(md);
			return ret;
		}
		/* Rotation: the trusted root vouches for the next one, which must also stand alone. */
		snprintf(what, sizeof(what), "the root keys of root v%" PRId64,
			 upk_metadata_version(v->root));
		ret = upk_verify_role(v->root, "root", md, &chk, err);
		if (ret != UPK_OK) {
			sig_error(file, what, ret, &chk, err);
			upk_metadata_free(md);
			return ret;
		}
		ret = upk_verify_role(md, "root", md, &chk, err);
		if (ret != UPK_OK) {
			sig_error(file, "its own root keys", ret, &chk, err);
			upk_metadata_free(md);
			return ret;
		}
		upk_metadata_free(v->root);
		v->root = md;
	}
	/* A repository whose newest root is older than what we trust has been rolled back. */
	{
		char *text = NULL;
		size_t len = 0;
		struct upk_metadata *latest = NULL;

		if (read_meta(v, "root.json", &text, &len, NULL) == UPK_OK &&
		    upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &latest, NULL) == UPK_OK &&
		    upk_metadata_version(latest) < upk_metadata_version(v->root)) {
			ret = upk_error_set(err, UPK_ERR_ROLLBACK,
					    "root.json: root v%" PRId64
					    " is older than the trusted root v%" PRId64 " (rollback)",
					    upk_metadata_version(latest), upk_metadata_version(v->root));
		}
		upk_metadata_free(latest);
		free(text);
		if (ret != UPK_OK)
			return ret;
	}
	v->consistent = upk_root_consistent_snapshot(v->root);
	return check_fresh(v, "root", v->root, err);
}

/* Check bytes against a snapshot/timestamp entry: length and every hash we know. */
static upk_status check_bytes(const char *file, const char *bytes, size_t len,
			      const struct upk_metafile *mf, struct upk_error *err)
{
	const char *alg;
	json_t *hv;

	if (mf->length >= 0 && (int64_t)len != mf->length)
		return upk_error_set(err, UPK_ERR_HASH,
				     "%s: %zu bytes, but %" PRId64 " are listed for it", file, len,
				     mf->length);
	if (mf->hashes == NULL)
		return UPK_OK;
	json_object_foreach((json_t *)mf->hashes, alg, hv) {
		enum upk_hash_alg a;
		uint8_t d[UPK_HASH_MAX_LEN];
		char hex[2 * UPK_HASH_MAX_LEN + 1];
		upk_status ret;

		if (upk_hash_alg_from_name(alg, &a, NULL) != UPK_OK)
			continue;
		ret = upk_hash_buf(a, bytes, len, d, err);
		if (ret != UPK_OK)
			return ret;
		upk_hex_encode(d, upk_hash_alg_len(a), hex);
		if (!json_is_string(hv) || strcmp(hex, json_string_value(hv)) != 0)
			return upk_error_set(err, UPK_ERR_HASH, "%s: %s does not match the listed hash",
					     file, alg);
	}
	return UPK_OK;
}

/* Load "name" listed in `listing` (timestamp or snapshot) and check bytes and version. */
static upk_status load_listed(struct verify *v, struct upk_metadata *listing, const char *name,
			      enum upk_role_type type, struct upk_metadata **out, char file[128],
			      struct upk_error *err)
{
	struct upk_metafile mf;
	char entry[96], *text = NULL;
	size_t len = 0;
	upk_status ret;

	snprintf(entry, sizeof(entry), "%s.json", name);
	ret = upk_meta_find(listing, entry, &mf, err);
	if (ret != UPK_OK)
		return upk_error_set(err, ret, "%s v%" PRId64 " does not list %s",
				     upk_role_type_name(upk_metadata_type(listing)),
				     upk_metadata_version(listing), entry);
	if (v->consistent)
		snprintf(file, 128, "%" PRId64 ".%s.json", mf.version, name);
	else
		snprintf(file, 128, "%s.json", name);
	ret = read_meta(v, file, &text, &len, err);
	if (ret == UPK_OK)
		ret = check_bytes(file, text, len, &mf, err);
	if (ret == UPK_OK) {
		ret = upk_metadata_parse(text, len, type, NULL, out, err);
		if (ret != UPK_OK)
			upk_error_prefix(err, ret, "%s: ", file);
	}
	free(text);
	if (ret != UPK_OK)
		return ret;
	if (upk_metadata_version(*out) != mf.version) {
		ret = upk_error_set(err, UPK_ERR_ROLLBACK,
				    "%s: holds %s v%" PRId64 " but %s lists v%" PRId64
				    " (rollback or mix-and-match)",
				    file, name, upk_metadata_version(*out),
				    upk_role_type_name(upk_metadata_type(listing)), mf.version);
		upk_metadata_free(*out);
		*out = NULL;
	}
	return ret;
}

static upk_status add_role(struct verify *v, const char *name, struct upk_metadata *md,
			   struct upk_error *err)
{
	if (v->n_roles == v->cap_roles) {
		size_t cap = v->cap_roles ? v->cap_roles * 2 : 8;
		struct vrole *nr = realloc(v->roles, cap * sizeof(*nr));

		if (nr == NULL)
			return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		v->roles = nr;
		v->cap_roles = cap;
	}
	v->roles[v->n_roles].name = strdup(name);
	if (v->roles[v->n_roles].name == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	v->roles[v->n_roles].md = md;
	v->n_roles++;
	return UPK_OK;
}

static int have_role(const struct verify *v, const char *name)
{
	for (size_t i = 0; i < v->n_roles; i++) {
		if (strcmp(v->roles[i].name, name) == 0)
			return 1;
	}
	return 0;
}

/* Delegated roles in preorder; each is loaded once, checked against its first delegator. */
static upk_status walk_delegations(struct verify *v, struct upk_metadata *parent,
				   const char *parent_name, unsigned depth, struct upk_error *err)
{
	upk_status ret = UPK_OK;

	if (depth > 32)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "delegations nested deeper than 32");
	for (size_t i = 0; ret == UPK_OK && i < upk_delegations_count(parent); i++) {
		struct upk_delegation d;
		struct upk_metadata *md = NULL;
		struct upk_sigcheck chk = {0, 0};
		char file[128], what[128];

		ret = upk_delegation_at(parent, i, &d, err);
		if (ret != UPK_OK || have_role(v, d.name))
			continue;
		ret = load_listed(v, v->snap, d.name, UPK_ROLE_TARGETS, &md, file, err);
		if (ret != UPK_OK)
			return ret;
		snprintf(what, sizeof(what), "the keys %.40s delegates to %.40s", parent_name,
			 d.name);
		ret = upk_verify_delegated(parent, d.name, md, &chk, err);
		if (ret != UPK_OK) {
			upk_metadata_free(md);
			return sig_error(file, what, ret, &chk, err);
		}
		ret = check_fresh(v, file, md, err);
		if (ret == UPK_OK)
			ret = add_role(v, d.name, md, err);
		if (ret != UPK_OK) {
			upk_metadata_free(md);
			return ret;
		}
		ret = walk_delegations(v, md, d.name, depth + 1, err);
	}
	return ret;
}

static upk_status check_target(struct verify *v, const char *role, struct upk_metadata *parent,
			       const struct upk_target *t, struct upk_error *err)
{
	const char *h256 = json_string_value(json_object_get(t->hashes, "sha256"));
	const char *h512 = json_string_value(json_object_get(t->hashes, "sha512"));
	struct cli_file_digest dg;
	char *name = NULL, *path = NULL;
	upk_status ret = UPK_OK;

	if (parent != NULL) {
		struct upk_delegation d;

		ret = upk_delegation_find(parent, role, &d, err);
		if (ret == UPK_OK && !upk_delegation_covers(&d, t->path))
			return upk_error_set(err, UPK_ERR_SIGNATURE,
					     "role %s lists \"%.200s\" outside its delegated paths",
					     role, t->path);
	}
	if (t->custom != NULL && json_object_get(t->custom, "upkeep") != NULL) {
		struct upk_target_info *info = NULL;

		ret = upk_target_info_parse(t->custom, &info, err);
		upk_target_info_free(info);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "%s: target %.200s: ", role, t->path);
	}
	if (h256 == NULL && h512 == NULL)
		return upk_error_set(err, UPK_ERR_UNSUPPORTED,
				     "%s: target %.200s has neither a sha256 nor a sha512 hash", role,
				     t->path);
	name = v->consistent ? stage_hashed_target_name(t->path, h256 ? h256 : h512)
			     : strdup(t->path);
	if (name == NULL || asprintf(&path, "%s/targets/%s", v->pub, name) < 0) {
		free(name);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	ret = cli_copy_hashed(path, NULL, &dg, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "target %.200s: ", t->path);
	else if (dg.length != t->length)
		ret = upk_error_set(err, UPK_ERR_HASH,
				    "target %.200s: %s has %" PRId64 " bytes, %s lists %" PRId64,
				    t->path, name, dg.length, role, t->length);
	else if ((h256 && strcmp(h256, dg.sha256) != 0) || (h512 && strcmp(h512, dg.sha512) != 0))
		ret = upk_error_set(err, UPK_ERR_HASH,
				    "target %.200s: %s does not match the hash %s lists (sha256 "
				    "%.16s...)",
				    t->path, name, role, dg.sha256);
	if (ret == UPK_OK) {
		json_t *e = json_pack("{s:s, s:s, s:I}", "path", t->path, "role", role, "length",
				      (json_int_t)t->length);

		if (e == NULL || json_array_append_new(v->targets, e) != 0)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	free(name);
	free(path);
	return ret;
}

static upk_status run_verify(struct verify *v, const char *trusted, struct upk_error *err)
{
	struct upk_metadata *targets = NULL;
	struct upk_sigcheck chk = {0, 0};
	struct upk_metafile mf;
	char *text = NULL, file[128];
	size_t len = 0;
	upk_status ret;

	ret = cli_read_file(trusted, CLI_MAX_FILE, &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &v->root, err);
	free(text);
	text = NULL;
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "trusted root %s: ", trusted);
	ret = walk_root_chain(v, err);
	if (ret != UPK_OK)
		return ret;

	ret = read_meta(v, "timestamp.json", &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, UPK_ROLE_TIMESTAMP, NULL, &v->ts, err);
	free(text);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "timestamp.json: ");
	ret = upk_verify_role(v->root, "timestamp", v->ts, &chk, err);
	if (ret != UPK_OK)
		return sig_error("timestamp.json", "the timestamp keys", ret, &chk, err);
	ret = check_fresh(v, "timestamp.json", v->ts, err);
	if (ret != UPK_OK)
		return ret;
	if (upk_meta_find(v->ts, "snapshot.json", &mf, NULL) != UPK_OK)
		return upk_error_set(err, UPK_ERR_INVALID, "timestamp.json lists no snapshot.json");

	ret = load_listed(v, v->ts, "snapshot", UPK_ROLE_SNAPSHOT, &v->snap, file, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_verify_role(v->root, "snapshot", v->snap, &chk, err);
	if (ret != UPK_OK)
		return sig_error(file, "the snapshot keys", ret, &chk, err);
	ret = check_fresh(v, file, v->snap, err);
	if (ret != UPK_OK)
		return ret;

	ret = load_listed(v, v->snap, "targets", UPK_ROLE_TARGETS, &targets, file, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_verify_role(v->root, "targets", targets, &chk, err);
	if (ret != UPK_OK) {
		upk_metadata_free(targets);
		return sig_error(file, "the targets keys", ret, &chk, err);
	}
	ret = check_fresh(v, file, targets, err);
	if (ret == UPK_OK)
		ret = add_role(v, "targets", targets, err);
	if (ret != UPK_OK) {
		upk_metadata_free(targets);
		return ret;
	}
	ret = walk_delegations(v, targets, "targets", 0, err);

	/* Targets last: metadata problems are reported before any payload is read. */
	for (size_t i = 0; ret == UPK_OK && i < v->n_roles; i++) {
		struct upk_metadata *parent = NULL;

		for (size_t j = 0; j < i && parent == NULL; j++) {
			struct upk_delegation d;

			if (upk_delegation_find(v->roles[j].md, v->roles[i].name, &d, NULL) == UPK_OK)
				parent = v->roles[j].md;
		}
		for (size_t k = 0; ret == UPK_OK && k < upk_targets_count(v->roles[i].md); k++) {
			struct upk_target t;

			ret = upk_targets_at(v->roles[i].md, k, &t, err);
			if (ret == UPK_OK)
				ret = check_target(v, v->roles[i].name, parent, &t, err);
		}
	}
	return ret;
}

static const struct cli_opt verify_opts[] = {
	{"root", "FILE", "a root.json you trust (e.g. the one shipped on devices); required", 0},
	{"json", NULL, "print the result as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec verify_spec = {
	"upkeep verify PUBDIR --root TRUSTED_ROOT.json [options]",
	"Verify the published repository PUBDIR as a client would, trusting only the given\n"
	"root: every newer root version (signed by the previous root's threshold and its\n"
	"own), timestamp, snapshot, targets and delegated roles (signatures, versions,\n"
	"lengths, hashes, expiry, delegated paths, custom.upkeep fields), and finally every\n"
	"target file's length and hashes. Exit status 0 only when all of it holds.",
	verify_opts, 1, 1,
};

int cmd_verify(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct verify v;
	enum cli_parse_result pr = cli_parse(&verify_spec, argc, argv, &a);
	upk_status ret;

	memset(&v, 0, sizeof(v));
	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	v.pub = a.pos[0];
	v.now = time(NULL);
	v.targets = json_array();
	if (cli_opt(&a, "root") == NULL)
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "verify needs --root TRUSTED_ROOT.json: trust has to start "
				    "somewhere");
	else if (v.targets == NULL)
		ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	else
		ret = run_verify(&v, cli_opt(&a, "root"), &err);
	if (ret != UPK_OK)
		upk_error_prefix(&err, ret, "%s: verification failed: ", v.pub);
	if (cli_flag(&a, "json")) {
		json_t *roles = json_object();
		upk_status pret;

		for (size_t i = 0; roles != NULL && i < v.n_roles; i++)
			json_object_set_new(roles, v.roles[i].name,
					    json_integer(upk_metadata_version(v.roles[i].md)));
		pret = cli_print_json(
			json_pack("{s:b, s:s?, s:I, s:I, s:I, s:I, s:o, s:O}", "ok", ret == UPK_OK,
				  "error", ret == UPK_OK ? NULL : err.msg, "trusted_root_version",
				  (json_int_t)v.first_root, "root_version",
				  (json_int_t)(v.root ? upk_metadata_version(v.root) : 0),
				  "timestamp_version",
				  (json_int_t)(v.ts ? upk_metadata_version(v.ts) : 0),
				  "snapshot_version",
				  (json_int_t)(v.snap ? upk_metadata_version(v.snap) : 0), "roles",
				  roles, "targets", v.targets),
			ret == UPK_OK ? &err : NULL);
		if (ret == UPK_OK)
			ret = pret;
	} else if (ret == UPK_OK) {
		printf("ok: root v%" PRId64 " (from trusted v%" PRId64 "), timestamp v%" PRId64
		       ", snapshot v%" PRId64,
		       upk_metadata_version(v.root), v.first_root, upk_metadata_version(v.ts),
		       upk_metadata_version(v.snap));
		for (size_t i = 0; i < v.n_roles; i++)
			printf(", %s v%" PRId64, v.roles[i].name, upk_metadata_version(v.roles[i].md));
		printf("; %zu target file(s) verified\n", json_array_size(v.targets));
	}
	verify_free(&v);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
