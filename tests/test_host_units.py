"""``backout host`` parts that need no root: status/policy parsing, file names, snapshots, BK501."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backout.config import Config
from backout.files import write_atomically
from backout.host import HostError, archive, snapshot
from backout.host.apt import (
    deb_file_name,
    parse_deb_file_name,
    parse_policy,
    policy_for,
    scan_archives,
)
from backout.host.check import check_facts
from backout.host.dpkg import PackagedFile, installed_packages, parse_status
from backout.host.facts import PackageVersion
from backout.models import Location
from tests.conftest import one_line_error, run_backout
from tests.sarif_schema import validate

STATUS = """\
Package: bash
Essential: yes
Status: install ok installed
Architecture: amd64
Multi-Arch: foreign
Version: 5.2.15-2+b8
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
 More text.

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version:   2.36-9+deb12u10
Conffiles:
 /etc/ld.so.conf.d/i386-linux-gnu.conf 0123456789abcdef0123456789abcdef

Package: gone
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: half
Status: install reinstreq half-installed
Architecture: all
Version: 0.1
"""

POLICY = """\
bash:
  Installed: 5.2.15-2+b8
  Candidate: 5.2.15-2+b13
  Version table:
     5.2.15-2+b13 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 5.2.15-2+b8 100
        100 /var/lib/dpkg/status
libc6:i386:
  Installed: 2.36-9+deb12u10
  Candidate: 2.36-9+deb12u10
  Version table:
 *** 2.36-9+deb12u10 500
        500 http://deb.debian.org/debian-security bookworm-security/main i386 Packages
        100 /var/lib/dpkg/status
     2.36-9+deb12u9 500
        500 file:/srv/debs ./ Packages
