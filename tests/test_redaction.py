"""Credentials are never printed: through the real CLI, in every report format and the plan."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from backout.redact import SECRET_NAME, Redactor, continued_secret_spans, redact_line
from backout.report import OutputFormat
from tests.conftest import run_backout

SECRETS = ("Sup3rS3cret", "Hunter2pw", "T0kenValue", "PassValue")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: https://admin:Sup3rS3cret@127.0.0.1:5099/shop/api:latest
        - name: side
          image: bob:Hunter2pw@registry.example.com/shop/side:v1
        - name: web
          image: "registry.example.com/shop/web:latest?token=T0kenValue&x=1&password=PassValue"
"""

# Two images on one line: the second's column lies after the first's password.
FLOW = DEPLOYMENT.split("      containers:")[0] + (
    '      containers: [{name: a, image: "https://ci:Sup3rS3cret@r.example.com/a:1"}, '
    "{name: b, image: shop:latest}]\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "api.yaml").write_text(DEPLOYMENT)
    return tmp_path


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_no_format_prints_a_credential(repo: Path, output_format: str) -> None:
    done = run_backout("check", ".", "--output-format", output_format, cwd=repo)
    assert done.returncode == 0, done.stderr  # BK101 on an invalid reference is a warning
    printed = done.stdout + done.stderr
    assert "BK101" in printed
    for secret in SECRETS:
        assert secret not in printed, f"{output_format} printed {secret}"
    assert "***" in done.stdout
    if output_format != "junit":  # junit writes `&` as `&amp;`
        assert "admin:***@127.0.0.1:5099" in done.stdout
        assert "?token=***&x=1&password=***" in done.stdout


def test_a_baseline_keeps_no_credential_and_still_matches(repo: Path) -> None:
    baseline = repo / "baseline.json"
    done = run_backout("check", ".", "--write-baseline", str(baseline), cwd=repo)
    assert done.returncode == 0, done.stderr
    written = baseline.read_text()
    assert "admin:***@127.0.0.1:5099" in written
    for secret in SECRETS:
        assert secret not in written, secret
    # The findings are identified by what they say as found: the baseline still absorbs them.
    again = run_backout("check", ".", "--baseline", str(baseline), "--format", "json", cwd=repo)
    assert json.loads(again.stdout)["findings"] == []


def test_the_output_file_and_the_plan_print_no_credential(repo: Path) -> None:
    written = repo / "report.sarif"
    done = run_backout("check", ".", "--format", "sarif", "-o", str(written), cwd=repo)
    assert done.returncode == 0, done.stderr
    for args in (["plan", "."], ["plan", ".", "--format", "json"]):
        plan = run_backout(*args, cwd=repo)
        assert plan.returncode == 0, plan.stderr
        assert "`https://admin:***@127.0.0.1:5099/shop/api:latest`" in plan.stdout
        for secret in SECRETS:
            assert secret not in plan.stdout + plan.stderr, (args, secret)
            assert secret not in written.read_text()


def test_pin_prints_no_credential(tmp_path: Path) -> None:
    """`pin` names each reference it cannot resolve; a password or token in it is masked
    (127.0.0.1:9 is closed: nothing leaves the machine)."""
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "api.yaml").write_text(
        DEPLOYMENT.split("      containers:")[0]
        + "      containers:\n"
        + "        - {name: a, image: 'https://admin:Sup3rS3cret@127.0.0.1:9/shop/api:latest'}\n"
        + "        - {name: b, image: '127.0.0.1:9/shop/web:latest?token=T0kenValue'}\n"
    )
    done = run_backout("pin", ".", cwd=tmp_path)
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed
    assert "https://admin:***@127.0.0.1:9/shop/api:latest: cannot be resolved" in printed
    assert "latest?token=***: cannot be resolved" in printed
    for secret in SECRETS:
        assert secret not in printed


def test_a_secret_quoted_in_pieces_is_masked_everywhere(repo: Path) -> None:
    # The image grammar reads bob:Hunter2pw@… as repository bob, tag Hunter2pw: the fix it
    # suggests, `bob:Hunter2pw@sha256:…`, has no host to tell a password by.
    done = run_backout("check", ".", "--format", "json", cwd=repo)
    fixes = [f["fix"] for f in json.loads(done.stdout)["findings"]]
    assert any("`bob:***@sha256:…`" in fix for fix in fixes), fixes


def test_a_credential_in_a_shell_default_is_masked_in_the_source_lines(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n"
        "    image: ${IMG:-admin:Sup3rS3cret@registry.example.com:5000/shop/api:2.4}\n"
    )
    done = run_backout("check", ".", "--select", "BK101", cwd=tmp_path)
    assert "BK101" in done.stdout
    assert "Sup3rS3cret" not in done.stdout + done.stderr
    assert "${IMG:-admin:***@registry.example.com:5000/shop/api:2.4}" in done.stdout


def test_positions_are_the_files_and_the_caret_still_points_at_its_character(
    tmp_path: Path,
) -> None:
    (tmp_path / "api.yaml").write_text(FLOW)
    done = run_backout("check", ".", "--select", "BK101", cwd=tmp_path)
    assert "Sup3rS3cret" not in done.stdout
    blocks = done.stdout.split("\n\n")
    line = FLOW.splitlines()[-1]
    number = len(FLOW.splitlines())
    for block, value in zip(blocks, ('"https://ci:', "shop:latest"), strict=False):
        header, source, caret, *_ = block.splitlines()
        # The location is the file's own column, the caret under the same character.
        assert header.startswith(f"api.yaml:{number}:{line.index(value) + 1}: BK101"), header
        assert source == f"  {number} | " + line.replace("Sup3rS3cret", "***")
        assert source[caret.index("^") :].startswith(value)
    assert len(blocks) >= 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://admin:pw@host:5000/a:1", "https://admin:***@host:5000/a:1"),
        ("postgresql://u:p@ss@db:5432/app", "postgresql://u:***@db:5432/app"),
        # Quoted data is no credential, though it has a colon and an @ before a slash.
        (
            "(0,'2024-01-01T12:30:00','u0@example.io/p')",
            "(0,'2024-01-01T12:30:00','u0@example.io/p')",
        ),
        ("`user:pw@registry:5000/app:1`", "`user:***@registry:5000/app:1`"),
        # A shell default, as compose and templated manifests write one.
        ("${IMG:-ci:S3cret@registry:5000/app:1}", "${IMG:-ci:***@registry:5000/app:1}"),
        ("${IMG-ci:S3cret@registry:5000/app:1}", "${IMG-ci:***@registry:5000/app:1}"),
        (
            "https://r.io/v2/?service=x&access_token=abc.def",
            "https://r.io/v2/?service=x&access_token=***",
        ),
        (
            "s3.example/b?X-Amz-Signature=f00&X-Amz-Date=1",
            "s3.example/b?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        # Not credentials: a user name alone, a tag with a digest, a port, a mention.
        ("https://user@host/a", "https://user@host/a"),
        ("app:1.25@sha256:0123456789abcdef", "app:1.25@sha256:0123456789abcdef"),
        ("registry:5000/app@sha256:ab", "registry:5000/app@sha256:ab"),
        ("ask ops@example.com", "ask ops@example.com"),
        ("name=value and a=b", "name=value and a=b"),
        # Settings whose name says they hold a credential, wherever a text quotes one.
        ("DB_PASSWORD=hunter2 and a=b", "DB_PASSWORD=*** and a=b"),
        ('{"apiKey": "abc", "name": "x"}', '{"apiKey": "***", "name": "x"}'),
        ("<password>abc</pasword>", "<password>***</pasword>"),
        ("<db-pass>abc", "<db-pass>***"),
        ("password='abc", "password='***"),
        # A reference names where the secret comes from: no secret.
        ("password: ${DB_PASSWORD}", "password: ${DB_PASSWORD}"),
        # Names that hold a credential's word without naming a credential, switches.
        ("bypass=x1", "bypass=x1"),
        ('<changeSet author="shop" id="1">', '<changeSet author="shop" id="1">'),
        ("primary_key=True, key_block_size=8", "primary_key=True, key_block_size=8"),
        ("PRAGMA foreign_keys=OFF;", "PRAGMA foreign_keys=OFF;"),
        ("--secret-name=shop-db-credentials", "--secret-name=shop-db-credentials"),
        ("verify_key: false", "verify_key: false"),
        ("--db-password=hunter2 -x", "--db-password=*** -x"),
        # A full-text tokenizer is no token (SQLite FTS, Elasticsearch), an API token is.
        ("fts5(title, tokenize='porter ascii')", "fts5(title, tokenize='porter ascii')"),
        ("tokenizer: unicode61", "tokenizer: unicode61"),
        ("api_token='abc' tokenize='porter'", "api_token='***' tokenize='porter'"),
        # A Kubernetes env entry as a flow mapping, quoted in a message.
        (
            "env: [{name: DB_PASSWORD, value: hunter2}, {name: MODE, value: prod}]",
            "env: [{name: DB_PASSWORD, value: ***}, {name: MODE, value: prod}]",
        ),
        ('{"value": "hunter2", "name": "API_TOKEN"}', '{"value": "***", "name": "API_TOKEN"}'),
    ],
)
def test_what_is_a_credential(text: str, expected: str) -> None:
    assert Redactor([text]).redact(text) == expected


