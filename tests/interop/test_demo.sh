#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo` runs in every `make check`, so it cannot rot: the whole story
# with one-second soak times, the outcomes it must show, and its cleanup.
# The demo fails by itself when an outcome does not happen; this checks that
# its output still tells each of them.
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
	"reason: .* over the failure threshold of 20.00 %" \
	"transfer [0-9a-f]* done: 1 device(s) moved from fleet acme to new fleet erin-home" \
	"image repository: the fleet has published no image metadata yet" \
	"owner: *since transfer [0-9a-f]* (root v2), private data wiped" \
	"its private_dir is empty now" \
	"device.event .*\"kind\":\"private-data-wiped\",\"reason\":\"transfer\"" \
	"transfer [0-9a-f]* at root v2: fleet acme -> erin-home, 1 device(s)  <- includes the device" \
	"HTTP 409: device [0-9a-f]* was transferred to fleet erin-home" \
	"refused: upkeepd install: image repository: .*signature threshold 1 not met" \
	"device 1 still runs 2.0.0" \
	"device 2: installed 4.0.0 into its other slot, rebooted, health check passed, committed" \
	"targets v[0-9]* delegates 1 pattern(s) to acme (2 of 3 keys)" \
	"device 1: installed 5.0.0 into its other slot, rebooted, health check passed, committed" \
	"demo finished"; do
	grep -q "$want" "$log" || lacks "$want"
done
# Cleaned up: its directory is gone and no server of it runs.
dir=$(sed -n 's|^demo directory: ||p' "$log")
[ -n "$dir" ] || lacks "demo directory: "
[ ! -e "$dir" ] || { echo "demo: $dir was left behind" >&2; exit 1; }
! pgrep -f "upkeep-server --database $dir/" >/dev/null ||
	{ echo "demo: its server still runs" >&2; exit 1; }
echo "demo: ok"
