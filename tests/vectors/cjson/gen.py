#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Canonical JSON vectors for tests/unit/test_cjson.c, with securesystemslib
# 0.26 (Debian python3-securesystemslib) as the independent reference.
#
#   /usr/bin/python3 gen.py --inputs   rewrite the corpus NAME.json here
#   /usr/bin/python3 gen.py [OUTDIR]   write NAME.canon for every NAME.json
#                                      here into OUTDIR (default: here)
#
# Inputs are JSON text, read back with Python's json module and encoded by
# securesystemslib.formats.encode_canonical; its UTF-8 bytes are the expected
# output. Inputs stay within what upk_json_parse accepts (no reals, no
# duplicate keys, no NUL, integers within int64), so both sides see the same
# values.
import hashlib
import json
import os
import sys

import securesystemslib.formats as formats

HERE = os.path.dirname(os.path.abspath(__file__))


def hexof(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def deep(levels):
    # Alternates arrays and objects, each level also holding a sibling value.
    text = "1"
    for i in range(levels, 0, -1):
        if i % 2:
            text = '[%d,%s,"l%d"]' % (i, text, i)
        else:
            text = '{"z%d":%s,"a":%d}' % (i, text, i)
    return text


def tuf_root():
    keys = {}
    roles = {}
    for r, n in (("root", 3), ("targets", 2), ("snapshot", 1), ("timestamp", 1)):
        ids = []
        for i in range(n):
            kid = hexof("keyid", r, i)
            keys[kid] = {
                "keytype": "ed25519",
                "scheme": "ed25519",
                "keyval": {"public": hexof("pub", r, i)},
            }
            ids.append(kid)
        roles[r] = {"keyids": sorted(ids), "threshold": 2 if n > 1 else 1}
    signed = {
        "_type": "root",
        "spec_version": "1.0.31",
        "version": 3,
        "expires": "2030-01-01T00:00:00Z",
        "consistent_snapshot": True,
        "keys": keys,
        "roles": roles,
        "x-upkeep-owner": "Ünïcødé Owner <owner@example.org>",
    }
    sigs = [{"keyid": hexof("keyid", "root", i), "sig": hexof("sig", i) * 2}
            for i in (2, 0)]
    return {"signatures": sigs, "signed": signed}


def tuf_targets(count):
    targets = {}
    names = ["firmware/böard-%04d.img", "acl/policy-%d.json", "config/日本-%d.conf",
             "modules/😀-%d.ko", "a b/c\"d\\e-%d", "keys/%d"]
    for i in range(count):
        name = names[i % len(names)] % i
        entry = {
            "length": (i * 7919) % 1000003 + 1,
            "hashes": {"sha256": hexof("t", i), "sha512": hexof("u", i) + hexof("v", i)},
        }
        if i % 3:
            entry["custom"] = {
                "upkeep": {
                    "type": ["image", "archive", "module", "acl", "config", "keys"][i % 6],
                    "version": "1.%d.%d" % (i // 10, i % 10),
                    "security_version": i // 50,
                    "hardware": ["board-a", "board-b"][: 1 + i % 2],
                    "selector": {"tags": ["fleet-%d" % (i % 4)], "min_id": -i},
                }
            }
        targets[name] = entry
    delegations = {
        "keys": {hexof("dk", 0): {"keytype": "ed25519", "scheme": "ed25519",
                                  "keyval": {"public": hexof("dpub", 0)}}},
        "roles": [{"name": "third-party", "keyids": [hexof("dk", 0)], "threshold": 1,
                   "terminating": False, "paths": ["modules/*", "acl/*"]}],
    }
    signed = {"_type": "targets", "spec_version": "1.0.31", "version": 42,
              "expires": "2031-06-30T12:00:00Z", "targets": targets,
              "delegations": delegations}
    return {"signatures": [{"keyid": hexof("keyid", "targets", 0), "sig": "ab" * 64}],
            "signed": signed}


# name -> JSON text exactly as it is stored (some hand-written, with escapes).
INPUTS = {
    "empty_object": "{}",
    "empty_array": " [ ] ",
    "empty_mixed": '{ "d" : "", "c" : [ {} , [] ], "b" : [ ], "a" : { } }',
    "scalar_string": '"hello \\"world\\""',
    "scalar_true": "true",
    "scalar_false": "false",
    "scalar_null": "null",
    "scalar_int": "-42",
    "escapes": r'''{"s": "line\nfeed\ttab\u0001ctl\"quote\\back\/slash\u00e9acute\ud83d\ude00emoji\b\f\r\u001f\u007f\u2028\uFEFF end",
 "all_ctl": "\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f",
 "quotes": "\\\\\"\"\\", "solidus": "\/\/\/", "upper_hex": "\u00C9\u00e9\uABCD\uabcd"}''',
    "unicode_raw": '{"bmp": "Ωμέγα 中文 äöü ÿ", "astral": "😀🚀𝄞𐍈", "combining": ["é", "é", "ä", "ñ"], '
                   '"rtl": "עברית العربية", "zwj": "👩‍👩‍👧", "bom_inside": "\ufeffx", "nbsp": "a\u00a0b", '
                   '"max": "\U0010ffff\uffff\ue000"}',
    "keys_order": '{"b":1,"a":2,"ab":3,"aa":4,"abc":5,"":6,"A":7,"Z":8,"_":9,"1":10,"10":11,"2":12,'
                  '"é":13,"e":14,"z":15,"ä":16,"😀":17,"\\uffff":18,"\\ue000":19,"\\ufffd":20,'
                  '"\\"":21,"\\\\":22,"\\u0001":23,"\\n":24," ":25,"~":26,"\\u007f":27,"\\u0080":28,'
                  '"\\u07ff":29,"\\u0800":30,"a\\u0301":31,"\\u00e1":32,"𝄞":33,"\\ud800\\udc00":34,'
                  '"aaa":{"y":1,"x":{"q":[],"p":{}},"yy":2}}',
    "keys_prefix": '{"abcd":1,"abc":2,"ab":3,"a":4,"abcde":5,"abcdé":6,"abcd😀":7,"abcd\\u007f":8}',
    "integers": '[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775806, '
                '-9223372036854775807, 9007199254740993, -9007199254740993, 4294967296, 4294967295, '
                '2147483648, -2147483649, 1000000000000, 10, 100, 99999999999999999]',
    "int_object": '{"max":9223372036854775807,"min":-9223372036854775808,"zero":0,"neg":-1,"len":1024}',
    "whitespace": ' \t\r\n{ \n\t"k"\r\n :\t[ 1 ,\n2 , \r\n {\t} ,"v" ] , "j" : null\n}\n\t ',
    "mixed_array": '[true,false,null,"",[],{},[[[]]],{"a":[{"b":[null]}]},-5,"x",[1,"2",[3]]]',
    "deep_64": deep(64),
    "long_string": json.dumps({"s": ("ab\"c\\d" * 4000) + "é" * 3000, "t": "x" * 70000}),
    "tuf_root": json.dumps(tuf_root(), indent=1, ensure_ascii=True),
    "tuf_targets": json.dumps(tuf_targets(600), indent=1, ensure_ascii=False),
}


def write_inputs():
    for name, text in INPUTS.items():
        with open(os.path.join(HERE, name + ".json"), "wb") as f:
            f.write(text.encode("utf-8"))


def write_expected(outdir):
    os.makedirs(outdir, exist_ok=True)
    for fn in sorted(os.listdir(HERE)):
        if not fn.endswith(".json"):
            continue
        with open(os.path.join(HERE, fn), "rb") as f:
            value = json.loads(f.read().decode("utf-8"))
        canon = formats.encode_canonical(value).encode("utf-8")
        with open(os.path.join(outdir, fn[:-5] + ".canon"), "wb") as f:
            f.write(canon)


if __name__ == "__main__":
    if sys.argv[1:] == ["--inputs"]:
        write_inputs()
    else:
        write_expected(sys.argv[1] if len(sys.argv) > 1 else HERE)
