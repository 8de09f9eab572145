#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A sale with the real owner tool against the real upkeep-server on 127.0.0.1
# with a real SQLite file (docs/ownership.md): the seller makes the transfer
# roots, 2 of 3 seller root key holders and then 2 of 3 buyer holders sign
# copies passed from directory to directory, `transfer show` tracks it, a
# submit below a threshold is refused locally and by nothing else, the submit
# moves the device, the seller loses it (moved_to, 409), the buyer adopts the
# chain, publishes a release with `release publish` and pins it on the
# device, and `ownership` lists the transfer from the verified chain.
set -eu
T=transfer
. "${UPK_SOURCE_DIR:?}/tests/interop/srv_cli_env.sh"
q() { "$U" "$@" >/dev/null || fail "upkeep $*"; }
# One line on stderr and a non-zero exit, with the given text in it.
refused() {
	want=$1
	shift
	"$U" "$@" >/dev/null 2>err && fail "upkeep $* was accepted"
	grep -q -- "$want" err || fail "upkeep $*: expected \"$want\": $(cat err)"
	[ "$(wc -l <err)" -eq 1 ] || fail "more than one line on stderr: $(cat err)"
}

mkdir "$W/seller" "$W/buyer"
cd "$W/seller"
q key generate acme-op --no-passphrase
cd "$W/buyer"
q key generate bob-op --no-passphrase
"$S" --database "$W/server.db" --data-dir "$W/data" --port 0 --threads 2 \
	--creator "$W/seller/acme-op.pub" --creator "$W/buyer/bob-op.pub" 2>"$W/server.log" &
PID=$!
PORT=
for _ in $(seq 1 250); do
	PORT=$(sed -n 's/.*ready on port \([0-9]*\).*/\1/p' "$W/server.log")
	[ -n "$PORT" ] && break
	sleep 0.02
done
[ -n "$PORT" ] || fail "server did not start"
URL="http://127.0.0.1:$PORT"
export UPKEEP_SERVER="$URL"

echo "== usage"
for c in "transfer create" "transfer show" "transfer submit" "transfer adopt" "ownership"; do
	# shellcheck disable=SC2086
	"$U" $c --help >out || fail "$c --help"
	grep -q "usage\|upkeep" out || fail "$c --help says nothing"
done
refused "are needed" transfer create --out x

echo "== the seller's fleet: 2-of-3 root keys, a release, two devices"
cd "$W/seller"
S_OP="--key $W/seller/acme-op.key"
# shellcheck disable=SC2086
q fleet keyset --out ks $S_OP
for k in s1 s2 s3 t1; do q key generate $k --no-passphrase; done
q repo init img --root-key s1.pub --root-key s2.pub --root-key s3.pub --root-threshold 2 \
	--targets-key t1.pub --snapshot-key ks/image_snapshot.pub --timestamp-key ks/image_timestamp.pub
q repo init dir --root-key s1.pub --root-key s2.pub --root-key s3.pub --root-threshold 2 \
	--targets-key ks/director_targets.pub --snapshot-key ks/director_snapshot.pub \
	--timestamp-key ks/director_timestamp.pub
for r in img dir; do q sign $r root --key s1.key --key s2.key; done
# shellcheck disable=SC2086
q fleet create acme --keyset ks/keyset.json --image-root img/staged/root.json \
	--director-root dir/staged/root.json $S_OP
printf 'firmware two' >fw2.bin
q target add img fw2.bin --path images/fw-2.img --type image --version 2.0.0 \
	--security-version 2 --hardware hw-a
q sign img targets --key t1.key
# shellcheck disable=SC2086
q release publish img --fleet acme $S_OP
D1=$(node "$DEVJS" keygen d1.pem)
D2=$(node "$DEVJS" keygen d2.pem)
for d in d1 d2; do node "$DEVJS" "$URL" acme $d.pem enrol hw-a >/dev/null || fail "enrol $d"; done
# shellcheck disable=SC2086
for d in $D1 $D2; do q device accept "$d" --fleet acme $S_OP; done
node "$DEVJS" "$URL" acme d1.pem checkin '{"os":"1.0.0"}' >/dev/null || fail "checkin d1"

echo "== the buyer's keys"
cd "$W/buyer"
B_OP="--key $W/buyer/bob-op.key"
# shellcheck disable=SC2086
q fleet keyset --out bks $B_OP
for k in b1 b2 b3 bt; do q key generate $k --no-passphrase; done

