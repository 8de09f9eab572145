/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's claim endpoints with the real upkeep-server on 127.0.0.1:
 * the request parsers (strict members, sizes, formats); POST
 * /v1/fleets/F/claims accepting only root texts the fleet serves byte for
 * byte, operator only, replacing a device's claim, pre-authorising (or
 * accepting) the device, audited, capped per fleet; POST /v1/claim answering
 * a device with its own claims only, signed by the key its body names; the
 * claim consumed by the device's enrolment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claim_parse.h"
#include "tu_agent.h"
#include "tu_fleet.h"
#include "upkeep/crypto.h"

static const struct tf_target TARGETS[] = {
    {"images/fw-1.0.img", "1.0", 1, NULL},
};

static char *tmp;
static struct upk_key *creator;
static pid_t server;
static unsigned port;
static struct tfleet fleet;
static char *image_root, *director_root; /* as the fleet serves them */

static char *served_root(const char *api)
{
	struct tresp r;
	char *t;

	assert_int_equal(tu_srv_call(port, "GET", api, NULL, NULL, &r), 200);
	t = strdup(r.body);
	tresp_clear(&r);
	return t;
}

static int setup(void **state)
{
	struct upk_error e = {0};
	char work[4200], api[256];

	(void)state;
	tmp = tu_mkdtemp();
	assert_int_equal(upk_key_generate_ed25519(&creator, &e), UPK_OK);
	assert_int_equal(upk_keyfile_write_public(tu_path(tmp, "creator.pub"), creator, &e),
	                 UPK_OK);
	server = tf_spawn_server(tmp, &port);
	snprintf(work, sizeof(work), "%s/work", tmp);
	mkdir(work, 0700);
	tf_create(&fleet, port, work, "acme", creator, TARGETS, 1);
	image_root = served_root("/v1/fleets/acme/image/metadata/1.root.json");
	snprintf(api, sizeof(api), "/v1/fleets/acme/director/%064d/metadata/1.root.json", 0);
	director_root = served_root(api);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tf_stop_server(server);
	tf_free(&fleet);
	upk_key_free(creator);
	free(image_root);
	free(director_root);
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static char *claim_body(const char *device, const char *ir, const char *dr, const char *mac)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "device", device, "image_root", ir,
	                      "director_root", dr, "mac", mac);
	char *t = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	return t;
}

static const char MAC[] = "036bfe35180b191dfd338a2746d02d7f5e531485184a9336163b1749ac4bbbd9";

static void test_parsers(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"device\":\"ab\",\"image_root\":\"{}\",\"director_root\":\"{}\",\"mac\":\"00\"}",
	    "{\"image_root\":\"{}\",\"director_root\":\"{}\",\"mac\":\"00\"}",
	};
	struct claim_create_req c;
	struct claim_poll_req p;
	struct upk_error e = {0};
	char dev[65], *t, *big;

	(void)state;
	memset(dev, 'a', 64);
	dev[64] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_claim_create(bad[i], strlen(bad[i]), &c, &e), UPK_OK);
	t = claim_body(dev, "{\"a\":1}", "{\"b\":2}", MAC);
	assert_int_equal(parse_claim_create(t, strlen(t), &c, &e), UPK_OK);
	assert_string_equal(c.image_root, "{\"a\":1}");
	assert_int_equal(c.director_len, 7);
	assert_string_equal(c.mac, MAC);
	claim_create_req_clear(&c);
	free(t);
	/* Upper-case hex, a short MAC, an unknown member, a root that is not a string. */
	t = claim_body(dev, "{}", "{}", "036BFE35180B191DFD338A2746D02D7F5E531485184A9336163B1749AC4BBBD9");
	assert_int_equal(parse_claim_create(t, strlen(t), &c, &e), UPK_ERR_INVALID);
	assert_non_null(strstr(e.msg, "mac"));
	free(t);
	t = "{\"device\":\"aaaa\",\"image_root\":{},\"director_root\":\"{}\",\"mac\":\"00\",\"x\":1}";
	assert_int_equal(parse_claim_create(t, strlen(t), &c, &e), UPK_ERR_INVALID);
	assert_non_null(strstr(e.msg, "unknown member"));
	big = malloc(CLAIM_MAX_ROOT_BYTES + 2);
	memset(big, ' ', CLAIM_MAX_ROOT_BYTES + 1);
	big[CLAIM_MAX_ROOT_BYTES + 1] = '\0';
	t = claim_body(dev, big, "{}", MAC);
	assert_int_equal(parse_claim_create(t, strlen(t), &c, &e), UPK_ERR_TOO_LARGE);
	free(t);
	free(big);
	t = "{\"device\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"image_root\":\"a\\u0000b\",\"director_root\":\"{}\",\"mac\":\"036bfe35180b191dfd338a2"
	    "746d02d7f5e531485184a9336163b1749ac4bbbd9\"}";
	assert_int_equal(parse_claim_create(t, strlen(t), &c, &e), UPK_ERR_INVALID);
	assert_non_null(strstr(e.msg, "NUL"));
	/* The poll: a public key only. */
	t = "{\"public_key\":{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":"
	    "\"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"}}}";
	assert_int_equal(parse_claim_poll(t, strlen(t), &p, &e), UPK_OK);
	assert_int_equal(strlen(p.keyid), 64);
	t = "{\"public_key\":{},\"hardware_id\":\"x\"}";
	assert_int_equal(parse_claim_poll(t, strlen(t), &p, &e), UPK_ERR_INVALID);
	t = "{}";
	assert_int_not_equal(parse_claim_poll(t, strlen(t), &p, &e), UPK_OK);
}

