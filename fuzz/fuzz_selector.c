/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for selectors: arbitrary bytes must parse or fail cleanly;
 * what parses must normalize to a fixed point (print, re-parse, print the
 * same) and evaluate on a fixed device without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upkeep/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct upk_kv tags[] = {
	{"site", "berlin"},
	{"ring", "beta"},
	{"", ""},
};
static const struct upk_kv installed[] = {
	{"image", "1.4.2"},
	{"app", "2.0.0-rc.1"},
	{"bad", "1.0~x"},
};
static const struct upk_device_attrs device = {
	.device_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	.hardware_id = "acme-gw-v2",
	.tags = tags,
	.n_tags = sizeof(tags) / sizeof(tags[0]),
	.installed = installed,
	.n_installed = sizeof(installed) / sizeof(installed[0]),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upk_selector *sel = NULL, *again = NULL;
	char *text = NULL, *text2 = NULL;
	struct upk_error err = {0};
	upk_status ret, matched;
	int m1 = -1, m2 = -1;

	if (upk_selector_parse((const char *)data, size, &sel, &err) != UPK_OK)
		return 0;
	matched = upk_selector_match(sel, &device, &m1, &err);
	if (matched == UPK_OK && m1 != 0 && m1 != 1)
		abort();
	ret = upk_selector_to_string(sel, &text, &err);
	if (ret == UPK_ERR_TOO_LARGE)
		goto out;
	if (ret != UPK_OK)
		abort();
	/* The normalized text must parse, mean the same and print the same. */
	if (upk_selector_parse(text, strlen(text), &again, &err) != UPK_OK)
		abort();
	if (upk_selector_to_string(again, &text2, &err) != UPK_OK || strcmp(text, text2) != 0)
		abort();
	if (upk_selector_match(again, &device, &m2, &err) != matched ||
	    (matched == UPK_OK && m1 != m2))
		abort();
out:
	free(text);
	free(text2);
	upk_selector_free(sel);
	upk_selector_free(again);
	return 0;
}
