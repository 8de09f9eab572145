/* SPDX-License-Identifier: Apache-2.0 */
/*
 * U-Boot backend: trial boots with U-Boot's own boot counter
 * (CONFIG_BOOTCOUNT_LIMIT with CONFIG_BOOTCOUNT_ENV): upgrade_available,
 * bootcount, bootlimit and an altbootcmd that falls back. The environment is
 * read and written through libubootenv. Variables and rules: docs/bootloader.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libuboot.h>

#include "bootloader.h"

#define VAR_BOOT "upkeep_boot"
#define VAR_FALLBACK "upkeep_fallback"
#define VAR_UPGRADE "upgrade_available"
#define VAR_COUNT "bootcount"
#define VAR_LIMIT "bootlimit"

struct uboot_env {
	struct uboot_ctx *ctx;
	char *config;
};

upk_status uboot_env_open(const char *fw_env_config, const char *default_env,
                          struct uboot_env **out, struct upk_error *err)
{
	struct uboot_env *env = calloc(1, sizeof(*env));
	upk_status ret = UPK_OK;
	int r;

	if (env == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	env->config = strdup(fw_env_config);
	if (env->config == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * libuboot_open() takes the lock fw_setenv and fw_printenv use
	 * (/var/lock/fw_printenv.lock) and holds it until libuboot_close().
	 */
	if (libuboot_initialize(&env->ctx, NULL) < 0) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "libubootenv: cannot initialize");
		goto out;
	}
	r = libuboot_read_config(env->ctx, fw_env_config);
	if (r < 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "cannot use %s: %s", fw_env_config,
		                    strerror(-r));
		goto out;
	}
	r = libuboot_open(env->ctx);
	if (r < 0) {
		if (default_env == NULL) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "no valid U-Boot environment in the devices of %s (%s) "
			                    "and no default_env configured",
			                    fw_env_config, strerror(-r));
			goto out;
		}
		r = libuboot_load_file(env->ctx, default_env);
		if (r < 0) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "no valid U-Boot environment in %s, and the default "
			                    "environment %s cannot be loaded (%s)",
			                    fw_env_config, default_env, strerror(-r));
			goto out;
		}
	}
	*out = env;
	env = NULL;
out:
	uboot_env_close(env);
	return ret;
}

char *uboot_env_get(struct uboot_env *env, const char *name)
{
	return libuboot_get_env(env->ctx, name);
}

upk_status uboot_env_set(struct uboot_env *env, const char *name, const char *value,
                         struct upk_error *err)
{
	int r = libuboot_set_env(env->ctx, name, value);

	if (r < 0)
		return upk_error_set(err, UPK_ERR_INVALID, "setting %s=%s: %s", name,
		                     value != NULL ? value : "(unset)", strerror(-r));
	return UPK_OK;
}

upk_status uboot_env_store(struct uboot_env *env, struct upk_error *err)
{
	/*
	 * libubootenv writes the whole environment into the inactive copy (with a
	 * redundant environment) and fsyncs it before returning, so a power cut
	 * leaves either the old or the new environment valid.
	 */
	int r = libuboot_env_store(env->ctx);

	if (r < 0)
		return upk_error_set(err, UPK_ERR_IO, "writing the U-Boot environment (%s): %s",
		                     env->config, strerror(-r));
	return UPK_OK;
}

void uboot_env_close(struct uboot_env *env)
{
	if (env == NULL)
		return;
	if (env->ctx != NULL) {
		libuboot_close(env->ctx);
		libuboot_exit(env->ctx);
	}
	free(env->config);
	free(env);
}

/* U-Boot reads these with simple_strtoul: leading digits count, anything else is 0. */
static unsigned long env_ulong(struct uboot_env *env, const char *name)
{
	char *v = uboot_env_get(env, name);
	unsigned long n = 0;

	if (v != NULL) {
		n = strtoul(v, NULL, 10);
		free(v);
	}
	return n;
}

struct uboot_bl {
	struct bootloader base;
	char *fw_env_config;
	char *default_env;
	unsigned bootlimit;
};

