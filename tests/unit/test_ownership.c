/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of ownership on loopback: transfer roots made with
 * libupkeep (signed by the seller's and the buyer's root keys) in an image
 * and a director repository; a listed device follows and wipes its private
 * data before the buyer's first update, an unlisted one refuses and keeps
 * everything; a crash between record and wipe is finished on restart; the
 * daemon follows "transferred"/moved_to only to a fleet that verifies;
 * config targets are parsed strictly and recorded in one commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_target.h"
#include "daemon.h"
#include "events.h"
#include "identity.h"
#include "journal.h"
#include "ownership.h"
#include "private_data.h"
#include "testutil.h"
#include "tu_agent.h"
#include "tu_httpd.h"
#include "tu_repo.h"
#include "tu_update.h"
#include "update.h"
#include "upkeep/client.h"
#include "upkeep/fetch_curl.h"
#include "upkeep/target_info.h"

#define TRANSFER_ID "9f1c0d2e4b6a8c0e9f1c0d2e4b6a8c0e"
#define OTHER_DEVICE "00000000000000000000000000000000000000000000000000000000000000aa"
#define OTHER_DEVICE2 "00000000000000000000000000000000000000000000000000000000000000bb"

static char *dir;
static struct tu_repo *image, *director;
static struct tu_httpd *httpd;
static struct agent_config *cfg;
static struct identity *ident;
static struct upk_fetcher *fetcher;
static char url_im[256], url_dm[256], url_tg[256];

static void write_config(const char *server)
{
	char text[8192], line[600] = "";
	struct upk_error err = {0};

	agent_config_free(cfg);
	cfg = NULL;
	if (server != NULL)
		snprintf(line, sizeof(line), "server = %s\npoll_interval = 1h\n", server);
	snprintf(text, sizeof(text),
	         "[agent]\ndata_dir = %s/data\nhardware_id = hw-1\ncmdline = %s/cmdline\n%s"
	         "[trust]\nimage_root = %s/srv/image/metadata/1.root.json\n"
	         "director_root = %s/srv/director/metadata/1.root.json\n"
	         "[module.echo]\nhandler = %s/handler.sh\n"
	         "[bootloader]\ntype = grub\ngrubenv = %s/grubenv\n",
	         dir, dir, line, dir, dir, dir, dir);
	tu_write_file(tu_path(dir, "agent.conf"), text, strlen(text));
	if (agent_config_load(tu_path(dir, "agent.conf"), &cfg, &err) != UPK_OK)
		fail_msg("config: %s", err.msg);
}

