/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration file: an INI-like, line-oriented `key = value`
 * format with [sections]. The grammar, every key and its default are in
 * docs/agent.md; docs/agent.example.conf is a commented example.
 */
#ifndef UPKEEP_AGENT_AGENT_CONFIG_H
#define UPKEEP_AGENT_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "upkeep/error.h"

#define AGENT_CONFIG_MAX_BYTES (64u * 1024u)
#define AGENT_CONFIG_MAX_LINE 4096u
#define AGENT_CONFIG_MAX_SLOTS 2u
#define AGENT_CONFIG_MAX_MODULES 64u
#define AGENT_CONFIG_MAX_ATTRS 256u
#define AGENT_CONFIG_MAX_HEALTH 32u
#define AGENT_CONFIG_NAME_MAX 32u /* slot and module names */

#define AGENT_CONFIG_DEFAULT_PATH "/etc/upkeep/upkeepd.conf"

enum bootloader_type {
	BOOTLOADER_NONE = 0,
	BOOTLOADER_UBOOT = 1,
	BOOTLOADER_GRUB = 2,
	BOOTLOADER_SCRIPT = 3,
};

struct config_attr {
	char *key;
	char *value;
};

/* One half of the A/B pair. name is what the bootloader calls it ("A"). */
struct config_slot {
	char *name;
	char *device;  /* block device or regular file */
	uint64_t size; /* 0: the device's size (files: no limit) */
};

struct config_bootloader {
	enum bootloader_type type;
	char *fw_env_config; /* uboot */
	char *default_env;   /* uboot: env to start from when the stored one is invalid */
	unsigned bootlimit;  /* uboot: trial boots before the fallback */
	char *grubenv;       /* grub */
	char *command;       /* script */
	unsigned timeout_s;  /* script: per call */
};

struct config_module {
	char *name;
	char *handler;
	unsigned timeout_s; /* per step */
};

struct agent_config {
	char *source; /* file name, for messages */

	char *data_dir;
	char *private_dir; /* the current owner's data and data keys (docs/ownership.md) */
	char *key_path;
	char *server_url;  /* NULL when unset */
	char *hardware_id; /* NULL when unset */
	char *image_root;
	char *director_root;
	char *cmdline; /* where the booted slot is read (upkeep.slot=NAME) */
	char *reboot_command; /* run by /bin/sh to reboot into a trial; NULL: "reboot" */
	char *pre_install;    /* optional: must exit 0 before an install starts */
	unsigned poll_interval_s;

	struct config_attr *attrs;
	size_t n_attrs;

	struct config_slot slots[AGENT_CONFIG_MAX_SLOTS];
	size_t n_slots;

	struct config_bootloader bootloader;

	char **health_commands;
	size_t n_health;
	unsigned health_timeout_s;

	char *archive_dir;
	uint64_t archive_max_bytes;
	unsigned archive_max_entries;

	struct config_module *modules;
	size_t n_modules;
};

/*
 * Parse text[0..len) (name is used in messages, e.g. the file name). Unknown
 * sections and keys, repeated keys, bad values and missing required keys are
 * UPK_ERR_INVALID with "name:LINE: ..."; input over AGENT_CONFIG_MAX_BYTES or a
 * line over AGENT_CONFIG_MAX_LINE is UPK_ERR_TOO_LARGE. Defaults fill what is not
 * set. *out is the caller's (agent_config_free).
 */
upk_status agent_config_parse(const char *text, size_t len, const char *name,
                              struct agent_config **out, struct upk_error *err);

/* agent_config_parse() of a file; a missing file is UPK_ERR_NOT_FOUND. */
upk_status agent_config_load(const char *path, struct agent_config **out, struct upk_error *err);

void agent_config_free(struct agent_config *cfg);

const char *agent_config_bootloader_name(enum bootloader_type type);

/* The slot called name, or NULL. */
const struct config_slot *agent_config_find_slot(const struct agent_config *cfg, const char *name);
/* The module called name, or NULL. */
const struct config_module *agent_config_find_module(const struct agent_config *cfg,
                                                     const char *name);

/* 1 when s is a valid slot or module name: [A-Za-z0-9_-], 1 to AGENT_CONFIG_NAME_MAX bytes. */
int agent_config_name_valid(const char *s);

#endif
