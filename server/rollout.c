/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rollouts: phases, soak times, success ratio and automatic halt (the
 * engine), and the owner endpoints that create, show, pause, resume and
 * abort them, plus device pins. Every decision is made from the rollout row
 * and its deployments in the database, so a restart (or a crash) loses no
 * progress: the next report or maintenance pass picks up where it stood.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_parse.h"
#include "audit.h"
#include "director.h"
#include "handlers.h"
#include "log.h"
#include "repo_host.h"
#include "rollout.h"
#include "server.h"
#include "store.h"
#include "upkeep/selector.h"
#include "upkeep/target_info.h"

/* Deployments of a rollout by their last reported state. */
struct counts {
	int64_t assigned; /* every deployment the rollout made */
	int64_t pending;  /* not started yet ("assigned") */
	int64_t active;   /* downloading, installing, rebooting */
	int64_t success;
	int64_t failure;
};

static void count(const json_t *deps, struct counts *c)
{
	const json_t *d;
	size_t i;

	memset(c, 0, sizeof(*c));
	json_array_foreach(deps, i, d) {
		const char *state = json_string_value(json_object_get(d, "state"));

		/* A device sold during the rollout left it (server/transfer.c). */
		if (state != NULL && strcmp(state, "transferred") == 0)
			continue;
		c->assigned++;
		if (state == NULL || strcmp(state, "assigned") == 0)
			c->pending++;
		else if (strcmp(state, "success") == 0)
			c->success++;
		else if (strcmp(state, "failure") == 0)
			c->failure++;
		else
			c->active++;
	}
}

/* failure > threshold of assigned, in basis points, without rounding. */
static int over_threshold(const struct counts *c, int64_t threshold_bp)
{
	return c->assigned > 0 && c->failure * 10000 > threshold_bp * c->assigned;
}

static int ratio_met(const struct counts *c, int64_t ratio_bp)
{
	return c->assigned == 0 || c->success * 10000 >= ratio_bp * c->assigned;
}

/* As requests give it: an integer, or a string with two decimals. */
static json_t *percent_json(int64_t bp)
{
	char text[32];

	if (bp % 100 == 0)
		return json_integer(bp / 100);
	snprintf(text, sizeof(text), "%" PRId64 ".%02" PRId64, bp / 100, bp % 100);
	return json_string(text);
}

static upk_status change_state(struct server *srv, int64_t fleet, const json_t *row,
			       const char *state, int64_t phase, int64_t started,
			       const char *reason, const char *action, json_t *detail, int64_t now,
			       const struct principal *who, struct upk_error *err)
{
	struct store *st = srv->store;
	int64_t id = json_integer_value(json_object_get(row, "id"));
	upk_status ret = st->ops->rollout_update(st, fleet, id, state, phase, started, reason, now,
						 err);

	if (detail == NULL)
		detail = json_object();
	json_object_set_new(detail, "rollout", json_integer(id));
	json_object_set_new(detail, "target", json_incref(json_object_get(row, "target_path")));
	if (reason != NULL)
		json_object_set_new(detail, "reason", json_string(reason));
	if (ret == UPK_OK)
		return audit_record(srv, fleet, NULL, who, action, detail, now, err);
	json_decref(detail);
	return ret;
}

/* Is (device, type) pinned? pins is the fleet's pin rows. */
static int pinned(const json_t *pins, const char *device, const char *type)
{
	const json_t *p;
	size_t i;

	json_array_foreach(pins, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "device_id")), device) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "type")), type) == 0)
			return 1;
	}
	return 0;
}

static int has_device(const json_t *deps, const char *device)
{
	const json_t *d;
	size_t i;

	json_array_foreach(deps, i, d) {
		if (strcmp(json_string_value(json_object_get(d, "device_id")), device) == 0)
			return 1;
	}
	return 0;
}

/*
 * Assign the release to every accepted device whose bucket lies below
 * percent_bp, that the rollout's selector and the target's owner-signed
 * fields admit, that is not pinned for the type and not yet part of this
 * rollout. O(devices x deployments of the rollout); each assignment also
 * verifies the image repository again (director_assign_locked).
 */
