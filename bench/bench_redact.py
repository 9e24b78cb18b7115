"""Benchmark: masking credentials, in process (CPU time).

Times ``redact.SECRET_NAME`` on a few names (best of 7 × 1,000) and
``redact.continued_secret_spans``, the ``full`` format's scan of a file it quotes, on generated
files of 100,000, 200,000 and 400,000 lines (best of 3):

- YAML: a Deployment with four env entries (one a flow mapping) and a ConfigMap with a
  ``password: |`` block, repeated;
- JSON: an ECS task definition (``environment`` entries over lines and on one line, a
  ``secrets`` entry), repeated: every 16 lines hold a credential's entry, a worst case.

To compare two versions, run it with each one's sources first on the path:
``PYTHONPATH=../other/src python bench/bench_redact.py``. Results are printed as a Markdown
table; copy them into docs/benchmarks.md with the machine's description.

Usage: ``python bench/bench_redact.py``
"""

from __future__ import annotations

import time
import timeit

from common import machine

from backout import redact

NAMES = (
    "X" * 200 + "_PASSWORD_" + "Y" * 200,
    "X" * 200 + "_SORT_KEY_" + "Y" * 200,
    "spring.datasource.password",
    "stripekey",
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
)

YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: shop/api:1.0
          env:
            - name: DB_PASSWORD
              value: hunter2
            - name: MODE
              value: prod
            - {name: API_TOKEN, value: t0ken}
            - name: LOG
              value: info
---
kind: ConfigMap
data:
  password: |
    line1
    line2
  other: x
"""

JSON = """\
{
  "family": "api",
  "containerDefinitions": [
    {
      "name": "api",
      "image": "shop/api:1.0",
      "environment": [
        {
          "name": "DB_PASSWORD",
          "value": "hunter2"
        },
        {"name": "MODE", "value": "prod"}
      ],
      "secrets": [{"name": "API_TOKEN", "valueFrom": "arn:aws:ssm:x"}]
    }
  ]
},
"""


def main() -> None:
    print(f"{machine()}, {redact.__file__}\n")
    print("| what | CPU time |\n|---|---|")
    for name in NAMES:
        runs = timeit.repeat(
            lambda name=name: redact.SECRET_NAME.search(name),
            number=1000,
            repeat=7,
            timer=time.process_time,
        )
        shown = name if len(name) < 40 else f"{name[:3]}…{name[200:210]}…"
        print(f"| `SECRET_NAME.search({shown!r})` | {min(runs) * 1000:.1f} µs |")
    for label, path, text in (("YAML", "a.yaml", YAML), ("JSON", "task.json", JSON)):
        unit = text.splitlines()
        for size in (100_000, 200_000, 400_000):
            lines = unit * (size // len(unit))
            times = []
            for _ in range(3):
                start = time.process_time()
                redact.continued_secret_spans(lines, path)
                times.append(time.process_time() - start)
            what = f"`continued_secret_spans`, {label}, {len(lines):,} lines"
            print(f"| {what} | {min(times):.3f} s |")


if __name__ == "__main__":
    main()
