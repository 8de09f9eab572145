/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "private_data.h"

static char *aside_name(const char *dir, struct upk_error *err)
{
	size_t n = strlen(dir) + sizeof(".wiping");
	char *p = malloc(n);

	if (p == NULL) {
		upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		return NULL;
	}
	snprintf(p, n, "%s.wiping", dir);
	return p;
}

upk_status private_data_ensure(const struct agent_config *cfg, struct upk_error *err)
{
	char *aside = aside_name(cfg->private_dir, err);
	upk_status ret;

	if (aside == NULL)
		return UPK_ERR_NOMEM;
	ret = fio_rmtree(aside, err);
	free(aside);
	if (ret != UPK_OK)
		return ret;
	ret = fio_mkdir_p(cfg->private_dir, 0700, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "private data area: ");
	/* An existing directory keeps its mode in fio_mkdir_p; owner data stays the agent's alone. */
	if (chmod(cfg->private_dir, 0700) != 0)
		return upk_error_set(err, UPK_ERR_IO, "chmod %s: %s", cfg->private_dir,
		                     strerror(errno));
	return UPK_OK;
}

upk_status private_data_wipe(const struct agent_config *cfg, struct upk_error *err)
{
	char *aside = aside_name(cfg->private_dir, err);
	struct stat st;
	upk_status ret = UPK_OK;

	if (aside == NULL)
		return UPK_ERR_NOMEM;
	if (lstat(cfg->private_dir, &st) == 0) {
		ret = fio_rmtree(aside, err);
		if (ret == UPK_OK)
			ret = fio_rename(cfg->private_dir, aside, err);
		if (ret == UPK_OK)
			ret = fio_fsync_parent(cfg->private_dir, err);
	} else if (errno != ENOENT) {
		ret = upk_error_set(err, UPK_ERR_IO, "stat %s: %s", cfg->private_dir,
		                    strerror(errno));
	}
	free(aside);
	if (ret == UPK_OK)
		ret = private_data_ensure(cfg, err);
	if (ret == UPK_OK)
		ret = fio_fsync_parent(cfg->private_dir, err);
	if (ret != UPK_OK)
		return upk_error_prefix(err, ret, "wiping the owner-private data: ");
	return UPK_OK;
}