static upk_status assign_phase(struct server *srv, int64_t fleet, const json_t *row,
			       const json_t *deps, int64_t percent_bp, int64_t now,
			       int64_t *added, struct upk_error *err)
{
	struct store *st = srv->store;
	int64_t id = json_integer_value(json_object_get(row, "id"));
	const char *path = json_string_value(json_object_get(row, "target_path"));
	const char *type = json_string_value(json_object_get(row, "type"));
	const char *seltext = json_string_value(json_object_get(row, "selector"));
	json_t *entry = NULL, *devices = NULL, *pins = NULL, *dev;
	struct upk_selector *sel = NULL;
	char salt[32];
	upk_status ret;
	size_t i;

	*added = 0;
	snprintf(salt, sizeof(salt), "%" PRId64, id);
	ret = repo_find_target(srv, fleet, path, now, &entry, err);
	if (ret == UPK_OK)
		ret = st->ops->device_list(st, fleet, "accepted", &devices, err);
	if (ret == UPK_OK)
		ret = st->ops->pin_list(st, fleet, NULL, &pins, err);
	if (ret == UPK_OK && seltext != NULL)
		ret = upk_selector_parse(seltext, strlen(seltext), &sel, err);
	json_array_foreach(devices, i, dev) {
		const char *dev_id = json_string_value(json_object_get(dev, "id"));
		struct upk_kv tags[API_MAX_MAP_ENTRIES], inst[API_MAX_MAP_ENTRIES];
		struct upk_device_attrs attrs;
		struct upk_error e = {0};
		unsigned bucket = 0;
		int64_t dep = 0;
		int matched = 0;

		if (ret != UPK_OK)
			break;
		if (has_device(deps, dev_id) || pinned(pins, dev_id, type))
			continue;
		if (upk_selector_bucket(dev_id, salt, &bucket, &e) != UPK_OK ||
		    (int64_t)bucket >= percent_bp)
			continue;
		if (sel != NULL) {
			director_device_attrs(dev, &attrs, tags, inst);
			/* An evaluation error counts as no match, as on devices. */
			if (upk_selector_match(sel, &attrs, &matched, &e) != UPK_OK || !matched)
				continue;
		}
		/* The owner-signed hardware list and selector decide; not admitted is not an error. */
		if (director_admits(srv, fleet, dev, entry, NULL, &e) != UPK_OK) {
			log_msg(LOG_DEBUG, "rollout", "rollout %" PRId64 ": %s", id, e.msg);
			continue;
		}
		ret = director_assign_locked(srv, fleet, dev_id, path, id, NULL, now, &dep, err);
		if (ret == UPK_OK)
			(*added)++;
	}
	upk_selector_free(sel);
	json_decref(entry);
	json_decref(devices);
	json_decref(pins);
	return ret;
}

/* The engine, inside a transaction. */
static upk_status step_locked(struct server *srv, int64_t fleet, int64_t id, int64_t now,
			      int assign, struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *row = NULL, *deps = NULL, *phases;
	struct counts c;
	int64_t k, started, n, fail_bp, ratio_bp;
	upk_status ret;

	ret = st->ops->rollout_get(st, fleet, id, &row, err);
	if (ret != UPK_OK)
		return ret;
	if (strcmp(json_string_value(json_object_get(row, "state")), "running") != 0)
		goto out;
	phases = json_object_get(row, "phases");
	n = (int64_t)json_array_size(phases);
	k = json_integer_value(json_object_get(row, "phase"));
	started = json_integer_value(json_object_get(row, "phase_started_at"));
	fail_bp = json_integer_value(json_object_get(row, "failure_threshold"));
	ratio_bp = json_integer_value(json_object_get(row, "success_ratio"));
	ret = st->ops->rollout_deployments(st, fleet, id, &deps, err);
	/* Bounded: each round either ends the loop or moves to the next phase. */
	for (int64_t round = 0; ret == UPK_OK && round <= n; round++) {
		const json_t *ph = json_array_get(phases, (size_t)k);
		int64_t added = 0;

		count(deps, &c);
		if (over_threshold(&c, fail_bp)) {
			char reason[256];

			/* Halted for good: the devices not yet assigned never get this release. */
			snprintf(reason, sizeof(reason),
				 "%" PRId64 " of %" PRId64 " devices failed, over the failure threshold "
				 "of %" PRId64 ".%02" PRId64 " %%",
				 c.failure, c.assigned, fail_bp / 100, fail_bp % 100);
			ret = change_state(srv, fleet, row, "halted", k, started, reason,
					   "rollout.halt",
					   json_pack("{s:I, s:I, s:I}", "phase", (json_int_t)k,
						     "failed", (json_int_t)c.failure, "assigned",
						     (json_int_t)c.assigned),
					   now, NULL, err);
			break;
		}
		if (assign) {
			ret = assign_phase(srv, fleet, row, deps,
					   json_integer_value(json_object_get(ph, "percent")), now,
					   &added, err);
			if (ret == UPK_OK && added > 0) {
				json_decref(deps);
				deps = NULL;
				ret = st->ops->rollout_deployments(st, fleet, id, &deps, err);
				if (ret == UPK_OK)
					count(deps, &c);
			}
			if (ret != UPK_OK)
				break;
		}
		if (now < started + json_integer_value(json_object_get(ph, "soak")) ||
		    !ratio_met(&c, ratio_bp))
			break;
		if (k == n - 1) {
			/* Completed means every device of the last phase has reported an outcome. */
			if (c.pending + c.active > 0)
				break;
			ret = change_state(srv, fleet, row, "completed", k, started, NULL,
					   "rollout.complete",
					   json_pack("{s:I, s:I}", "assigned", (json_int_t)c.assigned,
						     "succeeded", (json_int_t)c.success),
					   now, NULL, err);
			break;
		}
		k++;
		started = now;
		ret = change_state(srv, fleet, row, "running", k, started, NULL, "rollout.advance",
				   json_pack("{s:I, s:o}", "phase", (json_int_t)k, "percent",
					     percent_json(json_integer_value(json_object_get(
						     json_array_get(phases, (size_t)k), "percent")))),
				   now, NULL, err);
		/* A new phase takes its devices at once. */
		assign = 1;
	}
out:
	json_decref(deps);
	json_decref(row);
	return ret;
}

