/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One cycle: finish what the last run started, enrol when not accepted yet,
 * check in with the inventory, run an update check against the URLs the
 * server names, and deliver queued reports. Each cycle is its own process:
 * the loop around it (sleep the poll interval with jitter, or back off
 * exponentially after failures) is the small `upkeepd` front-end
 * (agent/frontend.c), so the libraries a cycle needs are mapped only while
 * it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "commands.h"
#include "config_target.h"
#include "daemon.h"
#include "events.h"
#include "fileio.h"
#include "identity.h"
#include "journal.h"
#include "private_data.h"
#include "server_link.h"
#include "upkeep/crypto.h"
#include "upkeep/fetch_curl.h"
#include "upkeep/transfer.h"

struct cycle {
	const struct agent_config *cfg;
	struct identity *id;
	struct journal *j;
	struct bootloader *bl;
	struct server_link *link;
	char *url; /* the fleet URL link talks to */
	struct upk_fetcher *fetcher;
};

static json_t *attributes_json(const struct agent_config *cfg)
{
	json_t *o = json_object();

	for (size_t i = 0; i < cfg->n_attrs; i++)
		json_object_set_new(o, cfg->attrs[i].key, json_string(cfg->attrs[i].value));
	return o;
}

static const char *status_of(const json_t *r)
{
	return json_string_value(json_object_get(r, "status"));
}

/* The server's error message of a refused request ("" when it gave none). */
static const char *server_error(const json_t *resp)
{
	const char *m = json_string_value(json_object_get(resp, "message"));

	if (m == NULL)
		m = json_string_value(json_object_get(resp, "error"));

	return m != NULL ? m : "";
}

static upk_status enrol_at(struct cycle *c, struct server_link *link, json_t **out,
                           struct upk_error *err)
{
	json_t *body = NULL, *pub = NULL, *resp = NULL;
	long code = 0;
	upk_status ret;

	ret = upk_key_to_tuf(c->id->key, &pub, err);
	if (ret != UPK_OK)
		return ret;
	body = json_pack("{s:o,s:s*,s:o}", "public_key", pub, "hardware_id", c->cfg->hardware_id,
	                 "attributes", attributes_json(c->cfg));
	if (body == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = server_link_call(link, "POST", "enrol", body, &code, &resp, err);
	if (ret == UPK_OK && code != 200 && code != 201)
		ret = upk_error_set(err, UPK_ERR_IO, "enrolment refused: HTTP %ld %s", code,
		                    server_error(resp));
	json_decref(body);
	if (ret == UPK_OK && out != NULL) {
		*out = resp;
		resp = NULL;
	}
	json_decref(resp);
	return ret;
}

static upk_status enrol(struct cycle *c, struct upk_error *err)
{
	json_t *resp = NULL;
	upk_status ret = enrol_at(c, c->link, &resp, err);

	if (ret == UPK_OK)
		ret = journal_set(c->j, "enrolment",
		                  json_pack("{s:s?}", "status", status_of(resp)), err);
	if (ret == UPK_OK)
		ret = journal_commit(c->j, err);
	json_decref(resp);
	return ret;
}

/* The repository URLs of an accepted device's answer, absolute on link's origin. */
struct urls {
	char *im, *dm, *tg;
};

static void urls_clear(struct urls *u)
{
	free(u->im);
	free(u->dm);
	free(u->tg);
	memset(u, 0, sizeof(*u));
}

static upk_status urls_of(const struct server_link *link, const json_t *resp, struct urls *u,
                          struct upk_error *err)
{
	const json_t *urls = json_object_get(resp, "urls");
	const char *im = json_string_value(json_object_get(urls, "image_metadata"));
	const char *dm = json_string_value(json_object_get(urls, "director_metadata"));
	const char *tg = json_string_value(json_object_get(urls, "image_targets"));

