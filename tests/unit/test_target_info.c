/* SPDX-License-Identifier: Apache-2.0 */
/*
 * custom.upkeep parsing, validation and building: the accepted shape, the
 * round trip, and one test per rejection so that none can silently go away.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "upkeep/target_info.h"

static json_t *custom_of(const char *upkeep_json)
{
	char buf[8192];
	json_error_t jerr;
	json_t *j;

	snprintf(buf, sizeof(buf), "{\"other\": {\"kept\": true}, \"upkeep\": %s}", upkeep_json);
	j = json_loads(buf, JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	return j;
}

/* Parse custom.upkeep built from text; return the status and leave the message in err. */
static upk_status parse_text(const char *upkeep_json, struct upk_error *err)
{
	json_t *c = custom_of(upkeep_json);
	struct upk_target_info *info = NULL;
	upk_status ret = upk_target_info_parse(c, &info, err);

	if (ret == UPK_OK)
		assert_non_null(info);
	else
		assert_null(info);
	upk_target_info_free(info);
	json_decref(c);
	return ret;
}

static void expect_reject(const char *upkeep_json, upk_status code, const char *needle)
{
	struct upk_error err = {0};
	upk_status ret = parse_text(upkeep_json, &err);

	if (ret != code || strstr(err.msg, needle) == NULL)
		fail_msg("%s: got %d \"%s\", want %d containing \"%s\"", upkeep_json, ret, err.msg,
			 code, needle);
}

static void test_parse_full(void **state)
{
	json_t *c = custom_of("{\"type\": \"image\", \"version\": \"2.1.0-rc.1\", "
			      "\"security_version\": 7, \"hardware\": [\"acme-gw-v2\", \"acme:gw+3\"], "
			      "\"selector\": \"hardware in [\\\"acme-gw-v2\\\"]\"}");
	struct upk_target_info *info = NULL;
	struct upk_error err = {0};

	(void)state;
	assert_int_equal(upk_target_info_parse(c, &info, &err), UPK_OK);
	assert_int_equal(info->type, UPK_TARGET_IMAGE);
	assert_string_equal(info->version, "2.1.0-rc.1");
	assert_int_equal(info->security_version, 7);
	assert_int_equal(info->n_hardware, 2);
	assert_string_equal(info->hardware[1], "acme:gw+3");
	assert_string_equal(info->selector, "hardware in [\"acme-gw-v2\"]");
	upk_target_info_free(info);
	json_decref(c);
}

static void test_parse_minimal(void **state)
{
	json_t *c = custom_of("{\"type\": \"keys\", \"version\": \"1\", \"hardware\": [\"x\"]}");
	struct upk_target_info *info = NULL;

	(void)state;
	assert_int_equal(upk_target_info_parse(c, &info, NULL), UPK_OK);
	assert_int_equal(info->type, UPK_TARGET_KEYS);
	assert_int_equal(info->security_version, 0);
	assert_null(info->selector);
	upk_target_info_free(info);
	json_decref(c);
}

static void test_every_type_name(void **state)
{
	const char *names[] = {"image", "archive", "module", "acl", "config", "keys"};

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		enum upk_target_type t;

		assert_int_equal(upk_target_type_from_name(names[i], &t, NULL), UPK_OK);
		assert_string_equal(upk_target_type_name(t), names[i]);
	}
	assert_null(upk_target_type_name((enum upk_target_type)0));
	assert_null(upk_target_type_name((enum upk_target_type)99));
}

static void test_missing(void **state)
{
	struct upk_target_info *info = NULL;
	struct upk_error err = {0};
	json_t *c = json_pack("{s:{}}", "other");

	(void)state;
	assert_int_equal(upk_target_info_parse(NULL, &info, &err), UPK_ERR_NOT_FOUND);
	assert_int_equal(upk_target_info_parse(c, &info, &err), UPK_ERR_NOT_FOUND);
	assert_non_null(strstr(err.msg, "custom.upkeep: missing"));
	assert_null(info);
	json_decref(c);
}

static void test_reject_shape(void **state)
{
	(void)state;
	expect_reject("[]", UPK_ERR_INVALID, "not an object");
	expect_reject("\"image\"", UPK_ERR_INVALID, "not an object");
	expect_reject("{\"version\": \"1\", \"hardware\": [\"x\"]}", UPK_ERR_INVALID,
		      "type: missing");
	expect_reject("{\"type\": \"image\", \"hardware\": [\"x\"]}", UPK_ERR_INVALID,
		      "version: missing");
	expect_reject("{\"type\": \"image\", \"version\": \"1\"}", UPK_ERR_INVALID,
		      "hardware: missing");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"rollout\": 5}",
		      UPK_ERR_INVALID, "unknown field \"rollout\"");
}

static void test_reject_type(void **state)
{
	(void)state;
	expect_reject("{\"type\": \"firmware\", \"version\": \"1\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "unknown target type \"firmware\"");
	expect_reject("{\"type\": \"Image\", \"version\": \"1\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "unknown target type");
	expect_reject("{\"type\": 1, \"version\": \"1\", \"hardware\": [\"x\"]}", UPK_ERR_INVALID,
		      "type: not a string");
}

static void test_reject_version(void **state)
{
	(void)state;
	expect_reject("{\"type\": \"image\", \"version\": 1, \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "version: not a string");
	expect_reject("{\"type\": \"image\", \"version\": \"v1.0\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "version \"v1.0\"");
	expect_reject("{\"type\": \"image\", \"version\": \"1.01\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "version \"1.01\"");
	expect_reject("{\"type\": \"image\", \"version\": \"\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "version");
	expect_reject("{\"type\": \"image\", \"version\": \"1\\u0000\", \"hardware\": [\"x\"]}",
		      UPK_ERR_INVALID, "NUL");
}

static void test_reject_security_version(void **state)
{
	(void)state;
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"security_version\": -1}",
		      UPK_ERR_INVALID, "security_version: -1 is outside");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"security_version\": 9007199254740992}",
		      UPK_ERR_INVALID, "outside");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"security_version\": \"3\"}",
		      UPK_ERR_INVALID, "security_version: not an integer");
}

