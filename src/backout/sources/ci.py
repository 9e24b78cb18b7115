"""CI pipelines: GitHub Actions workflows, composite actions, GitLab CI, and deploy scripts.

The reader records what a pipeline *does*, with exact positions, so that rules can ask:

* which jobs exist, what they need and which environment they deploy to (:class:`CiJob`);
* which actions a job uses, with which inputs (:class:`CiStep`);
* every logical shell line a job runs (:class:`CiCommand`), one fact per line, located at
  that line in the YAML file (block scalars ``|`` and ``>`` included, backslash
  continuations joined);
* which artifacts a job keeps and for how long (:class:`CiArtifact`);
* which image references a job pushes (:class:`CiImagePush`) and deploys
  (:class:`CiImageDeploy`), read from ``docker push``/``docker build --push``/kaniko/crane/
  skopeo, ``docker/build-push-action``, ``kubectl set image``, ``helm --set image.tag=…``,
  ``kustomize edit set image``, and the image inputs of deploy actions
  (``azure/k8s-deploy`` ``images``, ``aws-actions/amazon-ecs-render-task-definition``
  ``image``…);
* ``helm upgrade|install --history-max N`` (:class:`HelmHistoryMax`).

The lines of a here-document's text are commands only when a shell reads them (``bash <<EOF``,
``ssh host <<'EOF'``, ``ssh host 'bash -s' <<EOF``, ``cat <<EOF | sh``); text written to a file
or fed to another program (``ssh host "cat > f" <<EOF``) runs nothing (:attr:`CiCommand.runs`).
Text that ``cat`` or ``tee`` writes to a file (``cat <<EOF > deploy.sh``) runs where the job runs
that file, in the same step or a later one of its job (``bash deploy.sh``, ``./deploy.sh``,
``source deploy.sh``, ``bash < deploy.sh``, ``cat deploy.sh | bash``): its lines come again
there, as lines that run, with this shell's variables substituted when the text was written
(unquoted word) and, at that point, the script's own: a sourced file's are this shell's, a file
run by a shell of its own sees the exported ones. Several here-documents on one line are read
in turn. Files are named by where they are in the job's workspace: a relative name is in the
directory the shell is in, which a step's ``working-directory`` and ``cd``/``pushd``/``popd``
set (``cd deploy && bash d.sh`` runs ``deploy/d.sh``; a ``( … )`` subshell's ``cd`` ends
with it); where a ``cd`` leads that the reader cannot follow (``cd "$(…)"``, or one that may
not run, once its line or block ends), no written file runs. ``cp``, ``mv`` and ``install``
take a written file's text where they put it, and, like a download (``curl -o``/``-O``,
``wget -O``), leave the file they write over with no known text.

The commands a shell reads from its ``-c`` word (``bash -c "helm upgrade …"``, ``sudo -u
deploy sh -ec '…'``) are lines of their own (a :class:`CiCommand` located at the word, with
its facts), run in a shell of its own: this shell's variables substituted where it
substitutes them (outside single quotes), the rest the child's. A program started by
``sudo`` sees none of this shell's variables (sudoers' ``env_reset``) unless ``-E`` or
``--preserve-env[=LIST]`` keeps them or ``sudo NAME=value`` sets them; ``env -i`` starts
with none. ``( … )`` around commands is a subshell: the commands inside are read as any.

Plain shell scripts (``*.sh``, ``*.bash``) and Makefiles are read by :class:`ScriptReader`
with the same command interpretation (provider ``"script"``), because pipelines often call
``./deploy.sh`` rather than spelling the commands out.

Environment variables defined in the pipeline itself (``env:`` in GitHub Actions,
``variables:`` in GitLab CI), and those a shell line assigns for the lines after it in the same
shell (``APP=orders``, ``export NS=shop``; a GitHub ``run:`` step, a GitLab job's
``before_script``, its own or the ``default:`` one it inherits, with its ``script``, a shell
script) or that a GitHub step writes to ``$GITHUB_ENV`` for the later steps of its job, are
substituted into pushed and deployed references and ``kubectl set image`` targets when their
value is written literally, so
``$IMAGE:latest`` with ``IMAGE: ghcr.io/acme/shop`` reads as ``ghcr.io/acme/shop:latest``;
anything else (``${{ github.ref_name }}``, ``$CI_COMMIT_SHORT_SHA``, ``$(git rev-parse HEAD)``,
a value assigned where it may not run or not last: inside an ``if``, a loop or a function,
after ``&&``/``||``, in a pipeline or a ``( … )`` subshell, in a here-document) is kept as
written, for rules to judge.
"""

from __future__ import annotations

import bisect
import itertools
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.gitlab_conditions import without_tag
from backout.sources.gitlab_duration import DurationError, parse_expire_in
from backout.sources.gitlab_includes import GitLabFile, GitLabIncludes
from backout.sources.paths import (
    is_ci_file,
    is_composite_action,
    is_github_workflow,
    is_gitlab_pipeline,
    is_script,
)

if TYPE_CHECKING:
    from backout.sources.yamlfile import Node, ScalarNode

GITHUB = "github"
GITLAB = "gitlab"
SCRIPT = "script"

RETENTION_DEFAULT = "default"
RETENTION_SECONDS = "seconds"
RETENTION_NEVER = "never"
RETENTION_UNKNOWN = "unknown"

_DAY = 86400

# ---------------------------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class CiJob(Fact):
    """A job of a pipeline, located at its key (``build:`` under ``jobs:``).

    ``workflow`` is the pipeline file's path. ``needs`` lists the jobs it waits for (GitHub
    ``needs``, GitLab ``needs`` — string or ``{job: …}`` items); ``dependencies`` the GitLab
    jobs whose artifacts it downloads (``dependencies:``). ``environment`` is the deployment
    environment name (``environment: production`` or ``environment: {name: production}``),
    ``stage`` the GitLab stage (``test`` when unset, as GitLab does). ``services`` are the
    images of the service containers the job starts next to itself (GitHub ``services:``,
    GitLab ``services:`` of the job, ``default:`` or the top level). Hidden GitLab jobs
    (``.template:``) are not jobs; what other jobs take from them through ``extends:`` is read
    as part of those jobs.

    ``artifacts_from`` (GitLab) names the jobs whose artifacts the job downloads, as GitLab
    decides it: ``dependencies:`` when set (``[]`` downloads nothing), else the ``needs:``
    entries without ``artifacts: false`` (``needs: []`` downloads nothing); ``None`` when
    neither is set and the job downloads the artifacts of every earlier stage.

    ``only_tags`` is True for a job that runs only for a git tag, so that the ref-name
    variables (``github.ref_name``, ``$CI_COMMIT_REF_NAME``, ``$CI_COMMIT_REF_SLUG``) hold the
    tag's name: a GitHub workflow started only by tag pushes (``on: push: tags:`` without
    ``branches:``) or releases, or a job whose ``if:`` requires ``refs/tags/``; a GitLab job
    (or pipeline, through ``workflow: rules:``, or file, through the ``rules:`` of the
    ``include:`` that merges it) whose every ``rules:`` entry that can run it requires
    ``$CI_COMMIT_TAG``, or with ``only: [tags]``.
    """

    provider: str
    workflow: str
    job_id: str
    name: str
    needs: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    environment: str | None = None
    stage: str | None = None
    artifacts_from: tuple[str, ...] | None = None
    services: tuple[str, ...] = ()
    only_tags: bool = False


@dataclass(frozen=True)
class StepInput:
    """One ``with:`` input of a step: key, value as written (scalars only), its position."""

    key: str
    value: str
    location: Location
    evaluated: str | None = None
    """The value with each ``${{ env.NAME }}`` that the step's environment sets (the
    workflow's, job's and step's ``env:``, what earlier steps write to ``$GITHUB_ENV``)
    replaced by that value, as GitHub evaluates it; ``None`` when it names none."""

    @property
    def text(self) -> str:
        """The value as the action receives it, as far as the workflow tells."""
        return self.evaluated if self.evaluated is not None else self.value


@dataclass(frozen=True)
class CiStep(Fact):
    """A GitHub Actions step that uses an action, located at the ``uses:`` value.

    ``index`` is the step's 0-based position in its job; a job that calls a reusable workflow
    (``jobs.<id>.uses``) is recorded as one step with ``index`` -1. ``uses`` is as written
    (``actions/upload-artifact@v4``); :attr:`action` drops the ``@ref`` for comparisons.
    """

    provider: str
    workflow: str
    job_id: str
    index: int
    uses: str
    name: str | None = None
    step_id: str | None = None
    with_values: tuple[StepInput, ...] = ()

    @property
    def action(self) -> str:
        """The action without its ``@ref``, lower-cased: ``actions/upload-artifact``."""
        return self.uses.split("@", 1)[0].lower()

    def input(self, key: str) -> StepInput | None:
        """The ``with:`` input called ``key``, if the step sets it."""
        for value in self.with_values:
            if value.key == key:
                return value
        return None


@dataclass(frozen=True)
class CiCommand(Fact):
    """One logical shell line a job runs, located where that line starts in the file.

    ``section`` says where it came from: ``run`` (GitHub), ``script``, ``before_script``,
    ``after_script`` (GitLab; ``job_id`` is ``default`` for the pipeline-wide
    ``default:``/top-level ones), or ``script`` for lines of a plain shell script or Makefile
    (provider ``"script"``, ``job_id`` empty). Backslash continuations are joined into one
    line; comment lines and blank lines are not recorded.

    ``variables`` are the values the pipeline gives the variables the line names
    (``$RELEASE``, ``${NS}``, ``${{ env.X }}``) when it writes them out: its ``env:`` or
    ``variables:``, and the assignments of the lines before it in the same shell
    (``APP=orders``), each expanded in full. Pass them to :func:`expand_variables`.

    ``runs`` is false for the text of a here-document that no shell reads (``cat <<EOF >
    deploy.sh``): the job writes the line, it does not run it. Where the job then runs the
    file (``bash deploy.sh``), each of its lines gives a second fact, located at the same
    line, with ``runs`` true and the variables it sees there (an unquoted here-document's
    substituted in ``command`` when it was written), and ``ran_at`` the line that runs the
    file (the first of the job's lines, for a file that a written file runs): what comes
    before or after it in the job is judged there.
    """

    provider: str
    workflow: str
    job_id: str
    command: str
    section: str = "run"
    variables: tuple[tuple[str, str], ...] = ()
    runs: bool = True
    ran_at: Location | None = None


@dataclass(frozen=True)
class CiArtifact(Fact):
    """An artifact a job keeps, with its retention as written.

    GitHub: an ``actions/upload-artifact`` step, located at its ``uses:`` value; ``name`` is
    the ``name`` input (``artifact`` when unset, the action's default), ``paths`` the lines of
    ``path``, ``retention_raw`` the ``retention-days`` input. GitLab: the ``artifacts:`` a job
    ends up with, located at the ``artifacts`` key: its own merged with those of the jobs it
    ``extends`` (GitLab's reverse deep merge: the job's keys win, ``null`` removes one), or,
    when it has none, those of ``default:`` (``from_default``; a job's own ``artifacts:``
    replaces the default's without merging, and ``inherit: default`` can refuse them).
    ``retention_raw`` is ``expire_in`` (``1 week``, ``never``); ``untracked`` and
    ``reports`` (the ``artifacts:reports`` types, ``junit``…) say what else is uploaded.
    Only ``paths`` and ``untracked`` make the archive that later jobs download; reports are
    stored apart and are not passed on. ``retention_location`` points at the retention
    value; both are ``None`` when the pipeline leaves the default.

    ``retention`` says how the value reads: :data:`RETENTION_DEFAULT` (unset, or GitHub's
    ``0``: the provider's default applies), :data:`RETENTION_SECONDS` (``retention_seconds``
    holds the duration), :data:`RETENTION_NEVER` (GitLab ``never``) or
    :data:`RETENTION_UNKNOWN` (an expression such as ``${{ inputs.days }}`` or a GitLab
    input ``$[[ inputs.expiry ]]``, known only when the pipeline is created, or a value the
    provider rejects, which the reader also records as
    :class:`~backout.sources.base.Unreadable` at its position).
    """

    provider: str
    workflow: str
    job_id: str
    name: str | None
    retention_raw: str | None
    retention_location: Location | None
    paths: tuple[str, ...] = ()
    retention: str = RETENTION_DEFAULT
    retention_seconds: int | None = None
    untracked: bool = False
    reports: tuple[str, ...] = ()
    from_default: bool = False


@dataclass(frozen=True)
class CiImagePush(Fact):
    """An image reference a job pushes to a registry, located at the reference.

    ``reference`` has the pipeline's own literal variables substituted; ``written`` is the
    text in the file. A push without a tag is recorded with ``:latest`` appended to
    ``reference``, because that is what ``docker push repo`` pushes. ``how`` names the
    command or action (``docker push``, ``docker build --push``, ``kaniko``,
    ``docker/build-push-action``…).
    """

    provider: str
    workflow: str
    job_id: str
    reference: str
    written: str
    how: str


@dataclass(frozen=True)
class CiImageDeploy(Fact):
    """A job deploys by an image reference or tag, located at the reference or tag value.

    ``reference`` is set for ``kubectl set image c=REF`` and ``kustomize edit set image``;
    Helm ``--set image.tag=TAG`` gives ``tag`` (and ``reference`` when the same command also
    sets ``image.repository``). Values have the pipeline's literal variables substituted.

    ``kubectl set image`` also says where the image goes: ``workload`` as kubectl names it in
    full and singular (``deploy/api`` and ``deployments.apps api`` are ``deployment/api``,
    ``cj/report`` is ``cronjob/report``), ``container``,
    and the command's ``-n``/``--namespace`` and ``--context``. ``workload`` is ``""`` when the
    command selects by file, label or ``--all``, or changes no cluster (``--local``,
    ``--dry-run``).
    """

    provider: str
    workflow: str
    job_id: str
    reference: str | None
    tag: str | None
    written: str
    how: str
    workload: str = ""
    container: str = ""
    namespace: str = ""
    kube_context: str = ""


@dataclass(frozen=True)
class CiRolloutRestart(Fact):
    """``kubectl rollout restart TYPE/NAME``: a job recreates a workload's pods, which pull
    their images again. Located at ``kubectl``; ``workload``, ``namespace`` and
    ``kube_context`` read as for :class:`CiImageDeploy`. A command that names several
    workloads (``deployment/api deployment/worker``, ``deployment api worker``) gives one
    fact each; one that names a kind alone (``kubectl rollout restart deployment -n shop``)
    restarts every workload of that kind in the namespace: ``workload`` is ``""`` and
    ``every_kind`` the kind (``deployment``). A command that selects by file or label, or
    changes no cluster, gives none."""

    provider: str
    workflow: str
    job_id: str
    workload: str
    namespace: str = ""
    kube_context: str = ""
    every_kind: str = ""


@dataclass(frozen=True)
class HelmHistoryMax(Fact):
    """``helm upgrade|install … --history-max N``, located at ``N``.

    Helm keeps at most ``N`` release revisions (0 means unlimited; the default without the
    flag is 10), so ``helm rollback`` cannot reach further back than ``N - 1`` releases.
    """

    provider: str
    workflow: str
    job_id: str
    value: int
    command: str


# ---------------------------------------------------------------------------------------------
# Shell lines with positions


@dataclass
class _Piece:
    """A physical line's content (from its first non-blank character) and where it starts."""

    text: str
    line: int
    column: int
    folds_into_previous: bool = False


@dataclass
class _LogicalLine:
    """A shell line assembled from pieces; ``marks`` map text offsets back to the file."""

    text: str = ""
    marks: list[tuple[int, int, int]] = field(default_factory=list)

    def append(self, piece: _Piece, separator: str) -> None:
        if self.text:
            self.text += separator
        self.marks.append((len(self.text), piece.line, piece.column))
        self.text += piece.text

    def location(self, path: str, offset: int = 0) -> Location:
        """The file position of the character at ``offset``."""
        mark_offset, line, column = self.marks[0]
        for candidate in self.marks:
            if candidate[0] <= offset:
                mark_offset, line, column = candidate
        return Location(path, line, column + max(0, offset - mark_offset))


def _logical_lines(pieces: Iterable[_Piece]) -> Iterator[_LogicalLine]:
    """Join folded pieces and backslash continuations; drop blank and comment lines."""
    current: _LogicalLine | None = None
    continued = False
    for piece in pieces:
        text = piece.text.rstrip()
        if current is not None and (continued or piece.folds_into_previous) and text:
            continued = text.endswith("\\")
            current.append(_Piece(text[:-1] if continued else text, piece.line, piece.column), " ")
            continue
        if current is not None:
            yield current
            current = None
        continued = False
        if not text or text.startswith("#"):
            continue
        continued = text.endswith("\\")
        current = _LogicalLine()
        current.append(_Piece(text[:-1] if continued else text, piece.line, piece.column), "")
    if current is not None:
        yield current


def _scalar_pieces(node: ScalarNode, raw_lines: Sequence[str]) -> list[_Piece]:
    """The physical lines of a scalar's content, with positions, whatever its style."""
    start, end = node.start_mark, node.end_mark
    if node.style in ("|", ">"):
        last = end.line if end.column > 0 else end.line - 1
        pieces: list[_Piece] = []
        indent: int | None = None
        for number in range(start.line + 1, min(last, len(raw_lines) - 1) + 1):
            raw = raw_lines[number]
            content = raw.lstrip(" ")
            column = len(raw) - len(content)
            if not content.strip():
                pieces.append(_Piece("", number + 1, column + 1))
                continue
            if indent is None:
                indent = column
            elif column < indent:
                break
            folds = (
                node.style == ">"
                and bool(pieces)
                and bool(pieces[-1].text)
                and column == indent
                and pieces[-1].column == indent + 1
            )
            pieces.append(_Piece(content, number + 1, column + 1, folds))
        return pieces
    offset = 1 if node.style in ("'", '"') else 0
    lines = str(node.value).split("\n")
    out = [_Piece(lines[0].lstrip(" "), start.line + 1, start.column + 1 + offset)]
    # A multi-line plain or quoted scalar is folded by YAML into one line: keep it one piece.
    if len(lines) > 1:
        out = [_Piece(" ".join(part.strip() for part in lines), start.line + 1, out[0].column)]
    return out


# ---------------------------------------------------------------------------------------------
# Shell words and the commands backout understands


@dataclass
class _Word:
    """A shell word with quotes removed; ``offsets[i]`` is where its i-th character was."""

    text: str
    offsets: list[int]
    operator: bool = False
    quoted: frozenset[int] = frozenset()
    """The indexes of the characters that were inside quotes or escaped (``'a<<b'``)."""

    @property
    def start(self) -> int:
        return self.offsets[0] if self.offsets else 0

    def offset_of(self, index: int) -> int:
        """Offset in the line of the word's character ``index`` (end of word when past it)."""
        if index < len(self.offsets):
            return self.offsets[index]
        return self.offsets[-1] + 1 if self.offsets else 0


_OPERATORS = ("&&", "||", ";", "|", "&")


# Runs of characters :func:`_words` takes as they are: outside quotes, in ``'…'``, in ``"…"``.
_PLAIN = re.compile(r"(?:[^ \t'\"\\;|&$#]|\$(?!\{\{))+")
_SINGLE_QUOTED = re.compile(r"[^']+")
_DOUBLE_QUOTED = re.compile(r'[^"\\]+')


_NONE: frozenset[int] = frozenset()


