"""Dockerfiles: the images a build starts from (``FROM``) or copies out of (``COPY --from``).

Which files: ``Dockerfile``, ``Containerfile``, ``*.Dockerfile`` and ``Dockerfile.*`` (except
``Dockerfile.dockerignore``, BuildKit's per-Dockerfile ignore file).

What counts as an external image: the image of every ``FROM`` and of ``COPY --from=<image>``,
except ``scratch`` (no image at all), earlier stage names (``FROM build``, ``COPY --from=build``,
matched case-insensitively as BuildKit does) and stage numbers (``--from=0``). Variables are
substituted as BuildKit does for ``FROM``: from the ``ARG``s declared before the first
``FROM``, with their defaults (each default expanded with the ``ARG``s above it); a variable
with no default comes from ``--build-arg`` and is recorded as ``unresolved``. Line
continuations, the ``# escape=`` directive and heredocs (``RUN <<EOF``) are followed, so
positions are exact and heredoc bodies are never read as instructions.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

from backout.lines import position, split_lines
from backout.models import Location
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.images import (
    ImageUse,
    InterpolationTooLong,
    PinEdit,
    digest_offset,
    interpolate,
    suffix_edit,
)
from backout.sources.paths import is_dockerfile

_ESCAPE_DIRECTIVE = re.compile(r"#\s*escape\s*=\s*([\\`])\s*$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"#\s*[a-zA-Z]+\s*=")
_HEREDOC = re.compile(r"(?<!<)<<-?\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")
_ARG_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Instruction:
    keyword: str
    tokens: tuple[_Token, ...]


def _escape_char(lines: list[str]) -> str:
    # Parser directives are only recognised at the very top, before any other line.
    for line in lines:
        match = _ESCAPE_DIRECTIVE.match(line.strip())
        if match:
            return match.group(1)
        if not _DIRECTIVE.match(line.strip()):
            break
    return "\\"


def _instructions(text: str) -> Iterator[_Instruction]:
    """Logical instructions with tokens located by character offset in ``text``."""
    lines = split_lines(text, keepends=True)
    escape = _escape_char(lines)
    offset, index = 0, 0
    heredoc_ends: list[str] = []
    pieces: list[tuple[str, int]] = []
    while index < len(lines):
        line = lines[index]
        start = offset
        offset += len(line)
        index += 1
        body = line.rstrip("\r\n")
        if heredoc_ends:
            if body.strip() == heredoc_ends[0]:
                heredoc_ends.pop(0)
            continue
        stripped = body.lstrip()
        if not pieces and (not stripped or stripped.startswith("#")):
            continue
        if pieces and (not stripped or stripped.startswith("#")):
            continue  # BuildKit drops blank and comment lines inside a continued instruction
        continues = body.rstrip().endswith(escape)
        if continues:
            body = body.rstrip()[:-1]
        pieces.append((body, start))
        if continues and index < len(lines):
            continue
        instruction = _tokenise(pieces)
        pieces = []
        if instruction is not None:
            heredoc_ends.extend(
                match.group(2)
                for token in instruction.tokens
                for match in _HEREDOC.finditer(token.text)
            )
            yield instruction


def _tokenise(pieces: list[tuple[str, int]]) -> _Instruction | None:
    tokens: list[_Token] = []
    for body, base in pieces:
        for match in re.finditer(r"\S+", body):
            tokens.append(_Token(match.group(), base + match.start(), base + match.end()))
    if not tokens:
        return None
    return _Instruction(tokens[0].text.upper(), tuple(tokens[1:]))


# Longer than any image reference (a name is at most 255 characters, a tag 128): a default
# that expands past this plus its own length is not worked out, so ARGs that each name the
# one before twice cannot double their way to gigabytes.
MAX_ARG_GROWTH = 4096
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _meta_arg_value(default: str | None, earlier: dict[str, str | None]) -> str | None:
    """An ``ARG`` default before the first ``FROM``, expanded with the ``ARG``s before it.

    BuildKit does this (``buildMetaArgs`` in dockerfile2llb): ``ARG REGISTRY=docker.io`` then
    ``ARG BASE=${REGISTRY}/library/python:3.12`` gives ``BASE`` the whole reference. A default
    that uses a variable without a value depends on ``--build-arg``: ``None``, like an ``ARG``
    without a default. Raises :class:`InterpolationTooLong` past :data:`MAX_ARG_GROWTH`.
    """
    if default is None:
        return None
    written = default.strip("\"'")
    limit = len(written) + MAX_ARG_GROWTH
    expanded = interpolate(written, earlier, dollar_escape=False, limit=limit)
    return None if expanded.unresolved else expanded.value


def _too_long_from(
    path: str, text: str, instruction: _Instruction, too_long: Collection[str]
) -> Unreadable | None:
    """BK901 for a ``FROM`` whose image uses an ARG in ``too_long``, else ``None``."""
    words = [t for t in instruction.tokens if not t.text.startswith("--")]
    if not words:
        return None
    used = [n for n in _VARIABLE.findall(words[0].text) if n in too_long]
    if not used:
        return None
    return Unreadable(
        _location(path, text, words[0]),
        "dockerfile",
        f"FROM {words[0].text[:60]}: ARG {used[0]} expands to more than {MAX_ARG_GROWTH:,} "
        "characters beyond what is written, longer than any image reference, so the base "
        "image is not known",
    )


def _location(path: str, text: str, token: _Token) -> Location:
    line, column = position(text, token.start)
    return Location(path, line, column, 0, column + (token.end - token.start))


class DockerfileReader:
    """Reads Dockerfiles into :class:`ImageUse` facts (``source="dockerfile"``)."""

    name: ClassVar[str] = "dockerfile"

    def wants(self, path: str) -> bool:
        """``Dockerfile``, ``Containerfile``, ``*.Dockerfile``, ``Dockerfile.*``."""
        return is_dockerfile(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One fact per external base image; Unreadable when the file is not text."""
        text = file.text()
        if text is None:
            error = file.decode_error()
            return [Unreadable(error.location, self.name, error.reason)] if error else []
        facts: list[Fact] = []
        global_args: dict[str, str | None] = {}
        too_long: set[str] = set()  # ARGs whose value is not worked out, and those using them
        arg_tokens: dict[str, _Token] = {}
        stages: set[str] = set()
        seen_from = False
        for instruction in _instructions(text):
            if instruction.keyword == "ARG" and not seen_from:
                for token in instruction.tokens:
                    match = _ARG_ITEM.match(token.text)
                    if match:
                        name, default = match.group(1), match.group(2)
                        try:
                            global_args[name] = _meta_arg_value(default, global_args)
                        except InterpolationTooLong:
                            global_args[name] = None
                            too_long.add(name)
                        if too_long.intersection(_VARIABLE.findall(default or "")):
                            too_long.add(name)
                        arg_tokens[name] = token
            elif instruction.keyword == "FROM":
                seen_from = True
                if unknowable := _too_long_from(file.path, text, instruction, too_long):
                    facts.append(unknowable)
                    continue
                try:
                    fact, alias = self._from(file.path, text, instruction, global_args, stages)
                except InterpolationTooLong:
                    # The image itself expands too far: some ARG it names is to blame.
                    unknowable = _too_long_from(file.path, text, instruction, global_args)
                    facts.extend([unknowable] if unknowable else [])
                    continue
                if fact is not None:
                    facts.append(fact)
                if alias:
                    stages.add(alias.lower())
            elif instruction.keyword == "COPY":
                fact = self._copy_from(file.path, text, instruction, stages)
                if fact is not None:
                    facts.append(fact)
        return _with_pin_edits(text, facts, global_args, arg_tokens)

    def _from(
        self,
        path: str,
        text: str,
        instruction: _Instruction,
        global_args: dict[str, str | None],
        stages: set[str],
    ) -> tuple[ImageUse | None, str]:
        words = [t for t in instruction.tokens if not t.text.startswith("--")]
        if not words:
            return None, ""
        image = words[0]
        alias = words[2].text if len(words) >= 3 and words[1].text.upper() == "AS" else ""
        limit = len(image.text) + MAX_ARG_GROWTH
        substituted = interpolate(image.text, global_args, dollar_escape=False, limit=limit)
        reference = substituted.value
        if reference.lower() == "scratch" or reference.lower() in stages:
            return None, alias
        notes = [f"default of {used}" for used in substituted.defaults_used]
        notes += [f"ARG {name}={global_args[name]}" for name in substituted.known_used]
        unresolved = ", ".join(substituted.unresolved)
        stage = f" (stage {alias})" if alias else ""
        return (
            ImageUse(
                _location(path, text, image),
                reference=image.text if unresolved else reference,
                source="dockerfile",
                context=f"FROM{stage}",
                note=", ".join(notes),
                written=image.text if substituted.changed else "",
                unresolved=unresolved,
                value_start=image.start,
                value_end=image.end,
            ),
            alias,
        )

    def _copy_from(
        self, path: str, text: str, instruction: _Instruction, stages: set[str]
    ) -> ImageUse | None:
        for token in instruction.tokens:
            if not token.text.lower().startswith("--from="):
                continue
            source = token.text[len("--from=") :]
            if not source or source.isdigit() or source.lower() in stages or "$" in source:
                return None
            prefix = len("--from=")
            return ImageUse(
                _location(path, text, _Token(source, token.start + prefix, token.end)),
                reference=source,
                source="dockerfile",
                context="COPY --from",
                value_start=token.start + prefix,
                value_end=token.end,
            )
        return None


