"""The CI formats as their consumers read them: SARIF for code scanning, GitLab Code Quality,
GitHub annotations, JUnit XML; with awkward input (quotes, unicode, control characters, paths
with spaces, the same finding twice) and with the checked directory below the current one."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

from backout.report import OutputFormat
from tests.conftest import run_backout
from tests.sarif_schema import validate

ROOT = Path(__file__).parent.parent

# One Deployment, two containers with the same name and the same untagged image (one message,
# two lines), a name holding quotes, markup, a non-BMP character, an escape sequence and a
# control character, and a suppressed third container whose reason has quotes and markup.
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "w\\u00e9,b:x%y"
spec:
  template:
    spec:
      containers:
        - name: "c\\"q'<&>\\u00e9\\U0001F600\\x1b[2K\\x01"
          image: "nginx"
        - name: "c\\"q'<&>\\u00e9\\U0001F600\\x1b[2K\\x01"
          image: "nginx"
        - name: other
          image: registry:5000/app:1.2  # backout: ignore[BK101] "quoted" <reason> & ok
"""


def _tree(tmp_path: Path, manifest: str = MANIFEST) -> Path:
    """``tmp_path/k8s dir/app é.yaml`` (the manifest) and an unreadable ``bad file.yaml``."""
    folder = tmp_path / "k8s dir"
    folder.mkdir(parents=True)
    (folder / "app é.yaml").write_text(manifest, encoding="utf-8")
    (folder / "bad file.yaml").write_text("apiVersion: v1\nkind: [\n", encoding="utf-8")
    return tmp_path


def _sarif(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    done = run_backout("check", ".", "--format", "sarif", cwd=_tree(tmp_path))
    assert done.returncode == 1, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_sarif_is_valid_and_has_what_code_scanning_reads(tmp_path: Path) -> None:
    log = _sarif(tmp_path)
    validate(log)
    run = log["runs"][0]
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert run["columnKind"] == "unicodeCodePoints"
    for rule in run["tool"]["driver"]["rules"]:
        page = rule["helpUri"].removeprefix("https://github.com/backout-dev/backout/blob/main/")
        assert (ROOT / page).is_file(), rule["helpUri"]
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"BK101", "BK901"}
    assert sum(1 for r in results if r.get("suppressions")) == 1
    fingerprints = [r["partialFingerprints"]["backout/v1"] for r in results]
    assert len(set(fingerprints)) == len(results) == 4
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_sarif_uris_are_uri_references_of_the_paths(tmp_path: Path) -> None:
    artifacts = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]
        for r in _sarif(tmp_path)["runs"][0]["results"]
    ]
    uris = {a["uri"] for a in artifacts}
    assert uris == {"k8s%20dir/app%20%C3%A9.yaml", "k8s%20dir/bad%20file.yaml"}
    assert {unquote(uri) for uri in uris} == {"k8s dir/app é.yaml", "k8s dir/bad file.yaml"}
    assert {a["uriBaseId"] for a in artifacts} == {"%SRCROOT%"}


def test_sarif_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    first = _sarif(tmp_path / "one")  # type: ignore[operator]
    second = _sarif(tmp_path / "two")  # type: ignore[operator]

    def keys(log: dict) -> list[str]:  # type: ignore[type-arg]
        return [r["partialFingerprints"]["backout/v1"] for r in log["runs"][0]["results"]]

    assert keys(first) == keys(second)


def test_gitlab_fingerprints_are_unique_for_repeated_findings(tmp_path: Path) -> None:
    # Without the control characters: the baseline's fingerprint is of the message as found.
    plain = MANIFEST.replace("\\x1b[2K\\x01", "")
    done = run_backout("check", ".", "--format", "gitlab", cwd=_tree(tmp_path, plain))
    issues = json.loads(done.stdout)
    repeated = [i for i in issues if i["check_name"] == "BK101 mutable-image-reference"]
    assert [i["location"]["lines"]["begin"] for i in repeated] == [10, 12]
    assert repeated[0]["description"] == repeated[1]["description"]
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints) == 3
    # The first of the two keeps the identity a baseline records.
    baseline = tmp_path / "baseline.json"
    run_backout("check", ".", "--write-baseline", str(baseline), cwd=tmp_path)
    recorded = {e["fingerprint"] for e in json.loads(baseline.read_text())["findings"]}
    assert repeated[0]["fingerprint"] in recorded
    assert repeated[1]["fingerprint"] not in recorded


