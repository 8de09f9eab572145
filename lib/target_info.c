/* SPDX-License-Identifier: Apache-2.0 */
/*
 * custom.upkeep of a target entry: parsing, validation and building. The
 * same checks run when the owner signs and when a device reads, so a target
 * that a device would refuse can never be signed in the first place.
 */
#include <stdlib.h>
#include <string.h>

#include "upkeep/selector.h"
#include "upkeep/target_info.h"

static const char *const type_names[] = {
	[UPK_TARGET_IMAGE] = "image", [UPK_TARGET_ARCHIVE] = "archive",
	[UPK_TARGET_MODULE] = "module", [UPK_TARGET_ACL] = "acl",
	[UPK_TARGET_CONFIG] = "config", [UPK_TARGET_KEYS] = "keys",
};

#define N_TYPE_NAMES (sizeof(type_names) / sizeof(type_names[0]))

const char *upk_target_type_name(enum upk_target_type type)
{
	if ((size_t)type >= N_TYPE_NAMES)
		return NULL;
	return type_names[type];
}

upk_status upk_target_type_from_name(const char *name, enum upk_target_type *out,
				     struct upk_error *err)
{
	for (size_t i = 1; i < N_TYPE_NAMES; i++) {
		if (name != NULL && strcmp(name, type_names[i]) == 0) {
			*out = (enum upk_target_type)i;
			return UPK_OK;
		}
	}
	return upk_error_set(err, UPK_ERR_INVALID,
			     "unknown target type \"%.64s\" (known: image, archive, module, acl, "
			     "config, keys)",
			     name ? name : "");
}

/* Hardware ids end up in logs, inventories and URLs: a plain character set keeps them safe. */
static int hwid_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '+' || c == '-';
}

static upk_status check_hardware(char *const *hw, size_t n, struct upk_error *err)
{
	if (n == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "hardware: at least one compatible hardware id is required");
	if (n > UPK_TARGET_INFO_MAX_HARDWARE)
		return upk_error_set(err, UPK_ERR_TOO_LARGE, "hardware: %zu ids, at most %u allowed",
				     n, UPK_TARGET_INFO_MAX_HARDWARE);
	for (size_t i = 0; i < n; i++) {
		size_t len = hw[i] ? strlen(hw[i]) : 0;

		if (len == 0)
			return upk_error_set(err, UPK_ERR_INVALID, "hardware[%zu]: empty id", i);
		if (len > UPK_TARGET_INFO_MAX_HWID)
			return upk_error_set(err, UPK_ERR_TOO_LARGE,
					     "hardware[%zu]: id of %zu bytes, at most %u allowed", i,
					     len, UPK_TARGET_INFO_MAX_HWID);
		for (size_t j = 0; j < len; j++) {
			if (!hwid_char_ok((unsigned char)hw[i][j]))
				return upk_error_set(err, UPK_ERR_INVALID,
						     "hardware[%zu]: \"%.64s\": byte 0x%02x at offset "
						     "%zu is not allowed (use A-Z a-z 0-9 . _ : + -)",
						     i, hw[i], (unsigned char)hw[i][j], j);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(hw[i], hw[j]) == 0)
				return upk_error_set(err, UPK_ERR_INVALID,
						     "hardware: \"%.64s\" is listed twice", hw[i]);
		}
	}
	return UPK_OK;
}

upk_status upk_target_info_validate(const struct upk_target_info *info, struct upk_error *err)
{
	struct upk_selector *sel = NULL;
	upk_status ret;

	if (upk_target_type_name(info->type) == NULL || info->type == 0)
		return upk_error_set(err, UPK_ERR_INVALID, "type: unknown target type %d",
				     (int)info->type);
	if (info->version == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "version: missing");
	ret = upk_version_validate(info->version, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "version \"%.64s\": ", info->version);
	if (info->security_version < 0 ||
	    info->security_version > UPK_TARGET_INFO_MAX_SECURITY_VERSION)
		return upk_error_set(err, UPK_ERR_INVALID,
				     "security_version: %lld is outside 0..%lld",
				     (long long)info->security_version,
				     (long long)UPK_TARGET_INFO_MAX_SECURITY_VERSION);
	ret = check_hardware(info->hardware, info->n_hardware, err);
	if (ret != UPK_OK)
		return ret;
	if (info->selector != NULL) {
		ret = upk_selector_parse(info->selector, strlen(info->selector), &sel, err);
		/* The parser's message already starts with "selector". */
		if (ret != UPK_OK)
			return ret;
		upk_selector_free(sel);
	}
	return UPK_OK;
}

void upk_target_info_free(struct upk_target_info *info)
{
	if (info == NULL)
		return;
	free(info->version);
	for (size_t i = 0; i < info->n_hardware; i++)
		free(info->hardware[i]);
	free(info->hardware);
	free(info->selector);
	free(info);
}