	memset(u, 0, sizeof(*u));
	if (im == NULL || dm == NULL || tg == NULL || im[0] != '/' || dm[0] != '/' || tg[0] != '/')
		return upk_error_set(err, UPK_ERR_INVALID, "answer without repository urls");
	u->im = server_link_url(link, im);
	u->dm = server_link_url(link, dm);
	u->tg = server_link_url(link, tg);
	if (u->im == NULL || u->dm == NULL || u->tg == NULL) {
		urls_clear(u);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	return UPK_OK;
}

static json_t *checkin_body(const struct cycle *c)
{
	json_t *inst = journal_get(c->j, "installed");
	struct statvfs st;
	json_t *b = json_pack("{s:s*,s:O*,s:o}", "hardware_id", c->cfg->hardware_id, "installed",
	                      json_is_object(inst) ? inst : NULL, "attributes",
	                      attributes_json(c->cfg));

	if (b != NULL && statvfs(c->cfg->data_dir, &st) == 0)
		json_object_set_new(b, "free_space",
		                    json_integer((json_int_t)((uint64_t)st.f_bavail * st.f_frsize)));
	/* Queued events ride along; they leave the state only once the server answered. */
	if (b != NULL && events_pending(c->j) != NULL)
		json_object_set_new(b, "events", json_deep_copy(events_pending(c->j)));
	return b;
}

/* POST checkin at link; *resp on HTTP 200 only. */
static upk_status checkin_at(struct cycle *c, struct server_link *link, json_t **resp,
                             struct upk_error *err)
{
	json_t *body = checkin_body(c);
	long code = 0;
	upk_status ret;

	*resp = NULL;
	ret = body == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                   : server_link_call(link, "POST", "checkin", body, &code, resp, err);
	if (ret == UPK_OK && code != 200)
		ret = upk_error_set(err, UPK_ERR_IO, "check-in: HTTP %ld %s", code,
		                    server_error(*resp));
	if (ret != UPK_OK) {
		json_decref(*resp);
		*resp = NULL;
	}
	json_decref(body);
	return ret;
}

/* moved_to must be exactly "/v1/fleets/NAME": it only says where to ask next. */
static int moved_to_ok(const char *m)
{
	return m != NULL && strncmp(m, "/v1/fleets/", 11) == 0 && upk_fleet_name_valid(m + 11);
}

static struct update_source source_of(const struct cycle *c, const struct urls *u)
{
	struct update_source src = {.image_metadata_url = u->im,
	                            .director_metadata_url = u->dm,
	                            .targets_url = u->tg,
	                            .fetcher = c->fetcher};

	return src;
}

static void init_update_ctx(struct cycle *c, struct update_ctx *uc, int no_reboot);

/*
 * Ask the fleet at url whether this device may live there: check in (or
 * enrol, which accepts a pre-authorised device at once), require
 * "accepted", and verify both repositories it serves in a scratch store
 * (update_probe); with refresh, then trust them (update_refresh). Both
 * must verify before either is trusted: a refresh that moved the director
 * chain to the buyer's root and then failed on the image one (the buyer has
 * not published yet) would leave the device trusting half of each owner.
 * On success *link and *resp (when not NULL) are the caller's.
 */
static upk_status try_fleet(struct cycle *c, const char *url, int enrol, int refresh,
                            struct server_link **link, json_t **resp, struct upk_error *err)
{
	struct server_link *nl = NULL;
	struct update_ctx uc;
	struct urls u = {0};
	json_t *r = NULL;
	const char *st;
	upk_status ret;

