/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `upkeepd install-image` and `upkeepd install-archive`: install a local
 * payload whose SHA-256 the operator vouches for, through the same
 * installers, slots and bootloader the update state machine uses.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fileio.h"
#include "health.h"
#include "installer.h"
#include "journal.h"
#include "slot.h"

static const char image_usage[] =
    "usage: upkeepd [--config FILE] install-image --sha256 HEX [--version V] [--raw|--zstd] FILE\n"
    "Streams FILE (raw, or zstd by its magic) into the inactive slot, reads it\n"
    "back, checks it, and arms one trial boot of that slot. Reboot to try it,\n"
    "then `upkeepd commit` (or let the bootloader fall back).\n";

static const char archive_usage[] =
    "usage: upkeepd [--config FILE] install-archive --sha256 HEX NAME VERSION FILE\n"
    "Unpacks the tar (optionally zstd) FILE as version VERSION of bundle NAME,\n"
    "switches ARCHIVE_DIR/NAME/current to it, runs the health check, and\n"
    "commits, or rolls back to the previous version when the check fails.\n";

/* Feed a file to an installer in fixed chunks: memory does not grow with the file. */
static upk_status stream_file(const char *path, struct installer *in, struct upk_error *err)
{
	static unsigned char buf[256 * 1024];
	int fd = -1;
	upk_status ret;

	ret = fio_open(path, O_RDONLY, 0, &fd, err);
	while (ret == UPK_OK) {
		size_t got = 0;

		ret = fio_read_full(fd, buf, sizeof(buf), &got, path, err);
		if (ret != UPK_OK || got == 0)
			break;
		ret = installer_write(in, buf, got, err);
	}
	fio_close_quiet(&fd);
	return ret;
}

/* Options shared by both commands; positional arguments are left in pos[]. */
struct install_args {
	const char *sha256, *version;
	enum decomp_mode decomp;
	const char *pos[3];
	int npos;
};

static int parse_args(int argc, char **argv, int allow_image_opts, struct install_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sha256") == 0 && i + 1 < argc)
			a->sha256 = argv[++i];
		else if (allow_image_opts && strcmp(argv[i], "--version") == 0 && i + 1 < argc)
			a->version = argv[++i];
		else if (allow_image_opts && strcmp(argv[i], "--raw") == 0)
			a->decomp = DECOMP_RAW;
		else if (allow_image_opts && strcmp(argv[i], "--zstd") == 0)
			a->decomp = DECOMP_ZSTD;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return -1;
		else if (a->npos < 3)
			a->pos[a->npos++] = argv[i];
		else
			return -1;
	}
	return a->sha256 != NULL ? 0 : -1;
}

