#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Interop: checks every signature of a repository published by `upkeep` with
# python3-securesystemslib (Debian's 0.26), an implementation we did not write:
# canonical bytes from securesystemslib.formats.encode_canonical, signatures
# from securesystemslib.keys.verify_signature. Also checks thresholds.
# usage: sslib_verify.py PUBDIR   (exit 0 when all hold; 1 with a message otherwise)
import json
import os
import sys

import securesystemslib.formats as formats
import securesystemslib.keys as sslkeys


def fail(msg):
    print("sslib_verify: " + msg, file=sys.stderr)
    sys.exit(1)


def load(pub, name):
    with open(os.path.join(pub, "metadata", name), "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def check(doc, keys, keyids, threshold, what):
    """Every signature by a listed key must verify; count distinct good keys."""
    data = formats.encode_canonical(doc["signed"]).encode("utf-8")
    good = set()
    for sig in doc["signatures"]:
        kid = sig["keyid"]
        if kid not in keys:
            continue
        key = dict(keys[kid])
        key["keyid"] = kid
        if not sslkeys.verify_signature(key, sig, data):
            fail("%s: signature by %s does not verify" % (what, kid[:16]))
        if kid in keyids:
            good.add(kid)
    if len(good) < threshold:
        fail("%s: %d of %d signatures" % (what, len(good), threshold))
    return len(good)


def main():
    pub = sys.argv[1]
    checked = 0
    # Root chain: each version by the previous root's keys and by its own.
    prev = None
    v = 1
    while os.path.exists(os.path.join(pub, "metadata", "%d.root.json" % v)):
        root = load(pub, "%d.root.json" % v)
        r = root["signed"]
        own = r["roles"]["root"]
        checked += check(root, r["keys"], own["keyids"], own["threshold"], "root v%d" % v)
        if prev is not None:
            p = prev["signed"]
            check(root, p["keys"], p["roles"]["root"]["keyids"], p["roles"]["root"]["threshold"],
                  "root v%d (by root v%d)" % (v, v - 1))
        prev = root
        v += 1
    if prev is None:
        fail("no 1.root.json")
    r = prev["signed"]

    def top(doc, role):
        spec = r["roles"][role]
        return check(doc, r["keys"], spec["keyids"], spec["threshold"], role)

    ts = load(pub, "timestamp.json")
    checked += top(ts, "timestamp")
    sv = ts["signed"]["meta"]["snapshot.json"]["version"]
    snap = load(pub, "%d.snapshot.json" % sv)
    checked += top(snap, "snapshot")
    meta = snap["signed"]["meta"]
    targets = load(pub, "%d.targets.json" % meta["targets.json"]["version"])
    checked += top(targets, "targets")
    todo = [targets]
    while todo:
        parent = todo.pop()
        dele = parent["signed"].get("delegations")
        if not dele:
            continue
        for role in dele["roles"]:
            doc = load(pub, "%d.%s.json" % (meta[role["name"] + ".json"]["version"], role["name"]))
            checked += check(doc, dele["keys"], role["keyids"], role["threshold"], role["name"])
            todo.append(doc)
    print("securesystemslib verified %d signatures" % checked)


if __name__ == "__main__":
    main()
