# SPDX-License-Identifier: Apache-2.0
# Sourced by the shell tests of the owner tool against the real upkeep-server
# (test_server_cli.sh, test_transfer_cli.sh), after setting T to a short name
# for the work directory: $W (removed on exit, with the server $PID killed),
# fail(), the binaries $U and $S, the device simulator $DEVJS, the checks for
# node, python3 and http-message-signatures, and js().
: "${UPK_BUILD_DIR:?}" "${UPK_SOURCE_DIR:?}" "${T:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-$T-XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ -f "$W/server.log" ] && tail -20 "$W/server.log" >&2
	exit 1
}

U="$UPK_BUILD_DIR/cli/upkeep"
S="$UPK_BUILD_DIR/server/upkeep-server"
DEVJS="$UPK_SOURCE_DIR/tests/interop/srv_device.mjs"
[ -x "$U" ] && [ -x "$S" ] || fail "build upkeep and upkeep-server first"
command -v node >/dev/null || fail "node is not installed: run scripts/install-deps"
command -v python3 >/dev/null || fail "python3 is not installed"
[ -d "$UPK_SOURCE_DIR/tests/interop/node_modules/http-message-signatures" ] ||
	fail "http-message-signatures is not installed: run scripts/install-deps"

# A JSON member from stdin: jq-like, with python3.
js() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
