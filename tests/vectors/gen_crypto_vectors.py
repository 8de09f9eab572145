#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Makes tests/vectors/crypto_tuf_keys.json: ECDSA P-256 and RSA-PSS signatures
# and TUF key ids from independent implementations (python3-cryptography 38,
# python3-securesystemslib 0.26, Debian), which test_key.c checks libupkeep
# against. Keys are random, so re-running changes the file; commit its output.
# Run with Debian's python: /usr/bin/python3 tests/vectors/gen_crypto_vectors.py
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from securesystemslib import formats, keys as sslib_keys

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def pub_pem(priv):
    return priv.public_key().public_bytes(PEM, SPKI).decode()


def tuf_key(keytype, scheme, public):
    return {"keytype": keytype, "scheme": scheme, "keyval": {"public": public}}


def keyid(key):
    # TUF key id: sha256 over the canonical JSON of the public key object.
    return hashlib.sha256(formats.encode_canonical(key).encode()).hexdigest()


def pss(salt):
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)


cases = []
bad_keys = []
key_ids = []


def case(name, key, msg, sig, valid):
    cases.append({"name": name, "key": key, "message": msg.hex(), "signature": sig.hex(),
                  "valid": valid})


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


msg = b"upkeep signed message \x00\x01\xff"

# ECDSA P-256: a securesystemslib key (its own PEM formatting) signed by
# securesystemslib, and a cryptography key signed by cryptography.
sk = sslib_keys.generate_ecdsa_key()
ek = tuf_key("ecdsa", "ecdsa-sha2-nistp256", sk["keyval"]["public"])
sig = bytes.fromhex(sslib_keys.create_signature(sk, msg)["sig"])
assert sslib_keys.verify_signature(sk, {"keyid": sk["keyid"], "sig": sig.hex()}, msg)
case("ecdsa securesystemslib", ek, msg, sig, True)
case("ecdsa tampered message", ek, msg + b"!", sig, False)
case("ecdsa empty message signature on other message", ek, b"", sig, False)
key_ids.append({"name": "ecdsa securesystemslib", "key": ek, "keyid": keyid(ek)})
legacy = tuf_key("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", sk["keyval"]["public"])
case("ecdsa legacy keytype", legacy, msg, sig, True)

ep = ec.generate_private_key(ec.SECP256R1())
ek2 = tuf_key("ecdsa", "ecdsa-sha2-nistp256", pub_pem(ep))
sig2 = ep.sign(msg, ec.ECDSA(hashes.SHA256()))
case("ecdsa cryptography", ek2, msg, sig2, True)
case("ecdsa empty message", ek2, b"", ep.sign(b"", ec.ECDSA(hashes.SHA256())), True)
# Flip a bit inside r (DER still well formed: the value changes, not the length).
case("ecdsa tampered r", ek2, msg, flip(sig2, 8), False)
case("ecdsa truncated DER", ek2, msg, sig2[:-1], False)
case("ecdsa DER with trailing byte", ek2, msg, sig2 + b"\x00", False)
case("ecdsa signature under other ecdsa key", ek, msg, sig2, False)
key_ids.append({"name": "ecdsa cryptography", "key": ek2, "keyid": keyid(ek2)})

# RSA-PSS-SHA256: securesystemslib's key (PEM without the final newline) and
# signature (salt = digest length), and cryptography with the maximum salt.
sr = sslib_keys.generate_rsa_key(2048)
rk = tuf_key("rsa", "rsassa-pss-sha256", sr["keyval"]["public"])
assert not rk["keyval"]["public"].endswith("\n")
rsig = bytes.fromhex(sslib_keys.create_signature(sr, msg)["sig"])
case("rsa-pss securesystemslib (salt 32)", rk, msg, rsig, True)
rpriv = serialization.load_pem_private_key(sr["keyval"]["private"].encode(), None)
case("rsa-pss digest-length salt", rk, msg, rpriv.sign(msg, pss(padding.PSS.DIGEST_LENGTH),
                                                       hashes.SHA256()), True)
case("rsa-pss max salt", rk, msg, rpriv.sign(msg, pss(padding.PSS.MAX_LENGTH), hashes.SHA256()),
     True)
case("rsa-pss zero salt", rk, msg, rpriv.sign(msg, pss(0), hashes.SHA256()), True)
case("rsa-pss tampered message", rk, msg + b"!", rsig, False)
case("rsa-pss tampered signature", rk, msg, flip(rsig, 100), False)
case("rsa-pss truncated signature", rk, msg, rsig[:-1], False)
case("rsa pkcs1v15 signature is another scheme", rk, msg,
     rpriv.sign(msg, padding.PKCS1v15(), hashes.SHA256()), False)
