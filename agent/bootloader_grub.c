/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GRUB backend: a boot-once entry in the GRUB environment block.
 * upkeep_default is the committed slot, upkeep_once the slot to try on the
 * next boot only; GRUB moves it to upkeep_trial as it boots it, so an
 * uncommitted trial falls back by itself. Rules: docs/bootloader.md.
 */
#include <stdlib.h>
#include <string.h>

#include "bootloader.h"
#include "grubenv.h"

#define VAR_DEFAULT "upkeep_default"
#define VAR_ONCE "upkeep_once"
#define VAR_TRIAL "upkeep_trial"

struct grub_bl {
	struct bootloader base;
	char *path;
};

/* NULL and "" both mean unset: GRUB's save_env writes empty values. */
static const char *var(const struct grubenv *env, const char *name)
{
	const char *v = grubenv_get(env, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static upk_status env_state(const struct grubenv *env, struct boot_state *st, struct upk_error *err)
{
	const char *def = var(env, VAR_DEFAULT), *once = var(env, VAR_ONCE);
	const char *trial = var(env, VAR_TRIAL);
	upk_status ret;

	memset(st, 0, sizeof(*st));
	if (def == NULL)
		return upk_error_set(err, UPK_ERR_NOT_FOUND,
		                     "variable " VAR_DEFAULT
		                     " is not set: run `grub-editenv FILE set " VAR_DEFAULT
		                     "=<first slot>` once (see docs/bootloader.md)");
	ret = boot_name_copy(st->committed, def, VAR_DEFAULT, err);
	if (ret != UPK_OK)
		return ret;
	strcpy(st->booted, st->committed);
	strcpy(st->next, st->committed);
	if (once != NULL) {
		st->armed = 1;
		return boot_name_copy(st->next, once, VAR_ONCE, err);
	}
	if (trial != NULL) {
		st->trial = 1;
		return boot_name_copy(st->booted, trial, VAR_TRIAL, err);
	}
	return UPK_OK;
}

static upk_status grub_state(struct bootloader *base, struct boot_state *out, struct upk_error *err)
{
	struct grub_bl *bl = (struct grub_bl *)base;
	struct grubenv *env = NULL;
	upk_status ret;

	ret = grubenv_read(bl->path, &env, err);
	if (ret == UPK_OK)
		ret = env_state(env, out, err);
	grubenv_free(env);
	return ret;
}

static upk_status grub_set_trial(struct bootloader *base, const char *slot, struct upk_error *err)
{
	struct grub_bl *bl = (struct grub_bl *)base;
	struct grubenv *env = NULL;
	struct boot_state st;
	upk_status ret;

	if (!agent_config_name_valid(slot))
		return upk_error_set(err, UPK_ERR_INVALID, "\"%s\" is not a slot name", slot);
	ret = grubenv_read(bl->path, &env, err);
	if (ret != UPK_OK)
		goto out;
	ret = env_state(env, &st, err);
	if (ret != UPK_OK)
		goto out;
	if (st.trial) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "slot %s is running on trial: commit or roll back first",
		                    st.booted);
		goto out;
	}
	if (strcmp(slot, st.committed) == 0) {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "slot %s is the committed slot, not a trial candidate", slot);
		goto out;
	}
	ret = grubenv_set(env, VAR_ONCE, slot, err);
	if (ret == UPK_OK)
		ret = grubenv_write(env, bl->path, err);
out:
	grubenv_free(env);
	return ret;
}

static upk_status grub_commit(struct bootloader *base, const char *slot, struct upk_error *err)
{
	struct grub_bl *bl = (struct grub_bl *)base;
	struct grubenv *env = NULL;
	struct boot_state st;
	upk_status ret;

	ret = grubenv_read(bl->path, &env, err);
	if (ret != UPK_OK)
		goto out;
	ret = env_state(env, &st, err);
	if (ret != UPK_OK)
		goto out;
	if (!st.trial && !st.armed && strcmp(st.committed, slot) == 0)
		goto out; /* already committed */
	if (!st.trial || strcmp(st.booted, slot) != 0) {
		ret = upk_error_set(
		    err, UPK_ERR_INVALID, "slot %s is not running on trial (committed %s, %s)",
		    slot, st.committed, st.armed ? "a trial is armed but not booted" : "no trial");
		goto out;
	}
	/* One block write: the new default and the end of the trial land together. */
	if ((ret = grubenv_set(env, VAR_DEFAULT, slot, err)) != UPK_OK ||
	    (ret = grubenv_set(env, VAR_TRIAL, NULL, err)) != UPK_OK)
		goto out;
	ret = grubenv_write(env, bl->path, err);
out:
	grubenv_free(env);
	return ret;
}

static upk_status grub_rollback(struct bootloader *base, struct upk_error *err)
{
	struct grub_bl *bl = (struct grub_bl *)base;
	struct grubenv *env = NULL;
	upk_status ret;

	ret = grubenv_read(bl->path, &env, err);
	if (ret != UPK_OK)
		goto out;
	if (var(env, VAR_ONCE) == NULL && var(env, VAR_TRIAL) == NULL)
		goto out; /* nothing to undo */
	if ((ret = grubenv_set(env, VAR_ONCE, NULL, err)) != UPK_OK ||
	    (ret = grubenv_set(env, VAR_TRIAL, NULL, err)) != UPK_OK)
		goto out;
	ret = grubenv_write(env, bl->path, err);
out:
	grubenv_free(env);
	return ret;
}

static void grub_free(struct bootloader *base)
{
	struct grub_bl *bl = (struct grub_bl *)base;

	free(bl->path);
	free(bl);
}

static const struct bootloader_ops grub_ops = {
    .name = "GRUB",
    .state = grub_state,
    .set_trial = grub_set_trial,
    .commit = grub_commit,
    .rollback = grub_rollback,
    .free = grub_free,
};

upk_status bootloader_open_grub(const struct config_bootloader *cfg, struct bootloader **out,
                                struct upk_error *err)
{
	struct grub_bl *bl = calloc(1, sizeof(*bl));

	if (bl == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	bl->base.ops = &grub_ops;
	bl->path = strdup(cfg->grubenv != NULL ? cfg->grubenv : "/boot/grub/grubenv");
	if (bl->path == NULL) {
		free(bl);
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	}
	*out = &bl->base;
	return UPK_OK;
}
