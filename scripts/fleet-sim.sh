# SPDX-License-Identifier: Apache-2.0
# A simulated fleet on loopback, for scripts/demo and tests/interop/test_fleet_e2e.sh
# (sourced, POSIX sh): the real upkeep-server on a SQLite file, key holders in
# separate directories who only pass .pub files and staged copies around, and
# devices that are real upkeepd agents with two file slots, a GRUB environment
# file and upkeep-bootsim standing in for the reboot. Nothing here sleeps on a
# daemon: the caller drives each device with `upkeepd check`.
#
# Before sourcing, set FS_BUILD (the build directory) and FS_WORK (a scratch
# directory the caller removes). Functions fail with "fleet-sim: ..." on stderr
# and a non-zero status; callers run under `set -e`.

FS_UPKEEP="$FS_BUILD/cli/upkeep"
FS_AGENT="$FS_BUILD/agent/upkeepd"
FS_BOOTSIM="$FS_BUILD/agent/upkeep-bootsim"
FS_SERVER_BIN="$FS_BUILD/server/upkeep-server"
FS_SERVER_PID=
FS_URL=
# The system's python3: a version manager's shim on PATH can cost half a second a call.
FS_PY=python3
[ -x /usr/bin/python3 ] && FS_PY=/usr/bin/python3

fs_die() {
	echo "fleet-sim: $*" >&2
	exit 1
}

fs_require() {
	for fs_b in "$FS_UPKEEP" "$FS_AGENT" "$FS_BOOTSIM" "$FS_SERVER_BIN"; do
		[ -x "$fs_b" ] || fs_die "missing $fs_b (build first)"
	done
	command -v "$FS_PY" >/dev/null || fs_die "python3 is not installed"
	command -v grub-editenv >/dev/null || fs_die "grub-editenv is not installed (scripts/install-deps)"
}

