/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upkeep-bootsim: a boot simulator for tests. One run is one boot: it applies
 * to the environment exactly the rules that the reference U-Boot and GRUB
 * scripts of docs/bootloader.md apply, writes what the kernel command line
 * would hold, and prints which slot booted. Reboot cycles become testable
 * end to end without hardware.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootloader.h"
#include "fileio.h"
#include "grubenv.h"

static const char usage[] =
    "usage: upkeep-bootsim [--cmdline FILE] [--default-env FILE] uboot FW_ENV_CONFIG\n"
    "       upkeep-bootsim [--cmdline FILE] grub GRUBENV\n"
    "Simulates one boot with the rules of docs/bootloader.md: updates the\n"
    "environment, writes \"upkeep.slot=NAME\" to FILE (the kernel command line)\n"
    "and prints \"slot=NAME trial=0|1 fallback=0|1\".\n";

static unsigned long ulong_var(struct uboot_env *env, const char *name)
{
	char *v = uboot_env_get(env, name);
	unsigned long n = v != NULL ? strtoul(v, NULL, 10) : 0;

	free(v);
	return n;
}

static upk_status set_ul(struct uboot_env *env, const char *name, unsigned long n,
                         struct upk_error *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lu", n);
	return uboot_env_set(env, name, buf, err);
}

/* U-Boot with CONFIG_BOOTCOUNT_LIMIT + CONFIG_BOOTCOUNT_ENV and the reference script. */
static upk_status boot_uboot(const char *config, const char *default_env, char *slot, int *trial,
                             int *fallback, struct upk_error *err)
{
	struct uboot_env *env = NULL;
	unsigned long upgrade, count, limit;
	char *boot = NULL, *fb = NULL;
	upk_status ret;

	ret = uboot_env_open(config, default_env, &env, err);
	if (ret != UPK_OK)
		return ret;
	/* Rule 1: bootcount counts (and is saved) only while upgrade_available is set. */
	upgrade = ulong_var(env, "upgrade_available");
	count = upgrade ? ulong_var(env, "bootcount") + 1 : 1;
	if (upgrade && (ret = set_ul(env, "bootcount", count, err)) != UPK_OK)
		goto out;
	/* Rule 2: past bootlimit, altbootcmd runs instead of bootcmd: back to the fallback. */
	limit = ulong_var(env, "bootlimit");
	if (limit != 0 && count > limit) {
		fb = uboot_env_get(env, "upkeep_fallback");
		if (fb == NULL) {
			ret = upk_error_set(err, UPK_ERR_INVALID,
			                    "altbootcmd: upkeep_fallback is not set");
			goto out;
		}
		if ((ret = uboot_env_set(env, "upkeep_boot", fb, err)) != UPK_OK ||
		    (ret = set_ul(env, "upgrade_available", 0, err)) != UPK_OK ||
		    (ret = set_ul(env, "bootcount", 0, err)) != UPK_OK)
			goto out;
		*fallback = 1;
	}
	/*
	 * U-Boot saves after rule 1 and again in altbootcmd; the end state is the
	 * same, and one store per open is what libubootenv handles reliably with
	 * a redundant environment.
	 */
	if (upgrade && (ret = uboot_env_store(env, err)) != UPK_OK)
		goto out;
	if (*fallback)
		upgrade = 0;
	/* Rule 3: bootcmd boots upkeep_boot and passes upkeep.slot=<it> to the kernel. */
	boot = uboot_env_get(env, "upkeep_boot");
	if (boot == NULL || !agent_config_name_valid(boot)) {
		ret = upk_error_set(err, UPK_ERR_INVALID, "upkeep_boot is %s: nothing to boot",
		                    boot == NULL ? "unset" : "not a slot name");
		goto out;
	}
	strcpy(slot, boot);
	*trial = upgrade != 0;
out:
	free(boot);
	free(fb);
	uboot_env_close(env);
	return ret;
}

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* GRUB with the reference grub.cfg snippet. */
static upk_status boot_grub(const char *path, char *slot, int *trial, int *fallback,
                            struct upk_error *err)
{
	struct grubenv *env = NULL;
	const char *once, *def, *tr;
	char chosen[BOOT_NAME_MAX + 1];
	upk_status ret;

	ret = grubenv_read(path, &env, err);
	if (ret != UPK_OK)
		return ret;
	once = grubenv_get(env, "upkeep_once");
	def = grubenv_get(env, "upkeep_default");
	tr = grubenv_get(env, "upkeep_trial");
	if (set(once)) {
		/* Rule 1: a boot-once entry is consumed before it boots, and marked as a trial. */
		ret = boot_name_copy(chosen, once, "upkeep_once", err);
		if (ret == UPK_OK)
			ret = grubenv_set(env, "upkeep_trial", chosen, err);
		if (ret == UPK_OK)
			ret = grubenv_set(env, "upkeep_once", "", err);
		if (ret == UPK_OK)
			ret = grubenv_write(env, path, err);
		*trial = 1;
	} else {
		/* Rule 2: otherwise the default boots; a trial left uncommitted has failed. */
		ret = boot_name_copy(chosen, def, "upkeep_default", err);
		if (ret == UPK_OK && set(tr)) {
			*fallback = 1;
			ret = grubenv_set(env, "upkeep_trial", "", err);
			if (ret == UPK_OK)
				ret = grubenv_write(env, path, err);
		}
	}
	if (ret == UPK_OK)
		strcpy(slot, chosen);
	grubenv_free(env);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmdline = NULL, *default_env = NULL;
	char slot[BOOT_NAME_MAX + 1] = "";
	int trial = 0, fallback = 0, i = 1;
	struct upk_error err = {0};
	upk_status ret;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--cmdline") == 0)
			cmdline = argv[i + 1];
		else if (strcmp(argv[i], "--default-env") == 0)
			default_env = argv[i + 1];
		else
			break;
	}
	if (argc - i != 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[i], "uboot") == 0) {
		ret = boot_uboot(argv[i + 1], default_env, slot, &trial, &fallback, &err);
	} else if (strcmp(argv[i], "grub") == 0) {
		ret = boot_grub(argv[i + 1], slot, &trial, &fallback, &err);
	} else {
		fputs(usage, stderr);
		return 2;
	}
	if (ret == UPK_OK && cmdline != NULL) {
		char line[128];
		int n = snprintf(line, sizeof(line), "console=ttyS0 upkeep.slot=%s\n", slot);
		ret = fio_write_file_atomic(cmdline, line, (size_t)n, 0644, &err);
	}
	if (ret != UPK_OK) {
		fprintf(stderr, "upkeep-bootsim: %s\n", err.msg);
		return 1;
	}
	printf("slot=%s trial=%d fallback=%d\n", slot, trial, fallback);
	return 0;
}
