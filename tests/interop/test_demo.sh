#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo` runs in every `make check`, so it cannot rot: the whole story
# with one-second soak times, the outcomes it must show, and its cleanup.
set -eu
: "${UPK_SOURCE_DIR:?}" "${UPK_BUILD_DIR:?}"
log="${TMPDIR:-/tmp}/upkeep-demo.$$.log"
trap 'rm -f "$log"' EXIT
UPKEEP_DEMO_SOAK=1 sh "$UPK_SOURCE_DIR/scripts/demo" "$UPK_BUILD_DIR" >"$log" 2>&1 || {
	cat "$log"
	exit 1
}
lacks() {
	cat "$log"
	echo "demo: the output lacks \"$1\"" >&2
	exit 1
}
for want in "fleet acme created" "signature threshold 2 not met" \
	"phase 3/3 (100 %)  \[#####\]  5 of 5 devices assigned, 5 ok, 0 failed  completed" \
	"health check FAILED, rolled back: app: crash loop" \
	"reason: .* over the failure threshold of 20.00 %" "demo finished"; do
	grep -q "$want" "$log" || lacks "$want"
done
# Cleaned up: its directory is gone and no server of it runs.
dir=$(sed -n 's|^demo directory: ||p' "$log")
[ -n "$dir" ] || lacks "demo directory: "
[ ! -e "$dir" ] || { echo "demo: $dir was left behind" >&2; exit 1; }
! pgrep -f "upkeep-server --database $dir/" >/dev/null ||
	{ echo "demo: its server still runs" >&2; exit 1; }
echo "demo: ok"