def test_a_caret_column_moves_with_the_mask() -> None:
    line = "  image: https://admin:Sup3rS3cret@h/x # here"
    masked, column = redact_line(line, line.index("x #") + 1)
    assert masked == "  image: https://admin:***@h/x # here"
    assert masked[column - 1 :].startswith("x #")
    inside = redact_line(line, line.index("3rS3") + 1)[1]
    assert masked[inside - 1 :].startswith("***")
    assert redact_line(line, 0)[1] == 0


@pytest.mark.parametrize(
    "line",
    [
        ("=a:b" * 25_000) + "@ @h/",
        "?" + "token" * 20_000 + " =",
        "x://" + "a:" * 50_000 + "@",
        "(0,'2024-01-01T12:30:00','u0@example.io/p')," * 3_000,
    ],
)
def test_long_lines_are_read_whole_and_left_as_they_are(line: str) -> None:
    """100 KB lines (a seed INSERT, a minified file) with no credential come back unchanged.
    Each took seconds of regex backtracking before the patterns stopped at quotes, commas
    and brackets; their speed is for bench/, this is their result."""
    assert Redactor([line]).redact(line) == line.replace("x://a:" + "a:" * 49_999, "x://a:***")


def _write_files(root: Path, files: dict[str, str]) -> None:
    """Write each ``path: text`` of ``files`` under ``root``."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _report(
    tmp_path: Path, files: dict[str, str], output_format: str, secrets: tuple[str, ...], bk901: int
) -> str:
    """The report of ``backout check`` on ``files`` in ``output_format``, checked to hold at
    least ``bk901`` BK901 findings and, with the summary, none of ``secrets``."""
    _write_files(tmp_path, files)
    done = run_backout("check", ".", "--output-format", output_format, cwd=tmp_path)
    printed = done.stdout + done.stderr
    assert printed.count("BK901") >= bk901, printed
    for secret in secrets:
        assert secret not in printed, f"{output_format} printed {secret}"
    return done.stdout


LEAKY_FILES = {
    ".env": "TAG=1\nAPI KEY=hunter4secret\n",
    "app/.env": 'TAG=1\nDB_PASSWORD="hunter5secret\n',
    "app/compose.yaml": "services:\n  a:\n    image: shop:${TAG}\n",
    "compose.yaml": "services:\n  a:\n    image: shop:${TAG}\n",
    "pom.xml": (
        "<project><build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>\n"
        "<configuration><password>hunter3secret</pasword></configuration></plugin></plugins>"
        "</build></project>\n"
    ),
}


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_a_file_that_does_not_parse_prints_no_credential(
    tmp_path: Path, output_format: str
) -> None:
    """BK901 quotes the line that does not parse: the value of a setting named as a credential
    is masked, the rest of the line and the other lines stay as the file has them."""
    stdout = _report(tmp_path, LEAKY_FILES, output_format, ("hunter",), 3)
    if output_format == "full":
        assert "  2 | API KEY=***\n" in stdout
        assert '  2 | DB_PASSWORD="***\n' in stdout
        assert "  2 | <configuration><password>***</pasword></configuration>" in stdout
        # A line with no credential is quoted as it is.
        assert "  3 |     image: shop:${TAG}\n" in stdout


ENV_FILES = {
    "a/.env": "TAG=1\nAPI KEY=hunter8 w0rdz # note\n",
    "b/.env": "TAG=1\nAPI_KEY[0]!=hunter8 tw0z\n",
    "c/.env": 'TAG=1\nDB_PASSWORD="hunter8 \\" w0rdz\n',
    **{f"{d}/compose.yaml": "services:\n  a:\n    image: shop:${TAG}\n" for d in "abc"},
}


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_a_env_value_is_masked_whole(tmp_path: Path, output_format: str) -> None:
    """The line of a .env that compose refuses, quoted by BK901, has the whole value of a
    credential masked as compose reads it, not its first word."""
    stdout = _report(tmp_path, ENV_FILES, output_format, ("hunter8", "w0rdz", "tw0z"), 3)
    if output_format == "full":
        assert "  2 | API KEY=*** # note\n" in stdout
        assert "  2 | API_KEY[0]!=***\n" in stdout
        assert '  2 | DB_PASSWORD="***\n' in stdout


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        (".env", "export API_TOKEN=two words # note", "export API_TOKEN=*** # note"),
        # A .env value as compose reads it: unquoted to the end of the line but a ` #`
        # comment, quoted to the closing quote (`\"` is none); a key compose refuses too.
        (".env", "API KEY=two words # note", "API KEY=*** # note"),
        (".env", "API_KEY[0]=two words", "API_KEY[0]=***"),
        (".env", 'API_KEY = "two \\" words" # x', 'API_KEY = "***" # x'),
        (".env", "API_KEY='two words", "API_KEY='***"),
        (".env", "API_KEY=two#words", "API_KEY=***"),
        ("app/prod.env", "API_KEY=two words", "API_KEY=***"),
        (".env", "TAG=two words", "TAG=two words"),
        ("application.yml", "    password: hunter two", "    password: ***"),
        ("flyway.conf", "flyway.password = hunter2", "flyway.password = ***"),
        ("application.properties", "db.password hunter2", "db.password ***"),
        ("application.properties", "spring.datasource.pass:x y", "spring.datasource.pass:***"),
        # A blank separates a name from its value only in a properties file.
        ("schema.sql", "  password_hash text NOT NULL,", "  password_hash text NOT NULL,"),
        (
            "compose.yaml",
            "      - DB_PASSWORD=${DB_PASSWORD}",
            "      - DB_PASSWORD=${DB_PASSWORD}",
        ),
        # A shell line that sets a client's password for one command: the value ends at the
        # blank, the command is shown (a CI job's ``run: |`` block, a script).
        (
            ".github/workflows/ci.yml",
            "          PGPASSWORD=S3cr3t psql -h db -c 'select 1'",
            "          PGPASSWORD=*** psql -h db -c 'select 1'",
        ),
        (
            "deploy.sh",
            "MYSQL_PWD=S3cr3t mysqldump shop > a.sql",
            "MYSQL_PWD=*** mysqldump shop > a.sql",
        ),
        (
            "deploy.sh",
            "PGPASSWORD=S3cr3t PGUSER=app pg_dump shop",
            "PGPASSWORD=*** PGUSER=app pg_dump shop",
        ),
        ("configmap.yaml", "    API_KEY=two words", "    API_KEY=***"),
    ],
)
def test_a_source_line_that_sets_a_credential_is_masked(
    path: str, line: str, expected: str
) -> None:
    assert redact_line(line, 0, path)[0] == expected


# Secrets on the lines after their name; each file is cut (mis-indented, an unclosed quote, a
# mismatched tag) so that BK901 quotes the line that holds the secret.
CONTINUED_FILES = {
    "k8s/block.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n"
        "  password: |\n      hunter6one\n    hunter6two\n"
    ),
    "k8s/plain.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n"
        "  token: hunter6three\n    hunter6four: x\n"
    ),
    "k8s/quoted.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
        '  password: "hunter6five\n    hunter6six"  x: y\n'
    ),
    "k8s/next.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n"
        "  db:\n    password:\n      hunter6seven\n      hunter6eight: x\n"
    ),
    "pom.xml": (
        "<project><build><plugins><plugin><artifactId>flyway-maven-plugin</artifactId>\n"
        "<configuration><password>\n   hunter6nine</pasword></configuration></plugin></plugins>\n"
        "</build></project>\n"
    ),
    # Not a credential's value: the lines below a name that is no credential's.
    "k8s/note.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\ndata:\n"
        "  note: |\n      first\n    second line\n"
    ),
}


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_a_secret_on_the_lines_after_its_name_is_masked(tmp_path: Path, output_format: str) -> None:
    """A YAML block scalar, a plain or quoted value continued, an element's text on its own
    line, a value on the line below its key: the line BK901 quotes holds only the secret."""
    stdout = _report(tmp_path, CONTINUED_FILES, output_format, ("hunter6",), len(CONTINUED_FILES))
    if output_format == "full":
        assert "  7 |     ***\n" in stdout  # block.yaml
        assert "  6 |     ***\n" in stdout  # plain.yaml
        assert '  6 |     ***"  x: y\n' in stdout  # quoted.yaml
        assert "  8 |       ***\n" in stdout  # next.yaml
        assert "  3 |    ***</pasword></configuration></plugin></plugins>\n" in stdout
        assert "  7 |     second line\n" in stdout  # note.yaml, as the file has it


def _masked_file(path: str, text: str) -> str:
    """``text`` as the ``full`` format would quote each of its lines."""
    lines = text.split("\n")
    continued = continued_secret_spans(lines, path)
    return "\n".join(
        redact_line(line, 0, path, continued.get(index))[0] for index, line in enumerate(lines)
    )


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        # YAML: a block scalar (a header, a tag, an anchor), its blank lines, its end.
        ("a.yaml", "key: |\n  line1\n\n    line2\nnext: x", "key: |\n  ***\n\n    ***\nnext: x"),
        (
            "a.yml",
            "- tls_key: !!binary >-\n    AAAA\n  b: c",
            "- tls_key: ***\n    ***\n  b: c",
        ),
        ("a.yaml", "password: &pw |\n  s3\nuser: &u x", "password: ***\n  ***\nuser: &u x"),
        # A plain scalar continued, a flow collection.
        ("a.yaml", "token: ab\n  cd\nx: 1", "token: ***\n  ***\nx: 1"),
        ("a.yaml", "tokens: [a,\n  b]\nk: v", "tokens: ***\n  ***\nk: v"),
        # A quoted value to its closing quote (`''` and `\"` are quotes inside it).
        ("a.yaml", "password: 'it\n  go''ne' # x\nk: v", "password: '***\n  ***' # x\nk: v"),
        ("a.yaml", 'password: "a\n b\\" c" d\nk: v', 'password: "***\n ***" d\nk: v'),
        # A value on the line below its key, a list of them (at the key's column too).
        (
            "a.yaml",
            "db:\n  password:\n    # prod\n    s3\n  user: u",
            "db:\n  password:\n    # prod\n    ***\n  user: u",
        ),
        (
            "a.yaml",
            "passwords:\n- one\n- two\nother:\n- x",
            "passwords:\n- ***\n- ***\nother:\n- x",
        ),
        # Keys below a credential's name say what their own values are.
        (
            "a.yaml",
            "imagePullSecrets:\n  - name: regcred\ncredentials:\n  user: admin\n  password: s3",
            "imagePullSecrets:\n  - name: regcred\ncredentials:\n  user: admin\n  password: ***",
        ),
        # No credential: a block under another name, a line that is not a value.
        ("a.yaml", "script: |\n  echo x\nk: v", "script: |\n  echo x\nk: v"),
        ("a.yaml", "password: 'x'\n  y: z", "password: '***'\n  y: z"),
        # An element's text on its own lines, to the next tag.
        (
            "pom.xml",
            "<password>\n  s3\n</password>\n<user>\n  u\n</user>",
            "<password>\n  ***\n</password>\n<user>\n  u\n</user>",
        ),
        ("pom.xml", '<x><secret id="1">ab\ncd</secret>', '<x><secret id="1">***\n***</secret>'),
        ("pom.xml", "<password/>\n  text", "<password/>\n  text"),
        # A .env quoted value over lines; a .properties line continued with a backslash.
        (
            ".env",
            'PRIVATE_KEY="-----BEGIN\nMIIE\n-----END"\nTAG=1',
            'PRIVATE_KEY="***\n***\n***"\nTAG=1',
        ),
        (".env", "A_KEY=x\n  TAG=1", "A_KEY=***\n  TAG=1"),
        (
            "app.properties",
            "db.password=ab\\\n  cd\\\n  ef\nuser=u",
            "db.password=***\n  ***\\\n  ***\nuser=u",
        ),
        ("app.properties", "db.password=ab\\\\\nuser=u", "db.password=***\nuser=u"),
    ],
)
def test_the_lines_of_a_value_begun_above_are_masked(path: str, text: str, expected: str) -> None:
    assert _masked_file(path, text) == expected


def test_lines_that_hold_a_line_break_are_read_each_alone() -> None:
    # The lines of a credential's names are sought in the whole text at once, by its breaks.
    lines = ["a: 1\nb: 2", "- value: s3cret", "  name: DB_PASSWORD", "token: |", "  t0ken"]
    assert continued_secret_spans(lines, "a.yaml") == {1: (9, 15), 4: (2, 7)}
    lines = ["a: 1\nb: {", "env: [{name: DB_PASSWORD,", "  value: s3cret}]", "c: {x: 1,", "d: 2"]
    assert continued_secret_spans(lines, "a.yaml") == {2: (9, 15)}


# Names that end in `key` without naming a credential, and credentials' names.
NOT_CREDENTIALS = (
    "sort_key",
    "partition_key",
    "cache_key",
    "primary_key",
    "foreign_key",
    "monkey",
    "hotkey",
    "hotKey",
    "shortcut_key",
    "sortKey",
    "public_key",
    "idempotency_key",
    "keyboard",
    # Upper-case data keys are data keys too (found by review: masked while `sort_key` was not).
    "SORT_KEY",
    "PARTITION_KEY",
    "PRIMARY_KEY",
    "dbSortKey",
    # A word glued to `key` in one case is a key of data unless a list names it a service's.
    "turnkey",
    "sortkey",
    "SORTKEY",
    "primarykey",
    "cachekey",
    "whiskey",
    "jockey",
    # A key of data below another word: `primary_key` names a column unless it encrypts.
    "db_primary_key",
    "encryption_public_key",
)
CREDENTIALS = (
    "api_key",
    "apikey",
    "apiKey",
    "secret_key",
    "private_key",
    "access_key",
    "signing_key",
    "encryption_key",
    "ssh_key",
    "KEY",
    "key",
    "STRIPE_API_KEY",
    "X-Api-Key",
    "STRIPE_KEY",
    "tls.key",
    "AWS_SECRET_ACCESS_KEY",
    "KEY_PASSPHRASE",
    # A key of a service or a kind of key a list cannot name ahead (found by review): masked
    # unless the word before it says the key is no credential.
    "stripe_key",
    "stripeKey",
    "openai_key",
    "mailgun-key",
    "sentry_key",
    "ca_key",
    "caKey",
    "enc_key",
    "kms_key",
    "sops_age_key",
    "writeKey",
    "HONEYCOMB_WRITEKEY",
    "cookie_key",
    "KMS_KEY",
    "API_KEY",
    "SECRET_KEY",
    # A word of the data keys' list that ends another word names no key of data.
    "unlock_key",
    "UNLOCK_KEY",
    "escrow_key",
    # Service keys named after a word that also names keys of data (found by review).
    "ECPAY_HASH_KEY",
    "GOOGLE_MAP_KEY",
    "REACT_APP_MAP_KEY",
    "BLIND_INDEX_KEY",
    "DEPLOYGATE_DISTRIBUTION_KEY",
    # Rails' Active Record encryption keys (found by review: `*_PRIMARY_KEY` was shown as a
    # table's primary key).
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
    "active_record.encryption.primary_key",
    "encryptionPrimaryKey",
    # A service's key glued in one case, as camelCase writes it apart (found by review:
    # `stripeKey` was masked, `stripekey` shown).
    "stripekey",
    "STRIPEKEY",
    "openaikey",
    "SENDGRIDKEY",
    "mailgunkey",
    "googlemapskey",
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [(name, False) for name in NOT_CREDENTIALS] + [(name, True) for name in CREDENTIALS],
)
def test_which_names_ending_in_key_hold_a_credential(name: str, masked: bool) -> None:
    assert bool(SECRET_NAME.search(name)) is masked
    line = f"  {name}: v4lue9"
    assert redact_line(line, 0, "a.yaml")[0] == (f"  {name}: ***" if masked else line)
    assert Redactor([f"{name}=v4lue9 x"]).redact(f"{name}=v4lue9 x") == (
        f"{name}=*** x" if masked else f"{name}=v4lue9 x"
    )


# Credentials named by neither a key nor a password (found by review): salts of hashes and
# nonces (WordPress's `NONCE_SALT`), Erlang's distribution cookie (RabbitMQ, Elixir releases),
# libpq's `PGPASS`; and names with those words that hold no credential.
@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("NONCE_SALT", True),
        ("SIGNING_SALT", True),
        ("salt", True),
        ("passwordSalt", True),
        ("RABBITMQ_ERLANG_COOKIE", True),
        ("erlangCookie", True),
        ("RELEASE_COOKIE", True),
        ("PGPASS", True),
        # short names of keys (found by review): NATS's nkey, envelope encryption's key
        # encryption and data keys, a JSON Web Key, a TLS pre-shared key
        ("NATS_NKEY", True),
        ("KEK", True),
        ("vault_dek", True),
        ("OIDC_JWK", True),
        ("WIREGUARD_PSK", True),
        ("kekule_structure", False),
        ("psk_enabled", True),
        ("SESSION_COOKIE_NAME", False),
        ("cookie_domain", False),
        ("basalt_color", False),
    ],
)
def test_salts_cookies_short_keys_and_pgpass_hold_credentials(name: str, masked: bool) -> None:
    assert bool(SECRET_NAME.search(name)) is masked
    line = f"  {name}: v4lue9"
    assert redact_line(line, 0, "a.yaml")[0] == (f"  {name}: ***" if masked else line)


# Names written with separators, judged the same in lower, upper and title case.
KEY_NAMES = (
    ("sort_key", False),
    ("partition_key", False),
    ("primary_key", False),
    ("cache_key", False),
    ("public_key", False),
    ("idempotency_key", False),
    ("db_sort_key", False),
    ("foreign_keys", False),
    ("row-key", False),
    ("lookup.key", False),
    ("stripe_key", True),
    ("kms_key", True),
    ("api_key", True),
    ("secret_key", True),
    ("write_key", True),
    ("ca_key", True),
    ("key", True),
    ("db_key", True),
    ("unlock_key", True),
    ("escrow_key", True),
    ("heatmap_key", True),
    ("aws_s3key", True),
    # A word that names a key of data as often as a credential's key (found by review: masked
    # as HASH_KEY, GOOGLE_MAP_KEY, BLIND_INDEX_KEY, shown once SORT_KEY was judged as sort_key).
    ("hash_key", True),
    ("ecpay_hash_key", True),
    ("session_hash_key", True),
    ("map_key", True),
    ("google_map_key", True),
    ("blind_index_key", True),
    ("deploygate_distribution_key", True),
    ("stripekey", True),
    ("sendgridkey", True),
    ("encryption_primary_key", True),
    ("active_record_encryption_primary_key", True),
    ("sortkey", False),
    ("turnkey", False),
    # A passkey logs in (a private tracker's ``?passkey=``, a pairing passkey): masked. A
    # ``hashkey`` glued is DynamoDB's partition key as often as not, an unknown word: shown.
    ("passkey", True),
    ("pass_key", True),
    ("hashkey", False),
)


# A service's key and a key of data, each written in the forms a name takes: the verdict is
# the same in all of them (found by review: `stripeKey` was masked, `stripekey` shown).
@pytest.mark.parametrize(
    ("words", "masked"),
    [
        *[((service, "key"), True) for service in ("stripe", "openai", "twilio")],
        *[((data, "key"), False) for data in ("sort", "cache", "hot", "primary", "partition")],
    ],
)
def test_a_name_glued_or_in_camel_case_is_judged_the_same(
    words: tuple[str, str], masked: bool
) -> None:
    first, second = words
    for name in (
        f"{first}{second}",
        f"{first}{second}".upper(),
        f"{first}{second.title()}",
        f"{first.title()}{second.title()}",
        f"{first}_{second}".upper(),
        f"{first}-{second}",
    ):
        assert bool(SECRET_NAME.search(name)) is masked, name


@pytest.mark.parametrize(("name", "masked"), KEY_NAMES)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_a_name_ending_in_key_is_judged_the_same_in_any_case(
    name: str, masked: bool, case: Callable[[str], str]
) -> None:
    written = case(name)
    assert bool(SECRET_NAME.search(written)) is masked, written
    line = f"  {written}: v4lue9"
    assert redact_line(line, 0, "a.yaml")[0] == (f"  {written}: ***" if masked else line)


def test_a_name_ending_in_key_is_quoted_as_it_is_unless_a_credential(tmp_path: Path) -> None:
    """BK901 quotes each line that does not parse: the value is masked after a credential's
    name, shown after any other name ending in `key`."""
    for name in (*NOT_CREDENTIALS, *CREDENTIALS):
        text = f"kind: ConfigMap\ndata:\n  {name}: v4lue9: x\n"
        (tmp_path / f"{name.replace('.', '-')}.yaml").write_text(text)
    done = run_backout("check", ".", "--select", "BK901", cwd=tmp_path)
    for name in NOT_CREDENTIALS:
        assert f"  3 |   {name}: v4lue9: x\n" in done.stdout, name
    for name in CREDENTIALS:
        assert f"  3 |   {name}: ***\n" in done.stdout, name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A Kubernetes env entry names the credential in `name:` and holds it in `value:`.
        (
            "env:\n  - name: DB_PASSWORD\n    value: hunter2word\n  - name: MODE\n    value: prod",
            "env:\n  - name: DB_PASSWORD\n    value: ***\n  - name: MODE\n    value: prod",
        ),
        (
            '  - name: "API_TOKEN"\n    valueFrom: {}\n    value: "tok3n: x"\n    other: 1',
            '  - name: "API_TOKEN"\n    valueFrom: {}\n    value: "***"\n    other: 1',
        ),
        (
            "- name: stripe_key\n  value: |\n    sk_live_1\n    sk_live_2\n- name: x\n  value: y",
            "- name: stripe_key\n  value: |\n    ***\n    ***\n- name: x\n  value: y",
        ),
        (
            "- name: DB_PASSWORD\n  value: 'a\n  b'\n  c: d",
            "- name: DB_PASSWORD\n  value: '***\n  ***'\n  c: d",
        ),
        # A name that is no credential's, and a value after the entry ended, stay.
        (
            "- name: sort_key\n  value: abc\n- name: DB_PASSWORD\n- value: kept",
            "- name: sort_key\n  value: abc\n- name: DB_PASSWORD\n- value: kept",
        ),
        # `name:` of a credential's key gives its value, not a Secret's or a container's name.
        (
            "metadata:\n  name: db-password\n  labels:\n    value: kept",
            "metadata:\n  name: db-password\n  labels:\n    value: kept",
        ),
        # The `value:` before the `name:` of its entry, on its line or the lines below it.
        (
            "env:\n  - value: hunter2word\n    name: DB_PASSWORD\n  - value: prod\n    name: MODE",
            "env:\n  - value: ***\n    name: DB_PASSWORD\n  - value: prod\n    name: MODE",
        ),
        (
            "- value: |\n    sk_live_1\n\n    sk_live_2\n  other: 1\n  name: stripe_key\n"
            "- value: y",
            "- value: |\n    ***\n\n    ***\n  other: 1\n  name: stripe_key\n- value: y",
        ),
        (
            "- other: 1\n  value: 'a\n  b'\n  name: \"API_TOKEN\" # the API's",
            "- other: 1\n  value: '***\n  ***'\n  name: \"API_TOKEN\" # the API's",
        ),
        # A `value:` of another entry, or of a mapping below the entry, stays.
        (
            "- value: kept\n- name: DB_PASSWORD\n  value: s3\n- value: kept2\n  x: 1\n"
            "- name: API_TOKEN",
            "- value: kept\n- name: DB_PASSWORD\n  value: ***\n- value: kept2\n  x: 1\n"
            "- name: API_TOKEN",
        ),
        (
            "- value: kept\n  labels:\n    name: DB_PASSWORD\n- labels:\n    value: kept2\n"
            "  name: DB_PASSWORD",
            "- value: kept\n  labels:\n    name: DB_PASSWORD\n- labels:\n    value: kept2\n"
            "  name: DB_PASSWORD",
        ),
        # A flow mapping of a name and a value, in either order, JSON's quotes too.
        (
            "env: [{name: DB_PASSWORD, value: hunter2word}, {value: 'it''s', name: API_TOKEN}]",
            "env: [{name: DB_PASSWORD, value: ***}, {value: '***', name: API_TOKEN}]",
        ),
        (
            '- {"name": "DB_PASSWORD", "x": {"a": 1}, "value": "a,b}c"}',
            '- {"name": "DB_PASSWORD", "x": {"a": 1}, "value": "***"}',
        ),
        (
            '- {name: MODE, value: prod}\n- {name: DB_PASSWORD, value: "${DB_PASSWORD}"}',
            '- {name: MODE, value: prod}\n- {name: DB_PASSWORD, value: "${DB_PASSWORD}"}',
        ),
        ("- {name: DB_PASSWORD, value: hunter2word", "- {name: DB_PASSWORD, value: ***"),
    ],
)
def test_the_value_of_an_env_entry_named_as_a_credential_is_masked(
    text: str, expected: str
) -> None:
    # Found by review: BK901 quoted `value: hunter2word: x` below `- name: DB_PASSWORD`.
    assert _masked_file("deploy.yaml", text) == expected


# Kubernetes env entries whose `value:` comes before their `name:`, or that are written as flow
# mappings; each file is cut so that BK901 quotes the line of the value, or the flow entry is
# on the line BK101 quotes.
CONTAINERS = DEPLOYMENT.split("        - name: api")[0]
ENTRY_FILES = {
    "k8s/before.yaml": CONTAINERS
    + "        - name: api\n          image: shop/api:1.0\n          env:\n"
    + "            - value: hunter7one: x\n              name: DB_PASSWORD\n",
    "k8s/quoted.yaml": CONTAINERS
    + "        - name: api\n          image: shop/api:1.0\n          env:\n"
    + '            - value: "hunter7two\n               hunter7three"  x: y\n'
    + "              name: API_TOKEN\n",
    "k8s/flow.yaml": CONTAINERS
    + "        - {name: api, image: shop/api:latest, env: [{name: DB_PASSWORD, value: hunter7four}"
    + ", {value: 'hunter7five', name: STRIPE_KEY}, {name: MODE, value: prod}]}\n",
    "k8s/closed-twice.yaml": CONTAINERS
    + "        - name: api\n          image: shop/api:1.0\n          env:\n"
    + '            - {"value": "hunter7six", "name": "DB_PASSWORD"}}\n',
}


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_an_env_entry_with_its_value_first_or_in_flow_prints_no_credential(
    tmp_path: Path, output_format: str
) -> None:
    """`- value: s3cret` then `name: DB_PASSWORD`, and `{name: DB_PASSWORD, value: s3cret}`
    in either order: the value is masked on every line a report quotes, as after its name."""
    stdout = _report(tmp_path, ENTRY_FILES, output_format, ("hunter7",), 3)
    assert "BK101" in stdout, stdout
    if output_format == "full":
        assert "  16 |             - value: ***\n" in stdout
        assert '  17 |                ***"  x: y\n' in stdout
        assert (
            "env: [{name: DB_PASSWORD, value: ***}, {value: '***', name: STRIPE_KEY}, "
            "{name: MODE, value: prod}]}\n" in stdout
        )
        assert '  16 |             - {"value": "***", "name": "DB_PASSWORD"}}\n' in stdout


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        # A YAML flow mapping over lines (found by review: the value below its name was shown).
        (
            "deploy.yaml",
            "env: [{name: DB_PASSWORD,\n  value: hunter2word}, {name: MODE,\n  value: prod}]",
            "env: [{name: DB_PASSWORD,\n  value: ***}, {name: MODE,\n  value: prod}]",
        ),
        (
            "deploy.yaml",
            'env:\n  - {\n    name: API_TOKEN,\n    value: "t0k3n"\n  }\n'
            "  - {name: A,\n    value: b}",
            'env:\n  - {\n    name: API_TOKEN,\n    value: "***"\n  }\n'
            "  - {name: A,\n    value: b}",
        ),
        # The value on a line above its name, two values on one line.
        (
            "deploy.yaml",
            "env: [{value: hunter2word,\n  name: DB_PASSWORD}]",
            "env: [{value: ***,\n  name: DB_PASSWORD}]",
        ),
        (
            "deploy.yaml",
            "env: [{name: DB_PASSWORD, x: 1,\n  value: s3a}, {value: s3b,\n  name: API_TOKEN}]",
            "env: [{name: DB_PASSWORD, x: 1,\n  value: ***\n  name: API_TOKEN}]",
        ),
        # A flow value over lines: quoted to its closing quote, plain to a flow indicator, on
        # the line below its key; a key on the line below a plain value is no part of it.
        (
            "deploy.yaml",
            'env: [{name: DB_PASSWORD, value: "hunter\n\n   2word"}, {name: A,\n  value: "b\n c"}]',
            'env: [{name: DB_PASSWORD, value: "***\n\n   ***"}, {name: A,\n  value: "b\n c"}]',
        ),
        (
            "deploy.yaml",
            "env: [{name: API_TOKEN, value: 'it''s\n  ''x'''}, {value:\n    t0k3n,\n"
            "    name: API_TOKEN}, {name: DB_PASSWORD, value: hunter\n    2word}]",
            "env: [{name: API_TOKEN, value: '***\n  ***'}, {value:\n    ***,\n"
            "    name: API_TOKEN}, {name: DB_PASSWORD, value: ***\n    ***}]",
        ),
        (
            "deploy.yaml",
            "env: [{name: DB_PASSWORD, value: hunter2word\n  x: kept}]",
            "env: [{name: DB_PASSWORD, value: ***\n  x: kept}]",
        ),
        # A YAML line at the flow's column or left of it is out of it: the file does not parse.
        (
            "deploy.yaml",
            "a: {name: DB_PASSWORD,\nvalue: kept\nb: [{\n  x: 1}]\nvalue: kept2",
            "a: {name: DB_PASSWORD,\nvalue: kept\nb: [{\n  x: 1}]\nvalue: kept2",
        ),
        # CloudFormation's ECS `Environment` entries: `Name:` and `Value:`.
        (
            "stack.yaml",
            "Environment:\n  - Name: DB_PASSWORD\n    Value: hunter2word\n  - Name: MODE\n"
            "    Value: prod\n  - {Name: API_TOKEN,\n     Value: t0k3n}",
            "Environment:\n  - Name: DB_PASSWORD\n    Value: ***\n  - Name: MODE\n"
            "    Value: prod\n  - {Name: API_TOKEN,\n     Value: ***}",
        ),
        # An ECS task definition in JSON: its `environment` entries over lines, in either order,
        # on one line; `secrets` name where the value is (`valueFrom`), which stays.
        (
            "task-def.json",
            '{\n  "containerDefinitions": [{\n    "environment": [\n      {\n'
            '        "name": "DB_PASSWORD",\n        "value": "hunter2word"\n      },\n'
            '      {\n        "value": "t0k3n",\n        "name": "API_TOKEN"\n      },\n'
            '      {"name": "MODE",\n       "value": "prod"},\n'
            '      {\n        "name": "STRIPE_KEY", "value": "sk_live_1"\n      }\n    ],\n'
            '    "secrets": [{"name": "DB_PASSWORD",\n      "valueFrom": "arn:aws:ssm:p"}]\n'
            "  }]\n}",
            '{\n  "containerDefinitions": [{\n    "environment": [\n      {\n'
            '        "name": "DB_PASSWORD",\n        "value": "***"\n      },\n'
            '      {\n        "value": "***",\n        "name": "API_TOKEN"\n      },\n'
            '      {"name": "MODE",\n       "value": "prod"},\n'
            '      {\n        "name": "STRIPE_KEY", "value": "***"\n      }\n    ],\n'
            '    "secrets": [{"name": "DB_PASSWORD",\n      "valueFrom": "arn:aws:ssm:p"}]\n'
            "  }]\n}",
        ),
        (
            "task-def.json",
            '{"environment": {\n  "DB_PASSWORD": "hunter2word",\n  "MODE": "prod"\n}}',
            '{"environment": {\n  "DB_PASSWORD": "***",\n  "MODE": "prod"\n}}',
        ),
        # CloudFormation JSON, Terraform's `container_definitions`.
        (
            "stack.json",
            '"Environment": [\n  {\n    "Name": "DB_PASSWORD",\n    "Value": "hunter2word"\n  }\n]',
            '"Environment": [\n  {\n    "Name": "DB_PASSWORD",\n    "Value": "***"\n  }\n]',
        ),
        (
            "ecs.tf",
            'environment = [\n  {\n    name  = "DB_PASSWORD"\n    value = "hunter2word"\n  },\n'
            '  { name = "MODE", value = "prod" },\n  {\n    value = var.token\n'
            '    name  = "API_TOKEN"\n  },\n]',
            'environment = [\n  {\n    name  = "DB_PASSWORD"\n    value = "***"\n  },\n'
            '  { name = "MODE", value = "prod" },\n  {\n    value = ***\n'
            '    name  = "API_TOKEN"\n  },\n]',
        ),
        # Rails' Active Record encryption keys, as `bin/rails db:encryption:init` prints them;
        # a `primary_key` of any other mapping names a column.
        (
            "config/settings.yml",
            "production:\n  active_record_encryption:\n    primary_key: EGY8Wh\n"
            "    deterministic_key: aPA5X\n    key_derivation_salt: xEY0\n"
            "  model:\n    primary_key: id\n  primary_key: uuid",
            "production:\n  active_record_encryption:\n    primary_key: ***\n"
            "    deterministic_key: ***\n    key_derivation_salt: ***\n"
            "  model:\n    primary_key: id\n  primary_key: uuid",
        ),
        (
            "config/settings.yml",
            "encryption:\n  other: x\n  nested:\n    a: 1\n  primaryKey: 'EGY8Wh'\n"
            "x:\n  primaryKey: 'id'",
            "encryption:\n  other: x\n  nested:\n    a: 1\n  primaryKey: '***'\n"
            "x:\n  primaryKey: 'id'",
        ),
        # A mapping whose name only holds `encrypt` (a table of encrypted rows, of keys) is no
        # Rails encryption configuration: its `primary_key` names a column (found by review).
        (
            "db/schema.yml",
            "tables:\n  encrypted_messages:\n    primary_key: id\n  encryption_keys:\n"
            "    primary_key: key_id\n  activeRecordEncryption:\n    primaryKey: EGY8Wh\n"
            "  ACTIVE_RECORD_ENCRYPTION:\n    PRIMARY_KEY: EGY8Wh",
            "tables:\n  encrypted_messages:\n    primary_key: id\n  encryption_keys:\n"
            "    primary_key: key_id\n  activeRecordEncryption:\n    primaryKey: ***\n"
            "  ACTIVE_RECORD_ENCRYPTION:\n    PRIMARY_KEY: ***",
        ),
    ],
)
def test_a_credential_named_on_another_line_of_its_mapping_is_masked(
    path: str, text: str, expected: str
) -> None:
    assert _masked_file(path, text) == expected


# JSON files whose lines BK901 quotes: a Liquibase changelog's property, an ECR lifecycle
# policy file; a YAML flow entry over lines.
MAPPING_FILES = {
    "db/changelog.json": '{\n  "databaseChangeLog": [\n    {\n      "property": {\n'
    '        "name": "admin_password",\n        "value": "hunter7one" x\n      }\n    }\n  ]\n}\n',
    "policy.json": '{\n  "rules": [\n    {\n      "rulePriority": 1,\n      "environment": [\n'
    '        {\n          "value": "hunter7two" x,\n          "name": "DB_PASSWORD"\n'
    "        }\n      ]\n    }\n  ]\n}\n",
    "k8s/flow.yaml": CONTAINERS
    + "        - name: api\n          image: shop/api:1.0\n          env: [{name: DB_PASSWORD,\n"
    + "              value: hunter7three: x}]\n",
}


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_a_mapping_over_lines_prints_no_credential(tmp_path: Path, output_format: str) -> None:
    """A JSON line BK901 quotes below a `"name"` that names a credential (found by review:
    the value was shown), and a YAML flow entry's value below its name."""
    stdout = _report(tmp_path, MAPPING_FILES, output_format, ("hunter7",), 3)
    if output_format == "full":
        assert '  6 |         "value": "***" x\n' in stdout
        assert '  7 |           "value": "***" x,\n' in stdout
        assert "  16 |               value: ***}]\n" in stdout


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        # A line that starts with a string holding a flow mapping (a Python or YAML string, an
        # item of a JSON list): found by review, shown since a line could start with a scalar.
        (
            "app/settings.py",
            '    "env: [{name: DB_PASSWORD, value: hunter2word}]",',
            '    "env: [{name: DB_PASSWORD, value: ***}]",',
        ),
        (
            "a.yaml",
            "'[{name: API_TOKEN, value: hunter2word}]'",
            "'[{name: API_TOKEN, value: ***}]'",
        ),
        # A JSON document in a string: CloudFormation's or Terraform's ECS container
        # definitions written as one string, its quotes escaped or not.
        (
            "cfn.yaml",
            """  ContainerDefinitions: '[{"name":"DB_PASSWORD","value":"hunter2word"}]'""",
            """  ContainerDefinitions: '[{"name":"DB_PASSWORD","value":"***"}]'""",
        ),
        (
            "main.tf",
            r'  container_definitions = "[{\"name\": \"DB_PASSWORD\", \"value\": \"hunter2word\"},'
            r' {\"name\": \"MODE\", \"value\": \"prod\"}]"',
            r'  container_definitions = "[{\"name\": \"DB_PASSWORD\", \"value\": \"***\"},'
            r' {\"name\": \"MODE\", \"value\": \"prod\"}]"',
        ),
        # A string that names no credential's entry stays as it is.
        ("a.py", '    "{name: MODE, value: prod}",', '    "{name: MODE, value: prod}",'),
    ],
)
def test_a_flow_mapping_in_a_string_is_masked(path: str, line: str, expected: str) -> None:
    assert redact_line(line, 0, path)[0] == expected
    assert Redactor([line]).redact(line) == expected


