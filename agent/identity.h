/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device's identity: an Ed25519 key made on first start that never
 * leaves the device. Its TUF key id is the device id the server, the
 * director and selectors know it by.
 */
#ifndef UPKEEP_AGENT_IDENTITY_H
#define UPKEEP_AGENT_IDENTITY_H

#include "upkeep/crypto.h"
#include "upkeep/error.h"

struct identity {
	struct upk_key *key; /* the key pair */
	char id[UPK_KEYID_HEX_LEN + 1];
	int created; /* 1 when this call generated the key */
};

/*
 * Load the device key at path, or generate it when the file does not exist
 * (parent directories are made with mode 0700; the key file is 0600, written
 * exclusively and fsynced by upk_keyfile_write_private). A key file readable
 * or writable by group or others is refused (UPK_ERR_INVALID naming the mode):
 * the key would no longer be the device's alone. On success *out is the
 * caller's (identity_free).
 */
upk_status identity_load_or_create(const char *path, struct identity **out, struct upk_error *err);

/* Load only; a missing key is UPK_ERR_NOT_FOUND. */
upk_status identity_load(const char *path, struct identity **out, struct upk_error *err);

void identity_free(struct identity *id);

#endif
