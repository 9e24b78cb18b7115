"""Kustomize files: the ``images:`` overrides that decide which image the manifests run.

Which files: ``kustomization.yaml``, ``kustomization.yml`` and ``Kustomization`` (the three
names ``kustomize build`` accepts).

An ``images:`` entry sets the tag (``newTag``) and/or the digest (``digest``) of every
container image named ``name``, optionally renaming it (``newName``). An entry with neither
``newTag`` nor ``digest`` leaves the tag to the manifests (read by the manifest reader) and
yields no fact. The fact's reference is the one kustomize writes into the manifests
(``newName or name``, ``:newTag``, ``@digest``); it points at the ``newTag`` value, where the
decision was made.

``backout pin`` pins an entry as ``kustomize edit set image name=…:tag@sha256:…`` does: it adds
``digest:`` next to ``newTag`` and keeps the tag. kustomize v5 writes ``name:newTag@digest``
into the manifests (``api/filters/imagetag/updater.go``), earlier versions ``name@digest``
(the ``Image.Digest`` field documents that newTag is then ignored): either way the digest
decides the image.

kustomize reads the file with sigs.k8s.io/yaml into its ``Image`` type, whose ``newTag`` is a
string: an unquoted ``newTag: 1.10`` (or ``3.6``, ``553640e6``, ``yes``) is a number or a
boolean there, and kustomize refuses the whole kustomization (``json: cannot unmarshal number
into Go struct field Image.images.newTag of type string``, kubernetes-sigs/kustomize#572,
#4081). Such an entry is a :class:`KustomizeImage` with ``tag_kind`` set, which
:func:`refused_tag` turns into the words of a finding.

What a kustomization builds, and so what its ``images:`` apply to, is what it includes: each
entry of ``resources:``, the legacy ``bases:`` and ``components:`` is a
:class:`KustomizeInclude` fact at the entry, with the path it names resolved against the
kustomization's directory. A file entry is a manifest; a directory entry is the kustomization
in that directory (a base, or a ``kind: Component``), whose own includes are built too. Which
of the two a path is, the tree's file list says (a rule's business, not the reader's).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.goyaml import BOOLEAN, STRING, go_yaml_reading
from backout.sources.images import (
    BLOCK_SCALAR,
    ImageUse,
    PinEdit,
    key_edit,
    scalar_span,
    scalar_value_edit,
)
from backout.sources.manifests import canonical_json
from backout.sources.paths import is_kustomization
from backout.sources.yamlfile import (
    Node,
    elements,
    get,
    location,
    plain,
    scalar,
    text_of,
    yaml_documents,
)


@dataclass(frozen=True)
class KustomizeImage(ImageUse):
    """An ``images:`` entry whose unquoted ``newTag`` kustomize does not read as a string."""

    tag_kind: str = ""
    """``number`` or ``boolean``: what go-yaml v2 makes of the unquoted ``newTag``."""
    tag_written: str = ""


def refused_tag(use: ImageUse) -> tuple[str, str] | None:
    """Why kustomize refuses the kustomization of ``use``, and the fix; ``None`` when it
    reads the tag."""
    if not isinstance(use, KustomizeImage) or not use.tag_kind:
        return None
    go_kind = "bool" if use.tag_kind == BOOLEAN else use.tag_kind
    why = (
        f"kustomize reads the unquoted `newTag: {use.tag_written}` as a {use.tag_kind}, not "
        f"the string its `newTag` field is, and refuses the whole kustomization (`json: cannot "
        f"unmarshal {go_kind} into Go struct field Image.images.newTag of type string`): "
        "`kustomize build` and `kubectl apply -k` fail, so this release does not deploy and "
        "neither does a rollback to it"
    )
    return why, f'quote it: `newTag: "{use.tag_written}"`'


@dataclass(frozen=True)
class KustomizeSelectorLabels(Fact):
    """The labels a kustomization writes into every selector it builds (``commonLabels``, and
    ``labels:`` entries with ``includeSelectors: true``), as canonical JSON, located at the
    key. Changing them changes the immutable selector of every workload it builds."""

    labels: str


def _selector_labels(doc: Node) -> tuple[Node, str] | None:
    """Where the kustomization's selector labels are written and what they are."""
    merged: dict[str, object] = {}
    anchor: Node | None = None
    common = get(doc, "commonLabels")
    if isinstance(common, yamlfile.MappingNode):
        anchor = common
        merged.update(plain(common))
    labels = get(doc, "labels")
    for entry in elements(labels):
        if scalar(get(entry, "includeSelectors")) is True:
            pairs = get(entry, "pairs")
            if isinstance(pairs, yamlfile.MappingNode):
                anchor = anchor or pairs
                merged.update(plain(pairs))
    if anchor is None:
        return None
    return anchor, canonical_json(merged)


