#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Claim MAC vectors (docs/ownership.md, "Physical-presence reset and claim")
# from an implementation independent of lib/claim.c: Python's hmac and
# hashlib. Writes claim_mac.json next to this script. Inputs are fixed, so
# re-running gives the same file.
import hashlib
import hmac
import json
import os

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def canonical(typed):
    out = []
    for c in typed:
        if c in "- \t":
            continue
        c = c.upper()
        c = {"I": "1", "L": "1", "O": "0"}.get(c, c)
        if c not in ALPHABET:
            return None
        out.append(c)
    return "".join(out) if len(out) == 20 else None


def mac(code, device, fleet, image_root, director_root):
    msg = "upkeep-claim-v1\n%s\n/v1/fleets/%s\n%s\n%s" % (
        device, fleet,
        hashlib.sha256(image_root).hexdigest(),
        hashlib.sha256(director_root).hexdigest())
    return hmac.new(canonical(code).encode(), msg.encode(), hashlib.sha256).hexdigest()


CASES = [
    ("7K2QM-4TX9A-PB0ZR-H5WCD", "5ea6e5d1" * 8, "bob-home",
     b'{"signed":{"_type":"root","version":3}}', b'{"signed":{"_type":"root","version":2}}'),
    ("7k2qm 4tx9a pbozr h5wcd", "5ea6e5d1" * 8, "bob-home",
     b'{"signed":{"_type":"root","version":3}}', b'{"signed":{"_type":"root","version":2}}'),
    ("IL000-00000-00000-0000O", "0" * 64, "a",
     b"", b"\n"),
    ("ZZZZZZZZZZZZZZZZZZZZ", "f" * 64, "fleet-2-x" + "9" * 54,
     bytes(range(256)), b"director root\r\n"),
]

vectors = []
for code, device, fleet, ir, dr in CASES:
    vectors.append({
        "code": code,
        "canonical": canonical(code),
        "device": device,
        "fleet": fleet,
        "image_root_hex": ir.hex(),
        "director_root_hex": dr.hex(),
        "mac": mac(code, device, fleet, ir, dr),
    })
invalid = ["7K2QM-4TX9A-PB0ZR-H5WC", "7K2QM-4TX9A-PB0ZR-H5WCDX", "7K2QU-4TX9A-PB0ZR-H5WCD",
           "7K2QM_4TX9A-PB0ZR-H5WCD", ""]
for c in invalid:
    assert canonical(c) is None
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "claim_mac.json"), "w") as f:
    json.dump({"vectors": vectors, "invalid_codes": invalid}, f, indent=1, sort_keys=True)
    f.write("\n")