def test_a_long_line_of_settings_is_read_once() -> None:
    """Found by review: each name of `password=password=…` read the rest of the line as its
    value again (a 180 KB line took a minute). A word inside a value is no name."""
    line = "password=" * 20_000
    started = time.perf_counter()
    assert Redactor([line]).redact(line) == "password=***"
    assert redact_line(line, 0, "a.env")[0] == "password=***"
    # a guard against the quadratic read (41 s), not a speed measure
    assert time.perf_counter() - started < 30


def test_a_gitlab_variable_s_value_below_its_name_is_masked() -> None:
    """GitLab CI's expanded variables: `DB_PASSWORD:` then `value:` and `description:` (in
    either order); the other keys say what their own values are (found by review)."""
    text = (
        "variables:\n"
        "  DB_PASSWORD:\n"
        '    value: "S3cr3tV4lue"\n'
        "    description: the database password\n"
        "  DEPLOY_TOKEN:\n"
        "    description: token\n"
        "    options: [a, b]\n"
        "    value: tok3nV4lue99\n"
        "    expand: false\n"
        "  API_KEY:\n"
        "    value: |\n"
        "      multi\n"
        "      line\n"
        "  IMAGE:\n"
        "    value: shop:1.4\n"
        "credentials:\n"
        "  user: admin\n"
        "  value_count: 3\n"
    )
    lines = text.splitlines()
    spans = continued_secret_spans(lines, ".gitlab-ci.yml")
    shown = [
        redact_line(line, 0, ".gitlab-ci.yml", spans.get(i))[0] for i, line in enumerate(lines)
    ]
    assert "\n".join(shown) + "\n" == (
        text.replace("S3cr3tV4lue", "***")
        .replace("tok3nV4lue99", "***")
        .replace("      multi", "      ***")
        .replace("      line", "      ***")
    )


