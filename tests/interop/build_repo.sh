# SPDX-License-Identifier: Apache-2.0
# Shared by the interop tests (sourced, not run by ctest): builds a repository
# with the real `upkeep` binary the way an owner would, and helpers that edit
# published metadata to craft broken repositories.
#
# After build_repo: $W/keys/*.key|pub, $W/repo (staging), $W/pub (published),
# $W/trusted-root.json (root v1: what a factory-fresh device trusts), payloads
# in $W/payload/, root rotated to v2 (key r3 removed), targets 2-of-2,
# a delegated role "vendor" for 'vendor/model-x/*'.

: "${UPK_BUILD_DIR:?}" "${UPK_SOURCE_DIR:?}"
UPKEEP="$UPK_BUILD_DIR/cli/upkeep"
PY=/usr/bin/python3

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Run upkeep quietly; on failure show what it said and stop the test.
up() {
	if ! "$UPKEEP" "$@" >"$W/up.out" 2>"$W/up.err"; then
		cat "$W/up.out" "$W/up.err" >&2
		fail "upkeep $*"
	fi
}

sha256_of() {
	sha256sum "$1" | cut -d' ' -f1
}

build_repo() {
	mkdir -p "$W/keys" "$W/payload/images" "$W/payload/vendor"
	for k in r1 r2 r3 t1 t2 s1 ts1 v1; do
		up key generate "$k" --dir "$W/keys" --no-passphrase
	done
	head -c 100000 /dev/urandom >"$W/payload/images/app.img"
	printf '{"server": "https://updates.example"}\n' >"$W/payload/site.json"
	head -c 5000 /dev/urandom >"$W/payload/vendor/fw.bin"
	head -c 7000 /dev/urandom >"$W/payload/images/app2.img"

	up repo init "$W/repo" --root-key "$W/keys/r1.pub" --root-key "$W/keys/r2.pub" \
		--root-key "$W/keys/r3.pub" --root-threshold 2 \
		--targets-key "$W/keys/t1.pub" --targets-key "$W/keys/t2.pub" --targets-threshold 2 \
		--snapshot-key "$W/keys/s1.pub" --timestamp-key "$W/keys/ts1.pub"
	up target add "$W/repo" "$W/payload/images/app.img" --path images/app.img --type image \
		--version 1.0.0 --hardware acme-gw-v2 --security-version 1
	up target add "$W/repo" "$W/payload/site.json" --path config/site.json --type config \
		--version 1 --hardware acme-gw-v2 --selector 'tag "site" = "berlin" and bucket < 50'
	up delegate add "$W/repo" vendor --key "$W/keys/v1.pub" --path 'vendor/model-x/*'
	up target add "$W/repo" "$W/payload/vendor/fw.bin" --path vendor/model-x/fw.bin \
		--role vendor --type module --version 2.1.0 --hardware model-x
	up sign "$W/repo" root --key "$W/keys/r1.key" --key "$W/keys/r2.key"
	up sign "$W/repo" targets --key "$W/keys/t1.key"
	up sign "$W/repo" targets --key "$W/keys/t2.key"
	up sign "$W/repo" vendor --key "$W/keys/v1.key"
	up publish "$W/repo" --out "$W/pub" --snapshot-key "$W/keys/s1.key" \
		--timestamp-key "$W/keys/ts1.key"
	cp "$W/repo/published/1.root.json" "$W/trusted-root.json"

	# Rotation: root v2 drops r3; both the old and the new 2-of-n sign it.
	up root rotate "$W/repo" --remove-key "root=$W/keys/r3.pub"
	up sign "$W/repo" root --key "$W/keys/r1.key"
	up sign "$W/repo" root --key "$W/keys/r2.key"
	up target add "$W/repo" "$W/payload/images/app2.img" --path images/app2.img --type image \
		--version 1.1.0 --hardware acme-gw-v2 --security-version 2
	up sign "$W/repo" targets --key "$W/keys/t1.key" --key "$W/keys/t2.key"
	up publish "$W/repo" --out "$W/pub" --snapshot-key "$W/keys/s1.key" \
		--timestamp-key "$W/keys/ts1.key"
	[ -f "$W/pub/metadata/2.root.json" ] || fail "no metadata/2.root.json after the rotation"
	[ -f "$W/pub/metadata/2.targets.json" ] || fail "no metadata/2.targets.json"
}

# The version of role ROLE that PUBDIR's newest snapshot lists.
listed_version() { # PUBDIR ROLE
	$PY -c '
import json, sys
pub, role = sys.argv[1], sys.argv[2]
ts = json.load(open(pub + "/metadata/timestamp.json"))
if role == "snapshot":
    print(ts["signed"]["meta"]["snapshot.json"]["version"]); sys.exit()
sv = ts["signed"]["meta"]["snapshot.json"]["version"]
snap = json.load(open("%s/metadata/%d.snapshot.json" % (pub, sv)))
print(snap["signed"]["meta"][role + ".json"]["version"])' "$1" "$2"
}

# Drop the first signature of a metadata file.
drop_signature() { # FILE
	$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["signatures"]) >= 1
d["signatures"] = d["signatures"][1:]
json.dump(d, open(sys.argv[1], "w"), indent=1)' "$1"
}

# Set ENTRY of a snapshot/timestamp file's meta to the length and hashes of FILE.
set_meta() { # LISTING ENTRY FILE
	$PY -c '
import hashlib, json, sys
path, entry, f = sys.argv[1:4]
b = open(f, "rb").read()
d = json.load(open(path))
m = d["signed"]["meta"][entry]
m["length"] = len(b)
m["hashes"] = {"sha256": hashlib.sha256(b).hexdigest(), "sha512": hashlib.sha512(b).hexdigest()}
json.dump(d, open(path, "w"), indent=1)' "$1" "$2" "$3"
}

# After editing N.<role>.json in PUBDIR, make snapshot and timestamp vouch for it again
# (re-signed with the real online keys), so only the edit itself can make clients fail.
reseal() { # PUBDIR ROLE
	sv=$(listed_version "$1" snapshot)
	rv=$(listed_version "$1" "$2")
	set_meta "$1/metadata/$sv.snapshot.json" "$2.json" "$1/metadata/$rv.$2.json"
	up sign --file "$1/metadata/$sv.snapshot.json" --key "$W/keys/s1.key"
	set_meta "$1/metadata/timestamp.json" snapshot.json "$1/metadata/$sv.snapshot.json"
	up sign --file "$1/metadata/timestamp.json" --key "$W/keys/ts1.key"
}
