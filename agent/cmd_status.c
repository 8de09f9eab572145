/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd status`: identity, slots as the bootloader and the kernel report
 * them, what the state file says about each slot, and installed bundles.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config_target.h"
#include "identity.h"
#include "installer.h"
#include "journal.h"
#include "slot.h"

static const char usage[] =
    "usage: upkeepd [--config FILE] status [--json]\n"
    "Shows the device id, the server (a move or a config target overrides\n"
    "[agent] server), the applied config target, the owner since the last\n"
    "transfer, undelivered events, the slots (running, committed, trial) and\n"
    "the installed bundles. Exit status 1 when the bootloader cannot be read.\n";

static json_t *slots_json(const struct agent_config *cfg, struct journal *j, struct upk_error *err,
                          int *failed)
{
	struct bootloader *bl = NULL;
	struct slot_view v;
	json_t *o = json_object(), *list = json_array();

	for (size_t i = 0; i < cfg->n_slots; i++) {
		char key[64];
		json_t *rec;

		installer_slot_key(cfg->slots[i].name, key, sizeof(key));
		rec = j != NULL ? journal_get(j, key) : NULL;
		json_array_append_new(list,
		                      json_pack("{s:s,s:s,s:O?}", "name", cfg->slots[i].name,
		                                "device", cfg->slots[i].device, "record", rec));
	}
	json_object_set_new(o, "slots", list);
	if (cfg->n_slots == 0)
		return o;
	if (bootloader_open(&cfg->bootloader, &bl, err) != UPK_OK ||
	    slot_resolve(cfg, bl, &v, err) != UPK_OK) {
		json_object_set_new(o, "error", json_string(err->msg));
		*failed = 1;
	} else {
		json_object_set_new(
		    o, "boot",
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:s,s:b}", "bootloader", bl->ops->name,
		              "active", v.active->name, "inactive", v.inactive->name, "committed",
		              v.boot.committed, "next", v.boot.next, "armed", v.boot.armed, "trial",
		              v.boot.trial, "source",
		              v.source == SLOT_FROM_CMDLINE ? "cmdline" : "bootloader", "mismatch",
		              v.mismatch));
	}
	bootloader_free(bl);
	return o;
}

static json_t *bundles_json(const struct agent_config *cfg)
{
	json_t *list = json_array();
	DIR *d = opendir(cfg->archive_dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char *cur = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (archive_current(cfg->archive_dir, de->d_name, &cur, NULL) == UPK_OK)
			json_array_append_new(
			    list, json_pack("{s:s,s:s}", "name", de->d_name, "version", cur));
		free(cur);
	}
	if (d != NULL)
		closedir(d);
	return list;
}

static void print_text(const json_t *s)
{
	const json_t *boot = json_object_get(json_object_get(s, "slots"), "boot");
	const json_t *slots = json_object_get(json_object_get(s, "slots"), "slots");
	const json_t *v;
	size_t i;

	printf("device id:   %s\n", json_string_value(json_object_get(s, "device_id")));
	printf("hardware id: %s\n", json_string_value(json_object_get(s, "hardware_id")));
	printf("server:      %s\n", json_string_value(json_object_get(s, "server")));
	if (json_string_value(json_object_get(s, "image_version")) != NULL)
		printf("image:       version %s\n",
		       json_string_value(json_object_get(s, "image_version")));
	{
		const json_t *u = json_object_get(s, "update"), *l = json_object_get(s, "last");
		const char *k;
		json_t *val;

		json_object_foreach(json_object_get(s, "installed"), k, val)
		{
			if (strcmp(k, "image") != 0)
				printf("installed:   %s %s\n", k, json_string_value(val));
		}
		if (u != NULL)
			printf("in progress: %s %s (%s)\n",
			       json_string_value(json_object_get(u, "target")),
			       json_string_value(json_object_get(u, "version")),
			       json_string_value(json_object_get(u, "phase")));
		if (l != NULL)
			printf("last update: %s %s: %s%s%s\n",
			       json_string_value(json_object_get(l, "target")),
			       json_string_value(json_object_get(l, "version"))
			           ? json_string_value(json_object_get(l, "version"))
			           : "",
			       json_string_value(json_object_get(l, "result")),
			       json_object_get(l, "reason") ? ": " : "",
			       json_object_get(l, "reason")
			           ? json_string_value(json_object_get(l, "reason"))
			           : "");
	}
	if (json_object_get(s, "claim") != NULL) {
		const char *cs =
		    json_string_value(json_object_get(json_object_get(s, "claim"), "status"));

		printf("claim:       %s%s\n", cs ? cs : "?",
		       cs != NULL && strcmp(cs, "unclaimed") == 0
		           ? " (factory reset; `upkeepd claim-code` shows the code)"
		           : "");
	}
	{
		const json_t *c = json_object_get(s, "config"), *o = json_object_get(s, "owner");
		const json_t *ev;

		if (c != NULL) {
			printf("config:      %s %s (factory reset %s",
			       json_string_value(json_object_get(c, "target")),
			       json_string_value(json_object_get(c, "version")),
			       json_string_value(json_object_get(c, "factory_reset")));
			if (json_object_get(c, "poll_interval") != NULL)
				printf(", poll every %llds",
				       (long long)json_integer_value(
				           json_object_get(c, "poll_interval")));
			printf(")\n");
		}
		if (o != NULL)
			printf("owner:       since transfer %s (root v%lld), private data wiped %s\n",
			       json_string_value(json_object_get(o, "transfer")),
			       (long long)json_integer_value(json_object_get(o, "since_root")),
			       json_string_value(json_object_get(o, "wiped_at")));
		if (json_object_get(s, "transfer_pending") != NULL)
			printf("transfer:    %s pending\n",
			       json_string_value(
			           json_object_get(json_object_get(s, "transfer_pending"), "id")));
		json_array_foreach(json_object_get(s, "events"), i, ev)
		    printf("event:       %s (%s%s%s) at %s, not yet delivered\n",
		           json_string_value(json_object_get(ev, "kind")),
		           json_string_value(json_object_get(ev, "reason")),
		           json_object_get(ev, "transfer") ? " " : "",
		           json_object_get(ev, "transfer")
		               ? json_string_value(json_object_get(ev, "transfer"))
		               : "",
		           json_string_value(json_object_get(ev, "at")));
	}
	if (boot != NULL) {
		printf("bootloader:  %s\n", json_string_value(json_object_get(boot, "bootloader")));
		printf("running:     slot %s (from the %s)%s\n",
		       json_string_value(json_object_get(boot, "active")),
		       json_string_value(json_object_get(boot, "source")),
		       json_is_true(json_object_get(boot, "trial")) ? ", ON TRIAL" : "");
		printf("committed:   slot %s\n",
		       json_string_value(json_object_get(boot, "committed")));
		printf("next boot:   slot %s%s\n", json_string_value(json_object_get(boot, "next")),
		       json_is_true(json_object_get(boot, "armed")) ? " (trial armed)" : "");
		if (json_is_true(json_object_get(boot, "mismatch")))
			printf("warning:     the kernel and the bootloader disagree on the running "
			       "slot\n");
	}
	v = json_object_get(json_object_get(s, "slots"), "error");
	if (v != NULL)
		printf("slots:       %s\n", json_string_value(v));
	json_array_foreach(slots, i, v)
	{
		const json_t *rec = json_object_get(v, "record");
		printf("slot %s:      %s", json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "device")));
		if (json_is_object(rec))
			printf(" [%s%s%s]", json_string_value(json_object_get(rec, "state")),
			       json_object_get(rec, "version") ? " " : "",
			       json_object_get(rec, "version")
			           ? json_string_value(json_object_get(rec, "version"))
			           : "");
		printf("\n");
	}
	json_array_foreach(json_object_get(s, "bundles"), i, v)
	    printf("bundle:      %s %s\n", json_string_value(json_object_get(v, "name")),
	           json_string_value(json_object_get(v, "version")));
}

int agent_cmd_status(const char *config_path, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct identity *id = NULL;
	struct journal *j = NULL;
	struct upk_error err = {0};
	json_t *s = NULL;
	char *state = NULL, *text = NULL;
	int json = 0, failed = 0;

	if (agent_cmd_wants_help(argc, argv, usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return agent_cmd_usage("status", usage);
	}
	cfg = agent_cmd_load_config("status", config_path);
	if (cfg == NULL)
		return 1;
	s = json_object();
	if (identity_load(cfg->key_path, &id, &err) == UPK_OK)
		json_object_set_new(s, "device_id", json_string(id->id));
	else
		json_object_set_new(s, "device_id", json_string("(no device key yet)"));
	json_object_set_new(s, "hardware_id",
	                    json_string(cfg->hardware_id ? cfg->hardware_id : "(not set)"));
	json_object_set_new(s, "server",
	                    json_string(cfg->server_url ? cfg->server_url : "(not set)"));
	state = agent_cmd_state_path(cfg);
	if (state != NULL && journal_open(state, &j, &err) != UPK_OK) {
		json_object_set_new(s, "state_error", json_string(err.msg));
		failed = 1;
	}
	if (j != NULL) {
		static const char *const keys[] = {"installed", "security_version", "update",
		                                   "last", "refused", "enrolment", "claim", "config",
		                                   "owner", "transfer_pending", "events"};
		json_t *img = json_object_get(journal_get(j, "installed"), "image");

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (journal_get(j, keys[k]) != NULL)
				json_object_set(s, keys[k], journal_get(j, keys[k]));
		/* A move or a config target overrides [agent] server. */
		if (config_current_server(j, cfg->server_url) != NULL)
			json_object_set_new(s, "server",
			                    json_string(config_current_server(j, cfg->server_url)));
		/* Shorthand kept for scripts: the committed image version. */
		if (img != NULL)
			json_object_set(s, "image_version", img);
		json_object_set_new(s, "reports_queued",
		                    json_integer((json_int_t)json_array_size(journal_get(j, "outbox"))));
	}
	json_object_set_new(s, "slots", slots_json(cfg, j, &err, &failed));
	json_object_set_new(s, "bundles", bundles_json(cfg));
	if (json) {
		text = json_dumps(s, JSON_INDENT(2));
		if (text != NULL)
			printf("%s\n", text);
	} else {
		print_text(s);
	}
	if (failed)
		fprintf(stderr, "upkeepd status: %s\n", err.msg);
	free(text);
	free(state);
	json_decref(s);
	journal_free(j);
	identity_free(id);
	agent_config_free(cfg);
	return failed;
}
