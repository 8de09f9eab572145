/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spec 5.6.1-5.6.6, loading one targets role, top-level or delegated: the
 * file must be the one the trusted snapshot names (version, length, hashes),
 * signed by the keys of its delegator (root for "targets"), and unexpired.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

static upk_status verify(const struct upk_client *c, const char *role,
                         const struct upk_metadata *delegator, struct upk_metadata *md,
                         struct upk_error *err)
{
	if (delegator == NULL)
		return upk_verify_role(c->root, "targets", md, NULL, err);
	return upk_verify_delegated(delegator, role, md, NULL, err);
}

static upk_status remember(struct upk_client *c, const char *role, struct upk_metadata *md,
                           struct upk_error *err)
{
	struct client_role *r;

	if (strcmp(role, "targets") == 0) {
		c->targets = md;
		return UPK_OK;
	}
	r = realloc(c->roles, (c->n_roles + 1) * sizeof(*r));
	if (r == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	c->roles = r;
	r[c->n_roles].name = strdup(role);
	if (r[c->n_roles].name == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	r[c->n_roles].md = md;
	c->n_roles++;
	return UPK_OK;
}

static struct upk_metadata *loaded(const struct upk_client *c, const char *role)
{
	if (strcmp(role, "targets") == 0)
		return c->targets;
	for (size_t i = 0; i < c->n_roles; i++)
		if (strcmp(c->roles[i].name, role) == 0)
			return c->roles[i].md;
	return NULL;
}

upk_status client_load_targets(struct upk_client *c, const char *role,
                               const struct upk_metadata *delegator, struct upk_metadata **out,
                               struct upk_error *err)
{
	struct upk_metadata *md = loaded(c, role);
	char file[ROLE_FILE_MAX], metaname[300];
	char *local = NULL, *url = NULL, *buf = NULL;
	size_t local_len = 0, len;
	struct upk_metafile mf;
	uint64_t max;
	upk_status ret;

	if (md != NULL) {
		/*
		 * Loaded already in this cycle, maybe through another delegation:
		 * the keys that matter are those of the delegation followed now.
		 */
		ret = verify(c, role, delegator, md, err);
		if (ret != UPK_OK)
			return upk_error_prefix(err, ret, "role %s: ", role);
		*out = md;
		return UPK_OK;
	}
	ret = role_file_name(role, file, sizeof(file), err);
	if (ret != UPK_OK)
		return ret;
	/* Snapshot lists roles by their plain name (spec 4.4), not the escaped file name. */
	if (snprintf(metaname, sizeof(metaname), "%s.json", role) >= (int)sizeof(metaname))
		return upk_error_set(err, UPK_ERR_INVALID, "role name \"%.64s\" too long", role);
	ret = upk_meta_find(c->snapshot, metaname, &mf, err);
	if (ret != UPK_OK)
		return upk_error_set(err, UPK_ERR_NOT_FOUND,
		                     "role %s: snapshot v%" PRId64 " does not list %s", role,
		                     upk_metadata_version(c->snapshot), metaname);

	/* Stored and exactly what the snapshot names: no download (as for the snapshot). */
	if (client_read_local(c, file, UPK_ROLE_TARGETS, c->limits.targets_max_bytes, &local,
	                      &local_len, &md) == UPK_OK) {
		if (upk_metadata_version(md) != mf.version ||
		    client_check_meta_bytes(file, local, local_len, mf.length, mf.hashes, NULL) !=
		        UPK_OK ||
		    verify(c, role, delegator, md, NULL) != UPK_OK) {
			upk_metadata_free(md);
			md = NULL;
		}
		free(local);
	}
	if (md == NULL) {
		/* Spec 5.6.1. */
		max = mf.length >= 0 ? (uint64_t)mf.length : c->limits.targets_max_bytes;
		ret = client_url(c->metadata_url, c->consistent_snapshot ? mf.version : 0, file,
		                 &url, err);
		if (ret != UPK_OK)
			goto out;
		ret = upk_fetch_to_buffer(&c->fetcher, url, max, &buf, &len, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "role %s v%" PRId64 ": ", role, mf.version);
			goto out;
		}
		/* Spec 5.6.2. */
		ret = client_check_meta_bytes(file, buf, len, mf.length, mf.hashes, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret,
			                 "role %s v%" PRId64 " named by snapshot v%" PRId64 ": ",
			                 role, mf.version, upk_metadata_version(c->snapshot));
			goto out;
		}
		ret = upk_metadata_parse(buf, len, UPK_ROLE_TARGETS, NULL, &md, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "role %s: %s: ", role, file);
			goto out;
		}
		/* Spec 5.6.3. */
		ret = verify(c, role, delegator, md, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "role %s: ", role);
			goto out;
		}
		/* Spec 5.6.4. */
		if (upk_metadata_version(md) != mf.version) {
			ret = upk_error_set(err, UPK_ERR_ROLLBACK,
			                    "role %s v%" PRId64 ": snapshot v%" PRId64
			                    " names v%" PRId64,
			                    role, upk_metadata_version(md),
			                    upk_metadata_version(c->snapshot), mf.version);
			goto out;
		}
	}
	/* Spec 5.6.5. */
	ret = client_check_expiry(c, role, md, err);
	if (ret != UPK_OK)
		goto out;
	/* Spec 5.6.6. */
	if (buf != NULL) {
		ret = store_write(c->metadata_dir, file, buf, len, err);
		if (ret != UPK_OK) {
			upk_error_prefix(err, ret, "role %s v%" PRId64 ": ", role, mf.version);
			goto out;
		}
	}
	ret = remember(c, role, md, err);
	if (ret != UPK_OK)
		goto out;
	*out = md;
	md = NULL;
out:
	upk_metadata_free(md);
	free(buf);
	free(url);
	return ret;
}
