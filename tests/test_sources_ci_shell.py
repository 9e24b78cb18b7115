"""The CI reader's shell: where a written file runs (``cd``), what overwrites it, ``bash -c``,
``( … )`` subshells and what ``sudo`` passes on, each case checked against bash itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from backout.plan import helm_deploy
from backout.rules.procedures.rollout_commands import RELEASE, deploy_kind, exercises_rollback
from backout.sources.ci import CiCommand, CiImageDeploy, ScriptReader
from tests.test_sources_ci import of, read

KUBECTL_STUB = '#!/bin/sh\necho "$*" >> "$KUBECTL_LOG"\n'


def bash_deploys(script: str, tmp_path: Path) -> list[tuple[str, str]]:
    """The ``kubectl set image`` commands bash runs for ``script`` (run from an empty
    workspace, kubectl a stub that logs its arguments), as ``(workload, image)``."""
    workspace, stubs = tmp_path / "workspace", tmp_path / "bin"
    workspace.mkdir(parents=True)
    stubs.mkdir()
    (stubs / "kubectl").write_text(KUBECTL_STUB)
    (stubs / "kubectl").chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.touch()
    env = {
        "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
        "KUBECTL_LOG": str(log),
        "HOME": str(tmp_path),
    }
    subprocess.run(
        ["bash", "-c", script], cwd=workspace, env=env, check=False, timeout=30, text=True
    )
    deploys = []
    for line in log.read_text().splitlines():
        words = line.split()
        if words[:2] == ["set", "image"]:
            deploys.append((words[2], words[3].partition("=")[2]))
    return deploys


def reader_deploys(script: str) -> list[tuple[str, str]]:
    facts = read("deploy.sh", script, ScriptReader())
    return [(d.workload, d.reference or "") for d in of(facts, CiImageDeploy)]


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
@pytest.mark.parametrize(
    "run",
    [
        "cd deploy && bash d.sh",
        "cd deploy; bash ./d.sh",
        "cd deploy || exit 1\nsh d.sh",
        "cd ./deploy/\nchmod +x d.sh\n./d.sh",
        "cd deploy && source d.sh",
        "cd deploy && . ./d.sh",
        "cd deploy\ncd ..\nbash deploy/d.sh",
        "cd deploy/sub/..\nbash d.sh",
        "pushd deploy >/dev/null\nbash d.sh\npopd >/dev/null\nbash deploy/d.sh",
        "(cd deploy && bash d.sh)",
        "( cd deploy; bash d.sh )",
        "cd $PWD/deploy && bash d.sh",
        'DIR=deploy\ncd "$DIR" && bash d.sh',
        # the file run is the one in the directory the shell is in, not the one written
        "cd deploy && bash deploy/d.sh",
        "(cd deploy)\nbash d.sh",
        "bash d.sh",
        "cd /\nbash d.sh",
    ],
)
def test_a_written_file_runs_where_the_shell_is_after_cd(run: str, tmp_path: Path) -> None:
    # a `cd` moved the shell, but the file run was matched by the name it was given, so
    # `cd deploy && bash d.sh` did not run deploy/d.sh (and `bash d.sh` after it ran d.sh)
    script = f"""\
mkdir -p deploy/sub
cat <<'EOF' > deploy/d.sh
kubectl set image deployment/api api=x:1
EOF
{run}
"""
    assert reader_deploys(script) == bash_deploys(script, tmp_path)


@needs_bash
def test_an_unknown_directory_runs_no_written_file(tmp_path: Path) -> None:
    # where a `cd` leads is unknown (a command's output, a `cd` that may not run), the
    # file the job runs there is not known to be the one it wrote
    script = """\
mkdir -p deploy
cat <<'EOF' > deploy/d.sh
kubectl set image deployment/api api=x:1
EOF
cd "$(ls -d deplo*)"
bash d.sh
"""
    assert bash_deploys(script, tmp_path) == [("deployment/api", "x:1")]
    assert reader_deploys(script) == []
    maybe = script.replace('cd "$(ls -d deplo*)"', '[ -n "$CD" ] && cd deploy')
    assert reader_deploys(maybe) == []
    # inside the block the shell is where its `cd` took it; after it, unknown (bash runs
    # the file again there, the reader cannot tell whether the block ran)
    block = "if true; then\n  cd deploy\n  bash d.sh\nfi\n"
    inside = script.replace('cd "$(ls -d deplo*)"\n', block)
    assert bash_deploys(inside, tmp_path / "inside") == [("deployment/api", "x:1")] * 2
    assert reader_deploys(inside) == [("deployment/api", "x:1")]


def test_a_cd_in_one_step_does_not_move_the_next() -> None:
    # each GitHub step is a shell of its own, started in its working-directory; GitLab's
    # before_script and script share one shell, after_script starts again in the project
    workflow = """\