int agent_cmd_install_image(const char *config_path, int argc, char **argv)
{
	struct install_args a;
	struct agent_config *cfg = NULL;
	struct bootloader *bl = NULL;
	struct journal *j = NULL;
	struct installer *in = NULL;
	struct slot_view v;
	struct upk_error err = {0};
	struct image_opts o;
	char *state = NULL;
	int rc = 1;

	if (agent_cmd_wants_help(argc, argv, image_usage))
		return 0;
	if (parse_args(argc, argv, 1, &a) != 0 || a.npos != 1)
		return agent_cmd_usage("install-image", image_usage);
	memset(&o, 0, sizeof(o));
	if (payload_expect_sha256_hex(&o.expect, a.sha256, &err) != UPK_OK)
		return agent_cmd_fail("install-image", &err);
	cfg = agent_cmd_load_config("install-image", config_path);
	if (cfg == NULL)
		return 1;
	state = agent_cmd_state_path(cfg);
	if (state == NULL || fio_mkdir_p(cfg->data_dir, 0700, &err) != UPK_OK ||
	    journal_open(state, &j, &err) != UPK_OK ||
	    bootloader_open(&cfg->bootloader, &bl, &err) != UPK_OK ||
	    slot_resolve(cfg, bl, &v, &err) != UPK_OK)
		goto fail;
	if (v.boot.trial || v.mismatch) {
		upk_error_set(&err, UPK_ERR_INVALID,
		              "slot %s is on trial: commit or roll back before installing",
		              v.boot.booted);
		goto fail;
	}
	/* Never leave the bootloader armed for a slot that is about to be overwritten. */
	if (v.boot.armed && bootloader_rollback(bl, &err) != UPK_OK)
		goto fail;
	o.slot = v.inactive;
	o.decomp = a.decomp;
	o.version = a.version;
	o.journal = j;
	if (installer_image_begin(&o, &in, &err) != UPK_OK ||
	    stream_file(a.pos[0], in, &err) != UPK_OK || installer_finish(in, &err) != UPK_OK)
		goto fail;
	/* Recorded before the bootloader is touched: a crash in between leaves a known state. */
	/* The same update record the state machine keeps: `commit`/`resume` finish it. */
	if (journal_set(j, "update",
	                json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "type", "image", "name",
	                          "image", "target", a.pos[0], "version",
	                          a.version != NULL ? a.version : "local", "security_version",
	                          (json_int_t)0, "slot", v.inactive->name, "sha256",
	                          installer_image_sha256(in), "phase", "rebooting"),
	                &err) != UPK_OK ||
	    journal_commit(j, &err) != UPK_OK ||
	    bootloader_set_trial(bl, v.inactive->name, &err) != UPK_OK)
		goto fail;
	printf("installed %s into slot %s (%llu bytes, sha256 %s); trial boot armed: reboot to try "
	       "it\n",
	       a.version != NULL ? a.version : a.pos[0], v.inactive->name,
	       (unsigned long long)installer_image_size(in), installer_image_sha256(in));
	rc = 0;
	goto out;
fail:
	rc = agent_cmd_fail("install-image", &err);
out:
	installer_free(in);
	journal_free(j);
	bootloader_free(bl);
	agent_config_free(cfg);
	free(state);
	return rc;
}

int agent_cmd_install_archive(const char *config_path, int argc, char **argv)
{
	struct install_args a;
	struct agent_config *cfg = NULL;
	struct installer *in = NULL;
	struct upk_error err = {0}, herr = {0};
	struct archive_opts o;
	int rc = 1;

	if (agent_cmd_wants_help(argc, argv, archive_usage))
		return 0;
	if (parse_args(argc, argv, 0, &a) != 0 || a.npos != 3)
		return agent_cmd_usage("install-archive", archive_usage);
	memset(&o, 0, sizeof(o));
	if (payload_expect_sha256_hex(&o.expect, a.sha256, &err) != UPK_OK)
		return agent_cmd_fail("install-archive", &err);
	cfg = agent_cmd_load_config("install-archive", config_path);
	if (cfg == NULL)
		return 1;
	o.root = cfg->archive_dir;
	o.name = a.pos[0];
	o.version = a.pos[1];
	o.max_bytes = cfg->archive_max_bytes;
	o.max_entries = cfg->archive_max_entries;
	if (installer_archive_begin(&o, &in, &err) != UPK_OK ||
	    stream_file(a.pos[2], in, &err) != UPK_OK || installer_finish(in, &err) != UPK_OK ||
	    archive_switch(o.root, o.name, o.version, &err) != UPK_OK)
		goto fail;
	if (health_check(cfg, NULL, &herr) != UPK_OK) {
		if (archive_rollback(o.root, o.name, &err) != UPK_OK)
			goto fail;
		err = herr;
		upk_error_prefix(&err, err.code, "bundle %s %s rolled back: ", o.name, o.version);
		goto fail;
	}
	if (archive_commit(o.root, o.name, &err) != UPK_OK)
		goto fail;
	printf("installed bundle %s version %s\n", o.name, o.version);
	rc = 0;
	goto out;
fail:
	rc = agent_cmd_fail("install-archive", &err);
out:
	installer_free(in);
	agent_config_free(cfg);
	return rc;
}
