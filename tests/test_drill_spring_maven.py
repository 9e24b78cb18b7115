"""Flyway placeholders from Spring Boot (``application.yml``/``.properties``) and Maven
(``pom.xml``, the flyway-maven-plugin) in the drill: the binding as Spring Boot and Maven do
it, and real drills through the CLI on Spring-style repositories (SQLite, and the PostgreSQL
server of 127.0.0.1, whose tests FAIL, never skip, when it is missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.config import ConfigError, config_from_table
from backout.drill.database import DrillError
from backout.drill.placeholders import Placeholders
from backout.models import Location
from backout.sources.base import SourceFile
from backout.sources.migration_facts import Migration
from backout.sources.tool_config import ToolConfig, ToolConfigReader
from tests.drill_repos import PG_URL, backout, codes, made_by, make_files_repo, pg_drill_databases
from tests.test_spring_maven_readers import RESOURCES, read_pom, read_spring

MIGRATIONS = f"{RESOURCES}/db/migration"


# --- Binding: which values a migration gets -----------------------------------------------------


def _migration(path: str = f"{MIGRATIONS}/V1__a.sql", sql: str = "") -> Migration:
    return Migration(
        Location(path), "flyway", "sql", path.rpartition("/")[0], "1", ((1, ""),), "a", sql
    )


def _values(
    tmp_path: Path,
    spring: dict[str, str],
    environ: dict[str, str] | None = None,
    profiles: str | None = None,
    migration: str = f"{MIGRATIONS}/V1__a.sql",
    configs: list[ToolConfig] | None = None,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    placeholders = Placeholders(
        configs or [],
        overrides or {},
        tmp_path,
        environ=environ or {},
        spring=[read_spring(path, text) for path, text in spring.items()],
        spring_profiles=profiles,
    )
    scheme = placeholders.scheme(_migration(migration))
    assert scheme is not None
    return scheme.values


def _of_one_file(
    tmp_path: Path, path: str, text: str, environ: dict[str, str] | None = None
) -> Placeholders:
    """The placeholders of an application of one configuration file."""
    return Placeholders([], {}, tmp_path, environ=environ or {}, spring=[read_spring(path, text)])


def test_relaxed_names_and_map_keys_as_spring_boot_binds_them(tmp_path: Path) -> None:
    placeholders = _of_one_file(
        tmp_path,
        f"{RESOURCES}/application.properties",
        "spring.flyway.placeholderPrefix=#[\n"  # camel case: the same setting
        "spring.flyway.placeholder_suffix=]\n"  # underscores too
        "spring.Flyway.Placeholders.my_name=kept\n"  # '_' stays in a map key
        "spring.flyway.placeholders.my-name=dashed\n"
        "spring.flyway.placeholders.tenant$id=dropped\n"  # '$' is dropped
        "spring.flyway.placeholders.[a$b]=bracketed\n"  # unless in brackets
        "spring.flyway.placeholders.dotted.name=dots\n",
    )
    migration = _migration(sql="SELECT '#[tenant$id]';")
    scheme = placeholders.scheme(migration)
    assert scheme is not None
    assert (scheme.prefix, scheme.suffix) == ("#[", "]")
    assert scheme.values == {
        "my_name": "kept",
        "my-name": "dashed",
        "tenantid": "dropped",
        "a$b": "bracketed",
        "dotted.name": "dots",
    }
    # The name written with '$' has no value: the drill says what Spring did with it.
    (missing,) = placeholders.missing([migration])
    assert str(missing) == (
        f"#[tenant$id] ({MIGRATIONS}/V1__a.sql:1:9: spring.flyway.placeholders.tenant$id in "
        f"{RESOURCES}/application.properties:5 binds to the name 'tenantid': Spring Boot drops "
        "every character but letters, digits, '-' and '_' from a map key not written in "
        "brackets ([tenant$id]))"
    )


_YAML = (
    "spring:\n"
    "  profiles:\n"
    "    active: dev\n"
    "    include: eu\n"
    "    group:\n"
    "      dev: [local]\n"
    "  flyway:\n"
    "    placeholders:\n"
    "      prefix: plain_\n"
    "      only-plain: yes\n"
    "      props: yaml\n"  # application.properties beside it wins
    "---\n"
    "spring.config.activate.on-profile: prod\n"
    "spring.flyway.placeholders.prefix: prod_\n"
    "---\n"
    "spring.config.activate.on-profile: '!prod & (dev | test)'\n"
    "spring.flyway.placeholders.expression: matched\n"
    "---\n"
    "spring.profiles: dev\n"  # the spelling before Spring Boot 2.4
    "spring.flyway.placeholders.legacy: on\n"
    "---\n"
    "spring.config.activate.on-cloud-platform: kubernetes\n"
    "spring.flyway.placeholders.prefix: cloud_\n"
)


def test_profiles_documents_and_file_precedence(tmp_path: Path) -> None:
    spring = {
        f"{RESOURCES}/application.yml": _YAML,
        # A .properties file wins over the YAML one beside it, config/ over both.
        f"{RESOURCES}/application.properties": "spring.flyway.placeholders.props=root\n"
        "spring.flyway.placeholders.folder=root\n",
        f"{RESOURCES}/config/application.properties": "spring.flyway.placeholders.folder=config\n",
        # Profile files win over every plain file; the group's member after its profile.
        f"{RESOURCES}/application-dev.yml": "spring.flyway.placeholders:\n  prefix: dev_\n"
        "  props: dev\n  local: dev\n",
        f"{RESOURCES}/application-local.properties": "spring.flyway.placeholders.local=local\n",
        f"{RESOURCES}/application-prod.properties": "spring.flyway.placeholders.prod=yes\n",
        f"{RESOURCES}/application-default.properties": "spring.flyway.placeholders.d=yes\n",
        # Included, so active whatever the profiles, and before them.
        f"{RESOURCES}/application-eu.properties": "spring.flyway.placeholders.eu=yes\n"
        "spring.flyway.placeholders.local=eu\n",
    }
    assert _values(tmp_path, spring) == {
        "prefix": "dev_",
        "only-plain": "true",
        "expression": "matched",
        "legacy": "true",
        "props": "dev",
        "folder": "config",
        "eu": "yes",
        "local": "local",
    }
    # The drill's setting wins over the file's spring.profiles.active, the environment's
    # SPRING_PROFILES_ACTIVE too.
    prod = {
        "prefix": "prod_",
        "only-plain": "true",
        "props": "root",
        "folder": "config",
        "eu": "yes",
        "local": "eu",
    }
    assert _values(tmp_path, spring, profiles="prod") == {**prod, "prod": "yes"}
    assert _values(tmp_path, spring, environ={"SPRING_PROFILES_ACTIVE": "prod"}) == {
        **prod,
        "prod": "yes",
    }
    # No profile active at all: Spring's "default" profile.
    del spring[f"{RESOURCES}/application.yml"]
    assert _values(tmp_path, spring)["d"] == "yes"


def test_values_read_the_environment_and_other_settings(tmp_path: Path) -> None:
    placeholders = _of_one_file(
        tmp_path,
        f"{RESOURCES}/application.yml",
        "app:\n  schema: ${APP_SCHEMA:public}\n"
        "spring.flyway.placeholders:\n"
        "  schema: ${app.schema}\n"
        "  owner: ${db.owner}\n"  # DB_OWNER in the environment, as Spring reads it
        "  tenant: ${TENANT:${REGION:eu}-default}\n"
        "  literal: '${nowhere}'\n",
        environ={"DB_OWNER": "ops", "REGION": "us"},
    )
    migration = _migration(sql="SELECT '${literal}';")
    scheme = placeholders.scheme(migration)
    assert scheme is not None
    assert scheme.values == {"schema": "public", "owner": "ops", "tenant": "us-default"}
    (missing,) = placeholders.missing([migration])
    assert missing.why == (
        f"its value in {RESOURCES}/application.yml:7 reads ${{nowhere}}, which neither the "
        "environment nor the application's Spring Boot configuration sets"
    )
    # What the environment gave is masked wherever the drill quotes it.
    assert placeholders.secrets() == {"ops", "us-default"}


def test_a_default_is_read_only_when_it_is_used(tmp_path: Path) -> None:
    """``${TENANT:${OTHER}}`` with ``TENANT`` set is ``TENANT``'s value, as Spring Boot reads
    it: the default's unset ``OTHER`` stopped the drill; settings read once each."""
    yaml = (
        "db:\n  prod: s1\n"
        "spring.flyway.placeholders:\n"
        "  tenant: ${TENANT:${OTHER}}\n"
        "  schema: ${db.${ENV}}\n"
        "  fallback: ${db.${NOPE}:dflt}\n"
        "  deep: ${A:${B:${C:deep}}}\n"
        "  colon: '${X:a:b}'\n"
    )
    spring = {f"{RESOURCES}/application.yml": yaml}
    values = _values(tmp_path, spring, environ={"TENANT": "acme", "ENV": "prod"})
    assert values == {
        "tenant": "acme",
        "schema": "s1",
        "fallback": "dflt",
        "deep": "deep",
        "colon": "a:b",
    }


