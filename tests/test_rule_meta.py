"""Meta-tests: every rule has a unique code and name, and docs with the required sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import backout.rules
from backout.models import Location, make_finding
from backout.rules import ALL_RULES, RuleRef, all_codes, load_rule, rule_for, rules_by_code
from backout.rules.base import REQUIRED_SECTIONS, section

RULES = tuple(rules_by_code().values())


def test_codes_and_names_are_unique_and_well_formed() -> None:
    codes = [ref.code for ref in ALL_RULES]
    names = [rule.name for rule in RULES]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))
    for rule in RULES:
        assert re.fullmatch(r"BK\d{3}", rule.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_docs_have_every_section(rule: type) -> None:
    docs = rule.meta().docs
    for heading in REQUIRED_SECTIONS:
        assert heading in docs, f"{rule.code} docs lack {heading}"
        assert section(docs, heading[3:]), f"{rule.code}: {heading} is empty"
    assert "```" in section(docs, "Example"), f"{rule.code}: Example has no code block"
    assert "```" in section(docs, "Use instead"), f"{rule.code}: Use instead has no code block"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_module_is_named_by_its_code(rule: type) -> None:
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.code + "_")
    family = rule.__module__.split(".")[2]
    assert family == rule.family.value


@pytest.mark.parametrize("ref", ALL_RULES, ids=lambda r: r.code)
def test_rule_ref_names_its_rule(ref: RuleRef) -> None:
    """The code and family a rule is chosen by, before its module loads, are the rule's own."""
    rule = ref.load()
    assert rule.__name__ == ref.class_name
    assert rule.code == ref.code
    assert ref.family is rule.family
    assert load_rule(ref.code) is rule
    assert rule_for(ref.code.lower()) is rule
    assert rule_for(rule.name) is rule


def test_every_rule_module_is_listed() -> None:
    """A rule module left out of ALL_RULES would never run: none is."""
    package = Path(backout.rules.__file__).parent
    modules = {
        ".".join(("backout.rules", *path.relative_to(package).with_suffix("").parts))
        for path in package.glob("*/BK*.py")
    }
    assert modules == {ref.module for ref in ALL_RULES}
    assert all_codes() == tuple(sorted(ref.code for ref in ALL_RULES))


def test_a_finding_is_one_line_whatever_it_quotes() -> None:
    meta = load_rule("BK401").meta()
    finding = make_finding(
        meta, Location("RUNBOOK.md", 1, 1), "section 'Deploy\n  and roll back'", "add\r\nsteps"
    )
    assert finding.message == "section 'Deploy and roll back'"
    assert finding.fix == "add steps"
