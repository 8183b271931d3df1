#!/usr/bin/env python3
"""Validate provenance manifests against a JSON Schema (draft 2020-12).

Usage: python3 Tests/validate_manifest.py SCHEMA FILE...

Prints one line per error, `FILE: path/to/field: message`, and exits 0 when every file is valid,
1 when any file is invalid (or unreadable), 2 on usage errors (bad arguments, unreadable or
invalid schema). Needs only jsonschema (Debian python3-jsonschema, or pip).

Integers are checked strictly: JSON Schema counts 2.0 as an integer, but the manifest never holds
floats, so a number written with a fraction or exponent is rejected where an integer is expected.
"""
import json
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    sys.exit("validate_manifest.py: needs jsonschema (apt install python3-jsonschema, or pip install jsonschema)")

MAX_MESSAGE = 200

StrictValidator = jsonschema.validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)),
)


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        schema = load(argv[1])
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as error:
        print(f"{argv[1]}: invalid schema: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    validator = StrictValidator(schema)

    failed = 0
    for path in argv[2:]:
        try:
            document = load(path)
        except (OSError, ValueError) as error:
            print(f"{path}: {error}")
            failed += 1
            continue
        errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            message = error.message
            if error.validator == "not" and error.validator_value == {}:
                message = "not allowed here"  # the schema's way to forbid a field (data on a failed section)
            elif len(message) > MAX_MESSAGE:
                message = message[:MAX_MESSAGE] + "..."
            print(f"{path}: {where}: {message}")
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
