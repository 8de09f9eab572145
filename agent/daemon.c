/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One cycle: finish what the last run started, enrol when not accepted yet,
 * check in with the inventory, run an update check against the URLs the
 * server names, and deliver queued reports. The loop around it sleeps the
 * poll interval with jitter, or backs off exponentially after failures.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "commands.h"
#include "daemon.h"
#include "fileio.h"
#include "identity.h"
#include "journal.h"
#include "server_link.h"
#include "upkeep/crypto.h"
#include "upkeep/fetch_curl.h"

#define BACKOFF_BASE_S 5u

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

unsigned daemon_backoff_s(unsigned failures, unsigned poll_s, unsigned rnd)
{
	unsigned d = BACKOFF_BASE_S;

	for (unsigned i = 1; i < failures && d < poll_s; i++)
		d *= 2;
	if (d > poll_s)
		d = poll_s;
	/* +-20 % so that a fleet that lost its server does not come back in lockstep. */
	return d - d / 5 + (d / 5 > 0 ? rnd % (2 * (d / 5) + 1) : 0);
}

struct cycle {
	const struct agent_config *cfg;
	struct identity *id;
	struct journal *j;
	struct bootloader *bl;
	struct server_link *link;
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

static upk_status enrol(struct cycle *c, struct upk_error *err)
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
	ret = server_link_call(c->link, "POST", "enrol", body, &code, &resp, err);
	if (ret == UPK_OK && code != 200 && code != 201)
		ret = upk_error_set(err, UPK_ERR_IO, "enrolment refused: HTTP %ld %s", code,
		                    server_error(resp));
	if (ret == UPK_OK)
		ret = journal_set(c->j, "enrolment",
		                  json_pack("{s:s?}", "status", status_of(resp)), err);
	if (ret == UPK_OK)
		ret = journal_commit(c->j, err);
	json_decref(body);
	json_decref(resp);
	return ret;
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
	return b;
}