upk_status rollout_step(struct server *srv, int64_t fleet, int64_t id, int64_t now, int assign,
			struct upk_error *err)
{
	struct store *st = srv->store;
	upk_status ret = st->ops->begin(st, err);

	if (ret != UPK_OK)
		return ret;
	ret = step_locked(srv, fleet, id, now, assign, err);
	if (ret == UPK_OK)
		return st->ops->commit(st, err);
	st->ops->rollback(st);
	return upk_error_prefix(err, ret, "rollout %" PRId64 ": ", id);
}

upk_status rollout_maintain(struct server *srv, int64_t now, struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *rows = NULL, *row;
	upk_status ret;
	size_t i;

	ret = st->ops->rollout_running(st, &rows, err);
	if (ret != UPK_OK)
		return ret;
	json_array_foreach(rows, i, row) {
		struct upk_error e = {0};
		int64_t fleet = json_integer_value(json_object_get(row, "fleet_id"));

		if (rollout_step(srv, fleet, json_integer_value(json_object_get(row, "id")), now, 1,
				 &e) != UPK_OK)
			log_msg(LOG_ERROR, "rollout", "fleet %" PRId64 ": %s", fleet, e.msg);
	}
	json_decref(rows);
	return UPK_OK;
}

/* ---- the owner API ---- */

/* A rollout as owners see it: percentages in percent, counts by state. */
static upk_status view(struct store *st, int64_t fleet, const json_t *row, json_t **out,
		       struct upk_error *err)
{
	json_t *v = json_deep_copy(row), *deps = NULL, *phases, *ph;
	struct counts c;
	upk_status ret;
	size_t i;

