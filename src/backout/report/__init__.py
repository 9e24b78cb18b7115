"""Report formats: one module a format behind one interface, ``render(result) -> str``.

:class:`OutputFormat` names every format; a test checks that each value has a renderer.
Results go to stdout (or ``-o FILE``); progress and the summary go to stderr.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from backout.engine import CheckResult


class OutputFormat(str, enum.Enum):
    """The values of ``--output-format``."""

    FULL = "full"
    CONCISE = "concise"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    JUNIT = "junit"
    GITLAB = "gitlab"


# The module of each format, imported when that format is asked for (an XML or JSON writer
# is start-up time that the other formats do not need).
MODULES: dict[OutputFormat, str] = {
    OutputFormat.FULL: "full",
    OutputFormat.CONCISE: "concise",
    OutputFormat.JSON: "json_format",
    OutputFormat.SARIF: "sarif",
    OutputFormat.GITHUB: "github",
    OutputFormat.JUNIT: "junit",
    OutputFormat.GITLAB: "gitlab",
}


def renderer(output_format: OutputFormat) -> Callable[[CheckResult, bool], str]:
    """The ``render`` function of ``output_format``'s module."""
    module = importlib.import_module(f"{__name__}.{MODULES[output_format]}")
    return cast("Callable[[CheckResult, bool], str]", module.render)


def render(result: CheckResult, output_format: OutputFormat, color: bool = False) -> str:
    """The report of ``result`` in ``output_format``; ``color`` only affects ``full``."""
    return renderer(output_format)(result, color)