_WHOLE_VARIABLE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")


def _with_pin_edits(
    text: str,
    facts: list[Fact],
    global_args: dict[str, str | None],
    arg_tokens: dict[str, _Token],
) -> list[Fact]:
    """Each image with where ``backout pin`` writes its digest, or why it cannot.

    ``FROM image:tag`` gets ``@<digest>`` after the tag, keeping ``--platform`` and ``AS``.
    ``FROM $BASE`` gets it in the default of ``ARG BASE=image:tag``, provided every image that
    reads ``BASE`` reads all of it: ``FROM python:${V}`` cannot be pinned through ``ARG V``
    without pinning every other use of ``V`` to the same digest.
    """
    whole_uses: dict[str, int] = {}
    partial_uses: dict[str, int] = {}
    for fact in facts:
        if not isinstance(fact, ImageUse) or not fact.written:
            continue
        whole = _WHOLE_VARIABLE.fullmatch(fact.written)
        for match in _WHOLE_VARIABLE.finditer(fact.written):
            name = match.group(1) or match.group(2)
            counts = whole_uses if whole is not None else partial_uses
            counts[name] = counts.get(name, 0) + 1
    out: list[Fact] = []
    for fact in facts:
        if isinstance(fact, ImageUse) and not fact.unresolved:
            edit, blocked = _pin_edit(text, fact, global_args, arg_tokens, partial_uses)
            fact = replace(fact, pin_edit=edit, pin_blocked=blocked)
        out.append(fact)
    return out


