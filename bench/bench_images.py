"""Benchmark: `backout check` vs `checkov -d` on generated Kubernetes trees.

Generates Deployments, StatefulSets and DaemonSets (~25 lines each, 10 documents a file), then
times, each as a whole command from process start to exit, best of N runs:

- backout and checkov on the same 2,000-document tree (200 files);
- backout alone on a 20,000-document tree (2,000 files).

checkov runs from its own virtual environment (``bench/.venv-checkov``; create it with
``python3 -m venv bench/.venv-checkov && bench/.venv-checkov/bin/pip install checkov``), so
its dependencies never mix with backout's. backout runs ``check --select BK1 --format json``
(the image rules, the ground checkov's Kubernetes checks share). Both tools run from cached
bytecode, as installed, after one warm-up run each. Results are printed as a Markdown table;
copy them into docs/benchmarks.md with the machine's description.

Usage: ``python bench/bench_images.py [--runs 3] [--checkov-runs 1] [--out DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import backout_command, machine, python_env

KINDS = ("Deployment", "StatefulSet", "DaemonSet")
TAGS = ("latest", "1.4.2", "", "2.0@sha256:" + "ab" * 32)


def document(index: int) -> str:
    """One ~25-line workload; every fourth image is unpinned in a different way."""
    kind = KINDS[index % len(KINDS)]
    tag = TAGS[index % len(TAGS)]
    image = f"registry.example.com/team/app{index}" + (f":{tag}" if tag else "")
    extra = "  serviceName: svc\n" if kind == "StatefulSet" else ""
    return (
        "apiVersion: apps/v1\n"
        f"kind: {kind}\n"
        "metadata:\n"
        f"  name: app-{index}\n"
        "  namespace: bench\n"
        "  labels:\n"
        f"    app: app-{index}\n"
        "spec:\n"
        f"{extra}"
        "  revisionHistoryLimit: 3\n"
        "  selector:\n"
        "    matchLabels:\n"
        f"      app: app-{index}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        f"        app: app-{index}\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: main\n"
        f"          image: {image}\n"
        "          ports:\n"
        "            - containerPort: 8080\n"
        "          resources:\n"
        "            limits: {cpu: 500m, memory: 256Mi}\n"
    )


def generate(root: Path, documents: int, per_file: int = 10) -> Path:
    """Write ``documents`` workloads under ``root`` (recreated), ``per_file`` to a file."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for start in range(0, documents, per_file):
        folder = root / f"team{start // 1000:03d}"
        folder.mkdir(exist_ok=True)
        docs = [document(i) for i in range(start, min(start + per_file, documents))]
        (folder / f"workloads-{start:06d}.yaml").write_text("---\n".join(docs))
    return root


def best_of(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, int]:
    """The fastest wall time of ``runs`` runs, and the last exit code."""
    times = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code not in (0, 1):
            sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
            raise SystemExit(f"{command[0]} failed with exit {code}")
    return min(times), code


def main() -> None:
    """Generate the trees, run both tools, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkov-runs", type=int, default=1)
    # Outside the repository: a tree inside it would be skipped as git-ignored.
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "backout-bench")
    args = parser.parse_args()

    # Both tools are Python programs: both run from cached bytecode, as installed.
    env = python_env(args.out.resolve() / "pycache")
    backout = [
        backout_command(),
        "check",
        "--select",
        "BK1",
        "--format",
        "json",
        "-o",
        os.devnull,
    ]
    checkov_bin = Path(__file__).parent / ".venv-checkov" / "bin" / "checkov"

    shared = generate(args.out / "k8s-2000", 2_000)
    large = generate(args.out / "k8s-20000", 20_000)

    # Warm-up: writes the bytecode caches and brings the trees into the page cache.
    best_of([*backout, str(shared)], 1, env)
    backout_shared, _ = best_of([*backout, str(shared)], args.runs, env)
    backout_large, _ = best_of([*backout, str(large)], args.runs, env)
    rows = [
        ("backout check", "2,000", f"{backout_shared:.2f} s"),
        ("backout check", "20,000", f"{backout_large:.2f} s"),
    ]
    if checkov_bin.exists():
        checkov = [
            str(checkov_bin),
            *("-d", str(shared), "--framework", "kubernetes"),
            *("--quiet", "--compact", "-o", "json"),
        ]
        best_of(checkov, 1, env)  # warm-up: checkov's bytecode cache, as for backout
        checkov_shared, _ = best_of(checkov, args.checkov_runs, env)
        rows.insert(1, ("checkov -d", "2,000", f"{checkov_shared:.2f} s"))
        ratio = checkov_shared / backout_shared
        rows.append(("ratio checkov / backout", "2,000", f"{ratio:.0f}x"))
    else:
        print(f"(checkov not found at {checkov_bin}; skipped)", file=sys.stderr)

    print(f"Machine: {machine()}\n")
    print("| command | documents | best wall time |")
    print("|---|---|---|")
    for name, docs, value in rows:
        print(f"| {name} | {docs} | {value} |")


if __name__ == "__main__":
    main()