@dataclass(frozen=True)
class KustomizeInclude(Fact):
    """One entry of a kustomization's ``resources:``, ``bases:`` or ``components:``, located at
    the entry."""

    field: str
    """``resources``, ``bases`` or ``components``."""
    entry: str
    """The entry as written: ``deployment.yaml``, ``../../base``, a remote URL."""
    target: str
    """The root-relative path the entry names (``overlays/prod`` + ``../../base`` is
    ``base``; ``.`` is the root directory), or ``""`` for an entry that is not a path inside
    the checked tree (a URL, an absolute path, a path above the root)."""


INCLUDE_FIELDS = ("resources", "bases", "components")
_REMOTE = ("://", "git@", "?ref=", "?version=")


def include_target(kustomization: str, entry: str) -> str:
    """The root-relative path that ``entry`` of the kustomization at ``kustomization`` names,
    or ``""`` when it names nothing inside the tree."""
    if not entry or entry.startswith("/") or any(mark in entry for mark in _REMOTE):
        return ""
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(kustomization), entry))
    if joined == ".." or joined.startswith("../"):
        return ""
    return joined


class KustomizeReader:
    """Reads Kustomize ``images:`` into :class:`ImageUse` facts (``source="kustomize"``)."""

    name: ClassVar[str] = "kustomize"

    def wants(self, path: str) -> bool:
        """``kustomization.y*ml`` and ``Kustomization`` files."""
        return is_kustomization(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One fact per ``images:`` entry that sets a tag or a digest, and one per entry of
        ``resources:``, ``bases:`` and ``components:``."""
        documents = yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            return [documents]
        facts: list[Fact] = []
        text = file.text() or ""
        for doc in documents:
            selector_labels = _selector_labels(doc)
            if selector_labels is not None:
                facts.append(
                    KustomizeSelectorLabels(
                        location(file.path, selector_labels[0]), labels=selector_labels[1]
                    )
                )
            for field in INCLUDE_FIELDS:
                for node in elements(get(doc, field)):
                    written = text_of(node)
                    if written:
                        facts.append(
                            KustomizeInclude(
                                location(file.path, node),
                                field=field,
                                entry=written,
                                target=include_target(file.path, written),
                            )
                        )
            for entry in elements(get(doc, "images")):
                name = text_of(get(entry, "name"))
                tag_node, digest_node = get(entry, "newTag"), get(entry, "digest")
                tag, digest = text_of(tag_node), text_of(digest_node)
                if not name or (not tag and not digest):
                    continue
                target = text_of(get(entry, "newName")) or name
                reference = target + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                anchor = tag_node if tag else digest_node
                assert isinstance(anchor, yamlfile.ScalarNode)
                assert isinstance(entry, yamlfile.MappingNode)
                loc, start, end, quote = scalar_span(file.path, text, anchor)
                edit: PinEdit | None
                if digest_node is not None and isinstance(digest_node, yamlfile.ScalarNode):
                    # A malformed digest is replaced where it is written.
                    edit = scalar_value_edit(text, digest_node)
                else:
                    edit = key_edit(text, entry, anchor, "digest")
                tag_kind = go_yaml_reading(text, tag_node)[0] if tag else STRING
                facts.append(
                    KustomizeImage(
                        loc,
                        reference=reference,
                        source="kustomize",
                        context=f"kustomization images[{name}]",
                        value_start=start,
                        value_end=end,
                        quote=quote,
                        pin_edit=edit,
                        pin_blocked="" if edit else BLOCK_SCALAR,
                        tag_kind="" if tag_kind == STRING else tag_kind,
                        tag_written="" if tag_kind == STRING else str(tag),
                    )
                )
        return facts
