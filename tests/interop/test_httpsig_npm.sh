#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interop: RFC 9421 ed25519 signatures between upkeep and
# http-message-signatures@1.0.6 (npm), both directions. node signs requests
# that our verifier must accept or refuse as expected; we sign requests that
# node must verify (and refuse when tampered). Two control runs with a broken
# expectation prove that either direction failing fails this test.
set -eu
: "${UPK_BUILD_DIR:?}" "${UPK_SOURCE_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-httpsig-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

NPM="$UPK_SOURCE_DIR/tests/interop/httpsig_npm.mjs"
BIN="$UPK_BUILD_DIR/tests/test_httpsig"
command -v node >/dev/null || fail "node is not installed: run scripts/install-deps"
[ -d "$UPK_SOURCE_DIR/tests/interop/node_modules/http-message-signatures" ] ||
	fail "http-message-signatures is not installed: run scripts/install-deps (npm ci in tests/interop)"
[ -x "$BIN" ] || fail "$BIN is not built"

# Our half: verify npm-signed.json, write upkeep-signed.json.
ours() { # DIR
	UPK_HTTPSIG_NPM_DIR="$1" UPK_HTTPSIG_NOW=$(date +%s) "$BIN"
}

echo "== npm signs"
node "$NPM" sign "$W" || fail "http-message-signatures could not sign"
echo "== upkeep verifies npm's requests and signs its own"
ours "$W" || fail "upkeep's verifier disagreed with http-message-signatures (see above)"
echo "== npm verifies upkeep's requests"
node "$NPM" verify "$W" || fail "http-message-signatures disagreed with upkeep's signer (see above)"

# Controls. 1: a request npm tampered with, declared "ok": our side must fail.
mkdir "$W/c1"
node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync(process.argv[1] + "/npm-signed.json"));
d.cases.find((c) => c.name === "post-tampered-path").expect = "ok";
fs.writeFileSync(process.argv[2] + "/npm-signed.json", JSON.stringify(d));
' "$W" "$W/c1"
if ours "$W/c1" >"$W/c1.log" 2>&1; then
	cat "$W/c1.log"
	fail "control: upkeep accepted a tampered npm request"
fi
# 2: one of our signatures replaced by another valid one of ours: npm must refuse it.
node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync(process.argv[1] + "/upkeep-signed.json"));
const sigOf = (c) => c.headers.find(([k]) => k.toLowerCase() === "signature")[1];
const post = d.cases.find((c) => c.name === "post-checkin");
const other = sigOf(d.cases.find((c) => c.name === "delete-minimal"));
post.headers = post.headers.map(([k, v]) => [k, k.toLowerCase() === "signature" ? other : v]);
fs.writeFileSync(process.argv[2] + "/upkeep-signed.json", JSON.stringify(d));
' "$W" "$W/c1"
if node "$NPM" verify "$W/c1" >"$W/c2.log" 2>&1; then
	cat "$W/c2.log"
	fail "control: http-message-signatures accepted a signature over another request"
fi
echo "ok: both directions agree, and the controls fail as they must"