def _words(line: str) -> list[_Word]:
    """Split a shell line into words and operators; quotes are removed, ``#`` ends it."""
    words: list[_Word] = []
    text: list[str] = []
    offsets: list[int] = []
    quoted: set[int] = set()
    quote: str | None = None
    started = False
    i = 0

    def flush() -> None:
        nonlocal started
        if not started:
            return  # nothing since the last word (text, offsets and quoted are empty)
        words.append(
            _Word("".join(text), offsets.copy(), quoted=frozenset(quoted) if quoted else _NONE)
        )
        text.clear()
        offsets.clear()
        quoted.clear()
        started = False

    while i < len(line):
        char = line[i]
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"' and i + 1 < len(line):
                i += 1
                quoted.add(len(text))
                text.append(line[i])
                offsets.append(i)
            else:  # up to the closing quote (or a backslash in ``"…"``) at once
                run = (_SINGLE_QUOTED if quote == "'" else _DOUBLE_QUOTED).match(line, i)
                end = run.end() if run is not None else i + 1
                quoted.update(range(len(text), len(text) + end - i))
                text.extend(line[i:end])
                offsets.extend(range(i, end))
                i = end
                continue
            i += 1
            continue
        if line.startswith("${{", i):
            # a GitHub expression is substituted before the shell runs: one word, spaces and all
            close = line.find("}}", i)
            end = len(line) if close < 0 else close + 2
            text.extend(line[i:end])
            offsets.extend(range(i, end))
            started = True
            i = end
            continue
        if char in "'\"":
            quote = char
            started = True
        elif char in " \t":
            flush()
        elif char == "#" and not started:
            break
        elif char in ";|&" and not (
            char == "&" and ((text and text[-1] in "<>") or line.startswith(">", i + 1))
        ):  # ``2>&1`` and bash's ``&>log``/``&>>log`` are redirections, not ``&``
            flush()
            operator = line[i : i + 2] if line[i : i + 2] in _OPERATORS else char
            words.append(_Word(operator, [i], operator=True))
            i += len(operator)
            continue
        elif char == "\\" and i + 1 < len(line):
            i += 1
            quoted.add(len(text))
            text.append(line[i])
            offsets.append(i)
            started = True
        else:  # a run of characters that mean nothing to the shell, at once
            run = _PLAIN.match(line, i)
            end = run.end() if run is not None else i + 1
            text.extend(line[i:end])
            offsets.extend(range(i, end))
            started = True
            i = end
            continue
        i += 1
    flush()
    return words


def shell_words(line: str) -> list[str]:
    """The words of a shell line as the shell sees them once GitHub has substituted its
    ``${{ … }}`` expressions: quotes removed, an expression one word (spaces and all),
    operators (``&&``, ``;``, ``|``…) words of their own, nothing after a ``#`` comment."""
    return [word.text for word in _words(line)]


# Words before a command that run it (``sudo``), or the shell's words that lead into one
# (``then kubectl …``, ``do kubectl …``, ``if kubectl …``).
_COMMAND_PREFIXES = frozenset(
    {"sudo", "exec", "time", "command", "env", "if", "then", "else", "elif", "while", "until"}
    | {"do", "!", "{"}
)
# ``NAME=value``, or ``NAME+=value`` (appends): name, ``+`` or not, value
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)", re.DOTALL)


def _operator_split(words: list[_Word]) -> Iterator[list[_Word]]:
    """The words between ``&&``, ``;``, ``|``… as written, prefixes and all."""
    for command, _, _ in _chained(words):
        yield command


def _chained(words: list[_Word]) -> Iterator[tuple[list[_Word], str, str]]:
    """Each command of :func:`_operator_split` with the operators before and after it
    (``""`` at either end of the line)."""
    current: list[_Word] = []
    before = ""
    for word in [*words, _Word("", [0], operator=True)]:
        if not word.operator:
            current.append(word)
            continue
        if current:
            yield current, before, word.text
            current = []
        before = word.text


def _simple_commands(words: list[_Word]) -> Iterator[list[_Word]]:
    """Split words at ``&&``, ``;``, ``|``…, each command from the program it runs on
    (wrappers such as ``sudo -u deploy`` and ``timeout 5m`` dropped, see :func:`_run_by`)."""
    for command in _operator_split(words):
        stripped = _run_by(command)
        if stripped:
            yield stripped


def command_words(line: str) -> list[list[str]]:
    """The simple commands of a shell line as word lists, from the program each runs on:
    wrappers with their options (``sudo -u deploy``, ``timeout 5m``, ``env -i``), the
    shell's ``then``/``do``…, ``VAR=value`` prefixes and ``( … )`` parentheses dropped.

    ``helm template x | kubectl apply -f -`` gives ``[["helm", "template", "x"],
    ["kubectl", "apply", "-f", "-"]]``: rules judge each command by its own words.
    """
    return [[word.text for word in words] for words in _simple_commands(_words(line))]


_EXPRESSION = re.compile(r"\$\{\{.*?\}\}|\$\{[^}]*\}|\$\([^)]*\)")


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of an image reference that may contain CI variables.

    A ``:`` counts as the tag separator only after the last ``/`` (``registry:5000/app`` has
    no tag), and colons inside ``${VAR:-x}`` or ``${{ … }}`` never do.
    """
    masked = _EXPRESSION.sub(lambda m: "x" * len(m.group(0)), reference)
    digest: str | None = None
    at = masked.find("@")
    if at >= 0:
        digest = reference[at + 1 :]
        reference, masked = reference[:at], masked[:at]
    colon = masked.rfind(":")
    if colon > masked.rfind("/"):
        return reference[:colon], reference[colon + 1 :], digest
    return reference, None, digest


_VARIABLE = re.compile(
    r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)\}"
    r"|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def _expand(text: str, env: dict[str, str]) -> str:
    """Substitute the pipeline's literal variables: ``$X``, ``${X}``, ``${{ env.X }}``."""

    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return env.get(name, match.group(0))

    for _ in range(4):  # variables defined by other variables, a few levels deep
        expanded = _VARIABLE.sub(replace, text)
        if expanded == text:
            break
        text = expanded
    return text


def expand_variables(text: str, variables: Iterable[tuple[str, str]]) -> str:
    """``text`` with the variables of :attr:`CiCommand.variables` substituted."""
    return _expand(text, dict(variables))


