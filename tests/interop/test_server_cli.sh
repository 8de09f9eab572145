#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The owner tool's server commands end to end against the real upkeep-server
# on 127.0.0.1 with a real SQLite file: fleet keyset/create/show, release
# publish (staging area, again with nothing new), device list/accept/tag/pin/
# unpin/history, rollout create/status/devices/pause/resume/abort, audit;
# --json and human output, --help, and clear one-line errors. Devices are
# played by srv_device.mjs, which signs with http-message-signatures (npm).
set -eu
T=srvcli
. "${UPK_SOURCE_DIR:?}/tests/interop/srv_cli_env.sh"

cd "$W"
"$U" key generate owner --no-passphrase >/dev/null
"$S" --database "$W/server.db" --data-dir "$W/data" --port 0 --threads 2 \
	--creator "$W/owner.pub" 2>"$W/server.log" &
PID=$!
PORT=
for _ in $(seq 1 250); do
	PORT=$(sed -n 's/.*ready on port \([0-9]*\).*/\1/p' "$W/server.log")
	[ -n "$PORT" ] && break
	sleep 0.02
done
[ -n "$PORT" ] || fail "server did not start"
URL="http://127.0.0.1:$PORT"
dev() { node "$DEVJS" "$URL" acme "$@"; }

echo "== usage and errors"
for c in "fleet keyset" "fleet create" "fleet show" "device list" "device tag" "device pin" \
	"release publish" "rollout create" "rollout status" "rollout abort" "audit"; do
	# shellcheck disable=SC2086
	"$U" $c --help | grep -q -- "--server URL" || fail "$c --help lacks --server"
done
"$U" device list 2>err && fail "device list without a server"
grep -q "no server" err || fail "no clear error without a server: $(cat err)"
[ "$(wc -l <err)" -eq 1 ] || fail "more than one line on stderr"
export UPKEEP_SERVER="$URL" UPKEEP_KEY="$W/owner.key"
"$U" device list 2>err && fail "device list without a fleet"
grep -q "no fleet" err || fail "no clear error without a fleet: $(cat err)"
export UPKEEP_FLEET=acme

echo "== fleet"
"$U" fleet keyset --out ks >/dev/null
for k in image_snapshot image_timestamp director_targets director_snapshot director_timestamp; do
	[ -f "ks/$k.pub" ] || fail "fleet keyset did not write ks/$k.pub"
done
for k in r1 r2 t1 d1; do "$U" key generate $k --no-passphrase >/dev/null; done
"$U" repo init img --root-key r1.pub --root-key r2.pub --root-threshold 2 --targets-key t1.pub \
	--snapshot-key ks/image_snapshot.pub --timestamp-key ks/image_timestamp.pub >/dev/null
"$U" sign img root --key r1.key >/dev/null
"$U" sign img root --key r2.key >/dev/null
"$U" repo init dir --root-key d1.pub --targets-key ks/director_targets.pub \
	--snapshot-key ks/director_snapshot.pub --timestamp-key ks/director_timestamp.pub >/dev/null
"$U" sign dir root --key d1.key >/dev/null
"$U" fleet create acme --keyset ks/keyset.json --image-root img/staged/root.json \
	--director-root dir/staged/root.json >out || fail "fleet create"
grep -q "fleet acme created" out || fail "fleet create output: $(cat out)"
[ "$("$U" fleet show --json | js '["role"]')" = admin ] || fail "fleet show role"
"$U" fleet create acme --keyset ks/keyset.json --image-root img/staged/root.json \
	--director-root dir/staged/root.json 2>err && fail "a key set was used twice"
grep -q "HTTP 404" err || fail "reused key set: $(cat err)"

echo "== release publish"
printf 'firmware two' >fw2.bin
"$U" target add img fw2.bin --path images/fw-2.img --type image --version 2.0.0 \
	--security-version 2 --hardware hw-a >/dev/null
"$U" release publish img 2>err && fail "unsigned targets were accepted"
grep -q "HTTP 422" err || fail "unsigned targets: $(cat err)"
"$U" sign img targets --key t1.key >/dev/null
"$U" release publish img --json >pub.json || fail "release publish"
[ "$(js '["payloads_uploaded"]' <pub.json)" = "['images/fw-2.img']" ] || fail "payload: $(cat pub.json)"
[ "$(js '["roles"]' <pub.json)" = "['targets']" ] || fail "roles: $(cat pub.json)"
"$U" release publish img >out || fail "release publish again"
grep -q "0 role(s), 0 payload(s) uploaded (0 bytes), 1 already there" out ||
	fail "second publish: $(cat out)"