/* The parts of the environment this backend reads, in one consistent snapshot. */
struct uboot_view {
	char boot[BOOT_NAME_MAX + 1];
	char fallback[BOOT_NAME_MAX + 1];
	unsigned long upgrade, count, limit;
};

static upk_status read_view(struct uboot_env *env, struct uboot_view *v, struct upk_error *err)
{
	char *boot = uboot_env_get(env, VAR_BOOT);
	char *fb = NULL;
	upk_status ret;

	memset(v, 0, sizeof(*v));
	if (boot == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND,
		                     "variable " VAR_BOOT
		                     " is not set: the environment needs " VAR_BOOT
		                     "=<first slot> (see docs/bootloader.md)");
	ret = boot_name_copy(v->boot, boot, VAR_BOOT, err);
	free(boot);
	if (ret != UPK_OK)
		return ret;
	v->upgrade = env_ulong(env, VAR_UPGRADE);
	v->count = env_ulong(env, VAR_COUNT);
	v->limit = env_ulong(env, VAR_LIMIT);
	if (v->upgrade != 0) {
		fb = uboot_env_get(env, VAR_FALLBACK);
		ret = boot_name_copy(v->fallback, fb,
		                     VAR_FALLBACK " (needed while " VAR_UPGRADE "=1)", err);
		free(fb);
		if (ret != UPK_OK)
			return ret;
	}
	return UPK_OK;
}

static void view_to_state(const struct uboot_view *v, struct boot_state *st)
{
	memset(st, 0, sizeof(*st));
	if (v->upgrade == 0) {
		strcpy(st->committed, v->boot);
		strcpy(st->booted, v->boot);
		strcpy(st->next, v->boot);
		return;
	}
	strcpy(st->committed, v->fallback);
	if (v->count == 0) {
		/* Armed: U-Boot has not counted a boot of the new slot yet. */
		st->armed = 1;
		strcpy(st->booted, v->fallback);
		strcpy(st->next, v->boot);
		return;
	}
	st->trial = 1;
	strcpy(st->booted, v->boot);
	/* The next boot counts count+1; past the limit U-Boot runs altbootcmd. */
	strcpy(st->next, v->limit != 0 && v->count + 1 > v->limit ? v->fallback : v->boot);
}

static upk_status open_env(struct uboot_bl *bl, struct uboot_env **env, struct upk_error *err)
{
	return uboot_env_open(bl->fw_env_config, bl->default_env, env, err);
}

static upk_status uboot_state(struct bootloader *base, struct boot_state *out,
                              struct upk_error *err)
{
	struct uboot_bl *bl = (struct uboot_bl *)base;
	struct uboot_env *env = NULL;
	struct uboot_view v;
	upk_status ret;

	ret = open_env(bl, &env, err);
	if (ret == UPK_OK)
		ret = read_view(env, &v, err);
	if (ret == UPK_OK)
		view_to_state(&v, out);
	uboot_env_close(env);
	return ret;
}

static upk_status set_ulong(struct uboot_env *env, const char *name, unsigned long n,
                            struct upk_error *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lu", n);
	return uboot_env_set(env, name, buf, err);
}

static upk_status uboot_set_trial(struct bootloader *base, const char *slot, struct upk_error *err)
{
	struct uboot_bl *bl = (struct uboot_bl *)base;
	struct uboot_env *env = NULL;
	struct uboot_view v;
	struct boot_state st;
	upk_status ret;

	if (!agent_config_name_valid(slot))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not a slot name", slot);
	ret = open_env(bl, &env, err);
	if (ret != UPK_OK)
		goto out;
	ret = read_view(env, &v, err);
	if (ret != UPK_OK)
		goto out;
	view_to_state(&v, &st);
	if (st.trial) {
		ret = upk_error_set(
		    err, UPK_ERR_INVALID,
		    "slot %s is running on trial (bootcount %lu): commit or roll back first",
		    st.booted, v.count);
		goto out;
	}
	if (strcmp(slot, st.committed) == 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "slot %s is the committed slot, not a trial candidate", slot);
		goto out;
	}
	/* All in one store: U-Boot sees the old environment or the whole new one. */
	if ((ret = uboot_env_set(env, VAR_FALLBACK, st.committed, err)) != UPK_OK ||
	    (ret = uboot_env_set(env, VAR_BOOT, slot, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_COUNT, 0, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_LIMIT, bl->bootlimit, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_UPGRADE, 1, err)) != UPK_OK)
		goto out;
	ret = uboot_env_store(env, err);