# Found by review: shell commands in CI that hold a literal credential; the ``full`` report
# quotes them (a BK901 on a run line with ``: ``, a BK402 on a deploy step).
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # An HTTP header's scheme stays, the credential after it is masked.
        (
            'curl -H "Authorization: Bearer S3cr3tV4lue" https://x',
            'curl -H "Authorization: Bearer ***" https://x',
        ),
        (
            "curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA==' https://x",
            "curl -H 'Authorization: Basic ***' https://x",
        ),
        ('curl -H "Authorization: token ghp_S3cr3t" x', 'curl -H "Authorization: token ***" x'),
        (
            "curl -H 'Proxy-Authorization: bearer S3cr3t' x",
            "curl -H 'Proxy-Authorization: bearer ***' x",
        ),
        # A reference names where the credential comes from: shown.
        ('curl -H "Authorization: Bearer $TOKEN" x', 'curl -H "Authorization: Bearer $TOKEN" x'),
        (
            'curl -H "Authorization: Bearer ${{ secrets.TOKEN }}" x',
            'curl -H "Authorization: Bearer ${{ secrets.TOKEN }}" x',
        ),
        ("curl -u admin:S3cr3tV4lue https://x", "curl -u admin:*** https://x"),
        ("curl --user 'admin:S3cr3t' https://x", "curl --user 'admin:***' https://x"),
        ("curl -u admin:$PW https://x", "curl -u admin:$PW https://x"),
        # MySQL's clients: the password glued to -p (``-p db`` prompts, db is the database).
        ("mysql -uroot -pS3cr3tV4lue -h db", "mysql -uroot -p*** -h db"),
        ('mysql -u root -p"S3cr3t" db', 'mysql -u root -p"***" db'),
        ("mysqldump -u root -p'S3cr3t' db", "mysqldump -u root -p'***' db"),
        ('["CMD", "mysqladmin", "ping", "-pS3cr3t"]', '["CMD", "mysqladmin", "ping", "-p***"]'),
        ("mysql -p db", "mysql -p db"),
        ("mysql -p$MYSQL_PASSWORD db", "mysql -p$MYSQL_PASSWORD db"),
        ('mysql -p"${MYSQL_PASSWORD}" db', 'mysql -p"${MYSQL_PASSWORD}" db'),
        # compose writes a ``$`` for the shell as ``$$``: still a reference.
        (
            '"mysqladmin", "ping", "-p$$MYSQL_ROOT_PASSWORD"]',
            '"mysqladmin", "ping", "-p$$MYSQL_ROOT_PASSWORD"]',
        ),
        ("DB_PASSWORD=$${DB_PASSWORD} ./run", "DB_PASSWORD=$${DB_PASSWORD} ./run"),
        ("mysql --password=S3cr3t db", "mysql --password=*** db"),
        # ``--password`` apart prompts: MySQL's takes its value after ``=`` only (``mysql
        # --help``: ``--password[=name]``; ``mysql --password nosuchdb`` prompts, then "Unknown
        # database 'nosuchdb'"), psql's ``-W``/``--password`` takes none.
        ("mysql --password mydb", "mysql --password mydb"),
        ("mysqldump --password -h db shop", "mysqldump --password -h db shop"),
        ("psql --password mydb", "psql --password mydb"),
        ("psql -h db --password -U app mydb", "psql -h db --password -U app mydb"),
        (
            'helm repo add --username ci --password "S3cr3t" r x',
            'helm repo add --username ci --password "***" r x',
        ),
        ("kubectl --token S3cr3tV4lue get pods", "kubectl --token *** get pods"),
        ("--password=${{ secrets.X }}", "--password=${{ secrets.X }}"),
        # docker login: -p and --password take the password as the next word.
        ("docker login -u ci -p S3cr3tV4lue registry", "docker login -u ci -p *** registry"),
        (
            "docker login -u ci --password S3cr3t registry",
            "docker login -u ci --password *** registry",
        ),
        (
            "docker login -u ci --password-stdin registry",
            "docker login -u ci --password-stdin registry",
        ),
        ("docker login -u ci -p $PASSWORD registry", "docker login -u ci -p $PASSWORD registry"),
        (
            'docker login -u ci -p "${{ secrets.X }}" registry',
            'docker login -u ci -p "${{ secrets.X }}" registry',
        ),
        ("sshpass -p S3cr3t ssh host", "sshpass -p *** ssh host"),
        ("sshpass -pS3cr3t ssh host", "sshpass -p*** ssh host"),
        ("redis-cli -a S3cr3t ping", "redis-cli -a *** ping"),
        ("mongosh -u admin -p S3cr3t db", "mongosh -u admin -p *** db"),
        ("podman login -u=ci -p=S3cr3t quay.io", "podman login -u=ci -p=*** quay.io"),
        ("/usr/bin/mysql -pS3cr3t db", "/usr/bin/mysql -p*** db"),
        ("PGPASSWORD=S3cr3t psql -h db", "PGPASSWORD=*** psql -h db"),
        # -p elsewhere is a port, a flag: shown.
        ("docker run -p 8080:80 shop", "docker run -p 8080:80 shop"),
        ("ssh -p 2222 host && mkdir -p dir", "ssh -p 2222 host && mkdir -p dir"),
        ("mysql -P 3306 -h db; mkdir -pv dir", "mysql -P 3306 -h db; mkdir -pv dir"),
        ("gh auth login --with-token < token.txt", "gh auth login --with-token < token.txt"),
        (
            "ansible-playbook site.yml --ask-vault-pass -i hosts",
            "ansible-playbook site.yml --ask-vault-pass -i hosts",
        ),
    ],
)
def test_a_credential_in_a_shell_command_is_masked(line: str, expected: str) -> None:
    assert Redactor([line]).redact(line) == expected
    shown = redact_line(f"      - run: {line}", 0, ".github/workflows/ci.yml")[0]
    assert shown == f"      - run: {expected}"