_NAMED_VARIABLE = re.compile(
    r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|\$\{?([A-Za-z_][A-Za-z0-9_]*)"
)


def _with_default_tag(reference: str) -> str:
    _, tag, digest = split_reference(reference)
    return reference if tag is not None or digest is not None else reference + ":latest"


# (offset, written, how, reference, tag) -> the fact; built per line by :func:`_interpret`
_DeployMaker = Callable[[int, str, str, "str | None", "str | None"], CiImageDeploy]


@dataclass
class _HereDoc:
    """A here-document a line opened, whose text the lines after it are."""

    delimiter: str
    """The word that ends it (``EOF``)."""
    runs: str = ""
    """Whether a shell reads the text as commands: ``local`` (``bash <<EOF``, ``cat <<EOF |
    sh``), ``remote`` on another host or in a container (``ssh host <<'EOF'``, ``kubectl
    exec -i pod -- sh <<EOF``), ``""`` when it goes to a file or another program (``cat
    <<EOF > deploy.sh``, ``ssh host "cat > f" <<EOF``)."""
    quoted: bool = False
    """Whether its word is quoted (``<<'EOF'``): this shell substitutes none of its
    variables in the text, which the shell that reads it expands with its own."""
    env: bool | None = None
    """Whether the text goes to ``$GITHUB_ENV`` (``cat >> "$GITHUB_ENV" <<EOF``): None if
    not, else whether the command that writes it may not run."""
    files: tuple[str, ...] = ()
    """The files the text is written to (``cat <<EOF > deploy.sh``, ``tee d.sh <<EOF``), as
    :func:`_script_path` names them."""
    directory: str = ""
    """Where the shell was when the line opened it: a shell that reads the text (``bash
    <<EOF``) is a child, whose ``cd`` is gone when the text ends."""


@dataclass
class _Shell:
    """What one shell has run so far that decides what its next line's variables hold."""

    depth: int = 0
    """How many ``if``/``case``/``for``/``while``… blocks and function bodies are open: an
    assignment inside one may or may not run, so it leaves the variable unknown."""
    subshells: int = 0
    """How many ``( … )`` subshells are open: what one assigns is gone when it ends."""
    heredocs: list[_HereDoc] = field(default_factory=list)
    """The here-documents whose text the next lines are, in the order the shell reads them
    (``cat <<A > a.sh; cat <<B > b.sh``: A's text, then B's)."""
    groups: list[list[tuple[str, bool]] | None] = field(default_factory=list)
    """The ``{ … }`` groups open, innermost last, each with the lines its commands print
    (and whether each may not run), which a redirection after ``}`` sends to a file; None
    for a function's body."""
    env_file: list[tuple[str, bool]] = field(default_factory=list)
    """The lines written to ``$GITHUB_ENV`` (a GitHub step's environment file, which sets
    variables for the job's later steps), each with whether it may not have been written."""
    continued: str = ""
    """The operator (``&&``, ``||``, ``|``) that ended the line before: the first command of
    this one goes on with it."""
    outer_directories: list[str] = field(default_factory=list)
    """The directories to go back to when the ``( … )`` subshells open end, innermost last
    (a ``cd`` in one lasts until its ``)``)."""
    pushed: list[str] = field(default_factory=list)
    """The directories ``pushd`` left, for ``popd``."""
    unsure_below: int | None = None
    """Set by a ``cd`` that may not run: once fewer blocks than this are open (the line's
    end for one after ``&&``/``||``, the block's for one inside ``if``…), where the shell
    is is unknown."""


@dataclass
class _Context:
    """Where a shell line is: file, provider, job, the variables in scope, and whether the
    job runs only for git tags (:attr:`CiJob.only_tags`).

    ``env`` is the shell's own: its lines' assignments (``APP=orders``, ``export NS=shop``)
    update it in place for the lines after them, so each shell (a GitHub ``run:`` step, a
    GitLab job's ``before_script`` and ``script``, its ``after_script``, a script file) gets
    its own copy. ``assigns`` is false where ``NAME=value`` is no shell assignment (a
    Makefile's lines are make's, and each recipe line runs in a shell of its own).
    """

    path: str
    provider: str
    workflow: str
    job_id: str
    env: dict[str, str]
    only_tags: bool = False
    assigns: bool = True
    shell: _Shell = field(default_factory=_Shell)
    unexported: set[str] = field(default_factory=set)
    """The variables of ``env`` the shell assigned without exporting them: a script it runs
    (``bash deploy.sh``) does not see them."""
    exported: set[str] = field(default_factory=set)
    """The variables the shell exports, their values known or not: the pipeline's (``env``
    when it starts) and those it ``export``s. Assigned again, one stays exported."""
    written: dict[str, list[_LogicalLine]] = field(default_factory=dict)
    """The text of the files the job wrote from here-documents, by :func:`_script_path`:
    lines that run where the job runs the file (``bash deploy.sh``, ``source d.sh``). One
    dict for a whole job, whose steps (GitHub) or shells (GitLab) share the workspace."""
    running: tuple[str, ...] = ()
    """The written files being run (a file that runs itself is not read again)."""
    budget: list[int] = field(default_factory=lambda: [_WRITTEN_LINES_BUDGET])
    """How many more lines of written files the job may read again where they run."""
    ran_at: Location | None = None
    """Where the job runs the written file whose lines these are (``bash deploy.sh``)."""
    directory: str = ""
    """Where the shell runs, in the job's workspace (a GitHub step's ``working-directory``):
    the relative paths it names are there (see :func:`_script_path`)."""

    def __post_init__(self) -> None:
        self.exported.update(self.env)


# Lines of written files read again where they run, per job: a file run in a loop of many
# lines stays linear.
_WRITTEN_LINES_BUDGET = 20_000


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _option_value(words: list[_Word], i: int, names: tuple[str, ...]) -> tuple[str, int] | None:
    """If ``words[i]`` is one of ``names`` (``--tag X``, ``--tag=X``, ``-tX``), its value."""
    word = words[i].text
    for name in names:
        if word == name and i + 1 < len(words):
            nxt = words[i + 1]
            return nxt.text, nxt.start
        if name.startswith("--") and word.startswith(name + "="):
            return word[len(name) + 1 :], words[i].offset_of(len(name) + 1)
        if len(name) == 2 and not name.startswith("--") and word.startswith(name) and word != name:
            return word[2:], words[i].offset_of(2)
    return None


_BUILD_TAG_OPTIONS = ("-t", "--tag")


# A shell's option that makes it read commands from a word: ``-c``, ``-ec``, ``-xc``
_COMMAND_OPTION = re.compile(r"\s-[A-Za-z]*c")
# ``<<EOF``, ``<<-EOF``, ``cat<<EOF`` (quotes already removed), not ``<<<`` (a here-string)
_HEREDOC = re.compile(r"(?:^|[^<])<<-?(?!<)(.*)$", re.DOTALL)


def _interpret(
    line: _LogicalLine, context: _Context, variables: dict[str, str | None], section: str
) -> Iterator[Fact]:
    """Pushes, deploys and Helm history limits in one shell line, command by command; what
    a command assigns holds for the commands after it (see :func:`_assign`). ``variables``
    gets the values the line's commands see of the variables they name (see
    :attr:`CiCommand.variables`); one seen with two values gets None. What the line writes
    to ``$GITHUB_ENV`` goes to :attr:`_Shell.env_file`; a file written from a here-document
    that it runs gives the facts of that file's lines (``section`` is theirs)."""
    shell = context.shell
    heredoc = shell.heredocs[0] if shell.heredocs else None
    if heredoc is not None and line.text.strip() == heredoc.delimiter:
        shell.heredocs.pop(0)
        if heredoc.runs:  # the shell that read the text ends, and its ``cd`` with it
            context.directory = heredoc.directory
        return
    if heredoc is not None and not heredoc.runs:
        _heredoc_text(line, context, heredoc)
        return
    words = _words(line.text)
    # a shell reads the text: it may run its commands, with this shell's variables unless
    # the word is quoted (then those it exports, none on another host); whatever it
    # assigns lasts in that shell only
    here = context
    if heredoc is not None and heredoc.quoted:
        here = replace(context, env={} if heredoc.runs == "remote" else _exported(context))
    in_heredoc = heredoc is not None
    redirects_input = "<" in line.text
    writes = ">" in line.text
    chained = list(_chained(words))
    may_not_run: list[bool] = []
    directories: list[str] = []  # where each command runs, for the here-documents
    opens_heredoc = not in_heredoc and "<<" in line.text
    parens = "(" in line.text or ")" in line.text
    # ``bash -c``, ``sh -ec``: a shell may read commands from a word
    command_string = " -" in line.text and _COMMAND_OPTION.search(line.text) is not None
    printed: list[tuple[str, bool]] | None = None  # what the command before a ``|`` prints
    for number, (command, before, after) in enumerate(chained):
        _see_variables(command, here.env, variables)
        stripped = _run_by(command)
        if stripped:
            yield from _command_facts(stripped, line, here)
        before = before or (shell.continued if number == 0 else "")
        if before == "|" and _alternative_pattern(command):
            before = ""  # ``prod|staging) cd deploy``: a case arm's patterns, no pipeline
        # after && or || it may not run; in a pipeline or in the background it runs in a
        # subshell of its own; so does a here-document's text
        uncertain = in_heredoc or before in ("&&", "||", "|") or after in ("|", "&")
        if context.assigns:
            _assign(context, command, uncertain)
        # a write to a file lasts whatever shell makes it, but may not run either (a
        # ``{ … }`` group opens no block that may not run)
        closed = _group(shell, command)
        plain_groups = sum(group is not None for group in shell.groups)
        may_not_run.append(in_heredoc or before in ("&&", "||") or shell.depth > plain_groups)
        opens, closes = (
            _subshell_parens(command)
            if parens and (command[0].text[:1] == "(" or shell.outer_directories)
            else _NO_PARENS
        )
        if opens:
            shell.outer_directories.extend([here.directory] * opens)
        if opens_heredoc:
            directories.append(here.directory)
        if (
            stripped
            and stripped[0].text in ("cd", "pushd", "popd")
            and before != "|"
            and after not in ("|", "&")
        ):
            line_level = before in ("&&", "||")
            moves = line_level or shell.depth > plain_groups
            _change_directory(here, [w.text for w in stripped], moves, line_level)
        piped = printed if before == "|" else None
        printed = _write_env(
            shell, command, stripped, here.env, may_not_run[-1], piped, after == "|", closed
        )
        piped_from = chained[number - 1][0] if before == "|" and number else None
        reads_input = redirects_input or piped_from is not None
        if context.written and stripped and _may_run_script(stripped, reads_input):
            yield from _run_written(
                command, here, section, uncertain or may_not_run[-1], piped_from, line
            )
        if command_string and stripped and _may_run_script(stripped, False):
            # ``bash -c "helm upgrade …"``: the commands of its word
            yield from _run_command_string(
                command, line, here, section, uncertain or may_not_run[-1]
            )
        # (a write that may not run may leave the text there)
        first = stripped[0].text if stripped else ""
        overwrites = writes or (
            first in _OVERWRITERS
            and (first not in ("curl", "wget") or _DOWNLOAD_TO_FILE.search(line.text) is not None)
        )
        if context.written and overwrites and not may_not_run[-1]:
            _forget_overwritten(here, command, here.env)
        while closes and shell.outer_directories:
            here.directory = shell.outer_directories.pop()
            closes -= 1
    last = words[-1] if words else None
    shell.continued = last.text if last is not None and last.operator else ""
    if shell.unsure_below is not None and shell.depth < shell.unsure_below:
        here.directory = _unknown_directory()  # a ``cd`` that may not have run
        shell.unsure_below = None
    if not in_heredoc:
        _open_heredocs(context, line.text, chained, may_not_run, directories)


# What a command that runs a script starts with, once ``sudo``, ``env``… are dropped: a
# shell, ssh, a wrapper (``nohup``, ``timeout``), ``source``, ``.``, or a wrapper's option
# (``sudo -u deploy bash d.sh``); else a path (``./d.sh``) or a ``<`` (``bash < d.sh``).
_SCRIPT_RUNNERS = frozenset({"ssh", "nohup", "nice", "timeout", "source", "."})


def _may_run_script(stripped: list[_Word], reads_input: bool) -> bool:
    """A cheap test before :func:`_ran_script`: whether ``stripped`` (a command from its
    program on) may run a file, given whether it may read one on its input (its line has a
    ``<``, or it follows a ``|``: ``reads_input``)."""
    first = stripped[0].text
    return (
        reads_input
        or "/" in first
        or first.startswith("-")
        or first in _SCRIPT_RUNNERS
        or _program(first) in _LOCAL_SHELLS
    )


def _heredoc_text(line: _LogicalLine, context: _Context, heredoc: _HereDoc) -> None:
    """Note a line of a here-document's text that no shell reads: written to
    ``$GITHUB_ENV``, or to the files it writes (expanded now unless its word is quoted)."""
    if heredoc.env is not None:  # ``cat >> "$GITHUB_ENV" <<EOF``
        text = line.text if heredoc.quoted else _expand(line.text, context.env)
        context.shell.env_file.append((text.strip(), heredoc.env))
    if heredoc.files:
        written = line if heredoc.quoted else _expanded_line(line, context.env)
        for path in heredoc.files:
            context.written.setdefault(path, []).append(written)
    # text no shell reads runs nothing; but a file it writes may be sourced by a name not
    # known here (``cat > .env <<EOF``), so what it would assign is no longer known
    if context.assigns and "=" in line.text:
        for word in _words(line.text):
            if (found := _ASSIGNMENT.fullmatch(word.text)) is not None:
                _set(context.env, found.group(1), None)


def _exported(context: _Context) -> dict[str, str]:
    """The variables a program the shell starts sees: those it has not kept unexported."""
    return {name: value for name, value in context.env.items() if name not in context.unexported}


# ``$X``, ``${X}``, ``${{ env.X }}`` as :func:`_expand` substitutes them, or ``\$`` (the
# shell writes a ``$``)
_SUBSTITUTION = re.compile(
    r"\\\$|\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
    r"|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def _expanded_line(
    line: _LogicalLine, env: dict[str, str], literal: Collection[int] = ()
) -> _LogicalLine:
    """``line`` as an unquoted here-document writes it: the variables of ``env``
    substituted, ``\\$`` written as ``$``; each character keeps its position in the file.
    The ``$`` at the indexes ``literal`` stay as they are (``bash -c '…$X'``)."""
    if "$" not in line.text:
        return line
    expanded = _LogicalLine()
    done = 0

    def keep(start: int, end: int) -> None:
        # the file position of ``line.text[start:end]``, now at the end of ``expanded``
        location = line.location("", start)
        expanded.marks.append((len(expanded.text), location.line, location.column))
        expanded.text += line.text[start:end]

    for found in _SUBSTITUTION.finditer(line.text):
        name = found.group(1) or found.group(2) or found.group(3)
        if name is not None and (name not in env or found.start() in literal):
            continue
        keep(done, found.start())
        value = "$" if name is None else _expand(env[name], env)
        keep_at = len(expanded.text)
        location = line.location("", found.start())
        expanded.marks.append((keep_at, location.line, location.column))
        expanded.text += value
        done = found.end()
    keep(done, len(line.text))
    return expanded


# A path that names the working directory first: ``$PWD/deploy.sh``, ``$(pwd)/deploy.sh``
_WORKING_DIRECTORY = re.compile(r"^(?:\$\{?PWD\}?|\$\(pwd\))/")


def _script_path(written: str, env: dict[str, str], directory: str) -> str:
    """The file a word names, as the job's written files are keyed: variables substituted,
    the working directory dropped, in the workspace: relative to ``directory`` where the
    shell runs (``./deploy.sh`` in ``infra`` is ``infra/deploy.sh``)."""
    path = _WORKING_DIRECTORY.sub("", _expand(written, env))
    return posixpath.normpath(posixpath.join(directory, path) if directory else path)


# Where a ``cd`` leads that the reader cannot tell (``cd "$(ls -d out*)"``, ``cd ~``, one
# that may not run): a name no file the job writes is under, a new one each time.
_UNKNOWN_DIRECTORIES = itertools.count()
# The workspace named by the provider's variable: ``$GITHUB_WORKSPACE``, ``$CI_PROJECT_DIR``
_WORKSPACE = re.compile(
    r"^(?:\$\{?(?:GITHUB_WORKSPACE|CI_PROJECT_DIR)\}?|\$\{\{\s*github\.workspace\s*\}\})(?:/|$)"
)


def _unknown_directory() -> str:
    return f"\0{next(_UNKNOWN_DIRECTORIES)}"


def _cd_target(operands: list[str], context: _Context) -> str:
    """Where ``cd DIR`` (``operands``: its words after ``cd``) takes the shell, in the
    job's workspace as :func:`_script_path` names paths; an unknown directory when the
    reader cannot tell (no operand, ``~``, ``-``, a value it does not know)."""
    while operands and operands[0][:1] == "-" and operands[0] != "-":
        operands = operands[1:]  # ``-P``, ``-L``, ``-e``, ``--``
    if not operands or operands[0] == "-" or operands[0][:1] == "~":
        return _unknown_directory()
    written = operands[0]
    directory = context.directory
    workspace = _WORKSPACE.match(written)
    if workspace is not None:
        written, directory = written[workspace.end() :] or ".", ""
    path = _script_path(written, context.env, directory)
    if "$" in path or "`" in path or (directory[:1] == "\0" and path[:1] != "/"):
        return _unknown_directory()
    return path


def _change_directory(
    context: _Context, words: list[str], may_not_run: bool, line_level: bool
) -> None:
    """Move ``context`` where ``cd``/``pushd``/``popd`` (``words``) takes the shell. One
    that may not run leaves where the shell is unknown once its line ends (``line_level``:
    after ``&&``/``||``) or the block it is in does."""
    shell = context.shell
    program = words[0]
    if program == "popd":
        context.directory = shell.pushed.pop() if shell.pushed else _unknown_directory()
    else:
        if program == "pushd":
            shell.pushed.append(context.directory)
        context.directory = _cd_target(words[1:], context)
    if may_not_run:
        below = shell.depth + 1 if line_level else max(shell.depth, 1)
        shell.unsure_below = max(shell.unsure_below or 0, below)


_SUBSHELL_CLOSE = re.compile(r"\)+$")
_NO_PARENS = (0, 0)
# A redirection, with its target when glued to it: ``>``, ``>>log.txt``, ``2>&1``, ``<<EOF``
_REDIRECTION = re.compile(r"(?:\d+|&)?(?:<<<|<<-|<<|>>|>&|<&|<>|>\||[<>])(.*)", re.DOTALL)


def _parenthesised(command: list[_Word]) -> bool:
    """A cheap test before :func:`_without_parens`: whether ``command`` may open or close a
    ``( … )`` subshell (``(cd deploy``, ``d.sh)``, ``d.sh) > log.txt``)."""
    return command[0].text[:1] == "(" or any(")" in word.text for word in command)


def _ending_redirections(command: list[_Word]) -> tuple[list[_Word], list[_Word]]:
    """``command``'s words (as :func:`_redirection_words` splits them) before and from the
    redirections that end it: ``bash d.sh)`` and ``> log.txt 2>&1`` of ``bash d.sh) >
    log.txt 2>&1``, where a subshell's ``)`` comes before its redirections."""
    split = _redirection_words(command)
    if split is command:
        return command, []
    redirection = _redirections(split)
    end = len(split)
    while end > 1 and redirection[end - 1]:
        end -= 1
    return split[:end], split[end:]


def _redirections(split: list[_Word]) -> list[bool]:
    """Whether each word of ``split`` (a command as :func:`_redirection_words` splits it) is
    a redirection or its target: ``>``, ``log.txt`` and ``2>&1`` of ``… > log.txt 2>&1``."""
    redirection = [False] * len(split)
    index = 0
    while index < len(split):
        word = split[index]
        found = None if 0 in word.quoted else _REDIRECTION.fullmatch(word.text)
        if found is not None:
            redirection[index] = True
            if not found.group(1) and index + 1 < len(split):  # its target: ``> log.txt``
                index += 1
                redirection[index] = True
        index += 1
    return redirection


def _without_redirections(command: list[_Word]) -> list[_Word]:
    """``command``'s words without its redirections and their targets (see
    :func:`_redirections`): ``kubectl set image deployment/web web=app:v2`` of ``… > log
    2>&1``."""
    split = _redirection_words(command)
    if split is command:
        return command
    redirections = _redirections(split)
    return [word for word, redirects in zip(split, redirections, strict=True) if not redirects]


def _alternative_pattern(command: list[_Word]) -> bool:
    """Whether ``command`` (after a ``|``) starts with the last of a ``case`` arm's patterns,
    a command after it: ``staging) cd deploy`` of ``prod|staging) cd deploy``, not the
    ``b)`` that ends a subshell (``(a | b) > log``)."""
    first = command[0]
    return (
        first.text[-1:] == ")"
        and "(" not in first.text
        and len(first.text) - 1 not in first.quoted
        and len(_ending_redirections(command)[0]) > 1
    )


def _subshell_parens(command: list[_Word]) -> tuple[int, int]:
    """How many ``( … )`` subshells ``command`` (its words as written) opens before its
    program (``(cd deploy``, ``( (``) and closes after its last word (``d.sh)``, ``d.sh) >
    log.txt``): the parentheses that are neither quoted, nor arithmetic (``((``), nor of a
    ``$( … )`` in it."""
    command = _ending_redirections(command)[0]
    if command[0].text[:1] != "(" and command[-1].text[-1:] != ")":
        return 0, 0
    opens = 0
    for word in command:
        text = word.text
        if text[:2] == "((" and opens == 0 and text.strip("(") == text[2:]:
            return 0, 0  # ``(( i++ ))``: arithmetic
        leading = len(text) - len(text.lstrip("("))
        if leading and 0 in word.quoted:
            break
        opens += leading
        if leading < len(text):
            break
    last = command[-1]
    trailing = _SUBSHELL_CLOSE.search(last.text)
    if trailing is None or len(last.text) - 1 in last.quoted:
        return opens, 0
    count_open = count_close = 0
    for word in command:
        if "(" in word.text or ")" in word.text:
            for index, char in enumerate(word.text):
                if index not in word.quoted:
                    count_open += char == "("
                    count_close += char == ")"
    closes = count_close - (count_open - opens)
    return opens, max(0, min(closes, trailing.end() - trailing.start()))


def _without_parens(command: list[_Word]) -> list[_Word]:
    """``command`` without the subshell parentheses around it (see :func:`_subshell_parens`)
    and without a ``case`` arm's pattern before it (``prod)``, ``case "$ENV" in prod)`` on
    one line): ``kubectl …`` of ``(kubectl …)`` and of ``prod) kubectl …``."""
    opens, closes = _subshell_parens(command)
    command, redirections = _ending_redirections(command)
    if opens:
        while command and opens >= len(command[0].text):
            opens -= len(command[0].text)
            command = command[1:]
        if command and opens:
            command = [_slice_word(command[0], opens, len(command[0].text)), *command[1:]]
    if closes and command:
        last = command[-1]
        command = command[:-1]
        if len(last.text) > closes:
            command.append(_slice_word(last, 0, len(last.text) - closes))
    command = [*command, *redirections]
    if len(command) > 3 and command[0].text == "case" and command[2].text == "in":
        command = command[3:]  # ``case "$ENV" in prod) cd deploy``: the arm's command
    if command:
        first = command[0].text
        if first[-1:] == ")" and "(" not in first and len(first) - 1 not in command[0].quoted:
            command = command[1:]  # a ``case`` arm's pattern
    return command


def _slice_word(word: _Word, start: int, end: int) -> _Word:
    return _Word(
        word.text[start:end],
        word.offsets[start:end],
        word.operator,
        frozenset(i - start for i in word.quoted if start <= i < end),
    )


# Words that run the command after them and their options: ``sudo -u deploy bash d.sh``,
# ``env -i PATH=/bin sh``, ``timeout 5m ./d.sh``; with their options that take a value.
_WRAPPERS: dict[str, frozenset[str]] = {
    # sudo's ``getopt_long`` options (``src/parse_args.c``); ``-h`` takes the next word
    # (a host) only as a word of its own
    "sudo": frozenset(
        {"-a", "-C", "-c", "-D", "-g", "-h", "-p", "-R", "-r", "-T", "-t", "-U", "-u"}
        | {"--auth-type", "--close-from", "--login-class", "--chdir", "--group", "--host"}
        | {"--prompt", "--chroot", "--role", "--command-timeout", "--type", "--other-user"}
        | {"--user"}
    ),
    "env": frozenset({"-u", "-C", "-S"}),
    "exec": frozenset({"-a"}),
    "nice": frozenset({"-n"}),
    "timeout": frozenset({"-s", "-k"}),
    "nohup": frozenset(),
    "time": frozenset(),
    "command": frozenset(),
    "sshpass": frozenset({"-p", "-f", "-d", "-P"}),
}
_LOCAL_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh"})


def _run_by(command: list[_Word]) -> list[_Word]:
    """``command``'s words from the program it runs, wrappers with their options and the
    shell's ``then``/``do``… dropped: ``bash d.sh`` of ``sudo -u deploy bash d.sh``, of
    ``(bash d.sh)``."""
    if command and _parenthesised(command):
        command = _without_parens(command)
    index = 0
    while index < len(command):
        text = command[index].text
        wrapper = _program(text)
        if wrapper not in _WRAPPERS:
            if text in _COMMAND_PREFIXES or _ASSIGNMENT.fullmatch(text):
                index += 1
                continue
            break
        index += 1
        while index < len(command) and (
            command[index].text.startswith("-")
            or (wrapper == "env" and _ASSIGNMENT.fullmatch(command[index].text))
        ):
            index += 2 if _takes_next_word(command[index].text, _WRAPPERS[wrapper]) else 1
        index += 1 if wrapper == "timeout" else 0  # its duration
    return command[index:]


def _takes_next_word(option: str, valued: frozenset[str]) -> bool:
    """Whether a wrapper's ``option`` takes the next word as its value, of its options
    that take one (``valued``): ``-u`` and ``--user`` do, and so does a group of short
    options that ends with one (``-Eu deploy``); ``-udeploy``, ``-uE`` (``E`` is the
    value) and ``--user=deploy`` do not."""
    if option in valued:
        return True
    if option[:2] == "--" or option[:1] != "-":
        return False
    for at, letter in enumerate(option[1:], 1):
        if f"-{letter}" in valued:
            return at == len(option) - 1  # the rest of the word is its value, if any
    return False


def _shell_options(words: Sequence[str]) -> tuple[int, bool, bool]:
    """Where a shell's operands start in its words (``bash -euo pipefail -c …``, its
    program first), and whether its options make it read commands from its input (``-s``)
    and from its first operand (``-c``, wherever it stands among them: ``bash -c -e …``)."""
    index = 1
    stdin = command = False
    while index < len(words) and words[index][:1] in ("-", "+") and words[index] != "-":
        option = words[index]
        index += 1
        if option == "--":
            break
        if option in ("--rcfile", "--init-file"):
            index += 1
        elif option.startswith("--"):
            continue
        if option[0] == "-":
            command = command or "c" in option[1:]
            stdin = stdin or "s" in option[1:]
        if option[-1] in "oO":  # ``-o pipefail``, ``-euo pipefail``: the option's name
            index += 1
    return index, stdin, command


def _shell_operand(words: list[str]) -> tuple[bool, str | None]:
    """What a shell's words (``bash -e deploy.sh``, its program first, redirections
    removed) read: whether commands from its input (no script, or ``-s``), and the script
    file it runs, if any; ``-c`` reads its commands from a word, neither."""
    index, stdin, command = _shell_options(words)
    if command:
        return False, None
    if stdin or index >= len(words) or words[index] == "-":
        return True, None
    return False, words[index]


def shell_command_string(words: Sequence[str]) -> int | None:
    """The index in a shell's words (``bash -ec 'helm …' name``, its program first) of the
    word its ``-c`` reads its commands from, if it has one."""
    index, _, command = _shell_options(words)
    return index if command and index < len(words) else None


# Programs that run a command in a container: ``docker exec``, ``kubectl exec``, ``docker
# compose run``…
_CONTAINER_RUNNERS = frozenset({"docker", "podman", "nerdctl", "kubectl", "oc", "docker-compose"})
# ssh's options that take a value (``-i key.pem``, ``-p 2222``, ``-o Opt=x``)
_SSH_VALUED = frozenset("BbcDEeFIiJLlmOoPpQRSWw")


# A word that attaches a container's input to the command's: ``-i``, ``-it``,
# ``--interactive``, kubectl's ``--stdin``
_ATTACHES_INPUT = re.compile(r"-[A-Za-z]*i[A-Za-z]*|--interactive(?:=true)?|--stdin(?:=true)?")


def _container_command(words: list[str]) -> list[str] | None:
    """The command ``docker exec|run``, ``docker compose exec|run``, ``kubectl exec|run``…
    (``words``, its program first) runs in a container with this command's input, if any:
    the words after kubectl's ``--``, else from the first shell that is no option's value
    (``docker exec -i app sh``). docker and kubectl attach the input only with ``-i``;
    compose does by itself."""
    subcommand = next((i for i, word in enumerate(words[:8]) if word in ("exec", "run")), None)
    if subcommand is None:
        return None
    compose = _program(words[0]) == "docker-compose" or "compose" in words[1:subcommand]
    rest = words[subcommand + 1 :]
    if "--" in rest and _program(words[0]) in ("kubectl", "oc"):
        options, inside = rest[: rest.index("--")], rest[rest.index("--") + 1 :]
    else:
        start = next(
            (
                i
                for i, word in enumerate(rest)
                if _program(word) in _LOCAL_SHELLS and i > 0 and not rest[i - 1].startswith("-")
            ),
            len(rest),
        )
        options, inside = rest[:start], rest[start:]
    if not compose and not any(_ATTACHES_INPUT.fullmatch(word) for word in options):
        return None  # no -i: the command's input is empty
    return inside


def _reads_commands(command: list[_Word]) -> str:
    """Whether ``command`` runs the commands it reads on its input: ``local`` for a shell
    (``bash``, ``sudo sh -s``), ``remote`` for ssh with no command or a shell as its
    command (``ssh host``, ``ssh host 'bash -s'``), else ``""`` (``bash deploy.sh``, ``ssh
    host "cat > f"``, ``bash -c …``)."""
    words = _output_targets(_run_by(command))[0]
    if not words:
        return ""
    program = _program(words[0])
    if program in _LOCAL_SHELLS:
        return "local" if _shell_operand(words)[0] else ""
    if program in _CONTAINER_RUNNERS:
        # ``kubectl exec -i pod -- sh``, ``docker compose exec -T app bash -s``: a shell
        # reads the text, in the container
        inside = _container_command(words)
        return (
            "remote"
            if inside and _program(inside[0]) in _LOCAL_SHELLS and _shell_operand(inside)[0]
            else ""
        )
    if program != "ssh":
        return ""
    # ssh reads options before the host and again after it (``ssh host -p 2222 cmd``),
    # up to ``--`` or the first other word, which starts the remote command
    index, host = 1, False
    while index < len(words):
        option = words[index]
        index += 1
        if option == "--" or not option.startswith("-") or option == "-":
            if host:
                index -= option != "--"
                break
            host = True
            index += option == "--"  # ``ssh -- host``
            continue
        for at, letter in enumerate(option[1:], 1):
            if letter == "N":
                return ""  # no command at all: ``ssh -N`` forwards ports
            if letter in _SSH_VALUED:  # its value is the rest of the word, or the next one
                index += 0 if option[at + 1 :] else 1
                break
    remote = words[index:] if host else []
    if not remote:
        return "remote"  # the login shell reads the commands
    commands = [_run_by(c) for c in _operator_split(_words(" ".join(remote)))]
    return "remote" if commands and _reads_commands(commands[0]) == "local" else ""


def _ran_script(
    command: list[_Word], context: _Context, piped_from: list[_Word] | None = None
) -> tuple[str, str] | None:
    """The file ``command`` (from its program on) runs, by :func:`_script_path`, and how:
    ``source`` in this shell (``source d.sh``, ``. d.sh``), ``local`` in a shell of its own
    (``bash d.sh``, ``./d.sh``, ``bash < d.sh``), ``remote`` on another host (``ssh host
    bash -s < d.sh``)."""
    words = _run_by(command)
    if not words:
        return None
    operands = _output_targets(words)[0]
    program = words[0].text
    if program in ("source", ".") and len(operands) > 1:
        return _script_path(operands[1], context.env, context.directory), "source"
    if _program(program) in _LOCAL_SHELLS:
        script = _shell_operand(operands)[1]
        if script is not None:
            return _script_path(script, context.env, context.directory), "local"
    elif "/" in program and "=" not in program:
        return _script_path(program, context.env, context.directory), "local"
    reads = _reads_commands(words)
    source = _input_file(words)
    if source is None and piped_from is not None:  # ``cat deploy.sh | bash``
        printed = _output_targets(_run_by(piped_from))[0]
        if len(printed) == 2 and _program(printed[0]) == "cat" and printed[1][:1] != "-":
            source = printed[1]
    if reads and source is not None:
        return _script_path(source, context.env, context.directory), reads
    return None


def _child_env(command: list[_Word], context: _Context) -> dict[str, str]:
    """The variables the program ``command`` runs sees (``bash d.sh``, ``sudo bash -c …``):
    those the shell exports, with the assignments before it (``TAG=2 bash d.sh``, ``env
    TAG=2 …``, ``sudo TAG=2 …``). ``sudo`` starts the program with an environment of its
    own (sudoers' ``env_reset``, on by default), so it sees none of the shell's unless
    ``-E``/``--preserve-env`` keeps them all or ``--preserve-env=A,B`` some; ``env -i``
    starts with none, ``env -u NAME`` drops one."""
    env = _exported(context)
    if command and _parenthesised(command):
        command = _without_parens(command)
    texts = [word.text for word in command]
    index = 0
    while index < len(texts):
        text = texts[index]
        if (found := _ASSIGNMENT.fullmatch(text)) is not None:
            name, appends, value = found.groups()
            if appends or "$(" in value or "`" in value:
                env.pop(name, None)
            else:
                env[name] = _expand(value, context.env)
            index += 1
            continue
        wrapper = _program(text)
        if wrapper not in _WRAPPERS:
            if text not in _COMMAND_PREFIXES:
                break
            index += 1
            continue
        index += 1
        preserve, kept = False, set()
        while index < len(texts) and texts[index].startswith("-"):
            option = texts[index]
            name, _, value = option.partition("=")
            if wrapper == "sudo" and name == "--preserve-env" and value:
                kept.update(value.split(","))
            elif wrapper == "sudo":
                preserve = preserve or name == "--preserve-env" or "E" in name.lstrip("-")[:1]
            elif wrapper == "env" and option in ("-", "-i", "--ignore-environment"):
                env = {}
            elif wrapper == "env" and name in ("-u", "--unset"):
                env.pop(value or (texts[index + 1] if index + 1 < len(texts) else ""), None)
            index += 2 if option in _WRAPPERS[wrapper] else 1
        if wrapper == "sudo" and not preserve:
            env = {name: env[name] for name in kept if name in env}
        index += 1 if wrapper == "timeout" else 0  # its duration
    return env


# In a ``bash -c`` word: a ``$`` quoted in ``'…'`` or escaped (``\$``), which the shell
# that runs the line leaves for the one ``-c`` starts
def _literal_dollars(text: str, word: _Word) -> set[int]:
    """The indexes of the ``$`` of ``word`` (in the line ``text``) that the shell leaves
    as they are: in single quotes, or after a backslash (a GitHub ``${{ … }}`` is
    substituted before any shell reads the line)."""
    dollars = {offset: i for i, offset in enumerate(word.offsets) if word.text[i] == "$"}
    if not dollars:
        return set()
    position, end = word.offsets[0], word.offsets[-1]
    while position > 0 and text[position - 1] in "'\"":
        position -= 1  # the quotes that open the word
    literal: set[int] = set()
    state = ""
    while position <= end:
        char = text[position]
        if state == "'":
            if char == "'":
                state = ""
            elif position in dollars and not text.startswith("${{", position):
                literal.add(dollars[position])
        elif char == "\\" and (state == "" or text[position + 1 : position + 2] in '$`"\\'):
            if position + 1 in dollars:
                literal.add(dollars[position + 1])
            position += 2
            continue
        elif state == '"':
            state = "" if char == '"' else state
        elif char in "'\"":
            state = char
        position += 1
    return literal


def _string_line(line: _LogicalLine, word: _Word, env: dict[str, str]) -> _LogicalLine:
    """The word ``-c`` reads commands from, as a line located where its characters are in
    the file, with the variables of ``env`` substituted where the shell that runs ``line``
    substitutes them: outside single quotes."""
    inner = _LogicalLine(word.text)
    previous = -2
    for index, offset in enumerate(word.offsets):
        if offset != previous + 1:
            location = line.location("", offset)
            inner.marks.append((index, location.line, location.column))
        previous = offset
    return _expanded_line(inner, env, _literal_dollars(line.text, word))


def _run_command_string(
    command: list[_Word], line: _LogicalLine, context: _Context, section: str, uncertain: bool
) -> Iterator[Fact]:
    """The facts of the commands a shell reads from its ``-c`` word (``bash -c "helm
    upgrade …"``, ``sudo sh -ec '…'``), run in a shell of its own that sees the variables
    :func:`_child_env` gives it; ``uncertain``: the command may not run."""
    words = _run_by(command)
    if not words or _program(words[0].text) not in _LOCAL_SHELLS:
        return
    index = shell_command_string([word.text for word in words])
    if index is None or not words[index].text.strip() or context.budget[0] <= 0:
        return
    context.budget[0] -= 1
    env = _child_env(command, context)
    nested = replace(
        context,
        env=env,
        shell=_Shell(depth=int(uncertain), env_file=context.shell.env_file),
        unexported=set(),
        exported=set(),
    )
    yield from _line_facts(_string_line(line, words[index], context.env), nested, section)


def _input_file(command: list[_Word]) -> str | None:
    """The file ``command``'s input is redirected from (``< deploy.sh``), if any."""
    split = _redirection_words(command)
    for index, word in enumerate(split):
        text = word.text
        if (
            text.startswith("<")
            and not text.startswith(("<<", "<(", "<&"))
            and 0 not in word.quoted
        ):
            if text[1:]:
                return text[1:]
            return split[index + 1].text if index + 1 < len(split) else None
    return None


def _run_written(
    command: list[_Word],
    context: _Context,
    section: str,
    uncertain: bool,
    piped_from: list[_Word] | None = None,
    running_line: _LogicalLine | None = None,
) -> Iterator[Fact]:
    """The facts of the lines of a file the job wrote from a here-document, where
    ``command`` runs it (``bash deploy.sh``): in this shell (``source``), whose variables
    its assignments change, or in a shell of its own, which sees the exported ones (none on
    another host). ``uncertain``: the command may not run, so what it assigns or writes to
    ``$GITHUB_ENV`` may not either. ``piped_from``: the command before its ``|``, if any
    (``cat deploy.sh | bash``); ``running_line``: the line of ``command``."""
    ran = _ran_script(command, context, piped_from)
    if ran is None or ran[0] not in context.written or ran[0] in context.running:
        return
    path, how = ran
    lines = context.written[path]
    shell = _Shell(depth=int(uncertain), env_file=context.shell.env_file)
    if context.ran_at is None and running_line is not None:
        context = replace(context, ran_at=running_line.location(context.path))
    if how == "source":
        nested = replace(context, shell=shell, running=(*context.running, path))
    else:
        env = {} if how == "remote" else _child_env(command, context)
        if how == "remote":
            shell.env_file = []  # another host's
        nested = replace(
            context,
            env=env,
            shell=shell,
            unexported=set(),
            exported=set(),
            running=(*context.running, path),
        )
    for line in lines:
        if context.budget[0] <= 0:
            return
        context.budget[0] -= 1
        yield from _line_facts(line, nested, section)


# What a shell line names the file of ``$GITHUB_ENV`` by, quotes removed.
_GITHUB_ENV_FILE = frozenset({"$GITHUB_ENV", "${GITHUB_ENV}", "${{ env.GITHUB_ENV }}"})
# An output redirection (``>>``, ``>``, ``1>>``, ``&>``), with its target when glued to it.
_OUTPUT_REDIRECT = re.compile(r"(?:\d?|&)>(>?)\|?(.*)", re.DOTALL)


_GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
_ANGLE = re.compile(r"[<>]")


def _redirection_words(command: list[_Word]) -> list[_Word]:
    """``command``'s words with each redirection glued to a word a word of its own, as the
    shell reads them: ``<<EOF>notes.txt`` is ``<<EOF`` and ``>notes.txt``,
    ``>>$GITHUB_ENV<<EOF`` is ``>>$GITHUB_ENV`` and ``<<EOF`` (``2>&1``, ``&>x`` and a quoted
    or ``${{ … }}`` ``>`` stay as they are)."""
    joined = "".join([word.text for word in command])
    if "<" not in joined and ">" not in joined:
        return command
    split: list[_Word] = []
    for word in command:
        text = word.text
        if "<" not in text and ">" not in text:
            split.append(word)
            continue
        expression = bytearray(len(text))  # the characters of ``${{ … }}`` expressions
        if "${{" in text:
            for found in _GITHUB_EXPRESSION.finditer(text):
                expression[found.start() : found.end()] = b"\1" * (found.end() - found.start())
        descriptor = len(text) - len(text.lstrip("0123456789"))  # ``2>&1``: no word of its own
        cuts = [
            i
            for i in (found.start() for found in _ANGLE.finditer(text, 1))
            if text[i - 1] not in "<>&"
            and i != descriptor
            and i not in word.quoted
            and not expression[i]
        ]
        for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
            split.append(
                _Word(
                    text[start:end],
                    word.offsets[start:end],
                    word.operator,
                    frozenset(i - start for i in word.quoted if start <= i < end),
                )
            )
    return split


def _output_targets(command: list[_Word]) -> tuple[list[str], list[tuple[str, bool]]]:
    """The words of ``command`` without its redirections, and the files its output is
    redirected to (``>&2`` names ``&2``), each with whether it appends (``>>``)."""
    operands: list[str] = []
    targets: list[tuple[str, bool]] = []
    split = _redirection_words(command)
    if split is command:  # no ``<`` or ``>`` in it: no redirection
        return [word.text for word in command], targets
    command = split
    texts = [word.text for word in command]
    index = 0
    while index < len(texts):
        text, quoted = texts[index], 0 in command[index].quoted  # ``echo ">x"``: no redirection
        index += 1
        found = None if quoted else _OUTPUT_REDIRECT.fullmatch(text)
        if found is None and text.startswith("<") and not quoted:  # ``<file``, ``<<EOF``
            index += 0 if text.strip("<-") else 1
            continue
        if found is None:
            operands.append(text)
            continue
        target = found.group(2)
        if not target and index < len(texts):
            target, index = texts[index], index + 1
        targets.append((target, bool(found.group(1))))
    return operands, targets


def _printed_lines(operands: list[str], env: dict[str, str]) -> list[str] | None:
    """The lines ``echo`` or ``printf`` (``operands``, redirections removed) prints, as the
    shell expands them; None for any other command, or a ``printf`` format beyond ``%s``."""
    if not operands or _program(operands[0]) not in ("echo", "printf"):
        return None
    if operands[0].endswith("echo"):
        arguments = operands[1:]
        while arguments and re.fullmatch(r"-[neE]+", arguments[0]):
            arguments = arguments[1:]
        return [_expand(" ".join(arguments), env)]
    if len(operands) < 2 or re.search(r"%[^s%]", operands[1].replace("%%", "")):
        return None
    form, arguments = operands[1].replace("\\n", "\n"), operands[2:]
    text = ""
    while True:  # printf uses its format again while arguments remain
        pieces = form.split("%s")
        used = arguments[: len(pieces) - 1]
        arguments = arguments[len(pieces) - 1 :]
        filled = [*used, *[""] * (len(pieces) - 1 - len(used))]
        text += "".join(p + f for p, f in zip(pieces, [*filled, ""], strict=True))
        if not arguments or len(pieces) == 1:
            break
    return [_expand(piece, env) for piece in text.replace("%%", "%").split("\n") if piece]


def _write_env(
    shell: _Shell,
    command: list[_Word],
    stripped: list[_Word],
    env: dict[str, str],
    may_not_run: bool,
    piped: list[tuple[str, bool]] | None,
    pipes: bool,
    closed: list[tuple[str, bool]] | None,
) -> list[tuple[str, bool]] | None:
    """Note in ``shell.env_file`` the lines ``command`` writes to ``$GITHUB_ENV``: its own
    (``echo "IMAGE=…" >> "$GITHUB_ENV"``), those of the command before the ``|`` it reads
    (``piped``, for ``tee -a "$GITHUB_ENV"``), or those the ``{ …; }`` group it closes
    printed (``closed``: ``} >> "$GITHUB_ENV"``). Returns what the command prints into the
    ``|`` after it (``pipes``), each line with whether it may not have been printed."""
    operands, targets = _output_targets(stripped)
    to_env = [appends for target, appends in targets if target in _GITHUB_ENV_FILE]
    tee = operands[:1] == ["tee"]
    if tee:
        appends = any(operand in ("-a", "--append") for operand in operands[1:])
        to_env += [appends for operand in operands[1:] if operand in _GITHUB_ENV_FILE]
    group = shell.groups[-1] if shell.groups else None
    if (targets and not to_env) or not (to_env or pipes or group is not None):
        return None  # what it prints goes nowhere that sets a variable
    printed = _printed_lines(operands, env)
    lines = None if printed is None else [(text, may_not_run) for text in printed]
    if tee:
        lines = None if piped is None else [(t, u or may_not_run) for t, u in piped]
    if closed is not None:
        lines = [(t, u or may_not_run) for t, u in closed]
    if lines is None and (not operands or operands[0] in (":", "true")):
        lines = []  # ``> "$GITHUB_ENV"``, ``: > "$GITHUB_ENV"``: nothing printed
    if lines is None:
        # what a program prints (``./env.sh >> "$GITHUB_ENV"``) may set any variable; a
        # here-document's lines come as the reader takes them (``cat <<EOF | tee -a …``)
        lines = [] if _reads_heredoc(stripped) else [(_ANY_VARIABLE, may_not_run)]
    if lines is None:
        return None
    if to_env:
        if not all(to_env):  # ``> "$GITHUB_ENV"`` cuts the file first
            _truncate_env(shell, may_not_run)
        shell.env_file.extend(lines)
    elif pipes:
        return lines
    elif group is not None:
        group.extend(lines)  # the group's redirection says where they go
    return None


# A line of ``$GITHUB_ENV`` that a program printed: it may set any variable.
_ANY_VARIABLE = "\0"


def _reads_heredoc(command: list[_Word]) -> bool:
    """Whether ``command`` reads a here-document (``cat >> "$GITHUB_ENV" <<EOF``), whose lines
    the reader takes as they come."""
    return any(
        _HEREDOC.match(word.text) is not None and 0 not in word.quoted
        for word in _redirection_words(command)
    )


def _group(shell: _Shell, command: list[_Word]) -> list[tuple[str, bool]] | None:
    """Open and close the ``{ … }`` groups of ``command``'s leading words in
    ``shell.groups``; returns the lines of the group its ``}`` closes, if any."""
    texts = [word.text for word in command]
    # a function's body (``deploy() {``) runs when called, if ever: no group of lines
    function = texts[0] == "function" or texts[0].endswith("()") or texts[1:2] == ["()"]
    if function:
        texts = texts[1:] if texts[0].endswith("()") and texts[0] != "function" else texts[2:]
    closed = None
    for number, text in enumerate(texts):
        if text == "{":
            shell.groups.append(None if function and number == 0 else [])
        elif text == "}" and shell.groups:
            closed = shell.groups.pop()
        elif text not in _BLOCK_WORDS:
            break
    return closed


def _github_env_writes(lines: Sequence[tuple[str, bool]]) -> Iterator[tuple[str, str | None]]:
    """The variables a step's lines written to ``$GITHUB_ENV`` set for the later steps, as
    the runner reads the file: ``NAME=value``, or ``NAME<<DELIMITER``, the value's lines,
    ``DELIMITER``. A value is None (unknown) when a line of it may not have been written,
    a command makes it (``$(…)``), or it still names a variable: one the writing step did
    not know (``TAG=$(…)``, or none), which a later step's own value must not fill in."""
    index = 0
    while index < len(lines):
        text, uncertain = lines[index]
        index += 1
        if text == _ANY_VARIABLE:
            yield text, None
            continue
        name, equals, value = text.partition("=")
        heredoc_name, heredoc, delimiter = text.partition("<<")
        if heredoc and (not equals or len(heredoc_name) < len(name)):
            name, body = heredoc_name, []
            while index < len(lines) and lines[index][0] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            value = "\n".join(t for t, _ in body)
            uncertain = uncertain or any(u for _, u in body)
        elif not equals:
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            unknown = uncertain or "$(" in value or "`" in value or _NAMED_VARIABLE.search(value)
            yield name, None if unknown else value


def _heredoc_operator(word: _Word, arithmetic: tuple[list[int], list[int]]) -> re.Match[str] | None:
    """The ``<<`` of a here-document in ``word``, if any: not a quoted one (``echo
    'A<<EOF'``), nor a shift in arithmetic (``$((1<<20))``, ``(( x << 2 ))``), where more
    ``((`` than ``))`` come before it (``arithmetic``: where the line has each)."""
    match = _HEREDOC.search(word.text)
    if match is None:
        return None
    at = word.text.find("<<", match.start())
    where = word.offset_of(at)
    opened, closed = (bisect.bisect_left(offsets, where) for offsets in arithmetic)
    if at in word.quoted or opened > closed:
        return None
    return match


_OPEN_ARITHMETIC = re.compile(r"\(\(")
_CLOSE_ARITHMETIC = re.compile(r"\)\)")


def _open_heredocs(
    context: _Context,
    text: str,
    chained: list[tuple[list[_Word], str, str]],
    may_not_run: list[bool],
    directories: list[str],
) -> None:
    """Note in ``context.shell`` the here-documents that the line ``text`` (its ``chained``
    commands, each run in the directory of ``directories``) opens, in order: the word that
    ends each, and for the one a command reads on its input (the last on it), whether a
    shell reads it (a command of its pipeline from there on), whether its text goes to
    ``$GITHUB_ENV`` and to which files."""
    if "<<" not in text:
        return
    arithmetic = (
        [found.start() for found in _OPEN_ARITHMETIC.finditer(text)],
        [found.start() for found in _CLOSE_ARITHMETIC.finditer(text)],
    )
    for number, (written, _, _) in enumerate(chained):
        command = _redirection_words(written)
        opened: list[tuple[_HereDoc, bool]] = []
        for index, word in enumerate(command):
            match = _heredoc_operator(word, arithmetic)
            if match is None:
                continue
            following = command[index + 1 : index + 2]
            if match.group(1):
                delimiter = match.group(1)
                quoted = any(i >= match.start(1) for i in word.quoted)
            else:
                delimiter = following[0].text if following else ""
                quoted = bool(following and following[0].quoted)
            at = word.text.find("<<", match.start())
            descriptor = word.text[at - 1] if at > 0 and word.text[at - 1].isdigit() else "0"
            heredoc = _HereDoc(delimiter.strip(), quoted=quoted, directory=context.directory)
            opened.append((heredoc, descriptor == "0"))
        stdin = [heredoc for heredoc, on_input in opened if on_input]
        if stdin:
            _feed(context, stdin[-1], chained, number, may_not_run[number], directories[number])
        context.shell.heredocs.extend(heredoc for heredoc, _ in opened)


def _feed(
    context: _Context,
    heredoc: _HereDoc,
    chained: list[tuple[list[_Word], str, str]],
    number: int,
    may_not_run: bool,
    directory: str,
) -> None:
    """Note where the text of ``heredoc``, the input of the command ``number`` of
    ``chained`` (run in ``directory``), goes: to a shell that runs it, to ``$GITHUB_ENV``
    (cut to nothing first by ``>``), or to the files ``cat`` and ``tee`` write it to
    (``cat <<EOF > deploy.sh``, ``cat <<EOF | sudo tee d.sh``)."""
    first = number
    while first > 0 and chained[first][1] == "|":
        first -= 1
    last = number
    while last + 1 < len(chained) and chained[last][2] == "|":
        last += 1
    heredoc.runs = next(
        (reads for words, _, _ in chained[number : last + 1] if (reads := _reads_commands(words))),
        "",
    )
    env_targets: list[bool] = []  # whether each write to $GITHUB_ENV appends
    files: list[str] = []
    copies = True  # the text flows unchanged: through ``cat`` and ``tee``
    for position, (words, _, _) in enumerate(chained[first : last + 1], first):
        operands, targets = _files_written(words)
        name = _program(operands[0]) if operands else ""
        for target, appended in targets:
            if target in _GITHUB_ENV_FILE:
                env_targets.append(appended)
            elif copies and position >= number and target[:1] != "&" and target[:5] != "/dev/":
                path = _script_path(target, context.env, directory)
                if not appended or path not in context.written:
                    context.written[path] = []
                files.append(path)
        plain_cat = name == "cat" and all(o == "-" for o in operands[1:])
        copies = copies and position >= number and (plain_cat or name == "tee")
    if env_targets:
        if not all(env_targets):
            _truncate_env(context.shell, may_not_run)
        heredoc.env = may_not_run
    heredoc.files = tuple(dict.fromkeys(files))


def _files_written(command: list[_Word]) -> tuple[list[str], list[tuple[str, bool]]]:
    """The words of the program ``command`` runs, without its redirections, and the files
    it writes to, each with whether it appends: its ``>`` and ``>>`` targets, and
    ``tee``'s operands (``tee -a`` appends)."""
    operands, targets = _output_targets(_run_by(command))
    if operands and _program(operands[0]) == "tee":
        appends = any(o in ("-a", "--append") for o in operands[1:])
        targets = [*targets, *((o, appends) for o in operands[1:] if o[:1] != "-")]
    return operands, targets


# Programs that may write over, move or remove a file the job wrote (``cp x deploy.sh``);
# a download only with an option that names a file (``curl -o``, ``-O``)
_OVERWRITERS = frozenset({"rm", "tee", "cp", "mv", "install", "curl", "wget"})
_DOWNLOAD_TO_FILE = re.compile(r"\s-[A-Za-z]*[oO]|--output|--remote-name")
# Their options that take a value when written apart (``cp -t DIR``, ``install -m 755``)
_COPY_VALUED = frozenset(
    {"-t", "-S", "-m", "-o", "-g", "--target-directory", "--suffix", "--mode", "--owner"}
    | {"--group"}
)
# (curl --help all, wget --help): the short options that take a value, and long ones
_DOWNLOAD_VALUED = {"curl": "AbcCdDeEFHKmoPQrtTuUwxXyYz", "wget": "oaeiBtOTwQUlARDIXPn"}
_DOWNLOAD_LONG_VALUED = frozenset(
    {"--header", "--data", "--data-raw", "--data-binary", "--user", "--request", "--retry"}
    | {"--max-time", "--connect-timeout", "--cacert", "--cert", "--key", "--user-agent"}
    | {"--form", "--proxy", "--password", "--tries", "--timeout", "--directory-prefix"}
    | {"--output-file", "--append-output", "--post-data", "--method", "--referer"}
)


def _copied(program: str, operands: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The sources ``cp``/``mv``/``install`` (``operands``, its name first) names, and each
    ``(source, destination)`` file it writes: a destination that may be a directory gives
    both the file and the one of the same name in it (``cp d.sh deploy`` may write
    ``deploy/d.sh``)."""
    directory: str | None = None
    files: list[str] = []
    index, options = 1, True
    while index < len(operands):
        word = operands[index]
        index += 1
        if options and word == "--":
            options = False
        elif options and word[:1] == "-" and len(word) > 1:
            name, equals, value = word.partition("=")
            if program == "install" and name in ("-d", "--directory"):
                return [], []  # makes directories
            if name in ("-t", "--target-directory") or (name[:2] == "-t" and name[2:]):
                if not equals and name[2:] and name[:2] != "--":
                    directory = name[2:]
                elif equals:
                    directory = value
                elif index < len(operands):
                    directory, index = operands[index], index + 1
            elif name in _COPY_VALUED and not equals:
                index += 1
        else:
            files.append(word)
    sources = files
    if directory is None:
        if len(files) < 2:
            return [], []
        *sources, directory = files
        if len(sources) == 1 and directory[-1:] != "/" and _program(directory) not in (".", ".."):
            base = posixpath.join(directory, _program(sources[0]))
            return sources, [(sources[0], directory), (sources[0], base)]
    return sources, [(source, posixpath.join(directory, _program(source))) for source in sources]


def _downloaded(program: str, operands: list[str]) -> list[str]:
    """The files ``curl`` (``-o``, ``-O``) or ``wget`` (``-O``) saves a download to
    (``operands``, its name first); ``-`` (its output) is none. wget without ``-O`` never
    writes over a file: it saves ``d.sh.1`` beside ``d.sh``."""
    valued, output = _DOWNLOAD_VALUED[program], "o" if program == "curl" else "O"
    outputs: list[str] = []
    urls: list[str] = []
    remote = False
    index = 1
    while index < len(operands):
        word = operands[index]
        index += 1
        if word[:2] == "--":
            name, equals, value = word.partition("=")
            takes = name in ("--output", "--output-document", "--url")
            if takes or name in _DOWNLOAD_LONG_VALUED:
                if not equals and index < len(operands):
                    value, index = operands[index], index + 1
                if name == "--url":
                    urls.append(value)
                elif takes and (name == "--output") == (program == "curl"):
                    outputs.append(value)
            remote = remote or (program == "curl" and name.startswith("--remote-name"))
        elif word[:1] == "-" and len(word) > 1:
            for at, letter in enumerate(word[1:], 1):
                if program == "curl" and letter == "O":
                    remote = True
                elif letter in valued:
                    value = word[at + 1 :]
                    if not value and index < len(operands):
                        value, index = operands[index], index + 1
                    if letter == output:
                        outputs.append(value)
                    break
        else:
            urls.append(word)
    if remote:
        outputs += [_program(url.split("?", 1)[0].split("#", 1)[0]) for url in urls]
    return [path for path in outputs if path and path != "-"]


def _forget_overwritten(context: _Context, command: list[_Word], env: dict[str, str]) -> None:
    """Drop the written files ``command`` writes over (``echo x > deploy.sh``, ``| tee
    deploy.sh``, ``cp other.sh deploy.sh``, ``curl -o deploy.sh …``), moves or removes
    (``mv``, ``rm -f deploy.sh``): the text a here-document wrote there no longer runs
    there. A written file that ``cp`` or ``mv`` puts elsewhere runs its text there. (A
    here-document this line writes to the file comes after, see :func:`_feed`.)"""
    operands, targets = _files_written(command)
    paths = [target for target, appends in targets if not appends]
    program = _program(operands[0]) if operands else ""
    if program == "rm":
        paths += [operand for operand in operands[1:] if operand[:1] != "-"]
    elif program in ("curl", "wget"):
        paths += _downloaded(program, operands)
    written, directory = context.written, context.directory
    if program in ("cp", "mv", "install"):
        sources, copies = _copied(program, operands)
        texts = {}
        for source, destination in copies:
            if (text := written.get(_script_path(source, env, directory))) is not None:
                texts[_script_path(destination, env, directory)] = text
            else:
                paths.append(destination)
        if program == "mv":
            paths += sources
        for path in paths:
            written.pop(_script_path(path, env, directory), None)
        written.update(texts)
        return
    for path in paths:
        written.pop(_script_path(path, env, directory), None)


def _truncate_env(shell: _Shell, may_not_run: bool) -> None:
    """``> "$GITHUB_ENV"``: the step's lines so far are gone (or may be)."""
    if may_not_run:
        shell.env_file[:] = [(text, True) for text, _ in shell.env_file]
    else:
        shell.env_file.clear()


def _see_variables(
    command: list[_Word], env: dict[str, str], variables: dict[str, str | None]
) -> None:
    """Note in ``variables`` the values the variables ``command`` names have in ``env``
    (None: unknown, or another value in an earlier command of the line)."""
    text = " ".join(word.text for word in command)
    for found in _NAMED_VARIABLE.finditer(text):
        name = found.group(1) or found.group(2)
        value = _expand(env[name], env) if name in env else None
        if variables.setdefault(name, value) != value:
            variables[name] = None


# The programs whose commands :func:`_command_facts` reads.
_FACT_PROGRAMS = frozenset(
    {"docker", "podman", "nerdctl", "buildah", "executor", "kaniko", "crane", "skopeo"}
    | {"kubectl", "kustomize", "helm"}
)


def _command_facts(words: list[_Word], line: _LogicalLine, context: _Context) -> Iterator[Fact]:
    """Pushes, deploys and Helm history limits of one simple command of ``line``."""
    program = _program(words[0].text)
    if program not in _FACT_PROGRAMS and not words[0].text.endswith("kaniko/executor"):
        return  # most lines: nothing to read
    args = [w.text for w in words]

    def fact_location(offset: int) -> Location:
        return line.location(context.path, offset)

    def push(value: str, offset: int, how: str) -> CiImagePush:
        reference = _with_default_tag(_expand(value, context.env))
        return CiImagePush(
            fact_location(offset),
            context.provider,
            context.workflow,
            context.job_id,
            reference,
            value,
            how,
        )

    def deploy(
        offset: int, written: str, how: str, reference: str | None, tag: str | None
    ) -> CiImageDeploy:
        if reference is not None:
            reference = _with_default_tag(_expand(reference, context.env))
            tag = tag if tag is not None else split_reference(reference)[1]
        return CiImageDeploy(
            fact_location(offset),
            context.provider,
            context.workflow,
            context.job_id,
            reference,
            _expand(tag, context.env) if tag is not None else None,
            written,
            how,
        )

    if program in ("docker", "podman", "nerdctl", "buildah"):
        sub = [a for a in args[1:3] if not a.startswith("-")]
        verb = " ".join(sub[:2]) if sub[:1] in (["image"], ["buildx"]) else " ".join(sub[:1])
        if verb in ("push", "image push"):
            operands = [w for w in words[1 + len(verb.split()) :] if not w.text.startswith("-")]
            if operands and not {"-a", "--all-tags"} & set(args):
                yield push(operands[0].text, operands[0].start, f"{program} push")
        elif verb in ("build", "buildx build", "image build", "bud", "buildx bake"):
            pushes = "--push" in args or any("type=registry" in a or "push=true" in a for a in args)
            if pushes:
                for i in range(len(words)):
                    tagged = _option_value(words, i, _BUILD_TAG_OPTIONS)
                    if tagged is not None:
                        yield push(tagged[0], tagged[1], f"{program} {verb} --push")
    elif program in ("executor", "kaniko") or words[0].text.endswith("kaniko/executor"):
        if "--no-push" not in args:
            for i in range(len(words)):
                destination = _option_value(words, i, ("--destination", "-d"))
                if destination is not None:
                    yield push(destination[0], destination[1], "kaniko --destination")
    elif program == "crane" and len(words) >= 4 and args[1] == "tag":
        repository, _, _ = split_reference(args[2])
        target = words[3]
        reference = f"{_expand(repository, context.env)}:{_expand(target.text, context.env)}"
        yield CiImagePush(
            fact_location(target.start),
            context.provider,
            context.workflow,
            context.job_id,
            reference,
            target.text,
            "crane tag",
        )
    elif program in ("crane", "skopeo") and len(words) >= 4 and args[1] in ("copy", "cp"):
        operands = [w for w in words[2:] if not w.text.startswith("-")]
        if len(operands) >= 2:
            target = operands[1]
            prefix = "docker://" if target.text.startswith("docker://") else ""
            if program == "crane" or prefix:
                yield push(
                    target.text[len(prefix) :],
                    target.offset_of(len(prefix)),
                    f"{program} copy",
                )
    elif program == "kubectl" and "set" in args and "image" in args:
        set_image = _kubectl_set_image(words, context.env)
        for word in set_image.pairs:
            name, _, value = word.text.partition("=")
            offset = word.offset_of(len(name) + 1)
            yield replace(
                deploy(offset, value, "kubectl set image", value, None),
                workload=set_image.workload,
                container=_expand(name, context.env),
                namespace=set_image.namespace,
                kube_context=set_image.kube_context,
            )
    elif program == "kubectl" and "rollout" in args and "restart" in args:
        restart = _kubectl_set_image(words, context.env, ("rollout", "restart"))
        restarted = [(workload, "") for workload in restart.workloads]
        for kind in restart.every_kind:
            restarted.append(("", kind))
        for workload, every_kind in restarted:
            yield CiRolloutRestart(
                fact_location(words[0].start),
                context.provider,
                context.workflow,
                context.job_id,
                workload,
                restart.namespace,
                restart.kube_context,
                every_kind,
            )
    elif program == "kustomize" and args[1:4] == ["edit", "set", "image"]:
        for word in words[4:]:
            name, sep, value = word.text.partition("=")
            if sep and value:
                offset = word.offset_of(len(name) + 1)
                yield deploy(offset, value, "kustomize edit set image", value, None)
    elif program == "helm" and len(args) > 1 and args[1] in ("upgrade", "install"):
        yield from _interpret_helm(words, line, context, deploy)


# kubectl's flags that take a value (``kubectl options`` and ``kubectl set image --help``);
# every other flag is a switch, or takes its value after ``=`` (``--dry-run=client``).
_KUBECTL_VALUE_FLAGS = frozenset(
    {
        "-n",
        "--namespace",
        "--context",
        "--cluster",
        "--kubeconfig",
        "--user",
        "-s",
        "--server",
        "--token",
        "--as",
        "--as-group",
        "--as-uid",
        "--cache-dir",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--request-timeout",
        "--tls-server-name",
        "--username",
        "--password",
        "-v",
        "--v",
        "--vmodule",
        "--log-flush-frequency",
        "--profile",
        "--profile-output",
        "-f",
        "--filename",
        "-k",
        "--kustomize",
        "-l",
        "--selector",
        "-o",
        "--output",
        "--field-manager",
        "--template",
    }
)
# The kinds ``kubectl set image`` changes (``kubectl set image --help``, and Job in
# ``polymorphichelpers/updatepodspec.go``), singular, by every name kubectl accepts: the
# plural, and the short name of ``kubectl api-resources``.
_KUBECTL_KINDS = {
    name: kind
    for kind, names in {
        "deployment": ("deployments", "deploy"),
        "statefulset": ("statefulsets", "sts"),
        "daemonset": ("daemonsets", "ds"),
        "cronjob": ("cronjobs", "cj"),
        "job": ("jobs",),
        "pod": ("pods", "po"),
        "replicaset": ("replicasets", "rs"),
        "replicationcontroller": ("replicationcontrollers", "rc"),
    }.items()
    for name in (kind, *names)
}


@dataclass(frozen=True)
class _KubectlSetImage:
    """The workloads, namespace, context and ``container=image`` words of ``kubectl set
    image``. ``workloads`` are those the command names; ``workload`` is the one when it
    names exactly one; ``every_kind`` the kinds it names without a name (every workload of
    the kind in the namespace, as ``kubectl rollout restart deployment`` reads it)."""

    workloads: tuple[str, ...]
    every_kind: tuple[str, ...]
    namespace: str
    kube_context: str
    pairs: list[_Word]

    @property
    def workload(self) -> str:
        """The workload the command names when it names one, else ``""``."""
        return self.workloads[0] if len(self.workloads) == 1 else ""


def _kubectl_set_image(
    words: list[_Word], env: dict[str, str], verbs: tuple[str, str] = ("set", "image")
) -> _KubectlSetImage:
    """Read ``kubectl [flags] set image [flags] (TYPE/NAME | TYPE NAME) c=IMAGE…`` as kubectl
    does: a flag takes the next word only when it is one of kubectl's value flags; the
    shell's redirections (``> log``, ``2>&1``) are no words of kubectl's. Other ``verbs``
    read the same way (``rollout restart TYPE/NAME``, which sets no image)."""
    words = _without_redirections(words)
    operands: list[_Word] = []
    flags: dict[str, str] = {}
    index = 1
    while index < len(words):
        word = words[index].text
        index += 1
        if word.startswith("-") and len(word) > 1:
            name, has_value, value = word.partition("=")
            if not has_value and not word.startswith("--") and word[:2] in ("-n", "-f", "-l"):
                name, value = word[:2], word[2:]  # -nprod
            if not has_value and not value and name in _KUBECTL_VALUE_FLAGS:
                value = words[index].text if index < len(words) else ""
                index += 1
            flags[name] = value or "true"
        else:
            operands.append(words[index - 1])
    # ``set image`` after the operands a value flag unknown here left (``--profile cpu``).
    texts = [w.text for w in operands]
    verb = next((i for i in range(len(texts) - 1) if tuple(texts[i : i + 2]) == verbs), -1)
    rest = operands[verb + 2 :] if verb >= 0 else []
    pairs = [w for w in rest if "=" in w.text and w.text.partition("=")[2]]
    resources = [w.text for w in rest if "=" not in w.text]
    # kubectl's resource arguments: TYPE/NAME…, or TYPE[,TYPE…] NAME… (each type with each
    # name), or TYPE[,TYPE…] alone (every one of the type in the namespace)
    named: list[tuple[str, str]] = []
    kinds: list[str] = []
    if resources and all("/" in resource for resource in resources):
        named = [(kind, name) for kind, _, name in (r.partition("/") for r in resources)]
    elif resources and "/" not in resources[0]:
        kinds = resources[0].split(",")
        named = [(kind, name) for kind in kinds for name in resources[1:]]
    selected = any(
        flag in flags for flag in ("-f", "--filename", "-k", "--kustomize", "-l", "--selector")
    )
    local = flags.get("--local", "false") != "false" or flags.get("--dry-run", "none") != "none"
    workloads: tuple[str, ...] = ()
    every_kind: tuple[str, ...] = ()
    if not selected and "--all" not in flags and not local:
        workloads = tuple(f"{_kubectl_kind(kind)}/{_expand(name, env)}" for kind, name in named)
        every_kind = tuple(_kubectl_kind(kind) for kind in kinds if kind) if not named else ()
    return _KubectlSetImage(
        workloads,
        every_kind,
        _expand(flags.get("-n", flags.get("--namespace", "")), env),
        _expand(flags.get("--context", ""), env),
        pairs,
    )


def _kubectl_kind(written: str) -> str:
    """A kind as kubectl names it in full and singular: ``deploy`` and ``deployments.apps``
    are ``deployment``."""
    kind = written.split(".", 1)[0].lower()  # deployments.apps, deployment.v1.apps
    return _KUBECTL_KINDS.get(kind, kind)


def _interpret_helm(
    words: list[_Word],
    line: _LogicalLine,
    context: _Context,
    deploy: _DeployMaker,
) -> Iterator[Fact]:
    """``helm upgrade|install``: ``--set image.tag=…`` deploys and ``--history-max``."""
    tags: list[tuple[str, int]] = []
    repository: str | None = None
    whole_images: list[tuple[str, int]] = []
    for i in range(len(words)):
        history = _option_value(words, i, ("--history-max",))
        if history is not None and history[0].isdigit():
            yield HelmHistoryMax(
                line.location(context.path, history[1]),
                context.provider,
                context.workflow,
                context.job_id,
                int(history[0]),
                line.text.strip(),
            )
        assignment = _option_value(words, i, ("--set", "--set-string"))
        if assignment is None:
            continue
        text, offset = assignment
        position = 0
        for part in text.split(","):
            key, sep, value = part.partition("=")
            value_offset = offset + position + len(key) + 1
            position += len(part) + 1
            if not sep:
                continue
            leaf = key.rsplit(".", 1)[-1]
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            if leaf in ("tag", "imageTag", "image_tag") and (
                leaf != "tag" or parent.endswith("image") or parent == ""
            ):
                tags.append((value, value_offset))
            elif leaf == "repository" and parent.endswith("image"):
                repository = value
            elif leaf == "image" and value:
                whole_images.append((value, value_offset))
    for tag, offset in tags:
        reference = f"{repository}:{tag}" if repository else None
        yield deploy(offset, tag, "helm --set image.tag", reference, tag)
    for value, offset in whole_images:
        yield deploy(offset, value, "helm --set image", value, split_reference(value)[1])


# Shell words that open and close a block whose lines may or may not run.
_BLOCK_OPENERS = frozenset({"if", "case", "for", "select", "while", "until", "{"})
_BLOCK_CLOSERS = frozenset({"fi", "esac", "done", "}"})
_BLOCK_WORDS = _BLOCK_OPENERS | _BLOCK_CLOSERS | {"then", "else", "elif", "do", "!"}
_DECLARATIONS = frozenset({"export", "readonly", "declare", "typeset", "local"})


def _assign(context: _Context, command: list[_Word], uncertain: bool = False) -> None:
    """Update ``context.env`` with what one command assigns, as the shell would.

    ``NAME=value`` alone or after ``export``/``readonly``/``declare``/``local`` sets a variable
    for the lines after it, its value expanded with the variables known then (``NAME+=value``
    appends). A value made by a command (``$(…)``, backticks) or by the variable itself
    (``TAG=${TAG}-amd64``, ``TAG`` unknown), an assignment that may not run or not last
    (``uncertain``: after ``&&``/``||``, in a pipeline; inside a block, a function's body or
    a ``( … )`` subshell), a ``for``/``read`` variable and ``unset`` leave it unknown (written
    as ``$NAME`` downstream). ``NAME=value cmd`` sets only that command's environment, after
    the shell has expanded its words: nothing changes.
    """
    env, shell = context.env, context.shell
    texts = [word.text for word in command]
    # a subshell's assignments are gone when it ends: ``(cd chart && NS=x)``
    inside = shell.subshells > 0 or texts[0].startswith("(")
    joined = "".join(texts)
    shell.subshells = max(0, shell.subshells + joined.count("(") - joined.count(")"))
    if texts[0] == "function" or texts[0].endswith("()"):
        texts = texts[2:] if texts[0] == "function" else texts[1:]  # its body is a block
    elif texts[1:2] == ["()"]:
        texts = texts[2:]
    while texts and texts[0] in _BLOCK_WORDS:
        word = texts.pop(0)
        if word in _BLOCK_OPENERS:
            shell.depth += 1
            if word in ("for", "select") and texts:
                _set(env, texts[0], None)
                return
        elif word in _BLOCK_CLOSERS:
            shell.depth = max(0, shell.depth - 1)
    if texts[:1] in (["unset"], ["read"]):
        for name in texts[1:]:
            _set(env, name, None)
            if texts[0] == "unset":
                context.exported.discard(name)
        return
    if shell.depth or inside or uncertain:
        # it may not run (a case arm: ``prod) NS=shop-prod ;;``), or not last: any
        # assignment leaves its variable unknown
        for text in texts:
            if (found := _ASSIGNMENT.fullmatch(text)) is not None:
                _set(env, found.group(1), None)
        return
    declared = bool(texts) and texts[0] in _DECLARATIONS
    operands = [t for t in texts[1:] if not t.startswith("-")] if declared else texts
    assignments = [_ASSIGNMENT.fullmatch(text) for text in operands]
    prefix_only = not declared and not all(assignments)
    exports = declared and (texts[0] == "export" or "-x" in texts[1:])
    for operand, found in zip(operands, assignments, strict=True):
        if exports:  # ``export NAME``, ``export NAME=value``: the programs it starts see it
            context.unexported.discard(found.group(1) if found else operand)
            context.exported.add(found.group(1) if found else operand)
        if found is None:
            if not declared:
                break
            continue
        name, appends, value = found.groups()
        if not exports and not prefix_only and name not in context.exported:
            context.unexported.add(name)  # (a variable exported before stays exported)
        if "$(" in value or "`" in value or (appends and name not in env):
            _set(env, name, None)
        elif not prefix_only:
            _set(env, name, (env[name] if appends else "") + _expand(value, env))


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names the variable ``name``: ``$NAME``, ``${NAME}``, ``${{ env.NAME }}``."""
    return any(name in found.groups() for found in _NAMED_VARIABLE.finditer(text))


def _set(env: dict[str, str], name: str, value: str | None) -> None:
    """``name`` now holds ``value`` (None: unknown). A value that still names ``name`` is
    unknown too; the variables whose values name it keep what it held before."""
    for other, text in list(env.items()):
        if other != name and _names(text, name):
            frozen = _expand(text, env)
            if _names(frozen, name):
                del env[other]
            else:
                env[other] = frozen
    if value is None or _names(value, name):
        env.pop(name, None)
    else:
        env[name] = value


def _shell_facts(pieces: Iterable[_Piece], context: _Context, section: str) -> Iterator[Fact]:
    """A :class:`CiCommand` per logical line, then what the line pushes or deploys."""
    for line in _logical_lines(pieces):
        yield from _line_facts(line, context, section)


def _line_facts(line: _LogicalLine, context: _Context, section: str) -> Iterator[Fact]:
    """The :class:`CiCommand` of one logical line, then what it pushes or deploys (the
    lines of a written file it runs included)."""
    variables: dict[str, str | None] = {}
    heredocs = context.shell.heredocs
    runs = not heredocs or bool(heredocs[0].runs)
    facts = list(_interpret(line, context, variables, section))
    known = tuple((name, value) for name, value in sorted(variables.items()) if value is not None)
    yield CiCommand(
        line.location(context.path),
        context.provider,
        context.workflow,
        context.job_id,
        line.text.strip(),
        section,
        known,
        runs,
        context.ran_at,
    )
    yield from facts


# ---------------------------------------------------------------------------------------------
# YAML helpers that understand merge keys (``<<: *defaults``), common in GitLab CI


def _text(node: Node | None) -> str | None:
    return yamlfile.text_of(node)


def _strings(node: Node | None) -> tuple[str, ...]:
    """A scalar or a sequence of scalars as strings."""
    if isinstance(node, yamlfile.SequenceNode):
        return tuple(t for t in (_text(item) for item in node.value) if t is not None)
    text = _text(node)
    return (text,) if text is not None else ()


def _variables(node: Node | None) -> dict[str, str]:
    """Literal variable values of an ``env:``/``variables:`` mapping."""
    found: dict[str, str] = {}
    for name, _, value in yamlfile.entries(node):
        text = (
            _text(value)
            if isinstance(value, yamlfile.ScalarNode)
            else _text(yamlfile.get(value, "value"))
        )
        if text is not None:
            found[name] = text
    return found


def _service_images(node: Node | None) -> tuple[str, ...]:
    """Images of a ``services:`` value: GitHub's mapping of ``{image: …}`` (or a bare image),
    GitLab's list of images or ``{name: image}`` items."""
    if isinstance(node, yamlfile.MappingNode):
        values = [value for _, _, value in yamlfile.entries(node)]
        key = "image"
    elif isinstance(node, yamlfile.SequenceNode):
        values, key = list(node.value), "name"
    else:
        return ()
    images = (
        _text(yamlfile.get(value, key)) if isinstance(value, yamlfile.MappingNode) else _text(value)
        for value in values
    )
    return tuple(image for image in images if image)


def _environment_name(node: Node | None) -> str | None:
    if isinstance(node, yamlfile.MappingNode):
        return _text(yamlfile.get(node, "name"))
    return _text(node)


# ---------------------------------------------------------------------------------------------
# GitHub Actions


def _github_steps(
    file: SourceFile,
    steps: Node | None,
    context: _Context,
    raw_lines: Sequence[str],
) -> Iterator[Fact]:
    if not isinstance(steps, yamlfile.SequenceNode):
        return
    # docker/metadata-action steps seen so far in this job, by step id: a later
    # ``tags: ${{ steps.<id>.outputs.tags }}`` pushes the tags they generate
    metadata: dict[str, Node] = {}
    # the job's environment: the workflow's and job's ``env:``, then what each step writes
    # to $GITHUB_ENV for the steps after it; a step's own ``env:`` comes first in that step
    job_env = dict(context.env)
    for index, step in enumerate(steps.value):
        env = {**job_env, **_variables(yamlfile.get(step, "env"))}
        step_context = _Context(
            context.path,
            GITHUB,
            context.workflow,
            context.job_id,
            env,
            context.only_tags,
            written=context.written,  # the job's workspace: a later step may run a file
            budget=context.budget,
            directory=_text(yamlfile.get(step, "working-directory")) or context.directory,
        )
        uses = yamlfile.get(step, "uses")
        uses_text = _text(uses)
        if uses is not None and uses_text:
            yield from _github_uses(file, step, uses, uses_text, index, step_context, metadata)
            step_id = _text(yamlfile.get(step, "id"))
            if step_id and uses_text.split("@", 1)[0].lower() == METADATA_ACTION:
                metadata[step_id] = step
        run = yamlfile.get(step, "run")
        if isinstance(run, yamlfile.ScalarNode):
            yield from _shell_facts(_scalar_pieces(run, raw_lines), step_context, "run")
            # a step with ``if:`` may not run: what it writes leaves its variables unknown
            conditional = yamlfile.get(step, "if") is not None
            for name, value in _github_env_writes(step_context.shell.env_file):
                if name == _ANY_VARIABLE:
                    job_env.clear()  # a program's lines: any variable may have another value
                elif value is None or conditional:
                    job_env.pop(name, None)
                else:
                    job_env[name] = value


_ENV_EXPRESSION = re.compile(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _env_evaluated(text: str, env: dict[str, str]) -> str | None:
    """``text`` with the ``${{ env.NAME }}`` that ``env`` sets replaced (once: GitHub does
    not evaluate the values again), or None when it names none that ``env`` sets."""
    if "env." not in text:
        return None
    evaluated = _ENV_EXPRESSION.sub(lambda match: env.get(match.group(1), match.group(0)), text)
    return evaluated if evaluated != text else None


def _github_uses(
    file: SourceFile,
    step: Node,
    uses: Node,
    uses_text: str,
    index: int,
    context: _Context,
    metadata: dict[str, Node] | None = None,
) -> Iterator[Fact]:
    inputs = tuple(
        StepInput(name, text, _value_location(file.path, value), _env_evaluated(text, context.env))
        for name, _, value in yamlfile.entries(yamlfile.get(step, "with"))
        if (text := _text(value)) is not None
    )
    step_fact = CiStep(
        yamlfile.location(file.path, uses),
        GITHUB,
        context.workflow,
        context.job_id,
        index,
        uses_text,
        _text(yamlfile.get(step, "name")),
        _text(yamlfile.get(step, "id")),
        inputs,
    )
    yield step_fact
    if step_fact.action == "actions/upload-artifact":
        retention = step_fact.input("retention-days")
        path_input = step_fact.input("path")
        name_input = step_fact.input("name")
        kind, seconds, problem = _github_retention(retention)
        yield CiArtifact(
            step_fact.location,
            GITHUB,
            context.workflow,
            context.job_id,
            name_input.value if name_input else "artifact",
            retention.value if retention else None,
            retention.location if retention else None,
            tuple(p.strip() for p in path_input.value.splitlines() if p.strip())
            if path_input
            else (),
            kind,
            seconds,
        )
        if problem is not None:
            yield problem
    if step_fact.action in ("docker/build-push-action", "redhat-actions/push-to-registry"):
        yield from _action_pushes(file, step, step_fact, context, metadata or {})
    image_input = DEPLOY_ACTION_IMAGE_INPUTS.get(step_fact.action)
    if image_input is not None:
        yield from _action_deploys(file, step, step_fact, image_input, context)


# Deploy actions that take the image to run as an input (the action's own input name): the
# job deploys by that reference as ``kubectl set image`` would, and going back re-pulls the
# tag. ``images`` lists one reference per line; the ECS render action writes its ``image``
# into the task definition that amazon-ecs-deploy-task-definition then registers, and a
# rollback to an older task definition revision pulls its tag again. Not listed: Cloud Run
# (google-github-actions/deploy-cloudrun), which resolves the tag to a digest when it
# creates the revision, so routing traffic back to the old revision runs the old image.
DEPLOY_ACTION_IMAGE_INPUTS = {
    "azure/k8s-deploy": "images",
    "azure/webapps-deploy": "images",
    "aws-actions/amazon-ecs-render-task-definition": "image",
}


def _action_deploys(
    file: SourceFile, step: Node, step_fact: CiStep, key: str, context: _Context
) -> Iterator[Fact]:
    """Each image reference a deploy action's input names, at its own position.

    A reference with no tag that still holds a variable (``${{ steps.vars.outputs.IMAGE }}``)
    may carry its tag inside the variable: it is recorded with no reference and no tag, a
    deploy whose image cannot be known, rather than as ``:latest``.
    """
    for piece in _input_lines(file, step, key):  # one reference per line
        written = piece.text.strip()
        expanded = _expand(written, context.env)
        _, tag, digest = split_reference(expanded)
        reference: str | None = _with_default_tag(expanded)
        if tag is None and digest is None and "$" in expanded:
            reference = None
        yield CiImageDeploy(
            Location(file.path, piece.line, piece.column),
            GITHUB,
            context.workflow,
            context.job_id,
            reference,
            split_reference(reference)[1] if reference is not None else None,
            written,
            f"{step_fact.uses} {key}:",
        )


_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")


def _days(digits: str) -> int:
    if len(digits.lstrip("+-0")) > 9:
        return -1 if digits.startswith("-") else 10**9
    return int(digits)


def _github_retention(retention: StepInput | None) -> tuple[str, int | None, Unreadable | None]:
    """How ``retention-days`` reads, the way ``actions/upload-artifact`` reads it.

    The action takes ``parseInt`` of the input (``7 days`` is 7) and fails the step with
    "Invalid retention-days" when that is not a number; 0 means the repository's default.
    """
    if retention is None:
        return RETENTION_DEFAULT, None, None
    if "${{" in retention.value:
        return RETENTION_UNKNOWN, None, None
    match = _LEADING_INTEGER.match(retention.value)
    # parseInt of a number too long for a double is Infinity, which the action clamps to the
    # repository's maximum like any other too-large value: a billion days stands for it.
    days = _days(match.group(1)) if match else None
    if days is None or days < 0:
        problem = Unreadable(
            retention.location,
            "ci",
            f"retention-days '{retention.value}' is not a number of days: "
            "actions/upload-artifact fails the step with 'Invalid retention-days'",
        )
        return RETENTION_UNKNOWN, None, problem
    if days == 0:
        return RETENTION_DEFAULT, None, None
    return RETENTION_SECONDS, days * _DAY, None


def _action_pushes(
    file: SourceFile,
    step: Node,
    step_fact: CiStep,
    context: _Context,
    metadata: dict[str, Node],
) -> Iterator[Fact]:
    """Each tag of ``docker/build-push-action`` (when it pushes), at its own position.

    ``push`` may be an expression (``${{ github.event_name != 'pull_request' }}``, the
    documented way): the action then pushes on some events, so its tags are recorded.
    ``${{ steps.<id>.outputs.tags }}`` of a ``docker/metadata-action`` step of the same job
    is replaced by the tags that step generates (see :func:`_metadata_pushes`).
    """
    with_node = yamlfile.get(step, "with")
    if step_fact.action == "docker/build-push-action":
        push_flag = (step_fact.input("push") or StepInput("", "false", step_fact.location)).value
        if push_flag.strip().lower() != "true" and "${{" not in push_flag:
            return
    tags_node = yamlfile.get(with_node, "tags")
    if not isinstance(tags_node, yamlfile.ScalarNode):
        return
    image_prefix = ""
    if step_fact.action == "redhat-actions/push-to-registry":
        image = step_fact.input("image")
        registry = step_fact.input("registry")
        image_prefix = "/".join(i.value.strip("/") for i in (registry, image) if i) + ":"
    raw_lines = file.lines()
    for piece in _scalar_pieces(tags_node, raw_lines):
        # tags are separated by newlines or commas (the action's own list syntax)
        position = 0
        separators = " " if image_prefix else ","
        for part in re.split(f"[{separators}]", piece.text):
            value = part.strip()
            leading = len(part) - len(part.lstrip())
            output = _METADATA_OUTPUT.fullmatch(value)
            if output is not None and output.group(1) in metadata:
                how = f"{METADATA_ACTION} tags pushed by {step_fact.action}"
                yield from _metadata_pushes(file, metadata[output.group(1)], context, how)
            elif value:
                written = image_prefix + value if image_prefix else value
                reference = _with_default_tag(_expand(written, context.env))
                yield CiImagePush(
                    Location(file.path, piece.line, piece.column + position + leading),
                    GITHUB,
                    context.workflow,
                    context.job_id,
                    reference,
                    value,
                    step_fact.action,
                )
            position += len(part) + 1


METADATA_ACTION = "docker/metadata-action"
_METADATA_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.tags\s*\}\}")

# The tags docker/metadata-action generates, in its own template words: ``{{branch}}`` is the
# branch name, ``{{tag}}`` the Git tag, ``{{sha}}`` the commit, semver/pep440 keep their
# ``pattern`` (``{{version}}``, ``{{major}}.{{minor}}``). Entries used when ``tags`` is unset:
_METADATA_DEFAULT_TAGS = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)
# With ``flavor: latest=auto`` (the default) these types also push ``latest`` on a Git tag.
_LATEST_AUTO_TYPES = frozenset({"semver", "pep440", "match"})
# On a git tag's ref the action's {{branch}} is empty (src/meta.ts, setGlobalExp), and
# ``type=ref,event=branch`` and ``type=edge`` generate nothing (procRefBranch, procEdge).
_METADATA_BRANCH = re.compile(r"\{\{\s*branch\s*\}\}")