echo "== transfer create (seller)"
cd "$W/seller"
"$U" transfer create --image img --director dir --from-fleet acme --to-fleet bob-home \
	--device "$D1" --root-key "$W/buyer/b1.pub" --root-key "$W/buyer/b2.pub" \
	--root-key "$W/buyer/b3.pub" --root-threshold 2 --targets-key "$W/buyer/bt.pub" \
	--keyset "$W/buyer/bks/keyset.json" --out sale --json >created.json || fail "transfer create"
cmp -s created.json sale/transfer.json || python3 -c "import json,sys; \
	assert json.load(open('created.json')) == json.load(open('sale/transfer.json'))" ||
	fail "transfer create --json is not transfer.json"
for f in transfer.json image-root.json director-root.json image-chain/1.root.json \
	director-chain/1.root.json; do
	[ -f "sale/$f" ] || fail "transfer create did not write sale/$f"
done
TID=$(js '["transfer"]["id"]' <sale/transfer.json)
[ "$(js '["transfer"]["devices"]' <sale/transfer.json)" = "['$D1']" ] || fail "record devices"
refused "already holds a transfer" transfer create --image img --director dir --from-fleet acme \
	--to-fleet bob-home --device "$D1" --root-key "$W/buyer/b1.pub" \
	--targets-key "$W/buyer/bt.pub" --keyset "$W/buyer/bks/keyset.json" --out sale
[ "$("$U" transfer show sale --json | js '["complete"]')" = False ] || fail "unsigned is complete"

echo "== signatures: each holder signs the copy passed to it"
pass() { # pass FROM_DIR TO_DIR: hand both roots on
	mkdir -p "$2"
	cp "$1/image-root.json" "$1/director-root.json" "$2/"
}
pass sale "$W/h-s1"
for h in s1 s3; do
	for f in image-root.json director-root.json; do q sign --file "$W/h-$h/$f" --key "$h.key"; done
	[ $h = s1 ] && pass "$W/h-s1" "$W/h-s3"
done
pass "$W/h-s3" sale
"$U" transfer show sale >out || fail "transfer show"
grep -q "old root v1 keys: *2 of 2" out || fail "seller signatures not counted: $(cat out)"
grep -q "new root keys: *0 of 2" out || fail "buyer signatures: $(cat out)"
grep -q "not ready" out || fail "incomplete transfer shown ready: $(cat out)"
# shellcheck disable=SC2086
refused "submit refused: image root v2 has 2 of 2 signatures of the old root keys and 0 of 2" \
	transfer submit sale $B_OP
"$U" device list --fleet bob-home $B_OP 2>err && fail "a refused submit created the fleet"

cd "$W/buyer"
cp -r "$W/seller/sale" sale
pass sale "$W/h-b1"
for f in image-root.json director-root.json; do q sign --file "$W/h-b1/$f" --key b1.key; done
pass "$W/h-b1" sale
# shellcheck disable=SC2086
refused "0 of 2\|1 of 2" transfer submit sale $B_OP
pass sale "$W/h-b2"
for f in image-root.json director-root.json; do q sign --file "$W/h-b2/$f" --key b2.key; done
pass "$W/h-b2" sale
"$U" transfer show sale --json >show.json || fail "transfer show --json"
[ "$(js '["complete"]' <show.json)" = True ] || fail "signed transfer incomplete: $(cat show.json)"
[ "$(js '["roots"][1]["new_keys"]["valid"]' <show.json)" = 2 ] || fail "director buyer sigs"

echo "== submit (buyer, as the creator of its key set)"
# shellcheck disable=SC2086
"$U" transfer submit sale $B_OP --json >sub.json || fail "transfer submit"
[ "$(js '["fleet"]' <sub.json)" = bob-home ] || fail "submit answer: $(cat sub.json)"
[ "$(js '["transfer"]' <sub.json)" = "$TID" ] || fail "submit transfer id"
# shellcheck disable=SC2086
refused "HTTP 409" transfer submit sale $B_OP

