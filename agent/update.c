/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The update state machine (docs/agent.md, "Update state machine"): a check
 * admits director targets and installs them by streaming; after the reboot
 * the health check decides commit or rollback. The journal's "update"
 * record is written before every step, so update_resume() can always tell
 * where a crash left the device and finish the step or undo it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "config_target.h"
#include "fileio.h"
#include "health.h"
#include "installer.h"
#include "ownership.h"
#include "proc.h"
#include "slot.h"
#include "update.h"
#include "upkeep/admission.h"
#include "upkeep/client.h"
#include "upkeep/target_info.h"

/* Reports kept for the server at most; older ones are dropped first. */
#define OUTBOX_MAX 64u
#define REASON_MAX 1000u
#define REBOOT_TIMEOUT_MS 120000u
#define HOOK_TIMEOUT_MS 300000u

const char *update_outcome_name(enum update_outcome o)
{
	switch (o) {
	case UPDATE_IDLE:
		return "idle";
	case UPDATE_DONE:
		return "done";
	case UPDATE_REBOOTING:
		return "rebooting";
	case UPDATE_REFUSED:
		return "refused";
	case UPDATE_FAILED:
		return "failed";
	}
	return "?";
}

/* ---- names ---- */

static int name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static upk_status copy_name(const char *s, size_t n, char *buf, size_t cap, const char *path,
                            struct upk_error *err)
{
	if (n == 0 || n >= cap || s[0] == '.')
		return upk_error_set(err, UPK_ERR_INVALID, "target %s: no usable name in the path",
		                     path);
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(s[i]))
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "target %s: bad character in name \"%.*s\"", path,
			                     (int)n, s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return UPK_OK;
}

upk_status update_module_name(const char *path, char *buf, size_t cap, struct upk_error *err)
{
	const char *p, *slash;

	/* custom.upkeep has no module field: the path names the handler (docs/agent.md). */
	if (strncmp(path, "modules/", 8) != 0)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "module target %s: path must be modules/HANDLER/...", path);
	p = path + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "module target %s: path must be modules/HANDLER/...", path);
	return copy_name(p, (size_t)(slash - p), buf, cap, path, err);
}

upk_status update_archive_name(const char *path, char *buf, size_t cap, struct upk_error *err)
{
	const char *last = strrchr(path, '/');

	if (last != NULL) {
		const char *start = last;

		while (start > path && start[-1] != '/')
			start--;
		if (start < last)
			return copy_name(start, (size_t)(last - start), buf, cap, path, err);
		last++;
	} else {
		last = path;
	}
	return copy_name(last, strcspn(last, "."), buf, cap, path, err);
}

/* ---- journal records ---- */

