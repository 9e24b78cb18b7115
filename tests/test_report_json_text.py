"""The JSON report formats write the same bytes whichever encoder writes them."""

from __future__ import annotations

import json

from backout.report._json import dumps_indented


def _standard(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_every_code_point_and_shape_is_written_as_json_writes_it() -> None:
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    document = {
        "strings": [text[i : i + 997] for i in range(0, len(text), 997)],
        "empty": [[], {}, [{}], {"nested": []}],
        "scalars": [None, True, False, 0, -1, 2**63 - 1, -(2**63)],
        'ü " \\ key\n': "value",
    }
    assert dumps_indented(document) == _standard(document)


def test_what_orjson_refuses_is_written_by_json() -> None:
    for document in ({"lone surrogate": "\ud800"}, {"big": 2**64}):
        assert dumps_indented(document) == _standard(document)
