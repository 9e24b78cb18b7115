"""What a pipeline's shell line does to a release: deploy it, migrate a database, drill a rollback.

Each line is split into simple commands (``a && b | c`` is three) and each command is judged by
the program at its command position and the subcommand words that follow it, past options and
their values: ``kubectl -n shop rollout undo`` is a rollback, ``kubectl apply -f
deploy/template/app.yaml`` is not a template, and ``manage.py migrate && docker compose down``
is a migration followed by a compose command, not ``migrate … down``. Wrappers that run another
program are looked through: ``python -m``/``python manage.py``, ``poetry run``, ``uv run``,
``npx``, ``bundle exec``, ``go run <package>[@version]`` and ``go tool``, ``sh -c '…'``
(``bash -ec``…), ``sudo``/``timeout``/``env`` with their options, ``( … )``,
``docker compose run|exec``, ``docker run``, ``kubectl exec … --``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from backout.sources.ci import command_words, shell_command_string

RELEASE = "release"
"""A command that changes what runs: ``helm upgrade``, ``kubectl apply``, ``gcloud run deploy``."""
MIGRATION = "migration"
"""A command that migrates a database forward: ``alembic upgrade``, ``manage.py migrate``."""
CONTAINER_MIGRATION = "container-migration"
"""A forward migration run inside ``docker compose run|exec``: against compose's own services."""


@dataclass(frozen=True)
class Invocation:
    """One program run with its arguments; ``compose`` when ``docker compose`` runs it."""

    program: str
    args: tuple[str, ...]
    compose: bool = False

    def verbs(self, *words: str) -> bool:
        """Whether the arguments start with ``words``, past options and their values."""
        return _at_command_position(self.args, words)

    def positionals(self, value_options: frozenset[str] = frozenset()) -> list[str]:
        """The arguments that are not options, nor the values of ``value_options``."""
        out: list[str] = []
        skip = False
        for word in self.args:
            if skip:
                skip = False
            elif word.startswith("-"):
                skip = word in value_options
            else:
                out.append(word)
        return out


def _at_command_position(args: Sequence[str], verbs: Sequence[str]) -> bool:
    """``verbs`` come first in ``args``, after options (``-n shop``, ``--region=x``) only."""
    after_option = False
    for i, word in enumerate(args):
        if list(args[i : i + len(verbs)]) == list(verbs):
            return True
        if word.startswith("-"):
            after_option = "=" not in word
            continue
        if after_option:  # the option's value
            after_option = False
            continue
        return False
    return False


_PYTHON = re.compile(r"python[\d.]*|py")
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ash"})
_RUNNERS = frozenset({"poetry", "pipenv", "pdm", "hatch", "uv", "rye"})
_EXECUTORS = frozenset({"uvx", "npx", "bunx", "pipx"})
_CONTAINER_TOOLS = frozenset({"docker", "podman", "nerdctl", "docker-compose", "podman-compose"})
# The go command's flags that take a value when written apart (`-tags pgx`; `-mod=mod` is one
# word): `go -C dir`, and the build flags of `go run` (`go help build`).
_GO_VALUES = frozenset(
    {
        "C", "asmflags", "buildmode", "compiler", "covermode", "coverpkg", "exec", "gccgoflags",
        "gcflags", "installsuffix", "ldflags", "mod", "modfile", "overlay", "p", "pgo",
        "pkgdir", "tags", "toolexec",
    }
)  # fmt: skip


def _basename(word: str) -> str:
    """``./bin/alembic`` → ``alembic``; an image ``migrate/migrate:v4`` → ``migrate``."""
    name = word.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[0]


def invocations(line: str) -> Iterator[Invocation]:
    """Every program a shell line runs, wrappers looked through."""
    for words in command_words(line):
        yield from _unwrap(words, compose=False, depth=0)


