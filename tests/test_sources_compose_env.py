"""Compose `.env` files: compose's syntax, their values in the compose images, no credential
ever printed, and `--base` when only the `.env` changed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from backout.config import Config
from backout.engine import check
from backout.models import Severity
from backout.report import OutputFormat
from backout.sources.base import SourceFile
from backout.sources.compose_env import (
    ComposeEnv,
    ComposeEnvReader,
    EnvSetting,
    EnvSyntaxError,
    read_env,
)
from tests.conftest import git, run_backout

DIGEST = "sha256:" + "ab" * 32


def _values(text: str) -> dict[str, str | None]:
    return {setting.name: setting.value for setting in read_env(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # docs.docker.com/compose/how-tos/environment-variables/variable-interpolation
        ("VAR=VAL", "VAL"),
        ('VAR="VAL"', "VAL"),
        ("VAR='VAL'", "VAL"),
        ("VAR=VAL # comment", "VAL"),
        ("VAR=VAL# not a comment", "VAL# not a comment"),
        ('VAR="VAL # not a comment"', "VAL # not a comment"),
        ('VAR="VAL" # comment', "VAL"),
        ("VAR='$OTHER'", "$OTHER"),
        ("VAR='${OTHER}'", "${OTHER}"),
        ("VAR='Let\\'s go!'", "Let's go!"),
        ('VAR="{\\"hello\\": \\"json\\"}"', '{"hello": "json"}'),
        ('VAR="some\\tvalue"', "some\tvalue"),
        ("VAR='some\\tvalue'", "some\\tvalue"),
        ("VAR=some\\tvalue", "some\\tvalue"),
        # compose-go's reader beyond the docs: `export`, spaces, YAML-like `:`, escapes
        ("export VAR=1.4.2", "1.4.2"),
        ("  VAR = spaced value   ", "spaced value"),
        ("VAR: 1.4", "1.4"),
        ('VAR="a \\$HOME \\\\ b"', "a $HOME \\ b"),
        ('VAR="\\0101"', "A"),
        ("VAR=", ""),
        ("VAR= #x", "#x"),  # blanks after `=` go first: the `#` has no blank before it
        ('VAR="multi\nline"', "multi\nline"),
        ("VAR=a\r\n", "a"),
        ("VAR=a\rB=2", "a\rB=2"),  # a lone \r ends no line for compose: it is a blank
    ],
)
def test_values_read_as_compose_reads_them(text: str, expected: str) -> None:
    assert _values(text) == {"VAR": expected}


def test_values_interpolate_the_keys_above_them() -> None:
    text = (
        "# registry and tag\n"
        "REGISTRY=registry.example.com\n"
        'IMAGE="${REGISTRY}/shop:${TAG:-1.4}"\n'
        "LITERAL='${REGISTRY}'\n"
        "COST=$$5\n"
        "FROM_SHELL=$HOME/x\n"
        "BARE\n"
        "LAST=${BARE:-unset}\n"
    )
    settings = list(read_env(text))
    assert settings == [
        EnvSetting("REGISTRY", "registry.example.com", 2),
        EnvSetting("IMAGE", "registry.example.com/shop:1.4", 3),
        EnvSetting("LITERAL", "${REGISTRY}", 4),
        EnvSetting("COST", "$5", 5),
        EnvSetting("FROM_SHELL", None, 6, "it is made from $HOME, which the file does not set"),
        # a bare key takes the shell's value: unset here, so defaults apply
        EnvSetting("LAST", "unset", 8),
    ]


@pytest.mark.parametrize(
    ("text", "problem", "offset"),
    [
        ("A B=1", "a key cannot contain a space", 0),
        ('OK=1\nX="open\n', "unterminated quoted value", 7),
        ("A$=1", "unexpected character '$' in a variable name", 1),
    ],
)
def test_what_compose_refuses(text: str, problem: str, offset: int) -> None:
    with pytest.raises(EnvSyntaxError) as raised:
        list(read_env(text))
    assert (str(raised.value), raised.value.offset) == (problem, offset)


def test_a_value_that_doubles_at_every_line_is_not_kept() -> None:
    """``K1=${K0}${K0}``, ``K2=${K1}${K1}``…: forty such lines were 2⁴⁰ characters, and check
    never ended; past 4,096 characters more than written the value is not read."""
    text = "K0=ab\n" + "".join(f"K{i}=${{K{i - 1}}}${{K{i - 1}}}\n" for i in range(1, 24))
    settings = list(read_env(text))
    assert len(settings[11].value or "") == 2**12
    assert (settings[12].value, settings[12].unread) == (
        None,
        "it grows to more than 4,108 characters as compose substitutes it",
    )
    assert settings[-1].value is None


def test_credentials_are_not_kept() -> None:
    text = (
        "API_TOKEN=T0kenValue\n"
        "db_password='PassValue'\n"
        "IMAGE=bob:Hunter2pw@registry.example.com/shop/api:1.4\n"
        "URL=https://registry.example.com/v2/?token=T0kenValue\n"
        "TAG=1.4.2\n"
        "DERIVED=${API_TOKEN}-x\n"
    )
    (env,) = ComposeEnvReader().read(SourceFile("deploy/.env", text.encode()))
    assert isinstance(env, ComposeEnv)
    assert [(s.name, s.value, s.unread) for s in env.settings] == [
        ("API_TOKEN", None, "it looks like a credential"),
        ("db_password", None, "it looks like a credential"),
        ("IMAGE", None, "it looks like a credential"),
        ("URL", None, "it looks like a credential"),
        ("TAG", "1.4.2", ""),
        ("DERIVED", None, "it is made from ${API_TOKEN}, whose value backout does not read"),
    ]
    assert "T0ken" not in repr(env) and "Hunter2" not in repr(env)
    assert pickle.loads(pickle.dumps(env)) == env


def _check(tmp_path: Path, compose: str, env: str | None, select: str = "BK101") -> list:  # type: ignore[type-arg]
    (tmp_path / "docker-compose.yml").write_text(compose)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    config = Config().with_overrides(select=(select,))
    return check(tmp_path, config).findings


def test_latest_from_the_env_file_is_an_error_naming_its_line(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${TAG}\n"
    (finding,) = _check(tmp_path, compose, "# defaults\nTAG=latest\n")
    assert (str(finding.location), finding.severity) == ("docker-compose.yml:3:12", Severity.ERROR)
    assert "`shop/api:latest` is re-pointed by every push of `latest`" in finding.message
    assert "(judged by `TAG=latest` from .env:2, used unless the shell sets it)" in (
        finding.message
    )
    assert finding.fix.startswith("pin it by digest: `shop/api:latest@sha256:…`")


def test_a_version_from_the_env_file_is_a_version_tag(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${TAG:-latest}\n"
    (finding,) = _check(tmp_path, compose, "TAG=1.4.2\n")
    assert (str(finding.location), finding.severity) == (
        "docker-compose.yml:3:12",
        Severity.WARNING,
    )
    assert "`shop/api:1.4.2` names the tag `1.4.2`, which can be pushed again" in finding.message
    assert "`TAG=1.4.2` from .env:1" in finding.message
    assert "default" not in finding.message  # the default is not what runs


@pytest.mark.parametrize(
    ("tag", "env", "severity", "named"),
    [
        ("${TAG}", "TAG=latest\n", Severity.ERROR, "is re-pointed by every push of `latest`"),
        ("${TAG:-latest}", "TAG=1.4.2\n", Severity.WARNING, "names the tag `1.4.2`"),
    ],
)
def test_the_env_file_decides_the_tag_when_a_variable_sets_only_the_repository(
    tmp_path: Path, tag: str, env: str, severity: Severity, named: str
) -> None:
    # IMAGE_PREFIX has no value anywhere, but it cannot reach the tag, which the .env sets
    compose = f"services:\n  api:\n    image: ${{REGISTRY:-ghcr.io}}/${{IMAGE_PREFIX}}/api:{tag}\n"
    (finding,) = _check(tmp_path, compose, env)
    assert (str(finding.location), finding.severity) == ("docker-compose.yml:3:12", severity)
    assert named in finding.message
    assert (
        "(judged by the default of ${REGISTRY:-ghcr.io}, used when the variable is unset, and "
        f"by `{env.strip()}` from .env:1, used unless the shell sets it); ${{IMAGE_PREFIX}} has "
        "no default but sets only the repository"
    ) in finding.message


def test_required_variables_set_by_the_env_file_are_judged(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${TAG:?set}\n  db:\n    image: ${DB}\n"
    findings = _check(tmp_path, compose, f"TAG=latest\nDB=postgres:16@{DIGEST}\n")
    assert [(f.location.line, f.severity) for f in findings] == [(3, Severity.ERROR)]


def test_an_env_file_elsewhere_or_without_the_variable_changes_nothing(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${TAG:-1.4}\n"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".env").write_text("TAG=latest\n")
    (finding,) = _check(tmp_path, compose, "OTHER=latest\n")
    assert finding.severity == Severity.WARNING
    assert "judged by the default of ${TAG:-1.4}, used when the variable is unset)" in (
        finding.message
    )


def test_a_value_not_read_is_named_not_printed(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${API_TOKEN:-1.4}\n"
    (finding,) = _check(tmp_path, compose, "API_TOKEN=T0kenValue\n")
    assert finding.severity == Severity.WARNING
    assert finding.message == (
        "compose service api: the image `shop/api:${API_TOKEN:-1.4}` depends on `API_TOKEN`, "
        "which .env:1 sets to a value backout does not read (it looks like a credential), so "
        "which image runs, and which one a rollback restores, cannot be known from the "
        "repository"
    )


def test_an_env_file_compose_refuses_is_bk901_beside_a_compose_file(tmp_path: Path) -> None:
    compose = "services:\n  api:\n    image: shop/api:${TAG:-1.4}\n"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".env").write_text('NOT="closed\n')  # no compose file here: not ours
    (finding,) = _check(tmp_path, compose, "TAG=latest\nA B=1\n", select="BK901")
    assert str(finding.location) == ".env:2:1"
    assert "a key cannot contain a space: docker compose refuses to start" in finding.message


SECRETS = ("T0kenValue", "Hunter2pw", "PassValue")


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_no_format_prints_an_env_credential(tmp_path: Path, output_format: str) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  api:\n    image: shop/api:${API_TOKEN}\n"
        "  side:\n    image: ${SIDE_IMAGE}\n"
        "  web:\n    image: ${REG_USER}:${REG_PASSWORD}@registry.example.com/shop/web:${TAG}\n"
    )
    (tmp_path / ".env").write_text(
        "API_TOKEN=T0kenValue\n"
        "SIDE_IMAGE=bob:Hunter2pw@registry.example.com/shop/side:1.4\n"
        "REG_USER=bob\nREG_PASSWORD=PassValue\nTAG=latest\n"
    )
    done = run_backout("check", ".", "--output-format", output_format, cwd=tmp_path)
    printed = done.stdout + done.stderr
    assert "BK101" in printed, printed
    for secret in SECRETS:
        assert secret not in printed, f"{output_format} printed {secret}"


def test_only_the_env_file_changed_still_reports_the_compose_file(git_repo) -> None:  # type: ignore[no-untyped-def]
    compose = "services:\n  api:\n    image: shop/api:${TAG}\n"
    repo = git_repo({"docker-compose.yml": compose, ".env": "TAG=1.4.2\n"})
    git(repo, "tag", "v1")
    git_repo({".env": "TAG=latest\n"})
    done = run_backout("check", ".", "--base", "v1", "--format", "json", cwd=repo)
    findings = json.loads(done.stdout)["findings"]
    assert [(f["code"], f["path"], f["severity"]) for f in findings] == [
        ("BK101", "docker-compose.yml", "error")
    ]


def test_the_read_pool_applies_the_env_file_and_gitlab_includes(tmp_path: Path) -> None:
    """With enough files the reading runs in worker processes: the facts that the steps after
    reading join (a `.env` and its compose file, a pipeline and its includes) come back
    pickled, and are joined the same."""
    from backout.engine import PARALLEL_THRESHOLD

    (tmp_path / "k8s").mkdir()
    for index in range(PARALLEL_THRESHOLD):
        (tmp_path / "k8s" / f"cm{index}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{index}\n"
        )
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include: ci/templates.yml\nbuild:\n  extends: .build\n  script: [make]\n"
        "deploy:\n  stage: deploy\n  environment: production\n  script: [./deploy.sh]\n"
    )
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "templates.yml").write_text(
        ".build:\n  stage: build\n  artifacts:\n    paths: [dist/]\n    expire_in: 1 day\n"
    )
    compose = "services:\n  api:\n    image: shop/api:${TAG}\n"
    findings = _check(tmp_path, compose, "TAG=latest\n", select="BK")
    assert sorted((f.code, str(f.location)) for f in findings if f.code != "BK402") == [
        ("BK101", "docker-compose.yml:3:12"),
        ("BK301", "ci/templates.yml:5:16"),
    ]
    assert "from .env:1" in next(f.message for f in findings if f.code == "BK101")
