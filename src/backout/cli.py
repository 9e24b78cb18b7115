"""The command line: click wiring only. The work is done in engine, sources, rules, report.

Exit codes for every command: 0 nothing at or above the fail level, 1 findings at or above it,
2 a usage, configuration or environment error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from backout import __version__
from backout.config import (
    ROLLBACK_VIA,
    SQL_DIALECTS,
    Config,
    ConfigError,
    did_you_mean,
    load_config,
    nearest,
    nearest_path,
    parse_duration,
    validate_codes,
)
from backout.engine import CheckResult
from backout.models import Finding, Location, Severity, with_location
from backout.report import OutputFormat, render
from backout.report.summary import by_code, summary_line
from backout.rules import RuleLoadError
from backout.sources import ReaderLoadError

if TYPE_CHECKING:
    from backout.registry.online import NotChecked

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(click.UsageError):
    """A bad flag value: exit 2 with one line."""


class NearestChoice(click.Choice):  # type: ignore[type-arg]
    """A ``click.Choice`` whose error names the nearest valid value."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Accept a valid choice; otherwise fail naming the nearest one."""
        if isinstance(value, str) and value in self.choices:
            return value
        raise click.UsageError(
            f"invalid {_named(param, ctx)} '{value}'"
            f"{did_you_mean(str(value), map(str, self.choices))}"
        )


def _named(param: click.Parameter | None, ctx: click.Context | None) -> str:
    """What the user wrote to give ``param``: its flag, or the environment variable it was
    read from (``BACKOUT_OUTPUT_FORMAT=jsn`` is no ``--output-format`` on the line)."""
    if param is None or not param.opts:
        return "value"
    envvar = getattr(param, "envvar", None)
    if (
        ctx is not None
        and param.name is not None
        and isinstance(envvar, str)
        and ctx.get_parameter_source(param.name) is click.core.ParameterSource.ENVIRONMENT
    ):
        return envvar
    return param.opts[0]