static int setup(void **state)
{
	struct upk_error err = {0};
	char srv[4200], p[4400], handler[1024];

	(void)state;
	dir = tu_mkdtemp();
	snprintf(srv, sizeof(srv), "%s/srv", dir);
	snprintf(p, sizeof(p), "%s/image", srv);
	if (tu_repo_new(p, 1, &image, &err) != UPK_OK)
		fail_msg("image repo: %s", err.msg);
	snprintf(p, sizeof(p), "%s/director", srv);
	if (tu_repo_new(p, 1, &director, &err) != UPK_OK)
		fail_msg("director repo: %s", err.msg);
	httpd = tu_httpd_start(srv);
	assert_non_null(httpd);
	snprintf(url_im, sizeof(url_im), "%s/image/metadata/", tu_httpd_url(httpd));
	snprintf(url_dm, sizeof(url_dm), "%s/director/metadata/", tu_httpd_url(httpd));
	snprintf(url_tg, sizeof(url_tg), "%s/image/targets/", tu_httpd_url(httpd));
	tu_write_file(tu_path(dir, "cmdline"), "console=ttyS0\n", 14);
	if (tu_system("grub-editenv %s/grubenv create", dir) != 0)
		fail_msg("grub-editenv missing?");
	/* The module notes whether the seller's private data was still there at install time. */
	snprintf(handler, sizeof(handler),
	         "#!/bin/sh\n"
	         "case \"$1\" in\n"
	         "download) cat > \"$UPKEEP_WORKDIR/payload\" ;;\n"
	         "install) if [ -e %s/data/private/secret ]; then echo present; else echo absent; "
	         "fi > %s/private-at-install ;;\n"
	         "esac\n",
	         dir, dir);
	tu_write_file(tu_path(dir, "handler.sh"), handler, strlen(handler));
	chmod(tu_path(dir, "handler.sh"), 0755);
	write_config(NULL);
	if (identity_load_or_create(tu_path(dir, "data/device.key"), &ident, &err) != UPK_OK)
		fail_msg("identity: %s", err.msg);
	if (upk_fetcher_curl_new(NULL, &fetcher, &err) != UPK_OK)
		fail_msg("fetcher: %s", err.msg);
	if (private_data_ensure(cfg, &err) != UPK_OK)
		fail_msg("private: %s", err.msg);
	tu_write_file(tu_path(dir, "data/private/secret"), "seller's secret", 15);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	upk_fetcher_curl_free(fetcher);
	identity_free(ident);
	agent_config_free(cfg);
	cfg = NULL;
	tu_httpd_stop(httpd);
	tu_repo_free(image);
	tu_repo_free(director);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* ---- repositories ---- */

/* A target of the image repository with custom.upkeep, assigned by the director. */
static void publish(const char *path, const char *data, const char *type, const char *version)
{
	tu_publish_target(image, director, path, data, strlen(data), type, version, 0, "hw-1",
	                  NULL);
}

static struct upk_key *key_copy(const struct upk_key *k)
{
	struct upk_error err = {0};
	struct upk_key *out = NULL;
	char *pem = NULL;
	size_t len = 0;

	assert_int_equal(upk_key_private_pem(k, NULL, &pem, &len, &err), UPK_OK);
	assert_int_equal(upk_key_from_pem(pem, len, NULL, &out, &err), UPK_OK);
	free(pem);
	return out;
}

/*
 * Sell through repository r: root N+1 carries the transfer record (devices,
 * sorted) and names a new root key (the buyer's), signed by the old and the
 * new root keys; root N+2 (buyer-signed) names the buyer's targets key.
 * Returns the version of the transfer root; *seller_targets (may be NULL)
 * gets a copy of the seller's targets key.
 */
static int64_t sell(struct tu_repo *r, const char *const *devices, size_t n,
                    struct upk_key **seller_targets)
{
	struct upk_error err = {0};
	struct tu_role *root = tu_repo_role(r, "root");
	json_t *sig = (json_t *)upk_metadata_signed(root->md), *list = json_array();
	int64_t v;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(devices[i]));
	json_object_set_new(sig, "upkeep_transfer",
	                    json_pack("{s:s,s:s,s:s,s:o}", "id", TRANSFER_ID, "from_fleet", "acme",
	                              "to_fleet", "bob-home", "devices", list));
	if (tu_repo_rotate(r, "root", 1, 1, &err) != UPK_OK)
		fail_msg("transfer root: %s", err.msg);
	v = upk_metadata_version(root->md);
	/* Later roots are ordinary ones of the buyer's chain. */
	json_object_del(sig, "upkeep_transfer");
	if (seller_targets != NULL)
		*seller_targets = key_copy(tu_repo_role(r, "targets")->keys[0]);
	if (tu_repo_rotate(r, "targets", 1, 1, &err) != UPK_OK)
		fail_msg("buyer targets: %s", err.msg);
	tu_repo_role(r, "targets")->dirty = 1;
	if (tu_repo_publish(r, &err) != UPK_OK)
		fail_msg("publish: %s", err.msg);
	return v;
}

/* Sell both repositories listing devices; the image transfer root's version. */
static int64_t sell_both(const char *const *devices, size_t n, struct upk_key **seller_targets)
{
	sell(director, devices, n, NULL);
	return sell(image, devices, n, seller_targets);
}

/* ---- the agent ---- */

static upk_status check_status(const char *im, enum update_outcome *o, struct upk_error *err)
{
	struct update_source src = {.image_metadata_url = im,
	                            .director_metadata_url = url_dm,
	                            .targets_url = url_tg,
	                            .fetcher = fetcher};
	struct tu_run r;
	upk_status ret;

	tu_run_open(&r, cfg, tu_path(dir, "data/state.json"), ident->id);
	ret = update_check(&r.uc, &src, o, err);
	tu_run_close(&r);
	return ret;
}

static enum update_outcome check(void)
{
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;

	if (check_status(url_im, &o, &err) != UPK_OK)
		fail_msg("check: %s", err.msg);
	return o;
}

static json_t *state_get(const char *key)
{
	return tu_state_get(tu_path(dir, "data/state.json"), key);
}

static int64_t trusted_root(const char *repo)
{
	struct upk_error err = {0};
	int64_t v = 0;

	assert_int_equal(ownership_trusted_root_version(cfg, repo, &v, &err), UPK_OK);
	return v;
}

