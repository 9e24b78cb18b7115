"""The report's one-pass questions agree with the per-text ones they stand for: whether a
text holds a control character (``_any_control`` on UTF-8 bytes vs the ``_CONTROL`` regex),
and whether a credential is masked wherever in a finding it is quoted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backout.engine import CheckResult
from backout.models import Family, Location, RuleMeta, Severity, Suppression, make_finding
from backout.report import _CONTROL, OutputFormat, _any_control, render

# Characters near the edges the byte test relies on: ASCII and C1 controls, the bytes around
# them in UTF-8 (U+00A0, U+0100, U+0180 share the \xc2/\xc4/\xc6 lead), NEL, line and
# paragraph separators, lone surrogates (encoded with surrogatepass) and astral characters.
_EDGES = st.sampled_from(
    [chr(c) for c in (*range(0x00, 0x21), *range(0x7E, 0xA2), 0xC2, 0x100, 0x180, 0x2028)]
    + ["\u2029", "\ud800", "\udfff", "\U0001f600", "\ufeff", "\x85"]
)
_TEXTS = st.text(alphabet=st.one_of(_EDGES, st.characters()), max_size=40)


@given(_TEXTS)
@example("\x85")
@example("\u2028")
@example("\ud83d")
@example("\xc2\x9f")
@example("é\x9f")
def test_any_control_agrees_with_the_pattern(text: str) -> None:
    assert _any_control(text) == (_CONTROL.search(text) is not None)


_META = RuleMeta("BK999", "test-rule", Severity.ERROR, Family.SCHEMA, "", "")
_SECRET = "hunter2pass"
_URL = f"postgres://app:{_SECRET}@db.internal:5432/shop"


def _result(message: str, fix: str, reason: str | None) -> CheckResult:
    location = Location("migrations/0001.sql", 1, 1)
    finding = make_finding(_META, location, message, fix)
    if reason is None:
        return CheckResult(Path("."), [finding], [], [_META])
    suppression = Suppression(location, ("BK999",), reason)
    finding = dataclasses.replace(finding, suppressed_by=suppression)
    return CheckResult(Path("."), [], [finding], [_META])


@pytest.mark.parametrize("output_format", list(OutputFormat))
@pytest.mark.parametrize(
    ("message", "fix", "reason"),
    [
        ("plain message", f"connect with {_URL}", None),
        ("plain message", "plain fix", f"checked by hand on {_URL}"),
        (f"reads {_URL}", "plain fix", None),
    ],
    ids=["only-in-fix", "only-in-reason", "only-in-message"],
)
def test_a_credential_anywhere_in_a_finding_is_masked(
    output_format: OutputFormat, message: str, fix: str, reason: str | None
) -> None:
    report = render(_result(message, fix, reason), output_format)
    assert _SECRET not in report