class WholeNumber(click.ParamType):  # type: ignore[type-arg]
    """An integer >= ``minimum``, whose error names the value and what is expected, as the
    configuration's does (click's IntRange says "is not a valid integer range")."""

    name = "integer"

    def __init__(self, minimum: int = 0, example: int = 5) -> None:
        self.minimum = minimum
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Accept a whole number >= the minimum; otherwise fail naming the value."""
        if isinstance(value, int) and not isinstance(value, bool) and value >= self.minimum:
            return value
        name = _named(param, ctx)
        text = str(value).strip()
        if text.isascii() and text.isdigit() and int(text) >= self.minimum:
            return int(text)
        raise click.UsageError(
            f"invalid {name} '{value}': expected a whole number >= {self.minimum}, "
            f"e.g. {self.example}"
        )


def fail(message: str) -> NoReturn:
    """Stop with exit 2 and ``message`` on stderr."""
    raise UsageError(message)


config_file_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Read this backout.toml / pyproject.toml instead of searching.",
)


def existing_path(path: Path | None) -> Path:
    """``path`` (the current directory when not given); exit 2 when it does not exist."""
    target = path or Path(".")
    if not target.exists():
        fail(f"path '{target}' does not exist{nearest_path(target)}")
    return target


def config_options(func: F) -> F:
    """The flags that mirror ``[tool.backout]`` keys."""
    options = [
        config_file_option,
        click.option("--select", multiple=True, help="Rule codes or prefixes to enable."),
        click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
        click.option("--extend-select", multiple=True, help="Codes to enable on top of select."),
        click.option(
            "--rollback-window", default=None, help="How far back a rollback may go (30d)."
        ),
        click.option(
            "--keep-releases",
            type=WholeNumber(),
            default=None,
            help="Releases to keep (5).",
        ),
        click.option(
            "--sql-dialect",
            type=NearestChoice(SQL_DIALECTS),
            default=None,
            help="Dialect of plain SQL migrations.",
        ),
        click.option(
            "--release-size",
            # 0 would make every migration the release's (``members[-0:]``), not none of them.
            type=WholeNumber(minimum=1, example=1),
            default=None,
            help="Without --base: how many newest migrations form the release.",
        ),
        click.option(
            "--rollback-via",
            type=NearestChoice(ROLLBACK_VIA),
            default=None,
            help="kubernetes (rollout undo) or git (GitOps revert).",
        ),
        click.option("--exclude", multiple=True, help="Gitignore-style globs to skip."),
        click.option(
            "--per-file-ignores",
            multiple=True,
            metavar="GLOB:CODES",
            help="Ignore codes in matching files, e.g. 'dev/**:BK101,BK305'.",
        ),
        click.option(
            "--migrations",
            multiple=True,
            help="Migration directories (auto-detected when not given).",
        ),
        click.option("--runbooks", multiple=True, help="Globs of deploy runbooks (BK401)."),
        click.option(
            "--insecure-registry",
            "insecure_registries",
            multiple=True,
            help="Registry host reached over plain HTTP (loopback/dev).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def report_options(func: F) -> F:
    """The flags that shape output and the exit code."""
    options = [
        click.option(
            "--output-format",
            "--format",
            "output_format",
            type=NearestChoice([f.value for f in OutputFormat]),
            default=None,
            envvar="BACKOUT_OUTPUT_FORMAT",
            help="full (default), concise, json, sarif, github, junit, gitlab.",
        ),
        click.option(
            "-o",
            "--output",
            "output_file",
            type=click.Path(path_type=Path),
            default=None,
            help="Write the report to this file instead of stdout.",
        ),
        click.option(
            "--fail-on",
            type=NearestChoice([s.label for s in Severity]),
            default=None,
            help="Lowest severity that makes the exit code 1 (error).",
        ),
        click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings fail."),
        click.option("--statistics", is_flag=True, help="Print counts per rule instead."),
        click.option("--no-color", is_flag=True, help="Never colour the output."),
        click.option(
            "--baseline",
            type=click.Path(path_type=Path),
            default=None,
            help="Ignore the findings recorded in this baseline file.",
        ),
        click.option(
            "--write-baseline",
            type=click.Path(path_type=Path),
            default=None,
            help="Record the current findings as the baseline in this file.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_config(target: Path, **flags: Any) -> Config:
    """The file configuration for ``target`` with the given flags on top."""
    config = load_config(target, flags.get("config_file"))
    overrides: dict[str, Any] = {}
    for key in ("select", "ignore", "extend_select"):
        if flags.get(key):
            codes = [c for value in flags[key] for c in value.split(",") if c.strip()]
            overrides[key] = validate_codes("--" + key.replace("_", "-"), codes)
    if flags.get("rollback_window") is not None:
        overrides["rollback_window"] = parse_duration(flags["rollback_window"], "--rollback-window")
    for key in ("keep_releases", "release_size", "sql_dialect", "rollback_via"):
        if flags.get(key) is not None:
            overrides[key] = flags[key]
    if flags.get("sql_dialect") is not None:
        overrides["sql_dialect_given"] = True
    for key in ("exclude", "insecure_registries"):
        if flags.get(key):
            overrides[key] = tuple(getattr(config, key)) + tuple(flags[key])
    for key in ("migrations", "runbooks"):
        if flags.get(key):
            overrides[key] = tuple(flags[key])
    if flags.get("per_file_ignores"):
        overrides["per_file_ignores"] = {
            **config.per_file_ignores,
            **_per_file_ignores(flags["per_file_ignores"]),
        }
    if flags.get("fail_on"):
        overrides["fail_on"] = Severity.parse(flags["fail_on"])
    return config.with_overrides(**overrides)


def _per_file_ignores(values: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``GLOB:CODE,CODE`` flags as the ``per-file-ignores`` table."""
    table: dict[str, tuple[str, ...]] = {}
    for value in values:
        glob, sep, codes = value.rpartition(":")
        if not sep or not glob:
            fail(f"invalid --per-file-ignores '{value}': use GLOB:CODES, e.g. 'dev/**:BK101'")
        table[glob] = validate_codes("--per-file-ignores", codes.split(","))
    return table


