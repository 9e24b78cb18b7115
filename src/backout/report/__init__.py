"""Report formats: one module a format behind one interface, ``render(result) -> str``.

:class:`OutputFormat` names every format; a test checks that each value has a renderer.
Results go to stdout (or ``-o FILE``); progress and the summary go to stderr.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from backout.engine import CheckResult
from backout.report import concise, full, github, gitlab, json_format, junit, sarif


class OutputFormat(str, enum.Enum):
    """The values of ``--output-format``."""

    FULL = "full"
    CONCISE = "concise"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    JUNIT = "junit"
    GITLAB = "gitlab"


RENDERERS: dict[OutputFormat, Callable[[CheckResult, bool], str]] = {
    OutputFormat.FULL: full.render,
    OutputFormat.CONCISE: concise.render,
    OutputFormat.JSON: json_format.render,
    OutputFormat.SARIF: sarif.render,
    OutputFormat.GITHUB: github.render,
    OutputFormat.JUNIT: junit.render,
    OutputFormat.GITLAB: gitlab.render,
}


def render(result: CheckResult, output_format: OutputFormat, color: bool = False) -> str:
    """The report of ``result`` in ``output_format``; ``color`` only affects ``full``."""
    return RENDERERS[output_format](result, color)