static void assert_wiped_for_transfer(int64_t since_root)
{
	json_t *owner = state_get("owner"), *events = state_get("events");
	json_t *ev = json_array_get(events, json_array_size(events) - 1);

	assert_int_equal(access(tu_path(dir, "data/private/secret"), F_OK), -1);
	assert_int_equal(access(tu_path(dir, "data/private"), F_OK), 0);
	assert_non_null(owner);
	assert_string_equal(json_string_value(json_object_get(owner, "transfer")), TRANSFER_ID);
	assert_int_equal(json_integer_value(json_object_get(owner, "since_root")), since_root);
	assert_non_null(json_string_value(json_object_get(owner, "wiped_at")));
	assert_int_equal(json_array_size(events), 1);
	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "private-data-wiped");
	assert_string_equal(json_string_value(json_object_get(ev, "reason")), "transfer");
	assert_string_equal(json_string_value(json_object_get(ev, "transfer")), TRANSFER_ID);
	assert_null(state_get("transfer_pending"));
	json_decref(owner);
	json_decref(events);
}

/* ---- tests ---- */

static void test_transfer_record_is_strict(void **state)
{
	static const char *const BAD[] = {
	    "[]",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[\"" OTHER_DEVICE "\"],\"x\":1}",
	    "{\"id\":\"9F1C0D2E4B6A8C0E9F1C0D2E4B6A8C0E\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[\"" OTHER_DEVICE "\"]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"A\",\"to_fleet\":\"b\",\"devices\":[\"" OTHER_DEVICE "\"]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[\"abc\"]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[\"" OTHER_DEVICE "\",\"" OTHER_DEVICE "\"]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\",\"devices\":[\"ff" OTHER_DEVICE "\"]}",
	    "{\"id\":\"" TRANSFER_ID "\",\"to_fleet\":\"b\",\"devices\":[\"" OTHER_DEVICE "\"]}",
	};
	const char *sorted_wrong = "{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"a\",\"to_fleet\":\"b\","
	                           "\"devices\":[\"" OTHER_DEVICE2 "\",\"" OTHER_DEVICE "\"]}";
	struct upk_transfer_record tr;
	struct upk_error err = {0};
	json_t *s;

	(void)state;
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		s = json_pack("{s:o}", "upkeep_transfer", json_loads(BAD[i], 0, NULL));
		if (s == NULL)
			fail_msg("test input %zu is not JSON", i);
		if (upk_transfer_record_parse(s, &tr, &err) != UPK_ERR_INVALID)
			fail_msg("accepted %s", BAD[i]);
		json_decref(s);
	}
	/* Valid ids, but not sorted. */
	s = json_pack("{s:o}", "upkeep_transfer", json_loads(sorted_wrong, 0, NULL));
	assert_int_equal(upk_transfer_record_parse(s, &tr, &err), UPK_ERR_INVALID);
	json_decref(s);
	s = json_pack("{s:i}", "version", 1);
	assert_int_equal(upk_transfer_record_parse(s, &tr, &err), UPK_ERR_NOT_FOUND);
	json_decref(s);
	s = json_loads("{\"upkeep_transfer\":{\"id\":\"" TRANSFER_ID "\",\"from_fleet\":\"acme\","
	               "\"to_fleet\":\"bob-home\",\"devices\":[\"" OTHER_DEVICE "\"]}}",
	               0, NULL);
	assert_int_equal(upk_transfer_record_parse(s, &tr, &err), UPK_OK);
	assert_string_equal(tr.to_fleet, "bob-home");
	assert_true(upk_transfer_record_lists(&tr, OTHER_DEVICE));
	assert_false(upk_transfer_record_lists(&tr, ident->id));
	upk_transfer_record_clear(&tr);
	json_decref(s);
}

