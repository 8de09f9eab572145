#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The owner tool end to end, k-of-n: three root key holders in separate
# directories sign copies of the staged root that are passed around; publish
# is refused below the threshold with a clear message and succeeds at it.
# Then `upkeep verify` accepts the good repository and rejects tampered ones.
set -eu
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-cliwf-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
. "$UPK_SOURCE_DIR/tests/interop/build_repo.sh"

# Expect failure; stderr must be exactly one line containing TEXT.
refused() { # TEXT upkeep-args...
	text=$1
	shift
	if "$UPKEEP" "$@" >"$W/r.out" 2>"$W/r.err" </dev/null; then
		fail "upkeep $* should have failed"
	fi
	[ "$(wc -l <"$W/r.err")" -eq 1 ] || { cat "$W/r.err"; fail "upkeep $*: not one line on stderr"; }
	grep -qF -- "$text" "$W/r.err" || { cat "$W/r.err"; fail "upkeep $*: expected '$text'"; }
}

mkdir -p "$W/owner" "$W/alice" "$W/bob" "$W/carol" "$W/online"
printf 'alice secret\n' >"$W/alice/pass"
# Holders make their keys at home; only the .pub files travel to the owner.
"$UPKEEP" key generate alice --dir "$W/alice" --passphrase-file "$W/alice/pass" </dev/null >"$W/k.out"
grep -q "encrypted" "$W/k.out" || fail "alice's key should be encrypted"
UPKEEP_PASSPHRASE="bob secret" "$UPKEEP" key generate bob --dir "$W/bob" </dev/null >/dev/null
"$UPKEEP" key generate carol --dir "$W/carol" </dev/null >"$W/k.out"
grep -q "NOT encrypted" "$W/k.out" || fail "no terminal and no passphrase: key must be plain"
head -c 16 "$W/alice/alice.key" | grep -q "BEGIN ENCRYPTED" ||
	head -n1 "$W/alice/alice.key" | grep -q "ENCRYPTED" || fail "alice.key is not an encrypted PEM"
[ "$(stat -c %a "$W/alice/alice.key")" = 600 ] || fail "private key file is not 0600"
openssl pkey -pubin -in "$W/carol/carol.pub" -noout || fail "openssl cannot read carol.pub"
refused "already exists" key generate carol --dir "$W/carol"
"$UPKEEP" key show "$W/carol/carol.pub" --json >"$W/show.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["keyid"])==64 and d["keytype"]=="ed25519"' \
	"$W/show.json" || fail "key show --json"
refused "encrypted" key show "$W/alice/alice.key"
for k in targets snap ts; do up key generate "$k" --dir "$W/online" --no-passphrase; done
for h in alice bob carol; do cp "$W/$h/$h.pub" "$W/owner/"; done

R="$W/owner/repo"
refused "threshold 3 is more than" repo init "$R" --root-key "$W/owner/alice.pub" \
	--root-threshold 3 --root-key "$W/owner/alice.pub" --targets-key "$W/online/targets.pub" \
	--snapshot-key "$W/online/snap.pub" --timestamp-key "$W/online/ts.pub"
[ ! -e "$R" ] || fail "a refused init left $R behind"
up repo init "$R" --root-key "$W/owner/alice.pub" --root-key "$W/owner/bob.pub" \
	--root-key "$W/owner/carol.pub" --root-threshold 2 --targets-key "$W/online/targets.pub" \
	--snapshot-key "$W/online/snap.pub" --timestamp-key "$W/online/ts.pub"
refused "not empty" repo init "$R" --root-key "$W/owner/alice.pub" \
	--targets-key "$W/online/targets.pub" --snapshot-key "$W/online/snap.pub" \
	--timestamp-key "$W/online/ts.pub"

# Targets with owner-signed fields, validated when added.
printf 'image v1\n' >"$W/app.img"
refused "selector" target add "$R" "$W/app.img" --type image --version 1.0.0 --hardware gw \
	--selector 'device in ["a"' 
