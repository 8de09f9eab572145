/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd reset --factory` and the claim that follows it. The reset is
 * journalled before it touches anything (state key `reset`), and every
 * step after that is idempotent, so a crash leaves either the device as it
 * was (before the intent is committed) or a reset that the next start
 * finishes (claim_recover). The claim trusts roots only after their MAC
 * proves the owner read the code off this device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "claim.h"
#include "events.h"
#include "fileio.h"
#include "private_data.h"
#include "upkeep/client.h"
#include "upkeep/crypto.h"

#define CLAIM_CODE_FILE "claim-code"
/* Claims looked at per poll: the server sends at most 8. */
#define CLAIMS_MAX 8

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void now_text(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *claim_status(const struct journal *j)
{
	return jstr(journal_get(j, "claim"), "status");
}

int claim_unclaimed(const struct journal *j)
{
	const char *s = claim_status(j);

	/* A reset under way counts: its trust is already being forgotten. */
	return journal_get(j, "reset") != NULL || (s != NULL && strcmp(s, "unclaimed") == 0);
}

upk_status factory_reset_allowed(const struct journal *j, struct upk_error *err)
{
	const json_t *c = journal_get(j, "config"), *u = journal_get(j, "update");
	const char *fr = jstr(c, "factory_reset");

	if (fr != NULL && strcmp(fr, "deny") == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "factory reset refused: the owner's config target %s (version "
		                     "%s) sets factory_reset = deny",
		                     jstr(c, "target") ? jstr(c, "target") : "(unnamed)",
		                     jstr(c, "version") ? jstr(c, "version") : "?");
	if (u != NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "factory reset refused: an update is in progress (%s, phase %s); "
		                     "let it finish or roll back first",
		                     jstr(u, "target") ? jstr(u, "target") : "?",
		                     jstr(u, "phase") ? jstr(u, "phase") : "?");
	return UPK_OK;
}

static upk_status path_in_data(const struct agent_config *cfg, const char *leaf, char **out,
                               struct upk_error *err)
{
	*out = fio_path_join(cfg->data_dir, leaf);
	return *out == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory") : UPK_OK;
}

/* Write a fresh code, atomically and durably, mode 0600: it is the key to this device. */
static upk_status code_write(const struct agent_config *cfg, struct upk_error *err)
{
	char code[UPK_CLAIM_CODE_DISPLAY_LEN + 2], *path = NULL;
	upk_status ret = path_in_data(cfg, CLAIM_CODE_FILE, &path, err);

	if (ret == UPK_OK)
		ret = upk_claim_code_generate(code, err);
	if (ret == UPK_OK) {
		strcat(code, "\n");
		ret = fio_write_file_atomic(path, code, strlen(code), 0600, err);
	}
	OPENSSL_cleanse(code, sizeof(code));
	free(path);
	return ret;
}

static upk_status code_remove(const struct agent_config *cfg, struct upk_error *err)
{
	char *path = NULL;
	upk_status ret = path_in_data(cfg, CLAIM_CODE_FILE, &path, err);

	if (ret == UPK_OK && unlink(path) != 0 && errno != ENOENT)
		ret = upk_error_set(err, UPK_ERR_IO, "removing %s: %s", path, strerror(errno));
	/* The directory entry must be gone for good before the code counts as used. */
	if (ret == UPK_OK)
		ret = fio_fsync_parent(path, err);
	free(path);
	return ret;
}

static int code_exists(const struct agent_config *cfg)
{
	char *path = fio_path_join(cfg->data_dir, CLAIM_CODE_FILE);
	int ok = path != NULL && access(path, F_OK) == 0;

	free(path);
	return ok;
}

upk_status claim_code_read(const struct agent_config *cfg, const struct journal *j,
                           char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1], struct upk_error *err)
{
	char *path = NULL, *buf = NULL, canon[UPK_CLAIM_CODE_LEN + 1];
	size_t len = 0;
	upk_status ret;

	if (!claim_unclaimed(j))
		return upk_error_set(err, UPK_ERR_NOT_FOUND,
		                     "no claim code: the device is not waiting for a claim (a factory "
		                     "reset makes one)");
	ret = path_in_data(cfg, CLAIM_CODE_FILE, &path, err);
	if (ret == UPK_OK)
		ret = fio_read_file(path, 64, &buf, &len, err);
	if (ret == UPK_OK) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = upk_claim_code_normalise(buf, canon, err);
		if (ret != UPK_OK)
			upk_error_prefix(err, ret, "%s: ", path);
	}
	if (ret == UPK_OK)
		upk_claim_code_format(canon, code);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	OPENSSL_cleanse(canon, sizeof(canon));
	free(buf);
	free(path);
	return ret;
}

static upk_status forget_metadata(const struct agent_config *cfg, struct upk_error *err)
{
	char *dir = NULL;
	upk_status ret = path_in_data(cfg, "metadata", &dir, err);

	if (ret == UPK_OK)
		ret = fio_rmtree(dir, err);
	if (ret == UPK_OK)
		ret = fio_fsync_parent(dir, err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "forgetting the trusted metadata: ");
	free(dir);
	return ret;
}

/* Append an event for the next check-in (delivered by the events code), oldest dropped first. */
/* Every step from the committed intent on: each is safe to redo after a crash. */
static upk_status reset_finish(const struct agent_config *cfg, struct journal *j,
                               struct upk_error *err)
{
	static const char *const forget[] = {"enrolment", "config", "outbox", "refused", "failed",
	                                     "reset"};
	char at[32];
	upk_status ret = private_data_wipe(cfg, err);

	if (ret == UPK_OK)
		ret = forget_metadata(cfg, err);
	/* A code written before a crash was perhaps shown already: keep it. */
	if (ret == UPK_OK && !code_exists(cfg))
		ret = code_write(cfg, err);
	if (ret != UPK_OK)
		return ret;
	now_text(at);
	for (size_t i = 0; i < sizeof(forget) / sizeof(forget[0]); i++)
		journal_del(j, forget[i]);
	ret = journal_set(j, "claim", json_pack("{s:s, s:s}", "status", "unclaimed", "since", at),
	                  err);
	if (ret == UPK_OK)
		ret = events_append_wipe(j, "factory-reset", NULL, err);
	/* One commit: claim, event and the forgotten keys appear together. */
	if (ret == UPK_OK)
		ret = journal_commit(j, err);
	return ret;
}

upk_status factory_reset(const struct agent_config *cfg, struct journal *j,
                         char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1], struct upk_error *err)
{
	char at[32];
	upk_status ret = factory_reset_allowed(j, err);

	if (ret != UPK_OK)
		return ret;
	now_text(at);
	/* The point of no return: from this commit on, the next start finishes the reset. */
	ret = journal_set(j, "reset", json_pack("{s:s}", "started", at), err);
	if (ret == UPK_OK)
		ret = journal_commit(j, err);
	/* A new reset gets a new code: the one shown before must stop working. */
	if (ret == UPK_OK)
		ret = code_remove(cfg, err);
	if (ret == UPK_OK)
		ret = reset_finish(cfg, j, err);
	if (ret == UPK_OK)
		ret = claim_code_read(cfg, j, code, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "factory reset (finished at the next start): ");
	return UPK_OK;
}

upk_status claim_recover(const struct agent_config *cfg, struct journal *j,
                         struct upk_error *err)
{
	const char *s = claim_status(j);
	upk_status ret = UPK_OK;

	if (journal_get(j, "reset") != NULL)
		ret = reset_finish(cfg, j, err);
	else if (s != NULL && strcmp(s, "claimed") == 0 && code_exists(cfg))
		ret = code_remove(cfg, err); /* the claim was committed; the code is spent */
	else if (s != NULL && strcmp(s, "unclaimed") == 0 && !code_exists(cfg))
		ret = code_write(cfg, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "finishing an interrupted reset or claim: ");
	return UPK_OK;
}

/* ---- the claim ---- */

/* Trust root_text as the first root of DATA_DIR/metadata/sub (checked: its own threshold). */
static upk_status trust_root(const struct agent_config *cfg, const char *sub, const char *text,
                             struct upk_error *err)
{
	char *base = fio_path_join(cfg->data_dir, "metadata");
	char *dir = base != NULL ? fio_path_join(base, sub) : NULL;
	upk_status ret = dir == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory") : UPK_OK;

	if (ret == UPK_OK)
		ret = fio_mkdir_p(dir, 0700, err);
	if (ret == UPK_OK)
		ret = upk_client_bootstrap(dir, text, strlen(text), err);
	if (ret != UPK_OK)
		upk_error_prefix(err, ret, "%s root: ", sub);
	free(dir);
	free(base);
	return ret;
}

/* Check one claim and, when it holds, trust its roots. UPK_ERR_SIGNATURE etc.: refused. */
static upk_status claim_take(const struct agent_config *cfg, const char *device,
                             const char *code, const json_t *c, struct upk_error *err)
{
	const char *fleet = jstr(c, "fleet"), *url = jstr(c, "fleet_url");
	const char *ir = jstr(c, "image_root"), *dr = jstr(c, "director_root");
	char want[128];
	upk_status ret;

	if (fleet == NULL || url == NULL || ir == NULL || dr == NULL || jstr(c, "mac") == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "malformed claim");
	snprintf(want, sizeof(want), "/v1/fleets/%s", fleet);
	if (strcmp(url, want) != 0)
		return upk_error_set(err, UPK_ERR_INVALID, "fleet_url \"%.80s\" is not %s", url,
		                     want);
	/* The MAC first: nothing of a claim is looked at further unless the owner knew the code. */
	ret = upk_claim_verify(code, device, fleet, ir, strlen(ir), dr, strlen(dr), jstr(c, "mac"),
	                       err);
	if (ret != UPK_OK)
		return ret;
	/* Trust starts from nothing: whatever an earlier attempt left is dropped. */
	ret = forget_metadata(cfg, err);
	if (ret == UPK_OK)
		ret = trust_root(cfg, "image", ir, err);
	if (ret == UPK_OK)
		ret = trust_root(cfg, "director", dr, err);
	if (ret != UPK_OK) {
		struct upk_error ignored = {0};

		(void)forget_metadata(cfg, &ignored); /* half a trust is no trust */
	}
	return ret;
}

static upk_status note_refusal(struct journal *j, const char *fleet, const char *why,
                               struct upk_error *err)
{
	json_t *c = json_deep_copy(journal_get(j, "claim"));
	char at[32];

	now_text(at);
	if (c == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	json_object_set_new(c, "refused",
	                    json_pack("{s:s, s:s, s:s}", "fleet", fleet, "reason", why, "at", at));
	return journal_set(j, "claim", c, err);
}

upk_status claim_poll(const struct agent_config *cfg, struct journal *j,
                      const struct identity *id, struct server_link *link, int *claimed,
                      struct upk_error *err)
{
	char code[UPK_CLAIM_CODE_DISPLAY_LEN + 1], at[32];
	json_t *body = NULL, *pub = NULL, *resp = NULL, *c;
	long status = 0;
	size_t i;
	int refused = 0;
	upk_status ret;

	*claimed = 0;
	ret = claim_code_read(cfg, j, code, err);
	if (ret == UPK_OK)
		ret = upk_key_to_tuf(id->key, &pub, err);
	if (ret != UPK_OK)
		goto out;
	body = json_pack("{s:o}", "public_key", pub);
	ret = body == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
	                   : server_link_call(link, "POST", "/v1/claim", body, &status, &resp, err);
	if (ret == UPK_OK && status != 200)
		ret = upk_error_set(err, UPK_ERR_IO, "asking for claims: HTTP %ld %s", status,
		                    jstr(resp, "message") ? jstr(resp, "message") : "");
	if (ret != UPK_OK)
		goto out;
	json_array_foreach(json_object_get(resp, "claims"), i, c)
	{
		struct upk_error cerr = {0};
		const char *fleet = jstr(c, "fleet") ? jstr(c, "fleet") : "?";

		if (i >= CLAIMS_MAX)
			break;
		if (claim_take(cfg, id->id, code, c, &cerr) != UPK_OK) {
			fprintf(stderr, "upkeepd: claim by fleet %.80s refused: %s\n", fleet,
			        cerr.msg);
			ret = note_refusal(j, fleet, cerr.msg, err);
			refused = 1;
			if (ret != UPK_OK)
				goto out;
			continue;
		}
		{
			char *url = server_link_url(link, jstr(c, "fleet_url"));

			now_text(at);
			ret = url == NULL ? upk_error_set(err, UPK_ERR_NOMEM, "out of memory")
			                  : journal_set(j, "server", json_string(url), err);
			if (ret == UPK_OK)
				ret = journal_set(j, "claim",
				                  json_pack("{s:s, s:s, s:s}", "status", "claimed",
				                            "fleet", fleet, "at", at),
				                  err);
			/* Committed first, then the code goes: a crash in between keeps the claim. */
			if (ret == UPK_OK)
				ret = journal_commit(j, err);
			if (ret == UPK_OK)
				ret = code_remove(cfg, err);
			if (ret == UPK_OK) {
				fprintf(stderr, "upkeepd: claimed by fleet %s (%s)\n", fleet, url);
				*claimed = 1;
			}
			free(url);
			goto out;
		}
	}
	if (refused)
		ret = journal_commit(j, err);
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(body);
	json_decref(resp);
	return ret;
}
