/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admission rule: each way a server could try to slip a target past a
 * device (wrong bytes, a path the owner never signed, other hardware, a
 * selector that does not match, a security downgrade) is refused with its
 * own reason, and an honest assignment is admitted.
 */
#include <string.h>
#include <stdlib.h>

#include "testutil.h"
#include "upkeep/admission.h"

#define SHA256_A "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA256_B "0000000000000000000000000000000000000000000000000000000000000000"
#define DEVICE_ID "6c6a97c62d52b1c98a19c5dea814b191d5e7b385d40a77a314f549406d91e051"

struct fixture {
	json_t *dir_hashes, *img_hashes, *custom;
	struct upk_target director, image;
	struct upk_kv tags[1], installed[1];
	struct upk_device_attrs device;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir_hashes = json_pack("{s:s}", "sha256", SHA256_A);
	f->img_hashes = json_pack("{s:s,s:s}", "sha256", SHA256_A, "sha512",
				  SHA256_B SHA256_B);
	f->custom = json_pack("{s:{s:s,s:s,s:i,s:[s,s],s:s}}", "upkeep", "type", "image",
			      "version", "2.0.0", "security_version", 5, "hardware", "gw-a",
			      "gw-b", "selector", "tag \"site\" = \"berlin\" and installed \"image\" < \"2.0.0\"");
	f->director = (struct upk_target){"images/os-2.0.img", 4096, f->dir_hashes, NULL};
	f->image = (struct upk_target){"images/os-2.0.img", 4096, f->img_hashes, f->custom};
	f->tags[0] = (struct upk_kv){"site", "berlin"};
	f->installed[0] = (struct upk_kv){"image", "1.9.3"};
	f->device = (struct upk_device_attrs){DEVICE_ID, "gw-b", f->tags, 1, f->installed, 1};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->dir_hashes);
	json_decref(f->img_hashes);
	json_decref(f->custom);
	free(f);
	return 0;
}

/* Run the check and return the refusal, asserting the status matches it. */
static enum upk_refusal check(struct fixture *f, const struct upk_target *image,
			      int64_t installed_sv, char *msg)
{
	struct upk_error err = {0};
	struct upk_target_info *info = NULL;
	enum upk_refusal why = UPK_REFUSAL_MISMATCH;
	upk_status ret = upk_admit_target(&f->director, image, &f->device, installed_sv, &info,
					  &why, &err);

	if (msg != NULL)
		strcpy(msg, err.msg);
	if (ret == UPK_OK) {
		assert_int_equal(why, UPK_REFUSAL_NONE);
		assert_non_null(info);
		upk_target_info_free(info);
	} else {
		assert_int_equal(ret, UPK_ERR_SIGNATURE);
		assert_null(info);
		assert_int_not_equal(why, UPK_REFUSAL_NONE);
	}
	return why;
}

static void test_honest_assignment_is_admitted(void **state)
{
	struct fixture *f = *state;
	struct upk_target_info *info = NULL;

	assert_int_equal(upk_admit_target(&f->director, &f->image, &f->device, 5, &info, NULL, NULL),
			 UPK_OK);
	assert_int_equal(info->type, UPK_TARGET_IMAGE);
	assert_string_equal(info->version, "2.0.0");
	assert_int_equal(info->security_version, 5);
	upk_target_info_free(info);
	/* The director may carry fewer hashes; hex case does not matter. */
	json_object_set_new(f->dir_hashes, "sha256", json_string("5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"));
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_NONE);
}