jobs:
  deploy:
    steps:
      - run: |
          mkdir -p deploy
          cat <<'EOF' > deploy/d.sh
          kubectl set image deployment/api api=x:1
          EOF
          cd deploy
      - run: bash d.sh
      - working-directory: deploy
        run: bash d.sh
"""
    deploys = of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    assert [d.location.line for d in deploys] == [7]
    (ran,) = [c for c in of(read(".github/workflows/d.yml", workflow), CiCommand) if c.ran_at]
    assert ran.ran_at is not None and ran.ran_at.line == 12
    pipeline = """\
deploy:
  before_script:
    - |
      cat <<'EOF' > deploy/d.sh
      kubectl set image deployment/api api=x:1
      EOF
    - cd deploy
  script:
    - bash d.sh
  after_script:
    - bash d.sh
"""
    deploys = of(read(".gitlab-ci.yml", pipeline), CiImageDeploy)
    assert len(deploys) == 1


@needs_bash
@pytest.mark.parametrize(
    "replace",
    [
        "cp other.sh d.sh",
        "cp -f other.sh ./d.sh",
        "mv other.sh d.sh",
        "install -m 755 other.sh d.sh",
    ],
)
def test_a_written_file_copied_or_moved_over_no_longer_runs_its_text(
    replace: str, tmp_path: Path
) -> None:
    # Found by review: only `>`, `tee` and `rm` made the here-document's text no longer the
    # file's; `cp`/`mv` over it left the text running where the job ran the file
    script = f"""\
cat <<'EOF' > d.sh
kubectl set image deployment/api api=x:1
EOF
echo 'kubectl version' > other.sh
{replace}
bash d.sh
"""
    assert reader_deploys(script) == bash_deploys(script, tmp_path) == []
    # in another directory: the file written in the workspace keeps its text
    elsewhere = script.replace(replace, f"mkdir -p sub\ncp other.sh sub\ncd sub\n{replace}\ncd ..")
    assert reader_deploys(elsewhere) == bash_deploys(elsewhere, tmp_path / "elsewhere")
    assert reader_deploys(elsewhere) == [("deployment/api", "x:1")]


@needs_bash
def test_a_written_file_copied_or_moved_runs_its_text_where_it_goes(tmp_path: Path) -> None:
    script = """\
mkdir -p deploy
cat <<'EOF' > d.sh
kubectl set image deployment/api api=x:1
EOF
cp d.sh deploy/
mv d.sh moved.sh
bash d.sh
bash deploy/d.sh
bash moved.sh
"""
    assert (
        reader_deploys(script) == bash_deploys(script, tmp_path) == [("deployment/api", "x:1")] * 2
    )


@pytest.mark.parametrize(
    "download",
    [
        "curl -fsSL https://example.com/d.sh -o d.sh",
        "curl -fsSLo d.sh https://example.com/d.sh",
        "curl --output ./d.sh https://example.com/d.sh",
        "curl -O https://example.com/d.sh",
        "curl -fsSL --remote-name https://example.com/d.sh",
        "wget -q -O d.sh https://example.com/d.sh",
        "wget -qOd.sh https://example.com/d.sh",
        "wget --output-document=d.sh https://example.com/d.sh",
    ],
)
def test_a_written_file_downloaded_over_no_longer_runs_its_text(download: str) -> None:
    script = f"""\