def _unwrap(words: Sequence[str], *, compose: bool, depth: int) -> Iterator[Invocation]:
    if not words or depth > 5:
        return
    program = _basename(words[0])
    args = list(words[1:])
    if program in _SHELLS:
        string = shell_command_string(words)  # ``sh -c '…'``, ``bash -ec "…"``
        if string is not None:
            for inner in command_words(words[string]):
                yield from _unwrap(inner, compose=compose, depth=depth + 1)
            return
    if _PYTHON.fullmatch(program):
        rest = [w for w in args if not (w.startswith("-") and w != "-m")]
        if rest[:1] == ["-m"] and len(rest) > 1:
            module = rest[1]
            yield from _unwrap(
                [module, *args[args.index(module) + 1 :]], compose=compose, depth=depth + 1
            )
        elif rest:
            yield from _unwrap(args[args.index(rest[0]) :], compose=compose, depth=depth + 1)
        return
    if program in _RUNNERS and args[:1] in (["run"], ["exec"]):
        yield from _unwrap(_past_options(args[1:]), compose=compose, depth=depth + 1)
        return
    if program == "bundle" and args[:1] == ["exec"]:
        yield from _unwrap(args[1:], compose=compose, depth=depth + 1)
        return
    if program == "go":
        # `go [-C dir] run [build flags] github.com/pressly/goose/v3/cmd/goose@v3.26.0 down`
        # builds and runs the package's command, named as its path ends (`goose`); `go tool
        # goose down` runs a tool of the module (Go 1.24's `tool` directive).
        rest = _past_go_flags(args)
        if rest[:1] in (["run"], ["tool"]):
            yield from _unwrap(_past_go_flags(rest[1:]), compose=compose, depth=depth + 1)
            return
    if program in _EXECUTORS:
        rest = _past_options(args[1:] if program == "pipx" and args[:1] == ["run"] else args)
        yield from _unwrap(rest, compose=compose, depth=depth + 1)
        return
    if program in _CONTAINER_TOOLS:
        contained = _container_command(program, args)
        if contained is not None:
            command, in_compose = contained
            yield from _unwrap(command, compose=compose or in_compose, depth=depth + 1)
            return
    if program == "kubectl" and "exec" in args and "--" in args:
        yield from _unwrap(args[args.index("--") + 1 :], compose=compose, depth=depth + 1)
        return
    yield Invocation(program, tuple(args), compose)