def write_stdout(text: str) -> None:
    """Write the report to stdout. A reader that went away (``| head``) is not an error: the
    exit code still says what was found, and the rest of the output goes nowhere."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _use_color(no_color: bool, to_file: bool) -> bool:
    """Whether the ``full`` report is coloured: never with ``--no-color``, ``-o FILE`` or a
    ``NO_COLOR`` that is not empty (no-color.org; CPython and rich let it win over
    ``FORCE_COLOR`` too); with ``FORCE_COLOR`` ``0`` or ``false`` neither, as Node and chalk's
    supports-color read it (rich and force-color.org take any value but an empty one as on);
    with any other non-empty ``FORCE_COLOR`` always; otherwise on a terminal."""
    if no_color or to_file or os.environ.get("NO_COLOR"):
        return False
    force = os.environ.get("FORCE_COLOR", "")
    if force:
        return force.lower() not in ("0", "false")
    return sys.stdout.isatty()


# ``--statistics`` speaks text (as flake8 and ruff do) or, with ``--output-format json``, a
# JSON array as ruff does; the other formats are reports of findings, not of counts.
STATISTICS_FORMATS = (OutputFormat.FULL, OutputFormat.CONCISE, OutputFormat.JSON)


def check_report_flags(flags: dict[str, Any]) -> None:
    """Refuse flag combinations that have no output, before any work is done."""
    output_format = OutputFormat(flags.get("output_format") or "full")
    if flags.get("statistics") and output_format not in STATISTICS_FORMATS:
        fail(
            f"--statistics has no {output_format.value} form: use --output-format full, "
            "concise or json"
        )


def _statistics(result: CheckResult, output_format: OutputFormat) -> str:
    """The count per rule code, most frequent first: tab-separated lines, or JSON."""
    rows = by_code(result)
    if output_format is OutputFormat.JSON:
        import json  # only this format needs it

        table = [{"code": code, "name": name, "count": n} for code, name, n in rows]
        return json.dumps(table, indent=2) + "\n"
    return "".join(f"{n:>5}\t{code}\t{name}\n" for code, name, n in rows)


def emit(result: CheckResult, moved: Sequence[str] = (), **flags: Any) -> int:
    """Write the report and the summary; return the exit code, by ``result.fail_on`` as the
    report reads it. ``moved`` are the prefixes :func:`from_cwd` gave the paths: a baseline
    written before it still matches."""
    output_format = OutputFormat(flags.get("output_format") or "full")
    output_file: Path | None = flags.get("output_file")
    if flags.get("write_baseline"):
        from backout.baseline import relative_to_baseline, write_baseline

        written = flags["write_baseline"]
        try:
            count = write_baseline(
                written, relative_to_baseline(result.findings, result.root, written)
            )
        except OSError as exc:
            fail(f"cannot write baseline {written}: {exc.strerror}")
        click.echo(f"Wrote {count} findings to the baseline {flags['write_baseline']}.", err=True)
        return EXIT_CLEAN
    if flags.get("baseline"):
        from backout.baseline import read_baseline, without_baseline

        baseline = flags["baseline"]
        recorded = read_baseline(baseline)
        kept = without_baseline(result.findings, recorded, result.root, baseline, moved)
        click.echo(f"{len(result.findings) - len(kept)} findings in the baseline.", err=True)
        result.findings = kept
    if flags.get("statistics"):
        text = _statistics(result, output_format)
    else:
        color = _use_color(bool(flags.get("no_color")), output_file is not None)
        text = render(result, output_format, color=color)
    if output_file is not None:
        try:
            output_file.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output_file}: {exc.strerror}")
    else:
        write_stdout(text)
    click.echo(summary_line(result), err=True)
    failing = any(f.severity >= result.fail_on for f in result.findings)
    if failing and not flags.get("exit_zero"):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def document_options(func: F) -> F:
    """``--output-format markdown|json`` and ``-o FILE``, for commands that write a document."""
    options = [
        click.option(
            "--output-format",
            "--format",
            "document_format",
            type=NearestChoice(["markdown", "json"]),
            default="markdown",
            help="markdown (default) or json.",
        ),
        click.option(
            "-o",
            "--output",
            "document_file",
            type=click.Path(path_type=Path),
            default=None,
            help="Write the document to this file instead of stdout.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def write_document(text: str, output_file: Path | None) -> None:
    """Write ``text`` to ``output_file``, or to stdout; a write error is exit 2."""
    if output_file is None:
        write_stdout(text)
        return
    try:
        output_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output_file}: {exc.strerror}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backout")
def main() -> None:
    """Prove a release can be rolled back before it is deployed."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--base",
    default=None,
    help="Judge only what changed since this git ref, or take the previous "
    "release from this directory.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Also ask the registry whether the rollback target exists (BK303) and is a "
    "different image (BK304).",
)
@config_options
@report_options
def check(paths: tuple[Path, ...], base: str | None, online: bool, **flags: Any) -> None:
    """Find what would make rolling this release back fail."""
    from backout.engine import check as run_check

    check_report_flags(flags)
    targets = paths or (Path("."),)
    for target in targets:
        existing_path(target)
    results = []
    config = build_config(targets[0], **flags)
    not_checked: list[list[NotChecked]] = []
    if online:
        checked = _check_online(targets, config, base)
        results = [result for result, _ in checked]
        not_checked = [gaps for _, gaps in checked]
    else:
        for target in targets:
            results.append(run_check(target, config, base))
    moved = [from_cwd(r, several=len(results) > 1) for r in results]
    result = _merge([r for r, _ in moved])
    exit_code = emit(result, [prefix for _, prefix in moved if prefix], **flags)
    # After the report, as the drill's tables it could not probe: the exit code stays that of
    # the findings (docs/registry.md).
    gaps = [gap.shown(moved[i][1]) for i, found in enumerate(not_checked) for gap in found]
    if gaps:
        from backout.redact import Redactor

        redactor = Redactor(gaps)
        for gap in gaps:
            click.echo(f"check --online: warning: not checked: {redactor.redact(gap)}", err=True)
    sys.exit(exit_code)