cat <<'EOF' > d.sh
kubectl set image deployment/api api=x:1
EOF
{download}
bash d.sh
"""
    assert reader_deploys(script) == []
    # without -O, wget keeps the file there and saves the download as d.sh.1
    kept = script.replace(download, "wget -q https://example.com/d.sh")
    assert reader_deploys(kept) == [("deployment/api", "x:1")]
    to_stdout = script.replace(download, "curl -fsSL -o - https://example.com/d.sh")
    assert reader_deploys(to_stdout) == [("deployment/api", "x:1")]


@needs_bash
@pytest.mark.parametrize(
    "line",
    [
        'bash -c "kubectl set image deployment/api api=$IMAGE"',
        "bash -c 'kubectl set image deployment/api api=$REGISTRY/api:2'",
        "sh -ec 'kubectl set image deployment/api api=$REGISTRY/api:2'",
        "bash -o pipefail -c 'kubectl set image deployment/api api=x:3 | cat'",
        "TAG=4 bash -c 'kubectl set image deployment/api api=x:$TAG'",
        """bash -c "sh -c 'kubectl set image deployment/api api=$IMAGE'" """,
        """bash -c 'sh -c "kubectl set image deployment/api api=\\$REGISTRY/x:5"'""",
        "bash -c 'cd deploy && ./d.sh'",
        "sh -c 'bash deploy/d.sh'",
        "bash -c 'source deploy/d.sh; kubectl set image deployment/after after=x:$AFTER'",
        "(kubectl set image deployment/api api=x:6)",
        "( cd deploy && bash d.sh )",
        "(cd deploy; (bash d.sh))",
        "{ kubectl set image deployment/api api=x:7; }",
        # no command: bash reads none
        "bash -c",
        "bash -c ''",
    ],
)
def test_the_commands_of_bash_c_and_of_a_subshell_run(line: str, tmp_path: Path) -> None:
    # Found by review: `bash -c "…"` and `( … )` were one command each, `bash` with a word
    # and `(kubectl` (or `x:6)`), so the deploys they run were not read
    script = f"""\
IMAGE=x:1
export REGISTRY=ghcr.io/acme
mkdir -p deploy
cat <<'EOF' > deploy/d.sh
AFTER=8
kubectl set image deployment/written written=$REGISTRY/written:1
EOF
chmod +x deploy/d.sh
{line}
"""
    assert reader_deploys(script) == bash_deploys(script, tmp_path)


def test_a_bash_c_line_gives_the_command_it_runs_where_it_is_written() -> None:
    script = """\
sudo -u deploy bash -ec "helm upgrade shop ./chart -n shop --history-max 3"
bash -c 'unterminated
bash -c "kubectl set image deployment/api api=x:\\"$(cat tag)\\""
"""
    facts = read("deploy.sh", script, ScriptReader())
    commands = [(c.command, c.location.line, c.location.column) for c in of(facts, CiCommand)]
    assert commands == [
        ('sudo -u deploy bash -ec "helm upgrade shop ./chart -n shop --history-max 3"', 1, 1),
        ("helm upgrade shop ./chart -n shop --history-max 3", 1, 26),
        ("bash -c 'unterminated", 2, 1),
        ("unterminated", 2, 10),
        ('bash -c "kubectl set image deployment/api api=x:\\"$(cat tag)\\""', 3, 1),
        ('kubectl set image deployment/api api=x:"$(cat tag)"', 3, 10),
    ]
    # `backout plan` reads the release the -c word's line deploys
    deploys = [helm_deploy(c.command) for c in of(facts, CiCommand) if c.runs]
    assert [(d.release, d.namespace) for d in deploys if d is not None] == [("shop", "shop")]
    (history,) = [f for f in facts if type(f).__name__ == "HelmHistoryMax"]
    assert (history.value, history.location.line, history.location.column) == (3, 1, 74)
    (deploy,) = of(facts, CiImageDeploy)
    assert deploy.reference == "x:$(cat tag)"
    # in single quotes, the shell -c starts expands: IMAGE is not exported, so it has none
    quoted = "IMAGE=x:1\nbash -c 'kubectl set image deployment/api api=$IMAGE'\n"
    assert reader_deploys(quoted) == [("deployment/api", "$IMAGE:latest")]


@pytest.mark.parametrize(
    "line",
    [
        'bash -c "helm rollback shop 1"',
        "sudo -u deploy bash -ec 'helm rollback shop 1'",
        "sudo -E bash -c 'cd chart && helm rollback shop 1'",
        "(helm rollback shop 1)",
        "( cd chart && helm rollback shop 1 )",
        "timeout 300 helm rollback shop 1",
        "env -i PATH=/usr/bin helm rollback shop 1",
    ],
)
def test_a_rollback_through_a_shell_or_a_wrapper_counts(line: str) -> None:
    assert exercises_rollback(line)
    assert deploy_kind(line.replace("rollback shop 1", "upgrade shop ./chart")) == RELEASE


def test_sudo_keeps_none_of_the_shell_s_variables_unless_told() -> None:
    # sudoers' env_reset is on unless /etc/sudoers turns it off (`man sudoers`, "Command
    # environment"): the command sudo starts sees none of the exported variables unless
    # -E/--preserve-env keeps them (allowed where the command matched is ALL, which implies
    # SETENV, as on hosted CI runners), or they are set after sudo (`sudo TAG=3 …`); `env
    # -i` starts with none. Found by review: `sudo bash d.sh` ran d.sh with the shell's.
    script = """\