def _csv_fields(text: str) -> list[tuple[str, str | None]]:
    """``type=raw,value=x`` → ``[("type", "raw"), ("value", "x")]``.

    The action reads each line as CSV: double quotes protect commas, and so do ``${{ }}``
    expressions (GitHub substitutes them before the action sees the line). A field without
    ``=`` has value ``None``.
    """
    fields: list[tuple[str, str | None]] = []
    start = 0
    quoted = False
    index = 0
    while index <= len(text):
        if index == len(text) or (text[index] == "," and not quoted):
            field_text = text[start:index].strip().replace('"', "")
            if field_text:
                key, sep, value = field_text.partition("=")
                # attribute names are case-insensitive; a bare field (an image name) is not
                fields.append((key.strip().lower(), value.strip()) if sep else (key.strip(), None))
            start = index + 1
        elif text[index] == '"':
            quoted = not quoted
        elif text.startswith("${{", index):
            close = text.find("}}", index)
            index = len(text) - 1 if close < 0 else close + 1
        index += 1
    return fields


def _input_lines(file: SourceFile, step: Node, key: str) -> list[_Piece]:
    """The non-blank, non-comment lines of a list input, each with its position."""
    node = yamlfile.get(yamlfile.get(step, "with"), key)
    if not isinstance(node, yamlfile.ScalarNode):
        return []
    pieces = _scalar_pieces(node, file.lines())
    return [p for p in pieces if p.text.strip() and not p.text.lstrip().startswith("#")]


