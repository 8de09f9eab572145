/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bootloader backends with trial-boot semantics: the new slot is booted once
 * on trial, committed only after the health check, and the bootloader falls
 * back to the committed slot by itself otherwise. One file per backend
 * (bootloader_uboot.c, bootloader_grub.c, bootloader_script.c); the rules
 * each bootloader applies at boot are in docs/bootloader.md.
 */
#ifndef UPKEEP_AGENT_BOOTLOADER_H
#define UPKEEP_AGENT_BOOTLOADER_H

#include "agent_config.h"
#include "upkeep/error.h"

#define BOOT_NAME_MAX AGENT_CONFIG_NAME_MAX

/*
 * What the bootloader's environment says. Slot names are the bootloader's
 * (the [slot.NAME] names of the configuration); "" when unknown.
 */
struct boot_state {
	char committed[BOOT_NAME_MAX + 1]; /* the known-good slot, the fallback */
	char booted[BOOT_NAME_MAX + 1];    /* the slot running now, as the environment implies */
	char next[BOOT_NAME_MAX + 1];      /* the slot the next boot will start */
	int armed;                         /* a trial of `next` is set up but not booted yet */
	int trial;                         /* `booted` runs on trial: commit or roll back */
};

struct bootloader;

struct bootloader_ops {
	const char *name;
	upk_status (*state)(struct bootloader *bl, struct boot_state *out, struct upk_error *err);
	/* Arm one trial boot of slot; the committed slot stays the fallback. */
	upk_status (*set_trial)(struct bootloader *bl, const char *slot, struct upk_error *err);
	/* Make slot (the one on trial) the committed slot. */
	upk_status (*commit)(struct bootloader *bl, const char *slot, struct upk_error *err);
	/* Drop any trial (armed or running): the next boot starts the committed slot. */
	upk_status (*rollback)(struct bootloader *bl, struct upk_error *err);
	void (*free)(struct bootloader *bl);
};

struct bootloader {
	const struct bootloader_ops *ops;
};

/*
 * Open the backend the configuration names (UPK_ERR_INVALID for none). The
 * environment is only read when an operation needs it, so opening succeeds
 * on a device whose environment is not set up yet.
 */
upk_status bootloader_open(const struct config_bootloader *cfg, struct bootloader **out,
                           struct upk_error *err);

upk_status bootloader_open_uboot(const struct config_bootloader *cfg, struct bootloader **out,
                                 struct upk_error *err);
upk_status bootloader_open_grub(const struct config_bootloader *cfg, struct bootloader **out,
                                struct upk_error *err);
upk_status bootloader_open_script(const struct config_bootloader *cfg, struct bootloader **out,
                                  struct upk_error *err);

/* Thin dispatchers that add the backend's name to errors. */
upk_status bootloader_state(struct bootloader *bl, struct boot_state *out, struct upk_error *err);
upk_status bootloader_set_trial(struct bootloader *bl, const char *slot, struct upk_error *err);
upk_status bootloader_commit(struct bootloader *bl, const char *slot, struct upk_error *err);
upk_status bootloader_rollback(struct bootloader *bl, struct upk_error *err);
void bootloader_free(struct bootloader *bl);

/* Copy a slot name into a boot_state field; UPK_ERR_INVALID when it is not a valid name. */
upk_status boot_name_copy(char dst[BOOT_NAME_MAX + 1], const char *src, const char *what,
                          struct upk_error *err);

/*
 * U-Boot environment access through libubootenv, shared by the backend and
 * the boot simulator. default_env (may be NULL) is loaded when the stored
 * environment is missing or corrupt; without one that is an error, because
 * writing a fresh environment would drop U-Boot's own variables (bootcmd...).
 */
struct uboot_env;
upk_status uboot_env_open(const char *fw_env_config, const char *default_env,
                          struct uboot_env **out, struct upk_error *err);
/* malloc()ed value or NULL when unset. */
char *uboot_env_get(struct uboot_env *env, const char *name);
/* value NULL removes the variable. Changes are kept in memory until uboot_env_store. */
upk_status uboot_env_set(struct uboot_env *env, const char *name, const char *value,
                         struct upk_error *err);
/* Write all changes at once (one environment copy; with a redundant env the other stays valid). */
upk_status uboot_env_store(struct uboot_env *env, struct upk_error *err);
void uboot_env_close(struct uboot_env *env);

#endif