# Found by review: more commands that take a credential as an option or a header, and prose
# that names an option (a runbook's or a comment's) whose next word is no value.
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # curl's short options grouped: the last takes the next word, a letter that takes a
        # value takes the rest of the group (``-usLf x``: user ``sLf``, checked with curl 8).
        ("curl -fsSLu ci:S3cr3tV4lue https://x", "curl -fsSLu ci:*** https://x"),
        ("curl -sSfu 'ci:S3cr3t' https://x", "curl -sSfu 'ci:***' https://x"),
        ("curl -su ci:S3cr3t -o out https://x", "curl -su ci:*** -o out https://x"),
        ("curl -fsSLu ci https://x", "curl -fsSLu ci https://x"),
        ("curl -fsSLu ci:$PW https://x", "curl -fsSLu ci:$PW https://x"),
        # ``-o`` takes ``u`` as its file: no user there.
        ("curl -fou ci:nope https://x", "curl -fou ci:nope https://x"),
        ("curl --user=ci:S3cr3t https://x", "curl --user=ci:*** https://x"),
        ("wget --password=S3cr3t https://x", "wget --password=*** https://x"),
        ("wget --http-password S3cr3t https://x", "wget --http-password *** https://x"),
        ("wget --http-user=ci --http-passwd=S3cr3t x", "wget --http-user=ci --http-passwd=*** x"),
        # Samba's tools: ``-U|--user=[DOMAIN/]USERNAME[%PASSWORD]`` (smbtree(1)).
        ("smbclient //srv/share -U ci%S3cr3t -c ls", "smbclient //srv/share -U ci%*** -c ls"),
        ("smbclient -U 'CORP\\ci%S3cr3t' //srv/s", "smbclient -U 'CORP\\ci%***' //srv/s"),
        ("rpcclient --user=ci%S3cr3t srv", "rpcclient --user=ci%*** srv"),
        ("net ads join -U admin%S3cr3t", "net ads join -U admin%***"),
        ("smbclient -U ci //srv/share", "smbclient -U ci //srv/share"),
        ("smbclient -U ci%$SMB_PASSWORD //srv/s", "smbclient -U ci%$SMB_PASSWORD //srv/s"),
        # A cookie is a session's credential: each value masked, its name shown; a
        # ``Set-Cookie``'s attributes (``Path``, ``HttpOnly``) are no cookie.
        ('curl -H "Cookie: sid=S3cr3tV4lue" https://x', 'curl -H "Cookie: sid=***" https://x'),
        (
            "curl -H 'cookie: sid=S3cr3t; theme=dark' https://x",
            "curl -H 'cookie: sid=***; theme=***' https://x",
        ),
        (
            'curl -H "Set-Cookie: sid=S3cr3t; Path=/; HttpOnly" x',
            'curl -H "Set-Cookie: sid=***; Path=/; HttpOnly" x',
        ),
        ('wget --header="Cookie: sid=S3cr3t" x', 'wget --header="Cookie: sid=***" x'),
        ('curl --cookie "sid=S3cr3t" https://x', 'curl --cookie "sid=***" https://x'),
        ("curl -b sid=S3cr3t https://x", "curl -b sid=*** https://x"),
        ('curl -sb "a=S3cr3t;b=Tw0" https://x', 'curl -sb "a=***;b=***" https://x'),
        ('curl -H "Cookie: sid=$SID" x', 'curl -H "Cookie: sid=$SID" x'),
        # ``-b`` without ``=`` reads a file of cookies: shown, as a jar.
        ("curl -b cookies.txt -c jar.txt https://x", "curl -b cookies.txt -c jar.txt https://x"),
        ("curl --cookie-jar jar.txt https://x", "curl --cookie-jar jar.txt https://x"),
        # Prose that names an option: the word after it is no value.
        ("use -p to set the port", "use -p to set the port"),
        ("# use --password to give the password", "# use --password to give the password"),
        ("The --token option sets the token.", "The --token option sets the token."),
        ("sshpass -p or -f: see the man page", "sshpass -p or -f: see the man page"),
        ("- Pass `--password` and the token", "- Pass `--password` and the token"),
        # A command in a comment is still a command.
        ("# docker login -u ci -p S3cr3tV4lue r", "# docker login -u ci -p *** r"),
        ("# kubectl --token S3cr3tV4lue get pods", "# kubectl --token *** get pods"),
    ],
)
def test_more_credentials_in_shell_commands_are_masked(line: str, expected: str) -> None:
    assert Redactor([line]).redact(line) == expected
    shown = redact_line(f"      - run: {line}", 0, ".github/workflows/ci.yml")[0]
    assert shown == f"      - run: {expected}"


