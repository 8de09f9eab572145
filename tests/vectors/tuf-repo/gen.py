#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A complete, servable TUF repository signed by an independent implementation
# (Debian's python3-securesystemslib 0.26), for the client tests
# (tests/unit/test_client_interop.c, tests/interop/test_upkeep_tuf.sh).
# Unlike tests/vectors/tuf/, every length and hash here is real, so a client
# can refresh it end to end: consistent snapshots, a root rotation
# (1.root.json -> 2.root.json, new root keys), a delegated role, and keys of
# all three types: ed25519, ecdsa-sha2-nistp256 and rsassa-pss-sha256.
# The outputs are committed; make them again with
#   /usr/bin/python3 tests/vectors/tuf-repo/gen.py tests/vectors/tuf-repo
import hashlib
import json
import os
import shutil
import sys

import securesystemslib.formats as fmt
import securesystemslib.keys as keys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
EXPIRES = "2099-01-01T00:00:00Z"
SPEC = "1.0.31"


def public(key):
    return keys.format_keyval_to_metadata(key["keytype"], key["scheme"], key["keyval"])


def sign(signed, signers):
    data = fmt.encode_canonical(signed).encode("utf-8")
    return {"signatures": [keys.create_signature(k, data) for k in signers], "signed": signed}


def dump(doc):
    # Not canonical on purpose: clients must hash the bytes as served.
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write(rel, data):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def meta_of(data, version):
    return {"version": version, "length": len(data),
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}


for d in ("metadata", "targets"):
    shutil.rmtree(os.path.join(out, d), ignore_errors=True)

root1_keys = [keys.generate_ed25519_key(), keys.generate_ecdsa_key()]
root2_keys = [keys.generate_ecdsa_key(), keys.generate_rsa_key(scheme="rsassa-pss-sha256")]
targets_key = keys.generate_rsa_key(bits=2048, scheme="rsassa-pss-sha256")
snapshot_key = keys.generate_ecdsa_key()
timestamp_key = keys.generate_ed25519_key()
vendor_keys = [keys.generate_ed25519_key(), keys.generate_ecdsa_key()]


def root(version, root_keys):
    all_keys = root_keys + [targets_key, snapshot_key, timestamp_key]
    return {
        "_type": "root", "spec_version": SPEC, "version": version, "expires": EXPIRES,
        "consistent_snapshot": True,
        "keys": {k["keyid"]: public(k) for k in all_keys},
        "roles": {
            "root": {"keyids": [k["keyid"] for k in root_keys], "threshold": 2},
            "targets": {"keyids": [targets_key["keyid"]], "threshold": 1},
            "snapshot": {"keyids": [snapshot_key["keyid"]], "threshold": 1},
            "timestamp": {"keyids": [timestamp_key["keyid"]], "threshold": 1},
        },
    }


write("metadata/1.root.json", dump(sign(root(1, root1_keys), root1_keys)))
# Rotation: signed by the old threshold and the new one.
write("metadata/2.root.json", dump(sign(root(2, root2_keys), root1_keys + root2_keys)))


def target(rel, payload):
    h256 = hashlib.sha256(payload).hexdigest()
    h512 = hashlib.sha512(payload).hexdigest()
    head, base = os.path.split(rel)
    for name in (base, h256 + "." + base, h512 + "." + base):
        write(os.path.join("targets", head, name), payload)
    # An algorithm no client knows, which must be ignored.
    return {"length": len(payload),
            "hashes": {"sha256": h256, "sha512": h512, "x-unknown-alg": "00"}}


targets = {
    "_type": "targets", "spec_version": SPEC, "version": 3, "expires": EXPIRES,
    "targets": {"images/app-2.0.img": target("images/app-2.0.img", b"firmware image 2.0\n")},
    "delegations": {
        "keys": {k["keyid"]: public(k) for k in vendor_keys},
        "roles": [{"name": "vendor", "keyids": [k["keyid"] for k in vendor_keys],
                   "threshold": 2, "terminating": True, "paths": ["vendor/*"]}],
    },
}
targets_bytes = dump(sign(targets, [targets_key]))
write("metadata/3.targets.json", targets_bytes)

vendor = {
    "_type": "targets", "spec_version": SPEC, "version": 1, "expires": EXPIRES,
    "targets": {"vendor/fw.bin": target("vendor/fw.bin", b"vendor firmware\n")},
}
vendor_bytes = dump(sign(vendor, vendor_keys))
write("metadata/1.vendor.json", vendor_bytes)

snapshot = {
    "_type": "snapshot", "spec_version": SPEC, "version": 5, "expires": EXPIRES,
    "meta": {"targets.json": meta_of(targets_bytes, 3), "vendor.json": meta_of(vendor_bytes, 1)},
}
snapshot_bytes = dump(sign(snapshot, [snapshot_key]))
write("metadata/5.snapshot.json", snapshot_bytes)

timestamp = {
    "_type": "timestamp", "spec_version": SPEC, "version": 7, "expires": EXPIRES,
    "meta": {"snapshot.json": meta_of(snapshot_bytes, 5)},
}
write("metadata/timestamp.json", dump(sign(timestamp, [timestamp_key])))
