"""Flyway placeholders (and Liquibase changelog parameters) in the drill, through the real CLI
on the PostgreSQL and MariaDB servers of 127.0.0.1 (these tests FAIL, never skip, when one is
missing): the values come from flyway.conf / flyway.toml / liquibase.properties and
``[drill] placeholders``, Flyway's built-ins get the throwaway database's values, and a
placeholder without a value stops the drill before any database is made, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.config import ConfigError, config_from_table
from backout.drill.placeholders import Placeholders, occurrences
from backout.models import Location
from backout.sources.base import SourceFile, Unreadable
from backout.sources.migration_facts import Migration
from backout.sources.tool_config import ToolConfig, ToolConfigReader
from tests.drill_repos import (
    MARIADB_URL,
    PG_URL,
    backout,
    codes,
    made_by,
    make_files_repo,
    mariadb_drill_databases,
    pg_drill_databases,
)

# Modelled on Flyway's own placeholder examples (flyway/flyway, documentation/Flyway CLI and
# API/Configuration/Parameters/Flyway/Placeholders.md): a table-name prefix from the
# configuration, the default schema and the user Flyway connects as.
V1 = (
    "-- users of ${flyway:database}, written ${flyway:timestamp} by ${flyway:filename}\n"
    "CREATE TABLE ${schema}.${tablePrefix}users (id integer PRIMARY KEY, email text NOT NULL);\n"
    "GRANT SELECT ON ${schema}.${tablePrefix}users TO ${flyway:user};\n"
)
U1 = "DROP TABLE ${schema}.${tablePrefix}users;\n"
# A rename the old release cannot live with; its undo puts the column back.
V2_RENAME = (
    "-- ${flyway:environment}, history in ${flyway:table}\n"
    "ALTER TABLE ${flyway:defaultSchema}.${TablePrefix}users RENAME COLUMN email TO mail;\n"
)
U2_RENAME = "ALTER TABLE ${flyway:defaultSchema}.${tablePrefix}users RENAME COLUMN mail TO email;\n"


def _drill(repo: Path, url: str, *extra: str) -> tuple[str, str, int, int]:
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", "concise", *extra
    )
    return result.stdout, result.stderr, result.returncode, pid


def test_conf_and_backout_placeholders_and_built_ins_on_postgresql(tmp_path: Path) -> None:
    repo = make_files_repo(
        tmp_path,
        {
            "conf/flyway.conf": "flyway.url=jdbc:postgresql://db/app\n"
            "flyway.placeholders.tablePrefix=app_\n",
            "db/migration/V1__users.sql": V1,
            "db/migration/U1__users.sql": U1,
        },
        {"db/migration/V2__rename.sql": V2_RENAME, "db/migration/U2__rename.sql": U2_RENAME},
    )
    with (repo / "backout.toml").open("a") as config:
        config.write('[drill]\nplaceholders = { schema = "public" }\n')
    stdout, stderr, code, pid = _drill(repo, PG_URL)
    # The rename is found, on the table the placeholders name, at the line of the migration
    # file (values of other lengths move no line): not a syntax error at "$".
    assert codes(stdout) == ["BK211", "BK211"], stdout + stderr
    assert stdout.count("db/migration/V2__rename.sql:2:") == 2
    assert 'INSERT INTO "app_users" ("id", "email")' in stdout
    assert "${" not in stdout + stderr
    assert code == 1
    assert made_by(pid, pg_drill_databases()) == []


def test_toml_environment_placeholders_on_mariadb(tmp_path: Path) -> None:
    toml = (
        "[flyway]\n"
        'environment = "ci"\n'
        "[flyway.placeholders]\n"
        'tablePrefix = "wrong_"\n'
        "[environments.ci]\n"
        'url = "jdbc:mariadb://db/app"\n'
        "[environments.ci.flyway.placeholders]\n"
        'tablePrefix = "app_"\n'
        'column = "nickname"\n'
    )
    # MariaDB: ${flyway:defaultSchema} is the drill database itself.
    v1 = (
        "CREATE TABLE ${flyway:defaultSchema}.${tablePrefix}users "
        "(id integer PRIMARY KEY, email text NOT NULL);\n"
    )
    repo = make_files_repo(
        tmp_path,
        {
            "flyway.toml": toml,
            "db/V1__users.sql": v1,
            "db/U1__users.sql": "DROP TABLE ${tablePrefix}users;\n",
        },
        {
            "db/V2__nick.sql": "ALTER TABLE ${flyway:defaultSchema}.${tablePrefix}users "
            "ADD COLUMN ${column} text;\n",
            # Written out: with [flyway]'s wrong_ instead of the environment's app_, this
            # undo would fail (BK212).
            "db/U2__nick.sql": "ALTER TABLE app_users DROP COLUMN nickname;\n",
        },
        dialect="mysql",
    )
    stdout, stderr, code, pid = _drill(repo, MARIADB_URL)
    assert (code, codes(stdout)) == (0, []), stdout + stderr
    assert made_by(pid, mariadb_drill_databases()) == []
    # Another environment chosen in backout's configuration: `column` is ci's alone.
    with (repo / "backout.toml").open("a") as config:
        config.write('[drill]\nflyway-environment = "local"\n')
    (repo / "flyway.toml").write_text(toml + "[environments.local]\nurl = 'x'\n")
    stdout, stderr, code, pid = _drill(repo, MARIADB_URL)
    assert code == 2, stdout + stderr
    assert "${column} (db/V2__nick.sql:1:" in stderr
    assert made_by(pid, mariadb_drill_databases()) == []


def test_placeholder_without_a_value_stops_the_drill_naming_it(tmp_path: Path) -> None:
    repo = make_files_repo(
        tmp_path,
        {
            "flyway.conf": "flyway.placeholders.tablePrefix=app_\n",
            "db/V1__users.sql": V1.replace("${schema}.", ""),
            "db/U1__users.sql": U1.replace("${schema}.", ""),
        },
        {
            "db/V2__tenant.sql": "ALTER TABLE ${tablePrefix}users\n"
            "  ADD COLUMN tenant text NOT NULL DEFAULT '${tenant}';\n",
            "db/U2__tenant.sql": "ALTER TABLE ${tablePrefix}users DROP COLUMN tenant;\n",
        },
    )
    stdout, stderr, code, pid = _drill(repo, PG_URL)
    assert code == 2, stdout + stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "${tenant} (db/V2__tenant.sql:2:44)" in lines[0]
    assert 'placeholders = { tenant = "…" }' in lines[0]
    assert "syntax error" not in stderr
    # Stopped before any database was made.
    assert made_by(pid, pg_drill_databases()) == []

    # Given in backout's configuration, the drill runs.
    with (repo / "backout.toml").open("a") as config:
        config.write('[drill]\nplaceholders = { tenant = "acme" }\n')
    stdout, stderr, code, pid = _drill(repo, PG_URL)
    assert code == 0, stdout + stderr
    assert made_by(pid, pg_drill_databases()) == []


def test_replacement_off_and_other_markers_as_flyway_has_them(tmp_path: Path) -> None:
    # A `${…}` that is data, not a placeholder: with placeholderReplacement=false Flyway sends
    # it as written (here inside a string, where the server takes it).
    base = {
        "flyway.conf": "flyway.placeholderReplacement=false\n",
        "db/V1__t.sql": "CREATE TABLE templates (id integer PRIMARY KEY, body text);\n"
        "INSERT INTO templates VALUES (1, 'Hello ${name}');\n",
        "db/U1__t.sql": "DROP TABLE templates;\n",
    }
    release = {
        "db/V2__t.sql": "ALTER TABLE templates ADD COLUMN lang text DEFAULT 'en';\n",
        "db/U2__t.sql": "ALTER TABLE templates DROP COLUMN lang;\n",
    }
    repo = make_files_repo(tmp_path, base, release)
    stdout, stderr, code, _ = _drill(repo, PG_URL)
    assert code == 0, stdout + stderr
    # Replacement on (the default), the same file stops the drill: ${name} has no value.
    (repo / "flyway.conf").write_text(
        "flyway.placeholderPrefix=#[\nflyway.placeholderSuffix=]\nflyway.placeholders.lang=en\n"
    )
    (repo / "db/V2__t.sql").write_text(
        "ALTER TABLE templates ADD COLUMN lang text DEFAULT '#[lang]';\n"
    )
    stdout, stderr, code, pid = _drill(repo, PG_URL)
    # #[…] markers: ${name} is data again, #[lang] is replaced.
    assert code == 0, stdout + stderr
    assert made_by(pid, pg_drill_databases()) == []
    (repo / "flyway.conf").unlink()
    stdout, stderr, code, _ = _drill(repo, PG_URL)
    assert code == 2
    assert "${name} (db/V1__t.sql:2:" in stderr


def test_liquibase_parameters_from_liquibase_properties(tmp_path: Path) -> None:
    lb = "--liquibase formatted sql\n"
    repo = make_files_repo(
        tmp_path,
        {
            "liquibase.properties": "changeLogFile=db/changelog.sql\nparameter.prefix=app_\n",
            "db/001_init.sql": lb + "--changeset ana:1\n"
            "CREATE TABLE ${prefix}users (id integer PRIMARY KEY, email text);\n"
            "--rollback DROP TABLE ${prefix}users;\n",
        },
        {
            "db/002_drop.sql": lb + "--changeset ana:2\n"
            "ALTER TABLE ${prefix}users DROP COLUMN email;\n"
            "--rollback ALTER TABLE ${prefix}users ADD COLUMN email text;\n",
        },
    )
    stdout, stderr, _, pid = _drill(repo, PG_URL)
    # The column's data is lost by the rollback: found on app_users, not a syntax error.
    assert "BK208" in codes(stdout), stdout + stderr
    assert "app_users" in stdout
    assert made_by(pid, pg_drill_databases()) == []


@pytest.mark.parametrize(
    ("drill", "message"),
    [
        ({"placeholders": "app"}, "invalid drill.placeholders: expected a table such as"),
        (
            {"placeholders": {"replicas": 3}},
            'invalid drill.placeholders.replicas 3: expected a string, e.g. replicas = "3"',
        ),
        (
            {"placeholders": {"a": {"b": "x"}}},
            "invalid drill.placeholders name 'a'",
        ),
        ({"flyway-environment": 1}, "invalid drill.flyway-environment: expected a string"),
        (
            {"placeholder": {"a": "x"}},
            "unknown key 'drill.placeholder' (did you mean 'placeholders'?)",
        ),
    ],
)
def test_bad_drill_placeholder_settings(drill: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_table({"drill": drill})
    assert message in str(caught.value)


def test_bad_placeholder_setting_in_the_file_is_exit_2_one_line(tmp_path: Path) -> None:
    repo = make_files_repo(
        tmp_path, {"db/V1__a.sql": "SELECT 1;\n"}, {"db/V2__b.sql": "SELECT 2;\n"}
    )
    (repo / "backout.toml").write_text("[drill]\nplaceholders = { schema = 5 }\n")
    _, stderr, code, _ = _drill(repo, PG_URL)
    assert code == 2
    assert stderr.strip().splitlines() == [
        f"backout: error: {repo / 'backout.toml'}: invalid drill.placeholders.schema 5: "
        'expected a string, e.g. schema = "5"'
    ]


def test_unknown_flyway_environment_is_exit_2_naming_the_nearest(tmp_path: Path) -> None:
    repo = make_files_repo(
        tmp_path,
        {
            "flyway.toml": "[environments.staging]\nurl = 'x'\n",
            "db/V1__a.sql": "CREATE TABLE a (id integer);\n",
        },
        {"db/V2__b.sql": "CREATE TABLE b (id integer);\n"},
    )
    with (repo / "backout.toml").open("a") as config:
        config.write('[drill]\nflyway-environment = "stagin"\n')
    _, stderr, code, pid = _drill(repo, PG_URL)
    assert code == 2
    assert stderr.strip().splitlines() == [
        "backout: error: invalid drill.flyway-environment 'stagin': no "
        "[environments.stagin] in flyway.toml (did you mean 'staging'?)"
    ]
    assert made_by(pid, pg_drill_databases()) == []


# --- The reader and the replacement, without a database ----------------------------------------


def _read(path: str, text: str) -> list[object]:
    return list(ToolConfigReader().read(SourceFile(path, text.encode())))


def test_flyway_conf_is_read_as_java_properties() -> None:
    (config,) = _read(
        "conf/flyway.conf",
        "# comment\n! also a comment\nflyway.placeholders.long = a,\\\n    b\n"
        "flyway.placeholders.caf\\u00e9:x\nflyway.mixed=true\nflyway.placeholderSeparator=_\n",
    )
    assert isinstance(config, ToolConfig)
    assert [(p.name, p.value, p.line) for p in config.settings.placeholders] == [
        ("long", "a,b", 3),
        ("café", "x", 5),
    ]
    assert config.settings.mixed is True
    assert config.settings.separator == "_"


@pytest.mark.parametrize(
    ("path", "text", "where", "reason"),
    [
        ("flyway.toml", "[flyway\nmixed = true\n", 1, "invalid TOML"),
        ("db/flyway.toml", "[flyway]\n\nmixed = 'yes'\n", 3, "flyway.mixed must be true or false"),
        (
            "flyway.toml",
            "[flyway.placeholders]\na = 'x'\nb = [1]\n",
            3,
            "placeholder flyway.placeholders.b must be a string",
        ),
        (
            "flyway.conf",
            "flyway.url=x\nflyway.placeholderReplacement=no\n",
            2,
            "flyway.placeholderReplacement must be true or false, not 'no'",
        ),
    ],
)
def test_bad_configuration_is_unreadable_at_its_line(
    path: str, text: str, where: int, reason: str
) -> None:
    (fact,) = _read(path, text)
    assert isinstance(fact, Unreadable)
    assert fact.location == Location(path, where, 1)
    assert reason in fact.reason


def test_occurrences_run_from_prefix_to_the_next_suffix() -> None:
    text = "a ${x} $${y} ${flyway:user} ${unterminated"
    assert [o.name for o in occurrences(text, "${", "}")] == ["x", "y", "flyway:user"]


def test_nearest_configuration_wins_and_backout_over_all(tmp_path: Path) -> None:
    def conf(path: str, text: str) -> ToolConfig:
        (fact,) = _read(path, text)
        assert isinstance(fact, ToolConfig)
        return fact

    configs = [
        conf("db/flyway.conf", "flyway.placeholders.a=db\n"),
        conf("flyway.conf", "flyway.placeholders.a=root\nflyway.placeholders.b=root\n"),
        conf("conf/flyway.conf", "flyway.placeholders.c=conf\nflyway.placeholders.b=conf\n"),
        conf("other/flyway.conf", "flyway.placeholders.d=other\n"),
    ]
    migration = _migration("db/migration/V1__a.sql", "")
    scheme = Placeholders(configs, {"C": "backout"}, tmp_path).scheme(migration)
    assert scheme is not None
    assert scheme.values == {"a": "db", "b": "root", "c": "backout"}


def _migration(path: str, sql: str) -> Migration:
    return Migration(
        Location(path), "flyway", "sql", path.rpartition("/")[0], "1", ((1, ""),), "a", sql
    )


def test_environment_variables_as_flyway_reads_them(tmp_path: Path) -> None:
    (toml,) = _read("flyway.toml", "[flyway.placeholders]\nschema = '${env.APP_SCHEMA}'\n")
    (conf,) = _read("db/flyway.conf", "flyway.placeholders.owner=${APP_OWNER}\n")
    assert isinstance(toml, ToolConfig) and isinstance(conf, ToolConfig)
    migration = _migration("db/V1__a.sql", "CREATE TABLE ${schema}.t (o text DEFAULT '${owner}');")
    environ = {"APP_SCHEMA": "app", "APP_OWNER": "ops", "FLYWAY_PLACEHOLDERS_REGION": "eu"}
    scheme = Placeholders([toml, conf], {}, tmp_path, environ=environ).scheme(migration)
    assert scheme is not None
    assert scheme.values == {"schema": "app", "owner": "ops", "region": "eu"}
    # backout's own setting wins over FLYWAY_PLACEHOLDERS_*.
    scheme = Placeholders([toml, conf], {"Region": "us"}, tmp_path, environ=environ).scheme(
        migration
    )
    assert scheme is not None and scheme.values["region"] == "us"
    # An environment variable that is not set leaves the placeholder without a value, and
    # the drill says which variable.
    missing = Placeholders([toml, conf], {}, tmp_path, environ={}).missing([migration])
    assert [str(m) for m in missing] == [
        "${schema} (db/V1__a.sql:1:14: its value in flyway.toml:2 reads the environment "
        "variable APP_SCHEMA, which is not set)",
        "${owner} (db/V1__a.sql:1:43: its value in db/flyway.conf:1 reads the environment "
        "variable APP_OWNER, which is not set)",
    ]


def test_placeholder_from_the_environment_in_a_real_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_files_repo(
        tmp_path,
        {"db/V1__a.sql": "CREATE TABLE ${table} (id integer PRIMARY KEY);\n"},
        {
            "db/V2__b.sql": "ALTER TABLE ${table} ADD COLUMN note text;\n",
            "db/U2__b.sql": "ALTER TABLE ${table} DROP COLUMN note;\n",
        },
    )
    monkeypatch.setenv("FLYWAY_PLACEHOLDERS_TABLE", "notes")
    stdout, stderr, code, pid = _drill(repo, PG_URL)
    assert code == 0, stdout + stderr
    assert made_by(pid, pg_drill_databases()) == []


@pytest.mark.parametrize("report", ["concise", "full", "json", "sarif"])
def test_placeholder_credentials_are_masked_in_what_the_drill_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    # A role's password from the environment, as Flyway's documentation suggests for secrets
    # (``${env.…}`` / ``${…}`` in the configuration, FLYWAY_PLACEHOLDERS_*), and a key named as
    # one in flyway.conf: PostgreSQL's error and the failing statement quote the values.
    repo = make_files_repo(
        tmp_path,
        {
            "flyway.conf": "flyway.placeholders.appPassword=${APP_PASSWORD}\n"
            "flyway.placeholders.apiKey=Zq9LiteralKey77\n"
            "flyway.placeholders.tablePrefix=app_\n",
            "db/V1__a.sql": "CREATE TABLE ${tablePrefix}accounts (id integer PRIMARY KEY);\n",
        },
        {
            "db/V2__b.sql": "ALTER TABLE ${tablePrefix}accounts ADD COLUMN token text "
            "DEFAULT '${apiKey}';\nSELECT '${appPassword}'::integer;\n"
            "SELECT '${dbToken}'::integer;\n",
            "db/U2__b.sql": "ALTER TABLE ${tablePrefix}accounts DROP COLUMN token;\n",
        },
    )
    monkeypatch.setenv("APP_PASSWORD", "Hunter2Secret")
    monkeypatch.setenv("FLYWAY_PLACEHOLDERS_DBTOKEN", "EnvT0kenValue")
    url = PG_URL.replace("postgres@", "postgres:UrlPassw0rd@")
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", report, "--verbose"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "invalid input syntax for type integer" in output
    for secret in ("Hunter2Secret", "Zq9LiteralKey77", "UrlPassw0rd"):
        assert secret not in output, (secret, output)
    assert "***" in output
    assert made_by(pid, pg_drill_databases()) == []


def test_secrets_are_values_from_the_environment_or_named_as_credentials(
    tmp_path: Path,
) -> None:
    (conf,) = _read(
        "db/flyway.conf",
        "flyway.placeholders.owner=${APP_OWNER}\nflyway.placeholders.prefix=app_\n"
        "flyway.placeholders.DB_PASSWORD=pw-in-file\n",
    )
    assert isinstance(conf, ToolConfig)
    environ = {"APP_OWNER": "alice", "FLYWAY_PLACEHOLDERS_REGION": "eu"}
    placeholders = Placeholders([conf], {"schema": "tenant"}, tmp_path, environ=environ)
    assert placeholders.secrets() == set()  # no scheme built yet
    assert placeholders.scheme(_migration("db/V1__a.sql", "")) is not None
    assert placeholders.secrets() == {"alice", "pw-in-file", "eu"}
