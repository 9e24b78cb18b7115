"""What a GitHub Actions job does with the repository's ECS task definitions.

``aws-actions/amazon-ecs-render-task-definition`` writes an image into one container of a
task definition file (``task-definition``, ``container-name``, ``image``) and outputs the
rendered file, which a second render step (another container) or
``aws-actions/amazon-ecs-deploy-task-definition`` takes as ``${{
steps.<id>.outputs.task-definition }}``. The deploy step registers the file as a new
revision and points ``service`` of ``cluster`` at it. Inputs are read as GitHub evaluates
them (``${{ env.NAME }}`` of the workflow, job or step: :attr:`StepInput.text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from backout.models import Location
from backout.sources.base import FactSet
from backout.sources.ci import CiStep, StepInput

RENDER_ACTION = "aws-actions/amazon-ecs-render-task-definition"
DEPLOY_ACTION = "aws-actions/amazon-ecs-deploy-task-definition"

# ``${{ steps.<id>.outputs.task-definition }}``: the file an earlier render step wrote
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.task-definition\s*\}\}")


@dataclass(frozen=True)
class EcsDeployStep:
    """An ``amazon-ecs-deploy-task-definition`` step: the task definition file it registers
    (``""`` when the plan cannot tell which), and its ``cluster``, ``service`` and
    ``codedeploy-appspec`` inputs as GitHub evaluates them (``None`` when not set)."""

    location: Location
    file: str
    cluster: str | None
    service: str | None
    codedeploy_appspec: str | None


def _steps(facts: FactSet, action: str | None = None) -> Iterator[tuple[CiStep, str]]:
    """The render (and ``action``) steps of every job in order, each with the task definition
    file it starts from (``""``: unknown), following render steps' outputs."""
    files: dict[tuple[str, str, str], str] = {}
    steps = sorted(facts.of(CiStep), key=lambda step: (step.workflow, step.job_id, step.index))
    for step in steps:
        if step.action not in (RENDER_ACTION, action):
            continue
        path = step.input("task-definition")
        if path is None:
            continue
        written = path.text.strip()
        earlier = _STEP_OUTPUT.fullmatch(written)
        if earlier is not None:
            file = files.get((step.workflow, step.job_id, earlier.group(1)), "")
        else:
            file = written.removeprefix("./")
        if step.step_id and step.action == RENDER_ACTION:
            files[(step.workflow, step.job_id, step.step_id)] = file
        yield step, file


def rendered_containers(facts: FactSet) -> dict[tuple[str, str], StepInput]:
    """``(task definition file, container name)`` → the ``image`` input of the first step that
    writes that container's image before the task definition is registered (its
    ``task-definition`` and ``container-name`` as written or through ``${{ env.NAME }}``, or
    an earlier render step's output for a second container)."""
    found: dict[tuple[str, str], StepInput] = {}
    for step, file in _steps(facts):
        name, image = step.input("container-name"), step.input("image")
        if file and name is not None and image is not None:
            found.setdefault((file, name.text.strip()), image)
    return found


def deploy_steps(facts: FactSet) -> list[EcsDeployStep]:
    """Every ``amazon-ecs-deploy-task-definition`` step, in file order."""
    found = []
    for step, file in _steps(facts, DEPLOY_ACTION):
        if step.action != DEPLOY_ACTION:
            continue
        cluster, service, appspec = (
            step.input(key) for key in ("cluster", "service", "codedeploy-appspec")
        )
        found.append(
            EcsDeployStep(
                step.location,
                file,
                cluster.text.strip() if cluster is not None else None,
                service.text.strip() if service is not None else None,
                appspec.text.strip() if appspec is not None else None,
            )
        )
    return sorted(found, key=lambda deploy: deploy.location)