case("rsa-pss with mgf1-sha1 is another scheme", rk, msg,
     rpriv.sign(msg, padding.PSS(mgf=padding.MGF1(hashes.SHA1()),
                                 salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256()), False)
case("rsa-pss over sha512 is another scheme", rk, msg,
     rpriv.sign(msg, pss(padding.PSS.DIGEST_LENGTH), hashes.SHA512()), False)
key_ids.append({"name": "rsa securesystemslib", "key": rk, "keyid": keyid(rk)})

r3 = rsa.generate_private_key(public_exponent=65537, key_size=3072)
rk3 = tuf_key("rsa", "rsassa-pss-sha256", pub_pem(r3))
case("rsa-pss 3072 max salt", rk3, msg, r3.sign(msg, pss(padding.PSS.MAX_LENGTH), hashes.SHA256()),
     True)
key_ids.append({"name": "rsa 3072 cryptography", "key": rk3, "keyid": keyid(rk3)})

# An ECDSA signature presented for an RSA key and the other way round.
case("ecdsa signature under rsa key", rk, msg, sig2, False)
case("rsa signature under ecdsa key", ek2, msg, rsig, False)

# Ed25519: the RFC 8032 7.1 TEST 1 key, and a signature made by cryptography.
rfc_pub = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
edk = tuf_key("ed25519", "ed25519", rfc_pub)
key_ids.append({"name": "ed25519 rfc8032 test 1", "key": edk, "keyid": keyid(edk)})
seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
edp = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
case("ed25519 cryptography", edk, msg, edp.sign(msg), True)
case("ed25519 signature under ecdsa key", ek2, msg, edp.sign(msg), False)
case("ecdsa signature under ed25519 key", edk, msg, sig2, False)

# Key objects that must be refused: the PEM's real type differs from the
# keytype ("invalid"), or it is a curve or size we do not accept ("unsupported").
p384 = ec.generate_private_key(ec.SECP384R1())
r1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
edpem = pub_pem(edp)
bad_keys += [
    {"name": "rsa PEM under keytype ecdsa", "expect": "invalid",
     "key": tuf_key("ecdsa", "ecdsa-sha2-nistp256", rk["keyval"]["public"])},
    {"name": "ecdsa PEM under keytype rsa", "expect": "invalid",
     "key": tuf_key("rsa", "rsassa-pss-sha256", ek2["keyval"]["public"])},
    {"name": "ed25519 PEM under keytype ecdsa", "expect": "invalid",
     "key": tuf_key("ecdsa", "ecdsa-sha2-nistp256", edpem)},
    {"name": "ecdsa P-384 key", "expect": "unsupported",
     "key": tuf_key("ecdsa", "ecdsa-sha2-nistp256", pub_pem(p384))},
    {"name": "rsa 1024-bit key", "expect": "unsupported",
     "key": tuf_key("rsa", "rsassa-pss-sha256", pub_pem(r1024))},
    {"name": "ecdsa private key PEM as public", "expect": "invalid",
     "key": tuf_key("ecdsa", "ecdsa-sha2-nistp256", ep.private_bytes(
         PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())},
]

for c in cases:
    # Every expectation is checked by cryptography itself before it is written.
    k = serialization.load_pem_public_key(c["key"]["keyval"]["public"].encode()) \
        if c["key"]["keytype"] != "ed25519" else \
        ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(c["key"]["keyval"]["public"]))
    m, s = bytes.fromhex(c["message"]), bytes.fromhex(c["signature"])
    ok = True
    try:
        if isinstance(k, ec.EllipticCurvePublicKey):
            k.verify(s, m, ec.ECDSA(hashes.SHA256()))
        elif isinstance(k, rsa.RSAPublicKey):
            k.verify(s, m, pss(padding.PSS.AUTO), hashes.SHA256())
        else:
            k.verify(s, m)
    except Exception:
        ok = False
    assert ok == c["valid"], c["name"]

out = {
    "generator": "tests/vectors/gen_crypto_vectors.py with python3-cryptography %s, "
                 "python3-securesystemslib %s" % (
                     __import__("cryptography").__version__,
                     __import__("securesystemslib").__version__),
    "cases": cases,
    "bad_keys": bad_keys,
    "key_ids": key_ids,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crypto_tuf_keys.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote %s: %d cases, %d bad keys, %d key ids" % (path, len(cases), len(bad_keys),
                                                      len(key_ids)), file=sys.stderr)
