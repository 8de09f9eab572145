#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 5 end to end with the real binaries on 127.0.0.1: upkeep-server on a
# SQLite file, five upkeepd agents with A/B file slots rebooting through
# upkeep-bootsim, and the owner's `upkeep` tool. Release 2, signed 2 of 3 by
# holders in separate directories, rolls out in phases (20 %, 60 %, 100 %,
# short soaks) and every device commits after its health check except one
# whose health check fails: it rolls back and the server's history and audit
# log hold its reason. Release 3, with a 20 % failure threshold, fails on the
# devices of its first phase: the rollout halts by itself and the other
# devices are never assigned it, even after its soak time has passed.
# Devices are driven by `upkeepd check`, the server's maintenance pass runs
# every second, and every wait has a deadline: the test takes a few seconds.
set -eu
: "${UPK_BUILD_DIR:?}" "${UPK_SOURCE_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-fleet-e2e-XXXXXX")
FS_BUILD=$UPK_BUILD_DIR
FS_WORK=$W
. "$UPK_SOURCE_DIR/scripts/fleet-sim.sh"
fs_test_setup
fs_require
U=$FS_UPKEEP
N=5

# ---- the owner: 2-of-3 holders, a fleet, release 2 ----

O="$W/owner"
mkdir -p "$O"
for h in alice bob carol; do fs_holder_new "$h" "$O"; done
(cd "$O" && "$U" key generate operator --no-passphrase >/dev/null)
fs_server_start "$O/operator.pub"
export UPKEEP_SERVER="$FS_URL" UPKEEP_KEY="$O/operator.key" UPKEEP_FLEET=acme
cd "$O"
"$U" fleet keyset --out ks >/dev/null
"$U" repo init img --root-key alice-root.pub --root-key bob-root.pub --root-key carol-root.pub \
	--root-threshold 2 --targets-key alice-release.pub --targets-key bob-release.pub \
	--targets-key carol-release.pub --targets-threshold 2 \
	--snapshot-key ks/image_snapshot.pub --timestamp-key ks/image_timestamp.pub >/dev/null
"$U" repo init dir --root-key alice-root.pub --root-key bob-root.pub --root-key carol-root.pub \
	--root-threshold 2 --targets-key ks/director_targets.pub \
	--snapshot-key ks/director_snapshot.pub --timestamp-key ks/director_timestamp.pub >/dev/null
fs_holders_sign "$O" img root root alice
"$U" fleet create acme --keyset ks/keyset.json --image-root img/staged/root.json \
	--director-root dir/staged/root.json 2>err && fail "a root signed 1 of 2 made a fleet"
grep -q "HTTP 4" err || fail "root below threshold: $(cat err)"
fs_holders_sign "$O" img root root bob
fs_holders_sign "$O" dir root root alice carol
"$U" fleet create acme --keyset ks/keyset.json --image-root img/staged/root.json \
	--director-root dir/staged/root.json >/dev/null || fail "fleet create"

release() { # VERSION SECURITY_VERSION HOLDER HOLDER
	head -c 40000 /dev/urandom >"rootfs-$1.img"
	"$U" target add img "rootfs-$1.img" --path "images/rootfs-$1.img" --type image \
		--version "$1" --security-version "$2" --hardware sim-gw >/dev/null
	fs_holders_sign "$O" img targets release "$3"
	"$U" release publish img 2>err && fail "release $1 signed by one holder was accepted"
	grep -q "HTTP 422" err || fail "release $1 below threshold: $(cat err)"
	fs_holders_sign "$O" img targets release "$4"
	"$U" release publish img >/dev/null || fail "release publish $1"
}
release 2.0.0 2 alice bob

# ---- five devices; their ids are chosen so that every phase has devices ----

# A release-3 health check that fails on 3.0.0 (a faulty release); device F's
# fails whatever runs (broken hardware), with a reason the server must keep.
# shellcheck disable=SC2016 # expanded by the health check's shell
HEALTHY='sh -c '\''test "$UPKEEP_VERSION" != 3.0.0 || { echo "watchdog: app crash loop on 3.0.0" >&2; exit 1; }'\'''
BROKEN='sh -c '\''echo "sensor i2c-1 not responding" >&2; exit 3'\'''
for i in $(seq 1 $N); do
	fs_device_new "$i" img/staged/root.json dir/staged/root.json "$HEALTHY"
done
# Buckets are salted with the rollout id (1 and 2 in a fresh database): ids
# are drawn until rollout 1 (20/60/100 %) has devices in each of its phases
# and rollout 2 (40/100 %) has 1 to 3 in its first. The failing device F is
# the one rollout 1 reaches last, so that its failure is 1 of 5 (20 %, below
# rollout 1's threshold of 25 %).
fs_draw_ids $N 1:0-2000:1-5 1:2000-6000:1-5 1:6000-10000:1-5 2:0-4000:1-3
ids=
F=1
for i in $(seq 1 $N); do
	ids="$ids $(fs_id "$i")"
	[ "$(fs_bucket 1 "$(fs_id "$i")")" -gt "$(fs_bucket 1 "$(fs_id "$F")")" ] && F=$i
