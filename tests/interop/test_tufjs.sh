#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interop: tuf-js@5.0.1 (an independent TUF client) refreshes a repository made
# by `upkeep` (2-of-3 root rotated to v2, 2-of-2 targets, a delegated vendor
# role) over HTTP on 127.0.0.1 and downloads targets; it must refuse the same
# repository with one signature short of a threshold, or with an altered target.
set -eu
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-tufjs-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
. "$UPK_SOURCE_DIR/tests/interop/build_repo.sh"

CLIENT="$UPK_SOURCE_DIR/tests/interop/tufjs_client.mjs"
[ -d "$UPK_SOURCE_DIR/tests/interop/node_modules/tuf-js" ] ||
	fail "tuf-js is not installed: run scripts/install-deps (npm ci in tests/interop)"
command -v node >/dev/null || fail "node is not installed: run scripts/install-deps"

# Runs the client on PUBDIR; prints its output; returns its exit status.
client() { # NAME PUBDIR
	rm -rf "$W/client-$1"
	set +e
	node "$CLIENT" --repo "$2" --root "$W/trusted-root.json" --work "$W/client-$1" \
		--target "images/app.img=$(sha256_of "$W/payload/images/app.img")" \
		--target "images/app2.img=$(sha256_of "$W/payload/images/app2.img")" \
		--target "config/site.json=$(sha256_of "$W/payload/site.json")" \
		--target "vendor/model-x/fw.bin=$(sha256_of "$W/payload/vendor/fw.bin")" \
		>"$W/client-$1.log" 2>&1
	rc=$?
	set -e
	sed "s/^/  [$1] /" "$W/client-$1.log"
	return $rc
}

expect_refused() { # NAME PUBDIR
	rc=0
	client "$1" "$2" || rc=$?
	[ "$rc" -eq 1 ] || fail "$1: tuf-js should have refused the repository (exit $rc)"
}

build_repo

# 1. The good repository: refresh from root v1 through the rotation, download, check hashes.
client good "$W/pub" || fail "tuf-js refused the good repository"
grep -q "tuf-js trusts root v2" "$W/client-good.log" || fail "tuf-js did not follow the root chain to v2"

# 2. Root v2 one signature short (1 of 2): the chain must break.
cp -R "$W/pub" "$W/bad-root"
drop_signature "$W/bad-root/metadata/2.root.json"
expect_refused bad-root "$W/bad-root"

# 3. Control for the crafting below: re-sealing snapshot and timestamp over an
# unchanged targets file keeps the repository valid, so case 4 fails only
# because of the missing signature.
tv=$(listed_version "$W/pub" targets)
cp -R "$W/pub" "$W/ctl"
$PY -c 'import json,sys; p=sys.argv[1]; json.dump(json.load(open(p)), open(p,"w"), indent=3)' \
	"$W/ctl/metadata/$tv.targets.json"
reseal "$W/ctl" targets
client control "$W/ctl" || fail "the re-sealed control repository was refused: crafting is broken"

# 4. Targets one signature short of its 2-of-2 threshold, snapshot and timestamp consistent.
cp -R "$W/pub" "$W/bad-targets"
drop_signature "$W/bad-targets/metadata/$tv.targets.json"
reseal "$W/bad-targets" targets
expect_refused bad-targets "$W/bad-targets"

# 5. Vendor role one signature short (0 of 1).
vv=$(listed_version "$W/pub" vendor)
cp -R "$W/pub" "$W/bad-vendor"
drop_signature "$W/bad-vendor/metadata/$vv.vendor.json"
reseal "$W/bad-vendor" vendor
expect_refused bad-vendor "$W/bad-vendor"

# 6. A target whose bytes were altered (same length), metadata untouched.
cp -R "$W/pub" "$W/bad-target"
f=$(ls "$W/bad-target/targets/images/$(sha256_of "$W/payload/images/app.img").app.img")
printf 'X' | dd of="$f" bs=1 seek=500 conv=notrunc 2>/dev/null
expect_refused bad-target "$W/bad-target"
grep -qi "hash\|length\|digest" "$W/client-bad-target.log" || fail "bad-target: refused, but not for the hash"

echo "tuf-js interop: ok"