def test_an_application_speaks_for_the_migrations_in_its_locations(tmp_path: Path) -> None:
    spring = {
        # The application's own module wins over another module's application.
        f"app/{RESOURCES}/application.properties": "spring.flyway.placeholders.a=app\n"
        "spring.flyway.locations=classpath:db/{vendor},filesystem:sql/**/flyway\n",
        f"{RESOURCES}/application.properties": "spring.flyway.placeholders.a=root\n"
        "spring.flyway.placeholders.b=root\n",
    }
    assert _values(tmp_path, spring, migration=f"app/{RESOURCES}/db/postgresql/V1__a.sql") == {
        "a": "app"
    }
    assert _values(tmp_path, spring, migration="app/sql/x/y/flyway/V1__a.sql") == {"a": "app"}
    # The root application's default location holds the migrations of any module's
    # classpath (a dependency's jar), where the app one's do not reach.
    assert _values(tmp_path, spring, migration=f"lib/{MIGRATIONS}/V1__a.sql") == {
        "a": "root",
        "b": "root",
    }
    assert _values(tmp_path, spring, migration="db/V1__a.sql") == {}


def test_a_placeholder_set_for_other_locations_says_so(tmp_path: Path) -> None:
    placeholders = _of_one_file(
        tmp_path,
        f"{RESOURCES}/application.yml",
        "spring.flyway:\n  locations: classpath:db/main\n  placeholders: {tenant: a}\n",
    )
    migration = _migration(f"{MIGRATIONS}/V1__a.sql", "SELECT '${tenant}';")
    (missing,) = placeholders.missing([migration])
    assert missing.why == (
        f"{RESOURCES}/application.yml:3 sets it for the migrations in spring.flyway.locations "
        f"(classpath:db/main), which do not hold {MIGRATIONS}"
    )


