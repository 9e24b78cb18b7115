"""BK402 rollback-never-drilled."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, LazyRegex, Rule
from backout.sources.ci import CiCommand, CiStep

PIPELINE_PROVIDERS = ("github", "gitlab")
"""Providers whose commands are a pipeline's; plain scripts only count as rollback drills."""

_DEPLOY = LazyRegex(
    r"\bkubectl\b.*\b(apply|set\s+image|rollout\s+restart|replace)\b"
    r"|\bhelm\s+(upgrade|install)\b|\bhelmfile\b.*\b(apply|sync)\b"
    r"|\bargocd\s+app\s+sync\b|\bskaffold\s+(deploy|run)\b"
    r"|\bflyway\b.*\bmigrate\b|\balembic\b.*\bupgrade\b|\bmanage\.py\s+migrate\b"
    r"|\bliquibase\b.*\bupdate\b|\bdbmate\b.*\b(up|migrate)\b",
)
_DRY_RUN = LazyRegex(r"--dry-run(?!=none)|\btemplate\b|\bdiff\b")
_EXERCISE = LazyRegex(
    r"\bbackout\s+drill\b|\bhelm\s+rollback\b|\bkubectl\b.*\brollout\s+undo\b.*--dry-run"
    r"|\bliquibase\b.*\b(update-testing-rollback|rollback)|\balembic\b.*\bdowngrade\b"
    r"|\bflyway\b.*\bundo\b|\bdbmate\b.*\b(rollback|down)\b|\bmigrate\b.*\bdown\b"
    r"|\bpytest\b.*alembic",
)


def is_deploy(command: str) -> bool:
    """True for a command that changes what runs (a dry run, template or diff does not)."""
    return bool(_DEPLOY.search(command)) and not _DRY_RUN.search(command)


def exercises_rollback(command: str) -> bool:
    """True for a command that tries the way back: a drill, a rollback, a downgrade."""
    return bool(_EXERCISE.search(command))


class RollbackNeverDrilled(Rule):
    """A CI pipeline deploys, but nothing in CI ever exercises the rollback.

    ## What it does
    Flags a GitHub Actions or GitLab CI pipeline with a deploy step (`kubectl apply`,
    `kubectl set image`, `helm upgrade|install`, `argocd app sync`, `flyway migrate`,
    `alembic upgrade`, `manage.py migrate`…) when no pipeline or script of the repository runs
    a step that exercises rollback: `backout drill`, `helm rollback`,
    `kubectl rollout undo --dry-run`, `liquibase update-testing-rollback`,
    `alembic downgrade`, `flyway undo`. It points at the first deploy command of each
    pipeline.

    ## Why is this bad?
    A rollback path that never runs rots: the down migration fails, the previous image was
    deleted by a retention rule, the undo restores a mutable tag. Nobody finds out until the
    incident in which the rollback is needed.

    ## Example
    ```yaml
    deploy:
      runs-on: ubuntu-latest
      steps:
        - run: helm upgrade --install shop chart/shop
    ```

    ## Use instead
    ```yaml
    rollback-drill:
      runs-on: ubuntu-latest
      steps:
        - run: backout drill . --base origin/main
    deploy:
      needs: rollback-drill
      runs-on: ubuntu-latest
      steps:
        - run: helm upgrade --install shop chart/shop
    ```

    ## References
    - Liquibase `update-testing-rollback`, pytest-alembic `test_up_down_consistency`
    """

    code = "BK402"
    name = "rollback-never-drilled"
    severity = Severity.WARNING
    family = Family.PROCEDURES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per pipeline file that deploys, when nothing exercises rollback."""
        commands = context.head.of(CiCommand)
        drilled = any(exercises_rollback(c.command) for c in commands) or any(
            "backout" in step.uses.lower() for step in context.head.of(CiStep)
        )
        if drilled:
            return
        first_deploy: dict[str, CiCommand] = {}
        for command in commands:
            if command.provider not in PIPELINE_PROVIDERS or not is_deploy(command.command):
                continue
            path = command.location.path
            known = first_deploy.get(path)
            if known is None or command.location < known.location:
                first_deploy[path] = command
        for command in sorted(first_deploy.values(), key=lambda c: c.location):
            flat = " ".join(command.command.split())
            shown = flat if len(flat) <= 80 else flat[:77] + "…"
            yield self.finding(
                command.location,
                f"this pipeline deploys (`{shown}`) but no pipeline ever exercises rollback: "
                "the down migrations, the previous artifact and the undo are first tried "
                "during the incident that needs them",
                "add a job that runs `backout drill --base <previous release>` (or "
                "`helm rollback`/`kubectl rollout undo --dry-run=server`, `alembic downgrade` "
                "on a throwaway database) before the deploy job",
            )