# A member of the JSON document on stdin, by a Python subscript: fs_json '["counts"]["success"]'.
fs_json() {
	"$FS_PY" -c 'import json,sys; d=json.load(sys.stdin); v=eval("d" + sys.argv[1]); print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

# A device's rollout bucket (docs/selectors.md): SHA-256(salt NUL id), first 8 bytes, mod 10000.
fs_bucket() { # SALT DEVICE_ID
	"$FS_PY" -c 'import hashlib,sys; d=hashlib.sha256(sys.argv[1].encode()+b"\0"+sys.argv[2].encode()).digest(); print(int.from_bytes(d[:8],"big") % 10000)' "$1" "$2"
}

# ---- tests ----

# For a test under `set -e`: at exit the server is stopped and FS_WORK
# removed; `fail MESSAGE` prints it and the end of the server log, exit 1.
fs_test_setup() {
	trap 'fs_server_stop; rm -rf "$FS_WORK"' EXIT
	trap 'exit 1' INT TERM
	# shellcheck disable=SC2317 # called by the test
	fail() {
		echo "FAIL: $*" >&2
		tail -n 20 "$FS_WORK/server/server.log" >&2 2>/dev/null || true
		exit 1
	}
}

# ---- the server ----

# Start upkeep-server on a free loopback port (after fs_server_kill: on the
# port it had, with its database); those who may create fleets
# are given by their public key files. The maintenance pass runs every
# second so that short soak times end promptly.
fs_server_start() { # CREATOR_PUB...
	mkdir -p "$FS_WORK/server"
	fs_creators=
	for fs_c in "$@"; do fs_creators="$fs_creators --creator $fs_c"; done
	fs_p=${FS_URL##*:}
	# Out of the way first, so that the wait below cannot read an earlier "ready".
	[ ! -f "$FS_WORK/server/server.log" ] ||
		mv "$FS_WORK/server/server.log" "$FS_WORK/server/server.log.prev"
	# shellcheck disable=SC2086
	"$FS_SERVER_BIN" --database "$FS_WORK/server/upkeep.db" --data-dir "$FS_WORK/server/data" \
		--port "${fs_p:-0}" --threads 2 --maintenance-interval 1 $fs_creators \
		2>"$FS_WORK/server/server.log" &
	FS_SERVER_PID=$!
	fs_port=
	for _ in $(seq 1 250); do
		fs_port=$(sed -n 's/.*ready on port \([0-9]*\).*/\1/p' "$FS_WORK/server/server.log" 2>/dev/null)
		[ -n "$fs_port" ] && break
		kill -0 "$FS_SERVER_PID" 2>/dev/null || break
		sleep 0.02
	done
	[ -n "$fs_port" ] || fs_die "upkeep-server did not start: $(tail -n 3 "$FS_WORK/server/server.log")"
	FS_URL="http://127.0.0.1:$fs_port"
}

# SIGKILL (a crash or power cut of the server) and wait; FS_URL stays, for a restart.
fs_server_kill() {
	kill -KILL "$FS_SERVER_PID" 2>/dev/null || true
	wait "$FS_SERVER_PID" 2>/dev/null || true
	FS_SERVER_PID=
}

# SIGTERM and wait (graceful shutdown); safe to call twice.
fs_server_stop() {
	[ -n "$FS_SERVER_PID" ] || return 0
	kill -TERM "$FS_SERVER_PID" 2>/dev/null || true
	wait "$FS_SERVER_PID" 2>/dev/null || true
	FS_SERVER_PID=
}

# ---- key holders ----

# A holder's directory with a root key and a release (targets) key, made
# there; only the public halves are copied to the owner's directory.
fs_holder_new() { # NAME OWNER_DIR
	mkdir -p "$FS_WORK/$1"
	(cd "$FS_WORK/$1" && "$FS_UPKEEP" key generate "$1-root" --no-passphrase >/dev/null &&
		"$FS_UPKEEP" key generate "$1-release" --no-passphrase >/dev/null) ||
		fs_die "key generation for $1 failed"
	cp "$FS_WORK/$1/$1-root.pub" "$FS_WORK/$1/$1-release.pub" "$2/"
}

# Each named holder signs a copy of a staged role with its KIND key (root or
# release) in its own directory; the owner imports the copies.
fs_holders_sign() { # OWNER_DIR REPO ROLE KIND HOLDER...
	fs_owner=$1 fs_repo=$2 fs_role=$3 fs_kind=$4
	shift 4
	for fs_h in "$@"; do
		# `import` takes the role from the file name: one directory per repository.
		mkdir -p "$FS_WORK/$fs_h/$fs_repo"
		cp "$fs_owner/$fs_repo/staged/$fs_role.json" "$FS_WORK/$fs_h/$fs_repo/"
		(cd "$FS_WORK/$fs_h" && "$FS_UPKEEP" sign --file "$fs_repo/$fs_role.json" \
			--key "$fs_h-$fs_kind.key" >/dev/null) || fs_die "$fs_h could not sign $fs_repo $fs_role"
		(cd "$fs_owner" && "$FS_UPKEEP" import "$fs_repo" "$FS_WORK/$fs_h/$fs_repo/$fs_role.json" \
			>/dev/null) ||
			fs_die "importing $fs_h's signature on $fs_repo $fs_role failed"
	done
}

# ---- devices ----

fs_dev_dir() { echo "$FS_WORK/dev$1"; }

# Device N: two 64 KiB file slots, a GRUB environment booting slot A, and an
# agent configuration trusting the given factory roots. HEALTH is the shell
# command of its health check.
fs_device_new() { # N IMAGE_ROOT DIRECTOR_ROOT HEALTH
	fs_d=$(fs_dev_dir "$1")
	mkdir -p "$fs_d"
	cp "$2" "$fs_d/image-root.json"
	cp "$3" "$fs_d/director-root.json"
	(cd "$fs_d" && grub-editenv grubenv create && grub-editenv grubenv set upkeep_default=A &&
		truncate -s 64K slotA slotB) || fs_die "cannot make the slots of device $1"
	printf 'console=ttyS0 upkeep.slot=A\n' >"$fs_d/cmdline"
	fs_device_health "$1" "$4"
}

# (Re)write device N's configuration with this health check command.
fs_device_health() { # N HEALTH
	fs_d=$(fs_dev_dir "$1")
	cat >"$fs_d/agent.conf" <<EOF
[agent]
data_dir = $fs_d/data
hardware_id = sim-gw
cmdline = $fs_d/cmdline
server = $FS_URL/v1/fleets/${FS_FLEET:-acme}
reboot = touch $fs_d/rebooted
[trust]
image_root = $fs_d/image-root.json
director_root = $fs_d/director-root.json
[slot.A]
device = $fs_d/slotA
[slot.B]
device = $fs_d/slotB
[bootloader]
type = grub
grubenv = $fs_d/grubenv
[health]
command = $2
EOF
}

fs_agent() { # N ARGS...
	fs_n=$1
	shift
	"$FS_AGENT" --config "$(fs_dev_dir "$fs_n")/agent.conf" "$@"
}

# Device N's id (its key id; the key is made on first use).
fs_device_id() {
	fs_agent "$1" identity 2>"$(fs_dev_dir "$1")/identity.err" ||
		fs_die "device $1: $(cat "$(fs_dev_dir "$1")/identity.err")"
}

# One check-in of device N, followed through every reboot it asks for (the
# boot simulator applies the GRUB rules and rewrites the kernel command line)
# until it settles. Prints the outcomes, e.g. "rebooting done" or
# "rebooting rebooting failed".
fs_device_cycle() { # N
	fs_d=$(fs_dev_dir "$1")
	fs_trail=
	for _ in 1 2 3 4 5 6; do
		fs_out=$(fs_agent "$1" check 2>&1) || fs_die "device $1: upkeepd check failed: $fs_out"
		fs_oc=$(printf '%s\n' "$fs_out" | sed -n 's/^check: //p' | tail -n 1)
		fs_trail="$fs_trail${fs_trail:+ }$fs_oc"
		[ "$fs_oc" = rebooting ] || break
		[ -e "$fs_d/rebooted" ] || fs_die "device $1 said rebooting but ran no reboot command"
		rm -f "$fs_d/rebooted"
		"$FS_BOOTSIM" --cmdline "$fs_d/cmdline" grub "$fs_d/grubenv" >"$fs_d/boot.log" ||
			fs_die "device $1: boot simulator failed: $(cat "$fs_d/boot.log")"
	done
	echo "$fs_trail"
}

# Device N's id as drawn by fs_draw_ids.
fs_id() { eval "echo \"\$FS_ID_$1\""; }

# New keys for devices 1..N until their rollout buckets fit every SPEC
# SALT:LO-HI:MIN-MAX (between MIN and MAX devices have a bucket in [LO, HI)
# for rollout id SALT); sets FS_ID_1 ... FS_ID_N. Buckets of random ids
# leave a phase of five devices empty now and then (20 % of five is often
# nobody); a test or a demo that sometimes skips a phase shows nothing about
# it, so the caller says which phases must have devices. At most 100 draws.
fs_draw_ids() { # N SPEC...
	fs_n=$1
	shift
	for _ in $(seq 1 100); do
		fs_ids=
		for fs_i in $(seq 1 "$fs_n"); do
			rm -f "$(fs_dev_dir "$fs_i")/data/device.key"
			fs_ids="$fs_ids $(fs_device_id "$fs_i")"
		done
		# shellcheck disable=SC2086
		if "$FS_PY" - "$@" -- $fs_ids <<'PY'; then
import hashlib, sys
args = sys.argv[1:]
specs, ids = args[:args.index("--")], args[args.index("--") + 1:]
def bucket(salt, i):
    d = hashlib.sha256(salt.encode() + b"\0" + i.encode()).digest()
    return int.from_bytes(d[:8], "big") % 10000
for spec in specs:
    salt, rng, cnt = spec.split(":")
    lo, hi = map(int, rng.split("-"))
    mn, mx = map(int, cnt.split("-"))
    if not mn <= sum(lo <= bucket(salt, i) < hi for i in ids) <= mx:
        sys.exit(1)
PY
			fs_i=0
			for fs_x in $fs_ids; do
				fs_i=$((fs_i + 1))
				eval "FS_ID_$fs_i=$fs_x"
			done
			return 0
		fi
	done
	fs_die "no device ids in 100 draws fit: $*"
}

# A member of device N's `upkeepd status --json`.
fs_device_status() { # N SUBSCRIPT
	fs_agent "$1" status --json | fs_json "$2"
}

# ---- mirrors ----

# Copy a TUF repository the server serves (public files) to DIR/metadata:
# the root chain, timestamp.json and the snapshot and targets roles it names
# (consistent-snapshot names), as `upkeep bundle create` reads them.
fs_mirror() { # METADATA_URL DIR
	mkdir -p "$2/metadata"
	"$FS_PY" - "$1" "$2/metadata" <<'PY' || fs_die "cannot mirror $1"
import json, sys, urllib.error, urllib.request
base, out = sys.argv[1], sys.argv[2]
def get(name, keep=True):
    data = urllib.request.urlopen(base + name, timeout=10).read()
    if keep:
        open(out + "/" + name, "wb").write(data)
    return data
n = 1
while True:
    try:
        get("%d.root.json" % n)
    except urllib.error.HTTPError as e:
        if e.code != 404 or n == 1:
            raise
        break
    n += 1
ts = json.loads(get("timestamp.json"))["signed"]["meta"]["snapshot.json"]["version"]
snap = json.loads(get("%d.snapshot.json" % ts))["signed"]["meta"]
for role, m in snap.items():
    get("%d.%s" % (m["version"], role))
PY
}