static void test_listed_device_follows_wipes_then_installs(void **state)
{
	const char *devs[2];
	struct upk_key *seller = NULL;
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	int64_t v;
	char *at_install;

	(void)state;
	assert_int_equal(check(), UPDATE_IDLE);
	/* Sorted: the other device's id starts with zeros. */
	devs[0] = OTHER_DEVICE;
	devs[1] = ident->id;
	v = sell_both(devs, 2, &seller);
	/* The buyer's first update, published with the sale. */
	publish("modules/echo/app-2.bin", "buyer's app", "module", "2.0");
	assert_int_equal(check(), UPDATE_DONE);
	assert_int_equal(trusted_root("image"), v + 1);
	assert_wiped_for_transfer(v);
	/* The wipe came before the new owner's first install. */
	at_install = tu_read_file(tu_path(dir, "private-at-install"), NULL);
	assert_non_null(at_install);
	assert_string_equal(at_install, "absent\n");
	free(at_install);
	/* Nothing more to do: no second wipe, no second event. */
	tu_write_file(tu_path(dir, "data/private/buyer-data"), "mine", 4);
	assert_int_equal(check(), UPDATE_IDLE);
	assert_int_equal(access(tu_path(dir, "data/private/buyer-data"), F_OK), 0);
	assert_wiped_for_transfer(v);
	/* The seller signs a release with its old targets key: refused, nothing installed. */
	upk_key_free(tu_repo_role(image, "targets")->keys[0]);
	tu_repo_role(image, "targets")->keys[0] = seller;
	publish("modules/echo/app-3.bin", "seller's app", "module", "3.0");
	assert_int_equal(check_status(url_im, &o, &err), UPK_ERR_SIGNATURE);
	assert_non_null(strstr(err.msg, "image repository"));
	{
		json_t *inst = state_get("installed");

		assert_string_equal(json_string_value(json_object_get(inst, "echo")), "2.0");
		json_decref(inst);
	}
}

static void test_unlisted_device_refuses_and_keeps_everything(void **state)
{
	const char *devs[1] = {OTHER_DEVICE};
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	char *before, *after;
	size_t bl = 0, al = 0;

	(void)state;
	assert_int_equal(check(), UPDATE_IDLE);
	before = tu_read_file(tu_path(dir, "data/metadata/image/root.json"), &bl);
	sell(image, devs, 1, NULL);
	publish("modules/echo/app-2.bin", "buyer's app", "module", "2.0");
	assert_int_equal(check_status(url_im, &o, &err), UPK_ERR_INVALID);
	if (strstr(err.msg, "root v2 transfers other devices") == NULL)
		fail_msg("message: %s", err.msg);
	after = tu_read_file(tu_path(dir, "data/metadata/image/root.json"), &al);
	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(bl, al);
	assert_memory_equal(before, after, bl);
	assert_int_equal(access(tu_path(dir, "data/private/secret"), F_OK), 0);
	assert_null(state_get("transfer_pending"));
	assert_null(state_get("owner"));
	assert_null(state_get("events"));
	assert_int_equal(access(tu_path(dir, "private-at-install"), F_OK), -1);
	free(before);
	free(after);
}

static void test_crash_between_record_and_wipe(void **state)
{
	const char *devs[1] = {NULL};
	struct ownership_check oc;
	struct upk_client_config cc;
	struct upk_client *c = NULL;
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	struct journal *j = NULL;
	json_t *p;
	int64_t v;

	(void)state;
	assert_int_equal(check(), UPDATE_IDLE);
	devs[0] = ident->id;
	v = sell_both(devs, 1, NULL);
	/*
	 * Step 1 alone, as update_check() does it: walk the image chain with
	 * the agent's root check. The device then "crashes": no wipe yet.
	 */
	assert_int_equal(journal_open(tu_path(dir, "data/state.json"), &j, &err), UPK_OK);
	oc.journal = j;
	oc.device_id = ident->id;
	oc.repo = "image";
	memset(&cc, 0, sizeof(cc));
	cc.metadata_dir = tu_path(dir, "data/metadata/image");
	cc.metadata_url = url_im;
	cc.target_url = url_tg;
	cc.fetcher = fetcher;
	cc.root_check = ownership_root_check;
	cc.root_check_ctx = &oc;
	assert_int_equal(upk_client_new(&cc, &c, &err), UPK_OK);
	assert_int_equal(upk_client_refresh(c, &err), UPK_OK);
	upk_client_free(c);
	journal_free(j);
	p = state_get("transfer_pending");
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "id")), TRANSFER_ID);
	assert_int_equal(json_integer_value(json_object_get(p, "image_version")), v);
	json_decref(p);
	assert_int_equal(trusted_root("image"), v + 1);
	assert_int_equal(access(tu_path(dir, "data/private/secret"), F_OK), 0);
	/* A wipe cut short too: the directory was renamed aside and not yet removed. */
	assert_int_equal(rename(tu_path(dir, "data/private"), tu_path(dir, "data/private.wiping")),
	                 0);
	/* Restart with the network down: the check fails, but the wipe is finished first. */
	assert_int_not_equal(check_status("http://127.0.0.1:9/none/", &o, &err), UPK_OK);
	assert_wiped_for_transfer(v);
	assert_int_equal(access(tu_path(dir, "data/private.wiping"), F_OK), -1);
	/* And the next normal check changes nothing more. */
	assert_int_equal(check(), UPDATE_IDLE);
	assert_wiped_for_transfer(v);
}