echo "== devices"
IDS=
for i in 1 2 3 4; do
	id=$(node "$DEVJS" keygen "d$i.pem")
	dev "d$i.pem" enrol hw-a >/dev/null || fail "enrol d$i"
	IDS="$IDS $id"
done
[ "$("$U" device list --status pending --json | js '["devices"].__len__()')" = 4 ] ||
	fail "4 pending devices expected"
for id in $IDS; do
	"$U" device accept "$id" >/dev/null || fail "accept $id"
	"$U" device tag "$id" site=berlin ring=beta >/dev/null || fail "tag $id"
done
set -- $IDS
D1=$1
"$U" device list | grep -c "accepted" | grep -qx 4 || fail "device list (human)"
"$U" device show "$D1" --json | js '["tags"]["ring"]' | grep -qx beta || fail "device tags"
"$U" device tag "$D1" 'bad tag' 2>err && fail "a bad tag was accepted"

echo "== rollout"
"$U" rollout create images/none.img --phase 100 2>err && fail "rollout of an unknown target"
grep -q "HTTP 404" err || fail "unknown target: $(cat err)"
"$U" rollout create images/fw-2.img 2>err && fail "rollout without phases"
R=$("$U" rollout create images/fw-2.img --phase 50 --phase 100 --failure-threshold 10 --json |
	js '["id"]')
[ "$("$U" rollout status "$R" --json | js '["state"]')" = running ] || fail "rollout running"
report_all() { # state: every assigned device of rollout $R that is still "assigned" reports
	"$U" rollout devices "$R" --json |
		python3 -c "import json,sys; [print(d['device'], d['deployment']) for d in json.load(sys.stdin)['devices'] if d['state'] == 'assigned']" >todo
	while read -r id dep; do
		n=1
		for x in $IDS; do
			[ "$x" = "$id" ] && break
			n=$((n + 1))
		done
		dev "d$n.pem" report "$dep" "$1" >/dev/null || fail "report $dep"
	done <todo
}
report_all success
[ "$("$U" rollout status "$R" --json | js '["phase"]')" = 1 ] || fail "phase 2 expected"
report_all success
[ "$("$U" rollout status "$R" --json | js '["counts"]["success"]')" = 4 ] || fail "4 successes"
"$U" rollout status "$R" | grep -q "completed" || fail "rollout completed (human)"
dev d1.pem checkin '{"image":"2.0.0"}' >/dev/null || fail "check-in"

echo "== pause, resume, abort, pin"
printf 'firmware three' >fw3.bin
"$U" target add img fw3.bin --path images/fw-3.img --type image --version 3.0.0 \
	--security-version 3 --hardware hw-a >/dev/null
"$U" sign img targets --key t1.key >/dev/null
"$U" release publish img >/dev/null || fail "second release"
"$U" device pin "$D1" images/fw-2.img >/dev/null || fail "pin"
"$U" device show "$D1" | grep -q "pinned   image" || fail "pin shown"
R2=$("$U" rollout create images/fw-3.img --phases 50,100 --soak 1h --name spring --json | js '["id"]')
"$U" rollout devices "$R2" --json | grep -q "$D1" && fail "a pinned device was assigned"
[ "$("$U" rollout pause "$R2" --json | js '["state"]')" = paused ] || fail "pause"
"$U" rollout pause "$R2" 2>err && fail "paused twice"
grep -q "HTTP 409" err || fail "pause twice: $(cat err)"
[ "$("$U" rollout resume "$R2" --json | js '["state"]')" = running ] || fail "resume"
[ "$("$U" rollout abort "$R2" --json | js '["state"]')" = aborted ] || fail "abort"
[ "$("$U" rollout list --json | js '["rollouts"].__len__()')" = 2 ] || fail "rollout list"
"$U" device unpin "$D1" image >/dev/null || fail "unpin"
"$U" device history "$D1" --json | js '["deployments"][0]["target_path"]' |
	grep -qx images/fw-2.img || fail "history"

echo "== audit"
"$U" audit --json --limit 1000 >audit.json
for a in fleet.create image.upload image.payload device.enrol device.accept device.tags \
	rollout.create rollout.advance rollout.complete rollout.pause rollout.resume rollout.abort \
	device.pin device.unpin deployment.status; do
	grep -q "\"$a\"" audit.json || fail "audit lacks $a"
done
"$U" audit --device "$D1" | grep -q "device.pin" || fail "audit of one device"
"$U" key generate stranger --no-passphrase >/dev/null
UPKEEP_KEY="$W/stranger.key" "$U" audit 2>err && fail "a stranger read the audit log"
grep -q "HTTP 401" err || fail "stranger: $(cat err)"

kill -TERM "$PID"
wait "$PID" || fail "server exit status"
PID=
echo "server CLI: all good"
