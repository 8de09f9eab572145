/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd reset --factory` (the physical-presence reset: root on the device
 * stands in for a button) and `upkeepd claim-code` (show the one-time code
 * again). docs/ownership.md, "Physical-presence reset and claim".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "claim.h"
#include "commands.h"
#include "fileio.h"

static const char reset_usage[] =
    "usage: upkeepd [--config FILE] reset --factory [--json]\n"
    "Factory reset, run as root on the device: empties the owner-private data\n"
    "area, forgets both repositories' trusted roots, the enrolment and the\n"
    "owner's config, keeps installed software and anti-rollback counters, and\n"
    "prints the device id and a one-time claim code for the next owner\n"
    "(`upkeep device claim`). Refused while the owner's config says\n"
    "factory_reset = deny, or while an update is in progress.\n";

static const char code_usage[] =
    "usage: upkeepd [--config FILE] claim-code [--json]\n"
    "Prints the device id and the one-time claim code of a device that was\n"
    "reset and is waiting for a new owner's claim.\n";

/* State file and identity, for both commands. */
static upk_status open_state(const struct agent_config *cfg, struct journal **j,
                             struct identity **id, struct upk_error *err)
{
	char *state = agent_cmd_state_path(cfg);
	upk_status ret = state == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                               : fio_mkdir_p(cfg->data_dir, 0700, err);

	if (ret == UPK_OK)
		ret = identity_load_or_create(cfg->key_path, id, err);
	if (ret == UPK_OK)
		ret = journal_open(state, j, err);
	free(state);
	return ret;
}

static void print_code(const char *device, const char *code, int json)
{
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "device_id", device, "claim_code", code,
		                      "claim", "unclaimed");
		char *t = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;

		if (t != NULL)
			printf("%s\n", t);
		free(t);
		json_decref(o);
		return;
	}
	printf("device id:  %s\nclaim code: %s\n", device, code);
}

/* Parse [--json] plus, for reset, the required --factory. */
static int parse_flags(int argc, char **argv, int want_factory, int *json)
{
	int factory = 0;

	*json = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (want_factory && strcmp(argv[i], "--factory") == 0)
			factory = 1;
		else
			return -1;
	}
	return want_factory && !factory ? -1 : 0;
}

/* Both commands: factory set runs the reset, otherwise the stored code is shown. */
static int run(const char *cmd, const char *usage, int factory, const char *config_path, int argc,
               char **argv)
{
	struct agent_config *cfg;
	struct journal *j = NULL;
	struct identity *id = NULL;
	struct upk_error err = {0};
	char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1];
	upk_status ret;
	int json, rc = 0;

	if (agent_cmd_wants_help(argc, argv, usage))
		return 0;
	if (parse_flags(argc, argv, factory, &json) != 0)
		return agent_cmd_usage(cmd, usage);
	/* Being root on the device is the physical presence this reset asks for. */
	if (factory && geteuid() != 0) {
		fprintf(stderr, "upkeepd reset: refused: a factory reset must run as root on the "
		                "device\n");
		return 1;
	}
	cfg = agent_cmd_load_config(cmd, config_path);
	if (cfg == NULL)
		return 1;
	ret = open_state(cfg, &j, &id, &err);
	if (ret == UPK_OK && factory)
		ret = claim_recover(cfg, j, &err);
	if (ret == UPK_OK)
		ret = factory ? factory_reset(cfg, j, code, &err) : claim_code_read(cfg, j, code, &err);
	if (ret != UPK_OK) {
		rc = agent_cmd_fail(cmd, &err);
	} else {
		if (factory && !json)
			printf("factory reset: owner-private data wiped, trust and enrolment "
			       "forgotten; waiting for a new owner's claim\n");
		print_code(id->id, code, json);
	}
	OPENSSL_cleanse(code, sizeof(code));
	journal_free(j);
	identity_free(id);
	agent_config_free(cfg);
	return rc;
}

int agent_cmd_reset(const char *config_path, int argc, char **argv)
{
	return run("reset", reset_usage, 1, config_path, argc, argv);
}

int agent_cmd_claim_code(const char *config_path, int argc, char **argv)
{
	return run("claim-code", code_usage, 0, config_path, argc, argv);
}
