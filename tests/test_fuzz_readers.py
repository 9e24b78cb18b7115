"""Every reader in ALL_READERS, fed random bytes and random YAML-ish text: facts or Unreadable.

The list is read at test time, so readers added later are covered without touching this file.
A reader that raises would hide the rest of the release; the engine turns that into an
"internal error" Unreadable, so this test calls readers directly and fails on any exception.
"""

from __future__ import annotations

import pickle

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backout.sources import ALL_READERS
from backout.sources.base import Fact, Reader, SourceFile

# Each reader is fed the data under every one of these paths that it wants.
_CANDIDATE_PATHS = (
    "k8s/deploy.yaml",
    "docker-compose.yml",
    ".env",
    "kustomization.yaml",
    "Dockerfile",
    "charts/shop/Chart.yaml",
    "charts/shop/values.yaml",
    "charts/shop/templates/deployment.yaml",
    ".github/workflows/deploy.yml",
    ".gitlab-ci.yml",
    "deploy.sh",
    "migrations/0001_init.up.sql",
    "migrations/V2__add.sql",
    "flyway.conf",
    "conf/flyway.toml",
    "liquibase.properties",
    "pom.xml",
    "app/src/main/resources/application.yml",
    "src/main/resources/config/application-dev.properties",
    "alembic/versions/abc_add.py",
    "shop/migrations/0002_add.py",
    "config/settings/base.py",
    "lifecycle-policy.json",
    "main.tf",
    "docs/RUNBOOK.md",
    "backout.lock",
    "db/changelog/db.changelog-master.xml",
)

_YAML_PIECES = st.sampled_from(
    [
        "apiVersion: apps/v1\n",
        "kind: Deployment\n",
        "kind: List\nitems:\n",
        "kind: CronJob\n",
        "metadata: {name: x}\n",
        "spec:\n",
        "  template:\n    spec:\n      containers:\n",
        "        - image: registry:5000/app\n",
        "        - image: [1, 2]\n",
        "        - {name: a, image: ~}\n",
        "  revisionHistoryLimit: -1\n",
        "  revisionHistoryLimit: 1e9\n",
        "  selector: &a {matchLabels: *a}\n",
        "services:\n  api:\n    image: ${A:-${B:-${C\n",
        "images:\n  - name: x\n    newTag: !!binary aGk=\n",
        "FROM --platform=$X ${BASE:-} AS \\\n",
        "RUN <<EOF\n",
        "---\n",
        "- - - [\n",
        "{{ .Values.image }}\n",
        "\t\x00\ufeff",
        ": : :\n",
        "key: 'unterminated\n",
        "export TAG=\"a \\$B ${C:-${D}} \\0101\" # x\nE='\\'\nbare\n",
        "on:\n  push:\njobs:\n  a:\n    steps:\n      - run: helm upgrade x --history-max 2\n",
        "ALTER TABLE t ADD COLUMN c int NOT NULL;\n",
        "def upgrade():\n    op.drop_column('t', 'c')\n",
        "databaseChangeLog:\n",
        "  - changeSet:\n      id: 1\n      changes:\n",
        "        - dropColumn: {tableName: t, columns: [{column: {name: c}}]}\n",
        "      rollback: [1, {sql: {sql: [x]}}, {changeSetId: 1}]\n",
        "  - include: {file: ../../x.yaml, relativeToChangelogFile: true}\n",
        "<databaseChangeLog><changeSet id='1' author='a' dbms='!postgresql'>",
        "<sql endDelimiter='GO'>DROP TABLE t;\nGO\n</sql><rollback/>",
        "<rollback changeSetId='1'/></changeSet><include/><![CDATA[",
        "<project><build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>",
        "<configuration><placeholders><a>${b}</a><c><d/></c></placeholders>",
        "<properties><flyway.mixed>maybe</flyway.mixed><b>${b}</b></properties>",
        "spring:\n  flyway:\n    placeholders:\n      [a.b]: [1, {c: ~}]\n",
        "spring.flyway.placeholders.x=${y:${z}}\n#---\n",
    ]
)
_YAML_ISH = st.lists(st.one_of(_YAML_PIECES, st.text(max_size=40)), max_size=25).map("".join)


def _wanted_paths() -> list[tuple[str, Reader]]:
    pairs = []
    for reader in ALL_READERS:
        paths = [p for p in _CANDIDATE_PATHS if reader.wants(p)]
        pairs.extend((path, reader) for path in paths or [""])
    return pairs


def _read_everything(data: bytes) -> None:
    for path, reader in _wanted_paths():
        facts = list(reader.read(SourceFile(path or "input.yaml", data)))
        for fact in facts:
            assert isinstance(fact, Fact), f"{reader.name} yielded {fact!r}"
        pickle.dumps(facts)  # the process pool ships facts between processes


def test_every_reader_is_fuzzed_on_a_path_it_wants() -> None:
    unfuzzed = [reader.name for path, reader in _wanted_paths() if not path]
    assert ALL_READERS
    assert not unfuzzed, f"add a path these readers want to _CANDIDATE_PATHS: {unfuzzed}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    _read_everything(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_YAML_ISH)
def test_random_yaml_never_raises(text: str) -> None:
    _read_everything(text.encode("utf-8", "surrogatepass"))
