/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "upkeep/crypto.h"
#include "upkeep/transfer.h"

int upk_fleet_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	/* It appears in URLs and file names. */
	if (n < 1 || n > UPK_FLEET_NAME_MAX || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static upk_status check_devices(const json_t *devs, const char *id, struct upk_error *err)
{
	const json_t *d;
	size_t i;

	if (!json_is_array(devs) || json_array_size(devs) == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer %s: \"devices\" must be a non-empty array", id);
	if (json_array_size(devs) > UPK_TRANSFER_MAX_DEVICES)
		return upk_error_set(err, UPK_ERR_TOO_LARGE,
		                     "upkeep_transfer %s: \"devices\" lists more than %u devices", id,
		                     UPK_TRANSFER_MAX_DEVICES);
	json_array_foreach(devs, i, d) {
		const char *s = json_string_value(d);

		if (!upk_hex_is_lower(s, 64))
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer %s: devices[%zu] is not a device id "
			                     "(64 lower-case hex)",
			                     id, i);
		/* Strictly increasing: one canonical record per set of devices. */
		if (i > 0 && strcmp(json_string_value(json_array_get(devs, i - 1)), s) >= 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer %s: devices are not sorted and distinct "
			                     "at [%zu]",
			                     id, i);
	}
	return UPK_OK;
}

upk_status upk_transfer_record_parse(const json_t *signed_, struct upk_transfer_record *out,
                                     struct upk_error *err)
{
	const json_t *t = json_object_get(signed_, "upkeep_transfer");
	const char *key, *id, *from, *to;
	json_t *v;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND, "the root carries no upkeep_transfer");
	if (!json_is_object(t))
		return upk_error_set(err, UPK_ERR_INVALID, "upkeep_transfer is not an object");
	json_object_foreach((json_t *)t, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "from_fleet") != 0 &&
		    strcmp(key, "to_fleet") != 0 && strcmp(key, "devices") != 0)
			return upk_error_set(err, UPK_ERR_INVALID,
			                     "upkeep_transfer: unknown member \"%.64s\"", key);
	}
	id = json_string_value(json_object_get(t, "id"));
	from = json_string_value(json_object_get(t, "from_fleet"));
	to = json_string_value(json_object_get(t, "to_fleet"));
	if (!upk_hex_is_lower(id, 32))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer: \"id\" is not 32 lower-case hex digits");
	if (!upk_fleet_name_valid(from) || !upk_fleet_name_valid(to))
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer %s: \"from_fleet\" and \"to_fleet\" must be "
		                     "fleet names ([a-z0-9-]{1,63})",
		                     id);
	if (strcmp(from, to) == 0)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "upkeep_transfer %s: from_fleet and to_fleet are both \"%s\"", id,
		                     from);
	ret = check_devices(json_object_get(t, "devices"), id, err);
	if (ret != UPK_OK)
		return ret;
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->from_fleet, sizeof(out->from_fleet), "%s", from);
	snprintf(out->to_fleet, sizeof(out->to_fleet), "%s", to);
	out->devices = json_incref(json_object_get(t, "devices"));
	return UPK_OK;
}

void upk_transfer_record_clear(struct upk_transfer_record *r)
{
	json_decref(r->devices);
	memset(r, 0, sizeof(*r));
}

int upk_transfer_record_lists(const struct upk_transfer_record *r, const char *device_id)
{
	const json_t *d;
	size_t i;

	json_array_foreach(r->devices, i, d) {
		if (strcmp(json_string_value(d), device_id) == 0)
			return 1;
	}
	return 0;
}
