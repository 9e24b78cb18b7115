"""GitLab ``include:`` of local files: which pipeline a job of an included file belongs to.

GitLab merges every file a pipeline includes (``include: 'ci/deploy.yml'``,
``include: [{local: /ci/deploy.yml}]``, wildcards ``ci/*.yml``, nested includes) into one
pipeline, so a deploy job in ``ci/deploy.yml`` and the build job in ``.gitlab-ci.yml`` whose
artifacts it downloads are jobs of the same pipeline. Readers see one file at a time: the CI
reader records each file's local includes as a :class:`GitLabIncludes` fact, and
:func:`link_included_pipelines`, run once on the facts after every file is read, sets the
``workflow`` of each GitLab fact of an included file to the pipeline file that includes it.

A light module (no YAML, no CI reader): the engine calls it for every check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from backout.sources.base import Fact, FactSet

GITLAB = "gitlab"


@dataclass(frozen=True)
class GitLabIncludes(Fact):
    """The local files a GitLab pipeline file includes, located at its ``include:`` key.

    ``patterns`` are paths from the repository root (a leading ``/`` removed), possibly with
    GitLab's wildcards: ``*`` within a directory, ``**`` across directories. ``only_tags`` is
    True when the file's ``workflow: rules:`` runs the whole pipeline only for tags, which then
    holds for the jobs of the files it includes too.
    """

    workflow: str
    patterns: tuple[str, ...] = ()
    only_tags: bool = False


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    """GitLab's ``include:local`` wildcards: ``*`` in one directory, ``**`` through any."""
    parts = re.split(r"(\*\*|\*)", glob)
    return re.compile(
        "".join(".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts)
    )


def included_paths(includes: GitLabIncludes, paths: set[str]) -> list[str]:
    """The files of ``paths`` that ``includes`` names, sorted."""
    found: set[str] = set()
    for glob in includes.patterns:
        if "*" not in glob:
            if glob in paths:
                found.add(glob)
            continue
        pattern = _pattern(glob)
        found.update(path for path in paths if pattern.fullmatch(path))
    found.discard(includes.workflow)
    return sorted(found)


def link_included_pipelines(facts: FactSet) -> None:
    """Give every GitLab fact of an included file the ``workflow`` of the pipeline file that
    includes it (through nested includes; the first in path order when several do), and to its
    jobs the ``only_tags`` of that pipeline's ``workflow: rules:``."""
    includes = facts.of(GitLabIncludes)
    if not includes:
        return
    by_file = {fact.workflow: fact for fact in includes}
    parents: dict[str, str] = {}
    for fact in sorted(includes, key=lambda f: f.workflow):
        for path in included_paths(fact, facts.paths):
            parents.setdefault(path, fact.workflow)
    if not parents:
        return

    def root_of(path: str) -> str:
        seen = {path}
        while path in parents and parents[path] not in seen:
            path = parents[path]
            seen.add(path)
        return path

    roots = {path: root_of(path) for path in parents}

    def relink(fact: Fact) -> Fact:
        workflow = getattr(fact, "workflow", None)
        if getattr(fact, "provider", None) != GITLAB or workflow not in roots:
            return fact
        root = roots[workflow]
        if root == workflow:
            return fact
        changes: dict[str, object] = {"workflow": root}
        pipeline = by_file.get(root)
        if pipeline is not None and pipeline.only_tags and hasattr(fact, "only_tags"):
            changes["only_tags"] = True
        return replace(fact, **changes)  # type: ignore[arg-type]

    facts.replace_each(relink)