/* A device key and its signed POST /v1/claim answer. */
static json_t *poll_claims(const struct upk_key *dev, long status)
{
	json_t *tuf = NULL, *b;
	struct upk_error e = {0};
	char *t;
	json_t *ans;

	assert_int_equal(upk_key_to_tuf(dev, &tuf, &e), UPK_OK);
	b = json_pack("{s:o}", "public_key", tuf);
	t = json_dumps(b, JSON_COMPACT);
	ans = tu_srv_expect(port, "POST", "/v1/claim", dev, t, status);
	free(t);
	json_decref(b);
	return ans;
}

static void test_claim_endpoints(void **state)
{
	struct upk_key *dev = NULL, *other = NULL;
	char id[65], *t, *pretty, api[512];
	struct upk_error e = {0};
	json_t *ans, *c, *tuf = NULL, *b;
	struct tresp r;

	(void)state;
	assert_int_equal(upk_key_generate_ed25519(&dev, &e), UPK_OK);
	assert_int_equal(upk_key_generate_ed25519(&other, &e), UPK_OK);
	assert_int_equal(upk_key_id(dev, id, &e), UPK_OK);

	/* Not the bytes the fleet serves (same document, other layout): refused, nothing stored. */
	{
		json_t *doc = json_loads(image_root, 0, NULL);

		pretty = json_dumps(doc, JSON_INDENT(2));
		json_decref(doc);
	}
	t = claim_body(id, pretty, director_root, MAC);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", creator, t, &r), 400);
	assert_non_null(strstr(r.body, "differs"));
	tresp_clear(&r);
	free(t);
	free(pretty);
	/* A version the fleet does not serve. */
	t = claim_body(id, "{\"signatures\":[],\"signed\":{\"_type\":\"root\",\"version\":9}}",
	               director_root, MAC);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", creator, t, &r), 400);
	assert_non_null(strstr(r.body, "serves no image root version 9"));
	tresp_clear(&r);
	free(t);
	/* The image root where the director's belongs. */
	t = claim_body(id, image_root, image_root, MAC);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", creator, t, &r), 400);
	tresp_clear(&r);
	free(t);
	ans = poll_claims(dev, 200);
	assert_int_equal(json_array_size(json_object_get(ans, "claims")), 0);
	json_decref(ans);

	/* Operators only: unsigned and device-signed requests are refused. */
	t = claim_body(id, image_root, director_root, MAC);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", NULL, t, &r), 401);
	tresp_clear(&r);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", dev, t, &r), 401);
	tresp_clear(&r);

	/* Accepted: 201, audited, the device is told about it, nobody else is. */
	ans = tu_srv_expect(port, "POST", "/v1/fleets/acme/claims", creator, t, 201);
	assert_int_equal(json_integer_value(json_object_get(ans, "image_root")), 1);
	json_decref(ans);
	free(t);
	ans = poll_claims(dev, 200);
	assert_int_equal(json_array_size(json_object_get(ans, "claims")), 1);
	c = json_array_get(json_object_get(ans, "claims"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "fleet")), "acme");
	assert_string_equal(json_string_value(json_object_get(c, "fleet_url")), "/v1/fleets/acme");
	assert_string_equal(json_string_value(json_object_get(c, "image_root")), image_root);
	assert_string_equal(json_string_value(json_object_get(c, "director_root")), director_root);
	assert_string_equal(json_string_value(json_object_get(c, "mac")), MAC);
	json_decref(ans);
	ans = poll_claims(other, 200);
	assert_int_equal(json_array_size(json_object_get(ans, "claims")), 0);
	json_decref(ans);
	/* Signed by one key while naming another: refused. */
	assert_int_equal(upk_key_to_tuf(dev, &tuf, &e), UPK_OK);
	b = json_pack("{s:o}", "public_key", tuf);
	t = json_dumps(b, JSON_COMPACT);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/claim", other, t, &r), 401);
	tresp_clear(&r);
	free(t);
	json_decref(b);
	snprintf(api, sizeof(api), "/v1/fleets/acme/audit?device=%s", id);
	ans = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	t = json_dumps(ans, JSON_COMPACT);
	assert_non_null(strstr(t, "\"device.claim\""));
	free(t);
	json_decref(ans);

	/* A new claim replaces the device's claim in that fleet. */
	t = claim_body(id, image_root, director_root,
	               "1111111111111111111111111111111111111111111111111111111111111111");
	json_decref(tu_srv_expect(port, "POST", "/v1/fleets/acme/claims", creator, t, 201));
	free(t);
	ans = poll_claims(dev, 200);
	assert_int_equal(json_array_size(json_object_get(ans, "claims")), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(ans, "claims"), 0), "mac")),
	    "1111111111111111111111111111111111111111111111111111111111111111");
	json_decref(ans);

	/* Pre-authorised: the enrolment is accepted at once, and consumes the claim. */
	assert_int_equal(upk_key_to_tuf(dev, &tuf, &e), UPK_OK);
	b = json_pack("{s:o, s:s}", "public_key", tuf, "hardware_id", "hw-a");
	t = json_dumps(b, JSON_COMPACT);
	ans = tu_srv_expect(port, "POST", "/v1/fleets/acme/enrol", dev, t, 201);
	assert_string_equal(json_string_value(json_object_get(ans, "status")), "accepted");
	json_decref(ans);
	free(t);
	json_decref(b);
	ans = poll_claims(dev, 200);
	assert_int_equal(json_array_size(json_object_get(ans, "claims")), 0);
	json_decref(ans);

	/* A device the fleet rejected earlier is accepted by a claim (an operator's act). */
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s/reject", id);
	json_decref(tu_srv_expect(port, "POST", api, creator, NULL, 200));
	t = claim_body(id, image_root, director_root, MAC);
	json_decref(tu_srv_expect(port, "POST", "/v1/fleets/acme/claims", creator, t, 201));
	free(t);
	snprintf(api, sizeof(api), "/v1/fleets/acme/devices/%s", id);
	ans = tu_srv_expect(port, "GET", api, creator, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(ans, "status")), "accepted");
	json_decref(ans);
	upk_key_free(dev);
	upk_key_free(other);
}

/* At most CLAIM_MAX_PER_FLEET open claims per fleet. */
static void test_claim_cap(void **state)
{
	char id[65], *t;
	struct tresp r;

	(void)state;
	assert_int_equal(tu_system("sqlite3 %s/server.db \"WITH RECURSIVE n(i) AS (SELECT 1 UNION "
	                           "ALL SELECT i + 1 FROM n WHERE i < %d) INSERT INTO claims "
	                           "SELECT f.id, printf('%%064d', i), 'x', 'y', 'm', 'test', 0 "
	                           "FROM n, fleets f WHERE f.name = 'acme'\"",
	                           tmp, CLAIM_MAX_PER_FLEET),
	                 0);
	memset(id, 'e', 64);
	id[64] = '\0';
	t = claim_body(id, image_root, director_root, MAC);
	assert_int_equal(tu_srv_call(port, "POST", "/v1/fleets/acme/claims", creator, t, &r), 413);
	assert_non_null(strstr(r.body, "open claims"));
	tresp_clear(&r);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parsers),
	    cmocka_unit_test(test_claim_endpoints),
	    cmocka_unit_test(test_claim_cap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