def test_a_credential_in_a_ci_command_is_not_in_the_full_report(tmp_path: Path) -> None:
    """A ``run:`` line that holds ``: `` does not parse: BK901 quotes it."""
    run = (
        '      - run: curl -H "Authorization: Bearer S3cr3tV4lue" https://x/hook && '
        "mysql -uroot -pMy5qlS3cret -e 'a: b'\n"
    )
    workflow = "on: push\njobs:\n  deploy:\n    runs-on: x\n    steps:\n" + run
    _write_files(tmp_path, {".github/workflows/deploy.yml": workflow})
    done = run_backout("check", ".", "--output-format", "full", cwd=tmp_path)
    assert "BK901" in done.stdout
    assert "S3cr3tV4lue" not in done.stdout + done.stderr
    assert "My5qlS3cret" not in done.stdout + done.stderr
    assert '"Authorization: Bearer ***" https://x/hook && mysql -uroot -p***' in done.stdout


def _shown(text: str, path: str) -> str:
    """``text``, the file at ``path``, as the ``full`` format shows its lines."""
    lines = text.splitlines()
    spans = continued_secret_spans(lines, path)
    return "\n".join(redact_line(line, 0, path, spans.get(i))[0] for i, line in enumerate(lines))


def test_a_terraform_variable_s_default_is_masked() -> None:
    """Found by review: the credential is named in the block's label, its value on a later
    line; a ``sensitive = true`` variable is a credential whatever its name."""
    text = (
        'variable "db_password" {\n'
        "  type    = string\n"
        '  default = "S3cr3tV4lue"\n'
        "}\n"
        'variable "region" {\n'
        '  default = "eu-west-1"\n'
        "}\n"
        'variable "dsn" {\n'
        '  default   = "Dsn5ecretV4l"\n'
        "  sensitive = true\n"
        "}\n"
        'variable "api_token" {\n'
        '  default = "${var.x}"\n'
        "  validation {\n"
        "    condition = length(var.api_token) > 0\n"
        "  }\n"
        "}\n"
        'variable "replicas" { default = 3 }\n'
        'variable "api_key" { default = "K3yV4lue99" }\n'
        'variable "tls_private_key" {\n'
        "  default = <<-EOT\n"
        "    Pem1Line\n"
        "    Pem2Line\n"
        "  EOT\n"
        "}\n"
    )
    assert _shown(text, "infra/variables.tf") + "\n" == (
        text.replace("S3cr3tV4lue", "***")
        .replace("Dsn5ecretV4l", "***")
        .replace("K3yV4lue99", "***")
        .replace("Pem1Line", "***")
        .replace("Pem2Line", "***")
    )


