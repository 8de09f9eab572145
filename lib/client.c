/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TUF client object: configuration, the trusted root it starts from, and
 * the update cycle that runs the steps of spec section 5 in order (each step
 * lives in its own client_<role>.c).
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

static char *dup_base_url(const char *url)
{
	size_t n = strlen(url);
	char *out = malloc(n + 2);

	if (out == NULL)
		return NULL;
	memcpy(out, url, n);
	if (n == 0 || url[n - 1] != '/')
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

static void apply_default_limits(struct upk_client_limits *l)
{
	if (l->root_max_bytes == 0)
		l->root_max_bytes = UPK_CLIENT_DEFAULT_ROOT_MAX;
	if (l->timestamp_max_bytes == 0)
		l->timestamp_max_bytes = UPK_CLIENT_DEFAULT_TIMESTAMP_MAX;
	if (l->snapshot_max_bytes == 0)
		l->snapshot_max_bytes = UPK_CLIENT_DEFAULT_SNAPSHOT_MAX;
	if (l->targets_max_bytes == 0)
		l->targets_max_bytes = UPK_CLIENT_DEFAULT_TARGETS_MAX;
	if (l->max_root_rotations == 0)
		l->max_root_rotations = UPK_CLIENT_DEFAULT_MAX_ROOT_ROTATIONS;
	if (l->max_delegations == 0)
		l->max_delegations = UPK_CLIENT_DEFAULT_MAX_DELEGATIONS;
}

/* A root is only usable as a trust anchor when it is signed by its own threshold. */
static upk_status parse_self_signed_root(const void *buf, size_t len, struct upk_metadata **out,
                                         struct upk_error *err)
{
	struct upk_metadata *root = NULL;
	upk_status ret;

	ret = upk_metadata_parse(buf, len, UPK_ROLE_ROOT, NULL, &root, err);
	if (ret != UPK_OK)
		return ret;
	ret = upk_verify_role(root, "root", root, NULL, err);
	if (ret != UPK_OK) {
		upk_metadata_free(root);
		return ret;
	}
	*out = root;
	return UPK_OK;
}

upk_status upk_client_bootstrap(const char *metadata_dir, const void *root_json, size_t len,
                                struct upk_error *err)
{
	struct upk_metadata *root = NULL;
	upk_status ret;

	ret = parse_self_signed_root(root_json, len, &root, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "trusted root: ");
	upk_metadata_free(root);
	ret = store_write(metadata_dir, "root.json", root_json, len, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "trusted root: ");
	return UPK_OK;
}

upk_status upk_client_new(const struct upk_client_config *cfg, struct upk_client **out,
                          struct upk_error *err)
{
	struct upk_client *c = NULL;
	char *buf = NULL;
	size_t len;
	upk_status ret;

	if (cfg == NULL || cfg->metadata_dir == NULL || cfg->metadata_url == NULL ||
	    cfg->fetcher == NULL || cfg->fetcher->fetch == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "client needs a metadata directory, metadata URL and fetcher");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	c->metadata_dir = strdup(cfg->metadata_dir);
	c->metadata_url = dup_base_url(cfg->metadata_url);
	c->target_url = cfg->target_url != NULL ? dup_base_url(cfg->target_url) : NULL;
	if (c->metadata_dir == NULL || c->metadata_url == NULL ||
	    (cfg->target_url != NULL && c->target_url == NULL)) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto fail;
	}
	c->fetcher = *cfg->fetcher;
	c->limits = cfg->limits;
	apply_default_limits(&c->limits);
	c->clock = cfg->clock;
	c->clock_ctx = cfg->clock_ctx;
	c->root_check = cfg->root_check;
	c->root_check_ctx = cfg->root_check_ctx;

	/* A crash in the middle of store_write() leaves only a temporary file. */
	store_clean_temp(c->metadata_dir);
	/* Spec 5.2: the expiry of the trusted root does not matter yet. */
	ret = store_read(c->metadata_dir, "root.json", c->limits.root_max_bytes, &buf, &len, err);
	if (ret == UPK_OK)
		ret = parse_self_signed_root(buf, len, &c->root, err);
	free(buf);
	if (ret != UPK_OK) {
		upk_error_prefix(err, ret, "trusted root %s/root.json: ", c->metadata_dir);
		goto fail;
	}
	c->consistent_snapshot = upk_root_consistent_snapshot(c->root);
	*out = c;
	return UPK_OK;
fail:
	upk_client_free(c);
	return ret;
}

void client_drop_roles(struct upk_client *c)
{
	for (size_t i = 0; i < c->n_roles; i++) {
		free(c->roles[i].name);
		upk_metadata_free(c->roles[i].md);
	}
	free(c->roles);
	c->roles = NULL;
	c->n_roles = 0;
}

void upk_client_free(struct upk_client *c)
{
	if (c == NULL)
		return;
	client_drop_roles(c);
	upk_metadata_free(c->root);
	upk_metadata_free(c->timestamp);
	upk_metadata_free(c->snapshot);
	upk_metadata_free(c->targets);
	free(c->metadata_dir);
	free(c->metadata_url);
	free(c->target_url);
	free(c);
}

upk_status client_read_local(struct upk_client *c, const char *file, enum upk_role_type type,
                             uint64_t max, char **buf, size_t *len, struct upk_metadata **md)
{
	upk_status ret;

	ret = store_read(c->metadata_dir, file, max, buf, len, NULL);
	if (ret != UPK_OK)
		return ret;
	ret = upk_metadata_parse(*buf, *len, type, NULL, md, NULL);
	if (ret != UPK_OK) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

upk_status upk_client_refresh(struct upk_client *c, struct upk_error *err)
{
	struct upk_metadata *targets = NULL;
	upk_status ret;

	/* Spec 5.1: one start time for every expiry check of this cycle. */
	c->now = c->clock != NULL ? c->clock(c->clock_ctx) : time(NULL);
	c->refreshed = 0;
	/* What is trusted is re-read from the store by each step. */
	client_drop_roles(c);
	upk_metadata_free(c->timestamp);
	upk_metadata_free(c->snapshot);
	upk_metadata_free(c->targets);
	c->timestamp = c->snapshot = c->targets = NULL;

	ret = client_update_root(c, err);
	if (ret == UPK_OK)
		ret = client_update_timestamp(c, err);
	if (ret == UPK_OK)
		ret = client_update_snapshot(c, err);
	if (ret == UPK_OK)
		ret = client_load_targets(c, "targets", NULL, &targets, err);
	if (ret != UPK_OK)
		return ret;
	c->refreshed = 1;
	return UPK_OK;
}

const struct upk_metadata *upk_client_trusted(const struct upk_client *c, const char *role)
{
	if (strcmp(role, "root") == 0)
		return c->root;
	if (strcmp(role, "timestamp") == 0)
		return c->timestamp;
	if (strcmp(role, "snapshot") == 0)
		return c->snapshot;
	if (strcmp(role, "targets") == 0)
		return c->targets;
	return NULL;
}

time_t upk_client_update_time(const struct upk_client *c)
{
	return c->now;
}

upk_status client_check_expiry(const struct upk_client *c, const char *role,
                               const struct upk_metadata *md, struct upk_error *err)
{
	char expires[21], now[21];

	if (!upk_metadata_is_expired(md, c->now))
		return UPK_OK;
	upk_time_format(upk_metadata_expires(md), expires);
	upk_time_format(c->now, now);
	return upk_error_set(err, UPK_ERR_EXPIRED,
	                     "%s v%lld: expired at %s (update started %s): possible freeze attack",
	                     role, (long long)upk_metadata_version(md), expires, now);
}
