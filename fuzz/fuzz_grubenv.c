/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the GRUB environment block parser: arbitrary bytes
 * parse or fail cleanly; what parses serializes into a block of the same
 * size (or is too large) that parses back to the same variables.
 */
#include <stdint.h>
#include <string.h>

#include "../agent/grubenv.c"
#include "../agent/fileio.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grubenv *a = NULL, *b = NULL;
	char *out = NULL;
	size_t len = 0;

	if (grubenv_parse((const char *)data, size, &a, NULL) != UPK_OK)
		return 0;
	if (grubenv_serialize(a, &out, &len, NULL) == UPK_OK) {
		if (len != size || grubenv_parse(out, len, &b, NULL) != UPK_OK || b->n != a->n)
			__builtin_trap();
		for (size_t i = 0; i < a->n; i++)
			if (strcmp(a->vars[i].name, b->vars[i].name) != 0 ||
			    strcmp(a->vars[i].value, b->vars[i].value) != 0)
				__builtin_trap();
	}
	free(out);
	grubenv_free(a);
	grubenv_free(b);
	return 0;
}