done
id_of() { fs_id "$1"; }
fs_device_health "$F" "$BROKEN"

# Indexes (1..N) of the device ids on stdin, sorted, space-separated.
to_index() {
	"$FS_PY" -c 'import sys; ids=sys.argv[1:]; print(" ".join(sorted(str(ids.index(l.strip())+1) for l in sys.stdin if l.strip())))' "$@"
}
# shellcheck disable=SC2086 # $ids is a list of words
rollout_devices() { # R
	"$U" rollout devices "$1" --json | fs_json '["devices"]' |
		"$FS_PY" -c 'import json,sys; [print(d["device"]) for d in json.load(sys.stdin)]' | to_index $ids
}
# The devices whose bucket for SALT is below BP basis points.
# shellcheck disable=SC2086 # $ids is a list of words
expected() { # SALT BP
	s=$1 bp=$2
	for i in $(seq 1 $N); do
		[ "$(fs_bucket "$s" "$(id_of "$i")")" -lt "$bp" ] && id_of "$i"
	done | to_index $ids
}
rollout() { "$U" rollout status "$1" --json | fs_json "$2"; }
# Wait (at most 15 s) until rollout R's SUBSCRIPT equals VALUE.
wait_rollout() { # R SUBSCRIPT VALUE
	for _ in $(seq 1 75); do
		[ "$(rollout "$1" "$2")" = "$3" ] && return 0
		sleep 0.2
	done
	fail "rollout $1: $2 is $(rollout "$1" "$2"), not $3 after 15 s"
}
# Each device checks in once (following its reboots); OUT_i holds the outcomes.
cycle_all() {
	for i in $(seq 1 $N); do
		eval "OUT_$i=\"\$(fs_device_cycle $i)\""
	done
}
out_of() { eval "echo \"\$OUT_$1\""; }

# Enrolment: pending until the owner accepts each device.
cycle_all
[ "$("$U" device list --status pending --json | fs_json '["devices"].__len__()')" = $N ] ||
	fail "$N pending devices expected"
for i in $(seq 1 $N); do "$U" device accept "$(id_of "$i")" >/dev/null; done
cycle_all
for i in $(seq 1 $N); do [ "$(out_of "$i")" = idle ] || fail "device $i: $(out_of "$i")"; done

# ---- rollout 1: release 2 in phases ----

prev=
R=$("$U" rollout create images/rootfs-2.0.0.img --phase 20:2s --phase 60:2s --phase 100 \
	--failure-threshold 25 --json | fs_json '["id"]')
[ "$R" = 1 ] || fail "rollout id $R: the device ids were chosen for rollout 1"
for phase in 0 1 2; do
	bp=$(echo "2000 6000 10000" | cut -d' ' -f$((phase + 1)))
	wait_rollout 1 '["phase"]' "$phase"
	want=$(expected 1 "$bp")
	got=$(rollout_devices 1)
	[ "$got" = "$want" ] || fail "phase $phase: devices [$got], want [$want] (bucket < $bp)"
	if [ "$phase" -gt 0 ]; then
		# The phase began no earlier than its predecessor's soak allowed.
		started=$(rollout 1 '["phase_started_at"]')
		[ $((started - prev_started)) -ge 2 ] || fail "phase $phase began at $started, $((started - prev_started)) s after the previous phase (soak 2 s)"
	fi
	prev_started=$(rollout 1 '["phase_started_at"]')
	# Devices outside the phase first: once the phase's devices report, the
	# next phase may begin (its soak time is short) and widen the set.
	for i in $(seq 1 $N); do
		case " $want " in *" $i "*) continue ;; esac
		o=$(fs_device_cycle "$i")
		[ "$o" = idle ] || fail "device $i outside phase $phase: $o"
	done
	for i in $want; do
		o=$(fs_device_cycle "$i")
		case " $prev " in *" $i "*)
			[ "$o" = idle ] || fail "device $i after its update: $o"
			continue
			;;
		esac
		if [ "$i" = "$F" ]; then
			[ "$o" = "rebooting rebooting failed" ] || fail "device $F (broken): $o"
		else
			[ "$o" = "rebooting done" ] || fail "device $i: $o"
		fi
	done
	prev=$want
	[ "$phase" = 2 ] || [ "$(rollout 1 '["state"]')" = running ] || fail "rollout 1 left running"
done
wait_rollout 1 '["state"]' completed
[ "$(rollout 1 '["counts"]["success"]')" = 4 ] || fail "4 successes expected"
[ "$(rollout 1 '["counts"]["failure"]')" = 1 ] || fail "1 failure expected"

