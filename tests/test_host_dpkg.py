"""``backout host`` against the machine's real dpkg and apt (needs root: it installs packages).

Each test builds tiny ``.deb`` files with ``dpkg-deb`` under a unique name, installs them, runs
the real CLI, and purges them again whatever happens. Outside CI a non-root run skips these;
in CI (``CI=true``) it fails, so that a CI without root cannot pass them silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backout.host.archive import packages_index
from tests.conftest import run_backout

pytestmark = pytest.mark.root

# apt and dpkg take one lock; tests running in parallel wait for it instead of failing.
APT_GET = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


def _require_root() -> None:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("root")
    reasons += [tool for tool in ("dpkg-deb", "apt-get", "apt-cache") if not shutil.which(tool)]
    if reasons:
        message = "backout host tests need " + ", ".join(reasons)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C", **(env or {})},
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def package_name() -> Iterator[str]:
    """A unique test package name, purged after the test whatever happened."""
    _require_root()
    name = f"backout-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        subprocess.run(
            [*APT_GET, "purge", name], capture_output=True, check=False, env={**os.environ}
        )
        assert not _installed_version(name), f"could not purge {name}"


def _installed_version(name: str) -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = done.stdout.split()
    return parts[3] if done.returncode == 0 and parts[2:3] == ["installed"] else ""


def build_deb(workdir: Path, name: str, version: str) -> Path:
    """A tiny package with a data file, a conffile and a postinst script."""
    root = workdir / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nSection: misc\n"
        "Priority: optional\nMaintainer: backout tests <tests@example.invalid>\n"
        f"Description: backout test package\n Built by {__name__}; safe to purge.\n"
    )
    (root / "DEBIAN" / "conffiles").write_text(f"/etc/{name}.conf\n")
    postinst = root / "DEBIAN" / "postinst"
    postinst.write_text(f"#!/bin/sh\nset -e\n# {name} {version} postinst\nexit 0\n")
    postinst.chmod(0o755)
    (root / "etc").mkdir()
    (root / "etc" / f"{name}.conf").write_text(f"setting = {version}\n")
    data = root / "usr" / "share" / name
    data.mkdir(parents=True)
    (data / "data.txt").write_text(f"{name} {version}\n")
    (data / "link").symlink_to("data.txt")
    deb = workdir / f"{name}_{version}_all.deb"
    _run("dpkg-deb", "--root-owner-group", "--build", str(root), str(deb))
    return deb


def _install(deb: Path, env: dict[str, str] | None = None) -> None:
    _run(*APT_GET, "install", "--allow-downgrades", str(deb.resolve()), env=env)


def _findings(stdout: str) -> list[dict[str, object]]:
    findings = json.loads(stdout)["findings"]
    assert isinstance(findings, list)
    return findings


def _location(finding: dict[str, object]) -> tuple[str, int]:
    path, line = finding["path"], finding["line"]
    assert isinstance(path, str) and isinstance(line, int)
    return path, line


def test_a_one_off_deb_is_flagged_archived_removed_and_reinstalled(
    package_name: str, tmp_path: Path
) -> None:
    name = package_name
    _install(build_deb(tmp_path, name, "1.0-1"))
    assert _installed_version(name) == "1.0-1"

    # Installed from a file: no source offers it, no archive holds it.
    done = run_backout("host", "check", "--packages", name, "--format", "json")
    assert done.returncode == 1, done.stderr
    [finding] = _findings(done.stdout)
    assert finding["code"] == "BK501"
    path, line = _location(finding)
    assert path == "/var/lib/dpkg/status"
    assert Path(path).read_text().splitlines()[line - 1] == "Version: 1.0-1"

    snap = tmp_path / "before.json"
    done = run_backout("host", "snapshot", "--packages", name, "-o", str(snap))
    assert done.returncode == 0, done.stderr
    [recorded] = json.loads(snap.read_text())["packages"]
    assert recorded == {
        "architecture": "all",
        "archives": [],
        "name": name,
        "reinstallable": False,
        "sources": [],
        "version": "1.0-1",
    }

    # Archive it: rebuilt from the installed files, conffile and script included.
    archive = tmp_path / "debs"
    done = run_backout("host", "archive", "--archive", str(archive), "--packages", name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilt" in done.stderr
    kept = archive / f"{name}_1.0-1_all.deb"
    assert sorted(p.name for p in archive.iterdir()) == ["Packages", kept.name]
    assert f"Package: {name}\n" in (archive / "Packages").read_text()
    assert _run("dpkg-deb", "--field", str(kept), "Version").strip() == "1.0-1"
    contents = _run("dpkg-deb", "--contents", str(kept))
    assert f"./usr/share/{name}/data.txt" in contents
    assert f"./usr/share/{name}/link -> data.txt" in contents
    assert _run("dpkg-deb", "--info", str(kept), "conffiles").strip() == f"/etc/{name}.conf"
    assert f"# {name} 1.0-1 postinst" in _run("dpkg-deb", "--info", str(kept), "postinst")
    assert "Status" not in _run("dpkg-deb", "--field", str(kept))

    # Idempotent: a second run keeps the file as it is.
    stamp = kept.stat().st_mtime_ns
    done = run_backout("host", "archive", "--archive", str(archive), "--packages", name)
    assert done.returncode == 0 and "kept" in done.stderr
    assert kept.stat().st_mtime_ns == stamp

    done = run_backout("host", "check", "--packages", name, "--archive", str(archive))
    assert done.returncode == 0, done.stdout

    # Remove it: the snapshot now names a version you could not go back to without the archive.
    _run(*APT_GET, "remove", name)
    done = run_backout("host", "check", "--snapshot", str(snap), "--format", "concise")
    assert done.returncode == 1
    assert f"{snap}:" in done.stdout and "has been removed" in done.stdout
    done = run_backout("host", "check", "--snapshot", str(snap), "--archive", str(archive))
    assert done.returncode == 0, done.stdout

    # And the archived .deb brings exactly that version back.
    _install(kept)
    assert _installed_version(name) == "1.0-1"
    assert Path(f"/usr/share/{name}/data.txt").read_text() == f"{name} 1.0-1\n"
    assert Path(f"/etc/{name}.conf").read_text() == "setting = 1.0-1\n"


def _local_apt(tmp_path: Path, repo: Path) -> dict[str, str]:
    """An apt configuration whose only source is the flat repository ``repo``."""
    state = tmp_path / "apt"
    for folder in ("lists/partial", "cache/archives/partial", "sources.list.d"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")
    conf = state / "apt.conf"
    conf.write_text(
        f'Dir::Etc::SourceList "{state}/sources.list";\n'
        f'Dir::Etc::SourceParts "{state}/sources.list.d";\n'
        f'Dir::State::Lists "{state}/lists";\n'
        f'Dir::Cache "{state}/cache";\n'
        f'Dir::Cache::archives "{state}/cache/archives";\n'
        'APT::Sandbox::User "root";\n'
    )
    return {"APT_CONFIG": str(conf)}


def _publish(repo: Path, env: dict[str, str]) -> None:
    (repo / "Packages").write_text(packages_index(repo))
    _run("apt-get", "-q", "update", env=env)


def test_a_version_a_source_offers_is_downloaded_and_an_upgrade_is_judged(
    package_name: str, tmp_path: Path
) -> None:
    name = package_name
    repo = tmp_path / "repo"
    repo.mkdir()
    old = build_deb(tmp_path, name, "1.0-1")
    shutil.copy2(old, repo / old.name)
    env = _local_apt(tmp_path, repo)
    _publish(repo, env)
    _install(old, env)

    done = run_backout("host", "check", "--packages", name, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    snap = tmp_path / "before.json"
    assert run_backout("host", "snapshot", "-o", str(snap), env=env).returncode == 0
    [recorded] = [p for p in json.loads(snap.read_text())["packages"] if p["name"] == name]
    assert recorded["reinstallable"] is True
    assert recorded["sources"] == [f"file:{repo} ./ Packages"]

    archive = tmp_path / "debs"
    done = run_backout("host", "archive", "--archive", str(archive), "--packages", name, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "downloaded" in done.stderr
    kept = archive / old.name
    assert hashlib.sha256(kept.read_bytes()).digest() == hashlib.sha256(old.read_bytes()).digest()

    # Upgrade; the old version is still in the source, so going back works.
    _install(build_deb(tmp_path, name, "2.0-1"), env)
    assert _installed_version(name) == "2.0-1"
    done = run_backout("host", "check", "--snapshot", str(snap), "--packages", name, env=env)
    assert done.returncode == 0, done.stdout

    # The source drops 1.0-1: only the archive still has it.
    (repo / old.name).unlink()
    _publish(repo, env)
    done = run_backout(
        "host", "check", "--snapshot", str(snap), "--packages", name, "--format", "json", env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = _findings(done.stdout)
    path, line = _location(finding)
    assert path == str(snap)
    assert snap.read_text().splitlines()[line - 1].strip() == '"version": "1.0-1"'
    assert "is now 2.0-1" in str(finding["message"])
    done = run_backout(
        "host",
        "check",
        "--snapshot",
        str(snap),
        "--packages",
        name,
        "--archive",
        str(archive),
        env=env,
    )
    assert done.returncode == 0, done.stdout
