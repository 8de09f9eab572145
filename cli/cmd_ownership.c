/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep ownership`: a fleet's ownership history, read from its image root
 * chain on the server with public GETs and verified link by link (each root
 * signed by the threshold of the previous root's root keys and of its own),
 * so the server is not trusted for any of it. An epoch is a run of roots
 * with the same root keys and threshold; a root carrying upkeep_transfer
 * (docs/ownership.md) is a sale.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"
#include "upkeep/metadata.h"
#include "upkeep/transfer.h"

/* More roots than this is not a chain anyone rotated by hand. */
#define MAX_CHAIN 10000

static const struct cli_opt ownership_opts[] = {
	SRV_FLEET_OPT,
	{"device", "ID", "mark the transfers that concern this device", 0},
	{"root", "FILE", "a root you trust: verify the chain from it (else from the first root)",
	 0},
	{"server", "URL", "server base URL (or $UPKEEP_SERVER)", 0},
	{"json", NULL, "print the history as JSON", 0},
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec ownership_spec = {
	"upkeep ownership --fleet NAME [--device ID] [--root FILE] [options]",
	"Fetch the fleet's image root chain from the server (public files, no key needed),\n"
	"verify every link (version +1, threshold of the previous root's root keys and of its\n"
	"own) and print the ownership history: per epoch the root versions, root key ids and\n"
	"threshold, and each transfer (id, from fleet, to fleet, devices). With --root, the\n"
	"server's root of that version must be the trusted one (same signed content), which\n"
	"anchors every later root; without it the first root the server has is trusted as\n"
	"given (said so in the output).",
	ownership_opts, 0, 0,
};

static upk_status fetch_root(struct srv_conn *c, const char *fleet, int64_t v,
			     struct upk_metadata **out, struct upk_error *err)
{
	char path[512] = "/v1/fleets/", file[48];
	char *body = NULL;
	size_t len = 0;
	upk_status ret;

	if (v > 0)
		snprintf(file, sizeof(file), "/image/metadata/%" PRId64 ".root.json", v);
	else
		snprintf(file, sizeof(file), "/image/metadata/root.json");
	if (srv_path_append(path, sizeof(path), fleet, SRV_ENCODE) != 0 ||
	    srv_path_append(path, sizeof(path), file, SRV_RAW) != 0)
		return upk_error_set(err, UPK_ERR_INVALID, "fleet name too long");
	ret = srv_get_public(c, path, &body, &len, err);
	if (ret == UPK_OK)
		ret = upk_metadata_parse(body, len, UPK_ROLE_ROOT, NULL, out, err);
	if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND)
		upk_error_prefix(err, ret, "%s: ", path);
	free(body);
	return ret;
}

/* The root keys of a root as a sorted-by-root JSON array, and its threshold. */
static json_t *root_keys(const struct upk_metadata *root, unsigned *threshold)
{
	struct upk_role_keys rk;
	json_t *arr = json_array();

	*threshold = 0;
	if (upk_root_role(root, "root", &rk, NULL) == UPK_OK) {
		*threshold = rk.threshold;
		for (size_t i = 0; i < rk.n_keyids; i++)
			json_array_append_new(arr, json_string(rk.keyids[i]));
	}
	return arr;
}

/* The history object from the verified chain roots[0..n). */
static json_t *history(const char *fleet, struct upk_metadata **roots, size_t n, int trusted,
		       const char *device)
{
	json_t *epochs = json_array(), *transfers = json_array(), *cur = NULL;

	for (size_t i = 0; i < n; i++) {
		const json_t *rec = json_object_get(upk_metadata_signed(roots[i]), "upkeep_transfer");
		unsigned k;
		json_t *keys = root_keys(roots[i], &k);
		int64_t v = upk_metadata_version(roots[i]);
		struct upk_transfer_record tr;
		struct upk_error err = {0};

		if (rec != NULL && upk_transfer_record_parse(upk_metadata_signed(roots[i]), &tr,
							     &err) == UPK_OK) {
			json_array_append_new(
				transfers,
				json_pack("{s:s, s:s, s:s, s:O, s:I, s:b}", "id", tr.id, "from_fleet",
					  tr.from_fleet, "to_fleet", tr.to_fleet, "devices",
					  tr.devices, "root_version", (json_int_t)v, "concerns_device",
					  device != NULL && upk_transfer_record_lists(&tr, device)));
			upk_transfer_record_clear(&tr);
		} else if (rec != NULL) {
			/* Signed by the owners but not a record devices accept: shown, never trusted. */
			json_array_append_new(transfers,
					      json_pack("{s:I, s:s}", "root_version", (json_int_t)v,
							"invalid", err.msg));
		}
		/* A new epoch at every change of root keys or threshold, and at every sale. */
		if (cur == NULL || json_is_object(rec) ||
		    !json_equal(json_object_get(cur, "root_keys"), keys) ||
		    json_integer_value(json_object_get(cur, "threshold")) != k) {
			cur = json_pack("{s:I, s:I, s:i, s:O}", "from_version", (json_int_t)v,
					"to_version", (json_int_t)v, "threshold", (int)k, "root_keys",
					keys);
			json_array_append_new(epochs, cur);
		} else {
			json_object_set_new(cur, "to_version", json_integer(v));
		}
		json_decref(keys);
	}
	return json_pack("{s:s, s:I, s:I, s:b, s:o, s:o, s:s?}", "fleet", fleet, "first_version",
			 (json_int_t)upk_metadata_version(roots[0]), "last_version",
			 (json_int_t)upk_metadata_version(roots[n - 1]), "verified_from_trusted_root",
			 trusted, "epochs", epochs, "transfers", transfers, "device", device);
}

static void print_history(const json_t *h)
{
	const json_t *e, *t, *k;
	size_t i, j;

	printf("fleet %s: image root chain v%lld..v%lld, every link verified (%s)\n",
	       json_string_value(json_object_get(h, "fleet")),
	       (long long)json_integer_value(json_object_get(h, "first_version")),
	       (long long)json_integer_value(json_object_get(h, "last_version")),
	       json_is_true(json_object_get(h, "verified_from_trusted_root"))
		       ? "anchored in the trusted root given"
		       : "the first root is trusted as the server gave it");
	json_array_foreach(json_object_get(h, "epochs"), i, e) {
		int64_t from = json_integer_value(json_object_get(e, "from_version"));

		json_array_foreach(json_object_get(h, "transfers"), j, t) {
			const json_t *d;
			size_t n;

			if (json_integer_value(json_object_get(t, "root_version")) != from)
				continue;
			if (json_object_get(t, "invalid") != NULL) {
				printf("  root v%lld carries an invalid transfer record: %s\n",
				       (long long)from, json_string_value(json_object_get(t, "invalid")));
				continue;
			}
			printf("  transfer %s at root v%lld: fleet %s -> %s, %zu device(s)%s\n",
			       json_string_value(json_object_get(t, "id")), (long long)from,
			       json_string_value(json_object_get(t, "from_fleet")),
			       json_string_value(json_object_get(t, "to_fleet")),
			       json_array_size(json_object_get(t, "devices")),
			       json_is_true(json_object_get(t, "concerns_device"))
				       ? "  <- includes the device"
				       : "");
			json_array_foreach(json_object_get(t, "devices"), n, d)
				printf("    device %s\n", json_string_value(d));
		}
		printf("owner %zu: root v%lld..v%lld, %lld of %zu root keys:", i + 1, (long long)from,
		       (long long)json_integer_value(json_object_get(e, "to_version")),
		       (long long)json_integer_value(json_object_get(e, "threshold")),
		       json_array_size(json_object_get(e, "root_keys")));
		json_array_foreach(json_object_get(e, "root_keys"), j, k) {
			char s[17];

			cli_short_keyid(json_string_value(k), s);
			printf(" %s", s);
		}
		printf("\n");
	}
}

/* Newest first from the server, then back to the first version it has. */
static upk_status fetch_chain(struct srv_conn *c, const char *fleet, struct upk_metadata ***out,
			      size_t *n_out, struct upk_error *err)
{
	struct upk_metadata *newest = NULL, **roots = NULL;
	int64_t last, first;
	size_t n;
	upk_status ret = fetch_root(c, fleet, 0, &newest, err);

	if (ret != UPK_OK)
		return ret;
	last = upk_metadata_version(newest);
	upk_metadata_free(newest);
	if (last < 1 || last > MAX_CHAIN)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "fleet %s: root version %" PRId64 " is out of range", fleet, last);
	roots = calloc((size_t)last, sizeof(*roots));
	if (roots == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	/* roots[v - 1] = version v; a chain may start above 1 (a fleet created at v3). */
	for (first = last; first >= 1; first--) {
		ret = fetch_root(c, fleet, first, &roots[first - 1], err);
		if (ret == UPK_ERR_NOT_FOUND && first < last) {
			ret = UPK_OK;
			break;
		}
		if (ret != UPK_OK)
			break;
	}
	first++;
	n = (size_t)(last - first + 1);
	if (ret == UPK_OK) {
		memmove(roots, roots + (first - 1), n * sizeof(*roots));
		*out = roots;
		*n_out = n;
		return UPK_OK;
	}
	for (int64_t v = 0; v < last; v++)
		upk_metadata_free(roots[v]);
	free(roots);
	return ret;
}

/* Each root is the previous one's version + 1 and carries both thresholds. */
static upk_status verify_chain(struct upk_metadata **roots, size_t n, struct upk_error *err)
{
	upk_status ret = UPK_OK;

	for (size_t i = 0; i < n && ret == UPK_OK; i++) {
		int64_t v = upk_metadata_version(roots[i]);

		if (i > 0 && v != upk_metadata_version(roots[i - 1]) + 1)
			ret = upk_error_set(err, UPK_ERR_INVALID, "root v%" PRId64 " follows v%" PRId64,
					    v, upk_metadata_version(roots[i - 1]));
		if (ret == UPK_OK && i > 0)
			ret = upk_verify_role(roots[i - 1], "root", roots[i], NULL, err);
		if (ret == UPK_OK)
			ret = upk_verify_role(roots[i], "root", roots[i], NULL, err);
		if (ret != UPK_OK)
			upk_error_prefix(err, ret, "chain broken at root v%" PRId64 ": ", v);
	}
	return ret;
}

/*
 * Anchor the chain in a root the caller trusts: the server's root of the
 * same version must carry the very same signed content. Every later root
 * is then verified from it by verify_chain().
 */
static upk_status anchor(struct upk_metadata *trusted, struct upk_metadata **roots, size_t n,
			 struct upk_error *err)
{
	int64_t v = upk_metadata_version(trusted);
	const char *a, *b;
	size_t al, bl;
	upk_status ret;

	for (size_t i = 0; i < n; i++) {
		if (upk_metadata_version(roots[i]) != v)
			continue;
		ret = upk_metadata_signed_bytes(trusted, &a, &al, err);
		if (ret == UPK_OK)
			ret = upk_metadata_signed_bytes(roots[i], &b, &bl, err);
		if (ret == UPK_OK && (al != bl || memcmp(a, b, al) != 0))
			ret = upk_error_set(err, UPK_ERR_SIGNATURE,
					    "the server's root v%" PRId64 " differs from the trusted root",
					    v);
		return ret;
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND,
			     "the server's chain (v%" PRId64 "..v%" PRId64
			     ") does not contain the trusted root v%" PRId64,
			     upk_metadata_version(roots[0]), upk_metadata_version(roots[n - 1]), v);
}

int cmd_ownership(int argc, char **argv)
{
	struct cli_args a;
	struct upk_error err = {0};
	struct srv_conn *c = NULL;
	struct upk_metadata *trusted = NULL, **roots = NULL;
	size_t n = 0;
	json_t *h = NULL;
	enum cli_parse_result pr = cli_parse(&ownership_spec, argc, argv, &a);
	upk_status ret;

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = srv_open_public(&a, 1, &c, &err);
	if (ret == UPK_OK && cli_opt(&a, "root") != NULL) {
		char *text = NULL;
		size_t len = 0;

		ret = cli_read_file(cli_opt(&a, "root"), CLI_MAX_FILE, &text, &len, &err);
		if (ret == UPK_OK)
			ret = upk_metadata_parse(text, len, UPK_ROLE_ROOT, NULL, &trusted, &err);
		if (ret != UPK_OK)
			upk_error_prefix(&err, ret, "%s: ", cli_opt(&a, "root"));
		free(text);
	}
	if (ret == UPK_OK)
		ret = fetch_chain(c, srv_fleet(c), &roots, &n, &err);
	if (ret == UPK_OK)
		ret = verify_chain(roots, n, &err);
	if (ret == UPK_OK && trusted != NULL)
		ret = anchor(trusted, roots, n, &err);
	if (ret == UPK_OK) {
		h = history(srv_fleet(c), roots, n, trusted != NULL, cli_opt(&a, "device"));
		if (h == NULL)
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	}
	if (ret == UPK_OK && cli_flag(&a, "json")) {
		ret = cli_print_json(h, &err);
		h = NULL;
	} else if (ret == UPK_OK) {
		print_history(h);
	}
	json_decref(h);
	for (size_t i = 0; i < n; i++)
		upk_metadata_free(roots[i]);
	free(roots);
	upk_metadata_free(trusted);
	srv_close(c);
	cli_args_free(&a);
	return ret == UPK_OK ? CLI_EXIT_OK : cli_fail(&err);
}