def _enabled(attributes: Mapping[str, str | None]) -> bool:
    """``enable=false`` turns an entry off; an expression may be true on some runs."""
    return (attributes.get("enable") or "true").strip().lower() != "false"


def _metadata_images(file: SourceFile, step: Node, context: _Context) -> list[str]:
    """The ``images`` input: ``name/app`` or ``name=name/app,enable=…`` per line."""
    images = []
    for piece in _input_lines(file, step, "images"):
        fields = _csv_fields(piece.text)
        attributes = dict(fields)
        name = attributes.get("name") or next((key for key, value in fields if value is None), None)
        if name and _enabled(attributes):
            images.append(_expand(name, context.env))
    return images


def _metadata_tag(attributes: Mapping[str, str | None], bare: str | None) -> str | None:
    """The tag one ``tags`` entry generates, before prefix and suffix; ``None`` for none."""
    kind = (attributes.get("type") or ("raw" if bare else "")).lower()
    if kind == "raw":
        return attributes.get("value") or bare
    if kind == "schedule":
        return attributes.get("pattern") or "nightly"
    if kind in ("semver", "pep440"):
        return attributes.get("pattern") or None
    if kind == "match":
        return "{{match}}"
    if kind == "edge":
        return "edge"
    if kind == "sha":
        return "{{sha}}"
    if kind == "ref":
        event = (attributes.get("event") or "").lower()
        # pull-request tags (``pr-2``) name previews, never a release: not recorded
        return {"branch": "{{branch}}", "tag": "{{tag}}"}.get(event)
    return None


