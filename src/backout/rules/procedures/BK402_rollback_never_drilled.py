"""BK402 rollback-never-drilled."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator

from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, LazyRegex, Rule
from backout.rules.procedures.rollout_commands import (
    CONTAINER_MIGRATION,
    RELEASE,
    action_deploys,
    deploy_kind,
    exercises_rollback,
    runs_tests,
)
from backout.sources.ci import CiCommand, CiJob, CiStep, command_words

PIPELINE_PROVIDERS = ("github", "gitlab")
"""Providers whose commands are a pipeline's; plain scripts only count as rollback drills."""

_DATABASE_IMAGE = LazyRegex(
    r"postgres|postgis|mysql|mariadb|mongo|mssql|sqlserver|cockroach|timescale|oracle"
    r"|clickhouse|percona",
    re.I,
)

JobKey = tuple[str, str]

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "source", "."})
# The job's workspace, where a path after it is the repository's: `$CI_PROJECT_DIR/ci/d.sh`
_WORKSPACE = re.compile(r"^\$\{?(?:CI_PROJECT_DIR|GITHUB_WORKSPACE)\}?/")


def scripts_run(line: str) -> Iterator[str]:
    """The files a pipeline's shell line runs, as written, `./` and the workspace variable
    removed: `cicd/deploy.sh` for `cicd/deploy.sh`, `bash -e ./cicd/deploy.sh` or
    `source $CI_PROJECT_DIR/cicd/deploy.sh`."""
    for words in command_words(line):
        program = posixpath.basename(words[0])
        if program in _SHELLS:
            operands = [w for w in words[1:] if not w.startswith(("-", "+"))]
            written = operands[0] if operands else None
        else:
            written = words[0] if "/" in words[0] else None
        if written:
            path = posixpath.normpath(_WORKSPACE.sub("", written))
            if not path.startswith(("/", "../")) and "$" not in path:
                yield path


def runs_script(line: str, script: str) -> bool:
    """Whether a pipeline's shell line runs the repository's file ``script``: by its path,
    or by the end of it where a step runs it from a directory (`./deploy.sh` beside it)."""
    return any(script == path or script.endswith("/" + path) for path in scripts_run(line))


def last_test_run(job_commands: Iterable[CiCommand]) -> Location | None:
    """Where a job last runs a test suite, or None: each command is tokenised once."""
    return max(
        (c.ran_at or c.location for c in job_commands if runs_tests(c.command)), default=None
    )


def migrates_own_database(
    command: CiCommand,
    kind: str,
    job: CiJob | None,
    last_test: Callable[[], Location | None],
) -> bool:
    """Whether a forward migration is a test job's set-up rather than a deploy.

    It is when the job deploys to no environment and its database is its own: a database
    service container (``services: postgres``), the migration run inside
    ``docker compose run|exec``, or a test suite run after it in the same job.
    ``last_test`` gives :func:`last_test_run` of the job; it is only called when needed, and
    a caller judging many commands of one job computes it once.
    """
    if kind == RELEASE or job is None or job.environment is not None:
        return False
    if kind == CONTAINER_MIGRATION:
        return True
    if any(_DATABASE_IMAGE.search(image.split(":", 1)[0]) for image in job.services):
        return True
    last = last_test()
    # a line of a file the job wrote runs where the job runs the file
    return last is not None and last > (command.ran_at or command.location)


