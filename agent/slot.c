/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A/B slots: which is running, which may be written, and opening the one to
 * write with the checks that keep the running system out of harm's way.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "fileio.h"
#include "slot.h"

upk_status slot_from_cmdline(const char *cmdline, char name[AGENT_CONFIG_NAME_MAX + 1],
                             struct upk_error *err)
{
	static const char key[] = "upkeep.slot=";
	const char *p = cmdline;

	while (*p != '\0') {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		end = p;
		if ((size_t)(end - start) > sizeof(key) - 1 &&
		    strncmp(start, key, sizeof(key) - 1) == 0) {
			size_t n = (size_t)(end - start) - (sizeof(key) - 1);
			char tmp[AGENT_CONFIG_NAME_MAX + 2];

			if (n > AGENT_CONFIG_NAME_MAX)
				return upk_error_set(
				    err, UPK_ERR_INVALID,
				    "kernel command line: upkeep.slot value longer than %u bytes",
				    AGENT_CONFIG_NAME_MAX);
			memcpy(tmp, start + sizeof(key) - 1, n);
			tmp[n] = '\0';
			if (!agent_config_name_valid(tmp))
				return upk_error_set(
				    err, UPK_ERR_INVALID,
				    "kernel command line: upkeep.slot=%s is not a slot name", tmp);
			memcpy(name, tmp, n + 1);
			return UPK_OK;
		}
	}
	return upk_error_set(err, UPK_ERR_NOT_FOUND, "no upkeep.slot= on the kernel command line");
}

upk_status slot_resolve(const struct agent_config *cfg, struct bootloader *bl,
                        struct slot_view *out, struct upk_error *err)
{
	struct slot_view v;
	char name[AGENT_CONFIG_NAME_MAX + 1];
	char *cmdline = NULL;
	upk_status ret;

	memset(&v, 0, sizeof(v));
	if (cfg->n_slots != 2)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "%s: %zu slots configured, an A/B pair needs 2", cfg->source,
		                     cfg->n_slots);
	ret = bootloader_state(bl, &v.boot, err);
	if (ret != UPK_OK)
		return ret;
	ret = fio_read_file(cfg->cmdline, 64 * 1024, &cmdline, NULL, err);
	if (ret == UPK_OK) {
		ret = slot_from_cmdline(cmdline, name, err);
		free(cmdline);
	}
	if (ret == UPK_OK) {
		v.source = SLOT_FROM_CMDLINE;
		v.mismatch = strcmp(name, v.boot.booted) != 0;
	} else if (ret == UPK_ERR_NOT_FOUND) {
		/* No command line entry (or no such file): the bootloader's word counts. */
		v.source = SLOT_FROM_BOOTLOADER;
		memcpy(name, v.boot.booted, sizeof(name));
	} else {
		return ret;
	}
	v.active = agent_config_find_slot(cfg, name);
	if (v.active == NULL)
		return upk_error_set(
		    err, UPK_ERR_INVALID,
		    "running slot \"%s\" (from the %s) is not one of the configured slots %s and "
		    "%s",
		    name, v.source == SLOT_FROM_CMDLINE ? "kernel command line" : "bootloader",
		    cfg->slots[0].name, cfg->slots[1].name);
	v.inactive = v.active == &cfg->slots[0] ? &cfg->slots[1] : &cfg->slots[0];
	if (agent_config_find_slot(cfg, v.boot.committed) == NULL)
		return upk_error_set(err, UPK_ERR_INVALID,
		                     "the bootloader's committed slot \"%s\" is not configured",
		                     v.boot.committed);
	*out = v;
	return UPK_OK;
}

upk_status slot_open_write(const struct config_slot *slot, int *fd, uint64_t *capacity,
                           struct upk_error *err)
{
	struct stat st, root;
	uint64_t cap = UINT64_MAX;
	int f = -1;
	upk_status ret;

	ret = fio_open(slot->device, O_WRONLY, 0, &f, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "slot %s: ", slot->name);
	if (fstat(f, &st) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "slot %s: stat %s: %s", slot->name,
		                    slot->device, strerror(errno));
		goto out;
	}
	if (S_ISBLK(st.st_mode)) {
		/* Last line of defence: never write the device the running root lives on. */
		if (stat("/", &root) == 0 && root.st_dev == st.st_rdev) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "slot %s: %s holds the running root file system",
			                    slot->name, slot->device);
			goto out;
		}
		if (ioctl(f, BLKGETSIZE64, &cap) != 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "slot %s: size of %s: %s", slot->name,
			                    slot->device, strerror(errno));
			goto out;
		}
		if (slot->size != 0 && slot->size < cap)
			cap = slot->size;
	} else if (S_ISREG(st.st_mode)) {
		if (slot->size != 0)
			cap = slot->size;
	} else {
		ret = upk_error_set(err, UPK_ERR_INVALID,
		                    "slot %s: %s is neither a block device nor a regular file",
		                    slot->name, slot->device);
		goto out;
	}
	*fd = f;
	f = -1;
	*capacity = cap;
out:
	fio_close_quiet(&f);
	return ret;
}