def _pin_edit(
    text: str,
    use: ImageUse,
    global_args: dict[str, str | None],
    arg_tokens: dict[str, _Token],
    partial_uses: dict[str, int],
) -> tuple[PinEdit | None, str]:
    written = text[use.value_start : use.value_end]
    whole = _WHOLE_VARIABLE.fullmatch(written)
    if whole is None or (whole.group(1) or whole.group(2)) not in global_args:
        offset, why = digest_offset(written, dollar_escape=False)
        known = interpolate(written, global_args, dollar_escape=False).known_used
        last_variable = max(written.rfind("$"), written.rfind("}"))
        if known and (offset != len(written) or ":" not in written[last_variable + 1 :]):
            # ``python:${V}``: the tag is an ARG, which a --build-arg can change; a digest
            # written after it would silently override the tag asked for.
            return None, (
                f"the tag comes from ARG {', '.join(dict.fromkeys(known))}; write the whole "
                "reference in one ARG (`ARG BASE=image:tag`) to let pin extend its default"
            )
        if offset is None:
            return None, why
        return suffix_edit(text, use.value_start, use.value_end, use.value_start + offset), ""
    name = whole.group(1) or whole.group(2)
    token = arg_tokens[name]
    if partial_uses.get(name):
        return None, (
            f"ARG {name} is also part of another image reference; pinning its default would "
            "break that one"
        )
    default_start = token.start + len(name) + 1
    default = text[default_start : token.end]
    quote = default[:1] if default[:1] in ("'", '"') and default.endswith(default[:1]) else ""
    value = default[len(quote) : len(default) - len(quote)]
    if "$" in value:
        return None, f"the default of ARG {name} is itself built from variables"
    return suffix_edit(text, token.start, token.end, token.end - len(quote)), ""
