"""How Go tools read a plain YAML scalar: Helm's values and kustomize's kustomization files.

Both read YAML with sigs.k8s.io/yaml, which resolves a plain scalar as go-yaml v2 does
(``resolve.go``: YAML 1.1 booleans such as ``yes``/``off``, ``0x``/``0o``/``0b`` and YAML 1.1
octal integers, ``_`` between digits) and then goes through JSON, so every number becomes a
float64. Helm prints it with Go's ``%v`` (``1.10`` → ``1.1``); kustomize decodes it into a
string field and refuses the file (``json: cannot unmarshal number into Go struct field``).
"""

from __future__ import annotations

import decimal
import math
import re
from typing import TYPE_CHECKING

from backout.sources import yamlfile
from backout.sources.images import value_start

if TYPE_CHECKING:
    from backout.sources.yamlfile import Node

_GO_BOOLEANS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), "true"),
    **dict.fromkeys(("on", "On", "ON"), "true"),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), "false"),
    **dict.fromkeys(("off", "Off", "OFF"), "false"),
}
_GO_INTEGER = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT_BASES = {"x": 16, "o": 8, "b": 2}

STRING = "string"
NUMBER = "number"
BOOLEAN = "boolean"


def go_yaml_reading(text: str, node: Node | None) -> tuple[str, str]:
    """What sigs.k8s.io/yaml makes of a scalar of ``text``: ``(kind, printed)``, the kind
    (:data:`STRING`, :data:`NUMBER` or :data:`BOOLEAN`) and how Go's ``%v`` prints it.

    Only a plain scalar without an explicit tag can be other than a string: a quoted one, or
    ``!!str 1.0``, is a string.
    """
    if not isinstance(node, yamlfile.ScalarNode) or node.style:
        return STRING, yamlfile.text_of(node) or ""
    written = str(node.value)
    if "!" in text[node.start_mark.index : value_start(text, node)]:
        return STRING, written  # ``!!str 1.0``
    kind = go_yaml_kind(written)
    if kind == BOOLEAN:
        return kind, _GO_BOOLEANS[written]
    number = _go_yaml_number(written)
    return (STRING, written) if number is None else (NUMBER, _go_print(number))


def go_yaml_kind(written: str) -> str:
    """The kind go-yaml v2 resolves the plain, untagged scalar ``written`` to."""
    if written in _GO_BOOLEANS:
        return BOOLEAN
    return STRING if _go_yaml_number(written) is None else NUMBER


def _go_yaml_number(written: str) -> float | None:
    """The float64 a plain scalar becomes through JSON, or ``None`` for a string."""
    if written[:1] == ".":
        return float(written) if _GO_FLOAT.fullmatch(written) else None
    if written[:1] not in tuple("+-0123456789"):
        return None
    plain = written.replace("_", "")
    integer = _GO_INTEGER.fullmatch(plain)
    if integer is not None:
        sign, digits = integer.groups()
        if digits[:1] != "0" or len(digits) == 1:
            base, body = 10, digits
        elif digits[1] in "xXoObB":
            base, body = _INT_BASES[digits[1].lower()], digits[2:]
        else:
            base, body = 8, digits[1:]  # YAML 1.1 octal: ``010`` is 8
        # More than 64 digits fits no int64 in any base (and int() refuses 4,300 and more).
        value = (-1 if sign == "-" else 1) * int(body, base) if len(body) <= 64 else 2**64
        if -(2**63) <= value < 2**64:
            return float(value)
    if _GO_FLOAT.fullmatch(plain):
        value_f = float(plain)
        return None if math.isinf(value_f) else value_f
    return None


def _go_print(number: float) -> str:
    """A float64 as Go's ``%v`` prints it: shortest digits, an exponent from 1e+06 up."""
    if number == 0:
        return "0"
    _, digit_tuple, exponent = decimal.Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # the value is 0.<digits> x 10**point
    sign = "-" if number < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"