"""


def test_status_keeps_packages_with_files_on_disk_and_points_at_the_version() -> None:
    stanzas = parse_status(STATUS)
    assert len(stanzas) == 4
    packages = installed_packages(stanzas)
    assert [(p.display, p.version) for p in packages] == [
        ("bash", "5.2.15-2+b8"),
        ("libc6:i386", "2.36-9+deb12u10"),
    ]
    bash, libc = packages
    lines = STATUS.splitlines()
    assert lines[bash.line - 1][bash.column - 1 :] == "5.2.15-2+b8"
    assert lines[libc.line - 1][libc.column - 1 :] == "2.36-9+deb12u10"
    assert stanzas[0].get("description").endswith(" More text.")
    assert stanzas[1].get("Conffiles").startswith("\n /etc/ld.so.conf.d/")


def test_policy_separates_real_sources_from_the_dpkg_status_file() -> None:
    policies = parse_policy(POLICY)
    bash = policy_for(policies, "bash", "amd64")
    assert bash.sources_of("5.2.15-2+b8") == ()
    assert bash.sources_of("5.2.15-2+b13") == (
        "http://deb.debian.org/debian bookworm/main amd64 Packages",
    )
    assert bash.offered == ("5.2.15-2+b13",)
    libc = policy_for(policies, "libc6", "i386")
    assert libc.offered == ("2.36-9+deb12u10", "2.36-9+deb12u9")
    assert libc.sources_of("2.36-9+deb12u9") == ("file:/srv/debs ./ Packages",)
    assert policy_for(policies, "libc6", "amd64").versions == {}


def test_deb_file_names_round_trip_with_an_epoch(tmp_path: Path) -> None:
    name = deb_file_name("automake", "1:1.16.5-1.3", "all")
    assert name == "automake_1%3a1.16.5-1.3_all.deb"
    assert parse_deb_file_name(name) == ("automake", "1:1.16.5-1.3", "all")
    assert parse_deb_file_name("notes.txt") is None
    assert parse_deb_file_name("odd_name.deb") is None
    (tmp_path / name).write_bytes(b"!<arch>\n")
    (tmp_path / "Packages").write_text("")
    index = scan_archives([tmp_path, tmp_path / "absent"])
    assert index.holding("automake", "1:1.16.5-1.3", "all") == (str(tmp_path / name),)
    assert index.holding("automake", "1:1.16.5-1.3", "amd64") == ()


def _fact(version: str, installed: str, sources: tuple[str, ...] = ()) -> PackageVersion:
    return PackageVersion(
        location=Location("/var/lib/dpkg/status", 6, 10),
        package="bash",
        architecture="amd64",
        version=version,
        installed_version=installed,
        sources=sources,
        archives=(),
        offered=("5.2.15-2+b13",),
    )


def test_snapshot_round_trips_with_the_position_of_each_version(tmp_path: Path) -> None:
    facts = [
        _fact("5.2.15-2+b8", "5.2.15-2+b8"),
        PackageVersion(
            Location("/var/lib/dpkg/status", 9, 10),
            "libc6:i386",
            "i386",
            "2.36-9",
            "2.36-9",
            ("http://deb.debian.org/debian bookworm/main i386 Packages",),
            (),
            ("2.36-9",),
        ),
    ]
    text = snapshot.render(facts, "amd64", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert text == snapshot.render(
        list(reversed(facts)), "amd64", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    )
    document = json.loads(text)
    assert document["taken_at"] == "2026-01-02T03:04:05Z"
    assert [p["name"] for p in document["packages"]] == ["bash", "libc6"]
    assert [p["reinstallable"] for p in document["packages"]] == [False, True]
    path = tmp_path / "snap.json"
    write_atomically(path, text)
    recorded = snapshot.read(path)
    assert [(r.name, r.architecture, r.version) for r in recorded] == [
        ("bash", "amd64", "5.2.15-2+b8"),
        ("libc6", "i386", "2.36-9"),
    ]
    lines = text.splitlines()
    for entry in recorded:
        assert lines[entry.line - 1][entry.column - 1 :] == f'"{entry.version}"'
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON (line 1"),
        ('{"packages": []}', "is not a backout host snapshot"),
        ('{"format": 1, "packages": [{"name": "bash"}]}', "lacks its name"),
    ],
)
def test_a_bad_snapshot_is_a_one_line_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "old.json"
    path.write_text(content)
    with pytest.raises(HostError, match=re.escape(message)):
        snapshot.read(path)


def test_bk501_flags_only_versions_that_cannot_be_reinstalled() -> None:
    facts = [
        _fact("5.2.15-2+b8", "5.2.15-2+b8"),
        _fact("5.2.15-2+b13", "5.2.15-2+b13", ("http://deb.debian.org/debian bookworm",)),
    ]
    result = check_facts(facts, Config(), Path("/"), files_read=1)
    assert [(f.code, str(f.location)) for f in result.findings] == [
        ("BK501", "/var/lib/dpkg/status:6:10")
    ]
    finding = result.findings[0]
    assert "`apt-get install bash=5.2.15-2+b8` fails" in finding.message
    assert "apt sources offer only 5.2.15-2+b13" in finding.message
    assert "backout host archive --archive DIR --packages bash" in finding.fix


def test_bk501_against_a_snapshot_names_the_version_you_cannot_go_back_to() -> None:
    result = check_facts([_fact("5.2.15-2+b2", "")], Config(), Path("/"), files_read=2)
    [finding] = result.findings
    assert "was 5.2.15-2+b2 when this snapshot was taken and has been removed" in finding.message


def test_bk501_respects_ignore() -> None:
    config = Config().with_overrides(ignore=("BK5",))
    assert check_facts([_fact("1", "1")], config, Path("/"), files_read=1).findings == []


def test_rebuild_copies_files_as_shipped_through_symlinked_dirs_and_diversions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host_root = tmp_path / "host"
    (host_root / "usr" / "bin").mkdir(parents=True)
    tool = host_root / "usr" / "bin" / "tool"
    tool.write_text("tool\n")
    tool.chmod(0o4755)
    (host_root / "usr" / "bin" / "alias").symlink_to("tool")
    (host_root / "usr" / "bin" / "orig.distrib").write_text("the package's own copy\n")
    (host_root / "usr" / "bin" / "orig").write_text("the diverting package's copy\n")
    # merged /usr: the package shipped bin/ as a directory; the host has a symlink there
    (host_root / "bin").symlink_to("usr/bin")
    listed = [
        PackagedFile(str(host_root / "bin"), str(host_root / "bin")),
        PackagedFile(str(host_root / "bin" / "tool"), str(host_root / "bin" / "tool")),
        PackagedFile(str(host_root / "usr"), str(host_root / "usr")),
        PackagedFile(str(host_root / "usr" / "bin"), str(host_root / "usr" / "bin")),
        PackagedFile(
            str(host_root / "usr" / "bin" / "alias"), str(host_root / "usr" / "bin" / "alias")
        ),
        PackagedFile(
            str(host_root / "usr" / "bin" / "orig"),
            str(host_root / "usr" / "bin" / "orig.distrib"),
        ),
        PackagedFile(
            str(host_root / "usr" / "bin" / "deleted"), str(host_root / "usr" / "bin" / "deleted")
        ),
    ]
    monkeypatch.setattr(archive, "package_files", lambda package: listed)
    package = installed_packages(parse_status(STATUS))[0]
    build = tmp_path / "build"
    build.mkdir()
    missing = archive._copy_installed_files(package, build)
    inside = build / str(host_root).lstrip("/")
    assert missing == {str(host_root / "usr" / "bin" / "deleted")}
    assert (inside / "bin").is_dir() and not (inside / "bin").is_symlink()
    assert (inside / "bin" / "tool").stat().st_mode & 0o7777 == 0o4755
    assert (inside / "usr" / "bin" / "alias").readlink() == Path("tool")
    assert (inside / "usr" / "bin" / "orig").read_text() == "the package's own copy\n"


def test_rebuilt_control_drops_status_fields_and_conffiles_no_longer_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stanza = parse_status(
        "Package: demo\nStatus: install ok installed\nArchitecture: all\nVersion: 1:2.0-1\n"
        "Config-Version: 1:2.0-1\nMaintainer: m <m@example.invalid>\n"
        "Conffiles:\n /etc/demo.conf 0123 \n /etc/old.conf 4567 obsolete\n /etc/gone.conf 89ab\n"
        "Description: demo\n long text\n"
    )[0]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "demo.conf").write_text("x\n")
    (tmp_path / "etc" / "old.conf").write_text("x\n")
    monkeypatch.setattr(archive, "control_files", lambda package: [])
    package = installed_packages([stanza])[0]
    archive._write_control(package, stanza, tmp_path, {"/etc/gone.conf"})
    control = (tmp_path / "DEBIAN" / "control").read_text()
    assert control == (
        "Package: demo\nArchitecture: all\nVersion: 1:2.0-1\n"
        "Maintainer: m <m@example.invalid>\nDescription: demo\n long text\n"
    )
    assert (tmp_path / "DEBIAN" / "conffiles").read_text() == "/etc/demo.conf\n"


def test_cli_usage_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    done = run_backout("host", "check", "--packages", "bsah")
    assert done.returncode == 2
    assert done.stderr == "backout: error: package 'bsah' is not installed (did you mean 'bash'?)\n"
    bad = tmp_path / "old.json"
    bad.write_text("[1, 2]")
    done = run_backout("host", "check", "--snapshot", str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not a backout host snapshot" in done.stderr
    done = run_backout("host", "check", "--snapshot", str(tmp_path / "absent.json"))
    assert done.returncode == 2 and "cannot read snapshot" in done.stderr
    done = run_backout("host", "archive", "--archive", "/proc/backout-nope", "--packages", "bash")
    assert done.returncode == 2 and "cannot create archive directory" in done.stderr


@pytest.mark.parametrize("command", ["check", "snapshot"])
def test_cli_archive_directory_that_does_not_exist_is_exit_2(tmp_path: Path, command: str) -> None:
    typo = tmp_path / "typo"
    line = one_line_error(run_backout("host", command, "--packages", "sed", "--archive", str(typo)))
    assert line == f"backout: error: --archive directory '{typo}' does not exist"
    a_file = tmp_path / "file.deb"
    a_file.write_text("")
    line = one_line_error(
        run_backout("host", command, "--packages", "sed", "--archive", str(a_file))
    )
    assert line == f"backout: error: --archive directory '{a_file}' is not a directory"


def test_cli_unknown_package_names_a_few_nearest_not_every_installed_one() -> None:
    line = one_line_error(run_backout("host", "check", "--packages", "nosuchpkg"))
    prefix = "backout: error: package 'nosuchpkg' is not installed (nearest installed: "
    assert line.startswith(prefix) and line.endswith(")")
    assert 1 <= len(line.removeprefix(prefix).split(", ")) <= 3


def test_cli_check_speaks_every_format_with_the_rule_metadata() -> None:
    done = run_backout(
        "host", "check", "--packages", "bash,dpkg", "--format", "sarif", "--exit-zero"
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["BK501"]
    validate(json.loads(done.stdout))
    for result in run["results"]:
        # An absolute path is a file:// URI, not a path below %SRCROOT%.
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": "file:///var/lib/dpkg/status"}
