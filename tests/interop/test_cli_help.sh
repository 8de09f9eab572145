#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every `upkeep` command and subcommand answers --help with exit 0 and a usage
# line; wrong command lines exit 2 with one line on stderr.
set -eu
W=$(mktemp -d "${TMPDIR:-/tmp}/upk-clihelp-XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
. "$UPK_SOURCE_DIR/tests/interop/build_repo.sh"

"$UPKEEP" --help >"$W/top" || fail "upkeep --help"
# Groups with subcommands, then single commands; the top-level list must name them all.
for cmd in "key generate" "key show" "repo init" "target add" "target remove" "target list" \
	"delegate add" "delegate remove" "root rotate" sign import renew status publish verify \
	"bundle create" \
	"fleet keyset" "fleet create" "fleet show" "device list" "device show" "device accept" \
	"device reject" "device tag" "device pin" "device unpin" "device history" "device claim" \
	"release publish" \
	"rollout create" "rollout list" "rollout status" "rollout pause" "rollout resume" \
	"rollout abort" "rollout devices" audit \
	"transfer create" "transfer show" "transfer submit" "transfer adopt" ownership; do
	group=${cmd%% *}
	grep -q "^  $group " "$W/top" || fail "upkeep --help does not list $group"
	# shellcheck disable=SC2086
	"$UPKEEP" $cmd --help >"$W/out" 2>"$W/err" || fail "upkeep $cmd --help exited non-zero"
	grep -q "^usage: upkeep $cmd" "$W/out" || fail "upkeep $cmd --help: no usage line"
	[ ! -s "$W/err" ] || fail "upkeep $cmd --help wrote to stderr"
	if [ "$group" != "$cmd" ]; then
		"$UPKEEP" "$group" --help >"$W/out" || fail "upkeep $group --help"
		grep -q "^  ${cmd#* } " "$W/out" || fail "upkeep $group --help does not list ${cmd#* }"
	fi
done
# Every command in the top-level list was checked above.
n=$(grep -c '^  [a-z]' "$W/top")
[ "$n" -eq 19 ] || fail "upkeep --help lists $n commands; this test knows 19"

usage_error() { # upkeep-args...
	rc=0
	"$UPKEEP" "$@" >"$W/out" 2>"$W/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "upkeep $*: exit $rc, expected 2"
	[ "$(wc -l <"$W/err")" -eq 1 ] || fail "upkeep $*: not one line on stderr"
}
usage_error
usage_error frobnicate
usage_error key
usage_error key frob
usage_error key generate
usage_error key generate a b
usage_error key generate a --bogus
usage_error repo init
usage_error verify "$W" --root
usage_error status "$W" --json=yes
usage_error transfer create --out "$W/t"
usage_error transfer adopt "$W/t"
echo "cli help: ok"