refused "unknown target type" target add "$R" "$W/app.img" --type firmware --version 1.0.0 --hardware gw
refused "version" target add "$R" "$W/app.img" --type image --version v1.0 --hardware gw
refused "hardware" target add "$R" "$W/app.img" --type image --version 1.0.0
refused "must be relative" target add "$R" "$W/app.img" --path /abs --type image --version 1.0.0 --hardware gw
refused "'..'" target add "$R" "$W/app.img" --path a/../b --type image --version 1.0.0 --hardware gw
up target add "$R" "$W/app.img" --path images/app.img --type image --version 1.0.0 --hardware gw \
	--security-version 4 --selector 'hardware in ["gw"]'
"$UPKEEP" target list "$R" --json >"$W/list.json"
$PY -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert len(t) == 1 and t[0]["path"] == "images/app.img" and t[0]["security_version"] == 4, t
assert t[0]["hashes"]["sha256"] and t[0]["hashes"]["sha512"]' "$W/list.json" || fail "target list --json"
up sign "$R" targets --key "$W/online/targets.key"

# k-of-n: the staged root travels to the holders as a plain file.
cp "$R/staged/root.json" "$W/alice/root.json"
cp "$R/staged/root.json" "$W/bob/root.json"
cp "$R/staged/root.json" "$W/carol/root.json"
refused "encrypted" sign --file "$W/alice/root.json" --key "$W/alice/alice.key"
refused "passphrase" sign --file "$W/alice/root.json" --key "$W/alice/alice.key" \
	--passphrase-file "$W/bob/bob.pub"
up sign --file "$W/alice/root.json" --key "$W/alice/alice.key" --passphrase-file "$W/alice/pass"
UPKEEP_PASSPHRASE="bob secret" "$UPKEEP" sign --file "$W/bob/root.json" --key "$W/bob/bob.key" >/dev/null ||
	fail "bob could not sign"
refused "not a key of role root" sign "$R" root --key "$W/online/targets.key"

cp "$W/alice/root.json" "$W/owner/from-alice.json"
up import "$R" "$W/owner/from-alice.json"
refused "root v1 has 1 of 2 signatures" publish "$R" --out "$W/pub" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
[ ! -e "$W/pub/metadata/timestamp.json" ] || fail "a refused publish wrote timestamp.json"
"$UPKEEP" status "$R" --json >"$W/status.json"
$PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
root = [r for r in s["roles"] if r["role"] == "root"][0]
assert not s["ready"] and root["signatures"][0]["valid"] == 1 and root["signatures"][0]["threshold"] == 2
assert len(root["signatures"][0]["missing_keyids"]) == 2' "$W/status.json" || fail "status --json"

# A copy whose content was changed cannot be imported; nor a signature by an outsider.
$PY -c '
import json, sys
d = json.load(open(sys.argv[1])); d["signed"]["expires"] = "2099-01-01T00:00:00Z"
json.dump(d, open(sys.argv[2], "w"))' "$W/bob/root.json" "$W/owner/edited.json"
refused "signed content differs" import "$R" "$W/owner/edited.json"
cp "$R/staged/root.json" "$W/owner/outsider.json"
up sign --file "$W/owner/outsider.json" --key "$W/online/targets.key"
refused "not from a key of the role" import "$R" "$W/owner/outsider.json"

cp "$W/bob/root.json" "$W/owner/from-bob.json"
up import "$R" "$W/owner/from-bob.json"
"$UPKEEP" status "$R" --json | $PY -c 'import json,sys; assert json.load(sys.stdin)["ready"]' ||
	fail "status should be ready"
refused "give --timestamp-key" publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key"
refused "is not a snapshot key" publish "$R" --out "$W/pub" --snapshot-key "$W/online/ts.key" \
	--timestamp-key "$W/online/ts.key"
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
cp "$W/pub/metadata/1.root.json" "$W/trusted.json"
up verify "$W/pub" --root "$W/trusted.json"

# Publishing again without changes only refreshes the timestamp.
up publish "$R" --out "$W/pub" --timestamp-key "$W/online/ts.key"
[ "$(listed_version "$W/pub" snapshot)" = 1 ] || fail "snapshot changed without a reason"
$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["signed"]["version"] == 2' \
	"$W/pub/metadata/timestamp.json" || fail "timestamp not refreshed"

