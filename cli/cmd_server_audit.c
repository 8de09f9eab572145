/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep audit`: read a fleet's append-only audit log on the server, all
 * of it or one device's, oldest first, in pages (--after the last id seen).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"

static const struct cli_opt audit_opts[] = {
	SRV_FLEET_OPT,
	{"device", "DEVICE", "only entries about this device", 0},
	{"after", "ID", "only entries after this id (paging)", 0},
	{"limit", "N", "at most N entries, 1-1000 (default 100)", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec audit_spec = {
	"upkeep audit [--device DEVICE] [--after ID] [--limit N] [options]",
	"Print the fleet's audit log oldest first: every owner action and device report, who\n"
	"did it (owner key, device or the server itself) and what changed.",
	audit_opts, 0, 0,
};

int cmd_audit(int argc, char **argv)
{
	static const char *const Q[] = {"device", "after", "limit"};
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ans = NULL, *e;
	char path[1024] = "/v1/fleets/";
	int first = 1;
	upk_status ret;
	size_t i;
	enum cli_parse_result pr = cli_parse(&audit_spec, argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = srv_open(&a, 1, &c, &err);
	if (ret == UPK_OK &&
	    (srv_path_append(path, sizeof(path), srv_fleet(c), SRV_ENCODE) != 0 ||
	     srv_path_append(path, sizeof(path), "/audit", SRV_RAW) != 0))
		ret = upk_error_set(&err, UPK_ERR_INVALID, "fleet name too long");
	for (size_t k = 0; ret == UPK_OK && k < 3; k++) {
		const char *v = cli_opt(&a, Q[k]);

		if (v == NULL)
			continue;
		if (srv_path_append(path, sizeof(path), first ? "?" : "&", SRV_RAW) != 0 ||
		    srv_path_append(path, sizeof(path), Q[k], SRV_ENCODE) != 0 ||
		    srv_path_append(path, sizeof(path), "=", SRV_RAW) != 0 ||
		    srv_path_append(path, sizeof(path), v, SRV_ENCODE) != 0)
			ret = upk_error_set(&err, UPK_ERR_INVALID, "--%s too long", Q[k]);
		first = 0;
	}
	if (ret == UPK_OK)
		ret = srv_call(c, "GET", path, NULL, NULL, &ans, &err);
	if (ret != UPK_OK) {
		srv_close(c);
		cli_args_free(&a);
		return cli_fail(&err);
	}
	if (srv_json(c)) {
		srv_print_json(ans);
		ans = NULL;
	} else {
		json_array_foreach(json_object_get(ans, "entries"), i, e) {
			char *detail = json_dumps(json_object_get(e, "detail"),
						  JSON_COMPACT | JSON_SORT_KEYS);
			const char *dev = json_string_value(json_object_get(e, "device_id"));

			printf("%6lld %lld %-18s %-7s %.16s%s%.16s %s\n",
			       (long long)json_integer_value(json_object_get(e, "id")),
			       (long long)json_integer_value(json_object_get(e, "at")),
			       json_string_value(json_object_get(e, "action")),
			       json_string_value(json_object_get(e, "actor_kind")),
			       json_string_value(json_object_get(e, "actor")), dev ? " device " : "",
			       dev ? dev : "", detail ? detail : "");
			free(detail);
		}
	}
	json_decref(ans);
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}
