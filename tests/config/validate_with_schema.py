#!/usr/bin/python3
"""Validates YAML configuration files against a JSON Schema (draft 2020-12).

Usage: validate_with_schema.py SCHEMA.json FILE.yaml...
Prints one JSON line per file: {"file": ..., "valid": true|false, "error": ...}.
`!include PATH` (relative to the including file) is resolved as fieldbridge
resolves it; anchors, aliases and merge keys are YAML's own. Exits 2 when the
schema itself is not a valid draft 2020-12 schema.
"""
import json
import os
import sys

import yaml
from jsonschema import Draft202012Validator


class IncludingLoader(yaml.SafeLoader):
    pass


def include(loader, node):
    path = loader.construct_scalar(node)
    base = os.path.dirname(getattr(loader, "name", "") or ".")
    full = path if os.path.isabs(path) else os.path.join(base, path)
    with open(full, encoding="utf-8") as stream:
        return yaml.load(stream, IncludingLoader)


IncludingLoader.add_constructor("!include", include)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:  # the schema is the thing under test
        print(json.dumps({"schema_error": str(e)}))
        return 2
    validator = Draft202012Validator(schema)
    for name in sys.argv[2:]:
        try:
            with open(name, encoding="utf-8") as stream:
                document = yaml.load(stream, IncludingLoader)
            errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
            first = errors[0] if errors else None
            where = "/".join(str(p) for p in first.path) if first else ""
            print(json.dumps({"file": name, "valid": not errors,
                              "error": (where + ": " + first.message)[:300] if first else ""}))
        except yaml.YAMLError as e:
            print(json.dumps({"file": name, "valid": False, "error": "YAML: " + str(e)[:300]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
