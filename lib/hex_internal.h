/* SPDX-License-Identifier: Apache-2.0 */
/* One hex digit's value, for the decoders of hex, %XX and \uXXXX in lib/. */
#ifndef UPK_HEX_INTERNAL_H
#define UPK_HEX_INTERNAL_H

/* 0 to 15 for [0-9a-fA-F], -1 for anything else. */
int hex_digit(unsigned char c);

#endif