def test_terraform_collections_outputs_and_heredocs_are_masked() -> None:
    """Found by review: a credential variable's default written as a map or a list leaked its
    values and masked its braces, an ``output`` of a literal was shown, and an attribute's
    heredoc (``tls_key = <<-EOT``) leaked its lines. Only the values are masked: the keys, the
    brackets and references (``var.x``, a resource's attribute) stay shown."""
    text = (
        'variable "db_credentials" {\n'
        '  default = { user = "Us3rV4lue", pass = "S3cr3tA" }\n'
        "}\n"
        'variable "db" {\n'
        "  sensitive = true\n"
        "  default = {\n"
        '    username = "Us3rV4lue"\n'
        '    "host"   = "H0stV4lue"\n'
        "    port     = 5432\n"
        "  }\n"
        "}\n"
        'variable "api_tokens" {\n'
        '  default = ["Tok3nA", "Tok3nB"]\n'
        "}\n"
        'variable "api_tokens2" {\n'
        "  default = [\n"
        '    "Tok3nC", # first\n'
        '    "Tok3nD",\n'
        "  ]\n"
        "}\n"
        'variable "plain" {\n'
        '  default = { host = "h", port = 5 }\n'
        "}\n"
        'output "db_password" {\n'
        '  value = "S3cr3tOut"\n'
        "}\n"
        'output "conn" {\n'
        '  value     = "S3cr3tOut2"\n'
        "  sensitive = true\n"
        "}\n"
        'output "ref" {\n'
        "  value     = aws_db_instance.shop.password\n"
        "  sensitive = true\n"
        "}\n"
        'output "token" { value = random_password.api.result }\n'
        'output "region" {\n'
        '  value = "eu-west-1"\n'
        "}\n"
        "locals {\n"
        '  db_password = "S3cr3tLoc"\n'
        '  api_keys    = ["K3yOne", "K3yTwo"]\n'
        "  tls_key     = <<-EOT\n"
        "    PemLine1\n"
        "  EOT\n"
        '  region      = "eu"\n'
        "}\n"
        'resource "aws_db_instance" "shop" {\n'
        "  password = var.db_password\n"
        '  username = "shop"\n'
        "}\n"
    )
    expected = text
    for secret in (
        "Us3rV4lue",
        "S3cr3tA",
        "H0stV4lue",
        "5432",
        "Tok3nA",
        "Tok3nB",
        "Tok3nC",
        "Tok3nD",
        "S3cr3tOut2",
        "S3cr3tOut",
        "S3cr3tLoc",
        "K3yOne",
        "K3yTwo",
        "PemLine1",
    ):
        expected = expected.replace(secret, "***")
    assert _shown(text, "infra/main.tf") + "\n" == expected