	if (v == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = st->ops->rollout_deployments(st, fleet, json_integer_value(json_object_get(row, "id")),
					   &deps, err);
	if (ret != UPK_OK) {
		json_decref(v);
		return ret;
	}
	count(deps, &c);
	json_decref(deps);
	json_object_del(v, "fleet_id");
	phases = json_object_get(v, "phases");
	json_array_foreach(phases, i, ph)
		json_object_set_new(ph, "percent",
				    percent_json(json_integer_value(json_object_get(ph, "percent"))));
	json_object_set_new(v, "failure_threshold",
			    percent_json(json_integer_value(json_object_get(row, "failure_threshold"))));
	json_object_set_new(v, "success_ratio",
			    percent_json(json_integer_value(json_object_get(row, "success_ratio"))));
	json_object_set_new(v, "counts",
			    json_pack("{s:I, s:I, s:I, s:I, s:I}", "assigned", (json_int_t)c.assigned,
				      "pending", (json_int_t)c.pending, "active",
				      (json_int_t)c.active, "success", (json_int_t)c.success,
				      "failure", (json_int_t)c.failure));
	*out = v;
	return UPK_OK;
}

static int rollout_id_param(struct req *rq, struct reply *rp, int64_t *id)
{
	char *end = NULL;
	long long v = strtoll(rq->params[1], &end, 10);

	if (end == rq->params[1] || *end != '\0' || v <= 0) {
		reply_error(rp, 404, "not_found", "\"%s\" is not a rollout id", rq->params[1]);
		return -1;
	}
	*id = v;
	return 0;
}

void handle_rollout_create(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct rollout_create_req r;
	struct upk_target_info *info = NULL;
	struct upk_error err = {0};
	json_t *entry = NULL, *phases = NULL, *row = NULL, *out = NULL, *custom;
	int64_t now = server_clock(srv), id = 0;
	upk_status ret;

	ret = parse_rollout_create(rq->body, rq->body_len, &r, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->begin(st, &err);
	if (ret != UPK_OK)
		goto out;
	/* Only a release the owner signed, with fields the server understands. */
	ret = repo_find_target(srv, rq->fleet_id, r.target, now, &entry, &err);
	custom = json_object_get(entry, "custom");
	if (ret == UPK_OK) {
		ret = upk_target_info_parse(json_is_null(custom) ? NULL : custom, &info, &err);
		if (ret == UPK_ERR_NOT_FOUND)
			ret = upk_error_set(&err, UPK_ERR_INVALID,
					    "target \"%s\" has no owner-signed custom.upkeep fields",
					    r.target);
	}
	phases = json_array();
	for (size_t i = 0; ret == UPK_OK && i < r.n_phases; i++)
		json_array_append_new(phases, json_pack("{s:I, s:I}", "percent",
							(json_int_t)r.phases[i].percent_bp, "soak",
							(json_int_t)r.phases[i].soak));
	if (ret == UPK_OK)
		ret = st->ops->rollout_create(st, rq->fleet_id, r.name, r.target,
					      upk_target_type_name(info->type), r.selector, phases,
					      r.failure_threshold_bp, r.success_ratio_bp,
					      rq->who.keyid, now, &id, &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, NULL, &rq->who, "rollout.create",
				   json_pack("{s:I, s:s, s:s, s:s?, s:O, s:I, s:I}", "rollout",
					     (json_int_t)id, "name", r.name, "target", r.target,
					     "selector", r.selector, "phases", phases,
					     "failure_threshold", (json_int_t)r.failure_threshold_bp,
					     "success_ratio", (json_int_t)r.success_ratio_bp),
				   now, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
	if (ret != UPK_OK)
		goto out;
	/*
	 * The first phase is assigned in its own transaction: the rollout
	 * exists either way, and a maintenance pass retries what failed here.
	 */
	{
		struct upk_error e = {0};

		if (rollout_step(srv, rq->fleet_id, id, now, 1, &e) != UPK_OK)
			log_msg(LOG_ERROR, "rollout", "%s", e.msg);
	}
	ret = st->ops->rollout_get(st, rq->fleet_id, id, &row, &err);
	if (ret == UPK_OK)
		ret = view(st, rq->fleet_id, row, &out, &err);
out:
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "rollout refused: ");
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 201, out);
	}
	json_decref(row);
	json_decref(phases);
	json_decref(entry);
	upk_target_info_free(info);
	rollout_create_req_clear(&r);
}

void handle_rollout_list(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *rows = NULL, *row, *list = json_array();
	upk_status ret = list != NULL ? st->ops->rollout_list(st, rq->fleet_id, &rows, &err)
				      : upk_error_set(&err, UPK_ERR_NOMEM, "out of memory");
	size_t i;

	json_array_foreach(rows, i, row) {
		json_t *v = NULL;

		if (ret == UPK_OK)
			ret = view(st, rq->fleet_id, row, &v, &err);
		if (ret == UPK_OK)
			json_array_append_new(list, v);
	}
	json_decref(rows);
	if (ret != UPK_OK) {
		json_decref(list);
		reply_upk(rp, ret, &err);
		return;
	}
	reply_json(rp, 200, json_pack("{s:o}", "rollouts", list));
}

void handle_rollout_show(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *row = NULL, *out = NULL;
	int64_t id;
	upk_status ret;

	if (rollout_id_param(rq, rp, &id) != 0)
		return;
	ret = st->ops->rollout_get(st, rq->fleet_id, id, &row, &err);
	if (ret == UPK_OK)
		ret = view(st, rq->fleet_id, row, &out, &err);
	json_decref(row);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, out);
}

