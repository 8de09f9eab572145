/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential: upk_metadata_parse() (compact targets roles over
 * json_scan.c) against md_parse_tree() (jansson only). Same status and
 * message on every input; on accepted ones the same canonical signed bytes,
 * the same targets in the same order with equal fields, and the same
 * result when a signature is checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metadata_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_targets(const struct upk_metadata *a, const struct upk_metadata *b)
{
	size_t n = upk_targets_count(a);

	if (n != upk_targets_count(b))
		abort();
	for (size_t i = 0; i < n; i++) {
		struct upk_target x, y;

		if (upk_targets_at(a, i, &x, NULL) != UPK_OK ||
		    upk_targets_at(b, i, &y, NULL) != UPK_OK || strcmp(x.path, y.path) != 0 ||
		    x.length != y.length || !json_equal(x.hashes, y.hashes) ||
		    (x.custom == NULL) != (y.custom == NULL) ||
		    (x.custom != NULL && !json_equal(x.custom, y.custom)))
			abort();
		if (upk_targets_find(a, x.path, &y, NULL) != UPK_OK || y.hashes != x.hashes)
			abort();
	}
}

static void same_signed_bytes(struct upk_metadata *a, struct upk_metadata *b)
{
	const char *x, *y;
	size_t xl, yl;

	if (upk_metadata_signed_bytes(a, &x, &xl, NULL) != UPK_OK ||
	    upk_metadata_signed_bytes(b, &y, &yl, NULL) != UPK_OK || xl != yl ||
	    memcmp(x, y, xl) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upk_metadata *fast = NULL, *tree = NULL;
	struct upk_error ef = {0}, et = {0};
	struct upk_sigcheck cf = {0}, ct = {0};
	upk_status rf, rt;

	rf = upk_metadata_parse(data, size, UPK_ROLE_ANY, NULL, &fast, &ef);
	rt = md_parse_tree(data, size, UPK_ROLE_ANY, NULL, &tree, &et);
	if (rf != rt || strcmp(ef.msg, et.msg) != 0)
		abort();
	if (rf != UPK_OK)
		return 0;
	same_targets(fast, tree);
	/* A delegating role checked against itself: same verdict from both forms. */
	if (upk_delegations_count(fast) > 0) {
		struct upk_delegation d;

		if (upk_delegation_at(fast, 0, &d, NULL) != UPK_OK ||
		    upk_verify_delegated(fast, d.name, fast, &cf, NULL) !=
		        upk_verify_delegated(tree, d.name, tree, &ct, NULL) ||
		    cf.valid != ct.valid)
			abort();
	}
	same_signed_bytes(fast, tree);
	/* Turned into a tree, the compact role is the same document. */
	if (upk_metadata_signed(fast) == NULL ||
	    !json_equal(upk_metadata_signed(fast), upk_metadata_signed(tree)))
		abort();
	same_targets(fast, tree);
	upk_metadata_free(fast);
	upk_metadata_free(tree);
	return 0;
}