def _check_online(
    targets: tuple[Path, ...], config: Config, base: str | None
) -> list[tuple[CheckResult, list[NotChecked]]]:
    from backout.registry.client import RegistryClient, RegistryError
    from backout.registry.online import check_online

    try:
        with RegistryClient(insecure_registries=config.insecure_registries) as client:
            return [check_online(target, config, base, client) for target in targets]
    except RegistryError as exc:
        fail(f"--online: {exc}")


def shown_prefix(root: Path, several: bool = False) -> str:
    """What :func:`from_cwd` puts before the paths of the directory ``root``: ``""`` for
    none (``root`` is the current directory, or outside it and ``several`` is false)."""
    cwd = Path.cwd().resolve()
    resolved = root.resolve()
    if resolved.is_relative_to(cwd):
        prefix = resolved.relative_to(cwd).as_posix()
    elif not several:
        return ""
    elif root.is_absolute():
        prefix = resolved.as_posix()
    else:
        try:
            prefix = Path(os.path.relpath(resolved, cwd)).as_posix()
        except ValueError:  # another drive (Windows): no relative path
            prefix = resolved.as_posix()
    return "" if prefix == "." else prefix.rstrip("/")


def from_cwd(result: CheckResult, several: bool = False) -> tuple[CheckResult, str]:
    """``result`` with its paths relative to the current directory, and the prefix they got.

    Readers give paths relative to the checked directory. When that lies below the current
    directory (``backout check deploy`` from the repository root, as CI runs it), each path
    gets its prefix (``deploy/app.yaml``): the path a CI system (GitHub annotations, code
    scanning, GitLab), an editor or a shell opens from where backout ran. A directory outside
    the current one keeps paths relative to itself, unless ``several`` directories are
    checked: then each path gets the directory as it was given (``../web/app.yaml``,
    ``/srv/web/app.yaml``), so that two directories' ``app.yaml`` are told apart. The result's
    root becomes the current directory, so that every finding's file is read from one root
    (``full``'s excerpts).
    """
    cwd = Path.cwd().resolve()
    prefix = shown_prefix(result.root, several)
    if not prefix:
        return result, ""

    def moved(finding: Finding) -> Finding:
        if finding.location.path.startswith("/"):  # an absolute path (a host's dpkg status)
            return finding
        loc = finding.location
        path = f"{prefix}/{loc.path}"
        return with_location(
            finding, Location(path, loc.line, loc.column, loc.end_line, loc.end_column)
        )

    return (
        dataclasses.replace(
            result,
            root=cwd,
            findings=[moved(f) for f in result.findings],
            suppressed=[moved(f) for f in result.suppressed],
        ),
        prefix,
    )


