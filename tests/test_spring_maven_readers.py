"""The readers of Flyway settings in Maven's ``pom.xml`` (the flyway-maven-plugin) and in
Spring Boot's ``application.properties``/``application.yml``: which files, what they record
(with lines and columns), and BK901 for what cannot be read."""

from __future__ import annotations

import pytest

from backout.sources.base import SourceFile, Unreadable
from backout.sources.paths import is_spring_config, is_tool_config
from backout.sources.spring_config import SpringConfig, SpringConfigReader, SpringProperty
from backout.sources.tool_config import ToolConfig, ToolConfigReader

RESOURCES = "src/main/resources"


# --- Which files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("src/main/resources/application.yml", True),
        ("src/main/resources/application.properties", True),
        ("shop/src/main/resources/application-dev.yaml", True),
        ("src/main/resources/config/application-prod.properties", True),
        ("src/test/resources/application.yml", False),  # the tests' configuration
        ("src/main/resources/bootstrap.yml", False),
        ("config/application.yml", False),
        ("src/main/resources/application.json", False),
    ],
)
def test_spring_files_are_the_classpath_application_files(path: str, wanted: bool) -> None:
    assert is_spring_config(path) is wanted


def test_pom_is_a_tool_configuration() -> None:
    assert is_tool_config("pom.xml") and is_tool_config("shop/pom.xml")


# --- The pom.xml reader ------------------------------------------------------------------------


def read_pom(text: str, path: str = "pom.xml") -> list[object]:
    """The facts the tool configuration reader makes of a pom."""
    return list(ToolConfigReader().read(SourceFile(path, text.encode())))


_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>com.acme</groupId><version>2.1.0</version></parent>
  <artifactId>shop</artifactId>
  <properties>
    <db.schema>shop</db.schema>
    <flyway.placeholders.region>eu</flyway.placeholders.region>
    <flyway.placeholderSuffix>]</flyway.placeholderSuffix>
  </properties>
  <build>
    <pluginManagement><plugins><plugin>
      <artifactId>flyway-maven-plugin</artifactId>
      <configuration>
        <placeholders><region>managed</region><owner>managed</owner></placeholders>
        <mixed>true</mixed>
      </configuration>
    </plugin></plugins></pluginManagement>
    <plugins>
      <plugin><artifactId>maven-compiler-plugin</artifactId>
        <configuration><placeholders><other>x</other></placeholders></configuration>
      </plugin>
      <plugin>
        <groupId>org.flywaydb</groupId>
        <artifactId>flyway-maven-plugin</artifactId>
        <configuration>
          <placeholderPrefix>#[</placeholderPrefix>
          <placeholders>
            <schema>${db.schema}</schema>
            <version>v${project.version}</version>
            <owner>
              ops
            </owner>
            <empty/>
            <secret>${env.SHOP_SECRET}</secret>
          </placeholders>
        </configuration>
        <executions><execution><configuration>
          <placeholders><schema>codegen</schema></placeholders>
        </configuration></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
