/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Standard base64 (RFC 4648 section 4, with padding), as RFC 8941 byte
 * sequences and RFC 9530 digests carry it. The decoder is strict on purpose.
 */
#ifndef UPK_BASE64_INTERNAL_H
#define UPK_BASE64_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes BASE64_ENCODED_LEN(len) characters and a NUL to out. */
void base64_encode(const uint8_t *data, size_t len, char *out);

/*
 * Decodes exactly len characters into out (room for len / 4 * 3 bytes) and
 * sets *out_len. Returns 0, or -1 for anything but the canonical encoding:
 * a length that is not a multiple of 4, characters outside the alphabet,
 * misplaced '=', or non-zero bits left over before the padding. Refusing the
 * non-canonical forms means one byte string has exactly one accepted text, so
 * a signature cannot be re-encoded into a second "different" valid header.
 */
int base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len);

#endif