echo "== the seller lost the device, kept the other"
cd "$W/seller"
node "$DEVJS" "$URL" acme d1.pem checkin >ck.json || fail "checkin of the sold device"
[ "$(js '["moved_to"]' <ck.json)" = /v1/fleets/bob-home ] || fail "moved_to: $(cat ck.json)"
[ "$(js '["status"]' <ck.json)" = transferred ] || fail "status: $(cat ck.json)"
# shellcheck disable=SC2086
refused "transferred to fleet bob-home" device tag "$D1" ring=beta --fleet acme $S_OP
# shellcheck disable=SC2086
refused "transferred to fleet bob-home" device pin "$D1" images/fw-2.img --fleet acme $S_OP
# shellcheck disable=SC2086
[ "$("$U" device show "$D1" --fleet acme $S_OP --json | js '["status"]')" = transferred ] ||
	fail "the seller's view of the sold device"
# shellcheck disable=SC2086
"$U" device list --status transferred --fleet acme $S_OP >out || fail "device list --status transferred"
grep -q "^$D1  transferred .* moved to fleet bob-home" out || fail "transferred list: $(cat out)"
[ "$(wc -l <out)" -eq 1 ] || fail "only the sold device is transferred: $(cat out)"
# shellcheck disable=SC2086
q device pin "$D2" images/fw-2.img --fleet acme $S_OP
# shellcheck disable=SC2086
refused "HTTP 401" device list --fleet bob-home $S_OP

echo "== adopt, release publish and pin (buyer)"
cd "$W/buyer"
"$U" transfer adopt sale --image bob-img --director bob-dir >out || fail "transfer adopt"
# Devices follow only once the new fleet has image metadata: the hint says to publish first.
grep -q "follow the move only once it has image metadata" out || fail "adopt hint: $(cat out)"
grep -q "upkeep sign bob-img targets --key FILE && upkeep release publish bob-img" out ||
	fail "adopt hint: $(cat out)"
[ -f bob-img/published/2.root.json ] && [ -f bob-img/published/1.root.json ] ||
	fail "adopt did not write the chain"
printf 'firmware three' >fw3.bin
q target add bob-img fw3.bin --path images/fw-3.img --type image --version 3.0.0 \
	--security-version 3 --hardware hw-a
q sign bob-img targets --key bt.key
# shellcheck disable=SC2086
"$U" release publish bob-img --fleet bob-home $B_OP >out || fail "buyer release publish: $(cat out)"
# shellcheck disable=SC2086
[ "$("$U" device show "$D1" --fleet bob-home $B_OP --json | js '["status"]')" = accepted ] ||
	fail "the device is not accepted in the buyer's fleet"
# shellcheck disable=SC2086
[ "$("$U" device show "$D1" --fleet bob-home $B_OP --json | js '["installed"]["os"]')" = 1.0.0 ] ||
	fail "inventory not kept"
# shellcheck disable=SC2086
q device pin "$D1" images/fw-3.img --fleet bob-home $B_OP
node "$DEVJS" "$URL" bob-home "$W/seller/d1.pem" checkin >ck.json || fail "checkin in bob-home"
[ "$(js '["deployments"][0]["target"]' <ck.json)" = images/fw-3.img ] || fail "buyer deployment"
# The seller's targets key cannot sign for the buyer's fleet.
cd "$W/seller"
q target add img fw2.bin --path images/fw-2b.img --type image --version 2.1.0 \
	--security-version 2 --hardware hw-a
q sign img targets --key t1.key
# shellcheck disable=SC2086
refused "HTTP 401" release publish img --fleet bob-home $S_OP

echo "== ownership"
cd "$W/buyer"
"$U" ownership --fleet bob-home --device "$D1" >own || fail "ownership"
grep -q "transfer $TID at root v2: fleet acme -> bob-home, 1 device(s)  <- includes the device" own ||
	fail "ownership lacks the transfer: $(cat own)"
grep -q "owner 1: root v1..v1, 2 of 3" own || fail "first owner: $(cat own)"
grep -q "owner 2: root v2..v2, 2 of 3" own || fail "second owner: $(cat own)"
"$U" ownership --fleet bob-home --root sale/image-chain/1.root.json --json >own.json ||
	fail "ownership --root"
[ "$(js '["verified_from_trusted_root"]' <own.json)" = True ] || fail "anchored: $(cat own.json)"
[ "$(js '["transfers"][0]["to_fleet"]' <own.json)" = bob-home ] || fail "json transfer"
# Another v1 root (same keys, another expiry) is not the one the chain starts from.
q repo init other --root-key b1.pub --targets-key bt.pub --snapshot-key b1.pub \
	--timestamp-key b1.pub --root-expires 100d
refused "differs from the trusted root" ownership --fleet bob-home --root other/staged/root.json
echo "PASS"
