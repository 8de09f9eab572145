/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeep rollout`: phased rollouts on the server (create, list, status,
 * pause, resume, abort, devices). Percentages stay text ("0.5") all the way
 * to the server, which keeps them as basis points.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "srv_client.h"

static const struct cli_opt create_opts[] = {
	SRV_FLEET_OPT,
	{"phase", "PERCENT[:SOAK]",
	 "a phase: cumulative percent of the fleet and its minimum soak time (30s, 15m, 1h, 2d)",
	 CLI_OPT_REPEAT},
	{"phases", "P,P,...", "phases as a list, e.g. 1,10,50,100 (soak from --soak)", 0},
	{"soak", "TIME", "soak time of each phase from --phases (default 0)", 0},
	{"failure-threshold", "PERCENT", "halt when more than this share fails (default 10)", 0},
	{"success-ratio", "PERCENT",
	 "share of successes before the next phase (default 100 - failure threshold)", 0},
	{"selector", "EXPR", "narrow the devices further (docs/selectors.md)", 0},
	{"name", "NAME", "a label (default: the target's file name)", 0},
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_opt rollout_opts[] = {
	SRV_FLEET_OPT,
	SRV_COMMON_OPTS,
	{NULL, NULL, NULL, 0},
};

static const struct cli_spec SPECS[] = {
	{"upkeep rollout create TARGET (--phase P[:SOAK]... | --phases LIST) [options]",
	 "Roll TARGET (a path the owner signed in the image repository) out in phases. Devices\n"
	 "join in a fixed order (a bucket of their id salted with the rollout id), only when the\n"
	 "target's owner-signed hardware list and selector admit them, and never when pinned.\n"
	 "A phase ends when its soak time passed and the success ratio is met; the rollout halts\n"
	 "by itself when failures exceed the threshold, and the rest never get the target.\n"
	 "Example: --phase 1:1h --phase 10:6h --phase 50:1d --phase 100 --failure-threshold 5",
	 create_opts, 1, 1},
	{"upkeep rollout list [options]", "List the fleet's rollouts, newest first.", rollout_opts,
	 0, 0},
	{"upkeep rollout status ID [options]",
	 "Show a rollout: state, phase, thresholds and its devices counted by outcome.",
	 rollout_opts, 1, 1},
	{"upkeep rollout pause ID [options]",
	 "Pause a running rollout: no new devices, no new phase, until resumed.", rollout_opts, 1,
	 1},
	{"upkeep rollout resume ID [options]",
	 "Resume a paused rollout (time spent paused counts as soak time).", rollout_opts, 1, 1},
	{"upkeep rollout abort ID [options]",
	 "Abort a rollout for good. Assignments that no device started on are withdrawn;\n"
	 "devices keep what they already began or installed.",
	 rollout_opts, 1, 1},
	{"upkeep rollout devices ID [options]",
	 "Every device of a rollout with its deployment, last state and failure reason.",
	 rollout_opts, 1, 1},
};

enum { R_CREATE, R_LIST, R_STATUS, R_PAUSE, R_RESUME, R_ABORT, R_DEVICES };

/* "90", "30s", "15m", "2h", "1d" in seconds; -1 when malformed. */
static long long soak_seconds(const char *s)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);

	if (end == s || v < 0 || v > 366LL * 86400)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "m") == 0)
		return v * 60;
	if (strcmp(end, "h") == 0)
		return v * 3600;
	if (strcmp(end, "d") == 0)
		return v * 86400;
	return -1;
}

/* A percentage as the API takes it: an integer, or text with decimals. */
static json_t *percent_value(const char *s)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);

	if (end != s && *end == '\0')
		return json_integer(v);
	return json_string(s);
}

static upk_status add_phase(json_t *phases, const char *spec, const char *default_soak,
			    struct upk_error *err)
{
	char pct[64];
	const char *colon = strchr(spec, ':');
	const char *soak = colon != NULL ? colon + 1 : default_soak;
	size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	long long secs = soak != NULL ? soak_seconds(soak) : 0;

	if (n == 0 || n >= sizeof(pct))
		return upk_error_set(err, UPK_ERR_INVALID, "phase \"%.64s\" has no percent", spec);
	if (secs < 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "soak \"%.64s\" is not a time like 30s, 15m, 2h or 1d", soak);
	memcpy(pct, spec, n);
	pct[n] = '\0';
	json_array_append_new(phases, json_pack("{s:o, s:I}", "percent", percent_value(pct), "soak",
						(json_int_t)secs));
	return UPK_OK;
}

static upk_status create_body(const struct cli_args *a, char **out, struct upk_error *err)
{
	json_t *b = json_object(), *phases = json_array();
	char *const *ph;
	size_t n;
	upk_status ret = UPK_OK;

	ph = cli_opt_all(a, "phase", &n);
	for (size_t i = 0; ret == UPK_OK && i < n; i++)
		ret = add_phase(phases, ph[i], cli_opt(a, "soak"), err);
	if (ret == UPK_OK && cli_opt(a, "phases") != NULL) {
		char *list = strdup(cli_opt(a, "phases")), *save = NULL;

		for (char *t = list ? strtok_r(list, ",", &save) : NULL; t != NULL && ret == UPK_OK;
		     t = strtok_r(NULL, ",", &save))
			ret = add_phase(phases, t, cli_opt(a, "soak"), err);
		free(list);
	}
	if (ret == UPK_OK && json_array_size(phases) == 0)
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "no phases: give --phase PERCENT[:SOAK] or --phases LIST");
	json_object_set_new(b, "target", json_string(a->pos[0]));
	json_object_set_new(b, "phases", phases);
	if (cli_opt(a, "failure-threshold") != NULL)
		json_object_set_new(b, "failure_threshold",
				    percent_value(cli_opt(a, "failure-threshold")));
	if (cli_opt(a, "success-ratio") != NULL)
		json_object_set_new(b, "success_ratio", percent_value(cli_opt(a, "success-ratio")));
	if (cli_opt(a, "selector") != NULL)
		json_object_set_new(b, "selector", json_string(cli_opt(a, "selector")));
	if (cli_opt(a, "name") != NULL)
		json_object_set_new(b, "name", json_string(cli_opt(a, "name")));
	if (ret == UPK_OK) {
		*out = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
		if (*out == NULL)
			ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	json_decref(b);
	return ret;
}

static const char *pct_text(const json_t *v, char buf[32])
{
	if (json_is_integer(v))
		snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, 32, "%s", json_string_value(v) ? json_string_value(v) : "?");
	return buf;
}

static void print_rollout(const json_t *r)
{
	const json_t *c = json_object_get(r, "counts"), *ph;
	const char *reason = json_string_value(json_object_get(r, "reason"));
	char b1[32], b2[32];
	size_t i;

	printf("rollout %lld \"%s\": %s, %s, phase %lld of %zu\n",
	       (long long)json_integer_value(json_object_get(r, "id")),
	       json_string_value(json_object_get(r, "name")),
	       json_string_value(json_object_get(r, "target_path")),
	       json_string_value(json_object_get(r, "state")),
	       (long long)json_integer_value(json_object_get(r, "phase")) + 1,
	       json_array_size(json_object_get(r, "phases")));
	printf("  phases:");
	json_array_foreach(json_object_get(r, "phases"), i, ph)
		printf(" %s%%/%llds", pct_text(json_object_get(ph, "percent"), b1),
		       (long long)json_integer_value(json_object_get(ph, "soak")));
	printf("\n  failure threshold %s%%, success ratio %s%%\n",
	       pct_text(json_object_get(r, "failure_threshold"), b1),
	       pct_text(json_object_get(r, "success_ratio"), b2));
	printf("  devices: %lld assigned, %lld pending, %lld in progress, %lld succeeded, "
	       "%lld failed\n",
	       (long long)json_integer_value(json_object_get(c, "assigned")),
	       (long long)json_integer_value(json_object_get(c, "pending")),
	       (long long)json_integer_value(json_object_get(c, "active")),
	       (long long)json_integer_value(json_object_get(c, "success")),
	       (long long)json_integer_value(json_object_get(c, "failure")));
	if (reason != NULL)
		printf("  reason: %s\n", reason);
}

static int run(int which, int argc, char **argv)
{
	static const char *const ACTION[] = {"", "", "", "/pause", "/resume", "/abort", "/devices"};
	struct cli_args a;
	struct srv_conn *c = NULL;
	struct upk_error err = {0};
	json_t *ans = NULL, *x;
	char path[1024] = "/v1/fleets/", *body = NULL;
	const char *method = which >= R_PAUSE && which <= R_ABORT ? "POST" : "GET";
	upk_status ret;
	size_t i;
	enum cli_parse_result pr = cli_parse(&SPECS[which], argc, argv, &a);

	if (pr != CLI_GO) {
		cli_args_free(&a);
		return cli_parse_exit(pr);
	}
	ret = srv_open(&a, 1, &c, &err);
	if (ret == UPK_OK) {
		int bad = srv_path_append(path, sizeof(path), srv_fleet(c), SRV_ENCODE) != 0 ||
			  srv_path_append(path, sizeof(path), "/rollouts", SRV_RAW) != 0;

		if (which != R_CREATE && which != R_LIST)
			bad |= srv_path_append(path, sizeof(path), "/", SRV_RAW) != 0 ||
			       srv_path_append(path, sizeof(path), a.pos[0], SRV_ENCODE) != 0 ||
			       srv_path_append(path, sizeof(path), ACTION[which], SRV_RAW) != 0;
		if (bad)
			ret = upk_error_set(&err, UPK_ERR_INVALID, "argument too long");
	}
	if (ret == UPK_OK && which == R_CREATE) {
		method = "POST";
		ret = create_body(&a, &body, &err);
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
	} else if (which == R_LIST) {
		json_array_foreach(json_object_get(ans, "rollouts"), i, x)
			print_rollout(x);
	} else if (which == R_DEVICES) {
		json_array_foreach(json_object_get(ans, "devices"), i, x) {
			const char *reason = json_string_value(json_object_get(x, "reason"));

			printf("%s  %-11s deployment %lld%s%s\n",
			       json_string_value(json_object_get(x, "device")),
			       json_string_value(json_object_get(x, "state")),
			       (long long)json_integer_value(json_object_get(x, "deployment")),
			       reason != NULL ? "  " : "", reason != NULL ? reason : "");
		}
	} else {
		print_rollout(ans);
	}
	json_decref(ans);
	srv_close(c);
	cli_args_free(&a);
	return CLI_EXIT_OK;
}

static int r_create(int argc, char **argv) { return run(R_CREATE, argc, argv); }
static int r_list(int argc, char **argv) { return run(R_LIST, argc, argv); }
static int r_status(int argc, char **argv) { return run(R_STATUS, argc, argv); }
static int r_pause(int argc, char **argv) { return run(R_PAUSE, argc, argv); }
static int r_resume(int argc, char **argv) { return run(R_RESUME, argc, argv); }
static int r_abort(int argc, char **argv) { return run(R_ABORT, argc, argv); }
static int r_devices(int argc, char **argv) { return run(R_DEVICES, argc, argv); }

int cmd_rollout(int argc, char **argv)
{
	static const struct cli_command sub[] = {
		{"create", r_create, "roll a signed target out in phases"},
		{"list", r_list, "list the fleet's rollouts"},
		{"status", r_status, "show a rollout's state and counts"},
		{"pause", r_pause, "pause a running rollout"},
		{"resume", r_resume, "resume a paused rollout"},
		{"abort", r_abort, "abort a rollout for good"},
		{"devices", r_devices, "every device of a rollout and its outcome"},
	};

	return cli_dispatch("upkeep rollout", sub, sizeof(sub) / sizeof(sub[0]), argc, argv);
}