def _merge(results: list[CheckResult]) -> CheckResult:
    if len(results) == 1:
        return results[0]
    from backout.engine import REPORT_ORDER

    first = results[0]
    return CheckResult(
        root=first.root,
        findings=sorted((f for r in results for f in r.findings), key=REPORT_ORDER),
        suppressed=sorted((f for r in results for f in r.suppressed), key=REPORT_ORDER),
        rules=first.rules,
        files_read=sum(r.files_read for r in results),
        base=first.base,
        fail_on=first.fail_on,
    )


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--write", is_flag=True, help="Rewrite the files and update the lock.")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Exit 1 when anything is unpinned or a pinned digest no longer exists.",
)
@click.option(
    "--lock",
    "lock_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Lock file to update (default: backout.lock at the root); alone, records without "
    "rewriting the files.",
)
@config_file_option
@click.option("--exclude", multiple=True, help="Gitignore-style globs to skip.")
@click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    help="Registry host reached over plain HTTP (loopback/dev).",
)
def pin(
    path: Path | None,
    write: bool,
    check_only: bool,
    lock_file: Path | None,
    **flags: Any,
) -> None:
    """Resolve mutable image references to digests; with --write, pin them in place."""
    from backout.pin import PinError, plan, update_lock, write_pins
    from backout.registry.client import RegistryClient, RegistryError
    from backout.sources.paths import LOCK_NAME

    target = existing_path(path)
    if check_only and (write or lock_file is not None):
        fail("--check only reports; drop --write/--lock to check, or --check to write")
    from backout.redact import Redactor

    config = build_config(target, **flags)
    try:
        with RegistryClient(insecure_registries=config.insecure_registries) as client:
            pin_plan = plan(target, config, client)
    except (RegistryError, PinError) as exc:
        fail(Redactor([str(exc)]).redact(str(exc)))
    # Paths as `backout check` gives them: from the current directory, when below it.
    pin_plan.shown_prefix = shown_prefix(pin_plan.root)
    verb = "pinned" if write else "would pin"
    lines = [
        f"{pin_plan.shown(resolution.use.location)}: {verb} {resolution.use.reference} -> "
        f"{resolution.pinned_reference}"
        for resolution in pin_plan.resolutions
        if resolution.in_place
    ]
    lines += [f"{pin_plan.shown(p.location)}: {p.reference}: {p.reason}" for p in pin_plan.problems]
    # A reference may carry a password (`user:pw@registry/app`): never printed.
    redactor = Redactor(lines)
    for line in lines:
        click.echo(redactor.redact(line))
    root = pin_plan.root
    try:
        written = write_pins(pin_plan) if write else []
        if write or lock_file is not None:
            lock = lock_file if lock_file is not None else root / LOCK_NAME
            update_lock(lock, pin_plan, config.keep_releases, written=write)
    except PinError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}")
    unpinned = sum(1 for r in pin_plan.resolutions if r.in_place)
    summary = (
        f"{len(pin_plan.pinned)} already pinned, {unpinned} {verb}, "
        f"{len(pin_plan.problems)} problem(s)"
    )
    if write:
        summary += f"; {len(written)} file(s) rewritten"
    click.echo(summary, err=True)
    if pin_plan.problems or (check_only and not pin_plan.clean):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


