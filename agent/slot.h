/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots: the two halves of an A/B pair, on block devices or regular files.
 * Which one runs (active) and which one may be written (inactive) is what
 * the kernel command line and the bootloader report, never a guess.
 */
#ifndef UPKEEP_AGENT_SLOT_H
#define UPKEEP_AGENT_SLOT_H

#include <stdint.h>

#include "bootloader.h"
#include "agent_config.h"

/* How the running slot was determined. */
enum slot_source {
	SLOT_FROM_CMDLINE = 1,    /* upkeep.slot=NAME on the kernel command line */
	SLOT_FROM_BOOTLOADER = 2, /* the bootloader environment (no cmdline entry) */
};

struct slot_view {
	const struct config_slot *active;   /* running now */
	const struct config_slot *inactive; /* the other one: the only one ever written */
	struct boot_state boot;             /* the bootloader's view */
	enum slot_source source;
	/*
	 * 1 when the kernel command line and the bootloader disagree about the
	 * running slot (e.g. the bootloader counts a trial of B while A runs):
	 * the trial did not take, whatever the environment says.
	 */
	int mismatch;
};

/*
 * Resolve active and inactive from cfg->cmdline and the bootloader. Needs
 * exactly two slots (UPK_ERR_INVALID otherwise). A command line naming a
 * slot that is not configured is UPK_ERR_INVALID.
 */
upk_status slot_resolve(const struct agent_config *cfg, struct bootloader *bl,
                        struct slot_view *out, struct upk_error *err);

/*
 * The slot named on a kernel command line (upkeep.slot=NAME), copied into
 * name; UPK_ERR_NOT_FOUND when there is none. Exposed for tests.
 */
upk_status slot_from_cmdline(const char *cmdline, char name[AGENT_CONFIG_NAME_MAX + 1],
                             struct upk_error *err);

/*
 * Open a slot for writing (O_WRONLY, no O_TRUNC: block devices cannot be
 * truncated and files behave the same). The device must exist; it is never
 * created, so a typo cannot fill /dev with a regular file. A block device
 * that holds the running root file system is refused. *capacity is the
 * block device size, or the configured size, or UINT64_MAX for files without
 * one.
 */
upk_status slot_open_write(const struct config_slot *slot, int *fd, uint64_t *capacity,
                           struct upk_error *err);

#endif