def _metadata_pushes(
    file: SourceFile, step: Node, context: _Context, how: str
) -> Iterator[CiImagePush]:
    """The image references a ``docker/metadata-action`` step generates, one per tag entry.

    Each is located at its ``tags`` line (at the step's ``uses:`` for the action's default
    entries). Prefixes and suffixes apply (``type=sha`` defaults to ``sha-``), and ``latest``
    is added as the ``flavor`` says: ``latest=true`` always (at the flavor line),
    ``latest=auto`` for ``type=semver|pep440|match`` and ``type=ref,event=tag`` entries.
    """
    images = _metadata_images(file, step, context)
    if not images:
        return  # without images the action generates bare tags that name no repository
    flavor: dict[str, str | None] = {}
    flavor_lines: dict[str, _Piece] = {}
    for piece in _input_lines(file, step, "flavor"):
        fields = _csv_fields(piece.text)
        if fields:
            first = fields[0][0]
            flavor_lines[first] = piece
            flavor[first] = fields[0][1]
            for key, value in fields[1:]:
                flavor[f"{first}.{key}"] = value
    entries = _input_lines(file, step, "tags")
    uses = yamlfile.get(step, "uses")
    if not entries and uses is not None:
        where = yamlfile.location(file.path, uses)
        entries = [_Piece(text, where.line, where.column) for text in _METADATA_DEFAULT_TAGS]

    generated: set[str] = set()

    def pushes(tag: str, piece: _Piece) -> Iterator[CiImagePush]:
        # the action outputs each tag once, however many entries produce it
        if tag in generated:
            return
        generated.add(tag)
        for image in images:
            yield CiImagePush(
                Location(file.path, piece.line, piece.column),
                GITHUB,
                context.workflow,
                context.job_id,
                f"{image}:{_expand(tag, context.env)}",
                piece.text.strip(),
                how,
            )

    latest_mode = (flavor.get("latest") or "auto").strip().lower()
    latest_at: _Piece | None = flavor_lines.get("latest") if latest_mode == "true" else None
    for piece in entries:
        fields = _csv_fields(piece.text)
        attributes = {key: value for key, value in fields if value is not None}
        bare = next((key for key, value in fields if value is None), None)
        if not fields or not _enabled(attributes):
            continue
        tag = _metadata_tag(attributes, bare)
        if tag is None:
            continue
        kind = (attributes.get("type") or "raw").lower()
        if context.only_tags and (
            kind == "edge"
            or (kind == "ref" and (attributes.get("event") or "").lower() == "branch")
        ):
            continue  # a job run only for git tags: never on a branch
        # an entry's own prefix/suffix wins over the flavor's; type=sha's default is sha-
        own_prefix, own_suffix = attributes.get("prefix"), attributes.get("suffix")
        if own_prefix is None:
            own_prefix = "sha-" if kind == "sha" else flavor.get("prefix") or ""
        if own_suffix is None:
            own_suffix = flavor.get("suffix") or ""
        generated_tag = own_prefix + tag + own_suffix
        if context.only_tags:
            # the action skips a tag that comes out empty (setVersion)
            generated_tag = _METADATA_BRANCH.sub("", generated_tag)
            if not generated_tag:
                continue
        yield from pushes(generated_tag, piece)
        auto = kind in _LATEST_AUTO_TYPES or (kind == "ref" and attributes.get("event") == "tag")
        if latest_mode == "auto" and auto and latest_at is None:
            latest_at = piece
    if latest_at is not None:
        on_latest = {
            key: (flavor.get(key) or "") if flavor.get(f"{key}.onlatest") == "true" else ""
            for key in ("prefix", "suffix")
        }
        tag = on_latest["prefix"] + "latest" + on_latest["suffix"]
        yield from pushes(tag, latest_at)


