#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 6 end to end (docs/ownership.md) with the real binaries on 127.0.0.1:
# upkeep-server on a SQLite file, upkeepd agents with A/B file slots rebooting
# through upkeep-bootsim, and the owner tool, each owner's 2-of-3 key holders
# in separate directories (scripts/fleet-sim.sh).
#
# 1. manufacturer -> buyer -> second buyer: after each sale every attempt of a
#    previous owner (a release and a config target signed by its threshold,
#    served to the device from its own fleet; a pin, a rollout, another
#    transfer of the device on the server) is refused, by the device or the
#    server; the current owner's release and config target install; the
#    private data is wiped and audited; `ownership` lists both transfers.
#    Until the buyer's first publish the device cannot follow, and a failed
#    follow changes nothing on it.
# 2. Interrupted transfers end with one owner fully in control, checked both
#    ways: seller signed only, buyer below threshold (the device refuses the
#    half-signed root too), device offline during the move (the server
#    refuses the seller and takes the buyer's pin at once; the device trusts
#    the seller's roots until it checks in, then follows and installs the
#    buyer's release), server SIGKILLed right after the transfer and restarted.
# 3. Vendor delegation (while bob owns device 1): a vendor-signed release
#    installs under the delegated path; outside it the tool refuses; after
#    the removal the vendor has no role and the server refuses its release.
# 4. Factory reset (after the second sale) under the owner's signed config
#    target: denied, then allowed; a new owner claims the device with its
#    code and updates it.
set -eu
: "${UPK_BUILD_DIR:?}" "${UPK_SOURCE_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-own-e2e-XXXXXX")
FS_BUILD=$UPK_BUILD_DIR
FS_WORK=$W
. "$UPK_SOURCE_DIR/scripts/fleet-sim.sh"
fs_test_setup
step() { echo "== $* ($(($(date +%s) - T0)) s)"; }
fs_require
[ "$(id -u)" = 0 ] || fail "run as root: \`upkeepd reset --factory\` needs it (physical presence)"
U=$FS_UPKEEP
T0=$(date +%s)

# ---- owners: three key holders each (2 of 3 for root and releases), a server key ----

owner_new() { # NAME
	mkdir -p "$W/$1"
	for h in 1 2 3; do fs_holder_new "$1$h" "$W/$1"; done
	(cd "$W/$1" && "$U" key generate op --no-passphrase >/dev/null) || fail "server key of $1"
}
# The owner tool in OWNER's directory, with OWNER's server key; its fleet is named after it.
as() { # OWNER ARGS...
	as_o=$1
	shift
	(cd "$W/$as_o" && UPKEEP_KEY="$W/$as_o/op.key" UPKEEP_FLEET="$as_o" "$U" "$@")
}
q() { as "$@" >"$W/out" 2>"$W/err" || fail "$1: upkeep $*: $(cat "$W/err")"; }
# Refused with one line on stderr that contains WANT; the caller checks nothing changed.
refused() { # WANT OWNER ARGS...
	r_want=$1
	shift
	as "$@" >/dev/null 2>"$W/err" && fail "$1: upkeep $* was accepted"
	grep -q -- "$r_want" "$W/err" || fail "$1: upkeep $*: expected \"$r_want\": $(cat "$W/err")"
	[ "$(wc -l <"$W/err")" -eq 1 ] || fail "more than one line on stderr: $(cat "$W/err")"
}
# --root-key and --targets-key options naming OWNER's holders, 2 of 3 each.
owner_keys() { # OWNER
	for h in 1 2 3; do printf ' --root-key %s' "$W/$1/$1$h-root.pub"; done
	for h in 1 2 3; do printf ' --targets-key %s' "$W/$1/$1$h-release.pub"; done
	printf ' --root-threshold 2 --targets-threshold 2'
}
# A new fleet named OWNER, with repositories of its own keys.
fleet_new() { # OWNER
	q "$1" fleet keyset --out ks
	# shellcheck disable=SC2046 # owner_keys prints options
	q "$1" repo init img $(owner_keys "$1") --snapshot-key ks/image_snapshot.pub \
		--timestamp-key ks/image_timestamp.pub
	q "$1" repo init dir --root-key "$1"1-root.pub --root-key "$1"2-root.pub \
		--root-key "$1"3-root.pub --root-threshold 2 --targets-key ks/director_targets.pub \
		--snapshot-key ks/director_snapshot.pub --timestamp-key ks/director_timestamp.pub
	fs_holders_sign "$W/$1" img root root "$1"1 "$1"2
	fs_holders_sign "$W/$1" dir root root "$1"1 "$1"2
	q "$1" fleet create "$1" --keyset ks/keyset.json --image-root img/staged/root.json \
		--director-root dir/staged/root.json
}