static upk_status dup_string(const json_t *v, const char *field, char **out,
			     struct upk_error *err)
{
	if (!json_is_string(v))
		return upk_error_set(err, UPK_ERR_INVALID, "%s: not a string", field);
	/* json_string_length counts an embedded NUL, which strdup would silently cut at. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return upk_error_set(err, UPK_ERR_INVALID, "%s: contains a NUL byte", field);
	*out = strdup(json_string_value(v));
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "%s: out of memory", field);
	return UPK_OK;
}

static upk_status parse_fields(const json_t *up, struct upk_target_info *info,
			       struct upk_error *err)
{
	const char *key;
	json_t *v;
	upk_status ret;
	int have_type = 0, have_version = 0, have_hw = 0;

	json_object_foreach((json_t *)up, key, v) {
		if (strcmp(key, "type") == 0) {
			if (!json_is_string(v))
				return upk_error_set(err, UPK_ERR_INVALID, "type: not a string");
			ret = upk_target_type_from_name(json_string_value(v), &info->type, err);
			if (ret != UPK_OK)
				return upk_error_prefix(err, ret, "type: ");
			have_type = 1;
		} else if (strcmp(key, "version") == 0) {
			ret = dup_string(v, "version", &info->version, err);
			if (ret != UPK_OK)
				return ret;
			have_version = 1;
		} else if (strcmp(key, "security_version") == 0) {
			if (!json_is_integer(v))
				return upk_error_set(err, UPK_ERR_INVALID,
						     "security_version: not an integer");
			info->security_version = (int64_t)json_integer_value(v);
		} else if (strcmp(key, "hardware") == 0) {
			size_t n;

			if (!json_is_array(v))
				return upk_error_set(err, UPK_ERR_INVALID,
						     "hardware: not an array");
			n = json_array_size(v);
			if (n > UPK_TARGET_INFO_MAX_HARDWARE)
				return upk_error_set(err, UPK_ERR_TOO_LARGE,
						     "hardware: %zu ids, at most %u allowed", n,
						     UPK_TARGET_INFO_MAX_HARDWARE);
			info->hardware = calloc(n ? n : 1, sizeof(*info->hardware));
			if (info->hardware == NULL)
				return upk_error_set(err, UPK_ERR_NOMEM, "hardware: out of memory");
			for (size_t i = 0; i < n; i++) {
				ret = dup_string(json_array_get(v, i), "hardware[]",
						 &info->hardware[i], err);
				if (ret != UPK_OK)
					return ret;
				info->n_hardware++;
			}
			have_hw = 1;
		} else if (strcmp(key, "selector") == 0) {
			ret = dup_string(v, "selector", &info->selector, err);
			if (ret != UPK_OK)
				return ret;
		} else {
			return upk_error_set(err, UPK_ERR_INVALID,
					     "unknown field \"%.64s\" (refused: a device must not "
					     "install a target with rules it does not understand)",
					     key);
		}
	}
	if (!have_type)
		return upk_error_set(err, UPK_ERR_INVALID, "type: missing");
	if (!have_version)
		return upk_error_set(err, UPK_ERR_INVALID, "version: missing");
	if (!have_hw)
		return upk_error_set(err, UPK_ERR_INVALID, "hardware: missing");
	return UPK_OK;
}

upk_status upk_target_info_parse(const json_t *custom, struct upk_target_info **out,
				 struct upk_error *err)
{
	struct upk_target_info *info = NULL;
	const json_t *up;
	upk_status ret;

	if (custom == NULL || !json_is_object(custom) ||
	    (up = json_object_get(custom, "upkeep")) == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "custom.upkeep: missing");
	if (!json_is_object(up))
		return upk_error_set(err, UPK_ERR_INVALID, "custom.upkeep: not an object");
	info = calloc(1, sizeof(*info));
	if (info == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "custom.upkeep: out of memory");
	ret = parse_fields(up, info, err);
	if (ret == UPK_OK)
		ret = upk_target_info_validate(info, err);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "custom.upkeep: ");
		goto out;
	}
	*out = info;
	info = NULL;
out:
	upk_target_info_free(info);
	return ret;
}

upk_status upk_target_info_to_custom(const struct upk_target_info *info, json_t **out,
				     struct upk_error *err)
{
	json_t *custom = NULL, *up, *hw;
	upk_status ret;
	int bad = 0;

	ret = upk_target_info_validate(info, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "custom.upkeep: ");
	custom = json_object();
	up = json_object();
	hw = json_array();
	if (custom == NULL || up == NULL || hw == NULL) {
		json_decref(up);
		json_decref(hw);
		bad = 1;
		goto out;
	}
	bad |= json_object_set_new(custom, "upkeep", up);
	bad |= json_object_set_new(up, "hardware", hw);
	for (size_t i = 0; i < info->n_hardware; i++)
		bad |= json_array_append_new(hw, json_string(info->hardware[i]));
	bad |= json_object_set_new(up, "type", json_string(upk_target_type_name(info->type)));
	bad |= json_object_set_new(up, "version", json_string(info->version));
	bad |= json_object_set_new(up, "security_version",
				   json_integer((json_int_t)info->security_version));
	if (info->selector != NULL)
		bad |= json_object_set_new(up, "selector", json_string(info->selector));
out:
	if (bad) {
		json_decref(custom);
		return upk_error_set(err, UPK_ERR_NOMEM, "custom.upkeep: out of memory");
	}
	*out = custom;
	return UPK_OK;
}