def _value_location(path: str, node: Node) -> Location:
    """Where a scalar's text starts (inside quotes, past a block indicator)."""
    location = yamlfile.location(path, node)
    if isinstance(node, yamlfile.ScalarNode) and node.style in ("'", '"'):
        return Location(path, location.line, location.column + 1, location.end_line)
    return location


# Events whose ref is always a tag: a release's GITHUB_REF is ``refs/tags/<tag_name>``.
_GITHUB_TAG_EVENTS = frozenset({"release"})
# A job condition that holds only for tags (``startsWith(github.ref, 'refs/tags/')``).
_GITHUB_TAG_CONDITION = re.compile(
    r"startsWith\(\s*github\.ref\s*,\s*['\"]refs/tags/?['\"]\s*\)"
    r"|github\.ref_type\s*==\s*['\"]tag['\"]"
)


def _github_only_tags(on: Node | None) -> bool:
    """True when every event that starts the workflow is for a git tag.

    A ``push`` filtered by ``tags``/``tags-ignore`` alone runs only for tags: GitHub skips
    the refs of the kind a workflow defines no filter for.
    """
    events: list[tuple[str, Node | None]]
    if isinstance(on, yamlfile.MappingNode):
        events = [(name, value) for name, _, value in yamlfile.entries(on)]
    else:
        events = [(name, None) for name in _strings(on)]
    if not events:
        return False
    for event, settings in events:
        filters = {name for name, _, _ in yamlfile.entries(settings)}
        tag_pushes = (
            event == "push"
            and bool(filters & {"tags", "tags-ignore"})
            and not filters & {"branches", "branches-ignore"}
        )
        if not tag_pushes and event not in _GITHUB_TAG_EVENTS:
            return False
    return True


def _github_job_only_tags(condition: str | None) -> bool:
    """True for a job ``if:`` that requires a tag ref (and offers no ``||`` around it)."""
    return (
        condition is not None
        and "||" not in condition
        and bool(_GITHUB_TAG_CONDITION.search(condition))
    )


def _run_directory(node: Node | None) -> str:
    """The ``defaults: run: working-directory:`` of a GitHub workflow or job, if any."""
    return (
        _text(
            yamlfile.get(yamlfile.get(yamlfile.get(node, "defaults"), "run"), "working-directory")
        )
        or ""
    )


def _read_github(file: SourceFile, document: Node) -> Iterator[Fact]:
    raw_lines = file.lines()
    workflow = file.path
    workflow_only_tags = _github_only_tags(yamlfile.get(document, "on"))
    workflow_env = _variables(yamlfile.get(document, "env"))
    runs = yamlfile.get(document, "runs")
    if runs is not None:  # a composite action: its steps run inside whichever job uses it
        context = _Context(file.path, GITHUB, workflow, "composite", workflow_env)
        yield from _github_steps(file, yamlfile.get(runs, "steps"), context, raw_lines)
        return
    for job_id, key_node, job in yamlfile.entries(yamlfile.get(document, "jobs")):
        only_tags = workflow_only_tags or _github_job_only_tags(_text(yamlfile.get(job, "if")))
        yield CiJob(
            yamlfile.location(file.path, key_node),
            GITHUB,
            workflow,
            job_id,
            _text(yamlfile.get(job, "name")) or job_id,
            _strings(yamlfile.get(job, "needs")),
            (),
            _environment_name(yamlfile.get(job, "environment")),
            None,
            services=_service_images(yamlfile.get(job, "services")),
            only_tags=only_tags,
        )
        env = {**workflow_env, **_variables(yamlfile.get(job, "env"))}
        context = _Context(file.path, GITHUB, workflow, job_id, env, only_tags)
        context.directory = _run_directory(job) or _run_directory(document)
        called = yamlfile.get(job, "uses")
        called_text = _text(called)
        if called is not None and called_text:
            yield from _github_uses(file, job, called, called_text, -1, context)
        yield from _github_steps(file, yamlfile.get(job, "steps"), context, raw_lines)


# ---------------------------------------------------------------------------------------------
# GitLab CI

_GITLAB_GLOBAL_KEYS = frozenset(
    {
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "types",
        "spec",
    }
)


_MAX_NESTING = 10
"""How deep ``extends:`` chains and ``!reference`` tags are followed (GitLab stops at 11
levels of ``extends`` and 10 of ``!reference``)."""

_MAX_SCRIPT_NODES = 100_000
"""How many nodes one ``script:`` value is expanded to at most: ten levels of lists of ten
``!reference`` tags each would be 10¹⁰ script lines."""


def _deep_merge(base: Node, over: Node) -> Node:
    """GitLab's deep merge: two mappings merge key by key at any depth; any other value (a
    list, a scalar, ``null``, a ``!reference`` not resolved yet) is replaced by ``over``.

    The merged mapping is a new node whose entries are the nodes as written (``over``'s key
    node for a key both have), so every value keeps the position of the line it is on.
    """
    if not (isinstance(base, yamlfile.MappingNode) and isinstance(over, yamlfile.MappingNode)):
        return over
    merged = {name: (key, value) for name, key, value in yamlfile.entries(base)}
    for name, key, value in yamlfile.entries(over):
        merged[name] = (key, _deep_merge(merged[name][1], value) if name in merged else value)
    return type(over)(over.tag, list(merged.values()), over.start_mark, over.end_mark)


class _GitLabPipeline:
    """The top-level keys of a GitLab pipeline, with ``extends:`` and ``!reference`` resolved.

    ``files`` are the pipeline's files in GitLab's merge order: the files it includes first
    (each after the files it includes), the including file last. GitLab deep-merges them, the
    later file winning, then resolves ``extends:`` (a reverse deep merge: each parent in
    order, the job's own keys on top) and last ``!reference`` tags, which thus see the
    extended jobs. Every node keeps the file it is written in (:meth:`path_of`).
    """

    def __init__(
        self, files: Sequence[tuple[SourceFile, Node]], node_files: Mapping[int, str] | None = None
    ) -> None:
        # ``node_files``: the file of every node of ``files`` by id (:class:`GitLabMerge`);
        # a pipeline of one file needs none.
        self.path = files[-1][0].path
        self.lines = {file.path: file.lines() for file, _ in files}
        self.entries: dict[str, tuple[Node, Node]] = {}
        self.written_in: dict[str, set[str]] = {}
        """The files that write each top-level key (a job two files define is merged)."""
        for file, document in files:
            for name, key, value in yamlfile.entries(document):
                known = self.entries.get(name)
                self.entries[name] = (key, _deep_merge(known[1], value) if known else value)
                self.written_in.setdefault(name, set()).add(file.path)
        self._paths: Mapping[int, str] = node_files or {}
        self._extended: dict[str, Node | None] = {}
        self._extending: set[str] = set()
        self.reported: set[Location] = set()

    def path_of(self, node: Node) -> str:
        """The file ``node`` is written in."""
        return self._paths.get(id(node), self.path)

    def location(self, node: Node) -> Location:
        """Where ``node`` is written."""
        return yamlfile.location(self.path_of(node), node)

    def job(self, name: str, depth: int = 0) -> Node | None:
        """The top-level entry ``name`` with the jobs it ``extends`` merged in."""
        if name in self._extended:
            return self._extended[name]
        entry = self.entries.get(name)
        own = entry[1] if entry is not None else None
        if not isinstance(own, yamlfile.MappingNode) or depth > _MAX_NESTING:
            return own
        if name in self._extending:
            return None  # a cycle, which GitLab refuses: the job itself is all there is
        self._extending.add(name)
        merged: Node | None = None
        for parent in _strings(yamlfile.get(own, "extends")):
            inherited = self.job(parent, depth + 1)
            if isinstance(inherited, yamlfile.MappingNode):
                merged = inherited if merged is None else _deep_merge(merged, inherited)
        self._extending.discard(name)
        result = own if merged is None else _deep_merge(merged, own)
        self._extended[name] = result
        return result

    def resolved(self, value: Node | None, depth: int = 0) -> Node | None:
        """``value``, or what it names when it is a ``!reference [job, key, …]``."""
        while (
            isinstance(value, yamlfile.SequenceNode)
            and value.tag == "!reference"
            and depth <= _MAX_NESTING
        ):
            path = _strings(value)
            target = self.job(path[0]) if path else None
            for key in path[1:]:
                target = self.resolved(yamlfile.get(target, key), depth + 1)
            value, depth = target, depth + 1
        return None if _is_reference(value) else value

    def get(self, holder: Node | None, key: str) -> Node | None:
        """``key`` of a mapping (a job, once extended), a ``!reference`` resolved."""
        return self.resolved(yamlfile.get(holder, key))

    def rules(self, holder: Node | None) -> list[Node] | None:
        """The ``rules:`` of a job or of ``workflow:``, a ``!reference`` in the list read as
        the rules it names (GitLab flattens them in); ``None`` when there is no list."""
        value = self.get(holder, "rules")
        if not isinstance(value, yamlfile.SequenceNode):
            return None
        found: list[Node] = []
        for item in value.value:
            if _is_reference(item):
                named = self.resolved(item)
                found.extend(named.value if isinstance(named, yamlfile.SequenceNode) else [])
            else:
                found.append(item)
        return found

    def script_items(self, node: Node | None) -> Iterator[ScalarNode]:
        """The script lines of a ``script:`` value: string, list, nested lists, ``!reference``."""
        yield from self._script_items(node, 0, frozenset(), [_MAX_SCRIPT_NODES])

    def _script_items(
        self, node: Node | None, depth: int, expanding: frozenset[int], budget: list[int]
    ) -> Iterator[ScalarNode]:
        # ``expanding``: the lists being expanded (a list that reaches itself through a
        # ``!reference``, which GitLab refuses, is not expanded again); ``budget``: the nodes
        # left to visit, as lists of references to lists of references multiply.
        if depth > _MAX_NESTING or budget[0] <= 0:
            return
        budget[0] -= 1
        node = self.resolved(node)
        if isinstance(node, yamlfile.ScalarNode):
            yield node
        elif isinstance(node, yamlfile.SequenceNode) and id(node) not in expanding:
            inner = expanding | {id(node)}
            for item in node.value:
                yield from self._script_items(item, depth + 1, inner, budget)

    def commands(self, node: Node | None, context: _Context, section: str) -> Iterator[Fact]:
        for item in self.script_items(node):
            path = self.path_of(item)
            pieces = _scalar_pieces(item, self.lines[path])
            here = context if path == context.path else replace(context, path=path)
            yield from _shell_facts(pieces, here, section)

    def artifacts(self, holder: Node | None) -> dict[str, Node] | None:
        """The keys of the ``artifacts:`` of ``holder`` (a job, once extended, or
        ``default:``), without those set to ``null``; ``None`` when it has none, or sets
        ``artifacts: null``."""
        value = self.get(holder, "artifacts")
        if not isinstance(value, yamlfile.MappingNode):
            return None
        return {
            name: entry
            for name, _, entry in yamlfile.entries(value)
            if not _is_null(self.resolved(entry))
        }

    def inherits_default(self, job: Node | None, keyword: str) -> bool:
        """Whether ``inherit: default`` lets the job take ``keyword`` from ``default:``."""
        setting = self.get(self.get(job, "inherit"), "default")
        if isinstance(setting, yamlfile.SequenceNode):
            return keyword in _strings(setting)
        return yamlfile.scalar(setting) is not False

    def artifact(
        self, job_id: str, key_node: Node, artifacts: dict[str, Node], from_default: bool = False
    ) -> Iterator[Fact]:
        """The job's :class:`CiArtifact`, and an :class:`Unreadable` for a bad ``expire_in``
        (once, however many jobs share it)."""
        expire = self.resolved(artifacts.get("expire_in"))
        where = _value_location(self.path_of(expire), expire) if expire is not None else None
        raw, kind, seconds, problem = _gitlab_retention(expire)
        reports = self.resolved(artifacts.get("reports"))
        yield CiArtifact(
            self.location(key_node),
            GITLAB,
            self.path,
            job_id,
            _text(self.resolved(artifacts.get("name"))),
            raw,
            where if kind != RETENTION_DEFAULT else None,
            _strings(self.resolved(artifacts.get("paths"))),
            kind,
            seconds,
            yamlfile.scalar(self.resolved(artifacts.get("untracked"))) is True,
            tuple(name for name, _, _ in yamlfile.entries(reports)),
            from_default,
        )
        if problem is not None and where is not None and where not in self.reported:
            self.reported.add(where)
            yield Unreadable(where, "ci", problem)


def _is_reference(node: Node | None) -> bool:
    return isinstance(node, yamlfile.SequenceNode) and node.tag == "!reference"


def _node_ids(document: Node) -> list[int]:
    """The ids of every node of a tree (one walked through aliases once)."""
    seen: set[int] = set()
    todo = [document]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yamlfile.MappingNode):
            todo.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yamlfile.SequenceNode):
            todo.extend(node.value)
    return list(seen)