"""


def test_pom_reads_the_flyway_plugin_as_maven_merges_it() -> None:
    (config,) = read_pom(_POM)
    assert isinstance(config, ToolConfig)
    settings = config.settings
    # pluginManagement, then the plugin, then its execution, then the flyway.* properties:
    # the later wins when the drill merges them in this order. The compiler plugin's
    # <placeholders> are not Flyway's.
    assert [(p.name, p.value, p.line) for p in settings.placeholders] == [
        ("region", "managed", 14),
        ("owner", "managed", 14),
        ("schema", "shop", 28),  # the pom's own property, filled in as Maven does
        ("version", "v2.1.0", 29),  # the parent's version, inherited
        ("owner", "ops", 30),  # trimmed, as Maven trims configuration values
        ("empty", "", 33),  # an empty element is the empty string
        ("secret", "${env.SHOP_SECRET}", 34),  # outside the pom: for the drill
        ("schema", "codegen", 38),
        ("region", "eu", 7),
    ]
    assert (settings.prefix, settings.suffix, settings.mixed) == ("#[", "]", True)


def test_pom_without_flyway_is_not_parsed() -> None:
    # Not even broken XML is reported: a pom that does not mention Flyway is not read.
    assert read_pom("<project><build><plugins>not xml") == []
    assert read_pom("<project><!-- flyway later --><artifactId>x</artifactId></project>") == []
    assert read_pom("<settings><flyway/></settings>") == []  # not a pom


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (
            "<project>\n<build><plugins><plugin>flyway\n</project>",
            (3, 3),
            "invalid XML: mismatched tag",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            "<project><properties><flyway.table>&x;</flyway.table></properties></project>",
            (2, 52),  # where expat has read the declaration
            "declares the XML entity 'x'",
        ),
        (
            "<project><properties>\n  <flyway.placeholderReplacement>nope"
            "</flyway.placeholderReplacement></properties></project>",
            (2, 3),
            "<flyway.placeholderReplacement> must be true or false, not 'nope'",
        ),
        (
            "<project><build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>\n"
            "<configuration><placeholders><a>\n   <b>x</b></a></placeholders></configuration>"
            "</plugin></plugins></build></project>",
            (3, 4),
            "the placeholder <a> must be text, not the element <b>",
        ),
        # Maven refuses a property that reads itself ("recursive expression cycle"); filled
        # in ten levels deep, `${a}` eight times in <a> was 8¹⁰ characters, and check hung.
        (
            "<project><properties><a>${a}${a}</a>\n"
            "  <flyway.placeholders.t>x${a}</flyway.placeholders.t></properties></project>",
            (2, 3),
            "the property a reads itself (a -> a); Maven refuses such a pom",
        ),
        (
            "<project><properties><a>${b}</a><b>-${a}</b>\n"
            "  <flyway.table>${b}</flyway.table></properties></project>",
            (2, 3),
            "the property b reads itself (b -> a -> b)",
        ),
        (
            "<project><properties>"
            + "".join(f"<p{i}>" + f"${{p{i + 1}}}" * 10 + f"</p{i}>" for i in range(6))
            + "<p6>z</p6>\n  <flyway.placeholders.t>${p0}</flyway.placeholders.t>"
            "</properties></project>",
            (2, 3),
            "the properties it reads fill in to more than 65,536 characters",
        ),
    ],
)
def test_bad_pom_is_unreadable_at_its_line_and_column(
    text: str, where: tuple[int, int], reason: str
) -> None:
    (fact,) = read_pom(text)
    assert isinstance(fact, Unreadable)
    assert (fact.location.line, fact.location.column) == where
    assert reason in fact.reason


# --- The Spring Boot reader --------------------------------------------------------------------


def read_spring(path: str, text: str) -> SpringConfig:
    """The Spring Boot configuration fact of a file (it must be readable)."""
    (fact,) = SpringConfigReader().read(SourceFile(path, text.encode()))
    assert isinstance(fact, SpringConfig), fact
    return fact


def test_yaml_is_flattened_as_spring_flattens_it() -> None:
    config = read_spring(
        "shop/src/main/resources/config/application-dev.yml",
        "spring:\n"
        "  flyway:\n"
        "    placeholders:\n"
        "      owner: ops\n"
        '      "[a.b]": bracketed\n'
        "      flag: yes\n"
        "      hex: 0x1F\n"
        "      empty:\n"
        "    locations:\n"
        "      - classpath:db/one\n"
        "---\n"
        "spring.config.activate.on-profile: eu\n",
    )
    assert (config.module, config.profile, config.in_config_folder) == ("shop", "dev", True)
    first, second = config.documents
    assert [(p.key, p.value, p.line, p.column) for p in first] == [
        ("spring.flyway.placeholders.owner", "ops", 4, 7),
        ("spring.flyway.placeholders[a.b]", "bracketed", 5, 7),
        ("spring.flyway.placeholders.flag", "true", 6, 7),  # YAML 1.1, as SnakeYAML reads it
        ("spring.flyway.placeholders.hex", "31", 7, 7),
        ("spring.flyway.placeholders.empty", "", 8, 7),  # a null is the empty string
        ("spring.flyway.locations[0]", "classpath:db/one", 10, 9),
    ]
    assert [p.key for p in second] == ["spring.config.activate.on-profile"]


def test_properties_documents_are_split_at_their_separator_lines() -> None:
    config = read_spring(
        "src/main/resources/application.properties",
        "a=1\n#---\nspring.config.activate.on-profile=dev\n  b : 2\n!---\nc=3\n",
    )
    assert config.documents == (
        (SpringProperty("a", "1", 1, 1),),
        (
            SpringProperty("spring.config.activate.on-profile", "dev", 3, 1),
            SpringProperty("b", "2", 4, 3),
        ),
        (SpringProperty("c", "3", 6, 1),),
    )
    assert (config.module, config.profile) == (".", None)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("spring:\n  flyway: [\n", (3, 1), "invalid YAML"),
        ("- a\n- b\n", (1, 1), "must be a mapping"),
    ],
)
def test_bad_spring_yaml_is_unreadable(text: str, where: tuple[int, int], reason: str) -> None:
    (fact,) = SpringConfigReader().read(SourceFile(f"{RESOURCES}/application.yml", text.encode()))
    assert isinstance(fact, Unreadable)
    assert fact.reader == "Spring Boot configuration"
    assert (fact.location.line, fact.location.column) == where
    assert reason in fact.reason