static void test_reject_hardware(void **state)
{
	char big[UPK_TARGET_INFO_MAX_HWID + 64];
	char buf[sizeof(big) + 128];
	char *many;
	size_t at;

	(void)state;
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": []}", UPK_ERR_INVALID,
		      "at least one");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": \"x\"}",
		      UPK_ERR_INVALID, "hardware: not an array");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [1]}",
		      UPK_ERR_INVALID, "hardware[]: not a string");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"\"]}",
		      UPK_ERR_INVALID, "hardware[0]: empty id");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"a b\"]}",
		      UPK_ERR_INVALID, "byte 0x20 at offset 1");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"a/b\"]}",
		      UPK_ERR_INVALID, "not allowed");
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\", \"y\", "
		      "\"x\"]}",
		      UPK_ERR_INVALID, "\"x\" is listed twice");
	memset(big, 'a', UPK_TARGET_INFO_MAX_HWID + 1);
	big[UPK_TARGET_INFO_MAX_HWID + 1] = '\0';
	snprintf(buf, sizeof(buf), "{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"%s\"]}",
		 big);
	expect_reject(buf, UPK_ERR_TOO_LARGE, "at most 128");

	many = malloc(16 * (UPK_TARGET_INFO_MAX_HARDWARE + 2) + 128);
	assert_non_null(many);
	at = (size_t)sprintf(many, "{\"type\": \"image\", \"version\": \"1\", \"hardware\": [");
	for (unsigned i = 0; i <= UPK_TARGET_INFO_MAX_HARDWARE; i++)
		at += (size_t)sprintf(many + at, "%s\"h%u\"", i ? "," : "", i);
	sprintf(many + at, "]}");
	expect_reject(many, UPK_ERR_TOO_LARGE, "at most 256 allowed");
	free(many);
}

static void test_reject_selector(void **state)
{
	struct upk_error err = {0};

	(void)state;
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"selector\": 5}",
		      UPK_ERR_INVALID, "selector: not a string");
	/* Empty text is not "absent": absence is written by leaving the field out. */
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"selector\": \"\"}",
		      UPK_ERR_INVALID, "selector");
	/* The selector parser's own message comes through, with its byte offset. */
	assert_int_equal(parse_text("{\"type\": \"image\", \"version\": \"1\", \"hardware\": "
				    "[\"x\"], \"selector\": \"device inn [\\\"a\\\"]\"}",
				    &err),
			 UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "custom.upkeep: selector"));
	assert_non_null(strstr(err.msg, "at byte"));
	/* Versions inside the selector are checked as well. */
	expect_reject("{\"type\": \"image\", \"version\": \"1\", \"hardware\": [\"x\"], "
		      "\"selector\": \"installed \\\"image\\\" >= \\\"1.0x\\\"\"}",
		      UPK_ERR_INVALID, "1.0x");
}

static void test_to_custom_roundtrip(void **state)
{
	char *hw[] = {"gw-1", "gw-2"};
	struct upk_target_info info = {UPK_TARGET_CONFIG, "3.0.0", 2, hw, 2, "all"};
	struct upk_target_info *back = NULL;
	json_t *custom = NULL;

	(void)state;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, NULL), UPK_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(custom, "upkeep"),
							      "type")),
			    "config");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(custom, "upkeep"),
							    "security_version")),
			 2);
	assert_int_equal(upk_target_info_parse(custom, &back, NULL), UPK_OK);
	assert_int_equal(back->type, UPK_TARGET_CONFIG);
	assert_string_equal(back->version, "3.0.0");
	assert_string_equal(back->hardware[1], "gw-2");
	assert_string_equal(back->selector, "all");
	upk_target_info_free(back);
	json_decref(custom);

	/* A NULL selector is left out entirely. */
	info.selector = NULL;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, NULL), UPK_OK);
	assert_null(json_object_get(json_object_get(custom, "upkeep"), "selector"));
	json_decref(custom);
}

static void test_to_custom_validates(void **state)
{
	char *hw[] = {"gw"};
	struct upk_target_info info = {UPK_TARGET_IMAGE, "1.0", 0, hw, 1, NULL};
	struct upk_error err = {0};
	json_t *custom = NULL;

	(void)state;
	info.type = (enum upk_target_type)42;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "unknown target type 42"));
	info.type = UPK_TARGET_IMAGE;
	info.version = NULL;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, &err), UPK_ERR_INVALID);
	assert_non_null(strstr(err.msg, "version: missing"));
	info.version = "1.0";
	info.n_hardware = 0;
	assert_int_equal(upk_target_info_to_custom(&info, &custom, &err), UPK_ERR_INVALID);
	info.n_hardware = 1;
	info.selector = "bucket < 200";
	assert_int_equal(upk_target_info_to_custom(&info, &custom, &err), UPK_ERR_INVALID);
	assert_null(custom);
	upk_target_info_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_every_type_name),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_reject_shape),
		cmocka_unit_test(test_reject_type),
		cmocka_unit_test(test_reject_version),
		cmocka_unit_test(test_reject_security_version),
		cmocka_unit_test(test_reject_hardware),
		cmocka_unit_test(test_reject_selector),
		cmocka_unit_test(test_to_custom_roundtrip),
		cmocka_unit_test(test_to_custom_validates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