/* ---- config targets ---- */

static void test_config_payload_is_strict(void **state)
{
	static const char *const BAD[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"upkeep_config\":2}",
	    "{\"upkeep_config\":1,\"sever\":\"http://a/v1/fleets/b\"}",
	    "{\"upkeep_config\":1,\"server\":\"ftp://a/v1/fleets/b\"}",
	    "{\"upkeep_config\":1,\"server\":\"http:///v1/fleets/b\"}",
	    "{\"upkeep_config\":1,\"server\":\"http://a/v1/fleets/B\"}",
	    "{\"upkeep_config\":1,\"server\":\"http://a/v1/fleets/b?x=1\"}",
	    "{\"upkeep_config\":1,\"server\":\"http://a b/v1/fleets/b\"}",
	    "{\"upkeep_config\":1,\"server\":\"http://a/fleets/b\"}",
	    "{\"upkeep_config\":1,\"factory_reset\":\"maybe\"}",
	    "{\"upkeep_config\":1,\"factory_reset\":true}",
	    "{\"upkeep_config\":1,\"poll_interval\":\"29s\"}",
	    "{\"upkeep_config\":1,\"poll_interval\":\"8d\"}",
	    "{\"upkeep_config\":1,\"poll_interval\":60}",
	    "{\"upkeep_config\":1,\"poll_interval\":\"1w\"}",
	    "{\"upkeep_config\":1,\"upkeep_config\":1}",
	};
	struct config_payload p;
	struct upk_error err = {0};
	const char *good = "{\"upkeep_config\":1,\"server\":\"https://n.example:8443/v1/fleets/bob-home\","
	                   "\"factory_reset\":\"deny\",\"poll_interval\":\"5m\"}";
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
		if (config_payload_parse(BAD[i], strlen(BAD[i]), &p, &err) == UPK_OK)
			fail_msg("accepted %s", BAD[i]);
	assert_int_equal(config_payload_parse(BAD[4], strlen(BAD[4]), &p, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "unknown member \"sever\""));
	assert_int_equal(config_payload_parse(good, strlen(good), &p, &err), UPK_OK);
	assert_string_equal(p.server, "https://n.example:8443/v1/fleets/bob-home");
	assert_int_equal(p.factory_reset_allow, 0);
	assert_int_equal(p.poll_interval_s, 300);
	assert_int_equal(config_payload_parse("{\"upkeep_config\":1}", 19, &p, &err), UPK_OK);
	assert_int_equal(p.factory_reset_allow, 1);
	assert_string_equal(p.server, "");
	big = calloc(1, CONFIG_TARGET_MAX_BYTES + 2);
	memset(big, ' ', CONFIG_TARGET_MAX_BYTES + 1);
	assert_int_equal(config_payload_parse(big, CONFIG_TARGET_MAX_BYTES + 1, &p, &err),
	                 UPK_ERR_TOO_LARGE);
	free(big);
}