def _gitlab_retention(node: Node | None) -> tuple[str | None, str, int | None, str | None]:
    """``expire_in`` as GitLab reads it: (as written, kind, seconds, why GitLab rejects it).

    GitLab accepts only a string (a bare ``42`` or a list fails validation with "should be a
    duration"): ``never``, or a duration ChronicDuration parses to more than zero seconds.
    A null value is the same as leaving the key out.
    """
    if node is None or (isinstance(node, yamlfile.ScalarNode) and yamlfile.scalar(node) is None):
        return None, RETENTION_DEFAULT, None, None
    if not isinstance(node, yamlfile.ScalarNode):
        kind = "a list" if isinstance(node, yamlfile.SequenceNode) else "a mapping"
        return (
            None,
            RETENTION_UNKNOWN,
            None,
            f"artifacts:expire_in is {kind}; GitLab rejects the pipeline "
            "(expire_in should be a duration such as '30 days' or 'never')",
        )
    text = str(node.value)
    if "$[[" in text:
        # a CI/CD input (``$[[ inputs.expiry ]]``), interpolated when the pipeline is created
        return text, RETENTION_UNKNOWN, None, None
    if not isinstance(yamlfile.scalar(node), str):
        return (
            text,
            RETENTION_UNKNOWN,
            None,
            f"artifacts:expire_in is the bare YAML value {text}, not a string; GitLab rejects "
            f"the pipeline (expire_in should be a duration): write '{text} seconds' or "
            "'30 days' in quotes",
        )
    try:
        seconds = parse_expire_in(text)
    except DurationError as error:
        return (
            text,
            RETENTION_UNKNOWN,
            None,
            f"artifacts:expire_in {error}; GitLab rejects the pipeline "
            "(expire_in should be a duration such as '30 days' or 'never')",
        )
    if seconds is None:
        return text, RETENTION_NEVER, None, None
    return text, RETENTION_SECONDS, seconds, None


def _needs(node: Node | None) -> tuple[str, ...]:
    if isinstance(node, yamlfile.SequenceNode):
        names = []
        for item in node.value:
            name = (
                _text(yamlfile.get(item, "job"))
                if isinstance(item, yamlfile.MappingNode)
                else _text(item)
            )
            if name:
                names.append(name)
        return tuple(names)
    return _strings(node)


def _is_null(node: Node | None) -> bool:
    return isinstance(node, yamlfile.ScalarNode) and yamlfile.scalar(node) is None


def _artifacts_from(needs: Node | None, dependencies: Node | None) -> tuple[str, ...] | None:
    """The jobs whose artifacts a GitLab job downloads; ``None`` for every earlier stage's.

    ``dependencies:`` restricts the download (``[]``: none); a ``needs:`` entry downloads its
    job's artifacts unless it says ``artifacts: false``, and ``needs: []`` downloads none.
    Entries of another project or pipeline (``project:``, ``pipeline:``) are not this
    pipeline's jobs.
    """
    refused: set[str] = set()
    wanted: list[str] = []
    for item in needs.value if isinstance(needs, yamlfile.SequenceNode) else []:
        if isinstance(item, yamlfile.MappingNode):
            name = _text(yamlfile.get(item, "job"))
            foreign = yamlfile.get(item, "project") is not None or (
                yamlfile.get(item, "pipeline") is not None
            )
            if name is None or foreign:
                continue
            if yamlfile.scalar(yamlfile.get(item, "artifacts")) is False:
                refused.add(name)
                continue
        else:
            name = _text(item)
            if name is None:
                continue
        wanted.append(name)
    if dependencies is not None and not _is_null(dependencies):
        return tuple(name for name in _strings(dependencies) if name not in refused)
    if isinstance(needs, yamlfile.SequenceNode):
        return tuple(wanted)
    return None


def _key_of(holder: Node | None, name: str) -> Node | None:
    """The key node of ``name`` in a mapping, merge keys followed (for positions)."""
    for key_name, key, _ in yamlfile.entries(holder):
        if key_name == name:
            return key
    return None


def _gitlab_rules_only_tags(rules: Sequence[Node] | None) -> bool:
    """True when the rules can run the job, and only in tag pipelines.

    GitLab takes the first rule that matches. In a pipeline that is not for a tag, each
    rule's ``if:`` is judged by :func:`gitlab_conditions.without_tag`: a rule whose condition
    cannot hold there is passed over; a ``when: never`` rule whose condition always holds
    there (and that has no ``changes:`` or ``exists:``) leaves the job out of every such
    pipeline, whatever follows; a ``when: never`` rule that may match decides nothing yet; any
    other rule that may match may run the job without a tag.
    """
    if rules is None:
        return False
    runs = any(
        not isinstance(rule, yamlfile.MappingNode) or _text(yamlfile.get(rule, "when")) != "never"
        for rule in rules
    )
    for rule in rules:
        if not isinstance(rule, yamlfile.MappingNode):
            return False
        condition = yamlfile.get(rule, "if")
        text = _text(condition)
        truth = True if condition is None else (None if text is None else without_tag(text))
        if truth is not False and any(
            yamlfile.get(rule, key) is not None for key in ("changes", "exists")
        ):
            truth = None
        if _text(yamlfile.get(rule, "when")) == "never":
            if truth is True:
                return runs
        elif truth is not False:
            return False
    return runs


def _gitlab_only_tags(rules: Sequence[Node] | None, only: Node | None) -> bool:
    """True for a job that runs only in tag pipelines: its ``rules:`` or ``only: [tags]``."""
    if rules is not None:
        return _gitlab_rules_only_tags(rules)
    refs = _strings(yamlfile.get(only, "refs") if isinstance(only, yamlfile.MappingNode) else only)
    return refs == ("tags",)


def _may_be_included(rules: Node | None) -> bool:
    """Whether an include's ``rules:`` can include its file.

    GitLab evaluates them when it creates the pipeline (gitlab-org/gitlab!122810): the first
    rule that matches decides (``when: never`` leaves the file out; ``always``, ``null`` or
    no ``when:`` includes it), and none matching leaves it out. An ``if:`` depends on the
    run's variables, ``exists:`` and ``changes:`` on its commit and the project's files:
    backout cannot know them, so such a rule may match, and the file counts as included
    when a rule that may match includes it. A rule without a condition always matches: the
    rules after it never apply.
    """
    if not isinstance(rules, yamlfile.SequenceNode) or not rules.value:
        return True  # none (or a ``!reference`` to them): not judged
    for rule in rules.value:
        if not isinstance(rule, yamlfile.MappingNode):
            return True
        if _text(yamlfile.get(rule, "when")) != "never":
            return True
        if all(yamlfile.get(rule, key) is None for key in ("if", "exists", "changes")):
            return False
    return False


def _local_includes(node: Node | None) -> Iterator[tuple[str, bool]]:
    """The local files an ``include:`` names, each with whether its entry includes it only in
    tag pipelines: a string (local unless a URL), ``local:`` entries, or a list of either;
    ``project:``, ``remote:``, ``template:`` and ``component:`` name files outside the
    repository. A path with a ``$VARIABLE`` cannot be known here. An entry with ``rules:``
    counts unless they can never include it (:func:`_may_be_included`); it includes the file
    only for tags when every rule that can include it requires ``$CI_COMMIT_TAG``, as a job's
    ``rules:`` would run the job only for tags."""
    items = node.value if isinstance(node, yamlfile.SequenceNode) else [node]
    for item in items:
        only_tags = False
        if isinstance(item, yamlfile.MappingNode):
            rules = yamlfile.get(item, "rules")
            if not _may_be_included(rules):
                continue
            if isinstance(rules, yamlfile.SequenceNode):
                only_tags = _gitlab_rules_only_tags(rules.value)
            path = _text(yamlfile.get(item, "local"))
        else:
            path = _text(item)
            if path is not None and re.match(r"[a-z][a-z0-9+.-]*://", path, re.I):
                continue  # include:remote
        if path and "$" not in path:
            yield path.lstrip("/"), only_tags


def _gitlab_includes(file: SourceFile, document: Node) -> Iterator[GitLabIncludes]:
    """The local files a GitLab file's ``include:`` names, located at the key."""
    include_key = yamlfile.key_node(document, "include")
    if include_key is not None:
        included = list(_local_includes(yamlfile.get(document, "include")))
        yield GitLabIncludes(
            yamlfile.location(file.path, include_key),
            file.path,
            tuple(path for path, _ in included),
            tuple(only_tags for _, only_tags in included),
        )


def _reads_as_pipeline(document: Node, known: bool) -> bool:
    """Whether a YAML document is read as a GitLab pipeline of its own when no other file
    includes it: one of a file named as a pipeline, or one with jobs or local includes."""
    return (
        known
        or _looks_like_gitlab_jobs(document)
        # a file included only to include others (``ci/all.yml``: ``include: ci/*.yml``)
        or any(_local_includes(yamlfile.get(document, "include")))
    )


class GitLabMerge:
    """Reads GitLab pipelines made of several files, as GitLab merges them (see
    :func:`backout.sources.gitlab_includes.link_included_pipelines`).

    Each file is parsed, and its nodes indexed by the file they are written in, once for all
    the pipelines that include it: a template file that ten pipelines include is not read ten
    times. The node trees are kept (their ids index them) for as long as the object is.
    """

    def __init__(self) -> None:
        self._documents: dict[str, list[tuple[SourceFile, Node]]] = {}
        self._indexed: set[str] = set()
        self._node_files: dict[int, str] = {}

    def _parsed(self, path: str, data: bytes | SourceFile) -> list[tuple[SourceFile, Node]]:
        documents = self._documents.get(path)
        if documents is None:
            file = data if isinstance(data, SourceFile) else SourceFile(path, data)
            parsed = yamlfile.yaml_documents(file, "ci")
            # A file that is no YAML was reported (or not) when the reader read it.
            documents = [
                (file, document)
                for document in ([] if isinstance(parsed, Unreadable) else parsed)
                if isinstance(document, yamlfile.MappingNode)
            ]
            self._documents[path] = documents
        return documents

    def _indexed_documents(
        self, path: str, data: bytes | SourceFile
    ) -> list[tuple[SourceFile, Node]]:
        """The file's documents, each node of them indexed by the file (once)."""
        documents = self._parsed(path, data)
        if path not in self._indexed:
            self._indexed.add(path)
            for _, document in documents:
                self._node_files.update(dict.fromkeys(_node_ids(document), path))
        return documents

    def file_facts(self, path: str, data: bytes | SourceFile) -> list[Fact]:
        """The facts of a GitLab file that no pipeline includes and that includes no file
        (or none there is): each of its documents with jobs or includes, read as a pipeline
        of its own; none for a file of templates only."""
        known = is_gitlab_pipeline(path)
        return [
            fact
            for file, document in self._parsed(path, data)
            if _reads_as_pipeline(document, known)
            for fact in _pipeline_facts(_GitLabPipeline([(file, document)]))
        ]

    def pipeline_facts(
        self,
        files: Sequence[tuple[str, bytes | SourceFile]],
        owned: Collection[str] | None = None,
        only_for_tags: Collection[str] = (),
    ) -> list[Fact] | None:
        """The facts of one GitLab pipeline made of several files, as GitLab merges them.

        ``files`` are ``(path, content)`` in merge order (the content as bytes, or the file
        the reader read, its parse cached): every file after the files it
        includes, the pipeline's own file last; facts carry its path as ``workflow`` and the
        position where each value is written, in whichever file that is. ``owned``: the
        files whose jobs count (the others are counted in another pipeline that includes them
        too); all by default. ``only_for_tags``: the files merged only in tag pipelines (an
        include's ``rules:``), whose jobs run only for tags. ``None`` when the pipeline's own
        file is not YAML.
        """
        documents = [entry for path, data in files for entry in self._indexed_documents(path, data)]
        if not documents or documents[-1][0].path != files[-1][0]:
            return None
        pipeline = _GitLabPipeline(documents, self._node_files)
        return list(_pipeline_facts(pipeline, owned, only_for_tags))


def _pipeline_facts(
    pipeline: _GitLabPipeline,
    owned: Collection[str] | None = None,
    only_for_tags: Collection[str] = (),
) -> Iterator[Fact]:
    top = {name: value for name, (_, value) in pipeline.entries.items()}
    pipeline_only_tags = _gitlab_rules_only_tags(pipeline.rules(top.get("workflow")))
    workflow = pipeline.path
    global_env = _variables(pipeline.resolved(top.get("variables")))
    default = pipeline.resolved(top.get("default"))
    for section in ("before_script", "after_script"):
        for node in (top.get(section), yamlfile.get(default, section)):
            shell = _Context(workflow, GITLAB, workflow, "default", dict(global_env))
            yield from pipeline.commands(node, shell, section)
    default_artifacts = pipeline.artifacts(default)
    default_key = _key_of(default, "artifacts")
    inherited = False
    for job_id, (key_node, value) in pipeline.entries.items():
        if (
            job_id in _GITLAB_GLOBAL_KEYS
            or job_id.startswith(".")
            or not isinstance(value, yamlfile.MappingNode)
        ):
            continue
        if owned is not None and pipeline.path_of(key_node) not in owned:
            continue
        job = pipeline.job(job_id)
        if pipeline.get(job, "script") is None and pipeline.get(job, "trigger") is None:
            continue  # not a job (GitLab requires one of these)
        needs, dependencies = pipeline.get(job, "needs"), pipeline.get(job, "dependencies")
        yield CiJob(
            pipeline.location(key_node),
            GITLAB,
            workflow,
            job_id,
            job_id,
            _needs(needs),
            _strings(dependencies),
            _environment_name(pipeline.get(job, "environment")),
            _text(pipeline.get(job, "stage")) or "test",
            _artifacts_from(needs, dependencies),
            services=_service_images(
                pipeline.get(job, "services")
                or pipeline.get(default, "services")
                or pipeline.resolved(top.get("services"))
            ),
            only_tags=pipeline_only_tags
            # every file that writes the job is merged only in tag pipelines
            or pipeline.written_in[job_id].issubset(only_for_tags)
            or _gitlab_only_tags(pipeline.rules(job), pipeline.get(job, "only")),
        )
        env = {**global_env, **_variables(pipeline.get(job, "variables"))}
        # before_script and script run in one shell, after_script in another
        context = _Context(workflow, GITLAB, workflow, job_id, dict(env))
        if _key_of(job, "before_script") is None and pipeline.inherits_default(
            job, "before_script"
        ):
            # the default's (or the top level's) runs first in this shell: what it assigns
            # holds in the script; its facts are the pipeline's, read once above
            inherited_before = yamlfile.get(default, "before_script")
            if inherited_before is None:
                inherited_before = top.get("before_script")
            for _ in pipeline.commands(inherited_before, context, "before_script"):
                pass
        for section in ("before_script", "script"):
            yield from pipeline.commands(yamlfile.get(job, section), context, section)
        after = _Context(
            workflow,
            GITLAB,
            workflow,
            job_id,
            dict(env),
            written=context.written,  # the same working directory
            budget=context.budget,
        )
        yield from pipeline.commands(yamlfile.get(job, "after_script"), after, "after_script")
        artifacts = pipeline.artifacts(job)
        artifacts_key = _key_of(job, "artifacts")
        if artifacts is not None and artifacts_key is not None:
            yield from pipeline.artifact(job_id, artifacts_key, artifacts)
        elif (
            default_artifacts is not None
            and default_key is not None
            and pipeline.inherits_default(job, "artifacts")
        ):
            inherited = True
            yield from pipeline.artifact(job_id, default_key, default_artifacts, from_default=True)
    if default_artifacts is not None and default_key is not None and not inherited:
        # no job takes them, but GitLab still rejects a pipeline whose expire_in it cannot read
        problems = pipeline.artifact("default", default_key, default_artifacts, from_default=True)
        yield from (fact for fact in problems if isinstance(fact, Unreadable))


# ---------------------------------------------------------------------------------------------
# Readers


def _looks_like_gitlab_jobs(document: Node) -> bool:
    """True for a mapping with a GitLab job in it (a ``script:`` or ``trigger:``), not a manifest.

    This is how an included file (``include: local: ci/deploy.yml``) is recognised: GitLab
    merges it into the pipeline, so its jobs run as the including pipeline's jobs.
    """
    if (
        not isinstance(document, yamlfile.MappingNode)
        or yamlfile.get(document, "apiVersion") is not None
    ):
        return False
    return any(
        name not in _GITLAB_GLOBAL_KEYS
        and isinstance(job, yamlfile.MappingNode)
        and (yamlfile.get(job, "script") is not None or yamlfile.get(job, "trigger") is not None)
        for name, _, job in yamlfile.entries(document)
    )


def _holds_gitlab_templates(document: Node) -> bool:
    """True for a mapping with a hidden GitLab job (``.deploy: {…}``), not a manifest: a file
    of templates that a pipeline includes for its jobs to ``extends:`` or ``!reference``."""
    if yamlfile.get(document, "apiVersion") is not None:
        return False
    return any(
        name.startswith(".") and isinstance(value, yamlfile.MappingNode)
        for name, _, value in yamlfile.entries(document)
    )


class CiReader:
    """GitHub Actions workflows and composite actions, and GitLab CI pipelines.

    GitLab files a pipeline includes (``include: local:``) may live anywhere: any other YAML
    file whose content has GitLab jobs is read as a GitLab pipeline too, so deploys and
    rollback drills in included files count. A broken YAML file found that way is not this
    reader's to report (the manifest reader judges YAML files in general).

    A GitLab file gives only its includes and its content here: whether another file includes
    it is known once every file is read, and its jobs are read then, once
    (:func:`backout.sources.gitlab_includes.link_included_pipelines`).
    """

    name: ClassVar[str] = "ci"

    def wants(self, path: str) -> bool:
        """Workflow, composite-action and GitLab pipeline files, and YAML GitLab may include."""
        return is_ci_file(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """Jobs, steps, shell lines, artifacts, pushes and deploys of a GitHub workflow; a
        GitLab file's includes and content."""
        known = (
            is_github_workflow(file.path)
            or is_composite_action(file.path)
            or is_gitlab_pipeline(file.path)
        )
        documents = yamlfile.yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            return [documents] if known else []
        gitlab = is_gitlab_pipeline(file.path) or not known
        facts: list[Fact] = []
        part_of_gitlab = False
        for document in documents:
            if not isinstance(document, yamlfile.MappingNode):
                continue
            if not gitlab:
                facts.extend(_read_github(file, document))
            elif _reads_as_pipeline(document, known):
                facts.extend(_gitlab_includes(file, document))
                part_of_gitlab = True
            elif _holds_gitlab_templates(document):
                part_of_gitlab = True  # hidden jobs only: what other files' jobs extend
        if part_of_gitlab:
            # its jobs are read once every file is read: with the files of its pipeline
            facts.append(GitLabFile(Location(file.path, 1, 0), file.data, file))
        return facts


class ScriptReader:
    """Shell scripts and Makefiles: the same command reading as pipelines, provider ``script``."""

    name: ClassVar[str] = "script"

    def wants(self, path: str) -> bool:
        """``*.sh``, ``*.bash``, ``*.mk`` and Makefiles."""
        return is_script(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """A :class:`CiCommand` per logical line, and what the lines push, deploy or keep."""
        if file.text() is None:
            error = file.decode_error()
            return [error] if error is not None else []
        pieces = []
        for number, raw in enumerate(file.lines(), start=1):
            content = raw.lstrip(" \t")
            if content[:1] in ("@", "-") and raw[:1] == "\t":  # make's silent/ignore prefixes
                content = content[1:]
            pieces.append(_Piece(content, number, len(raw) - len(content) + 1))
        # make's lines are no shell's assignments, and each recipe line has its own shell
        shell_script = file.path.endswith((".sh", ".bash"))
        context = _Context(file.path, SCRIPT, file.path, "", {}, assigns=shell_script)
        return list(_shell_facts(pieces, context, "script"))
