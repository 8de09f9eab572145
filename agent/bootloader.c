/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Choosing a bootloader backend and calling it. The backends themselves are
 * in bootloader_uboot.c, bootloader_grub.c and bootloader_script.c.
 */
#include <string.h>

#include "bootloader.h"

upk_status bootloader_open(const struct config_bootloader *cfg, struct bootloader **out,
                           struct upk_error *err)
{
	switch (cfg->type) {
	case BOOTLOADER_UBOOT:
		return bootloader_open_uboot(cfg, out, err);
	case BOOTLOADER_GRUB:
		return bootloader_open_grub(cfg, out, err);
	case BOOTLOADER_SCRIPT:
		return bootloader_open_script(cfg, out, err);
	case BOOTLOADER_NONE:
		break;
	}
	return upk_error_set(err, UPK_ERR_INVALID, "no bootloader configured ([bootloader] type)");
}

upk_status boot_name_copy(char dst[BOOT_NAME_MAX + 1], const char *src, const char *what,
                          struct upk_error *err)
{
	if (src == NULL || !agent_config_name_valid(src))
		return upk_error_set(err, UPK_ERR_INVALID, "%s \"%.64s\" is not a slot name", what,
		                     src != NULL ? src : "(unset)");
	memcpy(dst, src, strlen(src) + 1);
	return UPK_OK;
}

upk_status bootloader_state(struct bootloader *bl, struct boot_state *out, struct upk_error *err)
{
	struct boot_state st;
	upk_status ret;

	memset(&st, 0, sizeof(st));
	ret = bl->ops->state(bl, &st, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: ", bl->ops->name);
	*out = st;
	return UPK_OK;
}

upk_status bootloader_set_trial(struct bootloader *bl, const char *slot, struct upk_error *err)
{
	upk_status ret = bl->ops->set_trial(bl, slot, err);

	if (ret != UPK_OK)
		return upk_error_prefix(
		    err, ret, "%s: arming a trial boot of slot %s: ", bl->ops->name, slot);
	return UPK_OK;
}

upk_status bootloader_commit(struct bootloader *bl, const char *slot, struct upk_error *err)
{
	upk_status ret = bl->ops->commit(bl, slot, err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: committing slot %s: ", bl->ops->name, slot);
	return UPK_OK;
}

upk_status bootloader_rollback(struct bootloader *bl, struct upk_error *err)
{
	upk_status ret = bl->ops->rollback(bl, err);

	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "%s: rolling back: ", bl->ops->name);
	return UPK_OK;
}

void bootloader_free(struct bootloader *bl)
{
	if (bl != NULL)
		bl->ops->free(bl);
}