static void test_config_target_policy(void **state)
{
	json_t *c, *last;

	(void)state;
	publish("config/policy-1.json",
	        "{\"upkeep_config\":1,\"factory_reset\":\"deny\",\"poll_interval\":\"1h\"}", "config",
	        "1");
	assert_int_equal(check(), UPDATE_DONE);
	c = state_get("config");
	assert_string_equal(json_string_value(json_object_get(c, "factory_reset")), "deny");
	assert_int_equal(json_integer_value(json_object_get(c, "poll_interval")), 3600);
	assert_string_equal(json_string_value(json_object_get(c, "target")), "config/policy-1.json");
	assert_int_equal(strlen(json_string_value(json_object_get(c, "sha256"))), 64);
	json_decref(c);
	assert_null(state_get("server"));
	/* Allowed again by the next version; the director now assigns only that one. */
	{
		struct upk_error err = {0};

		assert_int_equal(upk_targets_remove(tu_repo_role(director, "targets")->md,
		                                    "config/policy-1.json", &err),
		                 UPK_OK);
	}
	publish("config/policy-2.json", "{\"upkeep_config\":1,\"factory_reset\":\"allow\"}",
	        "config", "2");
	assert_int_equal(check(), UPDATE_DONE);
	c = state_get("config");
	assert_string_equal(json_string_value(json_object_get(c, "factory_reset")), "allow");
	assert_null(json_object_get(c, "poll_interval"));
	json_decref(c);
	c = state_get("installed");
	assert_string_equal(json_string_value(json_object_get(c, "config")), "2");
	json_decref(c);
	/* A member this agent does not know: failed, reported, nothing changed. */
	{
		struct upk_error err = {0};

		assert_int_equal(upk_targets_remove(tu_repo_role(director, "targets")->md,
		                                    "config/policy-2.json", &err),
		                 UPK_OK);
	}
	publish("config/policy-3.json", "{\"upkeep_config\":1,\"factory_reset\":\"deny\",\"x\":1}",
	        "config", "3");
	assert_int_equal(check(), UPDATE_FAILED);
	last = state_get("last");
	assert_non_null(strstr(json_string_value(json_object_get(last, "reason")),
	                       "unknown member \"x\""));
	json_decref(last);
	c = state_get("config");
	assert_string_equal(json_string_value(json_object_get(c, "factory_reset")), "allow");
	json_decref(c);
	c = state_get("installed");
	assert_string_equal(json_string_value(json_object_get(c, "config")), "2");
	json_decref(c);
	/* Not retried in a loop. */
	assert_int_equal(check(), UPDATE_IDLE);
}

/* A probe that says what the test wants, recording what it was asked. */
static char probed[600];
static upk_status fake_probe(void *ctx, const char *url, struct upk_error *err)
{
	snprintf(probed, sizeof(probed), "%s", url);
	if (ctx != NULL)
		return upk_error_set(err, UPK_ERR_IO, "connection refused");
	return UPK_OK;
}

static enum update_outcome check_probe(int fail)
{
	struct update_source src = {.image_metadata_url = url_im,
	                            .director_metadata_url = url_dm,
	                            .targets_url = url_tg,
	                            .fetcher = fetcher};
	struct upk_error err = {0};
	enum update_outcome o = UPDATE_IDLE;
	struct tu_run r;

	tu_run_open(&r, cfg, tu_path(dir, "data/state.json"), ident->id);
	r.uc.server_url = "http://127.0.0.1:1/v1/fleets/acme";
	r.uc.probe_server = fake_probe;
	r.uc.probe_ctx = fail ? (void *)1 : NULL;
	if (update_check(&r.uc, &src, &o, &err) != UPK_OK)
		fail_msg("check: %s", err.msg);
	tu_run_close(&r);
	return o;
}

static void test_config_server_needs_probe(void **state)
{
	struct upk_error err = {0};
	json_t *v, *box, *e;
	size_t i;
	int found = 0;

	(void)state;
	write_config("http://127.0.0.1:1/v1/fleets/acme");
	publish("config/move.json",
	        "{\"upkeep_config\":1,\"server\":\"http://127.0.0.1:2/v1/fleets/bob\"}", "config",
	        "1");
	assert_int_equal(check_probe(1), UPDATE_FAILED);
	assert_string_equal(probed, "http://127.0.0.1:2/v1/fleets/bob");
	assert_null(state_get("server"));
	assert_null(state_get("config"));
	v = state_get("last");
	assert_non_null(strstr(json_string_value(json_object_get(v, "reason")),
	                       "probing server http://127.0.0.1:2/v1/fleets/bob: connection "
	                       "refused"));
	json_decref(v);
	/* The same content again under a new name, and the probe works: moved. */
	assert_int_equal(
	    upk_targets_remove(tu_repo_role(director, "targets")->md, "config/move.json", &err),
	    UPK_OK);
	publish("config/move-2.json",
	        "{\"upkeep_config\":1,\"server\":\"http://127.0.0.1:2/v1/fleets/bob\"}", "config",
	        "2");
	assert_int_equal(check_probe(0), UPDATE_DONE);
	v = state_get("server");
	assert_string_equal(json_string_value(v), "http://127.0.0.1:2/v1/fleets/bob");
	json_decref(v);
	/* The success report goes to the server that assigned it, not the new one. */
	box = state_get("outbox");
	json_array_foreach(box, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "target")), "config/move-2.json") ==
		        0 &&
		    strcmp(json_string_value(json_object_get(e, "state")), "success") == 0) {
			assert_string_equal(json_string_value(json_object_get(e, "server")),
			                    "http://127.0.0.1:1/v1/fleets/acme");
			found = 1;
		}
	}
	assert_true(found);
	json_decref(box);
}

