"""GitLab ``include:`` of local files: one pipeline read from several files.

GitLab merges every file a pipeline includes (``include: 'ci/deploy.yml'``,
``include: [{local: /ci/deploy.yml}]``, wildcards ``ci/*.yml``, nested includes) into one
pipeline before it reads a job: a deploy job in ``ci/deploy.yml`` and the build job in
``.gitlab-ci.yml`` whose artifacts it downloads are jobs of the same pipeline, and a job may
``extends:`` a template, or take a ``!reference [.template, script]``, from another file.
An include's ``rules:`` decide, when GitLab creates the pipeline, whether the file is merged
at all: the jobs of a file included only ``if: $CI_COMMIT_TAG`` (directly, or through a file
so included) exist only in tag pipelines.

Readers see one file at a time, and a file cannot tell whether another includes it: the CI
reader records each GitLab file's local includes as a :class:`GitLabIncludes` fact and its
content as a :class:`GitLabFile` fact, and reads no job yet. :func:`link_included_pipelines`,
run once on the facts after every file is read, reads each pipeline that includes files with
all its files merged as GitLab merges them, and every other GitLab file on its own
(:class:`backout.sources.ci.GitLabMerge`: each file parsed once, however many pipelines
include it): every job is read once.

A light module (no YAML): the engine runs the step whenever the CI reader is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from backout.sources.base import Fact, FactSet, SourceFile, Unreadable

GITLAB = "gitlab"


@dataclass(frozen=True)
class GitLabIncludes(Fact):
    """The local files a GitLab pipeline file includes, located at its ``include:`` key.

    ``patterns`` are paths from the repository root (a leading ``/`` removed), possibly with
    GitLab's wildcards: ``*`` within a directory, ``**`` across directories, in the order the
    file lists them. ``only_tags`` holds, for each pattern, whether its entry's ``rules:``
    include the file only in tag pipelines (every rule that can include it requires
    ``$CI_COMMIT_TAG``).
    """

    workflow: str
    patterns: tuple[str, ...] = ()
    only_tags: tuple[bool, ...] = ()


@dataclass(frozen=True, repr=False)
class GitLabFile(Fact):
    """A file the CI reader found to be GitLab CI (jobs, templates, includes), with its
    content: what :func:`link_included_pipelines` reads the file's jobs from, in the pipeline
    that includes it or on its own. Dropped once the step has run."""

    data: bytes
    file: SourceFile | None = field(default=None, compare=False)
    """The file as the reader had it, its YAML parsed, when it was read in this process: the
    merge uses its nodes rather than parse it again. Not sent from a pool's worker (a
    parsed tree costs more to pickle than to parse again)."""

    def __repr__(self) -> str:
        return f"GitLabFile({self.location.path!r}, {len(self.data)} bytes)"

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "file": None}


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    """GitLab's ``include:local`` wildcards: ``*`` in one directory, ``**`` through any."""
    parts = re.split(r"(\*\*|\*)", glob)
    return re.compile(
        "".join(".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts)
    )


def included_paths(
    includes: GitLabIncludes, paths: set[str], for_branches: bool = False
) -> list[str]:
    """The files of ``paths`` that ``includes`` names, in the order GitLab merges them: as
    the file lists them, a wildcard's matches in path order, each file once.
    ``for_branches``: only those an entry may include in a branch pipeline (not only for
    tags)."""
    found: dict[str, None] = {}
    for at, glob in enumerate(includes.patterns):
        if for_branches and at < len(includes.only_tags) and includes.only_tags[at]:
            continue
        if "*" not in glob:
            if glob in paths:
                found[glob] = None
            continue
        pattern = _pattern(glob)
        found.update(dict.fromkeys(sorted(path for path in paths if pattern.fullmatch(path))))
    found.pop(includes.workflow, None)
    return list(found)


class IncludingPipeline(NamedTuple):
    """A pipeline that includes files (:func:`pipelines`)."""

    order: list[str]
    """Every file of it in GitLab's merge order, each after the files it includes, its own
    file last."""
    owned: set[str]
    """The files whose jobs it owns."""
    only_for_tags: set[str]
    """The files merged into it only in tag pipelines: an include's ``rules:`` require
    ``$CI_COMMIT_TAG`` on every way to them, in this pipeline and in every other pipeline
    that merges them (its jobs run wherever a pipeline merges the file)."""


def pipelines(facts: FactSet) -> dict[str, IncludingPipeline]:
    """Each pipeline that includes files, by its file.

    A pipeline's file is one that includes files and that no other file includes (or, in a
    cycle of includes, which GitLab refuses, the first of the cycle in path order). Every
    file a pipeline includes is merged into it, so its jobs can extend a template of a file
    that another pipeline includes too; the jobs a file defines are counted once, in the
    first pipeline in path order that includes it.
    """
    includes = facts.of(GitLabIncludes)
    children = {fact.workflow: included_paths(fact, facts.paths) for fact in includes}
    branch_children = {
        fact.workflow: included_paths(fact, facts.paths, for_branches=True) for fact in includes
    }
    included = {child for listed in children.values() for child in listed}
    candidates = sorted(children, key=lambda path: (path in included, path))
    read: list[tuple[str, list[str], set[str], set[str]]] = []
    owned: set[str] = set()
    for root in candidates:
        if root in owned:
            continue
        order: list[str] = []
        _visit(root, children, order, set())
        if len(order) > 1:
            own = set(order) - owned
            owned.update(own)
            for_branches: list[str] = []
            _visit(root, branch_children, for_branches, set())
            read.append((root, order, own, set(for_branches)))
    # A file's jobs are read in one pipeline, but run in every pipeline that merges it: they
    # are tag jobs only when no other pipeline merges the file on branches either. Only a
    # file named as a pipeline (``nightly.gitlab-ci.yml``) counts as one here: a fragment
    # that no file includes is more likely included from another project than run.
    return {
        root: IncludingPipeline(
            order,
            own,
            set(order)
            - branches
            - {
                path
                for other, _, _, reached in read
                if other != root and _named_as_pipeline(other)
                for path in reached
            },
        )
        for root, order, own, branches in read
    }


def _named_as_pipeline(path: str) -> bool:
    return path.rpartition("/")[2].endswith((".gitlab-ci.yml", ".gitlab-ci.yaml"))


def _visit(path: str, children: dict[str, list[str]], order: list[str], seen: set[str]) -> None:
    """Append to ``order`` the files ``path`` includes (depth first), then ``path``."""
    if path in seen:
        return
    seen.add(path)
    for child in children.get(path, ()):
        _visit(child, children, order, seen)
    order.append(path)


def link_included_pipelines(facts: FactSet) -> None:
    """Read the jobs of every GitLab file, each once: a pipeline that includes files with
    all its files merged, any other file on its own."""
    contents = {fact.location.path: fact.file or fact.data for fact in facts.of(GitLabFile)}
    facts.retain(lambda fact: not isinstance(fact, GitLabFile))
    if not contents:
        return
    from backout.sources.ci import GitLabMerge  # loaded: it made the facts

    merge = GitLabMerge()  # each file parsed once, however many pipelines include it
    read_together: list[Fact] = []
    members: set[str] = set()
    for root, (order, owned, only_for_tags) in pipelines(facts).items():
        files = [(path, contents[path]) for path in order if path in contents]
        together = merge.pipeline_facts(files, owned, only_for_tags) if root in contents else None
        if together is not None:
            members.update(path for path, _ in files)
            read_together.extend(together)
    alone = [
        fact
        for path, content in contents.items()
        if path not in members
        for fact in merge.file_facts(path, content)
    ]
    # A bad value that the jobs of two pipelines take from one file is reported once.
    reported: set[Unreadable] = set()
    for fact in (*alone, *read_together):
        if isinstance(fact, Unreadable):
            if fact in reported:
                continue
            reported.add(fact)
        facts.add(fact)


def pipeline_files_changed(changed: set[str], *releases: FactSet) -> set[str]:
    """The files of every pipeline, in any of ``releases`` (the head and the base), that
    includes files one of which is in ``changed``: the pipeline is read as one (a template
    changed in ``ci/templates.yml`` changes what a job of ``.gitlab-ci.yml`` deploys), so
    ``--base`` counts all its files as changed. The base's pipelines count too: a file that
    only the base included (deleted, or moved out of ``ci/*.yml``) changed what the
    pipeline's other files run."""
    found: set[str] = set()
    for facts in releases:
        for order, _, _ in pipelines(facts).values():
            if not changed.isdisjoint(order):
                found.update(order)
    return found