# Every healthy device committed release 2; device F rolled back to slot A.
for i in $(seq 1 $N); do
	img=$(fs_device_status "$i" '.get("installed", {}).get("image")')
	committed=$(fs_device_status "$i" '["slots"]["boot"]["committed"]')
	if [ "$i" = "$F" ]; then
		[ "$img" = None ] || fail "device $F installed $img despite its health check"
		[ "$committed" = A ] || fail "device $F committed slot $committed"
		[ "$(fs_device_status "$i" '["last"]["result"]')" = failure ] || fail "device $F last result"
		fs_device_status "$i" '["last"]["reason"]' | grep -q "sensor i2c-1 not responding" ||
			fail "device $F: reason $(fs_device_status "$i" '["last"]["reason"]')"
	else
		[ "$img" = 2.0.0 ] || fail "device $i runs $img, not 2.0.0"
		[ "$committed" = B ] || fail "device $i committed slot $committed"
	fi
done
# The server's history and audit log hold the reason, and the rollout lists it.
FID=$(id_of "$F")
"$U" device history "$FID" --json | fs_json '["deployments"][0]' >hist.json
[ "$(fs_json '["state"]' <hist.json)" = failure ] || fail "history of $F: $(cat hist.json)"
grep -q "health check failed" hist.json || fail "no health check in $F's history: $(cat hist.json)"
grep -q "sensor i2c-1 not responding" hist.json || fail "no reason in $F's history"
"$U" audit --device "$FID" --json --limit 1000 >audit.json
"$FS_PY" - audit.json <<'PY' || fail "audit of $F lacks its failure report"
import json, sys
rows = json.load(open(sys.argv[1]))["entries"]
assert any(r["action"] == "deployment.status" and "sensor i2c-1 not responding" in json.dumps(r["detail"])
           for r in rows), rows
PY
"$U" rollout devices 1 --json | grep -q "sensor i2c-1 not responding" ||
	fail "rollout devices lacks the reason"

# ---- rollout 2: a faulty release 3 halts by itself ----

release 3.0.0 3 bob carol
R=$("$U" rollout create images/rootfs-3.0.0.img --phase 40:2s --phase 100 --failure-threshold 20 \
	--json | fs_json '["id"]')
[ "$R" = 2 ] || fail "rollout id $R: the device ids were chosen for rollout 2"
first=$(expected 2 4000)
[ "$(rollout_devices 2)" = "$first" ] || fail "rollout 2 phase 0: [$(rollout_devices 2)], want [$first]"
n_first=$(echo "$first" | wc -w)
d1=${first%% *}
fs_device_cycle "$d1" >cycle.out
[ "$(cat cycle.out)" = "rebooting rebooting failed" ] || fail "device $d1 on 3.0.0: $(cat cycle.out)"
wait_rollout 2 '["state"]' halted
rollout 2 '["reason"]' | grep -q "failure threshold" || fail "halt reason: $(rollout 2 '["reason"]')"
# The other first-phase devices fail and roll back too; then the soak time
# passes twice over with maintenance passes every second: nobody else gets it.
cycle_all
sleep 4
cycle_all
[ "$(rollout 2 '["state"]')" = halted ] || fail "rollout 2 is $(rollout 2 '["state"]')"
[ "$(rollout_devices 2)" = "$first" ] || fail "a halted rollout assigned [$(rollout_devices 2)]"
[ "$(rollout 2 '["counts"]["assigned"]')" = "$n_first" ] || fail "assigned count"
"$U" audit --json --limit 1000 | grep -q '"rollout.halt"' || fail "no rollout.halt in the audit log"
for i in $(seq 1 $N); do
	case " $first " in
	*" $i "*)
		[ "$(fs_device_status "$i" '["last"]["target"]')" = images/rootfs-3.0.0.img ] ||
			fail "device $i never tried 3.0.0"
		[ "$(fs_device_status "$i" '["last"]["result"]')" = failure ] || fail "device $i result"
		;;
	*)
		[ "$(fs_device_status "$i" '["last"]["target"]')" != images/rootfs-3.0.0.img ] ||
			fail "device $i outside the first phase got 3.0.0"
		"$U" device history "$(id_of "$i")" --json | grep -q rootfs-3.0.0 &&
			fail "device $i was assigned 3.0.0"
		;;
	esac
	# Whatever happened, nobody runs the faulty release.
	img=$(fs_device_status "$i" '.get("installed", {}).get("image")')
	if [ "$i" = "$F" ]; then want=None; else want=2.0.0; fi
	[ "$img" = "$want" ] || fail "device $i runs $img, not $want"
	[ "$(fs_device_status "$i" '["reports_queued"]')" = 0 ] || fail "device $i has undelivered reports"
done
"$U" rollout resume 2 2>err && fail "a halted rollout was resumed"
grep -q "HTTP 409" err || fail "resume of a halted rollout: $(cat err)"

fs_server_stop
echo "fleet end to end: all good"
