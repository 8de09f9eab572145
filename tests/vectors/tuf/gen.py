#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Makes a small TUF repository signed by an independent implementation
# (Debian's python3-securesystemslib 0.26), for tests/unit/test_metadata.c.
# Key types: ed25519, ecdsa-sha2-nistp256 and rsassa-pss-sha256, mixed in one
# root so every verifier path is crossed. The outputs are committed; run
#   /usr/bin/python3 tests/vectors/tuf/gen.py tests/vectors/tuf
# to make them again (ECDSA and RSA-PSS signatures differ on every run).
import json
import os
import sys

import securesystemslib.formats as fmt
import securesystemslib.hash as sslhash
import securesystemslib.keys as keys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
EXPIRES = "2099-01-01T00:00:00Z"


def public(key):
    # keyid_hash_algorithms stays in, as securesystemslib writes it: our
    # parser must keep unknown key fields.
    return keys.format_keyval_to_metadata(key["keytype"], key["scheme"], key["keyval"])


def sign(signed, signers):
    data = fmt.encode_canonical(signed).encode("utf-8")
    sigs = [keys.create_signature(k, data) for k in signers]
    return {"signatures": sigs, "signed": signed}


def write(name, doc):
    with open(os.path.join(out, name), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


root_keys = [keys.generate_ed25519_key(), keys.generate_ecdsa_key(),
             keys.generate_rsa_key(scheme="rsassa-pss-sha256")]
targets_key = keys.generate_rsa_key(bits=2048, scheme="rsassa-pss-sha256")
snapshot_key = keys.generate_ecdsa_key()
timestamp_key = keys.generate_ed25519_key()
vendor_keys = [keys.generate_ed25519_key(), keys.generate_ed25519_key()]

all_keys = root_keys + [targets_key, snapshot_key, timestamp_key]
root = {
    "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
    "consistent_snapshot": True,
    "keys": {k["keyid"]: public(k) for k in all_keys},
    "roles": {
        "root": {"keyids": [k["keyid"] for k in root_keys], "threshold": 2},
        "targets": {"keyids": [targets_key["keyid"]], "threshold": 1},
        "snapshot": {"keyids": [snapshot_key["keyid"]], "threshold": 1},
        "timestamp": {"keyids": [timestamp_key["keyid"]], "threshold": 1},
    },
    "x-unknown-field": {"kept": ["because", "signatures", "cover", "it"]},
}
write("root.json", sign(root, root_keys[:2]))

payload = b"firmware image 2.0\n"
digest = {a: sslhash.digest(a) for a in ("sha256", "sha512")}
for d in digest.values():
    d.update(payload)
hashes = {a: d.hexdigest() for a, d in digest.items()}
targets = {
    "_type": "targets", "spec_version": "1.0.31", "version": 3, "expires": EXPIRES,
    "targets": {
        "images/app-2.0.img": {"length": len(payload), "hashes": hashes,
                               "custom": {"upkeep": {"type": "image", "version": "2.0"}}},
    },
    "delegations": {
        "keys": {k["keyid"]: public(k) for k in vendor_keys},
        "roles": [
            {"name": "vendor", "keyids": [k["keyid"] for k in vendor_keys], "threshold": 2,
             "terminating": True, "paths": ["vendor/model-x/*", "vendor/*.bin"]},
            {"name": "hashed", "keyids": [vendor_keys[0]["keyid"]], "threshold": 1,
             "terminating": False, "path_hash_prefixes": ["0", "8", "f"]},
        ],
    },
}
write("targets.json", sign(targets, [targets_key]))

vendor = {
    "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
    "targets": {"vendor/model-x/fw.bin": {"length": 3, "hashes": {"sha256": "00" * 32}}},
}
write("vendor.json", sign(vendor, vendor_keys))

snapshot = {
    "_type": "snapshot", "spec_version": "1.0.31", "version": 5, "expires": EXPIRES,
    "meta": {"targets.json": {"version": 3}, "vendor.json": {"version": 1}},
}
write("snapshot.json", sign(snapshot, [snapshot_key]))

timestamp = {
    "_type": "timestamp", "spec_version": "1.0.31", "version": 7, "expires": EXPIRES,
    "meta": {"snapshot.json": {"version": 5, "length": 1, "hashes": {"sha256": "ab" * 32}}},
}
write("timestamp.json", sign(timestamp, [timestamp_key]))