	ret = server_link_new(url, c->id, &nl, err);
	if (ret == UPK_OK)
		ret = enrol ? enrol_at(c, nl, &r, err) : checkin_at(c, nl, &r, err);
	st = status_of(r);
	if (ret == UPK_OK && (st == NULL || strcmp(st, "accepted") != 0))
		ret = upk_error_set(err, UPK_ERR_INVALID, "the device is \"%s\" there, not accepted%s",
		                    st != NULL ? st : "?",
		                    enrol ? " (pre-authorise it in that fleet first)" : "");
	if (ret == UPK_OK)
		ret = urls_of(nl, r, &u, err);
	if (ret == UPK_OK) {
		struct update_source src = source_of(c, &u);

		init_update_ctx(c, &uc, 1); /* metadata only: nothing here reboots */
		ret = update_probe(&uc, &src, err);
		if (ret == UPK_OK && refresh)
			ret = update_refresh(&uc, &src, err);
	}
	urls_clear(&u);
	if (ret == UPK_OK && link != NULL) {
		*link = nl;
		nl = NULL;
	}
	if (ret == UPK_OK && resp != NULL) {
		*resp = r;
		r = NULL;
	}
	json_decref(r);
	server_link_free(nl);
	return ret;
}

/*
 * The old fleet answered "transferred": move to moved_to on the same origin
 * (this is where the transfer roots are checked). Only when try_fleet
 * worked is the new fleet URL recorded (state "server") and used; otherwise
 * the device stays where it was and the cycle fails. *resp becomes the new
 * answer.
 */
static upk_status follow_move(struct cycle *c, json_t **resp, struct upk_error *err)
{
	const char *moved = json_string_value(json_object_get(*resp, "moved_to"));
	struct server_link *nl = NULL;
	json_t *nresp = NULL;
	char *url = NULL;
	upk_status ret;

	if (!moved_to_ok(moved))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "%s answered \"transferred\" without a valid moved_to "
		                     "(/v1/fleets/NAME)",
		                     c->url);
	url = server_link_url(c->link, moved);
	if (url == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = try_fleet(c, url, 0, 1, &nl, &nresp, err);
	if (ret == UPK_OK)
		ret = journal_set(c->j, "server", json_string(url), err);
	if (ret == UPK_OK)
		ret = journal_commit(c->j, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "following the move to %s: ", url);
		json_decref(nresp);
		server_link_free(nl);
		free(url);
		return ret;
	}
	fprintf(stderr, "upkeepd: moved to %s\n", url);
	server_link_free(c->link);
	free(c->url);
	c->link = nl;
	c->url = url;
	json_decref(*resp);
	*resp = nresp;
	return UPK_OK;
}

/* update_ctx.probe_server: may the device move to fleet_url? Nothing is trusted. */
static upk_status probe_server(void *arg, const char *fleet_url, struct upk_error *err)
{
	return try_fleet(arg, fleet_url, 1, 0, NULL, NULL, err);
}

static void init_update_ctx(struct cycle *c, struct update_ctx *uc, int no_reboot)
{
	memset(uc, 0, sizeof(*uc));
	uc->cfg = c->cfg;
	uc->device_id = c->id->id;
	uc->journal = c->j;
	uc->bl = c->bl;
	uc->no_reboot = no_reboot;
	uc->server_url = c->url;
	uc->probe_server = probe_server;
	uc->probe_ctx = c;
}

/* Use the fleet URL of the state ("server") when a config target or a move changed it. */
static upk_status select_server(struct cycle *c, struct upk_error *err)
{
	const char *want = config_current_server(c->j, c->cfg->server_url);
	struct server_link *nl = NULL;
	char *url;
	upk_status ret;

	if (want == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "%s: no server set ([agent] server = FLEET URL)",
		                     c->cfg->source);
	if (c->url != NULL && strcmp(c->url, want) == 0)
		return UPK_OK;
	url = strdup(want);
	if (url == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	ret = server_link_new(url, c->id, &nl, err);
	if (ret != UPK_OK) {
		free(url);
		return ret;
	}
	server_link_free(c->link);
	free(c->url);
	c->link = nl;
	c->url = url;
	return UPK_OK;
}

/*
 * Deliver queued reports in order; stop at the first one the server could
 * not take now. A report carries the fleet URL its deployment came from:
 * after a move it still goes there, once; if that server cannot take it,
 * it is dropped (that server no longer manages the device).
 */
static upk_status flush_outbox(struct cycle *c, struct upk_error *err)
{
	json_t *box = journal_get(c->j, "outbox");
	int changed = 0;
	upk_status ret = UPK_OK;

	while (json_array_size(box) > 0) {
		json_t *r = json_array_get(box, 0), *body, *resp = NULL;
		const char *dep = json_string_value(json_object_get(r, "deployment"));
		const char *reason = json_string_value(json_object_get(r, "reason"));
		const char *to = json_string_value(json_object_get(r, "server"));
		struct server_link *link = c->link, *other = NULL;
		int elsewhere = to != NULL && strcmp(to, c->url) != 0;
		char rel[256];
		long code = 0;

		if (dep != NULL && elsewhere && server_link_new(to, c->id, &other, NULL) != UPK_OK)
			dep = NULL; /* not a usable URL any more: nothing to deliver it to */
		if (other != NULL)
			link = other;
		if (dep != NULL) {
			snprintf(rel, sizeof(rel), "deployments/%s/status", dep);
			body = json_pack("{s:O,s:s*,s:s*}", "state", json_object_get(r, "state"),
			                 "reason", reason, "log_tail", reason);
			ret = body == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
			                   : server_link_call(link, "POST", rel, body, &code, &resp,
			                                      err);
			json_decref(body);
			json_decref(resp);
			server_link_free(other);
			if (ret != UPK_OK && !elsewhere)
				break;
			/* Server trouble: keep the report for the next cycle. */
			if (ret == UPK_OK && !elsewhere &&
			    (code >= 500 || code == 408 || code == 429)) {
				ret = upk_error_set(err, UPK_ERR_IO, "report to %s: HTTP %ld", rel,
				                    code);
				break;
			}
			/* Any other answer is final: a 4xx would be refused again. */
			ret = UPK_OK;
		}
		json_array_remove(box, 0);
		changed = 1;
	}
	if (changed) {
		upk_status r2 = journal_commit(c->j, err);

		if (ret == UPK_OK)
			ret = r2;
	}
	return ret;
}

/* Talk to the fleet the state now names (after a claim moved the device there). */
static upk_status cycle_once(struct cycle *c, int no_reboot, enum update_outcome *outcome,
                             struct upk_error *err)
{
	struct update_ctx uc;
	json_t *resp = NULL;
	struct urls u = {0};
	size_t n_events;
	const char *st;
	upk_status ret;

	*outcome = UPDATE_IDLE;
	/* After a reboot: decide commit or rollback before talking to anyone. */
	init_update_ctx(c, &uc, no_reboot);
	ret = update_resume(&uc, outcome, err);
	if (ret != UPK_OK || *outcome == UPDATE_REBOOTING)
		goto report;
	/* A config target applied in the last cycle, a move or a claim may have changed the fleet. */
	ret = select_server(c, err);
	if (ret != UPK_OK)
		goto out;
	/* Unclaimed after a factory reset: a verified claim first, then a normal cycle there. */
	if (claim_unclaimed(c->j)) {
		int claimed = 0;

		ret = claim_poll(c->cfg, c->j, c->id, c->link, &claimed, err);
		if (ret == UPK_OK && claimed)
			ret = select_server(c, err);
		if (ret != UPK_OK || !claimed)
			goto out;
	}
	uc.server_url = c->url;
	st = json_string_value(json_object_get(journal_get(c->j, "enrolment"), "status"));
	if (st == NULL || strcmp(st, "accepted") != 0) {
		ret = enrol(c, err);
		if (ret != UPK_OK)
			goto out;
	}
	n_events = json_array_size(events_pending(c->j));
	ret = checkin_at(c, c->link, &resp, err);
	if (ret != UPK_OK)
		goto out;
	st = status_of(resp);
	if (st != NULL && strcmp(st, "transferred") == 0) {
		/* Sold: the events wait for the buyer's fleet, which now manages the device. */
		ret = follow_move(c, &resp, err);
		if (ret != UPK_OK)
			goto out;
		uc.server_url = c->url;
		st = status_of(resp);
	}
	/* Delivered: the server answered the check-in that carried them. */
	ret = events_delivered(c->j, n_events, err);
	if (ret != UPK_OK)
		goto out;
	if (st != NULL) {
		json_t *e = journal_get(c->j, "enrolment");

		if (!json_is_object(e) ||
		    !json_equal(json_object_get(e, "status"), json_object_get(resp, "status"))) {
			ret = journal_set(c->j, "enrolment", json_pack("{s:s}", "status", st), err);
			if (ret == UPK_OK)
				ret = journal_commit(c->j, err);
			if (ret != UPK_OK)
				goto out;
		}
	}
	if (st == NULL || strcmp(st, "accepted") != 0)
		goto report; /* pending: the owner has not accepted this device yet */
	ret = urls_of(c->link, resp, &u, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "check-in: ");
		goto out;
	}
	{
		struct update_source src = source_of(c, &u);
		enum update_outcome resumed = *outcome;

		uc.deployments = json_object_get(resp, "deployments");
		ret = update_check(&uc, &src, outcome, err);
		/* What finished after the reboot counts when the check itself had nothing to do. */
		if (*outcome == UPDATE_IDLE)
			*outcome = resumed;
	}
report:
	/* Reports go out even when the check failed: they say why. */
	{
		struct upk_error ferr = {0};

		if (c->link != NULL && flush_outbox(c, &ferr) != UPK_OK && ret == UPK_OK)
			fprintf(stderr, "upkeepd: reports kept for later: %s\n", ferr.msg);
	}
out:
	urls_clear(&u);
	json_decref(resp);
	return ret;
}

/* One line for the front-end: "ok|fail POLL_S OUTCOME[ MESSAGE]". */
static void report_cycle(int fd, upk_status ret, enum update_outcome outcome, unsigned poll_s,
                         const struct upk_error *cerr)
{
	char line[sizeof(cerr->msg) + 64];
	int n = snprintf(line, sizeof(line), "%s %u %s%s%s\n", ret == UPK_OK ? "ok" : "fail",
	                 poll_s, update_outcome_name(outcome), ret == UPK_OK ? "" : " ",
	                 ret == UPK_OK ? "" : cerr->msg);

	if (n > 0 && write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		perror("upkeepd: daemon: report to the front-end");
}

upk_status daemon_run(const struct agent_config *cfg, const struct daemon_opts *opts,
                      enum update_outcome *outcome, struct upk_error *err)
{
	struct cycle c;
	char *state = NULL;
	upk_status ret;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	*outcome = UPDATE_IDLE;
	state = agent_cmd_state_path(cfg);
	ret = state == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                    : fio_mkdir_p(cfg->data_dir, 0700, err);
	if (ret == UPK_OK)
		ret = identity_load_or_create(cfg->key_path, &c.id, err);
	if (ret == UPK_OK)
		ret = journal_open(state, &c.j, err);
	if (ret == UPK_OK)
		ret = claim_recover(cfg, c.j, err);
	if (ret == UPK_OK)
		ret = bootloader_open(&cfg->bootloader, &c.bl, err);
	if (ret == UPK_OK)
		ret = private_data_ensure(cfg, err);
	if (ret == UPK_OK)
		ret = select_server(&c, err);
	if (ret == UPK_OK)
		ret = upk_fetcher_curl_new(NULL, &c.fetcher, err);
	if (ret != UPK_OK)
		goto out;
	{
		struct upk_error cerr = {0};

		ret = cycle_once(&c, opts->no_reboot, outcome, &cerr);
		if (opts->cycle_fd > 0) {
			/* The cycle's result is the front-end's to act on, not a failure here. */
			report_cycle(opts->cycle_fd, ret, *outcome, config_current_poll(c.j, cfg->poll_interval_s), &cerr);
			ret = UPK_OK;
		} else if (ret != UPK_OK) {
			*err = cerr;
		}
	}
out:
	upk_fetcher_curl_free(c.fetcher);
	server_link_free(c.link);
	free(c.url);
	bootloader_free(c.bl);
	journal_free(c.j);
	identity_free(c.id);
	free(state);
	return ret;
}