# One version bump per staging round, however many edits.
printf 'image v2\n' >"$W/app2.img"
up target add "$R" "$W/app2.img" --path images/app2.img --type image --version 2.0.0 --hardware gw
up target add "$R" "$W/app2.img" --path images/app3.img --type image --version 3.0.0 --hardware gw
$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["signed"]["version"] == 2' \
	"$R/staged/targets.json" || fail "targets should be v2 after two edits"
refused "targets v2 has 0 of 1 signatures" publish "$R" --out "$W/pub" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
up sign "$R" targets --key "$W/online/targets.key"
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
[ -f "$W/pub/metadata/2.targets.json" ] || fail "no 2.targets.json"
[ -f "$W/pub/targets/images/$(sha256_of "$W/app2.img").app2.img" ] || fail "hash-prefixed target missing"
up verify "$W/pub" --root "$W/trusted.json"
"$UPKEEP" verify "$W/pub" --root "$W/trusted.json" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"] and len(d["targets"]) == 3 and d["roles"]["targets"] == 2, d' || fail "verify --json"

# Root rotation: carol leaves; both the old (2 of 3) and new (2 of 2) thresholds sign.
# The online timestamp key is replaced in the same root.
up key generate ts2 --dir "$W/online" --no-passphrase
refused "has no key" root rotate "$R" --remove-key "root=0123456789abcdef"
up root rotate "$R" --remove-key "root=$W/owner/carol.pub" \
	--add-key "timestamp=$W/online/ts2.pub" --remove-key "timestamp=$W/online/ts.pub"
cp "$R/staged/root.json" "$W/alice/root2.json"
up sign --file "$W/alice/root2.json" --key "$W/alice/alice.key" --passphrase-file "$W/alice/pass"
up import "$R" "$W/alice/root2.json"
refused "root v2 has 1 of 2 signatures" publish "$R" --out "$W/pub" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
UPKEEP_PASSPHRASE="bob secret" "$UPKEEP" sign "$R" root --key "$W/bob/bob.key" >/dev/null
cp -R "$W/pub" "$W/pub-before-rotation"
refused "is not a timestamp key of root v2" publish "$R" --out "$W/pub" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts.key"
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
up verify "$W/pub" --root "$W/trusted.json"
cp "$W/pub/metadata/2.root.json" "$W/trusted2.json"

# A delegation, then its revocation: the revoked role stays listed in snapshot
# (clients refuse a snapshot that forgets a role) but is no longer trusted.
up key generate vendor --dir "$W/carol" --no-passphrase
printf 'vendor fw\n' >"$W/fw.bin"
up delegate add "$R" acme --key "$W/carol/vendor.pub" --path 'vendor/model-x/*'
refused "outside the paths" target add "$R" "$W/fw.bin" --path vendor/model-y/fw.bin --role acme \
	--type module --version 1.0.0 --hardware model-x
up target add "$R" "$W/fw.bin" --path vendor/model-x/fw.bin --role acme --type module \
	--version 1.0.0 --hardware model-x
up sign "$R" targets --key "$W/online/targets.key"
refused "acme v1 has 0 of 1 signatures" publish "$R" --out "$W/pub" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
refused "not a key of role acme" sign "$R" acme --key "$W/online/targets.key"
up sign "$R" acme --key "$W/carol/vendor.key"
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
"$UPKEEP" verify "$W/pub" --root "$W/trusted.json" >"$W/v.out" || fail "verify with acme"
grep -q "acme v1" "$W/v.out" || fail "verify did not walk the delegation"
up delegate remove "$R" acme
up sign "$R" targets --key "$W/online/targets.key"
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
"$UPKEEP" verify "$W/pub" --root "$W/trusted.json" >"$W/v.out" || fail "verify after revocation"
grep -q "acme" "$W/v.out" && fail "a revoked delegation is still walked"
[ "$(listed_version "$W/pub" acme)" = 1 ] || fail "snapshot forgot the revoked role"

