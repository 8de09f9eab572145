/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Standard padded base64 (RFC 4648 section 4), written here rather than with
 * EVP_EncodeBlock/EVP_DecodeBlock because the latter accepts whitespace and
 * reports padded lengths, which a strict parser would have to undo anyway.
 */
#include "base64_internal.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const uint8_t *data, size_t len, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		out[o++] = ALPHABET[v >> 18];
		out[o++] = ALPHABET[(v >> 12) & 63];
		out[o++] = ALPHABET[(v >> 6) & 63];
		out[o++] = ALPHABET[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)data[i] << 16;
		out[o++] = ALPHABET[v >> 18];
		out[o++] = ALPHABET[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
		out[o++] = ALPHABET[v >> 18];
		out[o++] = ALPHABET[(v >> 12) & 63];
		out[o++] = ALPHABET[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		int last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=') {
				/* Padding only in the last quantum, only at its end. */
				if (!last || k < 2)
					return -1;
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			v[k] = value_of(in[i + k]);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Canonical form: the bits below the last whole byte must be zero. */
		if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return 0;
}
