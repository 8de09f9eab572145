/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep sign` and `upkeep import`: the k-of-n workflow. Each key holder
 * adds one signature, either in a copy of the staging area or to a lone file
 * passed around; `import` merges signed copies back, accepting only
 * signatures that verify over exactly the staged content.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "stage.h"

/* Who may sign a staged role: its own keys, and for a pending root also the published root's. */
struct sign_auth {
	struct role_auth cur;
	struct role_auth prev;
	int have_prev;
};

static void sign_auth_free(struct sign_auth *s)
{
	role_auth_free(&s->cur);
	role_auth_free(&s->prev);
}

static upk_status sign_auth_load(struct stage *st, const char *role, struct upk_metadata *md,
				 struct sign_auth *out, struct upk_error *err)
{
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = stage_role_auth(st, role, 0, &out->cur, err);
	if (ret != UPK_OK)
		return ret;
	/*
	 * A new root must also carry a threshold of the previous root's keys (TUF
	 * root rotation), so those holders sign it too; it only applies while the
	 * staged root is ahead of the published one.
	 */
	if (strcmp(role, "root") == 0 && st->pub_root != NULL &&
	    upk_metadata_version(md) > upk_metadata_version(st->pub_root)) {
		ret = stage_role_auth(st, role, 1, &out->prev, err);
		if (ret != UPK_OK) {
			sign_auth_free(out);
			return ret;
		}
		out->have_prev = 1;
	}
	return UPK_OK;
}

static int sign_auth_allows(const struct sign_auth *s, const char *keyid)
{
	return role_auth_find(&s->cur, keyid) >= 0 ||
	       (s->have_prev && role_auth_find(&s->prev, keyid) >= 0);
}

static void print_progress(const char *role, struct upk_metadata *md, struct sign_auth *s)
{
	unsigned valid = 0;

	if (role_auth_check(&s->cur, md, &valid, NULL) == UPK_OK)
		printf("%s v%" PRId64 ": %u of %u signatures (keys of %s)", role,
		       upk_metadata_version(md), valid, s->cur.threshold, s->cur.where);
	if (s->have_prev && role_auth_check(&s->prev, md, &valid, NULL) == UPK_OK)
		printf("; %u of %u from the previous root's keys (%s)", valid, s->prev.threshold,
		       s->prev.where);
	printf("\n");
}

static const struct cli_opt sign_opts[] = {
	{"key", "FILE", "private key file of the signer", CLI_OPT_REPEAT},
	{"file", "FILE", "sign this metadata file in place instead of a staged role", 0},
	{"passphrase-file", "FILE", "passphrase of an encrypted key file", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec sign_spec = {
	"upkeep sign DIR ROLE --key FILE [options]  |  upkeep sign --file FILE --key FILE",
	"Add the signature of each --key to the staged role ROLE (root, targets or a\n"
	"delegated role) of the repository DIR. Only keys of the role are accepted; while a\n"
	"new root is staged, the published root's root keys may sign it too (rotation needs\n"
	"both thresholds). Targets roles are checked (custom.upkeep fields) before signing.\n"
	"With --file, sign a copy of a metadata file that was passed to you; send it back\n"
	"and the repository owner merges it with 'upkeep import'. Snapshot and timestamp are\n"
	"signed by 'upkeep publish', or with --file.",
	sign_opts, 0, 2,
};

static upk_status sign_with_keys(struct upk_metadata *md, const struct cli_args *a,
				 const struct sign_auth *auth, const char *role,
				 struct upk_error *err)
{
	char *const *files;
	size_t n;
	upk_status ret = UPK_OK;

	files = cli_opt_all(a, "key", &n);
	if (n == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "give the signing key with --key FILE");
	for (size_t i = 0; i < n && ret == UPK_OK; i++) {
		struct upk_key *key = NULL;
		char keyid[UPK_KEYID_HEX_LEN + 1];

		ret = cli_load_key(files[i], cli_opt(a, "passphrase-file"), 1, &key, err);
		if (ret == UPK_OK)
			ret = upk_key_id(key, keyid, err);
		if (ret == UPK_OK && auth != NULL && !sign_auth_allows(auth, keyid))
			ret = upk_error_set(err, UPK_ERR_SIGNATURE,
					    "%s (key %.16s...) is not a key of role %s (%s); not "
					    "signed",
					    files[i], keyid, role, auth->cur.where);
		if (ret == UPK_OK)
			ret = upk_metadata_sign(md, key, err);
		if (ret == UPK_OK)
			printf("signed %s v%" PRId64 " with key %s\n", role,
			       upk_metadata_version(md), keyid);
		upk_key_free(key);
	}
	return ret;
}

static upk_status sign_file(const struct cli_args *a, const char *file, struct upk_error *err)
{
	struct upk_metadata *md = NULL;
	char *text = NULL;
	size_t len = 0;
	const char *type;
	upk_status ret;

	ret = cli_read_file(file, CLI_MAX_FILE, &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, UPK_ROLE_ANY, NULL, &md, err);
	free(text);
	text = NULL;
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", file);
	type = upk_role_type_name(upk_metadata_type(md));
	if (upk_metadata_type(md) == UPK_ROLE_TARGETS)
		ret = stage_check_target_infos(md, file, err);
	if (ret == UPK_OK)
		ret = sign_with_keys(md, a, NULL, type, err);
	if (ret == UPK_OK)
		ret = upk_metadata_serialize(md, 1, &text, &len, err);
	if (ret == UPK_OK)
		ret = cli_write_atomic(file, text, len, 0644, err);
	if (ret == UPK_OK)
		printf("%s now carries %zu signature(s)\n", file, upk_metadata_signature_count(md));
	free(text);
	upk_metadata_free(md);
	return ret;
}

static int cmd_sign_main(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	struct upk_metadata *md = NULL;
	struct sign_auth auth;
	const char *role;
	enum cli_parse_result pr = cli_parse(&sign_spec, argc, argv, &a);
	upk_status ret;

	memset(&auth, 0, sizeof(auth));
	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	if (cli_opt(&a, "file") != NULL) {
		if (a.n_pos != 0)
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "--file signs one file: give no DIR or ROLE with it");
		else
			ret = sign_file(&a, cli_opt(&a, "file"), &err);
		goto out;
	}
	if (a.n_pos != 2) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "sign needs DIR and ROLE (or --file FILE); see 'upkeep sign "
				    "--help'");
		goto out;
	}
	role = a.pos[1];
	if (strcmp(role, "snapshot") == 0 || strcmp(role, "timestamp") == 0) {
		ret = upk_error_set(&err, UPK_ERR_INVALID,
				    "%s is made and signed by 'upkeep publish' (--%s-key FILE)", role,
				    role);
		goto out;
	}
	ret = stage_open(a.pos[0], &st, &err);
	if (ret == UPK_OK)
		ret = stage_load(st, role, &md, &err);
	if (ret == UPK_OK && upk_metadata_type(md) == UPK_ROLE_TARGETS)
		ret = stage_check_target_infos(md, role, &err);
	if (ret == UPK_OK)
		ret = sign_auth_load(st, role, md, &auth, &err);
	if (ret == UPK_OK)
		ret = sign_with_keys(md, &a, &auth, role, &err);
	if (ret == UPK_OK)
		ret = stage_save(st, role, md, &err);
	if (ret == UPK_OK)
		print_progress(role, md, &auth);
	/* Publishing republishes the exact published bytes of an unchanged version. */
	if (ret == UPK_OK && upk_metadata_version(md) <= stage_published_version(st, role))
		printf("note: %s v%" PRId64 " is already published; this signature is only "
		       "published with a new version (upkeep renew)\n",
		       role, upk_metadata_version(md));
out:
	sign_auth_free(&auth);
	upk_metadata_free(md);
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

int cmd_sign(int argc, char **argv)
{
	return cmd_sign_main(argc, argv);
}

/* ---- import ---- */

static const struct cli_opt import_opts[] = {
	{"role", "ROLE", "the staged role the files belong to (default: from the file name)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec import_spec = {
	"upkeep import DIR FILE... [options]",
	"Merge the signatures in FILE (a copy of a staged role signed elsewhere with\n"
	"'upkeep sign --file') into the staged role. The file's signed content must be\n"
	"byte for byte the staged one, and every new signature must verify with a key of\n"
	"the role, or nothing is imported. The role is the file's type (root) or its name\n"
	"without '.json' and a leading version ('3.vendor.json' is vendor), or --role.",
	import_opts, 2, 64,
};

/* "dir/3.vendor.json" -> "vendor". */
static char *role_from_filename(const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t digits = strspn(base, "0123456789");
	size_t len;

	if (digits > 0 && base[digits] == '.')
		base += digits + 1;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".json") == 0)
		len -= 5;
	return strndup(base, len);
}

static upk_status import_one(struct stage *st, const char *file, const char *role_opt,
			     struct upk_error *err)
{
	struct upk_metadata *in = NULL, *md = NULL, *merged = NULL;
	struct sign_auth auth;
	json_t *sigs = NULL, *in_sigs = NULL, *s;
	char *text = NULL, *role = NULL;
	const char *a_bytes, *b_bytes;
	size_t len = 0, a_len, b_len, i, added = 0;
	upk_status ret;

	memset(&auth, 0, sizeof(auth));
	ret = cli_read_file(file, CLI_MAX_FILE, &text, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, UPK_ROLE_ANY, NULL, &in, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", file);
		goto out;
	}
	switch (upk_metadata_type(in)) {
	case UPK_ROLE_ROOT: role = strdup("root"); break;
	case UPK_ROLE_TARGETS: role = role_opt ? strdup(role_opt) : role_from_filename(file); break;
	default:
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "%s: %s metadata is not staged; publish makes it", file,
				    upk_role_type_name(upk_metadata_type(in)));
		goto out;
	}
	if (role == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = stage_load(st, role, &md, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "%s: ", file);
		goto out;
	}
	ret = upk_metadata_signed_bytes(md, &a_bytes, &a_len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_signed_bytes(in, &b_bytes, &b_len, err);
	if (ret != UPK_OK)
		goto out;
	/* Signatures only mean something over the very bytes the other holders were shown. */
	if (a_len != b_len || memcmp(a_bytes, b_bytes, a_len) != 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "%s: its signed content differs from staged %s v%" PRId64
				    " (file has v%" PRId64 "); sign the current staged file",
				    file, role, upk_metadata_version(md), upk_metadata_version(in));
		goto out;
	}
	ret = stage_signatures(md, &sigs, err);
	if (ret == UPK_OK)
		ret = stage_signatures(in, &in_sigs, err);
	if (ret != UPK_OK)
		goto out;
	json_array_foreach(in_sigs, i, s) {
		const char *kid = json_string_value(json_object_get(s, "keyid"));
		int have = 0;
		size_t j;
		json_t *t;

		json_array_foreach(sigs, j, t) {
			if (kid && strcmp(kid, json_string_value(json_object_get(t, "keyid"))) == 0)
				have = 1;
		}
		if (have)
			continue;
		if (json_array_append(sigs, s) != 0) {
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = stage_with_signatures(md, sigs, &merged, err);
	if (ret == UPK_OK)
		ret = sign_auth_load(st, role, merged, &auth, err);
	if (ret != UPK_OK)
		goto out;
	{
		unsigned v;

		ret = role_auth_check(&auth.cur, merged, &v, err);
		if (ret == UPK_OK && auth.have_prev)
			ret = role_auth_check(&auth.prev, merged, &v, err);
		if (ret != UPK_OK)
			goto out;
	}
	/* Every signature that was not already staged must be a valid one by a key of the role. */
	json_array_foreach(in_sigs, i, s) {
		const char *kid = json_string_value(json_object_get(s, "keyid"));
		int kc = kid ? role_auth_find(&auth.cur, kid) : -1;
		int kp = kid && auth.have_prev ? role_auth_find(&auth.prev, kid) : -1;

		if ((kc >= 0 && auth.cur.valid[kc]) || (kp >= 0 && auth.prev.valid[kp]))
			continue;
		ret = upk_error_set(err, UPK_ERR_SIGNATURE,
				    "%s: the signature by key %.16s... %s; nothing imported", file,
				    kid ? kid : "(none)",
				    kc < 0 && kp < 0 ? "is not from a key of the role"
						     : "does not verify");
		goto out;
	}
	added = upk_metadata_signature_count(merged) - upk_metadata_signature_count(md);
	ret = stage_save(st, role, merged, err);
	if (ret != UPK_OK)
		goto out;
	printf("%s: %zu new signature(s) imported into %s\n", file, added, role);
	print_progress(role, merged, &auth);
out:
	sign_auth_free(&auth);
	json_decref(sigs);
	json_decref(in_sigs);
	free(text);
	free(role);
	upk_metadata_free(in);
	upk_metadata_free(md);
	upk_metadata_free(merged);
	return ret;
}

int cmd_import(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st = NULL;
	enum cli_parse_result pr = cli_parse(&import_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = stage_open(a.pos[0], &st, &err);
	for (size_t i = 1; ret == UPK_OK && i < a.n_pos; i++) {
		/* Reopen so that a root imported first is the root the next file is checked against. */
		stage_free(st);
		st = NULL;
		ret = stage_open(a.pos[0], &st, &err);
		if (ret == UPK_OK)
			ret = import_one(st, a.pos[i], cli_opt(&a, "role"), &err);
	}
	stage_free(st);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
