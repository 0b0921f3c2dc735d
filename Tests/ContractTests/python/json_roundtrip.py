#!/usr/bin/python3
"""Checks slsctl's JSON against Debian's python3-protobuf `json_format`, both ways.

For every `<type>.bin` (a message's protobuf encoding) and `<type>.slsctl.json` (what
`slsctl json --from-binary` printed for it) in FOLDER:
  * json_format.Parse of slsctl's JSON must equal the message parsed from the binary;
  * MessageToJson of the message is written as `<type>.python.json` (json_name keys, defaults
    omitted) and `<type>.python-names.json` (proto field names, defaults included), for slsctl
    to read back.
Messages come from protoc --python_out over PROTOS. Exits 1 listing every mismatch.

usage: json_roundtrip.py PROTOS FOLDER
"""
import glob
import os
import subprocess
import sys
import tempfile


def main():
    protos, folder = sys.argv[1:3]
    out = tempfile.mkdtemp(prefix="sls-json-py-")
    files = sorted(os.path.relpath(p, protos) for p in glob.glob(os.path.join(protos, "**", "*.proto"), recursive=True))
    subprocess.run(["protoc", "-I", protos, "--python_out", out] + files, check=True)
    sys.path.insert(0, out)
    import importlib
    from google.protobuf import json_format, symbol_database
    for name in files:
        importlib.import_module(name[:-len(".proto")].replace("/", ".") + "_pb2")
    database = symbol_database.Default()
    failures = []
    count = 0
    for binary in sorted(glob.glob(os.path.join(folder, "*.bin"))):
        type_name = os.path.basename(binary)[:-len(".bin")]
        cls = database.GetSymbol(type_name)
        expected = cls()
        expected.ParseFromString(open(binary, "rb").read())
        try:
            parsed = json_format.Parse(open(os.path.join(folder, type_name + ".slsctl.json")).read(), cls())
        except json_format.ParseError as error:
            failures.append("%s: json_format cannot parse slsctl's JSON: %s" % (type_name, error))
            continue
        if parsed != expected:
            failures.append("%s: slsctl's JSON parses to a different message" % type_name)
        with open(os.path.join(folder, type_name + ".python.json"), "w") as f:
            f.write(json_format.MessageToJson(expected))
        with open(os.path.join(folder, type_name + ".python-names.json"), "w") as f:
            f.write(json_format.MessageToJson(expected, preserving_proto_field_name=True,
                                              including_default_value_fields=True))
        count += 1
    for failure in failures:
        print(failure)
    print("checked %d message types, %d mismatches" % (count, len(failures)))
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
