"""Meta-tests: every rule has a unique code and name, and docs with the required sections."""

from __future__ import annotations

import re

import pytest

from backout.rules import ALL_RULES
from backout.rules.base import REQUIRED_SECTIONS, section


def test_codes_and_names_are_unique_and_well_formed() -> None:
    codes = [rule.code for rule in ALL_RULES]
    names = [rule.name for rule in ALL_RULES]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))
    for rule in ALL_RULES:
        assert re.fullmatch(r"BK\d{3}", rule.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_docs_have_every_section(rule: type) -> None:
    docs = rule.meta().docs
    for heading in REQUIRED_SECTIONS:
        assert heading in docs, f"{rule.code} docs lack {heading}"
        assert section(docs, heading[3:]), f"{rule.code}: {heading} is empty"
    assert "```" in section(docs, "Example"), f"{rule.code}: Example has no code block"
    assert "```" in section(docs, "Use instead"), f"{rule.code}: Use instead has no code block"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_module_is_named_by_its_code(rule: type) -> None:
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.code + "_")
    family = rule.__module__.split(".")[2]
    assert family == rule.family.value