class RollbackNeverDrilled(Rule):
    """A CI pipeline deploys, but nothing in CI ever exercises the rollback.

    ## What it does
    Flags a GitHub Actions or GitLab CI pipeline with a deploy step (`kubectl apply`,
    `kubectl set image`, `helm upgrade|install`, `argocd app sync`, `flyway migrate`,
    `alembic upgrade`, `manage.py migrate`, `goose … up`…) when no pipeline or script of the
    repository runs a step that exercises rollback: `backout drill`, `helm rollback`,
    `kubectl rollout undo --dry-run`, `alembic downgrade`, `migrate … down` (golang-migrate),
    `manage.py migrate <app> <earlier migration>` (or `zero`), `flyway undo`,
    `liquibase rollback…`/`update-testing-rollback`, `dbmate rollback|down`,
    `goose … down|down-to|reset|redo` (after the driver and connection string, or alone
    with `GOOSE_DRIVER`/`GOOSE_DBSTRING` set). It points at the
    first deploy command of each pipeline. GitLab jobs are read as GitLab builds them: the
    files a pipeline includes (`include: local:`) merged in, `extends:` and `!reference`
    resolved across them, so a deploy script or a drill job written as a template in an
    included file counts, at the line where it is written. A deploy in a shell script of the
    repository counts for the pipeline that runs it (`- cicd/deploy.sh`, `bash -e
    ./cicd/deploy.sh`, `source $CI_PROJECT_DIR/cicd/deploy.sh`; a path the step names from
    a directory, `./deploy.sh`, by the end of the script's path), at the line that runs it;
    a script no pipeline runs deploys nothing.

    Deploys beyond Kubernetes count too: `aws ecs update-service`, `aws lambda
    update-function-code`, `gcloud run deploy` (and `app`/`functions deploy`), `az webapp
    deploy`, `az containerapp update`, `fly deploy`, `kamal deploy`, `serverless deploy`,
    `cdk deploy`, `docker stack deploy`, `nomad job run`, and GitHub deploy actions
    (`aws-actions/amazon-ecs-deploy-task-definition`, `google-github-actions/deploy-cloudrun`,
    `azure/webapps-deploy`…). In a job with an `environment:`, any published action with
    `deploy` in its name counts as a deploy.

    Each command of a line (`a && b | c`) is judged by its program and the subcommand that
    follows it, past options: `kubectl -n shop rollout undo` counts, while a rollback that is
    only mentioned (`echo "run helm rollback"`) or words spread over two commands
    (`manage.py migrate && docker compose down`) do not. Wrappers are looked through
    (`python -m`, `poetry run`, `uvx`, `sh -c`/`bash -ec '…'`, `sudo -u deploy`, `timeout
    5m`, a `( … )` subshell, `docker run`, `docker compose run`,
    `kubectl exec --`, `go run github.com/pressly/goose/v3/cmd/goose@v3.26.0`, whose
    command is named as the package path ends, and `go tool goose`). A dry run
    (`--dry-run`, `helm template`, `kubectl diff`) deploys nothing; `helm template … |
    kubectl apply -f -` deploys. A here-document's text counts where a shell runs it: text
    the job only writes to a file (`cat <<'EOF' > rollback.sh`, kept for the on-call) is no
    drill and no deploy, until the job runs that file (`bash rollback.sh`, `source d.sh`),
    where it counts: a migration in a script the job runs after its tests comes after them.

    A forward migration in a test job is set-up, not a deploy: it is not counted when its job
    has no `environment:` and its database is the job's own, that is the job starts a
    database service container (`services: postgres`), runs the migration inside
    `docker compose run|exec`, or runs a test suite after it (`pytest`, `manage.py test`,
    `go test`, `npm test`…). A migration in a job with an `environment:` is a deploy.

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
        # a here-document's text that the job only writes to a file runs nothing; where the
        # job runs that file, its lines come again as commands that run
        commands = [command for command in context.head.of(CiCommand) if command.runs]
        steps = context.head.of(CiStep)
        drilled = any(exercises_rollback(c.command) for c in commands) or any(
            "backout" in step.uses.lower() for step in steps
        )
        if drilled:
            return
        jobs = {(job.workflow, job.job_id): job for job in context.head.of(CiJob)}
        by_job: dict[JobKey, list[CiCommand]] = {}
        for command in commands:
            by_job.setdefault((command.workflow, command.job_id), []).append(command)
        last_tests: dict[JobKey, Location | None] = {}

        def last_test(key: JobKey) -> Location | None:
            if key not in last_tests:  # once per job, not once per migration of the job
                last_tests[key] = last_test_run(by_job[key])
            return last_tests[key]

        first_deploy: dict[str, tuple[Location, str]] = {}
        pipeline_lines = [c for c in commands if c.provider in PIPELINE_PROVIDERS]
        for command in commands:
            kind = deploy_kind(command.command)
            if kind is not None and command.provider not in PIPELINE_PROVIDERS:
                # a script deploys for the pipeline that runs it (`- cicd/deploy.sh`):
                # reported at the pipeline's line that runs it
                for line in pipeline_lines:
                    key = (line.workflow, line.job_id)
                    if runs_script(line.command, command.location.path) and not (
                        migrates_own_database(
                            line, kind, jobs.get(key), functools.partial(last_test, key)
                        )
                    ):
                        known = first_deploy.get(line.location.path)
                        if known is None or line.location < known[0]:
                            first_deploy[line.location.path] = (line.location, command.command)
                continue
            key = (command.workflow, command.job_id)
            if (
                command.provider not in PIPELINE_PROVIDERS
                or kind is None
                or migrates_own_database(
                    command, kind, jobs.get(key), functools.partial(last_test, key)
                )
            ):
                continue
            path = command.location.path
            known = first_deploy.get(path)
            if known is None or command.location < known[0]:
                first_deploy[path] = (command.location, command.command)
        for step in steps:
            job = jobs.get((step.workflow, step.job_id))
            if step.index < 0 or not action_deploys(
                step.action, job.environment if job is not None else None
            ):
                continue
            known = first_deploy.get(step.location.path)
            if known is None or step.location < known[0]:
                first_deploy[step.location.path] = (step.location, f"uses: {step.uses}")
        for location, deploy in sorted(first_deploy.values()):
            flat = " ".join(deploy.split())
            shown = flat if len(flat) <= 80 else flat[:77] + "…"
            yield self.finding(
                location,
                f"this pipeline deploys (`{shown}`) but no pipeline ever exercises rollback: "
                "the down migrations, the previous artifact and the undo are first tried "
                "during the incident that needs them",
                "add a job that runs `backout drill --base <previous release>` (or "
                "`helm rollback`/`kubectl rollout undo --dry-run=server`, `alembic downgrade` "
                "on a throwaway database) before the deploy job",
            )
