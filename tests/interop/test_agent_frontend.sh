#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The split of upkeepd: the front-end runs every command through the agent
# core, and `daemon` sleeps between cycles without the core's libraries
# mapped; each cycle is a child core process; failures back off and retry;
# SIGTERM ends it with status 0. A missing core is one clear line.
set -eu
B=${UPK_BUILD_DIR:?}/agent
[ -x "$B/upkeepd" ] && [ -x "$B/upkeepd-core" ] || { echo "skip: agent not built"; exit 77; }
command -v grub-editenv >/dev/null || { echo "skip: grub-editenv missing"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/upk-test-XXXXXX")
pid=
trap '[ -z "$pid" ] || kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

truncate -s 64K "$T/a.img" "$T/b.img"
grub-editenv "$T/grubenv" create
grub-editenv "$T/grubenv" set upkeep_default=A
cat > "$T/agent.conf" <<CONF
[agent]
data_dir = $T/data
cmdline = $T/cmdline
hardware_id = test-hw
server = http://127.0.0.1:1/v1/fleets/nowhere
[slot.A]
device = $T/a.img
[slot.B]
device = $T/b.img
[bootloader]
type = grub
grubenv = $T/grubenv
CONF
U="$B/upkeepd --config $T/agent.conf"

# Commands run in the core: same output, same exit status.
id=$($U identity)
[ ${#id} -eq 64 ] && [ "$id" = "$("$B/upkeepd-core" --config "$T/agent.conf" identity)" ] ||
	fail "identity $id"
st=0; $U frobnicate 2>"$T/err" || st=$?
[ $st -eq 2 ] && grep -q 'unknown command "frobnicate"' "$T/err" || fail "unknown command: $st"
st=0; UPKEEPD_CORE=$T/missing $U status 2>"$T/err" || st=$?
[ $st -eq 1 ] || fail "missing core: status $st"
want="upkeepd: cannot run the agent core $T/missing: No such file or directory"
[ "$(cat "$T/err")" = "$want" ] || fail "missing core: $(cat "$T/err")"
ldd "$B/upkeepd" | grep -Eq 'libcrypto|libjansson|libcurl|libzstd' &&
	fail "front-end links more than libc"

# The daemon with an unreachable server: two failed cycles, backoff in between.
$U daemon 2>"$T/log" &
pid=$!
n=0
until grep -q "check failed (2 in a row)" "$T/log"; do
	n=$((n + 1))
	[ $n -le 150 ] || fail "no second cycle within 15 s: $(cat "$T/log")"
	kill -0 $pid 2>/dev/null || fail "daemon ended: $(cat "$T/log")"
	# Between cycles: no core child, and no core library in the daemon.
	if [ -z "$(ps -o pid= --ppid $pid)" ]; then
		grep -Eq 'libcrypto|libjansson|libcurl' /proc/$pid/maps && fail "daemon maps the core's libraries"
		idle=1
	fi
	sleep 0.1
done
[ "${idle:-0}" = 1 ] || fail "never saw the daemon idle"
grep -q "check failed (1 in a row): .*127.0.0.1" "$T/log" || fail "failure message: $(cat "$T/log")"
kill -TERM $pid
n=0
while kill -0 $pid 2>/dev/null; do
	n=$((n + 1))
	[ $n -le 100 ] || fail "daemon did not stop within 10 s of SIGTERM"
	sleep 0.1
done
st=0; wait $pid || st=$?
pid=
[ $st -eq 0 ] || fail "daemon exit status $st after SIGTERM"

# The real core's report of one cycle: "fail POLL_S OUTCOME MESSAGE"; the
# poll interval is state config.poll_interval (a config target's, seconds)
# over [agent] poll_interval, and one out of range is ignored.
sed 's/^hardware_id = test-hw$/&\npoll_interval = 2m/' "$T/agent.conf" > "$T/poll.conf"
core_line() {
	st=0
	UPKEEPD_CYCLE_FD=3 "$B/upkeepd-core" --config "$T/poll.conf" daemon 3>"$T/line" 2>"$T/err" ||
		st=$?
	[ $st -eq 0 ] || fail "core cycle: status $st: $(cat "$T/err")"
}
core_line
grep -Eq '^fail 120 idle .*127\.0\.0\.1' "$T/line" || fail "core line: $(cat "$T/line")"
state() { # POLL_INTERVAL: the state a config target leaves behind
	printf '{"format":1,"seq":1,"config":{"target":"cfg","version":"1","poll_interval":%s}}\n' \
		"$1" > "$T/data/state.json"
}
state 45
core_line
grep -Eq '^fail 45 idle ' "$T/line" || fail "config.poll_interval: $(cat "$T/line")"
state 5
core_line
grep -Eq '^fail 120 idle ' "$T/line" || fail "poll_interval 5 taken: $(cat "$T/line")"
rm -f "$T/data/state.json"

# The cycle protocol, with a stand-in core that records its arguments and
# answers what the test says (poll interval 1 s, so the test is quick): a
# rebooting outcome ends the daemon (status 0) unless --no-reboot; a cycle
# that cannot start ends it with status 1; SIGTERM reaches a running cycle.
cat > "$T/core" <<'CORE'
#!/bin/sh
echo "$*" >> "$FAKE_DIR/args"
n=$(wc -l < "$FAKE_DIR/args")
case $(sed -n "${n}p" "$FAKE_DIR/script") in
rebooting) echo "ok 1 rebooting" >&$UPKEEPD_CYCLE_FD ;;
fail) echo "fail 1 idle the server said no" >&$UPKEEPD_CYCLE_FD; exit 0 ;;
fatal) echo "upkeepd daemon: cannot start" >&2; exit 1 ;;
hang) # like the real core, its children do not get the pipe
	eval "exec $UPKEEPD_CYCLE_FD>&-"
	sleep 30 </dev/null >/dev/null 2>&1 &
	trap 'kill $!; echo term > "$FAKE_DIR/got"; exit 0' TERM
	wait ;;