static json_t *jobj(struct journal *j, const char *key)
{
	json_t *o = journal_get(j, key);

	if (json_is_object(o))
		return o;
	o = json_object();
	if (o == NULL || journal_set(j, key, o, NULL) != UPK_OK)
		return NULL;
	return journal_get(j, key);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t jint(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static void now_text(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The id of the server's deployment of target from the last check-in, as
 * text (the server sends integers), into buf; NULL when there is none.
 */
static const char *deployment_of(const struct update_ctx *ctx, const char *target, char *buf,
                                 size_t cap)
{
	size_t i;
	json_t *d;

	json_array_foreach(ctx->deployments, i, d)
	{
		const json_t *id = json_object_get(d, "id");

		if (target == NULL || jstr(d, "target") == NULL || strcmp(jstr(d, "target"), target) != 0)
			continue;
		if (json_is_integer(id))
			snprintf(buf, cap, "%lld", (long long)json_integer_value(id));
		else if (json_is_string(id))
			snprintf(buf, cap, "%s", json_string_value(id));
		else
			return NULL;
		return buf;
	}
	return NULL;
}

upk_status update_report(struct update_ctx *ctx, const char *deployment, const char *target,
                         const char *state, const char *reason, struct upk_error *err)
{
	json_t *box = journal_get(ctx->journal, "outbox"), *r;
	char at[32];

	if (!json_is_array(box)) {
		upk_status ret = journal_set(ctx->journal, "outbox", json_array(), err);

		if (ret != UPK_OK)
			return ret;
		box = journal_get(ctx->journal, "outbox");
	}
	now_text(at);
	r = json_pack("{s:s?,s:s?,s:s,s:s?,s:s,s:s?}", "deployment", deployment, "target", target,
	              "state", state, "reason", reason, "at", at, "server", ctx->server_url);
	if (r == NULL || json_array_append_new(box, r) != 0)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	while (json_array_size(box) > OUTBOX_MAX)
		json_array_remove(box, 0);
	return UPK_OK;
}

/* "last": what the most recent update ended with, for `upkeepd status`. */
static upk_status set_last(struct update_ctx *ctx, const json_t *u, const char *result,
                           const char *reason, struct upk_error *err)
{
	char at[32];

	now_text(at);
	return journal_set(ctx->journal, "last",
	                   json_pack("{s:s?,s:s?,s:s?,s:s,s:s?,s:s}", "target", jstr(u, "target"),
	                             "type", jstr(u, "type"), "version", jstr(u, "version"),
	                             "result", result, "reason", reason, "at", at),
	                   err);
}

/* The update record (borrowed) or NULL. */
static json_t *current_update(struct update_ctx *ctx)
{
	json_t *u = journal_get(ctx->journal, "update");

	return json_is_object(u) ? u : NULL;
}

static upk_status set_phase(struct update_ctx *ctx, json_t *u, const char *phase,
                            struct upk_error *err)
{
	json_object_set_new(u, "phase", json_string(phase));
	return journal_commit(ctx->journal, err);
}

/* Success: record the version, raise the security counter, clear the update. */
static upk_status finish_success(struct update_ctx *ctx, json_t *u, struct upk_error *err)
{
	json_t *inst = jobj(ctx->journal, "installed");
	json_t *sv = jobj(ctx->journal, "security_version");
	json_t *tg = jobj(ctx->journal, "targets");
	const char *key = jstr(u, "name"), *type = jstr(u, "type");
	upk_status ret;

	if (inst == NULL || sv == NULL || tg == NULL || key == NULL || type == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "state file: incomplete update record");
	json_object_set_new(inst, key, json_string(jstr(u, "version")));
	/* The anti-rollback counter only ever goes up, and only after a successful commit. */
	if (jint(u, "security_version") > jint(sv, type))
		json_object_set_new(sv, type, json_integer((json_int_t)jint(u, "security_version")));
	json_object_set_new(tg, key,
	                    json_pack("{s:s?,s:s?,s:s?}", "target", jstr(u, "target"), "sha256",
	                              jstr(u, "sha256"), "version", jstr(u, "version")));
	ret = update_report(ctx, jstr(u, "deployment"), jstr(u, "target"), "success", NULL, err);
	if (ret == UPK_OK)
		ret = set_last(ctx, u, "success", NULL, err);
	if (ret != UPK_OK)
		return ret;
	/* A config target's record is never journalled: an interrupted image download stays. */
	if (u == current_update(ctx))
		journal_del(ctx->journal, "update");
	return journal_commit(ctx->journal, err);
}

/* Failure after an install started: remember the target so it is not retried in a loop. */
static upk_status finish_failure(struct update_ctx *ctx, json_t *u, const char *reason,
                                 struct upk_error *err)
{
	json_t *failed = jobj(ctx->journal, "failed");
	upk_status ret;

	if (failed != NULL && jstr(u, "target") != NULL)
		json_object_set_new(failed, jstr(u, "target"),
		                    json_pack("{s:s?,s:s}", "sha256", jstr(u, "sha256"), "reason",
		                              reason));
	ret = update_report(ctx, jstr(u, "deployment"), jstr(u, "target"), "failure", reason, err);
	if (ret == UPK_OK)
		ret = set_last(ctx, u, "failure", reason, err);
	if (ret != UPK_OK)
		return ret;
	if (u == current_update(ctx))
		journal_del(ctx->journal, "update");
	return journal_commit(ctx->journal, err);
}

upk_status update_record_result(struct update_ctx *ctx, int success, const char *reason,
                                struct upk_error *err)
{
	json_t *u = current_update(ctx);

	if (u == NULL)
		return UPK_OK;
	return success ? finish_success(ctx, u, err)
	               : finish_failure(ctx, u, reason != NULL ? reason : "rolled back", err);
}

/* ---- reboot and hooks ---- */

static upk_status run_command(const char *what, const char *cmd, unsigned timeout_ms,
                              const char *const *env, struct upk_error *err)
{
	struct proc *p = NULL;
	int status = 0;
	upk_status ret = proc_run_shell(cmd, timeout_ms, env, &status, &p, err);

	if (ret == UPK_OK && status != 0)
		ret = proc_status_error(p, status, UPK_ERR_IO, err, what);
	else if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s: ", what);
	proc_free(p);
	return ret;
}

static upk_status reboot_now(struct update_ctx *ctx, struct upk_error *err)
{
	const char *cmd = ctx->cfg->reboot_command != NULL ? ctx->cfg->reboot_command : "reboot";

	if (ctx->no_reboot)
		return UPK_OK;
	return run_command("reboot command", cmd, REBOOT_TIMEOUT_MS, NULL, err);
}

static upk_status health(struct update_ctx *ctx, const json_t *u, struct upk_error *err)
{
	char e_slot[96], e_ver[160], e_type[48];
	const char *env[4];

	snprintf(e_slot, sizeof(e_slot), "UPKEEP_SLOT=%s", jstr(u, "slot") ? jstr(u, "slot") : "");
	snprintf(e_ver, sizeof(e_ver), "UPKEEP_VERSION=%s",
	         jstr(u, "version") ? jstr(u, "version") : "");
	snprintf(e_type, sizeof(e_type), "UPKEEP_TYPE=%s", jstr(u, "type") ? jstr(u, "type") : "");
	env[0] = e_slot;
	env[1] = e_ver;
	env[2] = e_type;
	env[3] = NULL;
	return health_check(ctx->cfg, env, err);
}

/* ---- after the reboot / after a crash ---- */

static upk_status resume_image(struct update_ctx *ctx, json_t *u, enum update_outcome *outcome,
                               struct upk_error *err)
{
	const char *phase = jstr(u, "phase"), *slot = jstr(u, "slot");
	struct slot_view v;
	struct upk_error herr = {0};
	char reason[REASON_MAX + 64];
	upk_status ret;

	ret = slot_resolve(ctx->cfg, ctx->bl, &v, err);
	if (ret != UPK_OK)
		return ret;
	if (strcmp(phase, "downloading") == 0) {
		/*
		 * Killed while writing: the slot record says "writing", so that
		 * slot can never pass for installed. The next check starts over.
		 */
		if (v.boot.armed && bootloader_rollback(ctx->bl, err) != UPK_OK)
			return upk_error_prefix(err, err->code, "dropping a stale trial: ");
		ret = set_last(ctx, u, "interrupted", "the download or write was interrupted", err);
		if (ret != UPK_OK)
			return ret;
		/* With a position to resume from the record stays: the next check continues. */
		if (jint(u, "resume_at") <= 0)
			journal_del(ctx->journal, "update");
		return journal_commit(ctx->journal, err);
	}
	if (strcmp(phase, "written") == 0 && v.boot.trial && !v.mismatch &&
	    strcmp(v.boot.booted, slot) == 0) {
		/* Armed, then a crash, and the restart booted the trial: judge it. */
		ret = set_phase(ctx, u, "rebooting", err);
		if (ret != UPK_OK)
			return ret;
		phase = "rebooting";
	}
	if (strcmp(phase, "written") == 0) {
		/* Verified and durable, but maybe not armed yet: arm (again) and reboot. */
		if (!(v.boot.armed && strcmp(v.boot.next, slot) == 0)) {
			ret = bootloader_set_trial(ctx->bl, slot, err);
			if (ret != UPK_OK)
				return ret;
		}
		ret = update_report(ctx, jstr(u, "deployment"), jstr(u, "target"), "rebooting", NULL,
		                    err);
		if (ret == UPK_OK)
			ret = set_phase(ctx, u, "rebooting", err);
		if (ret != UPK_OK)
			return ret;
		*outcome = UPDATE_REBOOTING;
		return reboot_now(ctx, err);
	}
	if (strcmp(phase, "rebooting") == 0 || strcmp(phase, "committing") == 0) {
		if (v.boot.trial && !v.mismatch && strcmp(v.boot.booted, slot) == 0) {
			/* Running the new slot on trial: the health check decides. */
			if (health(ctx, u, &herr) != UPK_OK) {
				snprintf(reason, sizeof(reason), "health check failed on slot %s: %s",
				         slot, herr.msg);
				json_object_set_new(u, "reason", json_string(reason));
				ret = set_phase(ctx, u, "rolling_back", err);
				if (ret != UPK_OK)
					return ret;
				return resume_image(ctx, u, outcome, err);
			}
			/* Journalled first: a crash after the bootloader commit still ends as success. */
			ret = set_phase(ctx, u, "committing", err);
			if (ret == UPK_OK)
				ret = bootloader_commit(ctx->bl, slot, err);
			if (ret != UPK_OK)
				return ret;
			*outcome = UPDATE_DONE;
			return finish_success(ctx, u, err);
		}
		if (strcmp(phase, "committing") == 0 && !v.boot.trial &&
		    strcmp(v.boot.committed, slot) == 0 && strcmp(v.active->name, slot) == 0) {
			*outcome = UPDATE_DONE;
			return finish_success(ctx, u, err);
		}
		if (v.boot.armed && strcmp(v.boot.next, slot) == 0 &&
		    strcmp(v.active->name, slot) != 0) {
			/* Armed but the reboot never happened (crash before it): reboot now. */
			*outcome = UPDATE_REBOOTING;
			return reboot_now(ctx, err);
		}
		/* Back on the old slot without a trial: the bootloader fell back. */
		if (v.boot.trial || v.boot.armed) {
			ret = bootloader_rollback(ctx->bl, err);
			if (ret != UPK_OK)
				return ret;
		}
		snprintf(reason, sizeof(reason),
		         "slot %s did not boot: the bootloader fell back to slot %s", slot,
		         v.active->name);
		*outcome = UPDATE_FAILED;
		return finish_failure(ctx, u, reason, err);
	}
	if (strcmp(phase, "rolling_back") == 0) {
		const char *why = jstr(u, "reason") ? jstr(u, "reason") : "rolled back";

		if (v.boot.trial || v.boot.armed) {
			ret = bootloader_rollback(ctx->bl, err);
			if (ret != UPK_OK)
				return ret;
		}
		if (strcmp(v.active->name, slot) == 0) {
			/* Still running the failed slot: reboot into the committed one first. */
			*outcome = UPDATE_REBOOTING;
			ret = journal_commit(ctx->journal, err);
			if (ret == UPK_OK)
				ret = reboot_now(ctx, err);
			return ret;
		}
		*outcome = UPDATE_FAILED;
		return finish_failure(ctx, u, why, err);
	}
	return upk_error_set(err, UPK_ERR_INVALID, "state file: unknown image phase \"%s\"", phase);
}

static upk_status resume_archive(struct update_ctx *ctx, json_t *u, enum update_outcome *outcome,
                                 struct upk_error *err)
{
	const char *phase = jstr(u, "phase"), *name = jstr(u, "name"), *ver = jstr(u, "version");
	const char *root = ctx->cfg->archive_dir;
	struct upk_error herr = {0};
	char reason[REASON_MAX + 64], *cur = NULL;
	int is_current;
	upk_status ret;

	ret = archive_current(root, name, &cur, NULL);
	is_current = ret == UPK_OK && strcmp(cur, ver) == 0;
	free(cur);
	if (strcmp(phase, "downloading") == 0) {
		/* The .partial directory is not a version: the next begin clears it. */
		ret = set_last(ctx, u, "interrupted", "the download was interrupted", err);
		if (ret != UPK_OK)
			return ret;
		journal_del(ctx->journal, "update");
		return journal_commit(ctx->journal, err);
	}
	if (strcmp(phase, "unpacked") == 0) {
		if (!is_current) {
			ret = archive_switch(root, name, ver, err);
			if (ret != UPK_OK)
				return ret;
		}
		ret = set_phase(ctx, u, "switched", err);
		if (ret != UPK_OK)
			return ret;
		phase = "switched";
		is_current = 1;
	}
	if (strcmp(phase, "switched") == 0) {
		if (health(ctx, u, &herr) != UPK_OK) {
			snprintf(reason, sizeof(reason), "health check failed for %s %s: %s", name,
			         ver, herr.msg);
			json_object_set_new(u, "reason", json_string(reason));
			ret = set_phase(ctx, u, "rolling_back", err);
			if (ret != UPK_OK)
				return ret;
			phase = "rolling_back";
		} else {
			ret = set_phase(ctx, u, "committing", err);
			if (ret != UPK_OK)
				return ret;
			phase = "committing";
		}
	}
	if (strcmp(phase, "committing") == 0) {
		ret = archive_commit(root, name, err);
		if (ret != UPK_OK)
			return ret;
		*outcome = UPDATE_DONE;
		return finish_success(ctx, u, err);
	}
	if (strcmp(phase, "rolling_back") == 0) {
		if (is_current) {
			ret = archive_rollback(root, name, err);
			if (ret != UPK_OK)
				return ret;
		}
		*outcome = UPDATE_FAILED;
		return finish_failure(ctx, u, jstr(u, "reason") ? jstr(u, "reason") : "rolled back",
		                      err);
	}
	return upk_error_set(err, UPK_ERR_INVALID, "state file: unknown archive phase \"%s\"",
	                     phase);
}

static char *module_workdir(const struct agent_config *cfg, const char *name)
{
	char *base = fio_path_join(cfg->data_dir, "modules"), *dir;

	if (base == NULL)
		return NULL;
	dir = fio_path_join(base, name);
	free(base);
	return dir;
}

static upk_status resume_module(struct update_ctx *ctx, json_t *u, enum update_outcome *outcome,
                                struct upk_error *err)
{
	const char *phase = jstr(u, "phase"), *name = jstr(u, "name");
	const struct config_module *m = agent_config_find_module(ctx->cfg, name);
	struct module_opts mo;
	struct upk_error herr = {0};
	char reason[REASON_MAX + 64];
	char *work = NULL;
	upk_status ret;

	if (strcmp(phase, "downloading") == 0) {
		ret = set_last(ctx, u, "interrupted", "the download was interrupted", err);
		if (ret != UPK_OK)
			return ret;
		journal_del(ctx->journal, "update");
		return journal_commit(ctx->journal, err);
	}
	if (m == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "module %s is no longer configured", name);
	work = module_workdir(ctx->cfg, name);
	if (work == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	memset(&mo, 0, sizeof(mo));
	mo.module = m;
	mo.workdir = work;
	mo.target = jstr(u, "target");
	mo.version = jstr(u, "version");
	/* Handlers must make install idempotent: a crash may repeat it (docs/agent.md). */
	if (strcmp(phase, "downloaded") == 0) {
		if (module_step(&mo, "install", &herr) != UPK_OK) {
			snprintf(reason, sizeof(reason), "module %s install failed: %s", name,
			         herr.msg);
			json_object_set_new(u, "reason", json_string(reason));
			phase = "rolling_back";
		} else {
			phase = "installed";
		}
		ret = set_phase(ctx, u, phase, err);
		if (ret != UPK_OK)
			goto out;
	}
	if (strcmp(phase, "installed") == 0) {
		if (health(ctx, u, &herr) != UPK_OK) {
			snprintf(reason, sizeof(reason), "health check failed for module %s: %s",
			         name, herr.msg);
			json_object_set_new(u, "reason", json_string(reason));
			phase = "rolling_back";
		} else {
			phase = "committing";
		}
		ret = set_phase(ctx, u, phase, err);
		if (ret != UPK_OK)
			goto out;
	}
	if (strcmp(phase, "committing") == 0) {
		ret = module_step(&mo, "commit", err);
		if (ret == UPK_OK) {
			*outcome = UPDATE_DONE;
			ret = finish_success(ctx, u, err);
		}
		goto out;
	}
	if (strcmp(phase, "rolling_back") == 0) {
		/* A failing rollback step is reported too, but the update ends as failed. */
		if (module_step(&mo, "rollback", &herr) != UPK_OK)
			json_object_set_new(u, "reason",
			                    json_sprintf("%s; rollback: %s", jstr(u, "reason"),
			                                 herr.msg));
		*outcome = UPDATE_FAILED;
		ret = finish_failure(ctx, u, jstr(u, "reason") ? jstr(u, "reason") : "rolled back",
		                     err);
		goto out;
	}
	ret = upk_error_set(err, UPK_ERR_INVALID, "state file: unknown module phase \"%s\"", phase);
out:
	free(work);
	return ret;
}

upk_status update_resume(struct update_ctx *ctx, enum update_outcome *outcome,
                         struct upk_error *err)
{
	json_t *u = current_update(ctx);
	const char *type;

	*outcome = UPDATE_IDLE;
	if (u == NULL)
		return UPK_OK;
	type = jstr(u, "type");
	if (type == NULL || jstr(u, "phase") == NULL || jstr(u, "name") == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "state file: malformed update record");
	if (strcmp(type, "image") == 0 && jstr(u, "slot") != NULL)
		return resume_image(ctx, u, outcome, err);
	if (strcmp(type, "archive") == 0)
		return resume_archive(ctx, u, outcome, err);
	if (strcmp(type, "module") == 0)
		return resume_module(ctx, u, outcome, err);
	return upk_error_set(err, UPK_ERR_INVALID, "state file: update of unknown type \"%s\"",
	                     type);
}

/* ---- the check ---- */

/*
 * A TUF client over DATA_DIR/<store>/<sub>. The first time, the factory root
 * is trusted; later roots chain from what is stored. Every new root passes
 * ownership_root_check() with oc (borrowed: must outlive the client).
 */
static upk_status open_client(const struct update_ctx *ctx, const char *store, const char *sub,
                              const char *root_path, const char *metadata_url,
                              const struct update_source *src, struct ownership_check *oc,
                              struct upk_client **out, struct upk_error *err)
{
	struct upk_client_config cc;
	char *base = fio_path_join(ctx->cfg->data_dir, store), *dir = NULL, *rootf = NULL;
	char *buf = NULL;
	size_t len = 0;
	upk_status ret;

	if (base == NULL || (dir = fio_path_join(base, sub)) == NULL ||
	    (rootf = fio_path_join(dir, "root.json")) == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_mkdir_p(dir, 0700, err);
	if (ret != UPK_OK)
		goto out;
	if (access(rootf, F_OK) != 0) {
		ret = fio_read_file(root_path, 1024u * 1024u, &buf, &len, err);
		if (ret == UPK_OK)
			ret = upk_client_bootstrap(dir, buf, len, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "trusting the %s root %s: ", sub, root_path);
			goto out;
		}
	}
	memset(&cc, 0, sizeof(cc));
	cc.metadata_dir = dir;
	cc.metadata_url = metadata_url;
	cc.target_url = src->targets_url;
	cc.fetcher = src->fetcher;
	cc.root_check = ownership_root_check;
	cc.root_check_ctx = oc;
	ret = upk_client_new(&cc, out, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s repository: ", sub);
out:
	free(buf);
	free(rootf);
	free(dir);
	free(base);
	return ret;
}

/* Both clients over one store, refreshed: director first, then image. */
struct clients {
	struct ownership_check ioc, doc;
	struct upk_client *ic, *dc;
};

static upk_status refresh_both(struct update_ctx *ctx, const char *store,
                               const struct update_source *src, int record, struct clients *cl,
                               struct upk_error *err)
{
	upk_status ret;

	cl->ioc.journal = record ? ctx->journal : NULL;
	cl->ioc.device_id = ctx->device_id;
	cl->ioc.repo = "image";
	cl->doc = cl->ioc;
	cl->doc.repo = "director";
	ret = open_client(ctx, store, "image", ctx->cfg->image_root, src->image_metadata_url, src,
	                  &cl->ioc, &cl->ic, err);
	if (ret == UPK_OK)
		ret = open_client(ctx, store, "director", ctx->cfg->director_root,
		                  src->director_metadata_url, src, &cl->doc, &cl->dc, err);
	if (ret == UPK_OK && (ret = upk_client_refresh(cl->dc, err)) != UPK_OK)
		upk_error_prefix(err, ret, "director repository: ");
	if (ret == UPK_OK && (ret = upk_client_refresh(cl->ic, err)) != UPK_OK) {
		/*
		 * No timestamp at all: a new fleet (e.g. a buyer's, right after a
		 * transfer) whose owner has not published its first targets yet.
		 * Say so, rather than leave a bare 404 to be puzzled over.
		 */
		if (ret == UPK_ERR_NOT_FOUND && upk_client_trusted(cl->ic, "timestamp") == NULL)
			upk_error_prefix(err, ret,
			                 "image repository: the fleet has published no image metadata "
			                 "yet (its owner must sign and publish its first targets): ");
		else
			upk_error_prefix(err, ret, "image repository: ");
	}
	return ret;
}

static void clients_free(struct clients *cl)
{
	upk_client_free(cl->ic);
	upk_client_free(cl->dc);
	cl->ic = cl->dc = NULL;
}

upk_status update_refresh(struct update_ctx *ctx, const struct update_source *src,
                          struct upk_error *err)
{
	struct clients cl;
	upk_status ret;

	memset(&cl, 0, sizeof(cl));
	ret = refresh_both(ctx, "metadata", src, 1, &cl, err);
	clients_free(&cl);
	if (ret == UPK_OK)
		ret = ownership_finish(ctx->cfg, ctx->journal, NULL, err);
	return ret;
}

/* Seed DATA_DIR/probe/<sub>/root.json with the root the device trusts, if any. */
static upk_status seed_probe(const struct update_ctx *ctx, const char *sub,
                             struct upk_error *err)
{
	char *meta = fio_path_join(ctx->cfg->data_dir, "metadata"), *probe = NULL, *from = NULL,
	     *fdir = NULL, *to = NULL, *buf = NULL;
	size_t len = 0;
	upk_status ret;

	if (meta == NULL || (fdir = fio_path_join(meta, sub)) == NULL ||
	    (from = fio_path_join(fdir, "root.json")) == NULL ||
	    (probe = fio_path_join(ctx->cfg->data_dir, "probe")) == NULL ||
	    (to = fio_path_join(probe, sub)) == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = fio_read_file(from, 1024u * 1024u, &buf, &len, err);
	if (ret == UPK_ERR_NOT_FOUND) {
		/* Nothing trusted yet: open_client() starts from the factory root. */
		upk_error_clear(err);
		ret = UPK_OK;
		goto out;
	}
	if (ret == UPK_OK)
		ret = fio_mkdir_p(to, 0700, err);
	if (ret == UPK_OK)
		ret = upk_client_bootstrap(to, buf, len, err);
out:
	free(buf);
	free(to);
	free(probe);
	free(from);
	free(fdir);
	free(meta);
	return ret;
}

upk_status update_probe(struct update_ctx *ctx, const struct update_source *src,
                        struct upk_error *err)
{
	char *probe = fio_path_join(ctx->cfg->data_dir, "probe");
	struct clients cl;
	struct upk_error cerr = {0};
	upk_status ret;

	memset(&cl, 0, sizeof(cl));
	if (probe == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = fio_rmtree(probe, err);
	if (ret == UPK_OK)
		ret = seed_probe(ctx, "image", err);
	if (ret == UPK_OK)
		ret = seed_probe(ctx, "director", err);
	if (ret == UPK_OK)
		ret = refresh_both(ctx, "probe", src, 0, &cl, err);
	clients_free(&cl);
	/* The scratch store proved what it had to; a failed cleanup is redone next time. */
	fio_rmtree(probe, &cerr);
	free(probe);
	return ret;
}

/* One target's refusal: recorded once per target and reason, reported once. */
static upk_status refuse(struct update_ctx *ctx, const char *path, const char *reason_name,
                         const char *detail, struct upk_error *err)
{
	json_t *refused = jobj(ctx->journal, "refused"), *prev;
	char reason[REASON_MAX + 64], dep[64];
	upk_status ret;

	snprintf(reason, sizeof(reason), "refused (%s): %s", reason_name, detail);
	if (refused == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	prev = json_object_get(refused, path);
	if (prev != NULL && jstr(prev, "message") != NULL &&
	    strcmp(jstr(prev, "message"), reason) == 0)
		return UPK_OK;
	json_object_set_new(refused, path,
	                    json_pack("{s:s,s:s}", "reason", reason_name, "message", reason));
	ret = update_report(ctx, deployment_of(ctx, path, dep, sizeof(dep)), path, "failure", reason,
	                    err);
	if (ret == UPK_OK) {
		json_t *u = json_pack("{s:s}", "target", path);

		ret = set_last(ctx, u, "refused", reason, err);
		json_decref(u);
	}
	if (ret == UPK_OK)
		ret = journal_commit(ctx->journal, err);
	return ret;
}

/* Device attributes for the admission rule, views into cfg and the journal. */
struct attrs {
	struct upk_device_attrs a;
	struct upk_kv *tags;
	struct upk_kv *installed;
};

static upk_status attrs_build(const struct update_ctx *ctx, struct attrs *at,
                              struct upk_error *err)
{
	json_t *inst = journal_get(ctx->journal, "installed");
	const char *k;
	json_t *v;
	size_t n = 0;

	memset(at, 0, sizeof(*at));
	at->tags = calloc(ctx->cfg->n_attrs + 1, sizeof(*at->tags));
	at->installed = calloc(json_object_size(inst) + 1, sizeof(*at->installed));
	if (at->tags == NULL || at->installed == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < ctx->cfg->n_attrs; i++) {
		at->tags[i].key = ctx->cfg->attrs[i].key;
		at->tags[i].value = ctx->cfg->attrs[i].value;
	}
	json_object_foreach(inst, k, v)
	{
		if (json_string_value(v) == NULL)
			continue;
		at->installed[n].key = k;
		at->installed[n].value = json_string_value(v);
		n++;
	}
	at->a.device_id = ctx->device_id;
	at->a.hardware_id = ctx->cfg->hardware_id != NULL ? ctx->cfg->hardware_id : "";
	at->a.tags = at->tags;
	at->a.n_tags = ctx->cfg->n_attrs;
	at->a.installed = at->installed;
	at->a.n_installed = n;
	return UPK_OK;
}

static void attrs_free(struct attrs *at)
{
	free(at->tags);
	free(at->installed);
}

static uint64_t free_bytes(const char *dir)
{
	struct statvfs st;

	if (statvfs(dir, &st) != 0)
		return UINT64_MAX; /* unknown: the installer's own errors decide */
	return (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
}

/* Install one admitted target. u is the journal's update record (already committed). */
/*
 * The download sink around the installer: counts the bytes, notes whether
 * the payload is raw (not zstd: then the slot holds the payload itself, and
 * an interrupted download can continue from what the slot holds), and
 * journals that progress now and then so a restart knows where to resume:
 * every resume_step bytes, but (with the default step) not more than once
 * every MARK_MIN_S seconds. Each mark is an fsync of the state file, which
 * on a file system shared with the slot also waits for the slot's pending
 * writes: on a fast link marks would cost more than they can save.
 */
#define MARK_MIN_S 2

struct feed {
	struct update_ctx *ctx;
	struct installer *in;
	json_t *u;
	uint64_t done, next_mark, step;
	time_t next_time; /* CLOCK_MONOTONIC seconds; 0: no time limit */
	int raw;
};

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static upk_status feed_sink(void *arg, const void *data, size_t len, struct upk_error *err)
{
	static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	struct feed *f = arg;
	upk_status ret;

	if (f->done == 0 && len > 0)
		f->raw = len < 4 || memcmp(data, zstd_magic, 4) != 0;
	ret = installer_write(f->in, data, len, err);
	if (ret != UPK_OK)
		return ret;
	f->done += len;
	if (f->u != NULL && f->raw && f->done >= f->next_mark &&
	    (f->next_time == 0 || mono_s() >= f->next_time)) {
		/*
		 * Only what reached the slot counts (the installer gathers blocks).
		 * A hint, not a promise: bytes below resume_at may still be in the
		 * page cache when the power goes. The final hash covers every byte,
		 * so a lost write shows up as a mismatch and the download restarts.
		 */
		uint64_t at = installer_image_flushed(f->in);

		json_object_set_new(f->u, "resume_at", json_integer((json_int_t)at));
		ret = journal_commit(f->ctx->journal, err);
		f->next_mark = f->done + f->step;
		if (f->next_time != 0)
			f->next_time = mono_s() + MARK_MIN_S;
	}
	return ret;
}

/* Replays what the slot already holds: into the download's check, and rewritten by the installer. */
struct replay {
	const char *device;
	struct installer *in;
	uint64_t len;
};

static upk_status replay_slot(void *arg, upk_sink_fn check, void *check_ctx, struct upk_error *err)
{
	struct replay *r = arg;
	unsigned char *buf = malloc(256 * 1024);
	uint64_t off = 0;
	int fd = -1;
	upk_status ret;

	if (buf == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = fio_open(r->device, O_RDONLY | O_CLOEXEC, 0, &fd, err);
	while (ret == UPK_OK && off < r->len) {
		size_t want = r->len - off < 256 * 1024 ? (size_t)(r->len - off) : 256 * 1024;
		size_t got = 0;

		ret = fio_pread_full(fd, buf, want, off, &got, r->device, err);
		if (ret == UPK_OK && got < want)
			ret = upk_error_set(err, UPK_ERR_HASH, "slot %s ends before byte %llu",
			                    r->device, (unsigned long long)r->len);
		if (ret == UPK_OK)
			ret = check(check_ctx, buf, got, err);
		if (ret == UPK_OK)
			ret = installer_write(r->in, buf, got, err);
		off += got;
	}
	fio_close_quiet(&fd);
	free(buf);
	return ret;
}

static upk_status install_payload(struct update_ctx *ctx, struct upk_client *ic,
                                  const struct upk_client_target *t, struct installer *in,
                                  json_t *u, uint64_t resume_from, const char *device,
                                  struct upk_error *err)
{
	struct upk_download_resume ro;
	struct feed f = {.ctx = ctx, .in = in, .u = u};
	struct replay rp = {.device = device, .in = in, .len = resume_from};
	upk_status ret;

	f.step = ctx->resume_step != 0 ? ctx->resume_step : 16u * 1024u * 1024u;
	f.next_mark = f.step;
	if (ctx->resume_step == 0)
		f.next_time = mono_s() + MARK_MIN_S;
	memset(&ro, 0, sizeof(ro));
	ro.max_attempts = ctx->max_attempts > 0 ? ctx->max_attempts : 5;
	if (resume_from > 0) {
		ro.resume_from = resume_from;
		ro.replay = replay_slot;
		ro.replay_ctx = &rp;
		f.done = resume_from;
		f.raw = 1;
		f.next_mark = resume_from + f.step;
	}
	ret = upk_client_download_target_resumable(ic, t, &ro, feed_sink, &f, err);
	if (ret == UPK_OK)
		ret = installer_finish(in, err);
	return ret;
}

static const char *sha256_of(const struct upk_client_target *t)
{
	return json_string_value(json_object_get(t->hashes, "sha256"));
}

/* A config payload, verified while it streams into memory (at most CONFIG_TARGET_MAX_BYTES). */
struct mem_sink {
	char buf[CONFIG_TARGET_MAX_BYTES];
	size_t len;
};

static upk_status mem_put(void *arg, const void *data, size_t len, struct upk_error *err)
{
	struct mem_sink *m = arg;

	if (len > sizeof(m->buf) - m->len)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "more than %u bytes",
		                     CONFIG_TARGET_MAX_BYTES);
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return UPK_OK;
}

/*
 * Before a config target switches servers: forget the metadata the old
 * server signed with its online keys (image timestamp and snapshot; director
 * timestamp, snapshot and targets). The new server's versions of those roles
 * are unrelated to the old one's, so keeping them would look like a
 * rollback forever. Roots and the owner-signed image targets stay. The cost:
 * rollback protection of those roles restarts at the new server.
 */
static upk_status forget_server_metadata(const struct update_ctx *ctx, struct upk_error *err)
{
	static const char *const FILES[][2] = {
	    {"image", "timestamp.json"},    {"image", "snapshot.json"},
	    {"director", "timestamp.json"}, {"director", "snapshot.json"},
	    {"director", "targets.json"},
	};
	char *meta = fio_path_join(ctx->cfg->data_dir, "metadata");
	upk_status ret = meta == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory") : UPK_OK;

	for (size_t i = 0; ret == UPK_OK && i < sizeof(FILES) / sizeof(FILES[0]); i++) {
		char *sub = fio_path_join(meta, FILES[i][0]);
		char *path = sub != NULL ? fio_path_join(sub, FILES[i][1]) : NULL;

		ret = path == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
		                   : fio_unlinkat(AT_FDCWD, path, 0, 1, path, err);
		if (ret == UPK_OK && i + 1 < sizeof(FILES) / sizeof(FILES[0]) &&
		    strcmp(FILES[i][0], FILES[i + 1][0]) != 0)
			ret = fio_fsync_dir(sub, err);
		if (ret == UPK_OK && i + 1 == sizeof(FILES) / sizeof(FILES[0]))
			ret = fio_fsync_dir(sub, err);
		free(path);
		free(sub);
	}
	free(meta);
	return ret;
}

/*
 * Apply an admitted config target: download it verified into memory, parse
 * it strictly, probe a new server, then record everything in one commit
 * (docs/agent.md, "Configuration targets"). Any failure changes nothing but
 * the failure record and report.
 */
static upk_status install_config(struct update_ctx *ctx, struct upk_client *ic,
                                 const struct upk_client_target *it,
                                 const struct upk_target_info *info, const char *dep,
                                 enum update_outcome *outcome, struct upk_error *err)
{
	struct mem_sink *m = NULL;
	struct config_payload p;
	struct upk_error rerr = {0};
	char why[REASON_MAX];
	const char *cur = config_current_server(ctx->journal, ctx->cfg->server_url);
	json_t *u;
	upk_status ret;

	u = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?,s:s?}", "type", "config", "name", "config",
	              "target", it->path, "version", info->version, "security_version",
	              (json_int_t)info->security_version, "sha256", sha256_of(it), "deployment",
	              dep[0] != '\0' ? dep : NULL);
	if (u == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	if (it->length > (int64_t)CONFIG_TARGET_MAX_BYTES) {
		ret = upk_error_set(&rerr, UPK_ERR_TOO_LARGE, "%lld bytes, more than %u",
		                    (long long)it->length, CONFIG_TARGET_MAX_BYTES);
	} else if ((m = calloc(1, sizeof(*m))) == NULL) {
		ret = upk_error_set(&rerr, UPK_ERR_NOMEM, "out of memory");
	} else {
		ret = upk_client_download_target(ic, it, mem_put, m, &rerr);
	}
	if (ret == UPK_OK)
		ret = config_payload_parse(m->buf, m->len, &p, &rerr);
	/* A new server must prove it serves this device's repositories before it is used. */
	if (ret == UPK_OK && p.server[0] != '\0' && (cur == NULL || strcmp(cur, p.server) != 0)) {
		ret = ctx->probe_server != NULL
		          ? ctx->probe_server(ctx->probe_ctx, p.server, &rerr)
		          : upk_error_set(&rerr, UPK_ERR_UNSUPPORTED,
		                          "no server link to probe %s from here", p.server);
		if (ret != UPK_OK)
			upk_error_prefix(&rerr, ret, "probing server %s: ", p.server);
	}
	if (ret != UPK_OK) {
		snprintf(why, sizeof(why), "config not applied: %s", rerr.msg);
		*outcome = UPDATE_FAILED;
		ret = finish_failure(ctx, u, why, err);
		goto out;
	}
	if (p.server[0] != '\0' && (cur == NULL || strcmp(cur, p.server) != 0)) {
		ret = forget_server_metadata(ctx, err);
		if (ret != UPK_OK)
			goto out;
	}
	/* One commit: the config, the server, the version and the success report. */
	ret = config_target_record(ctx->journal, &p, it->path, info->version, sha256_of(it), err);
	if (ret == UPK_OK)
		ret = finish_success(ctx, u, err);
	if (ret == UPK_OK && *outcome != UPDATE_FAILED)
		*outcome = UPDATE_DONE;
out:
	free(m);
	json_decref(u);
	return ret;
}

/*
 * Admit and install one director target. *outcome is raised to what happened.
 * Errors are only for failures of the check itself (metadata, local state).
 */
static upk_status handle_target(struct update_ctx *ctx, struct upk_client *ic,
                                const struct upk_target *dt, struct attrs *at, int allow_image,
                                enum update_outcome *outcome, struct upk_error *err)
{
	struct upk_client_target *it = NULL;
	struct upk_target img;
	struct upk_target_info *pre = NULL, *info = NULL;
	enum upk_refusal refusal = UPK_REFUSAL_NONE;
	struct upk_error rerr = {0};
	struct installer *in = NULL;
	char name[AGENT_CONFIG_NAME_MAX + 96], detail[REASON_MAX], dep[64] = "";
	const char *type_name, *key, *sha;
	uint64_t resume_from = 0;
	json_t *prev, *u = NULL, *rec = NULL, *svs = journal_get(ctx->journal, "security_version");
	int64_t installed_sv = 0;
	char *work = NULL;
	upk_status ret;

	deployment_of(ctx, dt->path, dep, sizeof(dep));
	ret = upk_client_find_target(ic, dt->path, &it, &rerr);
	if (ret != UPK_OK && ret != UPK_ERR_NOT_FOUND) {
		*err = rerr;
		return upk_error_prefix(err, ret, "image repository: ");
	}
	if (it != NULL) {
		img.path = it->path;
		img.length = it->length;
		img.hashes = it->hashes;
		img.custom = it->custom;
		/* The type decides which security counter applies; admission re-checks the fields. */
		if (upk_target_info_parse(it->custom, &pre, NULL) == UPK_OK)
			installed_sv = jint(svs, upk_target_type_name(pre->type));
	}
	ret = upk_admit_target(dt, it != NULL ? &img : NULL, &at->a, installed_sv, &info, &refusal,
	                       &rerr);
	if (ret != UPK_OK) {
		if (refusal == UPK_REFUSAL_NONE) {
			/* Unusable input is a refusal too: the device never installs what it cannot check. */
			ret = refuse(ctx, dt->path, "invalid", rerr.msg, err);
		} else {
			ret = refuse(ctx, dt->path, upk_refusal_name(refusal), rerr.msg, err);
		}
		if (*outcome == UPDATE_IDLE)
			*outcome = UPDATE_REFUSED;
		goto out;
	}
	type_name = upk_target_type_name(info->type);
	sha = sha256_of(it);
	/* The name the version is recorded under: "image", the bundle or the module. */
	if (info->type == UPK_TARGET_IMAGE) {
		snprintf(name, sizeof(name), "image");
		if (ctx->cfg->n_slots == 0)
			ret = upk_error_set(&rerr, UPK_ERR_UNSUPPORTED,
			                    "an image target, but no [slot.*] pair is configured");
	} else if (info->type == UPK_TARGET_ARCHIVE) {
		ret = update_archive_name(dt->path, name, sizeof(name), &rerr);
	} else if (info->type == UPK_TARGET_CONFIG) {
		snprintf(name, sizeof(name), "config");
	} else if (info->type == UPK_TARGET_MODULE) {
		ret = update_module_name(dt->path, name, sizeof(name), &rerr);
		if (ret == UPK_OK && agent_config_find_module(ctx->cfg, name) == NULL)
			ret = upk_error_set(&rerr, UPK_ERR_NOT_FOUND,
			                    "no [module.%s] handler is configured", name);
	} else {
		ret = upk_error_set(&rerr, UPK_ERR_UNSUPPORTED,
		                    "targets of type %s are not installed by this agent yet",
		                    type_name);
	}
	if (ret != UPK_OK) {
		ret = refuse(ctx, dt->path, "type", rerr.msg, err);
		if (*outcome == UPDATE_IDLE)
			*outcome = UPDATE_REFUSED;
		goto out;
	}
	key = name;
	/* Already installed: nothing to do. */
	prev = json_object_get(json_object_get(journal_get(ctx->journal, "targets"), key), "target");
	if (prev != NULL && strcmp(json_string_value(prev), dt->path) == 0 &&
	    jstr(json_object_get(journal_get(ctx->journal, "targets"), key), "sha256") != NULL &&
	    sha != NULL &&
	    strcmp(jstr(json_object_get(journal_get(ctx->journal, "targets"), key), "sha256"), sha) ==
	        0)
		goto out;
	/* Failed before (rolled back): not again until the director assigns something else. */
	prev = json_object_get(journal_get(ctx->journal, "failed"), dt->path);
	if (prev != NULL && sha != NULL && jstr(prev, "sha256") != NULL &&
	    strcmp(jstr(prev, "sha256"), sha) == 0)
		goto out;
	if (info->type == UPK_TARGET_CONFIG) {
		ret = install_config(ctx, ic, it, info, dep, outcome, err);
		goto out;
	}
	if (info->type == UPK_TARGET_IMAGE && !allow_image)
		goto out; /* images go last, after bundles and modules */
	/* Enough space. */
	if (info->type == UPK_TARGET_IMAGE) {
		struct slot_view v;
		uint64_t cap = 0;
		int fd = -1;

		ret = slot_resolve(ctx->cfg, ctx->bl, &v, err);
		if (ret != UPK_OK)
			goto out;
		if (v.boot.trial || v.mismatch) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "slot %s is on trial without an update record: commit "
			                    "or roll back first",
			                    v.boot.booted);
			goto out;
		}
		ret = slot_open_write(v.inactive, &fd, &cap, err);
		fio_close_quiet(&fd);
		if (ret != UPK_OK)
			goto out;
		if ((uint64_t)it->length > cap) {
			snprintf(detail, sizeof(detail), "%lld bytes do not fit slot %s (%llu bytes)",
			         (long long)it->length, v.inactive->name, (unsigned long long)cap);
			ret = refuse(ctx, dt->path, "space", detail, err);
			*outcome = *outcome == UPDATE_IDLE ? UPDATE_REFUSED : *outcome;
			goto out;
		}
		rec = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s?,s:s?,s:I}", "type", "image", "name",
		              key, "target", dt->path, "version", info->version, "security_version",
		              (json_int_t)info->security_version, "slot", v.inactive->name, "sha256",
		              sha, "deployment", deployment_of(ctx, dt->path, dep, sizeof(dep)), "length",
		              (json_int_t)it->length);
	} else {
		const char *dir = info->type == UPK_TARGET_ARCHIVE ? ctx->cfg->archive_dir
		                                                   : ctx->cfg->data_dir;

		if ((uint64_t)it->length > free_bytes(dir)) {
			snprintf(detail, sizeof(detail), "%lld bytes, %llu free in %s",
			         (long long)it->length, (unsigned long long)free_bytes(dir), dir);
			ret = refuse(ctx, dt->path, "space", detail, err);
			*outcome = *outcome == UPDATE_IDLE ? UPDATE_REFUSED : *outcome;
			goto out;
		}
		rec = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?,s:s?,s:I}", "type", type_name, "name", key,
		              "target", dt->path, "version", info->version, "security_version",
		              (json_int_t)info->security_version, "sha256", sha, "deployment",
		              deployment_of(ctx, dt->path, dep, sizeof(dep)), "length", (json_int_t)it->length);
	}
	/* The optional pre-install hook may veto. */
	if (ctx->cfg->pre_install != NULL) {
		char e1[4200], e2[160], e3[48];
		const char *env[4] = {e1, e2, e3, NULL};

		snprintf(e1, sizeof(e1), "UPKEEP_TARGET=%s", dt->path);
		snprintf(e2, sizeof(e2), "UPKEEP_VERSION=%s", info->version);
		snprintf(e3, sizeof(e3), "UPKEEP_TYPE=%s", type_name);
		if (run_command("pre-install hook", ctx->cfg->pre_install, HOOK_TIMEOUT_MS, env,
		                &rerr) != UPK_OK) {
			ret = refuse(ctx, dt->path, "pre-install", rerr.msg, err);
			*outcome = *outcome == UPDATE_IDLE ? UPDATE_REFUSED : *outcome;
			goto out;
		}
	}
	if (rec == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* An image download a crash interrupted continues where the slot ends. */
	{
		json_t *old = current_update(ctx);

		if (old != NULL && info->type == UPK_TARGET_IMAGE &&
		    strcmp(jstr(old, "phase"), "downloading") == 0 &&
		    jstr(old, "target") != NULL && strcmp(jstr(old, "target"), dt->path) == 0 &&
		    jstr(old, "sha256") != NULL && sha != NULL &&
		    strcmp(jstr(old, "sha256"), sha) == 0 && jstr(old, "slot") != NULL &&
		    strcmp(jstr(old, "slot"), jstr(rec, "slot")) == 0 &&
		    jint(old, "resume_at") > 0 && jint(old, "resume_at") < it->length)
			resume_from = (uint64_t)jint(old, "resume_at");
		json_object_set_new(rec, "resume_at", json_integer((json_int_t)resume_from));
	}
	/* Admitted: the update record goes to disk before the first byte is written. */
	json_object_set_new(rec, "phase", json_string("downloading"));
	json_object_del(journal_get(ctx->journal, "refused"), dt->path);
	ret = journal_set(ctx->journal, "update", rec, err);
	rec = NULL; /* stolen */
	u = current_update(ctx);
	if (ret == UPK_OK)
		ret = update_report(ctx, jstr(u, "deployment"), dt->path, "downloading", NULL, err);
	if (ret == UPK_OK)
		ret = journal_commit(ctx->journal, err);
	if (ret != UPK_OK)
		goto out;
	if (info->type == UPK_TARGET_IMAGE) {
		struct image_opts o;

		memset(&o, 0, sizeof(o));
		o.slot = agent_config_find_slot(ctx->cfg, jstr(u, "slot"));
		o.decomp = DECOMP_AUTO;
		o.version = info->version;
		o.journal = ctx->journal;
		o.payload_checked = 1; /* by the download, against the metadata */
		if (sha != NULL)
			payload_expect_sha256_hex(&o.expect, sha, NULL);
		o.expect.length = (uint64_t)it->length;
		ret = installer_image_begin(&o, &in, &rerr);
	} else if (info->type == UPK_TARGET_ARCHIVE) {
		struct archive_opts o;

		memset(&o, 0, sizeof(o));
		o.root = ctx->cfg->archive_dir;
		o.name = key;
		o.version = info->version;
		o.max_bytes = ctx->cfg->archive_max_bytes;
		o.max_entries = ctx->cfg->archive_max_entries;
		o.decomp = DECOMP_AUTO;
		if (sha != NULL)
			payload_expect_sha256_hex(&o.expect, sha, NULL);
		o.expect.length = (uint64_t)it->length;
		ret = fio_mkdir_p(ctx->cfg->archive_dir, 0755, &rerr);
		if (ret == UPK_OK)
			ret = installer_archive_begin(&o, &in, &rerr);
	} else {
		struct module_opts o;

		work = module_workdir(ctx->cfg, key);
		memset(&o, 0, sizeof(o));
		o.module = agent_config_find_module(ctx->cfg, key);
		o.workdir = work;
		o.target = dt->path;
		o.version = info->version;
		if (sha != NULL)
			payload_expect_sha256_hex(&o.expect, sha, NULL);
		o.expect.length = (uint64_t)it->length;
		ret = work == NULL ? upk_error_set(&rerr, UPK_ERR_NOMEM, "out of memory")
		                   : installer_module_begin(&o, &in, &rerr);
	}
	if (ret == UPK_OK) {
		const struct config_slot *slot =
		    jstr(u, "slot") != NULL ? agent_config_find_slot(ctx->cfg, jstr(u, "slot")) : NULL;

		ret = update_report(ctx, jstr(u, "deployment"), dt->path, "installing", NULL, &rerr);
		if (ret == UPK_OK)
			ret = install_payload(ctx, ic, it, in, info->type == UPK_TARGET_IMAGE ? u : NULL,
			                      resume_from, slot != NULL ? slot->device : NULL, &rerr);
		if (ret != UPK_OK && resume_from > 0 && slot != NULL) {
			/*
			 * Resuming did not work: what the slot held did not survive
			 * (a power cut dropped writes: hash mismatch), or the server
			 * cannot send a range. Start over from byte 0, once.
			 */
			struct image_opts o;

			installer_free(in);
			in = NULL;
			memset(&o, 0, sizeof(o));
			o.slot = slot;
			o.decomp = DECOMP_AUTO;
			o.version = info->version;
			o.journal = ctx->journal;
			o.payload_checked = 1;
			payload_expect_sha256_hex(&o.expect, sha, NULL);
			o.expect.length = (uint64_t)it->length;
			upk_error_clear(&rerr);
			json_object_set_new(u, "resume_at", json_integer(0));
			ret = installer_image_begin(&o, &in, &rerr);
			if (ret == UPK_OK)
				ret = install_payload(ctx, ic, it, in, u, 0, slot->device, &rerr);
		}
	}
	if (ret != UPK_OK) {
		/* Nothing was switched: the old version runs on. Record why. */
		char why[REASON_MAX];

		installer_free(in);
		in = NULL;
		snprintf(why, sizeof(why), "install failed: %s", rerr.msg);
		*outcome = UPDATE_FAILED;
		ret = finish_failure(ctx, u, why, err);
		/* A transport failure is worth another try at the next check. */
		if (ret == UPK_OK && rerr.code == UPK_ERR_IO) {
			json_object_del(journal_get(ctx->journal, "failed"), dt->path);
			ret = journal_commit(ctx->journal, err);
		}
		goto out;
	}
	installer_free(in);
	in = NULL;
	/* Staged and verified: the next phase is journalled before it is taken. */
	if (info->type == UPK_TARGET_IMAGE)
		ret = set_phase(ctx, u, "written", err);
	else if (info->type == UPK_TARGET_ARCHIVE)
		ret = set_phase(ctx, u, "unpacked", err);
	else
		ret = set_phase(ctx, u, "downloaded", err);
	if (ret == UPK_OK) {
		enum update_outcome o = UPDATE_IDLE;

		ret = update_resume(ctx, &o, err);
		if (ret == UPK_OK && o != UPDATE_IDLE)
			*outcome = o;
	}
out:
	installer_free(in);
	free(work);
	json_decref(rec);
	upk_target_info_free(info);
	upk_target_info_free(pre);
	upk_client_target_free(it);
	return ret;
}

upk_status update_check(struct update_ctx *ctx, const struct update_source *src,
                        enum update_outcome *outcome, struct upk_error *err)
{
	struct clients cl;
	const struct upk_metadata *dtargets;
	struct attrs at;
	upk_status ret;
	size_t n;

	*outcome = UPDATE_IDLE;
	memset(&at, 0, sizeof(at));
	/* After a factory reset the factory roots must not come back: only a claim brings trust. */
	if (claim_unclaimed(ctx->journal))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "the device is unclaimed (factory reset): it trusts no owner "
		                     "until a claim is accepted (docs/ownership.md)");
	memset(&cl, 0, sizeof(cl));
	/* Whatever an earlier run left half done is finished first. */
	ret = update_resume(ctx, outcome, err);
	if (ret != UPK_OK || *outcome == UPDATE_REBOOTING)
		return ret;
	*outcome = UPDATE_IDLE;
	/* A transfer a crash interrupted is finished even when the network is down. */
	ret = ownership_finish(ctx->cfg, ctx->journal, NULL, err);
	if (ret == UPK_OK)
		ret = refresh_both(ctx, "metadata", src, 1, &cl, err);
	/* A transfer the chain just completed: wipe before the new owner's first target. */
	if (ret == UPK_OK)
		ret = ownership_finish(ctx->cfg, ctx->journal, NULL, err);
	if (ret != UPK_OK)
		goto out;
	dtargets = upk_client_trusted(cl.dc, "targets");
	n = dtargets != NULL ? upk_targets_count(dtargets) : 0;
	/* Bundles, modules and configuration first, the image (which reboots) last. */
	for (int pass = 0; pass < 2 && ret == UPK_OK && *outcome != UPDATE_REBOOTING; pass++) {
		for (size_t i = 0; i < n && ret == UPK_OK && *outcome != UPDATE_REBOOTING; i++) {
			struct upk_target dt;

			ret = upk_targets_at(dtargets, i, &dt, err);
			if (ret != UPK_OK)
				break;
			attrs_free(&at);
			ret = attrs_build(ctx, &at, err);
			if (ret == UPK_OK)
				ret = handle_target(ctx, cl.ic, &dt, &at, pass == 1, outcome, err);
		}
	}
out:
	attrs_free(&at);
	clients_free(&cl);
	return ret;
}