export REGISTRY=ghcr.io/acme TAG=1
cat <<'EOF' > d.sh
kubectl set image deployment/api api=$REGISTRY/api:$TAG
EOF
sudo bash d.sh
sudo -E bash d.sh
sudo --preserve-env bash d.sh
sudo --preserve-env=TAG bash d.sh
TAG=2 sudo bash d.sh
TAG=2 sudo -E bash d.sh
sudo TAG=3 bash d.sh
sudo -u deploy -E bash d.sh
env -i TAG=4 bash d.sh
env -u TAG bash d.sh
sudo bash -c 'kubectl set image deployment/api api=$REGISTRY/api:$TAG'
sudo -E bash -c 'kubectl set image deployment/api api=$REGISTRY/api:$TAG'
sudo bash -c "kubectl set image deployment/api api=$REGISTRY/api:$TAG"
"""
    assert [reference for _, reference in reader_deploys(script)] == [
        "$REGISTRY/api:$TAG",
        "ghcr.io/acme/api:1",
        "ghcr.io/acme/api:1",
        "$REGISTRY/api:1",
        "$REGISTRY/api:$TAG",
        "ghcr.io/acme/api:2",
        "$REGISTRY/api:3",
        "ghcr.io/acme/api:1",
        "$REGISTRY/api:4",
        "ghcr.io/acme/api:$TAG",
        "$REGISTRY/api:$TAG",
        "ghcr.io/acme/api:1",
        "ghcr.io/acme/api:1",  # in double quotes: this shell's, before sudo runs
    ]


@needs_bash
def test_what_a_child_sees_of_the_shell_s_variables_as_bash_runs_it(tmp_path: Path) -> None:
    # a variable the reader leaves unknown in the child (`$TAG` kept) is one bash's child
    # does not have (empty), and a known one has the value bash's child sees
    script = """\
