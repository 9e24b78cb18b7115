"""Amazon ECS task definitions in JSON: the ``image`` of each container definition.

The file ``aws ecs register-task-definition --cli-input-json`` takes, which the GitHub
Actions ``aws-actions/amazon-ecs-render-task-definition`` step and CodeDeploy's
``taskdef.json`` start from: ``containerDefinitions[].image``; and the output of ``aws ecs
describe-task-definition``, the same under ``taskDefinition``. A file is one when its bytes
hold ``"containerDefinitions":`` (a key) and it parses as JSON with such a list.

ECS rolls a service back by pointing it at an earlier task definition revision (by hand, or
by its deployment circuit breaker's ``rollback``), and a revision holds what the file said:
a tag, which the tasks pull again as whatever it names by then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.images import ImageUse, scalar_span, scalar_suffix_edit
from backout.sources.paths import is_json_file

SOURCE = "ecs"
"""The :attr:`ImageUse.source` of an ECS container's image."""

_MARK = b'"containerDefinitions"'
# the mark as a key: a file that merely names it (a spell checker's word list, docs) is none
_KEY = re.compile(rb'"containerDefinitions"\s*:')
# What ``describe-task-definition`` adds to what was registered: no part of the definition.
_REGISTERED_BY_ECS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }
)
_ESCAPED = "it is written with JSON escapes (`\\/`, `\\u…`), which pin does not rewrite"


@dataclass(frozen=True)
class EcsTaskDefinition(Fact):
    """One task definition, located at its ``containerDefinitions`` list.

    ``family`` is ``""`` when the file names none. ``definition`` is the task definition as
    canonical JSON (sorted keys) without the containers' images and without what ECS adds
    when it describes a revision (ARN, revision, status…), so two releases can be compared by
    text: equal when they differ at most in the images they run. ``described`` is true for
    ``describe-task-definition`` output (under ``taskDefinition``), which
    ``register-task-definition`` does not take back as it is.
    """

    family: str
    containers: tuple[str, ...]
    definition: str
    described: bool = False


def _definition_without_images(definition: yamlfile.Node) -> str:
    value = yamlfile.plain(definition)
    if not isinstance(value, dict):
        return ""
    kept = {key: item for key, item in value.items() if key not in _REGISTERED_BY_ECS}
    for container in kept.get("containerDefinitions") or ():
        if isinstance(container, dict):
            container.pop("image", None)
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


class EcsTaskDefinitionReader:
    """Reads ECS task definitions into :class:`ImageUse` facts (``source="ecs"``); the
    ``context`` is ``TaskDefinition/<family>`` and the container's name."""

    name: ClassVar[str] = "ECS task definition"

    def wants(self, path: str) -> bool:
        """JSON files (told apart by their content)."""
        return is_json_file(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One :class:`EcsTaskDefinition` per task definition and one fact per container
        ``image``; Unreadable for a task definition that is not
        valid JSON."""
        if _MARK not in file.data or _KEY.search(file.data) is None:
            return []
        documents = yamlfile.yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            reason = documents.reason.replace("invalid YAML", "invalid JSON", 1)
            return [Unreadable(documents.location, self.name, reason)]
        text = file.text() or ""
        facts: list[Fact] = []
        for document in documents:
            described = yamlfile.get(document, "taskDefinition")
            definition = described or document
            containers = yamlfile.get(definition, "containerDefinitions")
            if not isinstance(containers, yamlfile.SequenceNode):
                continue
            family = yamlfile.text_of(yamlfile.get(definition, "family"))
            names = tuple(
                yamlfile.text_of(yamlfile.get(container, "name")) or "?"
                for container in containers.value
            )
            facts.append(
                EcsTaskDefinition(
                    yamlfile.location(file.path, containers),
                    family or "",
                    names,
                    _definition_without_images(definition),
                    described is not None,
                )
            )
            for container in containers.value:
                image = yamlfile.get(container, "image")
                if not isinstance(image, yamlfile.ScalarNode) or not yamlfile.text_of(image):
                    continue
                if not isinstance(yamlfile.scalar(image), str):
                    continue  # `"image": 42`: no image
                name = yamlfile.text_of(yamlfile.get(container, "name")) or "?"
                location, start, end, quote = scalar_span(file.path, text, image)
                edit = scalar_suffix_edit(text, image)
                facts.append(
                    ImageUse(
                        location,
                        reference=str(image.value),
                        source=SOURCE,
                        context=f"TaskDefinition/{family or '?'} container {name}",
                        value_start=start,
                        value_end=end,
                        quote=quote,
                        pin_edit=edit,
                        pin_blocked="" if edit is not None else _ESCAPED,
                    )
                )
        return facts
