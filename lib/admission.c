/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whether a device may take a target: the director and the image repository
 * must agree on the bytes, and the owner-signed fields must admit the
 * device. Only the image repository's entry is trusted for the custom
 * fields: the director's are server-signed and ignored here.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "upkeep/admission.h"
#include "upkeep/crypto.h"

const char *upk_refusal_name(enum upk_refusal refusal)
{
	switch (refusal) {
	case UPK_REFUSAL_NONE: return "none";
	case UPK_REFUSAL_NOT_IN_IMAGE_REPO: return "not-in-image-repository";
	case UPK_REFUSAL_MISMATCH: return "mismatch";
	case UPK_REFUSAL_NO_COMMON_HASH: return "no-common-hash";
	case UPK_REFUSAL_BAD_FIELDS: return "bad-fields";
	case UPK_REFUSAL_HARDWARE: return "hardware";
	case UPK_REFUSAL_SELECTOR: return "selector";
	case UPK_REFUSAL_SECURITY_VERSION: return "security-version";
	}
	return "unknown";
}

static upk_status refuse(enum upk_refusal *out, enum upk_refusal why, struct upk_error *err,
			 const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static upk_status refuse(enum upk_refusal *out, enum upk_refusal why, struct upk_error *err,
			 const char *path, const char *fmt, ...)
{
	char msg[UPK_ERROR_MSG_MAX];
	va_list ap;

	if (out != NULL)
		*out = why;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return upk_error_set(err, UPK_ERR_SIGNATURE, "target \"%.200s\" refused (%s): %.280s", path,
			     upk_refusal_name(why), msg);
}

/*
 * Every known algorithm the two entries both give must agree, and there must
 * be at least one: an unknown algorithm can prove nothing.
 */
static upk_status compare_hashes(const struct upk_target *d, const struct upk_target *i,
				 enum upk_refusal *refusal, struct upk_error *err)
{
	static const char *const known[] = {"sha256", "sha512"};
	int common = 0;

	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		const char *dh = json_string_value(json_object_get(d->hashes, known[k]));
		const char *ih = json_string_value(json_object_get(i->hashes, known[k]));

		if (dh == NULL || ih == NULL)
			continue;
		/* Hex case is not meaningful; the bytes are. */
		if (strlen(dh) != strlen(ih) || strcasecmp(dh, ih) != 0)
			return refuse(refusal, UPK_REFUSAL_MISMATCH, err, d->path,
				      "the %s hashes differ between the director and the image "
				      "repository",
				      known[k]);
		common++;
	}
	if (common == 0)
		return refuse(refusal, UPK_REFUSAL_NO_COMMON_HASH, err, d->path,
			      "no sha256 or sha512 hash in both repositories");
	return UPK_OK;
}

static int hardware_listed(const struct upk_target_info *info, const char *hwid)
{
	for (size_t i = 0; hwid != NULL && i < info->n_hardware; i++)
		if (strcmp(info->hardware[i], hwid) == 0)
			return 1;
	return 0;
}

static upk_status check_selector(const char *path, const struct upk_target_info *info,
				 const struct upk_device_attrs *device, enum upk_refusal *refusal,
				 struct upk_error *err)
{
	struct upk_selector *sel = NULL;
	struct upk_error serr = {0};
	int matched = 0;
	upk_status ret;

	/* No selector: the owner meant every device of the listed hardware. */
	if (info->selector == NULL)
		return UPK_OK;
	ret = upk_selector_parse(info->selector, strlen(info->selector), &sel, &serr);
	if (ret == UPK_OK)
		ret = upk_selector_match(sel, device, &matched, &serr);
	upk_selector_free(sel);
	/* A selector that cannot be evaluated admits nobody. */
	if (ret != UPK_OK)
		return refuse(refusal, UPK_REFUSAL_SELECTOR, err, path, "selector %.200s: %.200s",
			      info->selector, serr.msg);
	if (!matched)
		return refuse(refusal, UPK_REFUSAL_SELECTOR, err, path,
			      "selector %.200s does not admit device %.16s", info->selector,
			      device->device_id ? device->device_id : "(unknown)");
	return UPK_OK;
}

upk_status upk_admit_target(const struct upk_target *director, const struct upk_target *image,
			    const struct upk_device_attrs *device,
			    int64_t installed_security_version, struct upk_target_info **info_out,
			    enum upk_refusal *refusal, struct upk_error *err)
{
	struct upk_target_info *info = NULL;
	struct upk_error ierr = {0};
	upk_status ret;

	if (refusal != NULL)
		*refusal = UPK_REFUSAL_NONE;
	if (director == NULL || director->path == NULL || device == NULL)
		return upk_error_set(err, UPK_ERR_INVALID, "admission needs a target and a device");
	if (image == NULL || image->path == NULL || strcmp(image->path, director->path) != 0)
		return refuse(refusal, UPK_REFUSAL_NOT_IN_IMAGE_REPO, err, director->path,
			      "the image repository does not list it");
	if (director->length != image->length)
		return refuse(refusal, UPK_REFUSAL_MISMATCH, err, director->path,
			      "director length %" PRId64 ", image repository length %" PRId64,
			      director->length, image->length);
	ret = compare_hashes(director, image, refusal, err);
	if (ret != UPK_OK)
		return ret;

	ret = upk_target_info_parse(image->custom, &info, &ierr);
	if (ret != UPK_OK)
		return refuse(refusal, UPK_REFUSAL_BAD_FIELDS, err, director->path,
			      "owner-signed fields: %.300s", ierr.msg);

	if (!hardware_listed(info, device->hardware_id)) {
		ret = refuse(refusal, UPK_REFUSAL_HARDWARE, err, director->path,
			     "hardware id \"%.128s\" is not among the %zu listed",
			     device->hardware_id ? device->hardware_id : "", info->n_hardware);
		goto out;
	}
	ret = check_selector(director->path, info, device, refusal, err);
	if (ret != UPK_OK)
		goto out;
	/* Anti-rollback: the counter only moves forward, whatever the version string says. */
	if (info->security_version < installed_security_version) {
		ret = refuse(refusal, UPK_REFUSAL_SECURITY_VERSION, err, director->path,
			     "security_version %" PRId64 " is below the installed %" PRId64,
			     info->security_version, installed_security_version);
		goto out;
	}
	if (info_out != NULL) {
		*info_out = info;
		info = NULL;
	}
out:
	upk_target_info_free(info);
	return ret;
}
