#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Offline install end to end with the real programs: the owner signs an image
# and a director repository with `upkeep`, packs them with `upkeep bundle
# create`; `upkeepd install BUNDLE` verifies and installs into a file slot,
# upkeep-bootsim reboots, `upkeepd resume` commits. A tampered bundle is refused.
set -eu
B=${UPK_BUILD_DIR:?}
UPKEEP="$B/cli/upkeep"
[ -x "$B/agent/upkeepd" ] && [ -x "$UPKEEP" ] || { echo "skip: not built"; exit 77; }
command -v grub-editenv >/dev/null || { echo "skip: grub-editenv missing"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/upk-bundle-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
up() { "$UPKEEP" "$@" >"$T/up.out" 2>"$T/up.err" || { cat "$T/up.out" "$T/up.err" >&2; fail "upkeep $*"; }; }

mkdir -p "$T/keys" "$T/payload"
for k in root targets snapshot timestamp droot dtargets dsnapshot dtimestamp; do
	up key generate "$k" --dir "$T/keys" --no-passphrase
done
head -c 300000 /dev/urandom > "$T/payload/os.img"
# Two repositories: the owner's image repository and (offline) a director for this device.
for r in image director; do
	p=; [ $r = director ] && p=d
	up repo init "$T/$r" --root-key "$T/keys/${p}root.pub" --targets-key "$T/keys/${p}targets.pub" \
		--snapshot-key "$T/keys/${p}snapshot.pub" --timestamp-key "$T/keys/${p}timestamp.pub"
	up target add "$T/$r" "$T/payload/os.img" --path images/os-2.0.img --type image \
		--version 2.0 --hardware test-hw --security-version 3
	up sign "$T/$r" root --key "$T/keys/${p}root.key"
	up sign "$T/$r" targets --key "$T/keys/${p}targets.key"
	up publish "$T/$r" --out "$T/$r-pub" --snapshot-key "$T/keys/${p}snapshot.key" \
		--timestamp-key "$T/keys/${p}timestamp.key"
done
"$UPKEEP" bundle --help | grep -q create || fail "bundle --help"
up bundle create --image "$T/image-pub" --director "$T/director-pub" \
	--target images/os-2.0.img --output "$T/update.bundle"
tar -tf "$T/update.bundle" | grep -q '^targets/images/os-2.0.img$' || fail "payload not in bundle"
tar -tf "$T/update.bundle" | grep -q '^image/metadata/timestamp.json$' || fail "metadata not in bundle"
"$UPKEEP" bundle create --image "$T/image-pub" --director "$T/director-pub" \
	--target images/none.img --output "$T/x.bundle" 2>"$T/err" && fail "unknown target bundled"
grep -q "images/none.img" "$T/err" || fail "unknown target message: $(cat "$T/err")"

grub-editenv "$T/grubenv" create
grub-editenv "$T/grubenv" set upkeep_default=A
truncate -s 1M "$T/a.img" "$T/b.img"
printf 'console=ttyS0 upkeep.slot=A\n' > "$T/cmdline"
cat > "$T/agent.conf" <<CONF
[agent]
data_dir = $T/data
cmdline = $T/cmdline
hardware_id = test-hw
reboot = touch $T/rebooted
[trust]
image_root = $T/image-pub/metadata/1.root.json
director_root = $T/director-pub/metadata/1.root.json
[slot.A]
device = $T/a.img
[slot.B]
device = $T/b.img
[bootloader]
type = grub
grubenv = $T/grubenv
CONF
U="$B/agent/upkeepd --config $T/agent.conf"
boot() { "$B/agent/upkeep-bootsim" --cmdline "$T/cmdline" grub "$T/grubenv"; }

# A tampered payload inside the bundle: verified like a download, never installed.
cp "$T/update.bundle" "$T/bad.bundle"
off=$(( $(stat -c %s "$T/bad.bundle") - 2048 ))
printf 'X' | dd of="$T/bad.bundle" bs=1 seek=$off conv=notrunc 2>/dev/null
$U install "$T/bad.bundle" >"$T/out" 2>&1 && fail "tampered bundle installed: $(cat "$T/out")"
grep -q "failed" "$T/out" || fail "tampered bundle message: $(cat "$T/out")"
[ -e "$T/rebooted" ] && fail "rebooted after a tampered bundle"
# The failure is remembered for that target: start the device again from scratch.
rm -rf "$T/data"

$U install "$T/update.bundle" | grep -q "rebooting" || fail "install did not arm a trial"
[ -e "$T/rebooted" ] || fail "reboot command not run"
[ "$(boot)" = "slot=B trial=1 fallback=0" ] || fail "trial boot"
$U resume | grep -q "resume: done" || fail "resume did not commit"
$U status --json > "$T/st.json"
python3 - "$T/st.json" <<'PY' || fail "status: $(cat "$T/st.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["installed"]["image"] == "2.0", s
assert s["last"]["result"] == "success", s
PY
cmp -n 300000 "$T/payload/os.img" "$T/b.img" || fail "slot B does not hold the image"
[ "$(boot)" = "slot=B trial=0 fallback=0" ] || fail "committed boot"
# Again: nothing to do.
$U install "$T/update.bundle" | grep -q "install: idle" || fail "second install not idle"
echo ok
