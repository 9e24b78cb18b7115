"""BK402 rollback-never-drilled."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.rules.procedures.rollout_commands import deploy_kind, exercises_rollback
from backout.sources.ci import CiCommand, CiStep

PIPELINE_PROVIDERS = ("github", "gitlab")
"""Providers whose commands are a pipeline's; plain scripts only count as rollback drills."""


class RollbackNeverDrilled(Rule):
    """A CI pipeline deploys, but nothing in CI ever exercises the rollback.

    ## What it does
    Flags a GitHub Actions or GitLab CI pipeline with a deploy step (`kubectl apply`,
    `kubectl set image`, `helm upgrade|install`, `argocd app sync`, `flyway migrate`,
    `alembic upgrade`, `manage.py migrate`…) when no pipeline or script of the repository runs
    a step that exercises rollback: `backout drill`, `helm rollback`,
    `kubectl rollout undo --dry-run`, `alembic downgrade`, `migrate … down` (golang-migrate),
    `manage.py migrate <app> <earlier migration>` (or `zero`), `flyway undo`,
    `liquibase rollback…`/`update-testing-rollback`, `dbmate rollback|down`. It points at the
    first deploy command of each pipeline.

    Each command of a line (`a && b | c`) is judged by its program and the subcommand that
    follows it, past options: `kubectl -n shop rollout undo` counts, while a rollback that is
    only mentioned (`echo "run helm rollback"`) or words spread over two commands
    (`manage.py migrate && docker compose down`) do not. Wrappers are looked through
    (`python -m`, `poetry run`, `uvx`, `sh -c`, `docker run`, `docker compose run`,
    `kubectl exec --`). A dry run (`--dry-run`, `helm template`, `kubectl diff`) deploys
    nothing; `helm template … | kubectl apply -f -` deploys.

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
            if command.provider not in PIPELINE_PROVIDERS or deploy_kind(command.command) is None:
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
