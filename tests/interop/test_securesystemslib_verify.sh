#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interop: signatures made by `upkeep` verify with python3-securesystemslib over
# its own canonical JSON, for every role of a rotated, delegated repository;
# a flipped signature byte must make it fail (so the check is not vacuous).
set -eu
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-sslib-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
. "$UPK_SOURCE_DIR/tests/interop/build_repo.sh"
HELPER="$UPK_SOURCE_DIR/tests/interop/sslib_verify.py"

$PY -c 'import securesystemslib' 2>/dev/null ||
	fail "python3-securesystemslib is missing: run scripts/install-deps"
build_repo
$PY "$HELPER" "$W/pub" || fail "securesystemslib rejected upkeep's signatures"

cp -R "$W/pub" "$W/bad"
tv=$(listed_version "$W/pub" targets)
$PY -c '
import json, sys
p = sys.argv[1]
d = json.load(open(p))
s = d["signatures"][0]["sig"]
d["signatures"][0]["sig"] = ("0" if s[0] != "0" else "1") + s[1:]
json.dump(d, open(p, "w"))' "$W/bad/metadata/$tv.targets.json"
if $PY "$HELPER" "$W/bad" 2>"$W/err"; then
	fail "securesystemslib accepted a corrupted signature"
fi
grep -q "does not verify" "$W/err" || fail "unexpected failure: $(cat "$W/err")"
echo "securesystemslib interop: ok"
