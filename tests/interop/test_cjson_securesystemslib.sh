#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Canonical JSON against the reference, live: securesystemslib (Debian's
# /usr/bin/python3, python3-securesystemslib) encodes every vector in
# tests/vectors/cjson, our encoder (via test_cjson) encodes the same inputs,
# and every pair must be equal byte for byte.
set -eu
: "${UPK_SOURCE_DIR:?}" "${UPK_BUILD_DIR:?}"
py=/usr/bin/python3
vectors="$UPK_SOURCE_DIR/tests/vectors/cjson"
# python3-securesystemslib is in scripts/install-deps: missing it is a failure, not a skip.
"$py" -c 'import securesystemslib.formats' || {
	echo "FAIL: $py cannot import securesystemslib (run scripts/install-deps)"
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/upk-cjson-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ref" "$tmp/ours"

"$py" "$vectors/gen.py" "$tmp/ref"
UPK_CJSON_OUT="$tmp/ours" "$UPK_BUILD_DIR/tests/test_cjson" >"$tmp/test.log" 2>&1 || {
	cat "$tmp/test.log"
	echo "FAIL: test_cjson failed"
	exit 1
}

fail=0
count=0
for input in "$vectors"/*.json; do
	name=$(basename "$input" .json)
	count=$((count + 1))
	if [ ! -f "$tmp/ref/$name.canon" ]; then
		echo "FAIL: $name: securesystemslib wrote nothing"
		fail=1
	elif [ ! -f "$tmp/ours/$name.canon" ]; then
		echo "FAIL: $name: our encoder wrote nothing"
		fail=1
	elif ! cmp "$tmp/ref/$name.canon" "$tmp/ours/$name.canon"; then
		echo "FAIL: $name: canonical JSON differs from securesystemslib"
		fail=1
	fi
done
[ "$count" -gt 0 ] || { echo "FAIL: no vectors in $vectors"; exit 1; }
[ "$fail" -eq 0 ] || exit 1
echo "ok: $count vectors equal to securesystemslib byte for byte"
