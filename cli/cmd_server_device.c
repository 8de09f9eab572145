/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep device`: the owner's view of a fleet's devices on the server:
 * list, show, accept, reject, tag, pin to a target, unpin, the history of
 * deployments of one device, and the claim of a device after a factory reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"
#include "upkeep/claim.h"

static const struct cli_opt dev_opts[] = {
	SRV_FLEET_OPT,
	{"status", "STATE", "list: only pending, accepted, rejected or transferred devices", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_opt claim_opts[] = {
	SRV_FLEET_OPT,
	{"code", "CODE", "the claim code the device shows (XXXXX-XXXXX-XXXXX-XXXXX)", 0},
	{"image-root", "FILE", "a root of the fleet's image repository, as published", 0},
	{"director-root", "FILE", "a root of the fleet's director, as published", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

/* One spec per subcommand: usage, description, positional counts. */
static const struct cli_spec SPECS[] = {
	{"upkeep device list [--status STATE] [options]",
	 "List the fleet's devices: id, status, hardware, tags, installed versions, last seen.",
	 dev_opts, 0, 0},
	{"upkeep device show DEVICE [options]",
	 "Show one device with its current assignments and pins.", dev_opts, 1, 1},
	{"upkeep device accept DEVICE [options]",
	 "Accept an enrolled device: it gets director metadata and may be assigned targets.",
	 dev_opts, 1, 1},
	{"upkeep device reject DEVICE [options]",
	 "Reject a device: its requests are refused from now on.", dev_opts, 1, 1},
	{"upkeep device tag DEVICE [KEY=VALUE]... [options]",
	 "Replace the device's owner tags (selectors see them; devices cannot set them).\n"
	 "No KEY=VALUE removes every tag.",
	 dev_opts, 1, 65},
	{"upkeep device pin DEVICE TARGET [options]",
	 "Assign TARGET to the device and keep it there: rollouts pass the device by for that\n"
	 "target type until it is unpinned. The owner-signed hardware list and selector apply.",
	 dev_opts, 2, 2},
	{"upkeep device unpin DEVICE TYPE [options]",
	 "Remove the device's pin for a target type (image, config, ...). The assignment stays\n"
	 "until a rollout or the owner replaces it.",
	 dev_opts, 2, 2},
	{"upkeep device history DEVICE [options]",
	 "The device's deployments, newest first: target, rollout, state and failure reason.",
	 dev_opts, 1, 1},
	{"upkeep device claim DEVICE --code CODE --image-root FILE --director-root FILE [options]",
	 "Claim a factory-reset device for the fleet: CODE is the one-time code it shows. The\n"
	 "claim carries an HMAC made with the code over the device id, the fleet and the exact\n"
	 "bytes of both root files (each must be a root version the fleet serves), so neither\n"
	 "the server nor anyone without the code can forge it. The device checks it, trusts\n"
	 "these roots and enrols in the fleet (pre-authorised) at its next check.",
	 claim_opts, 1, 1},
};

enum { D_LIST, D_SHOW, D_ACCEPT, D_REJECT, D_TAG, D_PIN, D_UNPIN, D_HISTORY, D_CLAIM };

#define CLAIM_MAX_ROOT (32u * 1024u)

/* The claim's body: both root files as exact texts and the MAC over them. */
static upk_status claim_body(const struct cli_args *a, const char *fleet, char **body,
			     struct upk_error *err)
{
	const char *code = cli_opt(a, "code"), *ip = cli_opt(a, "image-root");
	const char *dp = cli_opt(a, "director-root");
	char *ir = NULL, *dr = NULL, mac[UPK_CLAIM_MAC_HEX_LEN + 1];
	size_t il = 0, dl = 0;
	json_t *x = NULL;
	upk_status ret = UPK_OK;

	if (code == NULL || ip == NULL || dp == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "--code, --image-root and --director-root are required");
	ret = cli_read_file(ip, CLAIM_MAX_ROOT, &ir, &il, err);
	if (ret == UPK_OK)
		ret = cli_read_file(dp, CLAIM_MAX_ROOT, &dr, &dl, err);
	if (ret == UPK_OK)
		ret = upk_claim_mac(code, a->pos[0], fleet, ir, il, dr, dl, mac, err);
	if (ret == UPK_OK) {
		/* json_stringn keeps the bytes as they are: the MAC covers exactly these. */
		x = json_pack("{s:s, s:o?, s:o?, s:s}", "device", a->pos[0], "image_root",
			      json_stringn(ir, il), "director_root", json_stringn(dr, dl), "mac", mac);
		if (x == NULL || !json_is_string(json_object_get(x, "image_root")) ||
		    !json_is_string(json_object_get(x, "director_root")))
			ret = upk_error_set(err, UPK_ERR_INVALID,
					    "%s or %s is not UTF-8 text (a root file as published)",
					    ip, dp);
	}
	if (ret == UPK_OK && (*body = json_dumps(x, JSON_COMPACT)) == NULL)
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_decref(x);
	free(ir);
	free(dr);
	return ret;
}

static void print_device(const json_t *d)
{
	const char *k;
	json_t *v;

	printf("%s  %-8s %-16s last seen %lld", json_string_value(json_object_get(d, "id")),
	       json_string_value(json_object_get(d, "status")),
	       json_string_value(json_object_get(d, "hardware_id")),
	       (long long)json_integer_value(json_object_get(d, "last_seen")));
	json_object_foreach(json_object_get(d, "tags"), k, v)
		printf(" %s=%s", k, json_string_value(v));
	json_object_foreach(json_object_get(d, "installed"), k, v)
		printf(" [%s %s]", k, json_string_value(v));
	if (json_is_string(json_object_get(d, "moved_to")))
		printf(" moved to fleet %s", json_string_value(json_object_get(d, "moved_to")));
	putchar('\n');
}

static int run(int which, int argc, char **argv)
{
	const struct cli_spec *spec = &SPECS[which];
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ans = NULL, *x;
	char path[1024] = "/v1/fleets/", *body = NULL;
	const char *method = "GET";
	upk_status ret;
	size_t i;
	enum cli_parse_result pr = cli_parse(spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = srv_open(&a, 1, &c, &err);
	if (ret == UPK_OK) {
		int bad = srv_path_append(path, sizeof(path), srv_fleet(c), SRV_ENCODE) != 0 ||
			  srv_path_append(path, sizeof(path), "/devices", SRV_RAW) != 0;

		if (which != D_LIST && which != D_CLAIM)
			bad |= srv_path_append(path, sizeof(path), "/", SRV_RAW) != 0 ||
			       srv_path_append(path, sizeof(path), a.pos[0], SRV_ENCODE) != 0;
		switch (which) {
		case D_LIST:
			if (cli_opt(&a, "status") != NULL)
				bad |= srv_path_append(path, sizeof(path), "?status=", SRV_RAW) != 0 ||
				       srv_path_append(path, sizeof(path), cli_opt(&a, "status"), SRV_ENCODE) != 0;
			break;
		case D_ACCEPT:
		case D_REJECT:
			method = "POST";
			bad |= srv_path_append(path, sizeof(path),
					       which == D_ACCEPT ? "/accept" : "/reject", SRV_RAW) != 0;
			break;
		case D_TAG: {
			json_t *tags = json_object();

			method = "PUT";
			bad |= srv_path_append(path, sizeof(path), "/tags", SRV_RAW) != 0;
			for (size_t k = 1; k < a.n_pos && ret == UPK_OK; k++) {
				char *eq = strchr(a.pos[k], '=');

				if (eq == NULL || eq == a.pos[k]) {
					ret = upk_error_set(&err, UPK_ERR_INVALID,
							    "tag \"%.64s\" is not KEY=VALUE", a.pos[k]);
					break;
				}
				*eq = '\0';
				json_object_set_new(tags, a.pos[k], json_string(eq + 1));
				*eq = '=';
			}
			x = json_pack("{s:o}", "tags", tags);
			body = json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS);
			json_decref(x);
			break;
		}
		case D_PIN:
			method = "PUT";
			bad |= srv_path_append(path, sizeof(path), "/pin", SRV_RAW) != 0;
			x = json_pack("{s:s}", "target", a.pos[1]);
			body = json_dumps(x, JSON_COMPACT);
			json_decref(x);
			break;
		case D_UNPIN:
			method = "DELETE";
			bad |= srv_path_append(path, sizeof(path), "/pin/", SRV_RAW) != 0 ||
			       srv_path_append(path, sizeof(path), a.pos[1], SRV_ENCODE) != 0;
			break;
		case D_HISTORY:
			bad |= srv_path_append(path, sizeof(path), "/deployments", SRV_RAW) != 0;
			break;
		case D_CLAIM:
			method = "POST";
			path[strlen(path) - strlen("/devices")] = '\0';
			bad |= srv_path_append(path, sizeof(path), "/claims", SRV_RAW) != 0;
			ret = claim_body(&a, srv_fleet(c), &body, &err);
			break;
		default:
			break;
		}
		if (ret == UPK_OK && bad)
			ret = upk_error_set(&err, UPK_ERR_INVALID, "argument too long");
	}
	if (ret == UPK_OK)
		ret = srv_call(c, method, path, body, NULL, &ans, &err);
	free(body);
	if (ret != UPK_OK) {
		srv_close(c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(c)) {
		srv_print_json(ans);
		ans = NULL;
	} else if (which == D_LIST) {
		json_array_foreach(json_object_get(ans, "devices"), i, x)
			print_device(x);
	} else if (which == D_SHOW) {
		print_device(ans);
		json_array_foreach(json_object_get(ans, "assignments"), i, x)
			printf("  assigned %-8s %s (deployment %lld, %s)\n",
			       json_string_value(json_object_get(x, "type")),
			       json_string_value(json_object_get(x, "target")),
			       (long long)json_integer_value(json_object_get(x, "id")),
			       json_string_value(json_object_get(x, "state")));
		json_array_foreach(json_object_get(ans, "pins"), i, x)
			printf("  pinned   %-8s %s\n", json_string_value(json_object_get(x, "type")),
			       json_string_value(json_object_get(x, "target_path")));
	} else if (which == D_HISTORY) {
		json_array_foreach(json_object_get(ans, "deployments"), i, x) {
			const char *reason = json_string_value(json_object_get(x, "reason"));

			printf("%6lld  %-10s %-30s rollout %-4s %s\n",
			       (long long)json_integer_value(json_object_get(x, "id")),
			       json_string_value(json_object_get(x, "state")),
			       json_string_value(json_object_get(x, "target_path")),
			       json_is_integer(json_object_get(x, "rollout_id")) ? "yes" : "-",
			       reason != NULL ? reason : "");
		}
	} else if (which == D_CLAIM) {
		printf("device %s: claimed for fleet %s (image root v%lld, director root v%lld); it "
		       "takes the claim at its next check\n",
		       a.pos[0], srv_fleet(c),
		       (long long)json_integer_value(json_object_get(ans, "image_root")),
		       (long long)json_integer_value(json_object_get(ans, "director_root")));
	} else {
		printf("device %s: %s\n", a.pos[0],
		       which == D_ACCEPT   ? "accepted"
		       : which == D_REJECT ? "rejected"
		       : which == D_TAG    ? "tags set"
		       : which == D_PIN    ? "pinned"
					   : "unpinned");
	}
	json_decref(ans);
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

static int d_list(int argc, char **argv) { return run(D_LIST, argc, argv); }
static int d_show(int argc, char **argv) { return run(D_SHOW, argc, argv); }
static int d_accept(int argc, char **argv) { return run(D_ACCEPT, argc, argv); }
static int d_reject(int argc, char **argv) { return run(D_REJECT, argc, argv); }
static int d_tag(int argc, char **argv) { return run(D_TAG, argc, argv); }
static int d_pin(int argc, char **argv) { return run(D_PIN, argc, argv); }
static int d_unpin(int argc, char **argv) { return run(D_UNPIN, argc, argv); }
static int d_history(int argc, char **argv) { return run(D_HISTORY, argc, argv); }
static int d_claim(int argc, char **argv) { return run(D_CLAIM, argc, argv); }

int cmd_device(int argc, char **argv)
{
	static const struct cli_command sub[] = {
		{"list", d_list, "list the fleet's devices"},
		{"show", d_show, "show a device with its assignments and pins"},
		{"accept", d_accept, "accept an enrolled device"},
		{"reject", d_reject, "reject a device"},
		{"tag", d_tag, "replace a device's owner tags"},
		{"pin", d_pin, "assign a target and keep rollouts away"},
		{"unpin", d_unpin, "remove a pin"},
		{"history", d_history, "a device's deployments, newest first"},
		{"claim", d_claim, "claim a factory-reset device with the code it shows"},
	};

	return cli_dispatch("upkeep device", sub, sizeof(sub) / sizeof(sub[0]), argc, argv);
}
