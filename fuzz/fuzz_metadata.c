/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TUF metadata parser: whatever parses must
 * serialize, parse back to the same role and version, and survive every
 * accessor and a signature check without crashing or leaking.
 */
#include <stdlib.h>
#include <string.h>

#include "upkeep/metadata.h"

static void exercise(struct upk_metadata *md)
{
	struct upk_target t;
	struct upk_delegation d;
	struct upk_metafile m;

	for (size_t i = 0; i < upk_targets_count(md) && i < 64; i++)
		if (upk_targets_at(md, i, &t, NULL) != UPK_OK)
			abort();
	for (size_t i = 0; i < upk_delegations_count(md); i++) {
		if (upk_delegation_at(md, i, &d, NULL) != UPK_OK)
			abort();
		(void)upk_delegation_covers(&d, "vendor/model-x/fw.bin");
		if (d.n_keyids > 0)
			(void)upk_delegation_key(md, d.keyids[0]);
		(void)upk_verify_delegated(md, d.name, md, NULL, NULL);
	}
	for (size_t i = 0; i < upk_meta_count(md); i++)
		if (upk_meta_at(md, i, &m, NULL) != UPK_OK)
			abort();
	if (upk_metadata_type(md) == UPK_ROLE_ROOT)
		(void)upk_verify_role(md, "root", md, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upk_metadata *md = NULL, *back = NULL;
	char *text = NULL;
	size_t len;

	if (upk_metadata_parse(data, size, UPK_ROLE_ANY, NULL, &md, NULL) != UPK_OK)
		return 0;
	exercise(md);
	for (int pretty = 0; pretty < 2; pretty++) {
		if (upk_metadata_serialize(md, pretty, &text, &len, NULL) != UPK_OK)
			abort();
		if (upk_metadata_parse(text, len, UPK_ROLE_ANY, NULL, &back, NULL) != UPK_OK)
			abort();
		if (upk_metadata_type(back) != upk_metadata_type(md) ||
		    upk_metadata_version(back) != upk_metadata_version(md) ||
		    upk_metadata_signature_count(back) != upk_metadata_signature_count(md))
			abort();
		upk_metadata_free(back);
		free(text);
	}
	upk_metadata_free(md);
	return 0;
}