def test_spring_profiles_without_spring_configuration_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DrillError, match=r"invalid drill\.spring-profiles 'prod': the repository"):
        Placeholders([], {}, tmp_path, environ={}, spring_profiles="prod")


def test_precedence_across_maven_flyway_conf_spring_and_the_environment(tmp_path: Path) -> None:
    (pom,) = read_pom(
        "<project><properties><flyway.placeholders.a>pom</flyway.placeholders.a>"
        "<flyway.placeholders.b>pom</flyway.placeholders.b>"
        "<flyway.placeholders.c>pom</flyway.placeholders.c>"
        "<flyway.placeholders.d>pom</flyway.placeholders.d></properties></project>"
    )
    (conf,) = list(
        ToolConfigReader().read(
            SourceFile("flyway.conf", b"flyway.placeholders.b=conf\nflyway.placeholders.c=conf\n")
        )
    )
    assert isinstance(pom, ToolConfig) and isinstance(conf, ToolConfig)
    spring = {f"{RESOURCES}/application.yml": "spring.flyway.placeholders: {c: spring, d: x}\n"}
    values = _values(
        tmp_path,
        spring,
        environ={"SPRING_FLYWAY_PLACEHOLDERS_D": "spring-env", "FLYWAY_PLACEHOLDERS_E": "env"},
        configs=[conf, pom],
        overrides={"e": "backout"},
    )
    assert values == {"a": "pom", "b": "conf", "c": "spring", "d": "spring-env", "e": "backout"}


def test_spring_environment_variables_bind_underscores_as_dots(tmp_path: Path) -> None:
    placeholders = Placeholders(
        [], {}, tmp_path, environ={"SPRING_FLYWAY_PLACEHOLDERS_TABLE_PREFIX": "app_"}
    )
    migration = _migration(sql="CREATE TABLE ${table_prefix}users (id int);")
    scheme = placeholders.scheme(migration)
    assert scheme is not None and scheme.values == {"table.prefix": "app_"}
    (missing,) = placeholders.missing([migration])
    assert "binds to the name 'table.prefix'" in missing.why