# Each release gets the next version and security version, so none is ever
# refused for anti-rollback: a refusal below is always about who signed it.
REL=1
# A release of OWNER: TYPE image (random bytes) or config (JSON), signed by
# two of OWNER's holders and published in OWNER's fleet. Sets PATH_ and VER.
release() { # OWNER TYPE [JSON]
	REL=$((REL + 1))
	VER=$REL.0.0
	if [ "$2" = image ]; then
		PATH_=images/$1-$VER.img
		head -c 30000 /dev/urandom >"$W/$1/payload"
	else
		PATH_=config/$1-$VER.json
		printf '%s' "$3" >"$W/$1/payload"
	fi
	q "$1" target add img payload --path "$PATH_" --type "$2" --version "$VER" \
		--security-version "$REL" --hardware sim-gw
	fs_holders_sign "$W/$1" img targets release "$1"1 "$1"2
	q "$1" release publish img
}

# ---- the server and the owners ----

for o in acme bob carol dan erin dave; do owner_new "$o"; done
fs_server_start "$W"/*/op.pub
export UPKEEP_SERVER="$FS_URL"
fleet_new acme
release acme image # a fleet serves its image repository from the first release on

# Devices 1..3 of acme: enrolled, accepted, trusting acme's repositories.
for n in 1 2 3; do
	fs_device_new "$n" "$W/acme/img/staged/root.json" "$W/acme/dir/staged/root.json" true
	[ "$(fs_device_cycle "$n")" = idle ] || fail "device $n enrolment"
done
ID1=$(fs_device_id 1) ID2=$(fs_device_id 2) ID3=$(fs_device_id 3)
id_of() { eval "echo \"\$ID$1\""; }
for n in 1 2 3; do q acme device accept "$(id_of "$n")"; done
for n in 1 2 3; do [ "$(fs_device_cycle "$n")" = idle ] || fail "device $n accepted"; done
priv() { echo "$(fs_dev_dir "$1")/data/private"; }
dev_state() { fs_device_status "$@"; }
image_root_version() { # N: the version of the image root device N trusts
	"$FS_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' \
		"$(fs_dev_dir "$1")/data/metadata/image/root.json"
}

# ---- control: what the owner in control can do, and what everyone else cannot ----

# OWNER's image release installs on device N: pinned on the server, A/B update, committed.
installs() { # OWNER N
	release "$1" image
	q "$1" device pin "$(id_of "$2")" "$PATH_"
	i_o=$(fs_device_cycle "$2")
	[ "$i_o" = "rebooting done" ] ||
		fail "$1's release $VER on device $2: $i_o: $(dev_state "$2" '["last"]["reason"]')"
	[ "$(dev_state "$2" '["installed"]["image"]')" = "$VER" ] ||
		fail "device $2 runs $(dev_state "$2" '["installed"]["image"]'), not $1's $VER"
}

# OWNER's config target applies on device N (JSON without a new server).
config_applies() { # OWNER N JSON
	release "$1" config "$3"
	q "$1" device pin "$(id_of "$2")" "$PATH_"
	c_o=$(fs_device_cycle "$2")
	[ "$c_o" = "done" ] ||
		fail "$1's config $PATH_ on device $2: $c_o: $(dev_state "$2" '["last"]["reason"]')"
	[ "$(dev_state "$2" '["config"]["target"]')" = "$PATH_" ] || fail "config $PATH_ not applied"
}

# A snapshot of what matters on device N: installed software, the server it
# talks to, its config, its ownership records, the roots it trusts.
device_fingerprint() { # N
	fs_agent "$1" status --json | "$FS_PY" -c 'import json, sys; s = json.load(sys.stdin)
print([s.get(k) for k in ("installed", "server", "config", "owner", "transfer_pending")])'
	cat "$(fs_dev_dir "$1")/data/metadata/image/root.json" \
		"$(fs_dev_dir "$1")/data/metadata/director/root.json" | cksum
}

# Device N is served OWNER's image repository (what OWNER signs, with its
# fleet's online keys) from OWNER's fleet on the server as a mirror, beside
# the director of fleet DIRECTOR (`check --image-metadata`, no enrolment).
mirror_check() { # OWNER N DIRECTOR
	m=$FS_URL/v1/fleets
	fs_agent "$2" check --image-metadata "$m/$1/image/metadata/" \
		--director-metadata "$m/$3/director/$(id_of "$2")/metadata/" --targets "$m/$1/image/targets/"
}

# Everything OLD, a previous owner of device N (now CUR's), tries is refused.
old_refused() { # OLD CUR N
	id=$(id_of "$3")
	before=$(device_fingerprint "$3")
	# A release signed by OLD's threshold: OLD's fleet takes it (OLD's own
	# repository), but cannot assign it to the device, nor can OLD in CUR's fleet.
	release "$1" image
	refused "transferred to fleet" "$1" device pin "$id" "$PATH_"
	refused "HTTP 401" "$1" device pin "$id" "$PATH_" --fleet "$2"
	# A rollout: not in CUR's fleet; in OLD's own fleet it never reaches the device.
	refused "HTTP 401" "$1" rollout create "$PATH_" --phase 100 --fleet "$2"
	r=$(as "$1" rollout create "$PATH_" --phase 100 --selector "device in [\"$id\"]" --json |
		fs_json '["id"]') || fail "$1: rollout create in its own fleet"
	as "$1" rollout devices "$r" --json | grep -q "$id" && fail "$1's rollout $r reached device $3"
	# A config target moving the device back to OLD's fleet.
	release "$1" config "{\"upkeep_config\":1,\"server\":\"$FS_URL/v1/fleets/$1\"}"
	refused "transferred to fleet" "$1" device pin "$id" "$PATH_"
	# The device itself, served OLD's repositories (release and config target
	# included): refused, since the root it trusts names none of OLD's keys.
	mirror_check "$1" "$3" "$2" >"$W/mc.out" 2>&1 &&
		fail "device $3 took $1's repository: $(cat "$W/mc.out")"
	grep -q "image repository: timestamp.json: .*signature threshold 1 not met: 0 valid" \
		"$W/mc.out" || fail "device $3 refused $1's repository for another reason: $(cat "$W/mc.out")"
	# Moving the device again: a transfer from OLD's fleet, signed by OLD's thresholds.
	q "$1" fleet keyset --out "ks-$2"
	# shellcheck disable=SC2046 # owner_keys prints options
	q "$1" transfer create --image img --director dir --from-fleet "$1" --to-fleet "$1-$2" \
		--device "$id" $(owner_keys "$1") --keyset "ks-$2/keyset.json" --out "steal-$2"
	sign_transfer "$W/$1/steal-$2" "$1"1 "$1"2
	refused "HTTP 409: transfer refused: device $id was already transferred from fleet" "$1" \
		transfer submit "steal-$2"
	[ "$(device_fingerprint "$3")" = "$before" ] || fail "$1's attempts changed device $3"
}

# ---- transfers ----

# Each holder signs both transfer roots of TDIR with its root key, on copies
# passed to it and back.
sign_transfer() { # TDIR HOLDER...
	st_t=$1
	shift
	for h in "$@"; do
		mkdir -p "$W/$h/sale"
		cp "$st_t/image-root.json" "$st_t/director-root.json" "$W/$h/sale/"
		for r in image director; do
			(cd "$W/$h" && "$U" sign --file "sale/$r-root.json" --key "$h-root.key" >/dev/null) ||
				fail "$h could not sign $st_t"
		done
		cp "$W/$h/sale/image-root.json" "$W/$h/sale/director-root.json" "$st_t/"
	done
}
# SELLER makes the transfer roots of device N for BUYER (with a key set of
# BUYER's on the server) in $W/SELLER/sale-BUYER, copied to $W/BUYER/sale.
sale_create() { # SELLER BUYER N
	q "$2" fleet keyset --out ks
	# shellcheck disable=SC2046 # owner_keys prints options
	q "$1" transfer create --image img --director dir --from-fleet "$1" --to-fleet "$2" \
		--device "$(id_of "$3")" $(owner_keys "$2") --keyset "$W/$2/ks/keyset.json" \
		--out "sale-$2" --json
	TID=$(fs_json '["transfer"]["id"]' <"$W/out")
}
# BUYER submits the sale and adopts the chain.
sale_submit() { # SELLER BUYER
	rm -rf "$W/$2/sale"
	cp -r "$W/$1/sale-$2" "$W/$2/sale"
	q "$2" transfer submit sale
	q "$2" transfer adopt sale --image img --director dir
}
# BUYER publishes its first (empty) image targets: until then its fleet serves
# no image repository for the device to follow into.
buyer_publish() { # BUYER
	fs_holders_sign "$W/$1" img targets release "$1"1 "$1"3
	q "$1" release publish img
}
# Device N follows its sale to BUYER (transfer TID) at its next check-in:
# the buyer's root, its fleet, the private data wiped, the event audited.
follows() { # N BUYER
	f_o=$(fs_device_cycle "$1")
	[ "$f_o" = idle ] || fail "device $1 following the sale to $2: $f_o"
	[ "$(dev_state "$1" '["server"]')" = "$FS_URL/v1/fleets/$2" ] ||
		fail "device $1 talks to $(dev_state "$1" '["server"]')"
	[ "$(dev_state "$1" '["owner"]["transfer"]')" = "$TID" ] || fail "device $1 owner record"
	[ -z "$(ls -A "$(priv "$1")")" ] || fail "device $1 kept private data: $(ls "$(priv "$1")")"
	[ -d "$(priv "$1")" ] || fail "device $1 lost its private directory"
	# The next check-in delivers the event: a device.event audit row in the buyer's fleet.
	[ "$(fs_device_cycle "$1")" = idle ] || fail "device $1 after following"
	[ "$(dev_state "$1" '.get("events")')" = None ] || fail "device $1 kept its events"
	as "$2" audit --device "$(id_of "$1")" --json --limit 100 >"$W/audit.json" || fail "audit"
	"$FS_PY" - "$W/audit.json" "$TID" <<'PY' || fail "no device.event for transfer $TID"
import json, sys
rows = json.load(open(sys.argv[1]))["entries"]
assert [r for r in rows if r["action"] == "device.event" and r["detail"].get("transfer") == sys.argv[2]
        and r["detail"].get("reason") == "transfer"], rows
PY
}

# ==== 1. manufacturer -> buyer -> second buyer ====

step "1. acme (manufacturer) sells device 1 to bob"
installs acme 1
echo "acme's calibration" >"$(priv 1)/acme-secret"
sale_create acme bob 1
sign_transfer "$W/acme/sale-bob" acme1 acme2 bob1 bob2
sale_submit acme bob
TID1=$TID
# Between the submit and bob's first publish the device cannot follow yet
# (bob's fleet has no image repository): the check fails and changes nothing.
before=$(device_fingerprint 1)
fs_agent 1 check >"$W/ck.out" 2>&1 && fail "device 1 followed into an empty fleet: $(cat "$W/ck.out")"
grep -q "following the move to $FS_URL/v1/fleets/bob: image repository: the fleet has published no image metadata yet .*timestamp.json: .* HTTP 404" \
	"$W/ck.out" || fail "device 1 before bob's first publish: $(cat "$W/ck.out")"
[ "$(device_fingerprint 1)" = "$before" ] || fail "a failed follow changed device 1"
[ -f "$(priv 1)/acme-secret" ] || fail "a failed follow wiped device 1's private data"
buyer_publish bob
follows 1 bob
[ "$(image_root_version 1)" = 2 ] || fail "device 1 trusts image root v$(image_root_version 1)"
step "1. after the first sale: acme is refused, bob is in control"
old_refused acme bob 1
installs bob 1
config_applies bob 1 '{"upkeep_config":1,"factory_reset":"allow","poll_interval":"1h"}'

# ==== 3. vendor delegation ====

step "3. bob delegates vendor/sim-gw/* to acme's release keys, 2 of 3"
q bob delegate add img acme --key "$W/acme/acme1-release.pub" --key "$W/acme/acme2-release.pub" \
	--key "$W/acme/acme3-release.pub" --threshold 2 --path 'vendor/sim-gw/*'
# The vendor's release, in the delegated role: signed by two of acme's holders.
REL=$((REL + 1))
VER=$REL.0.0
VENDOR_PATH=vendor/sim-gw/fw-$VER.img
head -c 30000 /dev/urandom >"$W/bob/payload"
q bob target add img payload --path "$VENDOR_PATH" --role acme --type image --version "$VER" \
	--security-version "$REL" --hardware sim-gw
fs_holders_sign "$W/bob" img acme release acme1 acme3
fs_holders_sign "$W/bob" img targets release bob1 bob2
q bob release publish img
q bob device pin "$ID1" "$VENDOR_PATH"
[ "$(fs_device_cycle 1)" = "rebooting done" ] || fail "the vendor release did not install"
[ "$(dev_state 1 '["installed"]["image"]')" = "$VER" ] || fail "device 1 does not run vendor $VER"
# Outside the delegated path: refused.
refused "is outside the paths targets delegates to acme" bob target add img payload \
	--path images/acme-extra.img --role acme --type image --version 99.0.0 --hardware sim-gw
# bob removes the delegation: the vendor's next release has no role to go in,
# and its earlier one is no longer in bob's repository for the device.
q bob delegate remove img acme
fs_holders_sign "$W/bob" img targets release bob1 bob2
q bob release publish img
refused "no staged role delegates to \"acme\"" bob target add img payload \
	--path vendor/sim-gw/fw-99.img --role acme --type image --version 99.0.0 --hardware sim-gw
q bob device unpin "$ID1" image
installs bob 1
refused "not listed by the image repository" bob device pin "$ID1" "$VENDOR_PATH"

step "1. bob sells device 1 to carol"
echo "bob's wifi password" >"$(priv 1)/bob-secret"
sale_create bob carol 1
sign_transfer "$W/bob/sale-carol" bob1 bob3 carol2 carol3
sale_submit bob carol
TID2=$TID
buyer_publish carol
follows 1 carol
[ "$(image_root_version 1)" = 3 ] || fail "device 1 trusts image root v$(image_root_version 1)"
step "1. after the second sale: acme and bob are refused, carol is in control"
old_refused bob carol 1
old_refused acme carol 1
installs carol 1
config_applies carol 1 '{"upkeep_config":1,"poll_interval":"2h"}'
as carol ownership --fleet carol --device "$ID1" >"$W/own" || fail "ownership"
for t in "$TID1 at root v2: fleet acme -> bob" "$TID2 at root v3: fleet bob -> carol"; do
	grep -q "transfer $t, 1 device(s)  <- includes the device" "$W/own" ||
		fail "ownership lacks $t: $(cat "$W/own")"
done

# ==== 4. factory reset under the owner's signed config target ====

step "4. carol's config denies the factory reset"
config_applies carol 1 '{"upkeep_config":1,"factory_reset":"deny"}'
echo "carol's keys" >"$(priv 1)/carol-secret"
before=$(device_fingerprint 1)
fs_agent 1 reset --factory >"$W/out" 2>"$W/err" && fail "a denied reset ran: $(cat "$W/out")"
grep -q "factory_reset = deny" "$W/err" || fail "denied reset: $(cat "$W/err")"
[ -f "$(priv 1)/carol-secret" ] || fail "a denied reset wiped the private data"
[ "$(device_fingerprint 1)" = "$before" ] || fail "a denied reset changed device 1"
step "4. carol's config allows it: reset, then dave claims device 1 with the code"
config_applies carol 1 '{"upkeep_config":1,"factory_reset":"allow"}'
fs_agent 1 reset --factory --json >"$W/reset.json" 2>"$W/err" || fail "reset: $(cat "$W/err")"
CODE=$(fs_json '["claim_code"]' <"$W/reset.json")
[ -z "$(ls -A "$(priv 1)")" ] || fail "the reset kept private data: $(ls "$(priv 1)")"
[ "$(dev_state 1 '["claim"]["status"]')" = unclaimed ] || fail "device 1 is not unclaimed"
fleet_new dave
release dave image
# The roots exactly as dave's fleet serves them (director roots: under any device's path).
curl -sf "$FS_URL/v1/fleets/dave/image/metadata/1.root.json" >"$W/dave/image-1.root.json" ||
	fail "fetching dave's image root"
curl -sf "$FS_URL/v1/fleets/dave/director/$(printf '%064d' 0)/metadata/1.root.json" \
	>"$W/dave/director-1.root.json" || fail "fetching dave's director root"
q dave device claim "$ID1" --code "$CODE" --image-root image-1.root.json \
	--director-root director-1.root.json
[ "$(fs_device_cycle 1)" = idle ] || fail "device 1 taking dave's claim"
[ "$(dev_state 1 '["claim"]["status"]')" = claimed ] || fail "device 1 is not claimed"
[ "$(dev_state 1 '["server"]')" = "$FS_URL/v1/fleets/dave" ] || fail "device 1 is not in dave's fleet"
installs dave 1
# carol's repository no longer verifies on it.
mirror_check carol 1 dave >"$W/mc.out" 2>&1 && fail "device 1 took carol's repository after the claim"
grep -q "signature threshold" "$W/mc.out" || fail "carol's repository after the claim: $(cat "$W/mc.out")"

# ==== 2. interrupted transfers ====

# Device N of SELLER is fully SELLER's while BUYER's transfer is unfinished:
# SELLER's release installs; BUYER has no fleet to act in; the device refuses
# the half-signed transfer root (given to it in a bundle) and keeps trusting SELLER.
seller_in_control() { # SELLER BUYER N
	[ "$(as "$1" device show "$(id_of "$3")" --json | fs_json '["status"]')" = accepted ] ||
		fail "device $3 is no longer accepted in $1's fleet"
	refused "HTTP 404: fleet not found" "$2" device list --fleet "$2"
	refused "HTTP 404: fleet not found" "$2" device pin "$(id_of "$3")" images/x.img --fleet "$2"
	installs "$1" "$3"
	before=$(device_fingerprint "$3")
	"$FS_PY" - "$W/half.bundle" "$FS_URL/v1/fleets/$1" "$(id_of "$3")" \
		"$W/$2/sale/image-root.json" <<'PY' || fail "making the bundle"
import io, json, sys, tarfile, urllib.error, urllib.request
out, fleet, dev, half = sys.argv[1:]
def get(u):
    try:
        return urllib.request.urlopen(u).read()
    except urllib.error.HTTPError:
        return None
files = {}
for base, pre in ((fleet + "/image/metadata/", "image/metadata/"),
                  (fleet + "/director/" + dev + "/metadata/", "director/metadata/")):
    n = 1
    while (b := get(base + "%d.root.json" % n)) is not None:
        files[pre + "%d.root.json" % n] = b
        n += 1
    files[pre + "timestamp.json"] = ts = get(base + "timestamp.json")
    v = json.loads(ts)["signed"]["meta"]["snapshot.json"]["version"]
    files[pre + "%d.snapshot.json" % v] = snap = get(base + "%d.snapshot.json" % v)
    for role, m in json.loads(snap)["signed"]["meta"].items():
        files[pre + "%d.%s" % (m["version"], role)] = get(base + "%d.%s" % (m["version"], role))
files["image/metadata/2.root.json"] = open(half, "rb").read()
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, data in files.items():
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
	fs_agent "$3" install "$W/half.bundle" >"$W/out" 2>&1 && fail "device $3 took a half-signed transfer root"
	grep -q "2.root.json: not signed by its own root keys" "$W/out" ||
		fail "the half-signed root: $(cat "$W/out")"
	[ "$(device_fingerprint "$3")" = "$before" ] || fail "a half-signed transfer root changed device $3"
	[ "$(image_root_version "$3")" = 1 ] || fail "device $3 trusts image root v$(image_root_version "$3")"
}

step "2a. acme sells device 2 to dan: only acme's holders sign"
echo "acme's data on device 2" >"$(priv 2)/acme-secret"
sale_create acme dan 2
sign_transfer "$W/acme/sale-dan" acme1 acme3
rm -rf "$W/dan/sale"
cp -r "$W/acme/sale-dan" "$W/dan/sale"
refused "submit refused: image root v2 has 2 of 2 signatures of the old root keys and 0 of 2" \
	dan transfer submit sale
seller_in_control acme dan 2
step "2b. dan's holders sign below their threshold"
sign_transfer "$W/acme/sale-dan" dan1
rm -rf "$W/dan/sale"
cp -r "$W/acme/sale-dan" "$W/dan/sale"
refused "2 of 2 signatures of the old root keys and 1 of 2" dan transfer submit sale
seller_in_control acme dan 2

step "2c. device 2 is offline during the move"
sign_transfer "$W/acme/sale-dan" dan3
sale_submit acme dan
buyer_publish dan
before=$(device_fingerprint 2)
# The server moved it: acme is refused, dan's pin is taken...
[ "$(as acme device show "$ID2" --json | fs_json '["status"]')" = transferred ] || fail "acme's view"
refused "transferred to fleet dan" acme device pin "$ID2" "images/acme-2.0.0.img"
release dan image
q dan device pin "$ID2" "$PATH_"
# ...but the device, offline, has not seen the sale: it still runs and
# trusts what it did, and dan's release is not on it.
[ "$(device_fingerprint 2)" = "$before" ] || fail "device 2 changed while offline"
[ -f "$(priv 2)/acme-secret" ] || fail "device 2 lost its data while offline"
# Its next check-in: it follows, wipes, and installs dan's pinned release.
o=$(fs_device_cycle 2)
[ "$o" = "rebooting done" ] || fail "device 2 back online: $o"
[ "$(dev_state 2 '["installed"]["image"]')" = "$VER" ] || fail "device 2 does not run dan's $VER"
[ "$(dev_state 2 '["owner"]["transfer"]')" = "$TID" ] || fail "device 2 owner record"
[ -z "$(ls -A "$(priv 2)")" ] || fail "device 2 kept acme's data"
[ "$(image_root_version 2)" = 2 ] || fail "device 2 trusts image root v$(image_root_version 2)"
old_refused acme dan 2

step "2d. the server is killed (SIGKILL) right after device 3's transfer"
sale_create acme erin 3
sign_transfer "$W/acme/sale-erin" acme2 acme3 erin1 erin2
rm -rf "$W/erin/sale"
cp -r "$W/acme/sale-erin" "$W/erin/sale"
q erin transfer submit sale
fs_server_kill
fs_server_start "$W"/*/op.pub
[ "$(as erin device show "$ID3" --json | fs_json '["status"]')" = accepted ] || fail "transfer lost"
[ "$(as acme device show "$ID3" --json | fs_json '["status"]')" = transferred ] || fail "acme's view"
q erin transfer adopt sale --image img --director dir
buyer_publish erin
follows 3 erin
installs erin 3
old_refused acme erin 3

step "done"
fs_server_stop
echo "ownership end to end: all good ($(($(date +%s) - T0)) s)"