@pytest.mark.parametrize(
    ("path", "line", "expected"),
    [
        # Azure's keys (``az servicebus namespace authorization-rule keys list``, ARM's
        # ``listKeys()``): ``secondaryKey`` is a credential's name; ``primaryKey`` names a
        # table's key too (Liquibase, Sequelize), so its value is masked when it is key
        # material, base64 of 20 characters or more, not a column's name.
        (
            "keys.json",
            '  "primaryKey": "Q2hhbmdlTWUrU2VjcmV0S2V5MTIzNDU2Nzg5MA==",',
            '  "primaryKey": "***",',
        ),
        ("keys.json", '  "secondaryKey": "c2Vjb25kS2V5MTIz",', '  "secondaryKey": "***",'),
        ("a.yaml", "  primaryKey: Q2hhbmdlTWUrU2VjcmV0S2V5MTIz=", "  primaryKey: ***"),
        ("a.yaml", "  primaryKey: customer_id", "  primaryKey: customer_id"),
        ("changelog.yaml", "      primaryKey: true", "      primaryKey: true"),
        ("model.json", '{"primaryKey": "OrderIdentifier"}', '{"primaryKey": "OrderIdentifier"}'),
        (
            "app.yaml",
            "  conn: DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=S3cr3t+Key==;"
            "EndpointSuffix=core.windows.net",
            "  conn: DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=***;"
            "EndpointSuffix=core.windows.net",
        ),
        ("a.yaml", "  passkey: S3cr3tV4lue", "  passkey: ***"),
        (
            "a.yaml",
            "  url: https://t.example/announce?passkey=S3cr3t",
            "  url: https://t.example/announce?passkey=***",
        ),
        # DynamoDB's partition key in Terraform (``aws_dynamodb_table``): a column, shown.
        ("db.tf", '  hash_key  = "UserId"', '  hash_key  = "UserId"'),
        ("db.tf", '  range_key = "GameTitle"', '  range_key = "GameTitle"'),
        ("a.yaml", "  hashkey: user_id", "  hashkey: user_id"),
    ],
)
def test_azure_keys_passkeys_and_hash_keys(path: str, line: str, expected: str) -> None:
    assert redact_line(line, 0, path)[0] == expected
    if not path.endswith(".tf"):
        text = line.strip()
        assert Redactor([text]).redact(text) == expected.strip()


def test_a_json_value_below_its_key_is_masked() -> None:
    text = '{\n  "DB_PASSWORD":\n    "S3cr3tV4lue",\n  "region":\n    "eu"\n}\n'
    assert _shown(text, "config.json") + "\n" == text.replace("S3cr3tV4lue", "***")


@pytest.mark.parametrize(
    "line",
    [
        "    token = models.CharField(max_length=40)",
        "    api_key = os.environ['API_KEY']",
        "    password = get_password()",
        "    client_secret=config.get('oauth', 'secret'),",
    ],
)
def test_a_python_assignment_of_code_is_shown(line: str) -> None:
    assert redact_line(line, 0, "shop/models.py")[0] == line
    assert Redactor([line]).redact(line) == line


def test_a_python_assignment_of_a_literal_is_masked() -> None:
    assert redact_line('SECRET_KEY = "S3cr3t"', 0, "settings.py")[0] == 'SECRET_KEY = "***"'
    assert redact_line("API_TOKEN = 'S3cr3t'", 0, "settings.py")[0] == "API_TOKEN = '***'"
    # A word before a bracket may be a password.
    assert redact_line("db.password=Summer(2024)", 0, "a.properties")[0] == "db.password=***"
    assert "Summer" not in Redactor(["password=Summer(2024)"]).redact("password=Summer(2024)")


@pytest.mark.parametrize(
    "line",
    [
        "mysql -p" + "x" * 100_000,
        "docker login " + "-p " * 40_000,
        "--password " * 10_000,
        "curl " + "Authorization: Bearer " * 5_000,
        "mysql " * 20_000 + "-pS3cr3t",
    ],
)
def test_long_command_lines_are_read_once(line: str) -> None:
    started = time.perf_counter()
    Redactor([line]).redact(line)
    redact_line(line, 0, "ci.yml")
    # a guard against a quadratic read, not a speed measure
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A heredoc's shell line in a .tf file is no HCL attribute: a bare value there is a
        # value, not a reference (found by review: `export DB_PASSWORD=s3cret` was shown).
        ("    export DB_PASSWORD=S3cr3tV4l", "    export DB_PASSWORD=***"),
        ("    DB_PASSWORD=S3cr3tV4l", "    DB_PASSWORD=***"),
        # A call's quoted arguments are literals; its name and references stay shown.
        ('  password = lower("S3cr3tV4l")', '  password = lower("***")'),
        ('  password = coalesce(var.pw, "S3cr3tV4l")', '  password = coalesce(var.pw, "***")'),
        # References stay shown.
        ("  password = var.db_password", "  password = var.db_password"),
        ("  password = random_password.db.result", "  password = random_password.db.result"),
        ("  password = local.keys[0]", "  password = local.keys[0]"),
        ("  password = 12345678", "  password = ***"),
    ],
)
def test_a_terraform_value_is_masked_unless_a_reference(line: str, expected: str) -> None:
    assert redact_line(line, 0, "infra/main.tf")[0] == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A password quoted after the user (found by review: shown whole).
        ('curl -u ci:"S3cr3tpw" https://x', 'curl -u ci:"***" https://x'),
        ("curl --user ci:'S3cr3t pw' https://x", "curl --user ci:'***' https://x"),
        ('smbclient //h/s -U ci%"S3cr3tpw"', 'smbclient //h/s -U ci%"***"'),
        ('curl -u "ci:S3cr3tpw" https://x', 'curl -u "ci:***" https://x'),
        ("curl -u ci -X POST https://x", "curl -u ci -X POST https://x"),
    ],
)
def test_a_password_quoted_after_its_user_is_masked(line: str, expected: str) -> None:
    assert redact_line(line, 0, ".gitlab-ci.yml")[0] == expected


def test_a_command_continued_over_lines_prints_no_credential() -> None:
    text = (
        "script:\n"
        "  - mysql -uroot \\\n"
        "      -pS3cr3tpw db < x.sql\n"
        "  - curl -u \\\n"
        "      ci:S3cr3tpw2 \\\n"
        "      https://x\n"
        "  - app --token \\\n"
        "      S3cr3tpw3\n"
        "  - echo done \\\\\n"
        "  - mysql -p\n"
    )
    lines = text.splitlines()
    found = continued_secret_spans(lines, ".gitlab-ci.yml")
    shown = [
        redact_line(line, 0, ".gitlab-ci.yml", found.get(i))[0] for i, line in enumerate(lines)
    ]
    assert "S3cr3t" not in "\n".join(shown)
    assert shown[2] == "      -p*** db < x.sql"
    assert shown[4] == "      ci:*** \\"
    assert shown[5] == "      https://x"
    assert shown[8:] == ["  - echo done \\\\", "  - mysql -p"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A password option's value is a password, however it reads (found by review:
        # `mysql -ptrue` was shown, `true` taken for a switch as in `verify_key: false`).
        ("mysql -ptrue db", "mysql -p*** db"),
        ("sshpass -p yes ssh host", "sshpass -p *** ssh host"),
        ("redis-cli -a off ping", "redis-cli -a *** ping"),
        ("curl -u ci:none https://x", "curl -u ci:*** https://x"),
        ("  verify_key: false", "  verify_key: false"),
    ],
)
def test_a_password_option_s_value_is_masked_whatever_it_reads(line: str, expected: str) -> None:
    assert redact_line(line, 0, "deploy.sh")[0] == expected
