/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers of the claim request bodies. Root texts are kept as the exact
 * bytes sent: the device's MAC check and the server's "served byte for byte"
 * check are both over those bytes, so nothing here re-serialises them.
 */
#include <stdlib.h>
#include <string.h>

#include "claim_parse.h"
#include "upkeep/crypto.h"

/* A string member without NUL bytes (the root texts are hashed as C strings elsewhere). */
static upk_status root_text(const json_t *doc, const char *name, char **out, size_t *len,
			    struct upk_error *err)
{
	const json_t *v = json_object_get(doc, name);
	size_t n;

	if (v == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "missing member \"%s\"", name);
	if (!json_is_string(v))
		return upk_error_set(err, UPK_ERR_INVALID,
				     "\"%s\" is not a string (the root's exact JSON text)", name);
	n = json_string_length(v);
	if (n == 0 || n > CLAIM_MAX_ROOT_BYTES)
		return upk_error_set(err, n == 0 ? UPK_ERR_INVALID : UPK_ERR_TOO_LARGE,
				     "\"%s\" is %zu bytes (1 to %u)", name, n,
				     CLAIM_MAX_ROOT_BYTES);
	if (strlen(json_string_value(v)) != n)
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" contains a NUL character", name);
	*out = malloc(n + 1);
	if (*out == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	memcpy(*out, json_string_value(v), n + 1);
	*len = n;
	return UPK_OK;
}

upk_status parse_claim_create(const void *buf, size_t len, struct claim_create_req *out,
			      struct upk_error *err)
{
	static const char *const ALLOWED[] = {"device", "image_root", "director_root", "mac",
					      NULL};
	json_t *doc = NULL;
	const char *dev, *mac;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = api_parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	dev = json_string_value(json_object_get(doc, "device"));
	mac = json_string_value(json_object_get(doc, "mac"));
	if (dev == NULL || !api_valid_keyid(dev))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "\"device\" is not a device id (64 lower-case hex)");
	else if (mac == NULL || !upk_hex_is_lower(mac, 64))
		ret = upk_error_set(err, UPK_ERR_INVALID,
				    "\"mac\" is not 64 lower-case hex digits (HMAC-SHA256)");
	if (ret == UPK_OK)
		ret = root_text(doc, "image_root", &out->image_root, &out->image_len, err);
	if (ret == UPK_OK)
		ret = root_text(doc, "director_root", &out->director_root, &out->director_len, err);
	if (ret == UPK_OK) {
		memcpy(out->device, dev, UPK_KEYID_HEX_LEN + 1);
		memcpy(out->mac, mac, 65);
	}
	json_decref(doc);
	if (ret != UPK_OK)
		claim_create_req_clear(out);
	return ret;
}

void claim_create_req_clear(struct claim_create_req *r)
{
	free(r->image_root);
	free(r->director_root);
	memset(r, 0, sizeof(*r));
}

upk_status parse_claim_poll(const void *buf, size_t len, struct claim_poll_req *out,
			    struct upk_error *err)
{
	static const char *const ALLOWED[] = {"public_key", NULL};
	json_t *doc = NULL;
	upk_status ret;

	memset(out, 0, sizeof(*out));
	ret = api_parse_object(buf, len, ALLOWED, &doc, err);
	if (ret != UPK_OK)
		return ret;
	ret = api_public_key_id(json_object_get(doc, "public_key"), out->keyid, err);
	json_decref(doc);
	if (ret != UPK_OK)
		memset(out, 0, sizeof(*out));
	return ret;
}