def test_maven_values_read_the_environment_and_the_basedir(tmp_path: Path) -> None:
    (pom,) = read_pom(
        "<project><build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>"
        "<configuration><placeholders>\n<secret>${env.SHOP_SECRET}</secret>\n"
        "<dir>${project.basedir}/x</dir>\n<cli>${tenant.id}</cli>\n"
        "</placeholders></configuration></plugin></plugins></build></project>",
        "shop/pom.xml",
    )
    assert isinstance(pom, ToolConfig)
    migration = _migration(f"shop/{MIGRATIONS}/V1__a.sql", "SELECT '${cli}';")
    placeholders = Placeholders([pom], {}, tmp_path, environ={"SHOP_SECRET": "s3cret-value"})
    scheme = placeholders.scheme(migration)
    assert scheme is not None
    assert scheme.values == {"secret": "s3cret-value", "dir": f"{tmp_path.resolve()}/shop/x"}
    assert placeholders.secrets() == {"s3cret-value"}
    (missing,) = placeholders.missing([migration])
    assert missing.why == (
        "its value in shop/pom.xml:4 reads the Maven property tenant.id, which the pom does not "
        "set (Maven would take it from -Dtenant.id=… or settings.xml)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "spring.flyway.placeholders.a: x\n---\nspring.config.activate.on-profile: a & b | c\n",
            f"{RESOURCES}/application.yml:3:1: invalid Spring profile expression 'a & b | c': "
            "'&' and '|' are mixed without parentheses",
        ),
        (
            "spring:\n  flyway:\n    placeholder-replacement: maybe\n",
            f"{RESOURCES}/application.yml:3:5: spring.flyway.placeholder-replacement must be true "
            "or false, not 'maybe'",
        ),
        # Spring Boot refuses a circular placeholder reference; filled in ten levels deep,
        # two ${a} in `a` were 2¹⁰ copies, six of them hung the drill.
        (
            "a: ${a}${a}\nspring.flyway.placeholders.t: ${a}\n",
            "the Spring Boot setting a reads itself (a -> a); Spring Boot would not start",
        ),
        (
            "a: ${b}\nb: x-${a}\nspring.flyway.placeholders.t: ${a}\n",
            "the Spring Boot setting a reads itself (a -> b -> a)",
        ),
        (
            "".join(f"p{i}: " + f"${{p{i + 1}}}" * 10 + "\n" for i in range(6))
            + "p6: ab\nspring.flyway.placeholders.t: ${p0}\n",
            "the ${…} of a Spring Boot setting fill in to more than 65,536 characters",
        ),
    ],
)
def test_settings_spring_would_refuse_stop_the_drill(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DrillError) as caught:
        _values(tmp_path, {f"{RESOURCES}/application.yml": text})
    assert str(caught.value).startswith(message)


def test_spring_profiles_setting_must_be_a_string() -> None:
    assert config_from_table({"drill": {"spring-profiles": "dev,eu"}}).drill.spring_profiles == (
        "dev,eu"
    )
    with pytest.raises(ConfigError, match=r"invalid drill\.spring-profiles: expected a string"):
        config_from_table({"drill": {"spring-profiles": ["dev"]}})


# --- Real drills through the CLI -----------------------------------------------------------------

_SPRING_BASE = {
    f"{RESOURCES}/application.yml": "spring:\n"
    "  profiles:\n"
    "    active: dev\n"
    "  flyway:\n"
    "    placeholders:\n"
    "      table_prefix: app_\n"
    "      tenant: ${TENANT_NAME:acme}\n",
    f"{RESOURCES}/application-dev.properties": "spring.flyway.placeholders.table_prefix=dev_\n",
    f"{MIGRATIONS}/V1__users.sql": "CREATE TABLE ${table_prefix}users "
    "(id integer PRIMARY KEY, email text NOT NULL);\n",
    f"{MIGRATIONS}/U1__users.sql": "DROP TABLE ${table_prefix}users;\n",
}
_SPRING_RELEASE = {
    f"{MIGRATIONS}/V2__tenant.sql": "ALTER TABLE ${table_prefix}users\n"
    "  ADD COLUMN tenant text NOT NULL DEFAULT '${tenant}';\n"
    "ALTER TABLE ${table_prefix}users RENAME COLUMN email TO mail;\n",
    f"{MIGRATIONS}/U2__tenant.sql": "ALTER TABLE ${table_prefix}users\n"
    "  RENAME COLUMN mail TO email;\n"
    "ALTER TABLE ${table_prefix}users DROP COLUMN tenant;\n",
}


def _drill(repo: Path, *extra: str) -> tuple[str, str, int, int]:
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise", *extra)
    return result.stdout, result.stderr, result.returncode, pid