/* ---- following a move ---- */

static void canned(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void canned(const char *path, const char *fmt, ...)
{
	char body[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	tu_httpd_set(httpd, path, TU_HTTPD_CONTENT, body, strlen(body));
}

#define ACCEPTED                                                                                   \
	"{\"status\":\"accepted\",\"deployments\":[],\"urls\":{\"image_metadata\":"                \
	"\"/image/metadata/\",\"director_metadata\":\"/director/metadata/\","                      \
	"\"image_targets\":\"/image/targets/\"}}"

static upk_status cycle(struct upk_error *err)
{
	struct daemon_opts opts = {.no_reboot = 1};
	enum update_outcome o = UPDATE_IDLE;

	return daemon_run(cfg, &opts, &o, err);
}

static void test_daemon_follows_a_move(void **state)
{
	const char *devs[1] = {NULL};
	char old_url[300], new_url[300];
	struct upk_error err = {0};
	json_t *v;
	int64_t tv, dv;

	(void)state;
	snprintf(old_url, sizeof(old_url), "%s/v1/fleets/acme", tu_httpd_url(httpd));
	snprintf(new_url, sizeof(new_url), "%s/v1/fleets/bob-home", tu_httpd_url(httpd));
	write_config(old_url);
	canned("/v1/fleets/acme/enrol", ACCEPTED);
	canned("/v1/fleets/acme/checkin", ACCEPTED);
	if (cycle(&err) != UPK_OK)
		fail_msg("cycle: %s", err.msg);
	/* Sold: the old fleet answers "transferred". A moved_to that is not a fleet path is refused. */
	canned("/v1/fleets/acme/checkin",
	       "{\"status\":\"transferred\",\"moved_to\":\"http://evil.example/v1/fleets/x\"}");
	assert_int_equal(cycle(&err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "without a valid moved_to"));
	assert_null(state_get("server"));
	/* The new fleet serves a chain that does not list this device: stay. */
	canned("/v1/fleets/acme/checkin",
	       "{\"status\":\"transferred\",\"moved_to\":\"/v1/fleets/bob-home\"}");
	canned("/v1/fleets/bob-home/checkin", ACCEPTED);
	devs[0] = OTHER_DEVICE;
	tv = sell(image, devs, 1, NULL);
	assert_int_not_equal(cycle(&err), UPK_OK);
	if (strstr(err.msg, "following the move to") == NULL ||
	    strstr(err.msg, "transfers other devices") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(state_get("server"));
	assert_int_equal(access(tu_path(dir, "data/private/secret"), F_OK), 0);
	assert_int_equal(trusted_root("image"), tv - 1);
	/* Now a sale that lists it (a fresh image repository chain for this device). */
	tu_repo_free(image);
	image = NULL;
	tu_rmtree(tu_path(dir, "srv/image"));
	{
		char p[4400];

		snprintf(p, sizeof(p), "%s/srv/image", dir);
		assert_int_equal(tu_repo_new(p, 1, &image, &err), UPK_OK);
	}
	/* The device trusts the old 1.root.json of the first repository: start it over. */
	tu_rmtree(tu_path(dir, "data/metadata"));
	write_config(old_url);
	{
		/* The factory root now is the new repository's version 1. */
		devs[0] = ident->id;
		dv = sell(director, devs, 1, NULL);
		tv = sell(image, devs, 1, NULL);
	}
	/*
	 * The new fleet's director verifies but its image repository does not
	 * (the buyer has not published yet): the device trusts neither new root,
	 * not even the director's, and owes no wipe.
	 */
	canned("/v1/fleets/bob-home/checkin",
	       "{\"status\":\"accepted\",\"deployments\":[],\"urls\":{\"image_metadata\":"
	       "\"/nowhere/\",\"director_metadata\":\"/director/metadata/\","
	       "\"image_targets\":\"/image/targets/\"}}");
	assert_int_not_equal(cycle(&err), UPK_OK);
	if (strstr(err.msg, "following the move to") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(state_get("server"));
	assert_null(state_get("transfer_pending"));
	assert_true(trusted_root("director") < dv);
	assert_true(trusted_root("image") < tv);
	assert_int_equal(access(tu_path(dir, "data/private/secret"), F_OK), 0);
	canned("/v1/fleets/bob-home/checkin", ACCEPTED);
	if (cycle(&err) != UPK_OK)
		fail_msg("cycle: %s", err.msg);
	v = state_get("server");
	assert_string_equal(json_string_value(v), new_url);
	json_decref(v);
	assert_wiped_for_transfer(tv);
	/* Next cycle: to the new fleet directly; the event is delivered and dropped. */
	canned("/v1/fleets/acme/checkin", "{\"status\":\"accepted\"}");
	tu_httpd_reset_counts(httpd);
	if (cycle(&err) != UPK_OK)
		fail_msg("cycle: %s", err.msg);
	assert_int_equal(tu_httpd_count(httpd, "/v1/fleets/acme/checkin"), 0);
	assert_int_equal(tu_httpd_count(httpd, "/v1/fleets/bob-home/checkin"), 1);
	assert_null(state_get("events"));
}

/* The real upkeepd, once, with an optional fault plan; the shell's exit status (137: killed). */
static int upkeepd_check(const char *fault, char *out, size_t cap)
{
	return tu_capture(out, cap, "UPKEEP_FAULT='%s' %s --config %s check 2>&1", fault,
	                  tu_agent_bin("upkeepd"), tu_path(dir, "agent.conf"));
}

/*
 * The real upkeepd killed (SIGKILL, like a power cut for the process) at
 * every rename and every unlink of one check that follows a transfer root:
 * at no point is the transfer root trusted without a record that the wipe
 * is owed, and the next run always ends wiped, recorded and reported once.
 */
static void test_killed_at_every_step_of_a_transfer(void **state)
{
	static const char *const OPS[] = {"rename", "unlink"};
	const char *devs[1] = {NULL};
	char url[300], out[8192], fault[64];
	unsigned crashes = 0;
	int64_t v;

	(void)state;
	snprintf(url, sizeof(url), "%s/v1/fleets/acme", tu_httpd_url(httpd));
	write_config(url);
	canned("/v1/fleets/acme/enrol", ACCEPTED);
	canned("/v1/fleets/acme/checkin", ACCEPTED);
	if (upkeepd_check("", out, sizeof(out)) != 0)
		fail_msg("first check: %s", out);
	devs[0] = ident->id;
	v = sell_both(devs, 1, NULL);
	assert_int_equal(tu_system("cp -a %s/data %s/pristine", dir, dir), 0);
	for (size_t op = 0; op < 2; op++) {
		for (unsigned k = 0;; k++) {
			json_t *pending, *owner, *events;
			int rc;

			assert_int_equal(
			    tu_system("rm -rf %s/data && cp -a %s/pristine %s/data", dir, dir, dir), 0);
			snprintf(fault, sizeof(fault), "%s:crash@%u", OPS[op], k);
			rc = upkeepd_check(fault, out, sizeof(out));
			if (rc == 0)
				break; /* past the last such step: the check ran to its end */
			if (rc != 137)
				fail_msg("%s: exit %d: %s", fault, rc, out);
			crashes++;
			/* Never a trusted transfer root without the wipe recorded as owed or done. */
			pending = state_get("transfer_pending");
			owner = state_get("owner");
			if (trusted_root("image") >= v && pending == NULL && owner == NULL)
				fail_msg("%s: transfer root trusted, no record of the wipe", fault);
			/* And never a wipe without that record (the owner's data goes only for a sale). */
			if (owner == NULL && pending == NULL &&
			    access(tu_path(dir, "data/private/secret"), F_OK) != 0)
				fail_msg("%s: data gone before the transfer was recorded", fault);
			json_decref(pending);
			json_decref(owner);
			/* Restart: finished, exactly once. */
			if (upkeepd_check("", out, sizeof(out)) != 0)
				fail_msg("after %s: %s", fault, out);
			assert_wiped_for_transfer(v);
			assert_int_equal(trusted_root("image"), v + 1);
			assert_int_equal(access(tu_path(dir, "data/private.wiping"), F_OK), -1);
			events = state_get("events");
			assert_int_equal(json_array_size(events), 1);
			json_decref(events);
		}
	}
	print_message("killed at %u points\n", crashes);
	/* The journal commits and the wipe itself were among the points. */
	if (crashes < 4)
		fail_msg("only %u crash points", crashes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_transfer_record_is_strict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listed_device_follows_wipes_then_installs, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unlisted_device_refuses_and_keeps_everything,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_between_record_and_wipe, setup, teardown),
	    cmocka_unit_test(test_config_payload_is_strict),
	    cmocka_unit_test_setup_teardown(test_config_target_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_server_needs_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_daemon_follows_a_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_at_every_step_of_a_transfer, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
