"""Generate a GitLab repository whose pipelines include many local files, for timing the
merge of ``include: local:`` files (``check`` reads every pipeline with its includes).

``--pipelines 1``: ``.gitlab-ci.yml`` includes ``ci/*.yml`` (``--files`` files of
``--jobs`` jobs each, one of them the templates every job ``extends:`` or ``!reference``s).
``--pipelines N``: N service pipelines (``services/sN.gitlab-ci.yml``) each include
``ci/*.yml`` and add a few jobs of their own.

Usage: ``python bench/gen_gitlab.py OUT [--files 60] [--jobs 40] [--pipelines 1]``, then
``/usr/bin/time -v backout check --format json OUT``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

TEMPLATES = """\
.deploy_base:
  image: alpine:3.19
  variables:
    IMAGE: registry.example.com/team/app
  before_script:
    - echo preparing
  script:
    - kubectl set image deployment/app app=$IMAGE:1.0
  artifacts:
    expire_in: 1 week
    paths: [out/]
.build_base:
  script:
    - docker build -t $IMAGE:$CI_COMMIT_SHA .
    - docker push $IMAGE:$CI_COMMIT_SHA
"""


def jobs_file(index: int, jobs: int) -> str:
    lines = []
    for job in range(jobs):
        name = f"job_{index}_{job}"
        if job % 3 == 0:
            lines += [
                f"{name}:",
                "  extends: .deploy_base",
                "  stage: deploy",
                f"  environment: env{job % 5}",
            ]
        elif job % 3 == 1:
            lines += [
                f"{name}:",
                "  extends: [.build_base]",
                "  stage: build",
                "  artifacts:",
                f"    expire_in: {job % 9 + 1} days",
                "    paths: [dist/]",
            ]
        else:
            lines += [
                f"{name}:",
                "  stage: test",
                "  script:",
                "    - !reference [.build_base, script]",
                f"    - echo test {job}",
                "    - make check",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--pipelines", type=int, default=1)
    args = parser.parse_args()
    ci = args.out / "ci"
    ci.mkdir(parents=True, exist_ok=True)
    (ci / "templates.yml").write_text(TEMPLATES)
    for index in range(args.files - 1):
        (ci / f"jobs{index:03}.yml").write_text(jobs_file(index, args.jobs))
    include = "include:\n  - local: ci/*.yml\n"
    own = "variables:\n  IMAGE: registry.example.com/team/app\nstages: [build, test, deploy]\n"
    if args.pipelines == 1:
        (args.out / ".gitlab-ci.yml").write_text(include + own + jobs_file(999, args.jobs))
        return
    services = args.out / "services"
    services.mkdir(exist_ok=True)
    for number in range(args.pipelines):
        (services / f"s{number}.gitlab-ci.yml").write_text(
            include + own + jobs_file(900 + number, 4)
        )


if __name__ == "__main__":
    main()
