"""Validating backout's SARIF against the SARIF 2.1.0 schemas of tests/data, formats included.

jsonschema checks the formats ``uri`` and ``uri-reference`` only with an optional package; the
checks here follow RFC 3986's characters: a reference holds only unreserved, reserved and
percent-encoded characters (a path's space or ``é`` must be encoded), and a URI has a scheme.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema

DATA = Path(__file__).parent / "data"
SCHEMAS = {
    name: json.loads((DATA / name).read_text(encoding="utf-8"))
    for name in ("sarif-schema-2.1.0.json", "sarif-2.1.0-rtm.5.json")
}
_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or _REFERENCE.fullmatch(value) is not None


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or (
        _REFERENCE.fullmatch(value) is not None and _SCHEME.match(value) is not None
    )


def validate(log: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``log`` is valid against both schemas."""
    for schema in SCHEMAS.values():
        jsonschema.Draft4Validator(schema, format_checker=FORMATS).validate(log)