def test_spring_boot_repository_drilled_on_sqlite(tmp_path: Path) -> None:
    repo = make_files_repo(tmp_path, _SPRING_BASE, _SPRING_RELEASE, dialect="sqlite")
    stdout, stderr, code, _ = _drill(repo)
    # The rename is found on the table the dev profile's prefix names, at the migration's own
    # lines: the values came from application-dev.properties over application.yml.
    assert code == 1, stdout + stderr
    assert codes(stdout) == ["BK211", "BK211"], stdout
    assert f"{MIGRATIONS}/V2__tenant.sql:3:" in stdout
    assert "INSERT on dev_users fails" in stdout and "app_users" not in stdout
    assert "${" not in stdout + stderr


def test_spring_value_reading_an_unset_variable_stops_before_a_database(tmp_path: Path) -> None:
    base = {
        **_SPRING_BASE,
        f"{RESOURCES}/application.yml": _SPRING_BASE[f"{RESOURCES}/application.yml"].replace(
            "${TENANT_NAME:acme}", "${TENANT_NAME}"
        ),
    }
    repo = make_files_repo(tmp_path, base, _SPRING_RELEASE)
    stdout, stderr, code, pid = _drill(repo, "--database", PG_URL)
    assert code == 2, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert (
        f"${{tenant}} ({MIGRATIONS}/V2__tenant.sql:2:44: its value in "
        f"{RESOURCES}/application.yml:7 reads ${{TENANT_NAME}}, which neither the environment "
        "nor the application's Spring Boot configuration sets)"
    ) in lines[0]
    assert "spring.flyway.placeholders.tenant=…" in lines[0]
    assert made_by(pid, pg_drill_databases()) == []


def test_unreadable_spring_configuration_stops_the_drill_naming_it(tmp_path: Path) -> None:
    repo = make_files_repo(tmp_path, _SPRING_BASE, _SPRING_RELEASE)
    (repo / RESOURCES / "application-dev.yml").write_text("spring:\n  flyway: [\n")
    stdout, stderr, code, pid = _drill(repo, "--database", PG_URL)
    assert code == 2, stdout + stderr
    assert stderr.strip().splitlines() == [
        f"backout: error: cannot read {RESOURCES}/application-dev.yml:3:1: invalid YAML: "
        "did not find expected node content; the drill takes the Flyway "
        "placeholder values from this file, so nothing was drilled (BK901 in `backout check` "
        "reports it too)"
    ]
    assert made_by(pid, pg_drill_databases()) == []
    # `check` reports the same file as BK901.
    result, _ = backout(repo, "check", "--format", "concise")
    assert f"{RESOURCES}/application-dev.yml:3:1: BK901" in result.stdout, result.stdout


def test_maven_multi_module_repository_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plugin's settings in the module's pom, a secret from the environment; the Spring
    # application's profile chosen by backout's configuration.
    pom = (
        "<project><artifactId>shop</artifactId>"
        "<properties><app.prefix>shop_</app.prefix></properties>"
        "<build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>"
        "<configuration><placeholders><table_prefix>${app.prefix}</table_prefix>"
        "<apiKey>${env.SHOP_API_KEY}</apiKey></placeholders></configuration>"
        "</plugin></plugins></build></project>\n"
    )
    base = {
        "shop/pom.xml": pom,
        f"shop/{RESOURCES}/application.properties": "spring.flyway.placeholders.tenant=acme\n"
        "#---\nspring.config.activate.on-profile=ci\nspring.flyway.placeholders.tenant=ci\n",
        f"shop/{MIGRATIONS}/V1__users.sql": _SPRING_BASE[f"{MIGRATIONS}/V1__users.sql"],
        f"shop/{MIGRATIONS}/U1__users.sql": _SPRING_BASE[f"{MIGRATIONS}/U1__users.sql"],
    }
    release = {
        f"shop/{MIGRATIONS}/V2__key.sql": "ALTER TABLE ${table_prefix}users ADD COLUMN "
        "tenant text DEFAULT '${tenant}';\nSELECT '${apiKey}'::integer;\n",
        f"shop/{MIGRATIONS}/U2__key.sql": "ALTER TABLE ${table_prefix}users DROP COLUMN tenant;\n",
    }
    repo = make_files_repo(tmp_path, base, release)
    with (repo / "backout.toml").open("a") as config:
        config.write('[drill]\nspring-profiles = "ci"\n')
    monkeypatch.setenv("SHOP_API_KEY", "Zq9ApiKeyValue")
    stdout, stderr, code, pid = _drill(repo, "--database", PG_URL)
    # The key is no integer: PostgreSQL's error quotes it, and the drill masks it.
    assert code == 1, stdout + stderr
    assert "invalid input syntax for type integer" in stdout
    assert "Zq9ApiKeyValue" not in stdout + stderr
    assert "***" in stdout
    assert made_by(pid, pg_drill_databases()) == []