def test_control_characters_are_written_out_in_every_format(tmp_path: Path) -> None:
    _tree(tmp_path)
    for output_format in OutputFormat:
        done = run_backout("check", ".", "--format", output_format.value, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "\x1b" not in done.stdout and "\x01" not in done.stdout, output_format
        if output_format in (OutputFormat.JSON, OutputFormat.SARIF, OutputFormat.GITLAB):
            assert "\\\\x1b[2K\\\\x01" in done.stdout, output_format  # JSON-escaped backslash
        else:
            assert "\\x1b[2K\\x01" in done.stdout, output_format
    junit = run_backout("check", ".", "--format", "junit", cwd=tmp_path).stdout
    ET.fromstring(junit.encode())  # well-formed XML 1.0


def test_a_file_name_with_control_characters_is_written_out(tmp_path: Path) -> None:
    (tmp_path / "a\nb\x01.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: nginx}]}\n"
    )
    for output_format in ("concise", "github", "full"):
        done = run_backout("check", ".", "--format", output_format, cwd=tmp_path)
        assert done.stdout.startswith("a\\nb\\x01.yaml:4:38: BK101 ") or done.stdout.startswith(
            "::error file=a\\nb\\x01.yaml,line=4,col=38,"
        ), done.stdout
        assert "\x01" not in done.stdout
    assert (
        len(run_backout("check", ".", "--format", "concise", cwd=tmp_path).stdout.splitlines()) == 1
    )
    junit = run_backout("check", ".", "--format", "junit", cwd=tmp_path).stdout
    ET.fromstring(junit.encode())


def test_paths_are_relative_to_the_current_directory(tmp_path: Path) -> None:
    for name, tag in (("api", "nginx"), ("web", "httpd")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.yaml").write_text(
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
            f"spec:\n  containers:\n    - name: c\n      image: {tag}\n"
        )
    done = run_backout("check", "web", "api", "--format", "concise", cwd=tmp_path)
    assert [line.split(": ")[0] for line in done.stdout.splitlines()] == [
        "api/app.yaml:7:14",
        "web/app.yaml:7:14",
    ]
    github = run_backout("check", "web", "--format", "github", cwd=tmp_path).stdout
    assert github.startswith("::error file=web/app.yaml,line=7,col=14,")
    # ``full`` shows each finding's line from its own directory's file.
    full = run_backout("check", "api", "web", cwd=tmp_path).stdout
    assert "  7 |       image: nginx" in full and "  7 |       image: httpd" in full
    sarif = json.loads(run_backout("check", "web", "--format", "sarif", cwd=tmp_path).stdout)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "web/app.yaml"
    # Run inside the checked directory, or on one outside the current one: as before.
    inside = run_backout("check", ".", "--format", "concise", cwd=tmp_path / "web").stdout
    assert inside.startswith("app.yaml:7:14:")
    outside = run_backout("check", "../web", "--format", "concise", cwd=tmp_path / "api").stdout
    assert outside.startswith("app.yaml:7:14:")


def test_two_directories_outside_the_current_one_are_told_apart(tmp_path: Path) -> None:
    for name, tag, padding in (("api", "nginx", ""), ("web", "httpd", "# web\n# web\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.yaml").write_text(
            f"{padding}apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
            f"spec:\n  containers:\n    - name: c\n      image: {tag}\n"
        )
    (tmp_path / "elsewhere").mkdir()
    here = tmp_path / "elsewhere"
    # As given (``../api``, an absolute path): they gave ``app.yaml`` twice.
    concise = run_backout(
        "check", "../api", str(tmp_path / "web"), "--format", "concise", cwd=here
    ).stdout
    assert [line.split(": ")[0] for line in concise.splitlines()] == [
        "../api/app.yaml:7:14",
        f"{tmp_path.resolve().as_posix()}/web/app.yaml:9:14",
    ]
    # ``full`` shows each finding's line from its own file (it showed web's finding without
    # its line: line 9 of api/app.yaml, which has 7).
    full = run_backout("check", "../api", "../web", cwd=here).stdout
    assert "  7 |       image: nginx" in full and "  9 |       image: httpd" in full


def test_a_baseline_of_the_checked_directory_still_matches(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\n"
        "spec: {containers: [{name: c, image: nginx}]}\n"
    )
    baseline = tmp_path / "baseline.json"
    # A baseline of older versions, with paths relative to the checked directory: written
    # beside the files, then moved to the repository root.
    written = tmp_path / "web" / "baseline.json"
    done = run_backout("check", ".", "--write-baseline", str(written), cwd=tmp_path / "web")
    assert done.returncode == 0, done.stderr
    written.replace(baseline)
    assert json.loads(baseline.read_text())["findings"][0]["path"] == "app.yaml"
    done = run_backout("check", "web", "--baseline", str(baseline), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 findings in the baseline." in done.stderr


def test_a_baseline_matches_from_any_current_directory(tmp_path: Path) -> None:
    """Paths in a baseline are relative to the baseline file's directory: the file written
    from the repository root matches when run from the checked directory, and back."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "app.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\n"
        "spec: {containers: [{name: c, image: nginx}]}\n"
    )
    baseline = tmp_path / "baseline.json"
    done = run_backout("check", "deploy", "--write-baseline", str(baseline), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(baseline.read_text())["findings"][0]["path"] == "deploy/app.yaml"
    for cwd, target in ((tmp_path, "deploy"), (tmp_path / "deploy", "."), (tmp_path, ".")):
        done = run_backout("check", target, "--baseline", str(baseline), cwd=cwd)
        assert done.returncode == 0, (cwd, target, done.stdout + done.stderr)
        assert "1 findings in the baseline." in done.stderr
    # Written from inside the directory, it records the same path.
    again = tmp_path / "again.json"
    done = run_backout("check", ".", "--write-baseline", str(again), cwd=tmp_path / "deploy")
    assert json.loads(again.read_text()) == json.loads(baseline.read_text())


def test_junit_shows_suppressed_findings_as_skipped_cases(tmp_path: Path) -> None:
    done = run_backout("check", ".", "--format", "junit", cwd=_tree(tmp_path))
    assert done.returncode == 1, done.stderr
    root = ET.fromstring(done.stdout.encode())
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    app = suites["k8s dir/app é.yaml"]
    cases = app.findall("testcase")
    skipped = [case for case in cases if case.find("skipped") is not None]
    failed = [case for case in cases if case.find("failure") is not None]
    # The two untagged containers fail; the suppressed one is a skipped case with its reason.
    assert len(failed) == 2 and len(skipped) == 1
    assert skipped[0].find("failure") is None
    assert skipped[0].get("line") == "14"
    assert skipped[0].get("name", "").startswith("BK101 ")
    assert skipped[0].find("skipped").get("message") == (  # type: ignore[union-attr]
        'suppressed: "quoted" <reason> & ok'
    )
    assert (app.get("tests"), app.get("failures"), app.get("skipped")) == ("3", "2", "1")
    # Suites with no suppressed finding say so; the totals add up.
    assert suites["k8s dir/bad file.yaml"].get("skipped") == "0"
    assert root.get("skipped") == "1"
    assert root.get("failures") == str(sum(int(s.get("failures", "0")) for s in suites.values()))
    assert root.get("tests") == str(sum(int(s.get("tests", "0")) for s in suites.values()))


def test_junit_with_only_suppressed_findings_passes_and_shows_them(tmp_path: Path) -> None:
    manifest = MANIFEST.split('        - name: "c')[0] + (
        "        - name: other\n"
        "          image: registry:5000/app:1.2  # backout: ignore[BK101] pinned by the chart\n"
    )
    folder = tmp_path / "k8s"
    folder.mkdir()
    (folder / "app.yaml").write_text(manifest, encoding="utf-8")
    done = run_backout("check", ".", "--format", "junit", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    root = ET.fromstring(done.stdout.encode())
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "0", "1")
    skipped = root.findall(".//skipped")
    assert [s.get("message") for s in skipped] == ["suppressed: pinned by the chart"]
    assert root.find(".//failure") is None


GOLDEN_REPO = ROOT / "tests" / "fixtures" / "golden_repo"


def _junit_cases(stdout: str) -> dict[str, ET.Element]:
    """The test cases of a JUnit report by name, after checking that the counts add up."""
    root = ET.fromstring(stdout.encode())
    suites = root.findall("testsuite")
    for suite in [*suites, root]:
        cases = list(suite.iter("testcase"))
        failed = sum(1 for case in cases if case.find("failure") is not None)
        skipped = sum(1 for case in cases if case.find("skipped") is not None)
        assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
            str(len(cases)),
            str(failed),
            str(skipped),
        )
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_junit_fails_only_the_findings_at_or_above_fail_on() -> None:
    done = run_backout("check", ".", "--format", "junit", cwd=GOLDEN_REPO)
    assert done.returncode == 1, done.stderr
    cases = _junit_cases(done.stdout)
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    # The errors fail; the warnings below the default --fail-on error are passing cases that
    # still say what was found, under the same names as when they fail.
    assert failed == {
        "BK102 revision-history-too-short at k8s/app.yaml:6:25",
        "BK101 mutable-image-reference at k8s/app.yaml:15:18",
    }
    warning = cases["BK305 unpinned-build-input at Dockerfile:1:6"]
    assert [child.tag for child in warning] == ["system-out"]
    out = warning.findtext("system-out") or ""
    assert out.startswith(
        "Dockerfile:1:6: BK305 unpinned-build-input [warning, below fail-on error]\n"
        "FROM (stage build): `golang:1.22` has no digest"
    )
    assert "\nfix: pin it by digest: `golang:1.22@sha256:…`" in out
    assert cases["BK101 mutable-image-reference at k8s/app.yaml:17:18"].find("failure") is None
    # Suppressed findings stay skipped; no placeholder case while something fails.
    skipped = {name for name, case in cases.items() if case.find("skipped") is not None}
    assert skipped == {
        "BK305 unpinned-build-input at Dockerfile:3:6",
        "BK101 mutable-image-reference at k8s/app.yaml:20:18",
    }
    assert "rollback hazards" not in cases


def test_junit_fail_on_warning_fails_the_warnings_too() -> None:
    done = run_backout("check", ".", "--format", "junit", "--fail-on", "warning", cwd=GOLDEN_REPO)
    assert done.returncode == 1, done.stderr
    cases = _junit_cases(done.stdout)
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert len(failed) == 6 and len(cases) == 8
    failure = cases["BK305 unpinned-build-input at Dockerfile:1:6"].find("failure")
    assert failure is not None and failure.get("type") == "BK305 warning"
    assert not any(case.find("system-out") is not None for case in cases.values())


def test_junit_passes_when_nothing_reaches_fail_on_from_the_config(tmp_path: Path) -> None:
    # Only warnings, and fail-on set in backout.toml: the report passes as the exit code does,
    # with the placeholder case, and shows each warning as a passing case.
    (tmp_path / "Dockerfile").write_text("FROM golang:1.22\n", encoding="utf-8")
    done = run_backout("check", ".", "--format", "junit", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = _junit_cases(done.stdout)
    assert set(cases) == {"rollback hazards", "BK305 unpinned-build-input at Dockerfile:1:6"}
    assert all(case.find("failure") is None for case in cases.values())
    (tmp_path / "backout.toml").write_text('fail-on = "warning"\n', encoding="utf-8")
    done = run_backout("check", ".", "--format", "junit", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    cases = _junit_cases(done.stdout)
    assert set(cases) == {"BK305 unpinned-build-input at Dockerfile:1:6"}
    assert cases["BK305 unpinned-build-input at Dockerfile:1:6"].find("failure") is not None
