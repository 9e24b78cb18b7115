"""Time the CI reader's shell reading on one long GitHub ``run:`` block of mixed commands.

The block repeats a pattern of assignments, pushes, a deploy in an ``if``, ``$GITHUB_ENV``
writes, here-documents (a file written and run, text fed to ``bash -s`` and to ``python -``),
arithmetic ``<<`` and comments, to ``--lines`` lines (23,000 by default, the size that
showed a slowdown). Prints the best of ``--runs`` CPU times and the time per line.

Usage: ``python bench/bench_ci_shell.py [--lines 23000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import time

from backout.sources.base import SourceFile
from backout.sources.ci import CiReader

PATTERN = [
    "export APP=orders",
    "TAG=$(git rev-parse --short HEAD)",
    "docker build -t $REGISTRY/$APP:$TAG .",
    "docker push $REGISTRY/$APP:$TAG",
    'if [ "$BRANCH" = main ]; then',
    "  kubectl -n shop set image deployment/$APP app=$REGISTRY/$APP:$TAG",
    "fi",
    'echo "IMAGE=$REGISTRY/$APP:$TAG" >> "$GITHUB_ENV"',
    "cat <<EOF > values.yaml",
    "image: $REGISTRY/$APP",
    "tag: $TAG",
    "EOF",
    "helm upgrade --install shop ./chart -f values.yaml --history-max 5 --set image.tag=$TAG",
    "for f in a b c; do echo $f | tr a-z A-Z; done",
    "bash -s <<EOF",
    "kubectl rollout restart deployment/web -n shop",
    "EOF",
    'x=$((1<<4)) && echo "$x" > /tmp/out.txt',
    "curl -sSf https://example.com/health || exit 1",
    "# a comment line",
    'python - <<"PY"',
    'print("hello <<world>>")',
    "PY",
    "cat <<'EOF' > restart.sh",
    "kubectl rollout restart deployment/$APP -n shop",
    "EOF",
    "bash restart.sh",
]


def workflow(lines: int) -> str:
    """A workflow whose one step runs ``lines`` shell lines (whole patterns)."""
    head = ["on: push", "env:", "  REGISTRY: ghcr.io/acme", "jobs:", "  deploy:"]
    head += ["    runs-on: ubuntu-latest", "    steps:", "      - run: |"]
    body = [f"          {PATTERN[i % len(PATTERN)]}" for i in range(lines)]
    return "\n".join(head + body) + "\n"


def main() -> None:
    """Print the best CPU time of reading the workflow, in all and per line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=23000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    data = workflow(options.lines).encode()
    best = float("inf")
    for _ in range(options.runs):
        file = SourceFile(".github/workflows/big.yml", data)
        started = time.process_time()
        facts = list(CiReader().read(file))
        best = min(best, time.process_time() - started)
    per_line = best / options.lines * 1e6
    print(f"{options.lines} lines, {len(facts)} facts: best {best:.2f} s, {per_line:.0f} µs a line")


if __name__ == "__main__":
    main()