static void test_bytes_must_agree(void **state)
{
	struct fixture *f = *state;
	char msg[UPK_ERROR_MSG_MAX];

	assert_int_equal(check(f, NULL, 0, msg), UPK_REFUSAL_NOT_IN_IMAGE_REPO);
	assert_non_null(strstr(msg, "images/os-2.0.img"));
	f->image.path = "images/other.img";
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_NOT_IN_IMAGE_REPO);
	f->image.path = f->director.path;

	f->director.length = 4097;
	assert_int_equal(check(f, &f->image, 0, msg), UPK_REFUSAL_MISMATCH);
	assert_non_null(strstr(msg, "director length 4097, image repository length 4096"));
	f->director.length = 4096;

	json_object_set_new(f->dir_hashes, "sha256", json_string(SHA256_B));
	assert_int_equal(check(f, &f->image, 0, msg), UPK_REFUSAL_MISMATCH);
	assert_non_null(strstr(msg, "sha256 hashes differ"));
	/* A matching sha256 does not excuse a differing sha512. */
	json_object_set_new(f->dir_hashes, "sha256", json_string(SHA256_A));
	json_object_set_new(f->dir_hashes, "sha512", json_string(SHA256_A SHA256_A));
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_MISMATCH);

	/* Only algorithms nobody checks: nothing proves the bytes. */
	json_object_clear(f->dir_hashes);
	json_object_set_new(f->dir_hashes, "md5", json_string("00"));
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_NO_COMMON_HASH);
}

static void test_owner_fields_must_admit_the_device(void **state)
{
	struct fixture *f = *state;
	char msg[UPK_ERROR_MSG_MAX];
	json_t *upkeep = json_object_get(f->custom, "upkeep");

	f->device.hardware_id = "gw-c";
	assert_int_equal(check(f, &f->image, 0, msg), UPK_REFUSAL_HARDWARE);
	assert_non_null(strstr(msg, "\"gw-c\" is not among the 2 listed"));
	f->device.hardware_id = NULL;
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_HARDWARE);
	f->device.hardware_id = "gw-a";

	f->tags[0].value = "paris";
	assert_int_equal(check(f, &f->image, 0, msg), UPK_REFUSAL_SELECTOR);
	assert_non_null(strstr(msg, "does not admit device 6c6a97c62d52b1c9"));
	f->tags[0].value = "berlin";
	f->installed[0].value = "2.0.0"; /* already on 2.0.0: the selector excludes it */
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_SELECTOR);
	f->installed[0].value = "1.9.3";

	/* No selector: every device of the listed hardware. */
	json_object_del(upkeep, "selector");
	f->tags[0].value = "paris";
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_NONE);

	/* Anti-rollback on the counter, not on the version string. */
	assert_int_equal(check(f, &f->image, 6, msg), UPK_REFUSAL_SECURITY_VERSION);
	assert_non_null(strstr(msg, "security_version 5 is below the installed 6"));
	assert_int_equal(check(f, &f->image, 5, NULL), UPK_REFUSAL_NONE);
}

static void test_fields_come_from_the_image_repository_only(void **state)
{
	struct fixture *f = *state;
	json_t *server_custom = json_pack("{s:{s:s,s:s,s:i,s:[s]}}", "upkeep", "type", "image",
					  "version", "9.0.0", "security_version", 99, "hardware",
					  "gw-c");

	/* The director's custom fields are server-signed: they never widen anything. */
	f->director.custom = server_custom;
	f->device.hardware_id = "gw-c";
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_HARDWARE);

	/* No or broken owner-signed fields: nothing is admitted. */
	f->device.hardware_id = "gw-a";
	f->image.custom = NULL;
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_BAD_FIELDS);
	json_object_set_new(json_object_get(f->custom, "upkeep"), "type", json_string("firmware"));
	f->image.custom = f->custom;
	assert_int_equal(check(f, &f->image, 0, NULL), UPK_REFUSAL_BAD_FIELDS);
	json_decref(server_custom);
}

static void test_names_and_bad_calls(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(upk_refusal_name(UPK_REFUSAL_SELECTOR), "selector");
	assert_string_equal(upk_refusal_name(UPK_REFUSAL_SECURITY_VERSION), "security-version");
	assert_int_equal(upk_admit_target(NULL, &f->image, &f->device, 0, NULL, NULL, NULL),
			 UPK_ERR_INVALID);
	assert_int_equal(upk_admit_target(&f->director, &f->image, NULL, 0, NULL, NULL, NULL),
			 UPK_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_honest_assignment_is_admitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_must_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_fields_must_admit_the_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fields_come_from_the_image_repository_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_bad_calls, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