export REGISTRY=ghcr.io/acme TAG=1
IMAGE=x:1
cat <<'EOF' > d.sh
kubectl set image deployment/api api=$REGISTRY/api:$TAG
kubectl set image deployment/image image=$IMAGE
EOF
env -i PATH="$PATH" KUBECTL_LOG="$KUBECTL_LOG" TAG=4 bash d.sh
env -u TAG bash d.sh
env - PATH="$PATH" KUBECTL_LOG="$KUBECTL_LOG" bash d.sh
TAG=2 IMAGE=x:2 bash d.sh
bash -c 'kubectl set image deployment/c c=$REGISTRY/c:$TAG-$IMAGE'
IMAGE=x:3 bash -c 'kubectl set image deployment/c c=$REGISTRY/c:$TAG-$IMAGE'
"""
    read = [
        (w, re.sub(r"\$[A-Z]+", "", r).removesuffix(":latest")) for w, r in reader_deploys(script)
    ]
    assert read == bash_deploys(script, tmp_path)


WRITTEN_HERE_AND_IN_DEPLOY = """\
mkdir -p deploy
cat <<'EOF' > deploy/d.sh
kubectl set image deployment/api api=x:1
EOF
cat <<'EOF' > d.sh
kubectl set image deployment/top top=x:2
EOF
"""


@needs_bash
@pytest.mark.parametrize(
    "run",
    [
        "(cd deploy && bash d.sh) > log.txt\nbash d.sh",
        "(cd deploy; bash d.sh) 2>&1\nbash d.sh",
        "(cd deploy; bash d.sh) >> log.txt 2>&1; bash d.sh",
        "( cd deploy && bash d.sh )>log.txt\nbash d.sh",
        "(cd deploy && bash d.sh) 2>/dev/null < /dev/null\nbash d.sh",
        "(cd deploy && (bash d.sh) > inner.txt && bash d.sh) > log.txt\nbash d.sh",
    ],
)
def test_a_subshell_s_cd_ends_at_its_parenthesis_before_a_redirection(
    run: str, tmp_path: Path
) -> None:
    # Found by review: a `)` followed by a redirection was not the subshell's end, so the
    # command before it was read as `bash d.sh)` (no file run) and the `cd` held after it
    script = WRITTEN_HERE_AND_IN_DEPLOY + run + "\n"
    assert reader_deploys(script) == bash_deploys(script, tmp_path)


@needs_bash
@pytest.mark.parametrize(
    "run",
    ["cd deploy &>/dev/null && bash d.sh", "cd deploy &>>log.txt; bash d.sh\nbash d.sh"],
)
def test_bash_s_and_redirection_is_no_background_command(run: str, tmp_path: Path) -> None:
    # `&>log` sends both streams to log: read as `&` then `>log`, the cd went to the
    # background (a subshell) and the commands after it were read in the outer directory
    script = WRITTEN_HERE_AND_IN_DEPLOY + run + "\n"
    assert reader_deploys(script) == bash_deploys(script, tmp_path)


def test_the_command_a_redirected_subshell_ends_with_is_read_without_its_parenthesis() -> None:
    script = "(cd deploy && helm upgrade app ./chart --set image.tag=2 --history-max 3) > log\n"
    facts = read("deploy.sh", script, ScriptReader())
    assert [d.tag for d in of(facts, CiImageDeploy)] == ["2"]
    (history,) = [f for f in facts if type(f).__name__ == "HelmHistoryMax"]
    assert history.value == 3


@needs_bash
@pytest.mark.parametrize(
    "arm",
    [
        "case prod in prod) cd deploy; bash d.sh ;; esac",
        "case prod in prod) cd deploy && bash d.sh ;; staging) cd /tmp ;; esac",
        "case prod in\n  prod) cd deploy; bash d.sh ;;\nesac",
        'case "prod" in\n  "prod") cd deploy\n    bash d.sh\n    ;;\nesac',
        "case prod in\n  prod)\n    cd deploy\n    bash d.sh\n    ;;\nesac",
        "case prod in\n  staging) ;;\n  *) cd deploy; bash d.sh ;;\nesac",
        "case prod in\n  prod|staging) cd deploy; bash d.sh ;;\nesac",
        "case prod in staging|prod) cd deploy && bash d.sh ;; esac",
    ],
)
def test_a_cd_in_a_case_arm_holds_in_the_arm_and_leaves_the_directory_unknown_after_it(
    arm: str, tmp_path: Path
) -> None:
    # Found by review: `prod) cd deploy ;;` and `case … in prod) cd deploy` were read as
    # no `cd`, so the shell stayed where it was after `esac`. As for an `if`, the arm's
    # `cd` holds in the arm; after `esac` where the shell is is unknown (which arm ran is)
    script = f"{WRITTEN_HERE_AND_IN_DEPLOY}{arm}\nbash d.sh\n"
    assert bash_deploys(script, tmp_path) == [("deployment/api", "x:1")] * 2
    assert reader_deploys(script) == [("deployment/api", "x:1")]


@pytest.mark.parametrize(
    "sudo",
    [
        "sudo -HE",
        "sudo -Eu deploy",
        "sudo -Eudeploy",
        "sudo -nEg ops -u deploy",
        "sudo -u deploy",
        "sudo -E -u deploy --",
        "sudo -HEu deploy env TAG=1",
        "sudo --user deploy --chdir /tmp -E",
    ],
)
def test_the_command_after_sudo_s_options_is_read(sudo: str) -> None:
    # Found by review: sudo's options were dropped one word each, so in `sudo -Eu deploy`
    # `deploy` was the program; and a deploy after sudo's options was not read at all
    script = f"""\
cat <<'EOF' > d.sh
kubectl set image deployment/written written=x:2
EOF
{sudo} kubectl set image deployment/api api=x:1
{sudo} bash d.sh
"""
    assert reader_deploys(script) == [
        ("deployment/api", "x:1"),
        ("deployment/written", "x:2"),
    ]
    helm = f"{sudo} helm upgrade app ./chart --history-max 3\n"
    facts = read("d.sh", helm, ScriptReader())
    (history,) = [f for f in facts if type(f).__name__ == "HelmHistoryMax"]
    assert history.value == 3
    assert exercises_rollback(f"{sudo} helm rollback shop 1")
