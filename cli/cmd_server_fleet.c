/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep fleet`: ask the server for its online keys (keyset), create a fleet
 * from roots the owner signed naming them, and show a fleet. The server holds
 * only the online snapshot/timestamp/director keys; roots stay the owner's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"

static const struct cli_opt keyset_opts[] = {
	{"out", "DIR", "where to write the public keys (default: the current directory)", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec keyset_spec = {
	"upkeep fleet keyset [options]",
	"Ask the server (as a configured fleet creator) for a new set of online keys and write\n"
	"their public halves as DIR/image_snapshot.pub, image_timestamp.pub, director_targets.pub,\n"
	"director_snapshot.pub and director_timestamp.pub, plus DIR/keyset.json. Name them in the\n"
	"image and director roots ('upkeep repo init ... --snapshot-key DIR/image_snapshot.pub'),\n"
	"sign the roots, then 'upkeep fleet create NAME --keyset ID ...'.",
	keyset_opts, 0, 0,
};

static int fleet_keyset(int argc, char **argv)
{
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ans = NULL, *v;
	const char *dir, *name;
	upk_status ret;
	enum cli_parse_result pr = cli_parse(&keyset_spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	dir = cli_opt(&a, "out") != NULL ? cli_opt(&a, "out") : ".";
	ret = srv_open(&a, 0, &c, &err);
	if (ret == UPK_OK)
		ret = cli_mkdirs(dir, &err);
	if (ret == UPK_OK)
		ret = srv_call(c, "POST", "/v1/keysets", NULL, NULL, &ans, &err);
	json_object_foreach(json_object_get(ans, "keys"), name, v) {
		char file[256];
		char *path;
		const char *pem = json_string_value(json_object_get(v, "pem"));

		if (ret != UPK_OK)
			break;
		snprintf(file, sizeof(file), "%.64s.pub", name);
		path = cli_join(dir, file);
		ret = path == NULL ? upk_error_set(&err, UPK_ERR_NOMEM, "out of memory")
				   : cli_write_atomic(path, pem, strlen(pem != NULL ? pem : ""), 0644,
						      &err);
		free(path);
	}
	if (ret == UPK_OK) {
		char *path = cli_join(dir, "keyset.json");
		char *text = json_dumps(ans, JSON_INDENT(2) | JSON_SORT_KEYS);

		ret = path == NULL || text == NULL
			      ? upk_error_set(&err, UPK_ERR_NOMEM, "out of memory")
			      : cli_write_atomic(path, text, strlen(text), 0644, &err);
		free(path);
		free(text);
	}
	if (ret != UPK_OK) {
		json_decref(ans);
		srv_close(c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(c))
		srv_print_json(json_incref(ans));
	else
		printf("keyset %s: public keys written to %s\n",
		       json_string_value(json_object_get(ans, "keyset")), dir);
	json_decref(ans);
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

static const struct cli_opt create_opts[] = {
	{"keyset", "ID", "the key set from 'upkeep fleet keyset' (its keyset.json also works)", 0},
	{"image-root", "FILE", "the signed image repository root (e.g. img/staged/root.json)", 0},
	{"director-root", "FILE", "the signed director root", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec create_spec = {
	"upkeep fleet create NAME --keyset ID --image-root FILE --director-root FILE [options]",
	"Create fleet NAME ([a-z0-9-], 1-63) on the server with the owner-signed roots of its\n"
	"image repository and director. Each root must be signed by its own threshold and name\n"
	"the key set's keys for the online roles. The key used here becomes the fleet's admin.",
	create_opts, 1, 1,
};

static upk_status load_json_file(const char *path, json_t **out, struct upk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	upk_status ret = cli_read_file(path, CLI_MAX_FILE, &text, &len, err);
	json_error_t je;

	if (ret != UPK_OK)
		return ret;
	*out = json_loadb(text, len, 0, &je);
	free(text);
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "%s:%d: %s", path, je.line, je.text);
	return UPK_OK;
}

static int fleet_create(int argc, char **argv)
{
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ir = NULL, *dr = NULL, *body = NULL, *ans = NULL;
	const char *keyset, *ks_file;
	char *text = NULL;
	upk_status ret;
	enum cli_parse_result pr = cli_parse(&create_spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	keyset = cli_opt(&a, "keyset");
	if (keyset == NULL || cli_opt(&a, "image-root") == NULL ||
	    cli_opt(&a, "director-root") == NULL) {
		fprintf(stderr, "upkeep: --keyset, --image-root and --director-root are needed (see "
				"'upkeep fleet create --help')\n");
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	ret = srv_open(&a, 0, &c, &err);
	ks_file = keyset;
	/* A keyset.json written by 'fleet keyset' stands for its id. */
	if (ret == UPK_OK && cli_exists(ks_file)) {
		json_t *ks = NULL;

		ret = load_json_file(ks_file, &ks, &err);
		if (ret == UPK_OK && !json_is_string(json_object_get(ks, "keyset")))
			ret = upk_error_set(&err, UPK_ERR_INVALID, "%s has no \"keyset\"", ks_file);
		if (ret == UPK_OK)
			body = json_pack("{s:s, s:O}", "name", a.pos[0], "keyset",
					 json_object_get(ks, "keyset"));
		json_decref(ks);
	} else if (ret == UPK_OK) {
		body = json_pack("{s:s, s:s}", "name", a.pos[0], "keyset", keyset);
	}
	if (ret == UPK_OK)
		ret = load_json_file(cli_opt(&a, "image-root"), &ir, &err);
	if (ret == UPK_OK)
		ret = load_json_file(cli_opt(&a, "director-root"), &dr, &err);
	if (ret == UPK_OK) {
		json_object_set(body, "image_root", ir);
		json_object_set(body, "director_root", dr);
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			ret = upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	}
	if (ret == UPK_OK)
		ret = srv_call(c, "POST", "/v1/fleets", text, NULL, &ans, &err);
	free(text);
	json_decref(ir);
	json_decref(dr);
	json_decref(body);
	if (ret != UPK_OK) {
		srv_close(c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(c))
		srv_print_json(json_incref(ans));
	else
		printf("fleet %s created\n  image metadata:    %s\n  director metadata: %s\n",
		       a.pos[0], json_string_value(json_object_get(ans, "image_metadata")),
		       json_string_value(json_object_get(ans, "director_metadata")));
	json_decref(ans);
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

static const struct cli_opt show_opts[] = {
	SRV_FLEET_OPT,
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec show_spec = {
	"upkeep fleet show [options]",
	"Show the fleet: its image and director metadata versions and expiries, and your role.",
	show_opts, 0, 0,
};

static int fleet_show(int argc, char **argv)
{
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ans = NULL, *r;
	char path[256] = "/v1/fleets/";
	upk_status ret;
	size_t i;
	enum cli_parse_result pr = cli_parse(&show_spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = srv_open(&a, 1, &c, &err);
	if (ret == UPK_OK && srv_path_append(path, sizeof(path), srv_fleet(c), SRV_ENCODE) != 0)
		ret = upk_error_set(&err, UPK_ERR_INVALID, "fleet name too long");
	if (ret == UPK_OK)
		ret = srv_call(c, "GET", path, NULL, NULL, &ans, &err);
	if (ret != UPK_OK) {
		srv_close(c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(c)) {
		srv_print_json(ans);
	} else {
		printf("fleet %s (you are %s)\n", srv_fleet(c),
		       json_string_value(json_object_get(ans, "role")));
		for (int k = 0; k < 2; k++) {
			const char *repo = k == 0 ? "image" : "director";

			json_array_foreach(json_object_get(ans, repo), i, r)
				printf("  %-8s %-12s v%-6lld expires %lld\n", repo,
				       json_string_value(json_object_get(r, "role")),
				       (long long)json_integer_value(json_object_get(r, "version")),
				       (long long)json_integer_value(json_object_get(r, "expires")));
		}
		json_decref(ans);
	}
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

int cmd_fleet(int argc, char **argv)
{
	static const struct cli_command sub[] = {
		{"keyset", fleet_keyset, "get the server's online keys for new roots"},
		{"create", fleet_create, "create a fleet from owner-signed roots"},
		{"show", fleet_show, "show a fleet's metadata versions and your role"},
	};

	return cli_dispatch("upkeep fleet", sub, sizeof(sub) / sizeof(sub[0]), argc, argv);
}