def _past_go_flags(args: Sequence[str]) -> list[str]:
    """``args`` from the first word that is not a flag of the go command or its value."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        flag = args[i].lstrip("-")
        i += 1 if "=" in flag or flag not in _GO_VALUES else 2
    return list(args[i:])


def _past_options(args: Sequence[str]) -> list[str]:
    for i, word in enumerate(args):
        if not word.startswith("-"):
            return list(args[i:])
    return []


def _container_command(program: str, args: Sequence[str]) -> tuple[list[str], bool] | None:
    """The command a ``docker compose run|exec`` or ``docker run|exec`` runs, and whether compose.

    Which word is the service or image depends on the options, so the command is taken from
    the first word after the verb that names a program this module knows.
    """
    compose = program.endswith("-compose") or args[:1] == ["compose"]
    rest = list(args[1:] if args[:1] == ["compose"] else args)
    verb_at = next((i for i, w in enumerate(rest) if not w.startswith("-")), None)
    if verb_at is None or rest[verb_at] not in ("run", "exec"):
        return None
    after = rest[verb_at + 1 :]
    for i, word in enumerate(after):
        name = _basename(word)
        if name in _KNOWN_PROGRAMS or _PYTHON.fullmatch(name) or name in _SHELLS:
            return after[i:], compose
    return None


# Programs judged below; a word naming one inside `docker run` starts the command it runs.
_KNOWN_PROGRAMS = frozenset(
    {
        "alembic", "manage.py", "django-admin", "flyway", "liquibase", "dbmate", "migrate",
        "goose", "backout", "helm", "kubectl", "pytest", "py.test",
    }
)  # fmt: skip

_DJANGO = frozenset({"manage.py", "django-admin"})
# options of `manage.py migrate` that take a value: the rest are flags (--noinput, --fake…)
_DJANGO_MIGRATE_VALUES = frozenset(
    {"--database", "--settings", "--pythonpath", "--verbosity", "-v"}
)


def _dry_run(invocation: Invocation) -> bool:
    """``--dry-run`` (not ``=none``), ``--server-dry-run``: the command changes nothing."""
    return any(
        word in ("--dry-run", "--server-dry-run")
        or (word.startswith("--dry-run=") and word != "--dry-run=none")
        for word in invocation.args
    )


def _is_release(call: Invocation) -> bool:
    program = call.program
    if program == "kubectl":
        return any(
            call.verbs(*verbs)
            for verbs in (("apply",), ("replace",), ("set", "image"), ("rollout", "restart"))
        )
    if program == "helm":
        return call.verbs("upgrade") or call.verbs("install")
    if program == "helmfile":
        return call.verbs("apply") or call.verbs("sync")
    if program == "argocd":
        return call.verbs("app", "sync")
    if program == "skaffold":
        return call.verbs("deploy") or call.verbs("run")
    if program == "aws":
        return any(
            call.verbs(*verbs)
            for verbs in (
                ("ecs", "update-service"),
                ("ecs", "deploy"),
                ("lambda", "update-function-code"),
                ("deploy", "create-deployment"),
                ("elasticbeanstalk", "update-environment"),
            )
        )
    if program == "gcloud":
        args = [w for w in call.args if w not in ("alpha", "beta")]
        track = Invocation(program, tuple(args))
        return any(
            track.verbs(*verbs)
            for verbs in (
                ("run", "deploy"),
                ("run", "services", "update"),
                ("run", "services", "replace"),
                ("app", "deploy"),
                ("functions", "deploy"),
            )
        )
    if program == "az":
        return any(
            call.verbs(*verbs)
            for verbs in (
                ("webapp", "deploy"),
                ("webapp", "config", "container", "set"),
                ("containerapp", "update"),
                ("functionapp", "deployment"),
            )
        )
    if program in ("fly", "flyctl", "kamal", "serverless", "sls", "cdk"):
        return call.verbs("deploy")
    if program == "heroku":
        return call.verbs("container:release")
    if program == "docker":
        return call.verbs("stack", "deploy") or call.verbs("service", "update")
    if program == "nomad":
        return call.verbs("job", "run")
    return False


# migration tools whose subcommands migrate forward, and back
_MIGRATION_TOOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alembic": (("upgrade",), ("downgrade",)),
    "flyway": (("migrate",), ("undo",)),
    "dbmate": (("up", "migrate"), ("rollback", "down")),
    "migrate": (("up",), ("down",)),  # golang-migrate
    # pressly/goose; `redo` runs the latest migration's Down, then its Up again
    "goose": (("up", "up-by-one", "up-to"), ("down", "down-to", "reset", "redo")),
}

# `goose [flags] DRIVER DBSTRING COMMAND`, or `goose [flags] COMMAND` when GOOSE_DRIVER and
# GOOSE_DBSTRING are set; goose reads flags wherever they stand. Its commands, and the flags
# that take a value (Go's flag package: one dash or two, `-dir x` or `-dir=x`).
_GOOSE_COMMANDS = frozenset(
    {
        "up", "up-by-one", "up-to", "down", "down-to", "redo", "reset", "status", "version",
        "create", "fix", "validate", "init", "env",
    }
)  # fmt: skip
_GOOSE_VALUES = frozenset(
    f"{dashes}{name}"
    for name in ("dir", "table", "certfile", "ssl-cert", "ssl-key", "timeout", "env")
    for dashes in ("-", "--")
)


def _runs_subcommand(call: Invocation, subcommands: Sequence[str]) -> bool:
    """Whether ``call`` (of a tool in :data:`_MIGRATION_TOOLS`) runs one of ``subcommands``."""
    if call.program == "goose":
        # The driver and the connection string may come first: the command is the first of
        # the first three words past the flags that names one (`create down sql` is `create`).
        words = call.positionals(_GOOSE_VALUES)[:3]
        return next((word for word in words if word in _GOOSE_COMMANDS), "") in subcommands
    return any(call.verbs(verb) for verb in subcommands)


def _is_migration(call: Invocation) -> bool:
    program = call.program
    if program in _MIGRATION_TOOLS:
        return _runs_subcommand(call, _MIGRATION_TOOLS[program][0])
    if program in _DJANGO:
        positionals = call.positionals(_DJANGO_MIGRATE_VALUES)
        return positionals[:1] == ["migrate"] and len(positionals) < 3
    if program == "liquibase":
        return any(
            re.fullmatch(r"update(-?(count|to-?tag|one-?changeset))?", word, re.I)
            for word in call.positionals()[:1]
        )
    return False


def deploy_kind(line: str) -> str | None:
    """:data:`RELEASE`, :data:`MIGRATION`, :data:`CONTAINER_MIGRATION` or ``None`` for a line.

    A dry run (``--dry-run``, ``helm template``, ``kubectl diff``) deploys nothing; when a line
    both releases and migrates, it releases.
    """
    found: set[str] = set()
    for call in invocations(line):
        if _dry_run(call):
            continue
        if _is_release(call):
            found.add(RELEASE)
        elif _is_migration(call):
            found.add(CONTAINER_MIGRATION if call.compose else MIGRATION)
    for kind in (RELEASE, MIGRATION, CONTAINER_MIGRATION):
        if kind in found:
            return kind
    return None


def _exercises(call: Invocation) -> bool:
    program = call.program
    if program == "backout":
        return call.verbs("drill")
    if program == "helm":
        return call.verbs("rollback")
    if program == "kubectl":
        return call.verbs("rollout", "undo") and _dry_run(call)
    if program in _MIGRATION_TOOLS:
        return _runs_subcommand(call, _MIGRATION_TOOLS[program][1])
    if program in _DJANGO:  # migrate <app> <earlier migration>, or <app> zero
        positionals = call.positionals(_DJANGO_MIGRATE_VALUES)
        return positionals[:1] == ["migrate"] and len(positionals) >= 3
    if program == "liquibase":
        return any(
            re.fullmatch(r"(update-?testing-?)?rollback.*", word, re.I)
            for word in call.positionals()[:1]
        )
    if program in ("pytest", "py.test"):  # pytest-alembic: --test-alembic, tests/alembic
        return any("alembic" in word for word in call.args)
    return False


def exercises_rollback(line: str) -> bool:
    """True for a line that tries the way back: a drill, a rollback, a downgrade."""
    return any(_exercises(call) for call in invocations(line))


_TEST_TOOLS = frozenset(
    {"pytest", "py.test", "tox", "nox", "unittest", "rspec", "phpunit", "jest", "behave"}
)


def _is_test(call: Invocation) -> bool:
    program = call.program
    if program in _TEST_TOOLS:
        return True
    if program in _DJANGO:
        return call.verbs("test")
    if program == "coverage":
        return call.verbs("run")
    if program in ("go", "cargo", "mvn", "gradle", "gradlew", "rake"):
        return any(call.verbs(verb) for verb in ("test", "verify", "check", "spec"))
    if program in ("npm", "yarn", "pnpm", "make"):
        return any(word.startswith("test") for word in call.positionals()[:2])
    return False


def runs_tests(line: str) -> bool:
    """True for a line that runs a test suite: ``pytest``, ``manage.py test``, ``go test``…"""
    return any(_is_test(call) for call in invocations(line))


DEPLOY_ACTIONS = frozenset(
    {
        "aws-actions/amazon-ecs-deploy-task-definition",
        "google-github-actions/deploy-cloudrun",
        "google-github-actions/deploy-appengine",
        "google-github-actions/deploy-cloud-functions",
        "azure/webapps-deploy",
        "azure/k8s-deploy",
        "azure/functions-action",
        "azure/container-apps-deploy-action",
        "akhileshns/heroku-deploy",
    }
)
"""GitHub actions that roll a release out, wherever they run."""


def action_deploys(action: str, environment: str | None) -> bool:
    """Whether a step using ``action`` (lower-case, no ``@ref``) deploys.

    A known deploy action always does; in a job that names an ``environment:``, so does any
    published action with ``deploy`` in its name. A local action (``./…``) is judged by the
    commands in its own file instead.
    """
    if action in DEPLOY_ACTIONS:
        return True
    return environment is not None and not action.startswith(".") and "deploy" in action
