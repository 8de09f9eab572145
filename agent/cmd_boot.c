/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd health`, `upkeepd commit` and `upkeepd rollback`: the decisions
 * after a trial boot, by hand (the update state machine makes them itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "health.h"
#include "installer.h"
#include "journal.h"
#include "slot.h"
#include "update.h"

static const char health_usage[] = "usage: upkeepd [--config FILE] health\n"
                                   "Runs the [health] commands; exit status 0 when all pass.\n";

static const char commit_usage[] =
    "usage: upkeepd [--config FILE] commit [--force]\n"
    "Runs the health check and, when it passes, makes the slot on trial the\n"
    "committed one. --force commits without the health check.\n";

static const char rollback_usage[] =
    "usage: upkeepd [--config FILE] rollback\n"
    "Drops the armed or running trial: the next boot starts the committed slot.\n";

int agent_cmd_health(const char *config_path, int argc, char **argv)
{
	struct agent_config *cfg;
	struct upk_error err = {0};
	int rc = 0;

	if (agent_cmd_wants_help(argc, argv, health_usage))
		return 0;
	if (argc != 1)
		return agent_cmd_usage("health", health_usage);
	cfg = agent_cmd_load_config("health", config_path);
	if (cfg == NULL)
		return 1;
	if (health_check(cfg, NULL, &err) != UPK_OK)
		rc = agent_cmd_fail("health", &err);
	else
		printf("healthy (%zu check%s passed)\n", cfg->n_health,
		       cfg->n_health == 1 ? "" : "s");
	agent_config_free(cfg);
	return rc;
}

/* Common start: configuration, bootloader, slots. */
static int open_all(const char *cmd, const char *config_path, struct agent_config **cfg,
                    struct bootloader **bl, struct slot_view *v, struct upk_error *err)
{
	*cfg = agent_cmd_load_config(cmd, config_path);
	if (*cfg == NULL)
		return 1;
	if (bootloader_open(&(*cfg)->bootloader, bl, err) != UPK_OK ||
	    slot_resolve(*cfg, *bl, v, err) != UPK_OK)
		return agent_cmd_fail(cmd, err);
	return 0;
}

int agent_cmd_commit(const char *config_path, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct bootloader *bl = NULL;
	struct journal *j = NULL;
	struct slot_view v;
	struct upk_error err = {0};
	char *state = NULL, key[64];
	int force = 0, rc;

	if (agent_cmd_wants_help(argc, argv, commit_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else
			return agent_cmd_usage("commit", commit_usage);
	}
	rc = open_all("commit", config_path, &cfg, &bl, &v, &err);
	if (rc != 0)
		goto out;
	if (!v.boot.trial) {
		printf("nothing on trial: slot %s is committed\n", v.boot.committed);
		goto out;
	}
	if (v.mismatch) {
		err.code = UPK_ERR_INVALID;
		snprintf(err.msg, sizeof(err.msg),
		         "the kernel runs slot %s but the bootloader has slot %s on trial: the "
		         "trial did not boot; roll back",
		         v.active->name, v.boot.booted);
		rc = agent_cmd_fail("commit", &err);
		goto out;
	}
	if (!force && health_check(cfg, NULL, &err) != UPK_OK) {
		upk_error_prefix(&err, err.code, "not committing slot %s: ", v.boot.booted);
		rc = agent_cmd_fail("commit", &err);
		goto out;
	}
	state = agent_cmd_state_path(cfg);
	if (state == NULL || journal_open(state, &j, &err) != UPK_OK ||
	    bootloader_commit(bl, v.boot.booted, &err) != UPK_OK) {
		rc = agent_cmd_fail("commit", &err);
		goto out;
	}
	installer_slot_key(v.boot.booted, key, sizeof(key));
	json_t *rec = journal_get(j, key);
	const char *version = json_string_value(json_object_get(rec, "version"));
	json_t *u = journal_get(j, "update");
	struct update_ctx uc = {.cfg = cfg, .journal = j, .bl = bl};
	const char *uslot = json_string_value(json_object_get(u, "slot"));

	/* The update record of that slot ends as a success (version, security counter, report). */
	if (u != NULL && uslot != NULL && strcmp(uslot, v.boot.booted) == 0
	        ? update_record_result(&uc, 1, NULL, &err) != UPK_OK
	        : journal_commit(j, &err) != UPK_OK) {
		rc = agent_cmd_fail("commit", &err);
		goto out;
	}
	printf("committed slot %s%s%s\n", v.boot.booted, version ? ", version " : "",
	       version ? version : "");
out:
	free(state);
	journal_free(j);
	bootloader_free(bl);
	agent_config_free(cfg);
	return rc;
}

int agent_cmd_rollback(const char *config_path, int argc, char **argv)
{
	struct agent_config *cfg = NULL;
	struct bootloader *bl = NULL;
	struct journal *j = NULL;
	struct slot_view v;
	struct upk_error err = {0};
	char *state = NULL;
	int rc;

	if (agent_cmd_wants_help(argc, argv, rollback_usage))
		return 0;
	if (argc != 1)
		return agent_cmd_usage("rollback", rollback_usage);
	rc = open_all("rollback", config_path, &cfg, &bl, &v, &err);
	if (rc != 0)
		goto out;
	if (!v.boot.trial && !v.boot.armed) {
		printf("nothing to roll back: slot %s is committed\n", v.boot.committed);
		goto out;
	}
	state = agent_cmd_state_path(cfg);
	if (bootloader_rollback(bl, &err) != UPK_OK || state == NULL ||
	    journal_open(state, &j, &err) != UPK_OK) {
		rc = agent_cmd_fail("rollback", &err);
		goto out;
	}
	{
		struct update_ctx uc = {.cfg = cfg, .journal = j, .bl = bl};

		if (update_record_result(&uc, 0, "rolled back by hand (upkeepd rollback)", &err) !=
		    UPK_OK) {
			rc = agent_cmd_fail("rollback", &err);
			goto out;
		}
	}
	if (journal_commit(j, &err) != UPK_OK) {
		rc = agent_cmd_fail("rollback", &err);
		goto out;
	}
	if (v.boot.trial)
		printf("rolled back: reboot to return to slot %s\n", v.boot.committed);
	else
		printf("rolled back: the armed trial of slot %s is dropped\n", v.boot.next);
out:
	free(state);
	journal_free(j);
	bootloader_free(bl);
	agent_config_free(cfg);
	return rc;
}
