#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End to end with the real programs: upkeepd installs an image into a file
# slot, upkeep-bootsim reboots through a GRUB environment block, the health
# check decides; injected faults (UPKEEP_FAULT) never leave a slot armed.
# The reference grub.cfg snippet of docs/bootloader.md is syntax-checked.
set -eu
B=${UPK_BUILD_DIR:?}/agent
[ -x "$B/upkeepd" ] && [ -x "$B/upkeep-bootsim" ] || { echo "skip: agent not built"; exit 77; }
for tool in grub-editenv grub-script-check zstd tar; do
	command -v $tool >/dev/null || { echo "skip: $tool missing"; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/upk-test-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The documented GRUB snippet is valid GRUB script.
sed -n '/^```grub$/,/^```$/p' "$UPK_SOURCE_DIR/docs/bootloader.md" | sed '1d;$d' > "$T/snippet.cfg"
[ -s "$T/snippet.cfg" ] || fail "no grub snippet in docs/bootloader.md"
grub-script-check "$T/snippet.cfg" || fail "grub-script-check refuses the documented snippet"

grub-editenv "$T/grubenv" create
grub-editenv "$T/grubenv" set upkeep_default=A
truncate -s 8M "$T/a.img" "$T/b.img"
cat > "$T/agent.conf" <<CONF
[agent]
data_dir = $T/data
cmdline = $T/cmdline
hardware_id = test-hw
[slot.A]
device = $T/a.img
[slot.B]
device = $T/b.img
[bootloader]
type = grub
grubenv = $T/grubenv
[health]
command = test -f $T/healthy
timeout = 10
CONF
U="$B/upkeepd --config $T/agent.conf"
boot() { "$B/upkeep-bootsim" --cmdline "$T/cmdline" grub "$T/grubenv"; }

for c in status identity install-image install-archive health commit rollback daemon check \
	install resume reset claim-code; do
	$U $c --help >/dev/null || fail "$c --help"
done
$U --help | grep -q install-image || fail "--help lists no commands"
$U frobnicate 2>/dev/null && fail "unknown command accepted"
$U check --image-metadata http://127.0.0.1:1/ 2>/dev/null && fail "check with half a mirror accepted"
$U install 2>/dev/null && fail "install without a bundle accepted"
$U daemon 2>"$T/err" && fail "daemon without a server started"
grep -q "no server set" "$T/err" || fail "daemon without a server: $(cat "$T/err")"
$U install "$T/agent.conf" 2>"$T/err" && fail "a non-tar bundle accepted"
grep -q "bundle .*agent.conf: truncated at byte 0" "$T/err" || fail "bad bundle message: $(cat "$T/err")"
# The systemd unit runs the daemon.
grep -q "^ExecStart=.*upkeepd .*daemon$" "$UPK_SOURCE_DIR/dist/upkeepd.service" || fail "unit"

[ "$(boot)" = "slot=A trial=0 fallback=0" ] || fail "first boot"
id=$($U identity)
[ ${#id} -eq 64 ] || fail "device id $id"
[ "$(stat -c %a "$T/data/device.key")" = 600 ] || fail "device key mode"
[ "$($U identity)" = "$id" ] || fail "device id changed"

head -c 5000000 /dev/urandom > "$T/img"
zstd -q "$T/img" -o "$T/img.zst"
sha=$(sha256sum "$T/img.zst" | cut -d' ' -f1)
bad=$(sha256sum "$T/img" | cut -d' ' -f1)

# A wrong hash: refused, nothing armed.
$U install-image --sha256 "$bad" "$T/img.zst" 2>"$T/err" && fail "wrong hash accepted"
grep -q "payload sha256 $sha, expected $bad" "$T/err" || fail "hash message: $(cat "$T/err")"
grub-editenv "$T/grubenv" list | grep -q "upkeep_once=B" && fail "armed after a bad payload"

# ENOSPC on the slot: a clear error, nothing armed.
UPKEEP_FAULT=write:enospc@1048576 $U install-image --sha256 "$sha" "$T/img.zst" 2>"$T/err" &&
	fail "ENOSPC ignored"
grep -q "slot B at byte [0-9]*: writing .*No space left on device" "$T/err" || fail "ENOSPC message: $(cat "$T/err")"
grub-editenv "$T/grubenv" list | grep -q "upkeep_once=B" && fail "armed after ENOSPC"

# A crash half-way (SIGKILL): the slot stays "writing", nothing armed.
st=0
UPKEEP_FAULT=write:crash@2000000 $U install-image --sha256 "$sha" "$T/img.zst" 2>/dev/null || st=$?
[ $st -eq 137 ] || fail "crash exit status $st"
$U status --json | grep -q '"state": "writing"' || fail "slot not marked writing after a crash"
grub-editenv "$T/grubenv" list | grep -q "upkeep_once=B" && fail "armed after a crash"

# The real install: trial boot, failed health, fallback.
$U install-image --sha256 "$sha" --version 1.1.0 "$T/img.zst" | grep -q "trial boot armed" || fail "install"
cmp -n 5000000 "$T/img" "$T/b.img" || fail "slot content"
[ "$(boot)" = "slot=B trial=1 fallback=0" ] || fail "trial boot"
$U status | grep -q "running:     slot B (from the cmdline), ON TRIAL" || fail "status on trial"
$U commit 2>"$T/err" && fail "commit without health"
grep -q "not committing slot B: health check 1" "$T/err" || fail "commit message: $(cat "$T/err")"
[ "$(boot)" = "slot=A trial=0 fallback=1" ] || fail "fallback"
$U status | grep -q "committed:   slot A" || fail "status after fallback"

# Again, healthy this time: commit.
$U install-image --sha256 "$sha" --version 1.1.0 "$T/img.zst" >/dev/null || fail "install 2"
[ "$(boot)" = "slot=B trial=1 fallback=0" ] || fail "trial boot 2"
touch "$T/healthy"
$U commit | grep -q "committed slot B, version 1.1.0" || fail "commit"
[ "$(boot)" = "slot=B trial=0 fallback=0" ] || fail "boot after commit"
$U status --json | grep -q '"image_version": "1.1.0"' || fail "status version"
grub-editenv "$T/grubenv" list | grep -q "^upkeep_default=B$" || fail "grubenv default"

# A bundle: install, then a failing one rolls back.
mkdir -p "$T/b1/bin" "$T/b2/bin"
echo v1 > "$T/b1/bin/app"; echo v2 > "$T/b2/bin/app"
tar -C "$T/b1" -cf "$T/b1.tar" .
tar -C "$T/b2" -cf - . | zstd -q > "$T/b2.tar.zst"
$U install-archive --sha256 "$(sha256sum "$T/b1.tar" | cut -d' ' -f1)" web 1.0.0 "$T/b1.tar" >/dev/null ||
	fail "archive 1"
[ "$(cat "$T/data/apps/web/current/bin/app")" = v1 ] || fail "bundle content"
rm "$T/healthy"
$U install-archive --sha256 "$(sha256sum "$T/b2.tar.zst" | cut -d' ' -f1)" web 2.0.0 "$T/b2.tar.zst" \
	2>"$T/err" && fail "unhealthy bundle kept"
grep -q "bundle web 2.0.0 rolled back" "$T/err" || fail "rollback message: $(cat "$T/err")"
[ "$(cat "$T/data/apps/web/current/bin/app")" = v1 ] || fail "bundle not rolled back"
[ ! -e "$T/data/apps/web/versions/2.0.0" ] || fail "failed version kept"
echo "ok"
