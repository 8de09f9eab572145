/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep transfer`: selling devices (docs/ownership.md). create writes the
 * two transfer roots (version N+1 of the seller's image and director chains,
 * naming the buyer's keys, carrying one upkeep_transfer record) into a
 * transfer directory with copies of both chains; the holders sign them with
 * `upkeep sign --file`; show says who signed; submit hands them to the server;
 * adopt makes the buyer's staging areas continue the chain.
 *
 *   TDIR/transfer.json               summary: record, key set, versions
 *   TDIR/image-root.json             image root N+1 (signatures accumulate)
 *   TDIR/director-root.json          director root M+1
 *   TDIR/image-chain/K.root.json     the seller's published image chain
 *   TDIR/director-chain/K.root.json  the seller's director chain
 *   TDIR/image-repo.json, director-repo.json   the seller's expiry periods
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"
#include "stage.h"
#include "upkeep/crypto.h"
#include "upkeep/json.h"
#include "upkeep/transfer.h"

#define TDIR_FORMAT 1

/* The two repositories, in the order the server names them. */
static const char *const REPO[2] = {"image", "director"};

/* ---- small file helpers ---- */

static upk_status load_md(const char *path, struct upk_metadata **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = cli_read_file(path, CLI_MAX_FILE, &text, &len, err);

	if (ret == UPK_OK)
		ret = upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, out, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", path);
	free(text);
	return ret;
}

static upk_status save_md(const char *path, const struct upk_metadata *md, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = upk_metadata_serialize(md, 1, &text, &len, err);

	if (ret == UPK_OK)
		ret = cli_write_atomic(path, text, len, 0644, err);
	free(text);
	return ret;
}

static upk_status load_json(const char *path, json_t **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = cli_read_file(path, CLI_MAX_FILE, &text, &len, err);

	if (ret == UPK_OK)
		ret = upk_json_parse(text, len, NULL, out, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", path);
	free(text);
	return ret;
}

static upk_status save_json(const char *path, const json_t *j, struct upk_error *err)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	upk_status ret = text == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
				      : cli_write_atomic(path, text, strlen(text), 0644, err);

	free(text);
	return ret;
}

static upk_status copy_file(const char *from, const char *to, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = cli_read_file(from, CLI_MAX_FILE, &text, &len, err);

	if (ret == UPK_OK)
		ret = cli_write_atomic(to, text, len, 0644, err);
	free(text);
	return ret;
}

/* "DIR/<fmt with one int64>" into out. */
static void path_v(char *out, size_t size, const char *dir, const char *sub, int64_t v)
{
	snprintf(out, size, "%s/%s/%" PRId64 ".root.json", dir, sub, v);
}

/* ---- the seller's chains ---- */

/*
 * The chain of a staging area: published/K.root.json from its first
 * version up to the newest. A staged root one version ahead that already
 * carries both thresholds (signed but not yet published) ends the chain
 * too, as does a staged first root signed by its own threshold.
 */
struct chain {
	int64_t first, last;
	int staged_last; /* the last version is staged/root.json */
	struct upk_metadata *newest;
};

static upk_status chain_find(struct stage *st, struct chain *c, struct upk_error *err)
{
	char path[4200];
	upk_status ret = UPK_OK;

	memset(c, 0, sizeof(*c));
	c->last = stage_published_version(st, "root");
	for (c->first = c->last; c->first > 1; c->first--) {
		path_v(path, sizeof(path), st->dir, "published", c->first - 1);
		if (!cli_exists(path))
			break;
	}
	if (c->last > 0)
		ret = upk_metadata_dup(st->pub_root, &c->newest, err);
	if (ret != UPK_OK)
		return ret;
	if (upk_metadata_version(st->root) == c->last + 1) {
		struct upk_error e = {0};
		int ok = upk_verify_role(st->root, "root", st->root, NULL, &e) == UPK_OK &&
			 (c->newest == NULL ||
			  upk_verify_role(c->newest, "root", st->root, NULL, &e) == UPK_OK);

		if (ok) {
			upk_metadata_free(c->newest);
			c->newest = NULL;
			ret = upk_metadata_dup(st->root, &c->newest, err);
			c->last++;
			c->staged_last = 1;
			if (c->first == 0)
				c->first = c->last;
		}
	}
	if (ret == UPK_OK && c->newest == NULL)
		ret = upk_error_set(err, UPK_ERR_NOT_FOUND,
				    "%s has no published or fully signed root: nothing to transfer "
				    "from",
				    st->dir);
	return ret;
}

/* Copy the chain's files into TDIR/<repo>-chain/, byte for byte. */
static upk_status chain_copy(struct stage *st, const struct chain *c, const char *tdir,
			     const char *repo, struct upk_error *err)
{
	char sub[32], dir[4200], from[4200], to[4200];
	upk_status ret;

	snprintf(sub, sizeof(sub), "%s-chain", repo);
	snprintf(dir, sizeof(dir), "%s/%s", tdir, sub);
	ret = cli_mkdirs(dir, err);
	for (int64_t v = c->first; v <= c->last && ret == UPK_OK; v++) {
		if (c->staged_last && v == c->last)
			snprintf(from, sizeof(from), "%s/staged/root.json", st->dir);
		else
			path_v(from, sizeof(from), st->dir, "published", v);
		path_v(to, sizeof(to), tdir, sub, v);
		ret = copy_file(from, to, err);
	}
	return ret;
}

/* ---- create ---- */

static const struct cli_opt create_opts[] = {
	{"image", "DIR", "the seller's image repository staging area", 0},
	{"director", "DIR", "the seller's director staging area", 0},
	{"from-fleet", "NAME", "the seller's fleet on the server", 0},
	{"to-fleet", "NAME", "the buyer's new fleet (must not exist yet)", 0},
	{"device", "ID", "a device id to sell (repeat; 1 to 1000)", CLI_OPT_REPEAT},
	{"root-key", "FILE", "a buyer root public key (repeat)", CLI_OPT_REPEAT},
	{"root-threshold", "K", "buyer root signatures needed (default 1)", 0},
	{"targets-key", "FILE", "a buyer targets public key (repeat)", CLI_OPT_REPEAT},
	{"targets-threshold", "K", "buyer targets signatures needed (default 1)", 0},
	{"keyset", "FILE", "the buyer's keyset.json from 'upkeep fleet keyset'", 0},
	{"expires", "WHEN", "expiry of both new roots (default 365d)", 0},
	{"out", "TDIR", "the transfer directory to write", 0},
	{"json", NULL, "print transfer.json instead of a summary", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec create_spec = {
	"upkeep transfer create --image DIR --director DIR --from-fleet F --to-fleet T --device ID... "
	"--root-key FILE... --targets-key FILE... --keyset FILE --out TDIR [options]",
	"Write the two transfer roots of a sale into TDIR, unsigned: version N+1 of the\n"
	"seller's image and director root chains (from the staging areas' published chains),\n"
	"naming the buyer's root keys and threshold, the buyer's targets keys in the image\n"
	"root, and the key set's online keys (image snapshot/timestamp; director\n"
	"targets/snapshot/timestamp). Both carry the same upkeep_transfer record with a\n"
	"fresh random id and the sorted device ids. TDIR also gets copies of both chains and\n"
	"transfer.json. Nothing changes anywhere until the roots are signed by the seller's\n"
	"root threshold AND the buyer's ('upkeep sign --file TDIR/image-root.json --key FILE',\n"
	"the same for director-root.json) and submitted ('upkeep transfer submit').",
	create_opts, 0, 0,
};

static upk_status parse_k(const char *text, const char *opt, size_t n_keys, unsigned *out,
			  struct upk_error *err)
{
	char *end = NULL;
	unsigned long v;

	if (text == NULL) {
		*out = 1;
		return UPK_OK;
	}
	v = strtoul(text, &end, 10);
	if (end == text || *end != '\0' || text[0] == '-' || v == 0 || v > n_keys)
		return upk_error_set(err, UPK_ERR_INVALID, "--%s %s: must be 1 to the %zu keys given",
				     opt, text, n_keys);
	*out = (unsigned)v;
	return UPK_OK;
}

static upk_status add_keys(struct upk_metadata *root, const char *role, char *const *files,
			   size_t n, unsigned threshold, struct upk_error *err)
{
	upk_status ret = UPK_OK;

	for (size_t i = 0; i < n && ret == UPK_OK; i++) {
		struct upk_key *k = NULL;

		ret = cli_load_key(files[i], NULL, 0, &k, err);
		if (ret == UPK_OK)
			ret = upk_root_add_key(root, role, k, err);
		upk_key_free(k);
	}
	if (ret == UPK_OK)
		ret = upk_root_set_threshold(root, role, threshold, err);
	return ret;
}

/* The online key of the key set for "<repo>_<role>" added to role. */
static upk_status add_online(struct upk_metadata *root, const json_t *keyset, const char *repo,
			     const char *role, struct upk_error *err)
{
	char name[64];
	const json_t *tuf;
	struct upk_key *k = NULL;
	upk_status ret;

	snprintf(name, sizeof(name), "%s_%s", repo, role);
	tuf = json_object_get(json_object_get(json_object_get(keyset, "keys"), name), "public_key");
	if (!json_is_object(tuf))
		return upk_error_set(err, UPK_ERR_INVALID, "the key set lacks the %s key", name);
	ret = upk_key_from_tuf(tuf, &k, err);
	if (ret == UPK_OK)
		ret = upk_root_add_key(root, role, k, err);
	if (ret == UPK_OK)
		ret = upk_root_set_threshold(root, role, 1, err);
	upk_key_free(k);
	return ret;
}

/* A copy of md with signed.upkeep_transfer = record (drops signatures, it is a new root). */
static upk_status with_record(const struct upk_metadata *md, const json_t *record,
			      struct upk_metadata **out, struct upk_error *err)
{
	char *text = NULL, *again = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	upk_status ret = upk_metadata_serialize(md, 0, &text, &len, err);

	if (ret == UPK_OK)
		ret = upk_json_parse(text, len, NULL, &doc, err);
	if (ret == UPK_OK &&
	    json_object_set(json_object_get(doc, "signed"), "upkeep_transfer", (json_t *)record) != 0)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (ret == UPK_OK) {
		json_object_set_new(doc, "signatures", json_array());
		again = json_dumps(doc, JSON_COMPACT);
		if (again == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	if (ret == UPK_OK)
		ret = upk_metadata_parse(again, strlen(again), UPK_ROLE_ROOT, NULL, out, err);
	free(text);
	free(again);
	json_decref(doc);
	return ret;
}

/* The record: fresh id, fleets checked, devices checked, sorted, distinct. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The record must be one devices and the server accept: checked by their own parser. */
static upk_status check_record(json_t *rec, struct upk_error *err)
{
	json_t *signed_ = json_pack("{s:O}", "upkeep_transfer", rec);
	struct upk_transfer_record tr;
	upk_status ret;

	if (signed_ == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = upk_transfer_record_parse(signed_, &tr, err);
	if (ret == UPK_OK)
		upk_transfer_record_clear(&tr);
	json_decref(signed_);
	return ret;
}

static upk_status make_record(const struct cli_args *a, json_t **out, struct upk_error *err)
{
	const char *from = cli_opt(a, "from-fleet"), *to = cli_opt(a, "to-fleet");
	char *const *devs;
	char **sorted = NULL, id[33];
	uint8_t rnd[16];
	json_t *arr = NULL;
	size_t n;
	upk_status ret = UPK_OK;

	devs = cli_opt_all(a, "device", &n);
	if (!upk_fleet_name_valid(from) || !upk_fleet_name_valid(to))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "fleet names are 1-63 bytes of [a-z0-9-], not starting with -: "
				     "\"%s\", \"%s\"",
				     from, to);
	if (strcmp(from, to) == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "--from-fleet and --to-fleet are both %s",
				     from);
	if (n == 0 || n > UPK_TRANSFER_MAX_DEVICES)
		return upk_error_set(err, UPK_ERR_INVALID, "give 1 to %u --device ids (%zu given)",
				     UPK_TRANSFER_MAX_DEVICES, n);
	sorted = calloc(n, sizeof(*sorted));
	arr = json_array();
	if (sorted == NULL || arr == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!upk_hex_is_lower(devs[i], UPK_KEYID_HEX_LEN)) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "--device %.80s is not a device id (64 lower-case hex)",
					    devs[i]);
			goto out;
		}
		sorted[i] = devs[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(sorted[i - 1], sorted[i]) == 0) {
			ret = upk_error_set(err, UPK_ERR_INVALID, "--device %s is given twice",
					    sorted[i]);
			goto out;
		}
		json_array_append_new(arr, json_string(sorted[i]));
	}
	ret = upk_random_bytes(rnd, sizeof(rnd), err);
	if (ret != UPK_OK)
		goto out;
	upk_hex_encode(rnd, sizeof(rnd), id);
	*out = json_pack("{s:s, s:s, s:s, s:O}", "id", id, "from_fleet", from, "to_fleet", to,
			 "devices", arr);
	if (*out == NULL)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	else
		ret = check_record(*out, err);
	if (ret != UPK_OK) {
		json_decref(*out);
		*out = NULL;
	}
out:
	free(sorted);
	json_decref(arr);
	return ret;
}

/* Root N+1 of one repository for the buyer. */
static upk_status new_root(const struct cli_args *a, int director, const struct chain *c,
			   const json_t *keyset, time_t expires, const json_t *record,
			   struct upk_metadata **out, struct upk_error *err)
{
	struct upk_metadata *md = NULL;
	char *const *rk, *const *tk;
	size_t n_rk, n_tk;
	unsigned k_root = 1, k_targets = 1;
	upk_status ret;

	rk = cli_opt_all(a, "root-key", &n_rk);
	tk = cli_opt_all(a, "targets-key", &n_tk);
	ret = parse_k(cli_opt(a, "root-threshold"), "root-threshold", n_rk, &k_root, err);
	if (ret == UPK_OK)
		ret = parse_k(cli_opt(a, "targets-threshold"), "targets-threshold", n_tk, &k_targets,
			      err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_ROOT, expires, &md, err);
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(md, c->last + 1, err);
	if (ret == UPK_OK)
		ret = add_keys(md, "root", rk, n_rk, k_root, err);
	if (ret == UPK_OK && !director)
		ret = add_keys(md, "targets", tk, n_tk, k_targets, err);
	if (ret == UPK_OK && director)
		ret = add_online(md, keyset, "director", "targets", err);
	if (ret == UPK_OK)
		ret = add_online(md, keyset, REPO[director], "snapshot", err);
	if (ret == UPK_OK)
		ret = add_online(md, keyset, REPO[director], "timestamp", err);
	if (ret == UPK_OK)
		ret = upk_root_set_consistent_snapshot(md, 1, err);
	if (ret == UPK_OK)
		ret = with_record(md, record, out, err);
	upk_metadata_free(md);
	return ret;
}

static size_t n_opt(const struct cli_args *a, const char *name)
{
	size_t n = 0;

	(void)cli_opt_all(a, name, &n);
	return n;
}

static int transfer_create(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct stage *st[2] = {NULL, NULL};
	struct chain ch[2];
	struct upk_metadata *roots[2] = {NULL, NULL};
	json_t *keyset = NULL, *record = NULL, *summary = NULL;
	const char *tdir;
	char path[4200];
	time_t expires;
	upk_status ret = UPK_OK;
	enum cli_parse_result pr = cli_parse(&create_spec, argc, argv, &a);

	memset(ch, 0, sizeof(ch));
	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	tdir = cli_opt(&a, "out");
	if (cli_opt(&a, "image") == NULL || cli_opt(&a, "director") == NULL ||
	    cli_opt(&a, "from-fleet") == NULL || cli_opt(&a, "to-fleet") == NULL || tdir == NULL ||
	    cli_opt(&a, "keyset") == NULL || n_opt(&a, "root-key") == 0 ||
	    n_opt(&a, "targets-key") == 0) {
		fprintf(stderr, "upkeep: --image, --director, --from-fleet, --to-fleet, --device, "
				"--root-key, --targets-key, --keyset and --out are needed (see 'upkeep "
				"transfer create --help')\n");
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s/transfer.json", tdir);
	if (cli_exists(path)) {
		ret = upk_error_set(&err, UPK_ERR_EXISTS, "%s already holds a transfer", tdir);
		goto out;
	}
	ret = cli_parse_when(cli_opt(&a, "expires") ? cli_opt(&a, "expires") : "365d", time(NULL),
			     &expires, &err);
	if (ret == UPK_OK && expires <= time(NULL))
		ret = upk_error_set(&err, UPK_ERR_INVALID, "--expires %s is in the past",
				    cli_opt(&a, "expires"));
	if (ret == UPK_OK)
		ret = load_json(cli_opt(&a, "keyset"), &keyset, &err);
	if (ret == UPK_OK && !json_is_string(json_object_get(keyset, "keyset")))
		ret = upk_error_set(&err, UPK_ERR_INVALID, "%s has no \"keyset\" id",
				    cli_opt(&a, "keyset"));
	if (ret == UPK_OK)
		ret = make_record(&a, &record, &err);
	for (int k = 0; k < 2 && ret == UPK_OK; k++) {
		ret = stage_open(cli_opt(&a, REPO[k]), &st[k], &err);
		if (ret == UPK_OK)
			ret = chain_find(st[k], &ch[k], &err);
		if (ret == UPK_OK)
			ret = new_root(&a, k, &ch[k], keyset, expires, record, &roots[k], &err);
	}
	if (ret != UPK_OK)
		goto out;
	ret = cli_mkdirs(tdir, &err);
	for (int k = 0; k < 2 && ret == UPK_OK; k++) {
		char *cfg = cli_join(st[k]->dir, STAGE_CONFIG);

		ret = chain_copy(st[k], &ch[k], tdir, REPO[k], &err);
		snprintf(path, sizeof(path), "%s/%s-repo.json", tdir, REPO[k]);
		if (ret == UPK_OK)
			ret = cfg == NULL ? upk_error_set(&err, UPK_ERR_NOMEM, "out of memory")
					  : copy_file(cfg, path, &err);
		free(cfg);
		snprintf(path, sizeof(path), "%s/%s-root.json", tdir, REPO[k]);
		if (ret == UPK_OK)
			ret = save_md(path, roots[k], &err);
	}
	if (ret != UPK_OK)
		goto out;
	summary = json_pack("{s:i, s:O, s:O, s:{s:I, s:I, s:I}, s:{s:I, s:I}}", "upkeep_transfer_dir",
			    TDIR_FORMAT, "transfer", record, "keyset",
			    json_object_get(keyset, "keyset"), "image", "first",
			    (json_int_t)ch[0].first, "root_version", (json_int_t)(ch[0].last + 1),
			    "targets_version", (json_int_t)stage_published_version(st[0], "targets"),
			    "director", "first", (json_int_t)ch[1].first, "root_version",
			    (json_int_t)(ch[1].last + 1));
	snprintf(path, sizeof(path), "%s/transfer.json", tdir);
	/* Written last: its presence marks a complete transfer directory. */
	ret = summary == NULL ? upk_error_set(&err, UPK_ERR_NOMEM, "out of memory")
			      : save_json(path, summary, &err);
	if (ret != UPK_OK)
		goto out;
	if (cli_flag(&a, "json")) {
		ret = cli_print_json(json_incref(summary), &err);
		goto out;
	}
	printf("transfer %s: %zu device(s) from fleet %s to new fleet %s\n",
	       json_string_value(json_object_get(record, "id")),
	       json_array_size(json_object_get(record, "devices")), cli_opt(&a, "from-fleet"),
	       cli_opt(&a, "to-fleet"));
	for (int k = 0; k < 2; k++)
		printf("  %s root v%" PRId64 " written to %s/%s-root.json\n", REPO[k],
		       upk_metadata_version(roots[k]), tdir, REPO[k]);
	printf("next: the seller's root key holders and then the buyer's sign both files:\n"
	       "  upkeep sign --file %s/image-root.json --key FILE (and director-root.json)\n",
	       tdir);
out:
	for (int k = 0; k < 2; k++) {
		stage_free(st[k]);
		upk_metadata_free(ch[k].newest);
		upk_metadata_free(roots[k]);
	}
	json_decref(keyset);
	json_decref(record);
	json_decref(summary);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

/* ---- a transfer directory ---- */

struct tdir {
	json_t *summary;
	struct upk_metadata *prev[2]; /* root N (the seller's newest) */
	struct upk_metadata *next[2]; /* the transfer root N+1 */
};

static void tdir_free(struct tdir *t)
{
	json_decref(t->summary);
	for (int k = 0; k < 2; k++) {
		upk_metadata_free(t->prev[k]);
		upk_metadata_free(t->next[k]);
	}
	memset(t, 0, sizeof(*t));
}

static int64_t tdir_version(const struct tdir *t, int k)
{
	return json_integer_value(json_object_get(json_object_get(t->summary, REPO[k]),
						  "root_version"));
}

static upk_status tdir_open(const char *dir, struct tdir *t, struct upk_error *err)
{
	char path[4200], sub[32];
	upk_status ret;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/transfer.json", dir);
	ret = load_json(path, &t->summary, err);
	if (ret == UPK_OK &&
	    json_integer_value(json_object_get(t->summary, "upkeep_transfer_dir")) != TDIR_FORMAT)
		ret = upk_error_set(err, UPK_ERR_UNSUPPORTED,
				    "%s is not a transfer directory of format %d", path, TDIR_FORMAT);
	for (int k = 0; k < 2 && ret == UPK_OK; k++) {
		snprintf(sub, sizeof(sub), "%s-chain", REPO[k]);
		path_v(path, sizeof(path), dir, sub, tdir_version(t, k) - 1);
		ret = load_md(path, &t->prev[k], err);
		snprintf(path, sizeof(path), "%s/%s-root.json", dir, REPO[k]);
		if (ret == UPK_OK)
			ret = load_md(path, &t->next[k], err);
		if (ret == UPK_OK && upk_metadata_version(t->next[k]) != tdir_version(t, k))
			ret = upk_error_set(err, UPK_ERR_INVALID, "%s is v%" PRId64 ", not v%" PRId64,
					    path, upk_metadata_version(t->next[k]),
					    tdir_version(t, k));
		/* The record must still be the one create wrote (signatures cover it). */
		if (ret == UPK_OK &&
		    !json_equal(json_object_get(upk_metadata_signed(t->next[k]), "upkeep_transfer"),
				json_object_get(t->summary, "transfer")))
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "%s: its upkeep_transfer differs from transfer.json", path);
	}
	if (ret != UPK_OK)
		tdir_free(t);
	return ret;
}

/* Signatures of one root by one set of root keys: valid x of k, and who has not signed. */
static json_t *sig_status(const struct upk_metadata *keys_md, struct upk_metadata *md)
{
	struct upk_sigcheck chk = {0, 0};
	struct upk_role_keys rk;
	json_t *missing = json_array();

	(void)upk_verify_role(keys_md, "root", md, &chk, NULL);
	if (upk_root_role(keys_md, "root", &rk, NULL) == UPK_OK) {
		for (size_t i = 0; i < rk.n_keyids; i++) {
			int have = 0;

			for (size_t s = 0; s < upk_metadata_signature_count(md); s++)
				have |= strcmp(upk_metadata_signature_keyid(md, s), rk.keyids[i]) == 0;
			if (!have)
				json_array_append_new(missing, json_string(rk.keyids[i]));
		}
	}
	return json_pack("{s:I, s:i, s:i, s:o}", "version",
			 (json_int_t)upk_metadata_version(keys_md), "valid", (int)chk.valid,
			 "threshold", (int)chk.threshold, "unsigned", missing);
}

static int sig_complete(const json_t *s)
{
	return json_integer_value(json_object_get(s, "valid")) >=
	       json_integer_value(json_object_get(s, "threshold"));
}

/* {"transfer", "roots": [{"repo", "version", "old_keys", "new_keys", "complete"}], "complete"} */
static json_t *tdir_status(struct tdir *t)
{
	json_t *roots = json_array();
	int all = 1;

	for (int k = 0; k < 2; k++) {
		json_t *o = sig_status(t->prev[k], t->next[k]);
		json_t *n = sig_status(t->next[k], t->next[k]);
		int done = sig_complete(o) && sig_complete(n);

		all &= done;
		json_array_append_new(roots, json_pack("{s:s, s:I, s:o, s:o, s:b}", "repo", REPO[k],
						       "version",
						       (json_int_t)upk_metadata_version(t->next[k]),
						       "old_keys", o, "new_keys", n, "complete",
						       done));
	}
	return json_pack("{s:O, s:o, s:b}", "transfer", json_object_get(t->summary, "transfer"),
			 "roots", roots, "complete", all);
}

static void print_keys_line(const char *label, const json_t *s)
{
	const json_t *m;
	size_t i;

	printf("    %-18s %lld of %lld", label, (long long)json_integer_value(json_object_get(s, "valid")),
	       (long long)json_integer_value(json_object_get(s, "threshold")));
	if (!sig_complete(s)) {
		printf("  missing %lld; not signed by:",
		       (long long)(json_integer_value(json_object_get(s, "threshold")) -
				   json_integer_value(json_object_get(s, "valid"))));
		json_array_foreach(json_object_get(s, "unsigned"), i, m) {
			char sk[17];

			cli_short_keyid(json_string_value(m), sk);
			printf(" %s", sk);
		}
	}
	printf("\n");
}

static void print_status(const json_t *st)
{
	const json_t *rec = json_object_get(st, "transfer"), *r;
	char label[64];
	size_t i;

	printf("transfer %s: fleet %s -> %s, %zu device(s)\n",
	       json_string_value(json_object_get(rec, "id")),
	       json_string_value(json_object_get(rec, "from_fleet")),
	       json_string_value(json_object_get(rec, "to_fleet")),
	       json_array_size(json_object_get(rec, "devices")));
	json_array_foreach(json_object_get(st, "roots"), i, r) {
		printf("  %s root v%lld: %s\n", json_string_value(json_object_get(r, "repo")),
		       (long long)json_integer_value(json_object_get(r, "version")),
		       json_is_true(json_object_get(r, "complete")) ? "complete" : "incomplete");
		snprintf(label, sizeof(label), "old root v%lld keys:",
			 (long long)json_integer_value(
				 json_object_get(json_object_get(r, "old_keys"), "version")));
		print_keys_line(label, json_object_get(r, "old_keys"));
		print_keys_line("new root keys:", json_object_get(r, "new_keys"));
	}
	printf(json_is_true(json_object_get(st, "complete"))
		       ? "ready: upkeep transfer submit\n"
		       : "not ready: both roots need both thresholds before submit\n");
}

/* ---- show ---- */

static const struct cli_opt show_opts[] = {
	{"json", NULL, "print the signature status as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec show_spec = {
	"upkeep transfer show TDIR [--json]",
	"Show a transfer directory: the record, and per root how many valid signatures it has\n"
	"from the seller's root keys (root N) and from the buyer's (the new root's own root\n"
	"keys) against their thresholds, and which key ids have not signed yet.",
	show_opts, 1, 1,
};

static int transfer_show(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct tdir t;
	enum cli_parse_result pr = cli_parse(&show_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = tdir_open(a.pos[0], &t, &err);
	if (ret == UPK_OK) {
		json_t *st = tdir_status(&t);

		if (cli_flag(&a, "json")) {
			ret = cli_print_json(st, &err);
		} else {
			print_status(st);
			json_decref(st);
		}
		tdir_free(&t);
	}
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

/* ---- submit ---- */

static const struct cli_opt submit_opts[] = {
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec submit_spec = {
	"upkeep transfer submit TDIR [options]",
	"Hand the signed transfer roots to the server (POST /v1/transfers), as the fleet\n"
	"creator that made the buyer's key set (--key). It is refused here first when a root\n"
	"lacks either threshold. The server checks both roots as version N+1 of the seller's\n"
	"fleet and, in one transaction, creates the buyer's fleet with both root chains, moves\n"
	"the devices there (accepted, inventory kept) and marks them transferred in the\n"
	"seller's fleet. The key used becomes the new fleet's admin.",
	submit_opts, 1, 1,
};

static upk_status root_object(const struct upk_metadata *md, json_t **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = upk_metadata_serialize(md, 0, &text, &len, err);

	if (ret == UPK_OK)
		ret = upk_json_parse(text, len, NULL, out, err);
	free(text);
	return ret;
}

static int transfer_submit(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct srv_conn *c = NULL;
	struct tdir t;
	json_t *st = NULL, *body = NULL, *ans = NULL, *ro[2] = {NULL, NULL}, *r;
	char *text = NULL;
	size_t i;
	enum cli_parse_result pr = cli_parse(&submit_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	memset(&t, 0, sizeof(t));
	ret = tdir_open(a.pos[0], &t, &err);
	if (ret == UPK_OK)
		st = tdir_status(&t);
	/* Refused here already: an incomplete root would only be refused by the server. */
	json_array_foreach(json_object_get(st, "roots"), i, r) {
		const json_t *o = json_object_get(r, "old_keys"), *n = json_object_get(r, "new_keys");

		if (ret != UPK_OK || json_is_true(json_object_get(r, "complete")))
			continue;
		ret = upk_error_set(&err, UPK_ERR_SIGNATURE,
				    "submit refused: %s root v%lld has %lld of %lld signatures of "
				    "the old root keys and %lld of %lld of the new ones (see "
				    "'upkeep transfer show')",
				    json_string_value(json_object_get(r, "repo")),
				    (long long)json_integer_value(json_object_get(r, "version")),
				    (long long)json_integer_value(json_object_get(o, "valid")),
				    (long long)json_integer_value(json_object_get(o, "threshold")),
				    (long long)json_integer_value(json_object_get(n, "valid")),
				    (long long)json_integer_value(json_object_get(n, "threshold")));
	}
	for (int k = 0; k < 2 && ret == UPK_OK; k++)
		ret = root_object(t.next[k], &ro[k], &err);
	if (ret == UPK_OK)
		ret = srv_open(&a, 0, &c, &err);
	if (ret == UPK_OK) {
		body = json_pack("{s:O, s:O, s:O}", "keyset", json_object_get(t.summary, "keyset"),
				 "image_root", ro[0], "director_root", ro[1]);
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		if (text == NULL)
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	}
	if (ret == UPK_OK)
		ret = srv_call(c, "POST", "/v1/transfers", text, NULL, &ans, &err);
	if (ret == UPK_OK && srv_json(c)) {
		srv_print_json(json_incref(ans));
	} else if (ret == UPK_OK) {
		printf("transfer %s done: %zu device(s) moved from fleet %s to new fleet %s\n",
		       json_string_value(json_object_get(ans, "transfer")),
		       json_array_size(json_object_get(ans, "devices")),
		       json_string_value(json_object_get(ans, "from_fleet")),
		       json_string_value(json_object_get(ans, "fleet")));
		printf("next: upkeep transfer adopt %s --image NEWIMG --director NEWDIR\n", a.pos[0]);
	}
	free(text);
	json_decref(body);
	json_decref(ans);
	json_decref(st);
	for (int k = 0; k < 2; k++)
		json_decref(ro[k]);
	tdir_free(&t);
	srv_close(c);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

/* ---- adopt ---- */

static const struct cli_opt adopt_opts[] = {
	{"image", "DIR", "the buyer's new image repository staging area (must not exist)", 0},
	{"director", "DIR", "the buyer's new director staging area (must not exist)", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec adopt_spec = {
	"upkeep transfer adopt TDIR --image DIR --director DIR",
	"Make the buyer's staging areas after a transfer: each one's published chain is the\n"
	"seller's chain plus the transfer root (so the next 'root rotate' makes N+2), its\n"
	"staged root is the transfer root, and the image area stages an empty targets one\n"
	"version above the seller's last, to be filled with 'upkeep target add' and signed with\n"
	"the buyer's targets key before 'upkeep release publish'. The expiry periods are the\n"
	"seller's. Publish those first targets (empty or not) soon: until the new fleet has\n"
	"image metadata, the moved devices cannot follow and stay where they are.",
	adopt_opts, 1, 1,
};

static upk_status adopt_one(const char *tdir, const struct tdir *t, int k, const char *dir,
			    struct upk_error *err)
{
	char from[4200], to[4200], sub[32];
	struct stage st;
	struct upk_metadata *targets = NULL;
	json_t *cfg = NULL;
	int64_t first = json_integer_value(json_object_get(json_object_get(t->summary, REPO[k]),
							   "first"));
	time_t exp;
	upk_status ret;

	if (cli_exists(dir))
		return upk_error_set(err, UPK_ERR_EXISTS, "%s exists: adopt makes a new staging area",
				     dir);
	memset(&st, 0, sizeof(st));
	snprintf(from, sizeof(from), "%s/%s-repo.json", tdir, REPO[k]);
	ret = load_json(from, &cfg, err);
	for (const char *s = "staged\0targets\0published\0"; *s != '\0' && ret == UPK_OK;
	     s += strlen(s) + 1) {
		snprintf(to, sizeof(to), "%s/%s", dir, s);
		ret = cli_mkdirs(to, err);
	}
	snprintf(sub, sizeof(sub), "%s-chain", REPO[k]);
	for (int64_t v = first; v < tdir_version(t, k) && ret == UPK_OK; v++) {
		path_v(from, sizeof(from), tdir, sub, v);
		path_v(to, sizeof(to), dir, "published", v);
		ret = copy_file(from, to, err);
	}
	path_v(to, sizeof(to), dir, "published", tdir_version(t, k));
	if (ret == UPK_OK)
		ret = save_md(to, t->next[k], err);
	st.dir = (char *)dir;
	st.config = cfg;
	st.now = time(NULL);
	if (ret == UPK_OK)
		ret = stage_save(&st, "root", t->next[k], err);
	if (ret == UPK_OK)
		ret = stage_default_expiry(&st, "targets", &exp, err);
	if (ret == UPK_OK)
		ret = upk_metadata_new(UPK_ROLE_TARGETS, exp, &targets, err);
	/* Above every targets version the devices saw from the seller. */
	if (ret == UPK_OK)
		ret = upk_metadata_set_version(
			targets,
			json_integer_value(json_object_get(json_object_get(t->summary, REPO[k]),
							   "targets_version")) +
				1,
			err);
	if (ret == UPK_OK)
		ret = stage_save(&st, "targets", targets, err);
	/* The config goes last: its presence marks a complete staging area. */
	snprintf(to, sizeof(to), "%s/%s", dir, STAGE_CONFIG);
	if (ret == UPK_OK)
		ret = save_json(to, cfg, err);
	upk_metadata_free(targets);
	json_decref(cfg);
	return ret;
}

static int transfer_adopt(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct tdir t;
	enum cli_parse_result pr = cli_parse(&adopt_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	if (cli_opt(&a, "image") == NULL || cli_opt(&a, "director") == NULL) {
		fprintf(stderr, "upkeep: --image and --director are needed (see 'upkeep transfer "
				"adopt --help')\n");
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	ret = tdir_open(a.pos[0], &t, &err);
	for (int k = 0; k < 2 && ret == UPK_OK; k++) {
		ret = adopt_one(a.pos[0], &t, k, cli_opt(&a, REPO[k]), &err);
		if (ret == UPK_OK)
			printf("%s: staging area with root chain v%lld..v%" PRId64 "\n",
			       cli_opt(&a, REPO[k]),
			       (long long)json_integer_value(json_object_get(
				       json_object_get(t.summary, REPO[k]), "first")),
			       tdir_version(&t, k));
	}
	/*
	 * The new fleet serves no image timestamp until its first targets are
	 * published, and a moved device cannot follow before that.
	 */
	if (ret == UPK_OK)
		printf("next: sign and publish the new fleet's first targets (its devices follow the "
		       "move only once it has image metadata):\n"
		       "  upkeep sign %s targets --key FILE && upkeep release publish %s\n"
		       "  (add releases first with 'upkeep target add %s FILE ...' if you like)\n",
		       cli_opt(&a, "image"), cli_opt(&a, "image"), cli_opt(&a, "image"));
	tdir_free(&t);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}

int cmd_transfer(int argc, char **argv)
{
	static const struct cli_command sub[] = {
		{"create", transfer_create, "write the transfer roots of a sale (unsigned)"},
		{"show", transfer_show, "who signed the transfer roots, what is missing"},
		{"submit", transfer_submit, "server: move the devices to the buyer's new fleet"},
		{"adopt", transfer_adopt, "the buyer's staging areas continuing the chain"},
	};

	return cli_dispatch("upkeep transfer", sub, sizeof(sub) / sizeof(sub[0]), argc, argv);
}
