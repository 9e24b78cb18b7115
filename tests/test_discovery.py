"""Discovery: gitignore and exclude respected, base releases read from git or a directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from backout.config import ConfigError
from backout.discovery import (
    changed_paths,
    directory_changes,
    git_tree,
    resolve_base_ref,
    working_tree,
)
from tests.conftest import git


def test_git_work_tree_respects_gitignore_and_includes_untracked(
    git_repo: Callable[[dict[str, str]], Path],
) -> None:
    repo = git_repo({".gitignore": "build/\n*.log\n", "k8s/app.yaml": "a: 1\n"})
    (repo / "build").mkdir()
    (repo / "build" / "out.yaml").write_text("x: 1\n")
    (repo / "debug.log").write_text("log\n")
    (repo / "new.yaml").write_text("n: 1\n")
    tree = working_tree(repo, exclude=["k8s/"])
    assert tree.paths == (".gitignore", "new.yaml")


def test_plain_directory_walk_applies_root_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("secret/\n")
    for name in ("secret/a.yaml", "node_modules/x/y.yaml", "app/b.yaml", "app/c.tmp"):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("a: 1\n")
    tree = working_tree(tmp_path, exclude=["*.tmp"])
    assert tree.paths == (".gitignore", "app/b.yaml")


def test_plain_directory_walk_skips_tool_directories_at_any_depth(tmp_path: Path) -> None:
    for name in ("app/node_modules/x.yaml", "svc/.venv/y.yaml", "__pycache__/z.yaml", "k.yaml"):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("a: 1\n")
    assert working_tree(tmp_path).paths == ("k.yaml",)


@pytest.mark.parametrize("in_git", [False, True])
def test_virtual_environments_are_skipped_whatever_their_name(tmp_path: Path, in_git: bool) -> None:
    """A virtualenv not named venv/.venv and not gitignored holds other projects' migrations
    (site-packages/django/contrib/auth/migrations): its pyvenv.cfg marks it."""
    files = {
        "py311/pyvenv.cfg": "home = /usr/bin\n",
        "py311/lib/python3.11/site-packages/django/contrib/auth/migrations/0002_x.py": "x = 1\n",
        "app/migrations/0001_initial.py": "x = 1\n",
        "app/pyvenv.cfg.example": "not a marker\n",
    }
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if in_git:
        git(tmp_path, "init", "-q")
    assert working_tree(tmp_path).paths == (
        "app/migrations/0001_initial.py",
        "app/pyvenv.cfg.example",
    )


def test_plain_directory_walk_keeps_regular_files_only(tmp_path: Path) -> None:
    # Reading a FIFO blocks and reading /dev/zero never ends: neither is a release file.
    (tmp_path / "app.yaml").write_text("a: 1\n")
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "linked.yaml").symlink_to(tmp_path / "app.yaml")
    tree = working_tree(tmp_path)
    # linked.yaml is app.yaml again: read once, under its own path.
    assert tree.paths == ("app.yaml",)
    assert [path for path, _ in tree.read_all()] == ["app.yaml"]


def test_base_release_is_read_from_git_at_the_merge_base(
    git_repo: Callable[[dict[str, str]], Path],
) -> None:
    repo = git_repo({"svc/k8s/app.yaml": "image: app:1\n", "svc/Dockerfile": "FROM x:1\n"})
    git(repo, "checkout", "-q", "-b", "feature")
    git_repo({"svc/k8s/app.yaml": "image: app:2\n", "svc/new.yaml": "a: 1\n"})
    root = repo / "svc"
    commit = resolve_base_ref(root, "main")
    tree = git_tree(root, commit)
    assert tree.paths == ("Dockerfile", "k8s/app.yaml")
    assert dict(tree.read_all()) == {"Dockerfile": b"FROM x:1\n", "k8s/app.yaml": b"image: app:1\n"}
    (root / "untracked.yaml").write_text("u: 1\n")
    assert changed_paths(root, commit) == {"k8s/app.yaml", "new.yaml", "untracked.yaml"}


def test_unknown_ref_is_a_config_error(git_repo: Callable[[dict[str, str]], Path]) -> None:
    repo = git_repo({"a.yaml": "a: 1\n"})
    with pytest.raises(
        ConfigError,
        match="--base no-such-branch: no such directory, and no such commit, branch or tag",
    ):
        resolve_base_ref(repo, "no-such-branch")


def test_directory_base_counts_new_and_different_files(tmp_path: Path) -> None:
    head, base = tmp_path / "head", tmp_path / "base"
    for root, files in (
        (head, {"same.yaml": "a", "changed.yaml": "new", "added.yaml": "x"}),
        (base, {"same.yaml": "a", "changed.yaml": "old", "gone.yaml": "y"}),
    ):
        root.mkdir()
        for name, text in files.items():
            (root / name).write_text(text)
    assert directory_changes(working_tree(head), working_tree(base)) == {
        "changed.yaml",
        "added.yaml",
        "gone.yaml",
    }


def test_a_symlink_to_a_checked_file_is_not_read_twice(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "deploy.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real" / "deploy.yaml")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("b: 1\n")
    (tmp_path / "external.yaml").symlink_to(outside)
    assert working_tree(tmp_path).paths == ("external.yaml", "real/deploy.yaml")


def test_base_ref_outside_git_says_what_base_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not a directory, and .* is not in a git repository"):
        resolve_base_ref(tmp_path, "v1.2")


def test_working_files_read_whole_whatever_their_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backout import discovery

    monkeypatch.setattr(discovery, "MAX_FILE_BYTES", 300_000)
    first = discovery._FIRST_READ
    sizes = {
        "empty": 0,
        "small.yaml": 10,
        "one_short.txt": first - 1,
        "exactly_first.txt": first,
        "one_more.txt": first + 1,
        "sub/large.txt": 250_000,
        "at_limit.txt": 300_000,
        "too_large.txt": 300_001,
    }
    for name, size in sizes.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(bytes(i % 251 for i in range(size)))
    (tmp_path / "linked.txt").symlink_to(tmp_path / "small.yaml")
    paths = [*sizes, "linked.txt", "gone.txt"]
    read = dict(discovery.read_working_files(str(tmp_path), paths))
    assert list(read) == [*sizes, "linked.txt"]  # in order; the missing file left out
    for name, size in sizes.items():
        expected = None if size > 300_000 else (tmp_path / name).read_bytes()
        assert read[name] == expected, name
    assert read["linked.txt"] == (tmp_path / "small.yaml").read_bytes()


def test_working_files_without_a_root_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backout import discovery

    (tmp_path / "a.yaml").write_text("a: 1\n")
    monkeypatch.setattr(discovery, "_OPEN_AT", False)
    assert list(discovery.read_working_files(str(tmp_path), ["a.yaml", "b.yaml"])) == [
        ("a.yaml", b"a: 1\n")
    ]