/* Deliver queued reports in order; stop at the first one the server could not take now. */
static upk_status flush_outbox(struct cycle *c, struct upk_error *err)
{
	json_t *box = journal_get(c->j, "outbox");
	int changed = 0;
	upk_status ret = UPK_OK;

	while (json_array_size(box) > 0) {
		json_t *r = json_array_get(box, 0), *body, *resp = NULL;
		const char *dep = json_string_value(json_object_get(r, "deployment"));
		const char *reason = json_string_value(json_object_get(r, "reason"));
		char rel[256];
		long code = 0;

		if (dep != NULL) {
			snprintf(rel, sizeof(rel), "deployments/%s/status", dep);
			body = json_pack("{s:O,s:s*,s:s*}", "state", json_object_get(r, "state"),
			                 "reason", reason, "log_tail", reason);
			ret = body == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
			                   : server_link_call(c->link, "POST", rel, body, &code,
			                                      &resp, err);
			json_decref(body);
			json_decref(resp);
			if (ret != UPK_OK)
				break;
			/* Server trouble: keep the report for the next cycle. */
			if (code >= 500 || code == 408 || code == 429) {
				ret = upk_error_set(err, UPK_ERR_IO, "report to %s: HTTP %ld", rel,
				                    code);
				break;
			}
			/* Any other answer is final: a 4xx would be refused again. */
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
static upk_status relink(struct cycle *c, struct upk_error *err)
{
	struct server_link *l = NULL;
	upk_status ret = server_link_new(claim_server_url(c->cfg, c->j), c->id, &l, err);

	if (ret != UPK_OK)
		return ret;
	server_link_free(c->link);
	c->link = l;
	return UPK_OK;
}

static upk_status cycle_once(struct cycle *c, int no_reboot, enum update_outcome *outcome,
                             struct upk_error *err)
{
	struct update_ctx uc;
	json_t *body = NULL, *resp = NULL, *urls;
	char *im = NULL, *dm = NULL, *tg = NULL;
	const char *st;
	long code = 0;
	upk_status ret;

	*outcome = UPDATE_IDLE;
	memset(&uc, 0, sizeof(uc));
	uc.cfg = c->cfg;
	uc.device_id = c->id->id;
	uc.journal = c->j;
	uc.bl = c->bl;
	uc.no_reboot = no_reboot;
	/* After a reboot: decide commit or rollback before talking to anyone. */
	ret = update_resume(&uc, outcome, err);
	if (ret != UPK_OK || *outcome == UPDATE_REBOOTING)
		goto report;
	/* Unclaimed after a factory reset: a verified claim first, then a normal cycle there. */
	if (claim_unclaimed(c->j)) {
		int claimed = 0;

		ret = claim_poll(c->cfg, c->j, c->id, c->link, &claimed, err);
		if (ret == UPK_OK && claimed)
			ret = relink(c, err);
		if (ret != UPK_OK || !claimed)
			goto out;
	}
	st = json_string_value(json_object_get(journal_get(c->j, "enrolment"), "status"));
	if (st == NULL || strcmp(st, "accepted") != 0) {
		ret = enrol(c, err);
		if (ret != UPK_OK)
			goto out;
	}
	body = checkin_body(c);
	ret = body == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                   : server_link_call(c->link, "POST", "checkin", body, &code, &resp, err);
	if (ret == UPK_OK && code != 200)
		ret = upk_error_set(err, UPK_ERR_IO, "check-in: HTTP %ld %s", code,
		                    server_error(resp));
	if (ret != UPK_OK)
		goto out;
	st = status_of(resp);
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
	urls = json_object_get(resp, "urls");
	if (json_string_value(json_object_get(urls, "image_metadata")) == NULL ||
	    json_string_value(json_object_get(urls, "director_metadata")) == NULL ||
	    json_string_value(json_object_get(urls, "image_targets")) == NULL) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "check-in answer without repository urls");
		goto out;
	}
	im = server_link_url(c->link, json_string_value(json_object_get(urls, "image_metadata")));
	dm = server_link_url(c->link,
	                     json_string_value(json_object_get(urls, "director_metadata")));
	tg = server_link_url(c->link, json_string_value(json_object_get(urls, "image_targets")));
	if (im == NULL || dm == NULL || tg == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	{
		struct update_source src = {.image_metadata_url = im,
		                            .director_metadata_url = dm,
		                            .targets_url = tg,
		                            .fetcher = c->fetcher};

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

		if (flush_outbox(c, &ferr) != UPK_OK && ret == UPK_OK)
			fprintf(stderr, "upkeepd: reports kept for later: %s\n", ferr.msg);
	}
	if (ret == UPK_OK && *outcome == UPDATE_REBOOTING && !no_reboot)
		stop_requested = 1; /* the reboot command runs; nothing more to do */
out:
	free(im);
	free(dm);
	free(tg);
	json_decref(body);
	json_decref(resp);
	return ret;
}

upk_status daemon_run(const struct agent_config *cfg, const struct daemon_opts *opts,
                      enum update_outcome *outcome, struct upk_error *err)
{
	struct cycle c;
	char *state = NULL;
	unsigned failures = 0;
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
	if (ret == UPK_OK && claim_server_url(cfg, c.j) == NULL)
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "%s: no server set ([agent] server = FLEET URL)", cfg->source);
	if (ret == UPK_OK)
		ret = bootloader_open(&cfg->bootloader, &c.bl, err);
	if (ret == UPK_OK)
		ret = server_link_new(claim_server_url(cfg, c.j), c.id, &c.link, err);
	if (ret == UPK_OK)
		ret = upk_fetcher_curl_new(NULL, &c.fetcher, err);
	if (ret != UPK_OK)
		goto out;
	if (!opts->once) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	for (;;) {
		struct upk_error cerr = {0};
		unsigned delay, rnd = 0;

		ret = cycle_once(&c, opts->no_reboot, outcome, &cerr);
		if (opts->once) {
			if (ret != UPK_OK)
				*err = cerr;
			break;
		}
		if (ret != UPK_OK) {
			failures++;
			fprintf(stderr, "upkeepd: check failed (%u in a row): %s\n", failures,
			        cerr.msg);
		} else {
			failures = 0;
			if (*outcome != UPDATE_IDLE)
				fprintf(stderr, "upkeepd: check: %s\n", update_outcome_name(*outcome));
		}
		upk_random_bytes(&rnd, sizeof(rnd), NULL);
		delay = failures > 0 ? daemon_backoff_s(failures, cfg->poll_interval_s, rnd)
		                     : cfg->poll_interval_s - cfg->poll_interval_s / 10 +
		                           rnd % (cfg->poll_interval_s / 5 + 1);
		for (unsigned s = 0; s < delay && !stop_requested; s++)
			sleep(1);
		if (stop_requested)
			break;
	}
	if (!opts->once)
		ret = UPK_OK;
out:
	upk_fetcher_curl_free(c.fetcher);
	server_link_free(c.link);
	bootloader_free(c.bl);
	journal_free(c.j);
	identity_free(c.id);
	free(state);
	return ret;
}
