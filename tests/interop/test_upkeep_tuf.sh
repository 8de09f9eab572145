#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# upkeep-tuf, the TUF conformance command line, end to end: against the
# repository signed by securesystemslib (tests/vectors/tuf-repo) served over
# loopback HTTP by Python's http.server; init without network, refresh,
# download (cached copies not fetched again, first failure stops), a
# tampered target, and a freeze detected under libfaketime.
set -eu

: "${UPK_BUILD_DIR:?}" "${UPK_TEST_DATA:?}"
tuf="$UPK_BUILD_DIR/tools/upkeep-tuf"
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no /usr/bin/python3"; exit 77; }
[ -x "$tuf" ] || { echo "missing $tuf"; exit 1; }

tmp=$(mktemp -d)
server=""
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cp -r "$UPK_TEST_DATA/vectors/tuf-repo" "$tmp/repo"
# A server on an ephemeral port that logs each requested path, one a line.
"$py" - "$tmp/repo" "$tmp/port" "$tmp/requests" <<'EOF' &
import functools, http.server, sys
root, portfile, log = sys.argv[1:4]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        super().do_GET()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=root))
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
EOF
server=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || fail "http server did not start"
base="http://127.0.0.1:$(cat "$tmp/port")"
md="$tmp/client"
td="$tmp/targets"

"$tuf" --help | grep -q "download" || fail "--help"

# init: no network (the server is not asked for anything).
: >"$tmp/requests"
"$tuf" --metadata-dir "$md" init "$tmp/repo/metadata/1.root.json" || fail "init"
cmp "$md/root.json" "$tmp/repo/metadata/1.root.json" || fail "init copy differs"
[ ! -s "$tmp/requests" ] || fail "init used the network"

# refresh: follows the root rotation; trusted files are byte-identical.
"$tuf" --metadata-url "$base/metadata" --metadata-dir "$md" refresh || fail "refresh"
cmp "$md/root.json" "$tmp/repo/metadata/2.root.json" || fail "root.json"
cmp "$md/timestamp.json" "$tmp/repo/metadata/timestamp.json" || fail "timestamp.json"
cmp "$md/snapshot.json" "$tmp/repo/metadata/5.snapshot.json" || fail "snapshot.json"
cmp "$md/targets.json" "$tmp/repo/metadata/3.targets.json" || fail "targets.json"

# download: options in another order, two names, one updater.
"$tuf" --target-dir "$td" --target-name images/app-2.0.img --metadata-dir "$md" \
	--target-base-url "$base/targets" --target-name vendor/fw.bin \
	--metadata-url "$base/metadata/" download || fail "download"
cmp "$td/images/app-2.0.img" "$tmp/repo/targets/images/app-2.0.img" || fail "target 1"
cmp "$td/vendor/fw.bin" "$tmp/repo/targets/vendor/fw.bin" || fail "target 2"
cmp "$md/vendor.json" "$tmp/repo/metadata/1.vendor.json" || fail "vendor.json"

# Cached: a second download fetches no target.
: >"$tmp/requests"
"$tuf" --metadata-url "$base/metadata" --metadata-dir "$md" --target-name vendor/fw.bin \
	--target-dir "$td" --target-base-url "$base/targets" download || fail "download again"
! grep -q '^/targets/' "$tmp/requests" || fail "cached target fetched again"

# The first failure stops the run: the name after it is not downloaded.
rm -rf "$td"
if "$tuf" --metadata-url "$base/metadata" --metadata-dir "$md" --target-name no/such \
	--target-name vendor/fw.bin --target-dir "$td" --target-base-url "$base/targets" \
	download 2>"$tmp/err"; then
	fail "missing target accepted"
fi
grep -q "no/such" "$tmp/err" || fail "error does not name the target: $(cat "$tmp/err")"
[ ! -e "$td/vendor/fw.bin" ] || fail "went on after a failure"

# A tampered target is refused and never lands under the target directory.
for f in "$tmp"/repo/targets/images/*app-2.0.img; do printf 'firmware image 6.6\n' >"$f"; done
if "$tuf" --metadata-url "$base/metadata" --metadata-dir "$md" --target-name images/app-2.0.img \
	--target-dir "$td" --target-base-url "$base/targets" download 2>"$tmp/err"; then
	fail "tampered target accepted"
fi
[ ! -e "$td/images/app-2.0.img" ] || fail "tampered target written"

# Indefinite freeze: in 2100 every role of this repository has expired.
if command -v faketime >/dev/null 2>&1; then
	# (libfaketime is preloaded before ASan's runtime in sanitizer builds: allow it.)
	if ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		faketime '2100-01-02 00:00:00' "$tuf" --metadata-url "$base/metadata" \
		--metadata-dir "$md" refresh 2>"$tmp/err"; then
		fail "expired metadata accepted under faketime"
	fi
	grep -q "expired" "$tmp/err" || fail "freeze not reported: $(cat "$tmp/err")"
fi

# Usage errors: exit status 1 and one line on stderr.
if "$tuf" --bogus refresh 2>/dev/null; then fail "unknown option accepted"; fi
if "$tuf" --metadata-url "$base/metadata" refresh 2>/dev/null; then fail "missing dir accepted"; fi
head -c 100 "$tmp/repo/metadata/1.root.json" >"$tmp/bad-root.json"
if "$tuf" --metadata-dir "$tmp/other" init "$tmp/bad-root.json" 2>/dev/null; then
	fail "truncated root accepted by init"
fi
set +e
"$tuf" --metadata-dir "$tmp/other" frobnicate 2>/dev/null
[ $? -eq 1 ] || fail "unknown command: exit status is not 1"
echo "upkeep-tuf: all checks passed"