@main.command("rules")
@click.option(
    "--output-format",
    "--format",
    "output_format",
    type=NearestChoice(["full", "json"]),
    default="full",
)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, default severity, family."""
    import json

    from backout.rules import rules_by_code

    metas = [rule.meta() for rule in rules_by_code().values()]
    if output_format == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "code": m.code,
                        "name": m.name,
                        "severity": m.severity.label,
                        "family": m.family.value,
                        "summary": m.summary,
                    }
                    for m in metas
                ],
                indent=2,
            )
        )
        return
    for meta in metas:
        click.echo(f"{meta.code}  {meta.name:<45} {meta.severity.label:<8} {meta.family.value}")


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Show one rule's docs: what it flags, why it breaks rollback, examples, the fix."""
    from backout.rules import all_codes, rule_for, rules_by_code

    rule = rule_for(code)
    if rule is None:
        family = [known for known in all_codes() if known.startswith(code.strip().upper())]
        if code.strip() and family and len(family) < len(all_codes()):
            # A prefix, as --select takes (BK1): the rules it covers, not one unlike it.
            fail(f"'{code}' is a group of rules, explain takes one: {', '.join(family)}")
        names = [known.name for known in rules_by_code().values()]
        best = nearest(code.strip(), [*all_codes(), *names])
        hint = f" (did you mean '{best}'?)" if best else did_you_mean(code.upper(), all_codes())
        fail(f"unknown rule '{code}'{hint}")
    meta = rule.meta()
    click.echo(f"# {meta.code} {meta.name}\n")
    click.echo(f"Default severity: {meta.severity.label}. Family: {meta.family.title}.\n")
    click.echo(meta.docs)