# A hand-over: the new root's only key (dave) cannot publish it alone; the
# published root's 2-of-2 must vouch for it too.
up key generate dave --dir "$W/carol" --no-passphrase
up root rotate "$R" --remove-key "root=$W/owner/alice.pub" --remove-key "root=$W/owner/bob.pub" \
	--add-key "root=$W/carol/dave.pub" --threshold root=1
up sign "$R" root --key "$W/carol/dave.key"
refused "root v3 has 0 of 2 signatures (keys of the published root v2)" publish "$R" \
	--out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
up sign "$R" root --key "$W/alice/alice.key" --passphrase-file "$W/alice/pass"
UPKEEP_PASSPHRASE="bob secret" "$UPKEEP" sign "$R" root --key "$W/bob/bob.key" >/dev/null
up publish "$R" --out "$W/pub" --snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
up verify "$W/pub" --root "$W/trusted.json"
grep -q '"root_version": 3' "$W/up.out" || "$UPKEEP" verify "$W/pub" --root "$W/trusted.json" --json |
	grep -q '"root_version": 3' || fail "verify did not follow the chain to root v3"

# --- tampered repositories: verify must say what is wrong ---
# Altered target bytes.
cp -R "$W/pub" "$W/t1"
printf 'image v9\n' >"$W/t1/targets/images/$(sha256_of "$W/app2.img").app2.img"
refused "does not match the hash" verify "$W/t1" --root "$W/trusted.json"
# A removed signature: root v2 with 1 of 2.
cp -R "$W/pub" "$W/t2"
drop_signature "$W/t2/metadata/2.root.json"
refused "2.root.json: 1 of 2 signatures" verify "$W/t2" --root "$W/trusted.json"
# A rolled-back targets file behind a consistent snapshot and timestamp.
cp -R "$W/pub" "$W/t3"
tv=$(listed_version "$W/pub" targets)
cp "$W/t3/metadata/1.targets.json" "$W/t3/metadata/$tv.targets.json"
reseal_online() { # PUBDIR ROLE (keys of this test)
	sv=$(listed_version "$1" snapshot)
	rv=$(listed_version "$1" "$2")
	set_meta "$1/metadata/$sv.snapshot.json" "$2.json" "$1/metadata/$rv.$2.json"
	up sign --file "$1/metadata/$sv.snapshot.json" --key "$W/online/snap.key"
	set_meta "$1/metadata/timestamp.json" snapshot.json "$1/metadata/$sv.snapshot.json"
	up sign --file "$1/metadata/timestamp.json" --key "$W/online/ts2.key"
}
reseal_online "$W/t3" targets
refused "rollback" verify "$W/t3" --root "$W/trusted.json"
# A repository older than the root we already trust.
refused "rollback" verify "$W/pub-before-rotation" --root "$W/trusted2.json"
# An expired role: publish refuses it unless told, verify always refuses it.
up renew "$R" targets --expires 2020-01-01
up sign "$R" targets --key "$W/online/targets.key"
refused "expired at 2020-01-01T00:00:00Z" publish "$R" --out "$W/t4" \
	--snapshot-key "$W/online/snap.key" --timestamp-key "$W/online/ts2.key"
up publish "$R" --out "$W/t4" --snapshot-key "$W/online/snap.key" \
	--timestamp-key "$W/online/ts2.key" --allow-expired
refused "expired at 2020-01-01" verify "$W/t4" --root "$W/trusted.json"
# An expired timestamp.
cp -R "$W/pub" "$W/t5"
$PY -c '
import json, sys
d = json.load(open(sys.argv[1])); d["signed"]["expires"] = "2021-01-01T00:00:00Z"
json.dump(d, open(sys.argv[1], "w"))' "$W/t5/metadata/timestamp.json"
up sign --file "$W/t5/metadata/timestamp.json" --key "$W/online/ts2.key"
refused "timestamp v" verify "$W/t5" --root "$W/trusted.json"
refused "verification failed" verify "$W/t5" --root "$W/trusted.json"

echo "cli workflow: ok"
