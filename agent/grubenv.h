/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GRUB environment block (grubenv): a fixed-size file that GRUB's
 * load_env/save_env and grub-editenv read and write. Parsed and written here
 * so the agent and the boot simulator need no GRUB tools at run time.
 */
#ifndef UPKEEP_AGENT_GRUBENV_H
#define UPKEEP_AGENT_GRUBENV_H

#include <stddef.h>

#include "upkeep/error.h"

#define GRUBENV_SIGNATURE "# GRUB Environment Block\n"
#define GRUBENV_DEFAULT_SIZE 1024u
#define GRUBENV_MAX_SIZE (64u * 1024u)

struct grubenv;

/*
 * Parse a block: the signature, then "name=value\n" lines (value escapes:
 * a backslash takes the next byte literally), '#' comment lines and '#'
 * padding. Anything else is UPK_ERR_INVALID naming the offset.
 */
upk_status grubenv_parse(const char *buf, size_t len, struct grubenv **out, struct upk_error *err);
/* An empty block of size bytes (as `grub-editenv FILE create`). */
upk_status grubenv_new(size_t size, struct grubenv **out, struct upk_error *err);
/* Read and parse a file; a missing file is UPK_ERR_NOT_FOUND. */
upk_status grubenv_read(const char *path, struct grubenv **out, struct upk_error *err);

/* The value of name or NULL; owned by env. */
const char *grubenv_get(const struct grubenv *env, const char *name);
/* Set (value non-NULL) or unset. Names are [A-Za-z0-9_], 1 to 64 bytes. */
upk_status grubenv_set(struct grubenv *env, const char *name, const char *value,
                       struct upk_error *err);

/* Serialize into exactly the block's size (UPK_ERR_TOO_LARGE when it does not fit). */
upk_status grubenv_serialize(const struct grubenv *env, char **out, size_t *len,
                             struct upk_error *err);
/* Serialize and replace path atomically (write beside, fsync, rename, fsync dir). */
upk_status grubenv_write(const struct grubenv *env, const char *path, struct upk_error *err);

void grubenv_free(struct grubenv *env);

#endif