/* Per-device history within a rollout: each device's deployment and its last report. */
void handle_rollout_devices(struct req *rq, struct reply *rp)
{
	struct store *st = rq->srv->store;
	struct upk_error err = {0};
	json_t *deps = NULL, *d, *list = json_array();
	int64_t id;
	upk_status ret;
	size_t i;

	if (rollout_id_param(rq, rp, &id) != 0) {
		json_decref(list);
		return;
	}
	ret = st->ops->rollout_get(st, rq->fleet_id, id, &d, &err);
	if (ret == UPK_OK) {
		json_decref(d);
		ret = st->ops->rollout_deployments(st, rq->fleet_id, id, &deps, &err);
	}
	json_array_foreach(deps, i, d) {
		json_array_append_new(list,
				      json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "device",
						json_object_get(d, "device_id"), "deployment",
						json_object_get(d, "id"), "state",
						json_object_get(d, "state"), "reason",
						json_object_get(d, "reason"), "assigned_at",
						json_object_get(d, "created_at"), "updated_at",
						json_object_get(d, "updated_at")));
	}
	json_decref(deps);
	if (ret != UPK_OK) {
		json_decref(list);
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 200, json_pack("{s:I, s:o}", "rollout", (json_int_t)id, "devices", list));
	}
}

/*
 * Withdraw the assignments of an aborted rollout that no device has
 * started on; what devices already began or installed stays theirs.
 */
static upk_status withdraw(struct server *srv, int64_t fleet, int64_t id, int64_t now,
			   int64_t *withdrawn, struct upk_error *err)
{
	struct store *st = srv->store;
	json_t *deps = NULL, *d;
	upk_status ret = st->ops->rollout_deployments(st, fleet, id, &deps, err);
	size_t i;

	*withdrawn = 0;
	json_array_foreach(deps, i, d) {
		const char *dev = json_string_value(json_object_get(d, "device_id"));
		const char *type = json_string_value(json_object_get(d, "type"));
		json_t *cur = NULL, *a;
		size_t j;
		int current = 0;

		if (ret != UPK_OK)
			break;
		if (strcmp(json_string_value(json_object_get(d, "state")), "assigned") != 0)
			continue;
		ret = st->ops->assignment_list(st, fleet, dev, &cur, err);
		json_array_foreach(cur, j, a) {
			current |= strcmp(json_string_value(json_object_get(a, "type")), type) == 0 &&
				   json_integer_value(json_object_get(a, "id")) ==
					   json_integer_value(json_object_get(d, "id"));
		}
		json_decref(cur);
		if (ret != UPK_OK || !current)
			continue;
		ret = st->ops->assignment_delete(st, fleet, dev, type, err);
		if (ret == UPK_OK)
			ret = director_publish_device(srv, fleet, dev, now, err);
		if (ret == UPK_OK)
			ret = audit_record(srv, fleet, dev, NULL, "device.unassign",
					   json_pack("{s:s, s:I}", "type", type, "rollout",
						     (json_int_t)id),
					   now, err);
		if (ret == UPK_OK)
			(*withdrawn)++;
	}
	json_decref(deps);
	return ret;
}

enum transition { T_PAUSE, T_RESUME, T_ABORT };

