#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo` runs in every `make check`, so it cannot rot.
set -eu
: "${UPK_SOURCE_DIR:?}" "${UPK_BUILD_DIR:?}"
sh "$UPK_SOURCE_DIR/scripts/demo" "$UPK_BUILD_DIR" >"${TMPDIR:-/tmp}/upkeep-demo.$$.log" 2>&1 || {
	cat "${TMPDIR:-/tmp}/upkeep-demo.$$.log"
	rm -f "${TMPDIR:-/tmp}/upkeep-demo.$$.log"
	exit 1
}
grep -q "demo finished" "${TMPDIR:-/tmp}/upkeep-demo.$$.log"
rm -f "${TMPDIR:-/tmp}/upkeep-demo.$$.log"
echo "demo: ok"
