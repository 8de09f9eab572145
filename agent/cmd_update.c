/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd daemon`, `upkeepd check`, `upkeepd install BUNDLE` and `upkeepd
 * resume`: the update state machine driven by the server, by a mirror given
 * on the command line, by an offline bundle, or only to finish after a boot.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "claim.h"
#include "commands.h"
#include "daemon.h"
#include "fileio.h"
#include "identity.h"
#include "update.h"
#include "upkeep/fetch_curl.h"

static const char daemon_usage[] =
    "usage: upkeepd [--config FILE] daemon [--no-reboot]\n"
    "Runs until SIGTERM: enrols with the server, checks in every poll_interval\n"
    "(with jitter), installs what the director assigns, reports status, and\n"
    "backs off exponentially while the server cannot be reached.\n";

static const char check_usage[] =
    "usage: upkeepd [--config FILE] check [--no-reboot]\n"
    "       upkeepd [--config FILE] check --image-metadata URL --director-metadata URL\n"
    "                                     --targets URL [--no-reboot]\n"
    "One check now: with the server (enrol, check in, install, report), or\n"
    "against the given repository URLs (a mirror; no server, no reports).\n"
    "Exit status 0 when the check ran (see `upkeepd status` for its result).\n";

static const char install_usage[] =
    "usage: upkeepd [--config FILE] install [--no-reboot] BUNDLE\n"
    "Installs from an offline bundle (made by `upkeep bundle create`): its\n"
    "metadata is verified exactly as a network check would, from the roots\n"
    "this device trusts. An image arms a trial boot and reboots.\n";

static const char resume_usage[] =
    "usage: upkeepd [--config FILE] resume [--no-reboot]\n"
    "Finishes an update after a reboot or a crash: health check, commit or\n"
    "roll back. `daemon` and `check` do this first by themselves.\n";

/* What every local run needs: identity, state file, bootloader. */
struct local {
	struct agent_config *cfg;
	struct identity *id;
	struct journal *j;
	struct bootloader *bl;
	struct update_ctx uc;
};

static upk_status local_open(struct local *l, int no_reboot, struct upk_error *err)
{
	char *state = agent_cmd_state_path(l->cfg);
	upk_status ret;

	ret = state == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                    : fio_mkdir_p(l->cfg->data_dir, 0700, err);
	if (ret == UPK_OK)
		ret = identity_load_or_create(l->cfg->key_path, &l->id, err);
	if (ret == UPK_OK)
		ret = journal_open(state, &l->j, err);
	if (ret == UPK_OK)
		ret = claim_recover(l->cfg, l->j, err);
	if (ret == UPK_OK)
		ret = bootloader_open(&l->cfg->bootloader, &l->bl, err);
	free(state);
	if (ret != UPK_OK)
		return ret;
	memset(&l->uc, 0, sizeof(l->uc));
	l->uc.cfg = l->cfg;
	l->uc.device_id = l->id->id;
	l->uc.journal = l->j;
	l->uc.bl = l->bl;
	l->uc.no_reboot = no_reboot;
	/* Test hook (like UPKEEP_FAULT): journal the download position more often. */
	if (getenv("UPKEEP_RESUME_STEP") != NULL)
		l->uc.resume_step = strtoull(getenv("UPKEEP_RESUME_STEP"), NULL, 10);
	return UPK_OK;
}

static void local_close(struct local *l)
{
	bootloader_free(l->bl);
	journal_free(l->j);
	identity_free(l->id);
	agent_config_free(l->cfg);
}

static int print_outcome(const char *cmd, const struct local *l, enum update_outcome o)
{
	const json_t *last = journal_get(l->j, "last");
	const char *reason = json_string_value(json_object_get(last, "reason"));

	printf("%s: %s", cmd, update_outcome_name(o));
	if ((o == UPDATE_REFUSED || o == UPDATE_FAILED) && reason != NULL)
		printf(": %s", reason);
	if (o == UPDATE_REBOOTING)
		printf(" (trial boot armed)");
	printf("\n");
	/* A refused or failed update is a result, not a failure of the command. */
	return 0;
}

int agent_cmd_daemon(const char *config_path, int argc, char **argv)
{
	struct daemon_opts o = {0};
	struct agent_config *cfg;
	struct upk_error err = {0};
	enum update_outcome out;
	const char *fd = getenv(DAEMON_CYCLE_FD_ENV);
	int rc = 0;

	if (agent_cmd_wants_help(argc, argv, daemon_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-reboot") == 0)
			o.no_reboot = 1;
		else
			return agent_cmd_usage("daemon", daemon_usage);
	}
	/* The front-end (agent/frontend.c) runs the loop; each cycle is one run of this. */
	o.cycle_fd = fd != NULL ? atoi(fd) : 0;
	/* Health checks, handlers and the reboot command must not hold the front-end's pipe. */
	if (o.cycle_fd > 0 && fcntl(o.cycle_fd, F_SETFD, FD_CLOEXEC) != 0)
		o.cycle_fd = 0;
	cfg = agent_cmd_load_config("daemon", config_path);
	if (cfg == NULL)
		return 1;
	if (daemon_run(cfg, &o, &out, &err) != UPK_OK)
		rc = agent_cmd_fail("daemon", &err);
	agent_config_free(cfg);
	return rc;
}

int agent_cmd_check(const char *config_path, int argc, char **argv)
{
	const char *im = NULL, *dm = NULL, *tg = NULL;
	struct local l;
	struct upk_error err = {0};
	struct upk_fetcher *f = NULL;
	enum update_outcome out = UPDATE_IDLE;
	int no_reboot = 0, rc;

	if (agent_cmd_wants_help(argc, argv, check_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-reboot") == 0)
			no_reboot = 1;
		else if (strcmp(argv[i], "--image-metadata") == 0 && i + 1 < argc)
			im = argv[++i];
		else if (strcmp(argv[i], "--director-metadata") == 0 && i + 1 < argc)
			dm = argv[++i];
		else if (strcmp(argv[i], "--targets") == 0 && i + 1 < argc)
			tg = argv[++i];
		else
			return agent_cmd_usage("check", check_usage);
	}
	if ((im != NULL) != (dm != NULL) || (im != NULL) != (tg != NULL))
		return agent_cmd_usage("check", check_usage);
	memset(&l, 0, sizeof(l));
	l.cfg = agent_cmd_load_config("check", config_path);
	if (l.cfg == NULL)
		return 1;
	if (im == NULL) {
		struct daemon_opts o = {.no_reboot = no_reboot};

		if (daemon_run(l.cfg, &o, &out, &err) != UPK_OK) {
			rc = agent_cmd_fail("check", &err);
			agent_config_free(l.cfg);
			return rc;
		}
		printf("check: %s\n", update_outcome_name(out));
		agent_config_free(l.cfg);
		return 0;
	}
	if (local_open(&l, no_reboot, &err) != UPK_OK ||
	    upk_fetcher_curl_new(NULL, &f, &err) != UPK_OK) {
		rc = agent_cmd_fail("check", &err);
		goto out;
	}
	{
		struct update_source src = {.image_metadata_url = im,
		                            .director_metadata_url = dm,
		                            .targets_url = tg,
		                            .fetcher = f};

		if (update_check(&l.uc, &src, &out, &err) != UPK_OK)
			rc = agent_cmd_fail("check", &err);
		else
			rc = print_outcome("check", &l, out);
	}
out:
	upk_fetcher_curl_free(f);
	local_close(&l);
	return rc;
}

int agent_cmd_install(const char *config_path, int argc, char **argv)
{
	const char *path = NULL;
	struct local l;
	struct bundle *b = NULL;
	struct upk_error err = {0};
	enum update_outcome out = UPDATE_IDLE;
	int no_reboot = 0, rc;

	if (agent_cmd_wants_help(argc, argv, install_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-reboot") == 0)
			no_reboot = 1;
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			return agent_cmd_usage("install", install_usage);
	}
	if (path == NULL)
		return agent_cmd_usage("install", install_usage);
	memset(&l, 0, sizeof(l));
	l.cfg = agent_cmd_load_config("install", config_path);
	if (l.cfg == NULL)
		return 1;
	if (bundle_open(path, &b, &err) != UPK_OK || local_open(&l, no_reboot, &err) != UPK_OK) {
		rc = agent_cmd_fail("install", &err);
		goto out;
	}
	{
		struct update_source src = {.image_metadata_url = BUNDLE_URL "image/metadata/",
		                            .director_metadata_url =
		                                BUNDLE_URL "director/metadata/",
		                            .targets_url = BUNDLE_URL "targets/",
		                            .fetcher = bundle_fetcher(b)};

		if (update_check(&l.uc, &src, &out, &err) != UPK_OK) {
			rc = agent_cmd_fail("install", &err);
			goto out;
		}
	}
	rc = print_outcome("install", &l, out);
	/* Nothing assigned and nothing done: say so with a failing status. */
	if (out == UPDATE_REFUSED || out == UPDATE_FAILED)
		rc = 1;
out:
	bundle_close(b);
	local_close(&l);
	return rc;
}

int agent_cmd_resume(const char *config_path, int argc, char **argv)
{
	struct local l;
	struct upk_error err = {0};
	enum update_outcome out = UPDATE_IDLE;
	int no_reboot = 0, rc;

	if (agent_cmd_wants_help(argc, argv, resume_usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-reboot") == 0)
			no_reboot = 1;
		else
			return agent_cmd_usage("resume", resume_usage);
	}
	memset(&l, 0, sizeof(l));
	l.cfg = agent_cmd_load_config("resume", config_path);
	if (l.cfg == NULL)
		return 1;
	if (local_open(&l, no_reboot, &err) != UPK_OK || update_resume(&l.uc, &out, &err) != UPK_OK)
		rc = agent_cmd_fail("resume", &err);
	else
		rc = print_outcome("resume", &l, out);
	local_close(&l);
	return rc;
}