esac
CORE
chmod +x "$T/core"
fake() { # SCRIPT-LINES DAEMON-ARGS...: run the daemon on the stand-in core
	: > "$T/args"
	printf '%s\n' $1 > "$T/script"
	shift
	st=0
	FAKE_DIR=$T UPKEEPD_CORE=$T/core timeout 20 "$B/upkeepd" --config "$T/agent.conf" daemon "$@" \
		2>"$T/log" || st=$?
}
fake "rebooting"
[ $st -eq 0 ] && [ "$(cat "$T/args")" = "--config $T/agent.conf daemon" ] ||
	fail "rebooting: status $st, core args: $(cat "$T/args")"
fake "fail fatal"
[ $st -eq 1 ] || fail "a cycle that cannot start: status $st"
grep -q "check failed (1 in a row): the server said no" "$T/log" || fail "fail: $(cat "$T/log")"
grep -q "cannot start" "$T/log" || fail "fatal: $(cat "$T/log")"
[ "$(wc -l < "$T/args")" -eq 2 ] || fail "cycles run: $(cat "$T/args")"
fake "rebooting fatal" --no-reboot
[ $st -eq 1 ] && [ "$(wc -l < "$T/args")" -eq 2 ] || fail "--no-reboot: status $st"
grep -q "check: rebooting" "$T/log" || fail "--no-reboot log: $(cat "$T/log")"
grep -q -- "daemon --no-reboot" "$T/args" || fail "--no-reboot not passed on"

rm -f "$T/got"
printf 'hang\n' > "$T/script"
: > "$T/args"
FAKE_DIR=$T UPKEEPD_CORE=$T/core "$B/upkeepd" --config "$T/agent.conf" daemon 2>"$T/log" &
pid=$!
n=0
until [ -s "$T/args" ]; do
	n=$((n + 1)); [ $n -le 100 ] || fail "the stand-in cycle did not start"; sleep 0.1
done
sleep 0.3
kill -TERM $pid
st=0; wait $pid || st=$?
pid=
[ $st -eq 0 ] && [ "$(cat "$T/got" 2>/dev/null)" = term ] || fail "SIGTERM not passed on: $st"
echo ok
