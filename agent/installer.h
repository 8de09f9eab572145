/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Installers are sinks: begin (type-specific), then write() the payload in
 * order, chunk by chunk, as the verified download delivers it, then finish()
 * or abort. installer_sink() fits upk_sink_fn, so the TUF client's
 * upk_client_download_target() can feed an installer directly.
 *
 * Bytes reach an installer before the download's hash is known to be good,
 * so each installer stages them where nothing uses them (the inactive slot,
 * a .partial directory, the module's work directory) and checks length and
 * SHA-256 again in finish() before reporting success. Nothing is switched by
 * finish(): the caller does that, after finish() succeeded.
 */
#ifndef UPKEEP_AGENT_INSTALLER_H
#define UPKEEP_AGENT_INSTALLER_H

#include <stddef.h>
#include <stdint.h>

#include "agent_config.h"
#include "decompress.h"
#include "journal.h"
#include "upkeep/error.h"

/* What the payload (the bytes fed to write(), compressed or not) must be. */
struct payload_expect {
	uint64_t length; /* 0: not checked */
	int have_sha256;
	uint8_t sha256[32];
};

/* Parse 64 hex digits into e->sha256 (and set have_sha256). */
upk_status payload_expect_sha256_hex(struct payload_expect *e, const char *hex,
                                     struct upk_error *err);

struct installer;

struct installer_ops {
	const char *name;
	upk_status (*write)(struct installer *in, const void *data, size_t len,
	                    struct upk_error *err);
	upk_status (*finish)(struct installer *in, struct upk_error *err);
	/* Undo what write() staged; called by installer_free when finish() did not succeed. */
	void (*abort)(struct installer *in);
	void (*free)(struct installer *in);
};

struct installer {
	const struct installer_ops *ops;
	int finished; /* finish() succeeded */
	int failed;   /* a write() or finish() failed: every later call fails */
	uint64_t payload_bytes;
};

/* Feed len bytes. After a failure every later call fails too (the stream is broken). */
upk_status installer_write(struct installer *in, const void *data, size_t len,
                           struct upk_error *err);
/* An upk_sink_fn: ctx is the struct installer *. */
upk_status installer_sink(void *ctx, const void *data, size_t len, struct upk_error *err);
/* End of payload: flush, verify, make durable. Nothing is switched. */
upk_status installer_finish(struct installer *in, struct upk_error *err);
/* Abort (unless finished) and free. NULL is fine. */
void installer_free(struct installer *in);

/* Shared by the installers: the common state and payload hashing. */
upk_status installer_check_payload(const struct payload_expect *e, uint64_t got_len,
                                   const uint8_t got_sha256[32], struct upk_error *err);

/* ---- image: a file system image into the inactive slot ---- */

struct image_opts {
	const struct config_slot *slot; /* the inactive slot: the caller resolved it */
	struct payload_expect expect;
	enum decomp_mode decomp; /* DECOMP_AUTO: zstd by magic */
	const char *version;     /* recorded in the journal; may be NULL */
	struct journal *journal; /* may be NULL: then nothing is recorded */
	/*
	 * The caller checks the payload's length and hashes itself before it
	 * calls finish (the TUF download does, as the bytes stream): with an
	 * expected SHA-256 the installer then does not hash the payload a
	 * second time, and a raw image is read back against that SHA-256.
	 */
	int payload_checked;
};

/*
 * Open the slot and, when a journal is given, record it as "writing" (so it
 * can never look installed after a crash) before the first byte is written.
 * finish(): end of decompression, payload length and SHA-256 against expect,
 * fsync, drop the slot's cached pages, read the written image back and
 * compare its SHA-256 with what was written, then record "written" with the
 * image's SHA-256. Errors: UPK_ERR_HASH (payload or read-back mismatch),
 * UPK_ERR_TOO_LARGE (image bigger than the slot), UPK_ERR_IO.
 */
upk_status installer_image_begin(const struct image_opts *opts, struct installer **out,
                                 struct upk_error *err);
/*
 * While writing: bytes of the image handed to write(2) on the slot so far
 * (the rest is still in the installer's buffer). Only these can be in the
 * slot after a crash.
 */
uint64_t installer_image_flushed(const struct installer *in);
/* After finish: bytes written to the slot, and their SHA-256 (hex). */
uint64_t installer_image_size(const struct installer *in);
const char *installer_image_sha256(const struct installer *in);

/* The journal key of a slot's record: "slot.NAME" into buf. */
void installer_slot_key(const char *slot, char *buf, size_t cap);

/* ---- archive: a tar (optionally zstd) unpacked into a new versioned directory ---- */

struct archive_opts {
	const char *root;    /* cfg->archive_dir */
	const char *name;    /* the bundle: [A-Za-z0-9._-], not starting with '.' */
	const char *version; /* upk_version_validate() */
	uint64_t max_bytes;  /* total of file sizes */
	unsigned max_entries;
	struct payload_expect expect;
	enum decomp_mode decomp;
};

/*
 * Unpack into ROOT/NAME/versions/VERSION.partial; finish() checks the
 * payload, syncs the file system and renames the directory to
 * ROOT/NAME/versions/VERSION. Refused entries (UPK_ERR_INVALID naming the
 * path): absolute paths, "..", paths through a symlink, symlinks whose
 * target leaves the bundle, hard links to anything not unpacked before,
 * device nodes and FIFOs; set-user-ID, set-group-ID and sticky bits are
 * dropped. Installing the version that is current is UPK_ERR_EXISTS.
 */
upk_status installer_archive_begin(const struct archive_opts *opts, struct installer **out,
                                   struct upk_error *err);

/*
 * Switch ROOT/NAME/current to versions/VERSION (which must exist) with one
 * atomic rename of a symlink; the version it pointed to becomes
 * ROOT/NAME/previous. The directory is fsynced before returning.
 */
upk_status archive_switch(const char *root, const char *name, const char *version,
                          struct upk_error *err);
/* Point current back at previous (or remove current when there was none) and drop the failed
 * version. */
upk_status archive_rollback(const char *root, const char *name, struct upk_error *err);
/* Keep current and previous, remove every other version and leftover staging directories. */
upk_status archive_commit(const char *root, const char *name, struct upk_error *err);
/* The version current points at (malloc()ed); UPK_ERR_NOT_FOUND when none. */
upk_status archive_current(const char *root, const char *name, char **version,
                           struct upk_error *err);

/* ---- module: an executable handler with the protocol of docs/agent.md ---- */

struct module_opts {
	const struct config_module *module;
	const char *workdir; /* private to this update; made fresh by begin */
	const char *target;  /* the target's name, passed as UPKEEP_TARGET */
	const char *version;
	struct payload_expect expect;
};

/*
 * Run `HANDLER download` with the payload on stdin; finish() closes stdin,
 * waits for exit status 0 and checks length and SHA-256 of what was sent.
 * The handler must only store the bytes (in UPKEEP_WORKDIR) until `install`.
 */
upk_status installer_module_begin(const struct module_opts *opts, struct installer **out,
                                  struct upk_error *err);

/*
 * Run one later step: "install", "commit" or "rollback". After commit and
 * rollback the work directory is removed. A non-zero exit is UPK_ERR_IO
 * quoting the handler's last stderr line.
 */
upk_status module_step(const struct module_opts *opts, const char *step, struct upk_error *err);

#endif
