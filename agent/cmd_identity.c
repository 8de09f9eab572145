/* SPDX-License-Identifier: Apache-2.0 */
/* `upkeepd identity`: make the device key on first use and show the device id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "identity.h"

static const char usage[] =
    "usage: upkeepd [--config FILE] identity [--json]\n"
    "Shows the device id (the TUF key id of the device key), generating the\n"
    "Ed25519 key at the configured path (mode 0600) if it does not exist yet.\n";

int agent_cmd_identity(const char *config_path, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct identity *id = NULL;
	struct upk_error err = {0};
	int json = 0, rc = 1;

	if (agent_cmd_wants_help(argc, argv, usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return agent_cmd_usage("identity", usage);
	}
	cfg = agent_cmd_load_config("identity", config_path);
	if (cfg == NULL)
		return 1;
	if (identity_load_or_create(cfg->key_path, &id, &err) != UPK_OK) {
		rc = agent_cmd_fail("identity", &err);
		goto out;
	}
	if (json) {
		json_t *pub = NULL, *o;
		char *text;
		if (upk_key_to_tuf(id->key, &pub, &err) != UPK_OK) {
			rc = agent_cmd_fail("identity", &err);
			goto out;
		}
		o = json_pack("{s:s,s:s,s:b,s:o}", "device_id", id->id, "key", cfg->key_path,
		              "created", id->created, "public_key", pub);
		text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		json_decref(o);
	} else {
		if (id->created)
			fprintf(stderr, "upkeepd: generated the device key %s\n", cfg->key_path);
		printf("%s\n", id->id);
	}
	rc = 0;
out:
	identity_free(id);
	agent_config_free(cfg);
	return rc;
}
