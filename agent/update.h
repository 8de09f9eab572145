/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The update state machine: one check (refresh both repositories, admit each
 * director target, install it by streaming), and the decisions after the
 * reboot (health check, commit or roll back). Every step is journalled in
 * the state file before it is taken, so a crash at any point resumes or
 * rolls back from a known state. The schema is in docs/agent.md.
 */
#ifndef UPKEEP_AGENT_UPDATE_H
#define UPKEEP_AGENT_UPDATE_H

#include <stdint.h>
#include <jansson.h>

#include "agent_config.h"
#include "bootloader.h"
#include "journal.h"
#include "upkeep/error.h"
#include "upkeep/fetch.h"

/* Where the two repositories are. All three URLs end with '/'. */
struct update_source {
	const char *image_metadata_url;
	const char *director_metadata_url;
	const char *targets_url;
	const struct upk_fetcher *fetcher; /* borrowed */
};

struct update_ctx {
	const struct agent_config *cfg;
	const char *device_id;
	struct journal *journal;
	struct bootloader *bl;
	/*
	 * Deployments from the last check-in ([{"id","target",...}], borrowed,
	 * may be NULL): reports name the deployment of the target they concern.
	 */
	const json_t *deployments;
	/* 1: do not run the reboot command, only record that a reboot is due (tests, bundles). */
	int no_reboot;
	/* Download attempts per target (resumed with Range); 0: 5. */
	unsigned max_attempts;
	/* Bytes between two journalled download positions (raw images); 0: 16 MiB. */
	uint64_t resume_step;
	/*
	 * The fleet URL the deployments came from (may be NULL): reports in
	 * the outbox carry it, so they go to that server even after a config
	 * target moved the device (docs/agent.md, "Reports").
	 */
	const char *server_url;
	/*
	 * Probe another fleet URL before a config target switches to it:
	 * enrol or check in there and update_probe() against the URLs it
	 * answers. NULL: config targets naming a new server fail.
	 */
	upk_status (*probe_server)(void *probe_ctx, const char *fleet_url, struct upk_error *err);
	void *probe_ctx;
};

enum update_outcome {
	UPDATE_IDLE = 0,      /* nothing to do */
	UPDATE_DONE = 1,      /* something was installed and committed */
	UPDATE_REBOOTING = 2, /* a trial boot is armed: the device must reboot now */
	UPDATE_REFUSED = 3,   /* every assigned target was refused (reasons in the journal) */
	UPDATE_FAILED = 4,    /* an install failed or was rolled back */
};

const char *update_outcome_name(enum update_outcome o);

/*
 * One check against src: refresh, admit, install. Refusals and failures are
 * recorded in the journal ("last", "refused", "outbox") and are not errors;
 * an error return means the check itself could not be made (network,
 * metadata, local I/O) and nothing was changed on the device.
 */
upk_status update_check(struct update_ctx *ctx, const struct update_source *src,
                        enum update_outcome *outcome, struct upk_error *err);

/*
 * Refresh both repositories from src into the trusted store, following the
 * root chains (transfer roots are checked and journalled, docs/ownership.md),
 * then finish a transfer the chain completed (wipe, "owner", event). Used to
 * follow a move before the fleet URL is switched.
 */
upk_status update_refresh(struct update_ctx *ctx, const struct update_source *src,
                          struct upk_error *err);

/*
 * Whether src serves the device's repositories: both refresh from it with
 * the roots the device trusts, in a scratch copy of the store (DATA_DIR/probe,
 * removed afterwards): the trusted store and the state are left alone.
 */
upk_status update_probe(struct update_ctx *ctx, const struct update_source *src,
                        struct upk_error *err);

/*
 * At agent start (and before every check): finish what a previous run
 * started, from the journal and the bootloader's state: commit or roll back
 * a trial boot after the health check, redo an interrupted switch, drop an
 * interrupted download. *outcome UPDATE_REBOOTING when the device must
 * reboot (the reboot command was run unless no_reboot).
 */
upk_status update_resume(struct update_ctx *ctx, enum update_outcome *outcome,
                         struct upk_error *err);

/*
 * Queue a status report in the journal's outbox (committed with the next
 * journal commit). state: downloading, installing, rebooting, success,
 * failure. deployment may be NULL (a local or bundle install).
 */
upk_status update_report(struct update_ctx *ctx, const char *deployment, const char *target,
                         const char *state, const char *reason, struct upk_error *err);

/*
 * End the update in flight (if any) by hand, for `upkeepd commit` and
 * `upkeepd rollback`: success records the version and raises the security
 * counter; failure records reason. Committed to the journal.
 */
upk_status update_record_result(struct update_ctx *ctx, int success, const char *reason,
                                struct upk_error *err);

/* The module that handles a target path "modules/NAME/...": NAME into buf. */
upk_status update_module_name(const char *path, char *buf, size_t cap, struct upk_error *err);
/* The bundle name of an archive target: its last directory, or its basename up to the first '.'. */
upk_status update_archive_name(const char *path, char *buf, size_t cap, struct upk_error *err);

#endif