out:
	uboot_env_close(env);
	return ret;
}

static upk_status uboot_commit(struct bootloader *base, const char *slot, struct upk_error *err)
{
	struct uboot_bl *bl = (struct uboot_bl *)base;
	struct uboot_env *env = NULL;
	struct uboot_view v;
	struct boot_state st;
	upk_status ret;

	ret = open_env(bl, &env, err);
	if (ret != UPK_OK)
		goto out;
	ret = read_view(env, &v, err);
	if (ret != UPK_OK)
		goto out;
	view_to_state(&v, &st);
	if (!st.trial && !st.armed && strcmp(st.committed, slot) == 0)
		goto out; /* already committed: commit is idempotent */
	if (!st.trial || strcmp(st.booted, slot) != 0) {
		ret = upk_error_set(
		    err, UPK_ERR_INVALID, "slot %s is not running on trial (committed %s, %s)",
		    slot, st.committed, st.armed ? "a trial is armed but not booted" : "no trial");
		goto out;
	}
	if ((ret = set_ulong(env, VAR_UPGRADE, 0, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_COUNT, 0, err)) != UPK_OK ||
	    (ret = uboot_env_set(env, VAR_FALLBACK, slot, err)) != UPK_OK)
		goto out;
	ret = uboot_env_store(env, err);
out:
	uboot_env_close(env);
	return ret;
}

static upk_status uboot_rollback(struct bootloader *base, struct upk_error *err)
{
	struct uboot_bl *bl = (struct uboot_bl *)base;
	struct uboot_env *env = NULL;
	struct uboot_view v;
	upk_status ret;

	ret = open_env(bl, &env, err);
	if (ret != UPK_OK)
		goto out;
	ret = read_view(env, &v, err);
	if (ret != UPK_OK || v.upgrade == 0)
		goto out; /* nothing armed or on trial: already rolled back */
	if ((ret = uboot_env_set(env, VAR_BOOT, v.fallback, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_UPGRADE, 0, err)) != UPK_OK ||
	    (ret = set_ulong(env, VAR_COUNT, 0, err)) != UPK_OK)
		goto out;
	ret = uboot_env_store(env, err);
out:
	uboot_env_close(env);
	return ret;
}

static void uboot_free(struct bootloader *base)
{
	struct uboot_bl *bl = (struct uboot_bl *)base;

	free(bl->fw_env_config);
	free(bl->default_env);
	free(bl);
}

static const struct bootloader_ops uboot_ops = {
    .name = "U-Boot",
    .state = uboot_state,
    .set_trial = uboot_set_trial,
    .commit = uboot_commit,
    .rollback = uboot_rollback,
    .free = uboot_free,
};

upk_status bootloader_open_uboot(const struct config_bootloader *cfg, struct bootloader **out,
                                 struct upk_error *err)
{
	struct uboot_bl *bl = calloc(1, sizeof(*bl));

	if (bl == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	bl->base.ops = &uboot_ops;
	bl->bootlimit = cfg->bootlimit ? cfg->bootlimit : 1;
	bl->fw_env_config =
	    strdup(cfg->fw_env_config != NULL ? cfg->fw_env_config : "/etc/fw_env.config");
	bl->default_env = cfg->default_env != NULL ? strdup(cfg->default_env) : NULL;
	if (bl->fw_env_config == NULL || (cfg->default_env != NULL && bl->default_env == NULL)) {
		uboot_free(&bl->base);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	*out = &bl->base;
	return UPK_OK;
}