static void transition(struct req *rq, struct reply *rp, enum transition t)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	json_t *row = NULL, *out = NULL;
	int64_t now = server_clock(srv), id, withdrawn = 0;
	const char *state, *want;
	upk_status ret;

	if (rollout_id_param(rq, rp, &id) != 0)
		return;
	ret = st->ops->begin(st, &err);
	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->rollout_get(st, rq->fleet_id, id, &row, &err);
	state = ret == UPK_OK ? json_string_value(json_object_get(row, "state")) : "";
	want = t == T_PAUSE ? "paused" : t == T_RESUME ? "running" : "aborted";
	if (ret == UPK_OK &&
	    ((t == T_PAUSE && strcmp(state, "running") != 0) ||
	     (t == T_RESUME && strcmp(state, "paused") != 0) ||
	     (t == T_ABORT && (strcmp(state, "aborted") == 0 || strcmp(state, "completed") == 0))))
		ret = upk_error_set(&err, UPK_ERR_EXISTS, "rollout %" PRId64 " is %s: it cannot be %s",
				    id, state,
				    t == T_PAUSE ? "paused" : t == T_RESUME ? "resumed" : "aborted");
	if (ret == UPK_OK && t == T_ABORT)
		ret = withdraw(srv, rq->fleet_id, id, now, &withdrawn, &err);
	/* A resumed phase keeps its start: time spent paused counts as soak time. */
	if (ret == UPK_OK)
		ret = change_state(srv, rq->fleet_id, row, want,
				   json_integer_value(json_object_get(row, "phase")),
				   json_integer_value(json_object_get(row, "phase_started_at")),
				   t == T_RESUME ? NULL : json_string_value(json_object_get(row, "reason")),
				   t == T_PAUSE ? "rollout.pause" : t == T_RESUME ? "rollout.resume"
										  : "rollout.abort",
				   t == T_ABORT ? json_pack("{s:I}", "withdrawn", (json_int_t)withdrawn)
						: NULL,
				   now, &rq->who, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
	json_decref(row);
	row = NULL;
	if (ret == UPK_OK && t == T_RESUME) {
		struct upk_error e = {0};

		if (rollout_step(srv, rq->fleet_id, id, now, 1, &e) != UPK_OK)
			log_msg(LOG_ERROR, "rollout", "%s", e.msg);
	}
	if (ret == UPK_OK)
		ret = st->ops->rollout_get(st, rq->fleet_id, id, &row, &err);
	if (ret == UPK_OK)
		ret = view(st, rq->fleet_id, row, &out, &err);
	json_decref(row);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, out);
}

void handle_rollout_pause(struct req *rq, struct reply *rp)
{
	transition(rq, rp, T_PAUSE);
}

void handle_rollout_resume(struct req *rq, struct reply *rp)
{
	transition(rq, rp, T_RESUME);
}

void handle_rollout_abort(struct req *rq, struct reply *rp)
{
	transition(rq, rp, T_ABORT);
}

/* ---- pins ---- */

void handle_pin(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct assign_req a;
	struct upk_error err = {0};
	json_t *dep = NULL;
	int64_t now = server_clock(srv), id = 0;
	const char *type = NULL;
	upk_status ret = parse_assign(rq->body, rq->body_len, &a, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	ret = st->ops->begin(st, &err);
	if (ret != UPK_OK)
		goto out;
	/* A pin is an admitted assignment that rollouts then leave alone. */
	ret = director_assign_locked(srv, rq->fleet_id, rq->params[1], a.target, 0, &rq->who, now,
				     &id, &err);
	if (ret == UPK_OK)
		ret = st->ops->deployment_get(st, rq->fleet_id, id, &dep, &err);
	if (ret == UPK_OK) {
		type = json_string_value(json_object_get(dep, "type"));
		ret = st->ops->pin_put(st, rq->fleet_id, rq->params[1], type, a.target, rq->who.keyid,
				       now, &err);
	}
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, rq->params[1], &rq->who, "device.pin",
				   json_pack("{s:s, s:s, s:I}", "target", a.target, "type", type,
					     "deployment", (json_int_t)id),
				   now, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
out:
	if (ret != UPK_OK) {
		upk_error_prefix(&err, ret, "pin refused: ");
		reply_upk(rp, ret, &err);
	} else {
		reply_json(rp, 200,
			   json_pack("{s:s, s:s, s:s, s:I}", "device", rq->params[1], "type", type,
				     "target", a.target, "deployment", (json_int_t)id));
	}
	json_decref(dep);
	assign_req_clear(&a);
}

void handle_unpin(struct req *rq, struct reply *rp)
{
	struct server *srv = rq->srv;
	struct store *st = srv->store;
	struct upk_error err = {0};
	int64_t now = server_clock(srv);
	upk_status ret = st->ops->begin(st, &err);

	if (ret != UPK_OK) {
		reply_upk(rp, ret, &err);
		return;
	}
	/* The assignment stays; only rollouts may now replace it. */
	ret = st->ops->pin_delete(st, rq->fleet_id, rq->params[1], rq->params[2], &err);
	if (ret == UPK_OK)
		ret = audit_record(srv, rq->fleet_id, rq->params[1], &rq->who, "device.unpin",
				   json_pack("{s:s}", "type", rq->params[2]), now, &err);
	if (ret == UPK_OK)
		ret = st->ops->commit(st, &err);
	else
		st->ops->rollback(st);
	if (ret != UPK_OK)
		reply_upk(rp, ret, &err);
	else
		reply_json(rp, 200, json_pack("{s:s, s:s}", "device", rq->params[1], "unpinned",
					      rq->params[2]));
}
