"""Write docs/rules/BKnnn.md and docs/rules/index.md from each rule's own docs.

The rule docstrings are the single source: ``backout explain``, SARIF and these pages all come
from them. ``python scripts/gen_rule_docs.py`` rewrites the pages; ``--check`` exits 1 when a
page is out of date (a test runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backout.models import Family
from backout.rules import rules_by_code

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def page(code: str) -> str:
    """The Markdown page of one rule."""
    meta = rules_by_code()[code].meta()
    body = meta.docs.split("\n", 1)[1].strip() if "\n" in meta.docs else ""
    return (
        f"# {meta.code} {meta.name}\n\n"
        f"{meta.summary}\n\n"
        f"- Family: {meta.family.title} ({meta.family.value})\n"
        f"- Default severity: {meta.severity.label}\n"
        f"- Explain: `backout explain {meta.code}`\n\n"
        f"{body}\n"
    )


def index() -> str:
    """The catalog page, rules grouped by family."""
    lines = ["# Rules", "", "Generated from the rules' own docs by `scripts/gen_rule_docs.py`.", ""]
    metas = [rule.meta() for rule in rules_by_code().values()]
    for family in Family:
        members = [m for m in metas if m.family is family]
        if not members:
            continue
        lines += [
            f"## {family.title}",
            "",
            "| code | name | severity | what it flags |",
            "|---|---|---|---|",
        ]
        for m in members:
            lines.append(
                f"| [{m.code}]({m.code}.md) | {m.name} | {m.severity.label} | {m.summary} |"
            )
        lines.append("")
    return "\n".join(lines)


def expected() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {DOCS / f"{code}.md": page(code) for code in rules_by_code()}
    files[DOCS / "index.md"] = index()
    return files


def main() -> int:
    """Write the pages, or with ``--check`` report the stale ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    files = expected()
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
    extra = [p for p in DOCS.glob("BK*.md") if p not in files] if DOCS.is_dir() else []
    if args.check:
        for path in [*stale, *extra]:
            print(f"out of date: {path.relative_to(DOCS.parent.parent)}", file=sys.stderr)
        return 1 if stale or extra else 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(files[path])
    for path in extra:
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