def _package_names(values: tuple[str, ...]) -> list[str]:
    """``--packages a,b --packages c`` → ``[a, b, c]``."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


_packages_option = click.option(
    "--packages",
    "packages",
    multiple=True,
    help="Only these packages (name or name:arch; repeat or separate with commas).",
)


def _existing_directories(
    ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]
) -> tuple[Path, ...]:
    """The ``--archive`` directories; exit 2 naming one that does not exist: a typo would
    otherwise make every package kept there look lost (or a snapshot miss them)."""
    for directory in value:
        if not directory.is_dir():
            what = "is not a directory" if directory.exists() else "does not exist"
            fail(f"--archive directory '{directory}' {what}")
    return value


_archive_dirs_option = click.option(
    "--archive",
    "archive_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    callback=_existing_directories,
    help="A directory of kept .deb files (besides apt's cache); repeatable.",
)


@main.group()
def host() -> None:
    """Debian/Ubuntu hosts: can the installed package versions be reinstalled (BK501)?"""


@host.command("snapshot")
@_packages_option
@_archive_dirs_option
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the snapshot to this file (atomically) instead of stdout.",
)
def host_snapshot(
    packages: tuple[str, ...], archive_dirs: tuple[Path, ...], output_file: Path | None
) -> None:
    """Record installed package versions and whether each could be reinstalled (JSON)."""
    from datetime import datetime, timezone

    from backout.files import write_atomically
    from backout.host import HostError, snapshot
    from backout.host.check import installed_facts, load_host, select
    from backout.host.dpkg import native_architecture

    try:
        machine = load_host(archive_dirs)
        facts = installed_facts(machine, select(machine, _package_names(packages)))
        text = snapshot.render(facts, native_architecture(), datetime.now(timezone.utc))
        if output_file is not None:
            write_atomically(output_file, text)
    except HostError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output_file}: {exc.strerror}")
    if output_file is None:
        write_stdout(text)
    missing = sum(1 for fact in facts if not fact.reinstallable)
    click.echo(
        f"Recorded {len(facts)} packages; {missing} could not be reinstalled "
        "(see 'backout host check').",
        err=True,
    )


@host.command("check")
@_packages_option
@click.option(
    "--snapshot",
    "snapshot_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Judge the versions this older snapshot recorded that are no longer installed.",
)
@_archive_dirs_option
@config_file_option
@report_options
def host_check(
    packages: tuple[str, ...],
    snapshot_file: Path | None,
    archive_dirs: tuple[Path, ...],
    **flags: Any,
) -> None:
    """Find installed (or previously recorded) package versions that could not be reinstalled."""
    from backout.host import HostError
    from backout.host.check import check_facts, installed_facts, load_host, select, snapshot_facts

    check_report_flags(flags)
    config = build_config(Path("."), **flags)
    wanted = _package_names(packages)
    try:
        machine = load_host(archive_dirs)
        if snapshot_file is not None:
            facts = snapshot_facts(machine, snapshot_file, wanted)
            result = check_facts(facts, config, Path.cwd(), files_read=2)
        else:
            facts = installed_facts(machine, select(machine, wanted))
            result = check_facts(facts, config, Path("/"), files_read=1)
    except HostError as exc:
        fail(str(exc))
    sys.exit(emit(result, **flags))


@host.command("archive")
@_packages_option
@click.option(
    "--archive",
    "archive_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Keep the .deb files (and a Packages index) in this directory.",
)
@config_file_option
@report_options
def host_archive(packages: tuple[str, ...], archive_dir: Path, **flags: Any) -> None:
    """Keep a reinstallable .deb of each installed version, then check them (BK501)."""
    from backout.host import HostError
    from backout.host.archive import archive_packages
    from backout.host.check import check_facts, installed_facts, load_host, select

    check_report_flags(flags)
    config = build_config(Path("."), **flags)
    try:
        machine = load_host((archive_dir,))
        chosen = select(machine, _package_names(packages))
        _, failed = archive_packages(
            machine, chosen, archive_dir, lambda line: click.echo(line, err=True)
        )
        result = check_facts(installed_facts(machine, chosen), config, Path("/"), files_read=1)
    except HostError as exc:
        fail(str(exc))
    if failed:
        click.echo(f"Could not archive {len(failed)} packages.", err=True)
    sys.exit(emit(result, **flags))


@main.command()
@click.argument("state", type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "--registry",
    "use_registry",
    is_flag=True,
    help="Ask the registry for the repository's other tags and digests (online).",
)
@click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    help="Registry host reached over plain HTTP (loopback/dev).",
)
@document_options
def diagnose(
    state: Path,
    use_registry: bool,
    insecure_registries: tuple[str, ...],
    document_format: str,
    document_file: Path | None,
) -> None:
    """Mid-incident: did the last rollback change the running image, and what to pin.

    STATE is `kubectl get deploy,rs,pods -o json` output (a file, or - for stdin); add
    StatefulSets, DaemonSets, ControllerRevisions and Helm release Secrets as they apply.
    Exit 1 when the evidence shows a failed rollback (the same image still running).
    """
    from backout.diagnose import StateError, decode_state, parse_state
    from backout.diagnose import diagnose as run_diagnose
    from backout.diagnose.render import render_json, render_markdown

    try:
        # Bytes, decoded here: stdin's own decoding would let invalid UTF-8 through as
        # surrogates, which the YAML fallback then misreads.
        data = sys.stdin.buffer.read() if str(state) == "-" else state.read_bytes()
    except OSError as exc:
        fail(f"cannot read state '{state}': {exc.strerror}")
    try:
        cluster = parse_state(decode_state(data))
    except StateError as exc:
        fail(f"{state}: {exc}")
    if use_registry:
        from backout.registry.client import RegistryClient

        with RegistryClient(insecure_registries=insecure_registries) as client:
            result = run_diagnose(cluster, client)
    else:
        result = run_diagnose(cluster)
    report = render_json(result) if document_format == "json" else render_markdown(result)
    write_document(report, document_file)
    sys.exit(EXIT_FINDINGS if result.failed_rollback else EXIT_CLEAN)


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--base",
    default=None,
    help="The previous release: a git ref, or a directory with its files.",
)
@click.option(
    "--registry",
    "use_registry",
    is_flag=True,
    help="Resolve a rollback target named by tag to its digest today (online).",
)
@config_options
@document_options
def plan(
    path: Path | None,
    base: str | None,
    use_registry: bool,
    document_format: str,
    document_file: Path | None,
    **flags: Any,
) -> None:
    """Write the rollback plan of this release: target, commands, schema step, checks."""
    from backout.plan import build_plan, render_json, render_markdown

    target = existing_path(path)
    config = build_config(target, **flags)
    if use_registry:
        from backout.registry.client import RegistryClient, RegistryError

        try:
            with RegistryClient(insecure_registries=config.insecure_registries) as client:
                rollback_plan = build_plan(target, config, base, client)
        except RegistryError as exc:
            fail(f"--registry: {exc}")
    else:
        rollback_plan = build_plan(target, config, base)
    text = (
        render_json(rollback_plan) if document_format == "json" else render_markdown(rollback_plan)
    )
    write_document(text, document_file)


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--base",
    default=None,
    help="The previous release: a git ref (or a directory with its files).",
)
@click.option(
    "--database",
    default=None,
    help="Drill on this server: postgresql://, mysql://, mariadb:// (a throwaway database is "
    "created there and dropped) or sqlite:///new-file. Default: SQLite or an embedded "
    "PostgreSQL, by sql-dialect.",
)
@click.option(
    "--old-queries", default=None, help="SQL file of the old release's statements to replay."
)
@click.option(
    "--old-command",
    default=None,
    help="The old release's test command, run in a worktree of --base with DATABASE_URL set.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show every step and its time on stderr.")
@config_options
@report_options
def drill(
    path: Path | None,
    base: str | None,
    database: str | None,
    old_queries: str | None,
    old_command: str | None,
    verbose: bool,
    **flags: Any,
) -> None:
    """Prove on a throwaway database that the old release runs on the new schema and that
    the schema goes back (BK211, BK212, BK208)."""
    from backout.drill.database import FLAG, DrillError, Origin
    from backout.drill.run import DRILL_CODES, DrillOptions, run_drill
    from backout.drill.safety import DrillTerminated
    from backout.engine import enabled_rules, finish, load_workspace
    from backout.rules import ALL_RULES

    check_report_flags(flags)
    target = existing_path(path)
    config = build_config(target, **flags)
    workspace = load_workspace(target, config, base)
    options = DrillOptions(
        database=database or config.drill.database,
        database_origin=(
            FLAG
            if database
            else Origin("drill.database", os.path.relpath(config.source or "backout.toml"))
        ),
        old_queries=old_queries or _from_config_file(config.drill.old_queries, config),
        old_command=old_command or config.drill.old_command,
        progress=sys.stderr.isatty(),
        verbose=verbose,
    )
    if options.old_queries is not None:
        # Before a database is made for it: a typo is exit 2 at once, naming where it was set.
        queries = Path(options.old_queries)
        if not queries.is_file():
            given = (
                "--old-queries"
                if old_queries
                else f"drill.old-queries of {os.path.relpath(config.source or '.')}"
            )
            what = "is not a file" if queries.exists() else "does not exist"
            fail(f"{given} file '{options.old_queries}' {what}{nearest_path(queries)}")
    try:
        outcome = run_drill(workspace, config, options)
    except DrillError as exc:
        fail(str(exc))
    except DrillTerminated as exc:
        click.echo(f"backout: drill {exc}; the throwaway database was dropped", err=True)
        sys.exit(128 + exc.signum)
    for note in outcome.notes:
        click.echo(f"drill: note: {note}", err=True)
    drill_rules = [ref for ref in ALL_RULES if ref.code in DRILL_CODES]
    rules = enabled_rules(config, drill_rules)
    drilled, prefix = from_cwd(finish(workspace, outcome.findings, rules))
    exit_code = emit(drilled, [prefix] if prefix else [], **flags)
    # After the report, so that a clean summary is never the last word on a table that the
    # drill could not probe; the exit code stays that of the findings (docs/drill.md).
    for gap in outcome.not_probed:
        click.echo(f"drill: warning: {gap}", err=True)
    sys.exit(exit_code)


def _from_config_file(path: str | None, config: Config) -> str | None:
    """A path written in the configuration file, relative to that file's directory, as a path
    to open from the current directory (where a path given as a flag is relative to)."""
    if path is None or config.source is None or Path(path).is_absolute():
        return path
    return os.path.relpath(config.source.parent / path)


def run() -> None:
    """Entry point that turns usage and config errors into exit 2 with one line."""
    try:
        main.main(standalone_mode=False, prog_name="backout")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("backout: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `backout` or `backout host` alone: the help is the answer, not an error line.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(EXIT_CLEAN)
    except click.ClickException as exc:
        click.echo(f"backout: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_ERROR)
    except ConfigError as exc:
        click.echo(f"backout: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except (
        ReaderLoadError,
        RuleLoadError,
    ) as exc:  # a broken install: an environment error, not a finding
        click.echo(f"backout: error: {exc}; reinstall backout", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("backout: interrupted", err=True)
        sys.exit(130)
    sys.exit(EXIT_CLEAN)
