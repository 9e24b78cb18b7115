"""``backout plan`` golden files: each case under tests/golden/plan/<case>/ holds the previous
release (``base/``), the release (``head/``) and the expected plan as Markdown and JSON.

Run with ``BACKOUT_REGEN=1`` to rewrite the expected files after an intended change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backout.plan import REGISTRY_SOURCE, helm_deploy
from tests.conftest import run_backout
from tests.registry_fixture import Registry, start_registry

GOLDEN = Path(__file__).parent / "golden" / "plan"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "head").is_dir())


def _golden(case: str, name: str, actual: str) -> None:
    expected_file = GOLDEN / case / name
    if os.environ.get("BACKOUT_REGEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_plan_markdown_golden(case: str) -> None:
    done = run_backout("plan", "head", "--base", "base", cwd=GOLDEN / case)
    assert done.returncode == 0, done.stderr
    _golden(case, "expected.md", done.stdout)


@pytest.mark.parametrize("case", CASES)
def test_plan_json_golden(case: str) -> None:
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / case)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    _golden(case, "expected.json", done.stdout)


def test_forward_fix_is_concrete_sql() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "schema_forward_fix"
    )
    plan = json.loads(done.stdout)
    assert plan["schema"]["kind"] == "forward-fix"
    assert plan["schema"]["forward_fix"] == [
        "ALTER TABLE orders ALTER COLUMN region SET DEFAULT '';"
    ]
    (target,) = plan["targets"]
    assert target["digest_source"] == "backout.lock"


def test_mutable_target_is_a_loud_warning_and_compatible_schema_needs_nothing() -> None:
    done = run_backout("plan", "head", "--base", "base", cwd=GOLDEN / "mutable_tag")
    # The release changed only migrations: the Deployment gets no command, but its mutable
    # tag may have been moved by the release all the same.
    assert (
        "WARNING: deployment/shop-api is unchanged by this release, so the plan gives it no "
        "command, but it runs the mutable tag `registry.example.com/shop/api:latest`"
    ) in done.stdout
    assert "kubectl" not in done.stdout.split("## 3. Commands")[1].split("## 4.")[0]
    assert "Nothing: the release's migrations are backward compatible" in done.stdout

    changed = run_backout("plan", "head", "--base", "base", cwd=GOLDEN / "workload_changes")
    assert (
        "WARNING: the rollback target `registry.example.com/shop/worker:2.3` is a mutable tag"
        in changed.stdout
    )


def test_plan_writes_file_and_rejects_bad_flags(tmp_path: Path) -> None:
    out = tmp_path / "plan.md"
    done = run_backout("plan", "head", "--base", "base", "-o", str(out), cwd=GOLDEN / "mutable_tag")
    assert done.returncode == 0 and out.read_text().startswith("# Rollback plan")
    bad = run_backout("plan", "head", "--format", "markdwn", cwd=GOLDEN / "mutable_tag")
    assert bad.returncode == 2 and "did you mean 'markdown'" in bad.stderr
    missing = run_backout("plan", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_added_constraints_are_dropped_by_their_name() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "schema_constraints"
    )
    schema = json.loads(done.stdout)["schema"]
    fixes = schema["forward_fix"]
    # A UNIQUE INDEX refuses DROP CONSTRAINT and a UNIQUE constraint refuses DROP INDEX.
    assert fixes[0] == (
        "ALTER TABLE products DROP CONSTRAINT IF EXISTS products_title_key; "
        "DROP INDEX IF EXISTS products_title_key;"
    )
    assert fixes[1] == "ALTER TABLE products DROP CONSTRAINT price_positive;"
    assert fixes[2].startswith("-- ") and "added without a name" in fixes[2]
    assert not any("DROP CONSTRAINT unique" in fix for fix in fixes)
    assert "000002_unique_titles.up.sql cannot go back" in schema["summary"]


def test_a_unique_together_group_is_dropped_by_the_name_django_gave_it(tmp_path: Path) -> None:
    # The schema model keeps a group under "unique together (team, email)": no name the
    # database knows. Django names the constraint itself, so the fix says to look it up.
    migrations = tmp_path / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (tmp_path / "backout.toml").write_text("release-size = 1\n")
    (migrations / "__init__.py").write_text("")
    (migrations / "0001_initial.py").write_text(
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = []\n"
        "    operations = [migrations.CreateModel(name='Membership', fields=[\n"
        "        ('id', models.BigAutoField(primary_key=True)),\n"
        "        ('team', models.CharField(max_length=50)),\n"
        "        ('email', models.CharField(max_length=200))])]\n"
    )
    (migrations / "0002_unique.py").write_text(
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
        "    operations = [migrations.AlterUniqueTogether(\n"
        "        name='membership', unique_together={('team', 'email')})]\n"
    )
    done = run_backout("plan", str(tmp_path), "--format", "json")
    (fix,) = json.loads(done.stdout)["schema"]["forward_fix"]
    assert fix.startswith("-- ALTER TABLE shop_membership DROP CONSTRAINT <name>;"), fix
    assert "(team, email) was added without a name" in fix


def _alembic_not_null_release(root: Path, create_x: bool) -> None:
    """An Alembic history whose last revision (the release) changes ``t.x`` to BigInteger
    with ``nullable=False, existing_nullable=False``; ``t`` is created by the first one when
    ``create_x`` (``x`` nullable), else it is older than the history."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    (root / "alembic" / "env.py").write_text("")
    (root / "backout.toml").write_text("release-size = 1\n")
    created = (
        'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("x", sa.Integer, nullable=True))'
        if create_x
        else 'op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))'
    )
    head = "import sqlalchemy as sa\nfrom alembic import op\n\n"
    (versions / "aaa_init.py").write_text(
        f'{head}revision = "aaa"\ndown_revision = None\n\n\n'
        f"def upgrade():\n    {created}\n\n\ndef downgrade():\n    pass\n"
    )
    (versions / "bbb_bigint.py").write_text(
        f'{head}revision = "bbb"\ndown_revision = "aaa"\n\n\n'
        'def upgrade():\n    op.alter_column("t", "x", existing_type=sa.Integer(), '
        "type_=sa.BigInteger(), nullable=False, existing_nullable=False)\n\n\n"
        'def downgrade():\n    op.alter_column("t", "x", existing_type=sa.BigInteger(), '
        "type_=sa.Integer(), nullable=False, existing_nullable=False)\n"
    )


@pytest.mark.parametrize(("create_x", "expected"), [(False, []), (True, ["DROP NOT NULL"])])
def test_existing_nullable_is_believed_only_for_a_column_the_history_does_not_know(
    tmp_path: Path, create_x: bool, expected: list[str]
) -> None:
    # Alembic emits SET NOT NULL for nullable=False whatever existing_nullable says: on a
    # column the history created nullable, the plan undoes it; on one older than the history,
    # existing_nullable=False is all backout knows, and nothing is to undo.
    _alembic_not_null_release(tmp_path, create_x)
    done = run_backout("plan", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    fixes = json.loads(done.stdout)["schema"].get("forward_fix") or []
    assert [fix.split(" x ", 1)[-1].rstrip(";") for fix in fixes] == expected, fixes


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "helm upgrade --install shop ./charts/shop --namespace shop-prod --wait",
            ("shop", "./charts/shop", "shop-prod"),
        ),
        (
            "helm -n prod upgrade -f values-prod.yaml --set image.tag=$TAG api charts/api",
            ("api", "charts/api", "prod"),
        ),
        ("helm install --generate-name bitnami/nginx", ("", "bitnami/nginx", "")),
        (
            "helm upgrade --namespace=web --atomic web oci://ghcr.io/acme/web",
            ("web", "oci://ghcr.io/acme/web", "web"),
        ),
        # A boolean flag helm added later (or a plugin's) must not swallow the release name.
        (
            "helm upgrade --install --force-conflicts --some-new-switch shop ./charts/shop",
            ("shop", "./charts/shop", ""),
        ),
        (
            "helm upgrade --kube-context prod -fvalues.yaml --timeout 10m --dry-run=server "
            "-nweb --set-json 'a={}' --wait web ./chart --history-max 5",
            ("web", "./chart", "web"),
        ),
        ("helm install -o json --labels a=b -- api charts/api", ("api", "charts/api", "")),
        # GitHub substitutes ${{ }} before the shell splits the line: one word each.
        (
            "helm upgrade --install --atomic -n prod --set image.tag=${{ github.sha }} "
            "--history-max 20 shop-prod ./charts/shop",
            ("shop-prod", "./charts/shop", "prod"),
        ),
        (
            "helm upgrade -i --namespace=${{ vars.NS }} ${{ vars.RELEASE }} charts/shop "
            '--set "note=${{ github.event.head_commit.message }}"',
            ("${{ vars.RELEASE }}", "charts/shop", "${{ vars.NS }}"),
        ),
        ("helm rollback shop 0", None),
        ("kubectl apply -f k8s/", None),
    ],
)
def test_helm_deploy_reads_release_chart_and_namespace(
    command: str, expected: tuple[str, str, str] | None
) -> None:
    deploy = helm_deploy(command)
    read = (deploy.release, deploy.chart, deploy.namespace) if deploy is not None else None
    assert read == expected


def test_helm_deploy_keeps_the_values_the_command_line_sets() -> None:
    deploy = helm_deploy(
        "helm upgrade -i shop charts/shop -f values.yaml --set-string image.tag=${{ github.sha }}"
        " --set replicas=2,image.repository=r/api --set-json=resources={}"
    )
    assert deploy is not None
    assert deploy.value_flags == (
        "--set-string image.tag=${{ github.sha }}",
        "--set replicas=2,image.repository=r/api",
        "--set-json resources={}",
    )


def test_helm_release_gets_helm_rollback_with_history_and_caveats() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "helm_release"
    )
    (helm,) = json.loads(done.stdout)["helm"]
    assert (helm["release"], helm["namespace"]) == ("shop", "shop-prod")
    assert helm["found_in"] == ".github/workflows/deploy.yml:11:11"
    assert helm["commands"][1] == "helm rollback shop <REVISION> -n shop-prod --wait --timeout 5m"
    assert helm["commands"][0].startswith("helm history shop -n shop-prod")
    caveats = " ".join(helm["caveats"])
    assert "is in crds/" in caveats
    assert "ran as a pre-upgrade hook" in caveats and "runs as a post-rollback hook" in caveats


def test_helm_values_image_is_a_rollback_target_and_hook_names_are_rendered() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "helm_release"
    )
    plan = json.loads(done.stdout)
    (target,) = plan["targets"]
    assert (target["source"], target["workload"], target["container"]) == (
        "helm",
        "chart charts/shop",
        "values.yaml `image`",
    )
    assert target["rollback_image"].endswith(":2.3.0@sha256:" + "a" * 64)
    assert (target["digest"], target["namespace"]) == ("sha256:" + "a" * 64, "shop-prod")
    # helm rollback restores the values: no kubectl command may fight it.
    assert not [c for c in plan["commands"] if c.startswith("kubectl")]
    caveats = " ".join(plan["helm"][0]["caveats"])
    assert "Job `shop-migrate`" in caveats and "{{" not in done.stdout


def test_bk104_names_a_templated_hook_as_it_renders(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(GOLDEN / "helm_release" / "head" / "charts" / "shop", chart)
    (chart / "templates" / "_helpers.tpl").write_text(
        '{{- define "shop.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end }}\n'
    )
    job = chart / "templates" / "migrate-job.yaml"
    job.write_text(
        job.read_text().replace(
            "{{ .Release.Name }}-migrate", '{{ include "shop.fullname" . }}-migrate'
        )
    )
    (chart / "templates" / "restore-job.yaml").unlink()
    done = run_backout("check", str(tmp_path), "--select", "BK104", "--output-format", "concise")
    assert "Job `<release>-shop-migrate` (`shop-api migrate up`) runs as a pre-upgrade" in (
        done.stdout
    )
    assert "{{" not in done.stdout


def test_chart_without_a_ci_release_name_says_how_to_find_it(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "web"
    shutil.copytree(GOLDEN / "helm_release" / "head" / "charts" / "shop", chart)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    done = run_backout("plan", str(tmp_path), "--format", "json")
    plan = json.loads(done.stdout)
    (helm,) = plan["helm"]
    assert helm["release"] == "<release>" and helm["chart"] == "charts/web"
    assert any("`helm list -A`" in warning for warning in plan["warnings"])


def _plan_json(case: str) -> dict[str, Any]:
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / case)
    assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


def _ways_back(commands: list[str]) -> dict[str, list[str]]:
    """workload → the commands that change it (``rollout status`` only watches)."""
    ways: dict[str, list[str]] = {}
    for command in commands:
        found = re.search(r"(?:set image|rollout undo) (\S+)|manifest of (\S+)>", command)
        if found is not None:
            ways.setdefault(found[1] or found[2], []).append(command)
    return ways


def test_each_changed_workload_goes_back_one_way_and_unchanged_ones_not_at_all() -> None:
    plan = _plan_json("workload_changes")
    ways = _ways_back(plan["commands"])
    assert sorted(ways) == ["deployment/api", "deployment/front", "deployment/worker"]
    assert all(len(commands) == 1 for commands in ways.values()), ways
    # Only images changed: one set image with every changed container, the init one too,
    # and not the unchanged web container.
    (api,) = ways["deployment/api"]
    a = "sha256:" + "a" * 64
    assert api == (
        f"kubectl -n shop set image deployment/api migrate=registry.example.com/shop/api@{a} "
        f"api=registry.example.com/shop/api@{a}"
    )
    (front,) = ways["deployment/front"]
    assert "front=registry.example.com/shop/front:1.0 proxy=envoyproxy/envoy@sha256:" in front
    # The pod template changed beyond its image: undo, and no set image to fight it.
    (worker,) = ways["deployment/worker"]
    assert worker.startswith("kubectl -n shop rollout undo deployment/worker --to-revision=<N>")
    assert plan["unchanged"] == ["statefulset/cache", "deployment/untouched"]
    assert not [c for c in plan["commands"] if "cache" in c or "untouched" in c]
    assert [t["container"] for t in plan["targets"]] == [
        "migrate",
        "api",
        "worker",
        "front",
        "proxy",
    ]
    assert not [w for w in plan["warnings"] if "web:1.0" in w]


def test_without_a_base_workloads_are_undone_not_set_to_their_own_image(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "workload_changes" / "head", tmp_path / "head")
    done = run_backout("plan", str(tmp_path / "head"), "--format", "json")
    plan = json.loads(done.stdout)
    ways = _ways_back(plan["commands"])
    assert sorted(ways) == [
        "deployment/api",
        "deployment/front",
        "deployment/untouched",
        "deployment/worker",
        "statefulset/cache",
    ]
    assert all(
        len(commands) == 1 and " rollout undo " in commands[0] for commands in ways.values()
    ), ways
    # The digests the plan knows are this release's: the pods must run another after the
    # undo, never "every pod runs" one of them (found by review).
    pinned = [t["digest"] for t in plan["targets"] if t["digest"]]
    assert pinned, plan["targets"]
    assert not any(digest in check for digest in pinned for check in plan["verification"])
    assert any("different imageID" in check for check in plan["verification"])


def test_ci_set_image_tag_is_no_certain_target() -> None:
    """``--set image.tag=${{ github.sha }}``: the release is the operand after it, and the
    values file's digest is not what the previous deploy ran."""
    plan = _plan_json("ci_sets_image_tag")
    (helm,) = plan["helm"]
    assert (helm["release"], helm["namespace"]) == ("shop-prod", "prod")
    assert helm["commands"][1] == "helm rollback shop-prod <REVISION> -n prod --wait --timeout 5m"
    (target,) = plan["targets"]
    assert target["ci_override"] == "--set image.tag=${{ github.sha }}"
    assert (target["digest"], target["digest_source"]) == ("", "")
    assert "not `registry.example.com/shop/api:2.3@sha256:" in target["warning"]
    previous = "sha256:" + "a" * 64
    assert not [check for check in plan["verification"] if previous in check]
    assert "github.sha" not in " ".join(plan["commands"])


def test_github_expressions_in_release_and_namespace_are_to_fill_in(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "ci_sets_image_tag" / "head", tmp_path, dirs_exist_ok=True)
    workflow = tmp_path / ".github" / "workflows" / "deploy.yml"
    workflow.write_text(
        workflow.read_text().replace(
            "-n prod --set image.tag=${{ github.sha }} --history-max 20 shop-prod",
            "--namespace=${{ vars.NS }} --history-max 20 ${{ vars.RELEASE }}",
        )
    )
    done = run_backout("plan", str(tmp_path), "--format", "json")
    plan = json.loads(done.stdout)
    (helm,) = plan["helm"]
    assert (helm["release"], helm["namespace"]) == ("<${{ vars.RELEASE }}>", "<${{ vars.NS }}>")
    assert helm["commands"][1] == (
        "helm rollback <${{ vars.RELEASE }}> <REVISION> -n <${{ vars.NS }}> --wait --timeout 5m"
    )
    assert any(
        "is the GitHub Actions expression `${{ vars.NS }}`" in warning
        for warning in plan["warnings"]
    )
    # The values file is what ran when the CI sets no image value.
    (target,) = plan["targets"]
    assert target["ci_override"] == "" and target["digest"] == "sha256:" + "b" * 64
    markdown = run_backout("plan", str(tmp_path)).stdout
    assert "-n ${{" not in markdown and "helm rollback ${{" not in markdown


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
      - name: api
        image: {image}
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def _release(root: Path, image: str) -> Path:
    root.mkdir(parents=True)
    (root / "deploy.yaml").write_text(DEPLOYMENT.format(image=image), encoding="utf-8")
    return root


def _online_plan(registry: Registry, head: Path, base: Path) -> dict[str, Any]:
    done = run_backout(
        "plan",
        str(head),
        "--base",
        str(base),
        "--registry",
        "--insecure-registry",
        registry.host,
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


@pytest.mark.registry
def test_registry_resolves_a_tagged_target_to_its_digest(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    previous = pusher.image("plan/api", "2.3", "2.3")
    pusher.image("plan/api", "2.4", "2.4")
    base = _release(tmp_path / "base", f"{registry.host}/plan/api:2.3")
    head = _release(tmp_path / "head", f"{registry.host}/plan/api:2.4")

    offline = json.loads(
        run_backout("plan", str(head), "--base", str(base), "--format", "json").stdout
    )
    assert offline["targets"][0]["digest"] == ""

    plan = _online_plan(registry, head, base)
    (target,) = plan["targets"]
    assert (target["digest"], target["digest_source"], target["warning"]) == (
        previous.digest,
        REGISTRY_SOURCE,
        "",
    )
    assert (
        f"kubectl set image deployment/shop api={registry.host}/plan/api@{previous.digest}"
        in (plan["commands"])
    )


@pytest.mark.registry
def test_registry_warns_when_the_target_tag_now_names_this_release(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    pusher.image("promoted/api", "stable", "1.0")
    new = pusher.image("promoted/api", "2.0", "2.0")
    body = httpx.get(
        f"{registry.url}/v2/promoted/api/manifests/{new.digest}",
        headers={"Accept": new.media_type},
    ).content
    pusher.manifest("promoted/api", "stable", body, new.media_type)  # the pipeline promotes 2.0
    base = _release(tmp_path / "base", f"{registry.host}/promoted/api:stable")
    head = _release(tmp_path / "head", f"{registry.host}/promoted/api:2.0")

    plan = _online_plan(registry, head, base)
    (target,) = plan["targets"]
    assert target["digest"] == ""
    assert f"now names {new.digest}, this release's own image (BK304)" in target["warning"]
    assert target["warning"] in plan["warnings"]


# DEPLOYMENT's api container with an environment, and a second container.
TWO_CONTAINERS = DEPLOYMENT + (
    "        env: [{{name: LOG_LEVEL, value: {level}}}]\n      - name: web\n        image: {web}\n"
)


@pytest.mark.registry
def test_registry_warns_bk304_only_where_check_online_does(
    registry: Registry, tmp_path: Path
) -> None:
    """The release changed api (2.3 → 2.4) and kept web:1.0: web's target is this release's
    own image because the release meant it to be, which is no BK304."""
    pusher = registry.pusher()
    previous = pusher.image("agree/api", "2.3", "2.3")
    pusher.image("agree/api", "2.4", "2.4")
    web = pusher.image("agree/web", "1.0", "1.0")
    host = registry.host
    trees: dict[str, Path] = {}
    releases = [("base", "2.3", "info"), ("images", "2.4", "info"), ("template", "2.4", "debug")]
    for name, api, level in releases:
        trees[name] = tmp_path / name
        trees[name].mkdir()
        (trees[name] / "deploy.yaml").write_text(
            TWO_CONTAINERS.format(
                image=f"{host}/agree/api:{api}", web=f"{host}/agree/web:1.0", level=level
            )
        )

    # Only images changed: one set image, for api alone.
    plan = _online_plan(registry, trees["images"], trees["base"])
    assert plan["commands"][0] == (
        f"kubectl set image deployment/shop api={host}/agree/api@{previous.digest}"
    )
    assert [t["container"] for t in plan["targets"]] == ["api"]
    assert not [w for w in plan["warnings"] if "BK304" in w]

    # More changed: undo restores web:1.0 too, which is still the image it was meant to be.
    plan = _online_plan(registry, trees["template"], trees["base"])
    (web_target,) = [t for t in plan["targets"] if t["container"] == "web"]
    assert (web_target["digest"], web_target["warning"]) == (web.digest, "")
    assert not [w for w in plan["warnings"] if "BK304" in w]
    for head in (trees["images"], trees["template"]):
        checked = run_backout(
            "check",
            str(head),
            "--base",
            str(trees["base"]),
            "--online",
            "--insecure-registry",
            host,
            "--select",
            "BK304",
            "--output-format",
            "concise",
        )
        assert "BK304" not in checked.stdout, checked.stdout


@pytest.mark.registry
def test_registry_target_of_a_moving_tag_kept_by_the_release_is_no_certain_digest(
    registry: Registry, tmp_path: Path
) -> None:
    """Both releases run api:latest; this release's build pushed it again. What the tag names
    today is this release's own image, not what the previous release ran: no target digest
    (the plan once told the on-call engineer to verify the rollback by the broken digest)."""
    pusher = registry.pusher()
    pusher.image("moving/api", "latest", "2.3")
    broken = pusher.image("moving/api", "latest", "2.4")
    web = pusher.image("moving/web", "1.0", "1.0")
    host = registry.host
    trees = {}
    for name, level in (("base", "info"), ("head", "debug")):
        trees[name] = tmp_path / name
        trees[name].mkdir()
        (trees[name] / "deploy.yaml").write_text(
            TWO_CONTAINERS.format(
                image=f"{host}/moving/api:latest", web=f"{host}/moving/web:1.0", level=level
            )
        )
    plan = _online_plan(registry, trees["head"], trees["base"])
    targets = {t["container"]: t for t in plan["targets"]}
    assert targets["api"]["digest"] == ""
    assert "same moving tag in both releases" in targets["api"]["warning"]
    assert broken.digest not in json.dumps(plan["verification"])
    # An unchanged version tag is the image it was meant to be.
    assert (targets["web"]["digest"], targets["web"]["warning"]) == (web.digest, "")


def test_plan_registry_unreachable_is_exit_2(tmp_path: Path) -> None:
    base = _release(tmp_path / "base", "127.0.0.1:9/app/api:0.9")
    head = _release(tmp_path / "head", "127.0.0.1:9/app/api:1.0")
    done = run_backout(
        "plan", str(head), "--base", str(base), "--registry", "--insecure-registry", "127.0.0.1:9"
    )
    assert done.returncode == 2
    assert "--registry: cannot reach 127.0.0.1:9" in done.stderr


def test_forward_fix_leaves_a_widening_alone() -> None:
    """email went from varchar(100) to varchar(200) and became unique: the forward fix drops
    the constraint and leaves the wider type (going back could reject the longer values)."""
    done = run_backout(
        "plan",
        "head",
        "--base",
        "base",
        "--format",
        "json",
        cwd=GOLDEN / "widened_and_made_unique",
    )
    fixes = json.loads(done.stdout)["schema"]["forward_fix"]
    assert len(fixes) == 1 and "UNIQUE constraint on (email)" in fixes[0]


def test_gitlab_variables_in_release_and_namespace_are_to_fill_in(tmp_path: Path) -> None:
    # $RELEASE is set in the CI job, not in the shell of whoever runs the plan mid-incident,
    # where `helm rollback $RELEASE` would expand to `helm rollback  <REVISION>`.
    chart = tmp_path / "charts" / "shop"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text(
        "image:\n  repository: registry.example.com/shop/api\n  tag: '2.4'\n"
    )
    (chart / "templates" / "deploy.yaml").write_text(
        DEPLOYMENT.format(image='"{{ .Values.image.repository }}:{{ .Values.image.tag }}"')
    )
    (tmp_path / ".gitlab-ci.yml").write_text(
        "deploy:\n  stage: deploy\n  environment: production\n  script:\n"
        "    - helm upgrade --install $RELEASE ./charts/shop -n ${KUBE_NAMESPACE} --atomic\n"
    )
    plan = json.loads(run_backout("plan", str(tmp_path), "--format", "json").stdout)
    (helm,) = plan["helm"]
    assert (helm["release"], helm["namespace"]) == ("<$RELEASE>", "<${KUBE_NAMESPACE}>")
    assert any("is the CI variable `$RELEASE`" in warning for warning in plan["warnings"])


def test_argo_rollouts_go_back_with_the_plugin_and_workload_ref_with_its_deployment() -> None:
    plan = _plan_json("argo_rollouts")
    commands = plan["commands"]
    a = "sha256:" + "a" * 64
    assert commands[:3] == [
        commands[0],
        f"kubectl argo rollouts set image shop-api api=registry.example.com/shop/api@{a} -n shop",
        "kubectl argo rollouts status shop-api -n shop --timeout 5m",
    ]
    assert commands[0].startswith("kubectl argo rollouts abort shop-api -n shop  # first")
    # workloadRef: the Deployment's template is what goes back, watched through the Rollout.
    assert commands[4].startswith("kubectl -n shop rollout undo deployment/web --to-revision")
    assert commands[5] == "kubectl argo rollouts status web -n shop --timeout 5m"
    assert not [c for c in commands if "rollout undo rollout/" in c or "set image rollout/" in c]
    assert [t["workload"] for t in plan["targets"]] == ["rollout/shop-api", "deployment/web"]
    assert any("spec.workloadRef" in w for w in plan["warnings"])
    assert not [w for w in plan["warnings"] if "no Deployment" in w]


def test_an_image_a_template_builds_from_more_than_its_values_is_shown_as_built(
    tmp_path: Path,
) -> None:
    # microservices-demo: `images.repository`/`<service>:<images.tag>` is no image of its own
    case = Path(__file__).parent / "fixtures" / "rules" / "BK101" / "fail"
    shutil.copytree(case / "helm_image_built_from_more_than_its_values", tmp_path / "repo")
    done = run_backout("plan", str(tmp_path / "repo"), "--format", "json")
    (target,) = json.loads(done.stdout)["targets"]
    built = (
        "us-central1-docker.pkg.dev/google-samples/microservices-demo"
        "/<.Values.cartService.name>:v0.4.2"
    )
    assert (target["current_image"], target["rollback_image"]) == (built, built)
    assert target["digest"] == ""
    assert "builds the image from more than the values `images`" in target["warning"]


def test_webhook_certificate_jobs_are_no_caveat_of_helm_rollback(tmp_path: Path) -> None:
    # ingress-nginx's kube-webhook-certgen create/patch hooks leave nothing to undo
    case = Path(__file__).parent / "fixtures" / "rules" / "BK104" / "pass"
    shutil.copytree(case / "webhook_certgen_jobs", tmp_path / "repo")
    done = run_backout("plan", str(tmp_path / "repo"), "--format", "json")
    plan = json.loads(done.stdout)
    assert plan["helm"], done.stdout
    assert not [c for h in plan["helm"] for c in h["caveats"] if "admission" in c]


def test_a_workload_the_ci_sets_the_image_of_goes_back_by_undo_or_set_image() -> None:
    """No manifest names them: the CI's `kubectl set image` says which workload, container,
    namespace and context; the plan used to say there was no rollback target."""
    plan = _plan_json("ci_kubectl_set_image")
    assert not [w for w in plan["warnings"] if "no rollback target" in w]
    api, worker = plan["targets"]
    assert (api["workload"], api["namespace"], api["kube_context"]) == (
        "deployment/shop-api",
        "shop",
        "prod-eu",
    )
    # ${{ github.sha }} names another image each run: the previous one is not in the repo
    assert (api["rollback_image"], api["digest"]) == ("", "")
    assert (
        "kubectl rollout history deployment/shop-api --context prod-eu -n shop" in (api["warning"])
    )
    # A literal version that the release changed: the previous one, by the lock's digest
    assert (worker["rollback_image"], worker["digest_source"]) == (
        "ghcr.io/acme/worker:2.3",
        "backout.lock",
    )
    ways = _ways_back(plan["commands"])
    assert ways["deployment/shop-api"][0].startswith(
        "kubectl --context prod-eu -n shop rollout undo deployment/shop-api --to-revision=<N>"
    )
    pinned = f"ghcr.io/acme/worker@{worker['digest']}"
    assert ways["statefulset/worker"] == [
        f"kubectl -n jobs set image statefulset/worker worker={pinned}"
    ]


def test_without_a_base_a_workload_the_ci_sets_is_undone(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "ci_kubectl_set_image" / "head", tmp_path / "head")
    done = run_backout("plan", str(tmp_path / "head"), "--format", "json")
    plan = json.loads(done.stdout)
    ways = _ways_back(plan["commands"])
    assert sorted(ways) == ["deployment/shop-api", "statefulset/worker"]
    assert all(" rollout undo " in commands[0] for commands in ways.values()), ways
    (worker,) = [t for t in plan["targets"] if t["workload"] == "statefulset/worker"]
    assert worker["rollback_image"] == ""
    assert "no previous release (--base) says what it set before" in worker["warning"]


def test_every_container_of_the_ci_set_image_is_quoted_for_the_shell(tmp_path: Path) -> None:
    # `kubectl set image deploy/api *=img`: a bare * is a glob (zsh: "no matches found")
    for release, tag in (("base", "1.3"), ("head", "1.4")):
        workflow = tmp_path / release / ".github" / "workflows" / "deploy.yml"
        workflow.parent.mkdir(parents=True)
        workflow.write_text(
            "jobs:\n  deploy:\n    steps:\n"
            f"      - run: kubectl set image deployment/api '*=ghcr.io/acme/api:{tag}'\n",
            encoding="utf-8",
        )
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=tmp_path)
    ways = _ways_back(json.loads(done.stdout)["commands"])
    assert ways["deployment/api"][0].startswith(
        "kubectl set image deployment/api '*=ghcr.io/acme/api:1.3'"
    ), ways


def test_a_workload_in_the_manifests_is_planned_from_them_not_from_the_ci(
    tmp_path: Path,
) -> None:
    for release in ("base", "head"):
        shutil.copytree(GOLDEN / "workload_changes" / release, tmp_path / release)
        workflow = tmp_path / release / ".github" / "workflows" / "deploy.yml"
        workflow.parent.mkdir(parents=True, exist_ok=True)
        workflow.write_text(
            "jobs:\n  deploy:\n    steps:\n"
            "      - run: kubectl set image deployment/api api=ghcr.io/acme/api:${{ github.sha }}\n"
            "      - run: kubectl -n ${{ vars.NS }} set image deploy/$APP app=ghcr.io/acme/app:1\n",
            encoding="utf-8",
        )
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=tmp_path)
    plan = json.loads(done.stdout)
    ways = _ways_back(plan["commands"])
    assert len(ways["deployment/api"]) == 1, ways
    assert {t["source"] for t in plan["targets"] if t["workload"] == "deployment/api"} == {
        "kubernetes"
    }
    # Names the CI fills in at deploy are shown as values to fill in, as for helm
    assert "deployment/<$APP>" in ways
    assert ways["deployment/<$APP>"][0].startswith(
        "kubectl -n <${{ vars.NS }}> rollout undo deployment/<$APP>"
    )
    assert any("the namespace of the `kubectl` command at" in w for w in plan["warnings"])


def test_a_digest_in_the_tag_of_an_image_built_from_more_is_the_target(tmp_path: Path) -> None:
    # a literal registry before the mapping builds one image, and the tag's digest pins it;
    # microservices-demo's shared tag with a digest pins every service's image by it
    pinned = Path(__file__).parent / "fixtures/rules/BK101/pass/helm_registry_before_a_pinned_tag"
    done = run_backout("plan", str(pinned), "--format", "json")
    app = next(t for t in json.loads(done.stdout)["targets"] if "`image`" in t["container"])
    digest = "sha256:" + "0123456789" * 6 + "0123"
    assert app["current_image"] == app["rollback_image"] == f"ghcr.io/acme/app:2.4@{digest}"
    assert app["digest"] == digest
    assert "knows no target digest" not in app["warning"]

    case = Path(__file__).parent / "fixtures" / "rules" / "BK101" / "fail"
    shutil.copytree(case / "helm_image_built_from_more_than_its_values", tmp_path / "repo")
    values = tmp_path / "repo" / "chart" / "values.yaml"
    values.write_text(values.read_text().replace('tag: ""', f'tag: "v0.4.2@{digest}"'))
    done = run_backout("plan", str(tmp_path / "repo"), "--format", "json")
    (target,) = json.loads(done.stdout)["targets"]
    assert target["current_image"].endswith(f"/<.Values.cartService.name>:v0.4.2@{digest}")
    assert target["digest"] == digest
    assert "knows no target digest" not in target["warning"]


def test_a_cronjob_pod_or_replicaset_the_ci_sets_goes_back_by_set_image_never_undo() -> None:
    """`kubectl rollout undo` and `rollout status` refuse a CronJob, a Pod and a ReplicaSet
    (no revision history): set image to the previous image is the only way back. A Job's pod
    template is immutable: nothing can be set back, the plan says so."""
    plan = _plan_json("ci_set_image_kinds")
    commands = plan["commands"]
    assert not [c for c in commands if "rollout undo" in c or "rollout status" in c], commands
    ways = _ways_back(commands)
    assert sorted(ways) == [
        "cronjob/cleanup",
        "cronjob/report",
        "pod/debug",
        "replicaset/legacy",
    ]
    report = next(t for t in plan["targets"] if t["workload"] == "cronjob/report")
    assert ways["cronjob/report"] == [
        f"kubectl -n shop set image cronjob/report report=ghcr.io/acme/report@{report['digest']}"
    ]
    # `cj/cleanup` set per run ($GIT_SHA): the previous image is to fill in, not undone
    (cleanup,) = ways["cronjob/cleanup"]
    assert cleanup.startswith(
        "kubectl -n shop set image cronjob/cleanup cleanup=<the image before this release>"
    )
    (warning,) = [w for w in plan["warnings"] if "cronjob/cleanup" in w]
    assert "no rollout history" in warning and ".spec.template.spec.containers[*].image" in warning
    assert ways["pod/debug"][0].startswith(
        "kubectl -n tools set image pod/debug debug=ghcr.io/acme/debug:1.3"
    )
    assert any(
        "replicaset/legacy" in w and "keep the image they started with" in w
        for w in plan["warnings"]
    )
    assert not [t for t in plan["targets"] if t["workload"] == "job/migrate"]
    assert any("job/migrate" in w and "spec.template is immutable" in w for w in plan["warnings"])
    assert any(
        "cronjob/report" in v and "the next Job it starts" in v for v in plan["verification"]
    )


def test_a_variable_the_ci_assigns_is_substituted_not_left_to_fill_in(tmp_path: Path) -> None:
    # The script assigns $APP and $NS; the GitHub job's env names the Helm release: their
    # values are in the repository, so the plan writes them instead of asking for them
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "deploy.sh").write_text(
        "#!/bin/sh\nAPP=orders\nexport NS=shop\n"
        "kubectl -n $NS set image deployment/$APP app=ghcr.io/acme/orders:$GIT_SHA\n"
        "kubectl set image deployment/$OTHER other=ghcr.io/acme/other:1\n"
    )
    workflow = tmp_path / ".github" / "workflows" / "deploy.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "env:\n  RELEASE: shop-prod\njobs:\n  deploy:\n    env:\n      KUBE_NS: web\n"
        "    steps:\n      - run: helm upgrade --install $RELEASE ./chart -n ${KUBE_NS}\n"
    )
    plan = json.loads(run_backout("plan", str(tmp_path), "--format", "json").stdout)
    ways = _ways_back(plan["commands"])
    assert sorted(ways) == ["deployment/<$OTHER>", "deployment/orders"], ways
    assert ways["deployment/orders"][0].startswith("kubectl -n shop rollout undo deployment/orders")
    (helm,) = plan["helm"]
    assert (helm["release"], helm["namespace"]) == ("shop-prod", "web")
    fill_in = [w for w in plan["warnings"] if "put in place of" in w]
    assert len(fill_in) == 1 and "`$OTHER`" in fill_in[0], fill_in


def test_an_image_the_ci_sets_over_the_manifest_is_the_target_not_the_manifest() -> None:
    """`kubectl apply -f k8s/` then `kubectl set image`: the manifests did not change, but
    each deploy runs another image. The plan used to call both workloads unchanged and give
    no command."""
    plan = _plan_json("ci_overrides_manifest")
    assert plan["unchanged"] == []
    targets = {(t["workload"], t["container"]): t for t in plan["targets"]}
    # api goes back by undo, which restores every container: proxy's row too
    assert sorted(targets) == [
        ("deployment/api", "api"),
        ("deployment/api", "proxy"),
        ("deployment/worker", "worker"),
    ]
    api, worker = targets["deployment/api", "api"], targets["deployment/worker", "worker"]
    assert api["current_image"] == "ghcr.io/acme/api:${{ github.sha }}"
    assert (api["rollback_image"], api["digest"]) == ("", "")
    assert api["ci_override"].startswith("api=ghcr.io/acme/api:${{ github.sha }} (")
    assert (worker["rollback_image"], worker["digest_source"]) == (
        "ghcr.io/acme/worker:2.3",
        "backout.lock",
    )
    ways = _ways_back(plan["commands"])
    assert ways["deployment/api"][0].startswith(
        "kubectl -n shop rollout undo deployment/api --to-revision=<N>"
    )
    assert ways["deployment/worker"] == [
        f"kubectl -n shop set image deployment/worker worker=ghcr.io/acme/worker@{worker['digest']}"
    ]
    overridden = [w for w in plan["warnings"] if "re-applying the previous release's manifest" in w]
    assert len(overridden) == 2 and "`ghcr.io/acme/api:latest`" in overridden[0], overridden
    # what the CI sets is what runs: the manifest's placeholder tag is no rollback hazard here
    assert not [w for w in plan["warnings"] if "is unchanged by this release" in w]


def test_a_workload_the_ci_restarts_on_a_moving_tag_goes_back_to_the_previous_digest() -> None:
    """`docker push web:latest` then `kubectl rollout restart deployment/web`: the manifests
    never change, the bytes under the tag do. `rollout undo` brings back the same tag (the
    restart's only change is an annotation), so the way back pins the previous digest."""
    plan = _plan_json("ci_rollout_restart")
    assert plan["unchanged"] == ["deployment/api"]  # a version tag: the restart changes nothing
    ways = _ways_back(plan["commands"])
    assert not [c for c in plan["commands"] if "rollout undo" in c]
    (web,) = [t for t in plan["targets"] if t["workload"] == "deployment/web"]
    assert web["digest_source"] == "backout.lock"
    assert ways["deployment/web"] == [
        f"kubectl -n shop set image deployment/web web=ghcr.io/acme/web@{web['digest']}"
    ]
    (admin,) = ways["deployment/admin"]
    assert admin.startswith(
        "kubectl -n shop set image deployment/admin admin=ghcr.io/acme/admin@<the digest "
        "before this release>"
    )
    restarts = [w for w in plan["warnings"] if "rollout restart" in w]
    assert len(restarts) == 2 and all("must pin" in w for w in restarts), restarts
    unchanged = [w for w in plan["warnings"] if "is unchanged by this release" in w]
    assert not [w for w in unchanged if "web" in w or "admin" in w], unchanged


def _unfilled(commands: list[str]) -> list[str]:
    """The commands that still hold a shell expansion outside a ``<value to fill in>``: the
    shell of whoever runs them mid-incident expands it, to nothing or to its own value."""
    return [c for c in commands if "$" in re.sub(r"<[^<>]*>", "", c.partition("  # ")[0])]


API_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:latest
"""


def _ci_release(root: Path, ci_file: str, ci: str) -> Path:
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "api.yaml").write_text(API_MANIFEST)
    (root / ci_file).parent.mkdir(parents=True, exist_ok=True)
    (root / ci_file).write_text(ci)
    return root


def test_a_ci_variable_in_a_kubectl_command_is_a_value_to_fill_in(tmp_path: Path) -> None:
    """Found by review: `NAMESPACE=${1:-staging}` (the script's argument) gave
    `kubectl -n ${1:-staging} rollout undo deployment/$2`, which a shell runs against
    staging; and the `-n $NS`/`--context $KCTX` of a CI line that sets the image of a
    manifest's workload were written as they are."""
    script = (
        "#!/bin/sh\nNAMESPACE=${1:-staging}\n"
        "kubectl -n $NAMESPACE set image deployment/$2 app=ghcr.io/acme/x:$GIT_SHA\n"
        "kubectl --context $KCTX -n $NS set image deployment/api api=ghcr.io/acme/api:$GIT_SHA\n"
    )
    for release in ("base", "head"):
        _ci_release(tmp_path / release, "scripts/deploy.sh", script)
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=tmp_path)
    plan = json.loads(done.stdout)
    ways = _ways_back(plan["commands"])
    assert sorted(ways) == ["deployment/<$2>", "deployment/api"], ways
    assert _unfilled(plan["commands"]) == []
    assert ways["deployment/api"][0].startswith("kubectl --context <$KCTX> -n <$NS> rollout undo")
    fill_in = " ".join(w for w in plan["warnings"] if "put in place of" in w)
    for value in ("`${1:-staging}`", "`$2`", "`$KCTX`", "`$NS`"):
        assert value in fill_in, value


def test_a_manifest_workload_the_ci_deploys_to_two_namespaces_names_neither_alone(
    tmp_path: Path,
) -> None:
    """Found by review: a staging job and a production job set the image of the same
    manifest's Deployment; the plan took the first line's `-n staging` and gave only
    `kubectl -n staging rollout undo`, the wrong namespace for a production incident."""
    pipeline = """\
deploy_staging:
  script:
    - kubectl apply -f k8s/
    - kubectl --context stage -n staging set image deployment/api api=ghcr.io/acme/api:$SHA
deploy_prod:
  when: manual
  script:
    - kubectl --context prod -n prod set image deployment/api api=ghcr.io/acme/api:$SHA
"""
    for release in ("base", "head"):
        _ci_release(tmp_path / release, ".gitlab-ci.yml", pipeline)
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=tmp_path)
    plan = json.loads(done.stdout)
    (undo,) = _ways_back(plan["commands"])["deployment/api"]
    assert undo.startswith(
        "kubectl --context <stage or prod> -n <staging or prod> rollout undo deployment/api"
    ), undo
    several = [w for w in plan["warnings"] if "several" in w]
    assert len(several) == 2 and "`staging` (.gitlab-ci.yml:4:" in " ".join(several), several


def test_every_custom_columns_output_is_quoted_for_the_shell() -> None:
    """Found by review: `-o custom-columns=…containers[*].image` unquoted is a glob: zsh
    (macOS's shell) refuses it with "no matches found", bash passes it on only while no file
    matches."""
    plan = _plan_json("ci_set_image_kinds")
    texts = [*plan["warnings"], *plan["verification"], *plan["commands"]]
    columns = [t for t in texts if "custom-columns=" in t]
    assert len(columns) == 2, columns
    assert all(re.search(r"-o '(custom-columns=[^' ]*)'", t) for t in columns), columns


_IMAGE = "registry.example.com/shop/api"


def _manifests(root: Path, *workloads: tuple[str, str, str, str]) -> None:
    """Write one manifest per (kind, name, namespace, image) under ``root/k8s``."""
    (root / "k8s").mkdir(parents=True, exist_ok=True)
    for kind, name, namespace, image in workloads:
        (root / "k8s" / f"{name}.yaml").write_text(
            f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n"
            f"  namespace: {namespace}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n"
            f"      containers:\n        - name: {name}\n          image: {image}\n",
            encoding="utf-8",
        )


def _commands_of(plan: Any, workload: str) -> list[str]:
    """The commands that change ``workload``, without their comments."""
    return [c.partition("  # ")[0] for c in _ways_back(plan["commands"]).get(workload, [])]


def _api_plan(
    tmp_path: Path,
    ci_file: str,
    ci: Callable[[str], str],
    namespace: str = "shop",
    manifest_tag: str = "latest",
) -> Any:
    """The JSON plan of ``head`` against ``base``, each with the manifest of Deployment api
    and the CI file ``ci`` writes for the tag the release deploys (1.3, then 1.4)."""
    for release in ("base", "head"):
        _manifests(tmp_path / release, ("Deployment", "api", namespace, f"{_IMAGE}:{manifest_tag}"))
    releases = {"base": ci("1.3"), "head": ci("1.4")}
    return _plan_of_releases(tmp_path, ci_file, releases)


def _plan_of_releases(tmp_path: Path, ci_file: str, ci_by_release: dict[str, str]) -> Any:
    """The JSON plan of ``head`` against ``base``, each with its own CI file."""
    for release, ci in ci_by_release.items():
        (tmp_path / release / ci_file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / release / ci_file).write_text(ci, encoding="utf-8")
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "restart",
    [
        "kubectl rollout restart deployment -n shop",
        "kubectl -n shop rollout restart deployment/api deployment/worker",
        "kubectl -n shop rollout restart deployment api worker",
        "kubectl -n shop rollout restart deploy,statefulset api worker",
    ],
)
def test_a_restart_of_several_or_every_deployment_pins_each_moving_tag(
    tmp_path: Path, restart: str
) -> None:
    """Found by review: only `rollout restart deployment/web` (one name) was understood; a
    restart of every Deployment in the namespace, or of several in one command, gave no
    row, and the plan called the workloads unchanged."""
    workflow = f"jobs:\n  deploy:\n    steps:\n      - run: {restart}\n"
    for release in ("base", "head"):
        _manifests(
            tmp_path / release,
            ("Deployment", "api", "shop", "ghcr.io/acme/api:latest"),
            ("Deployment", "worker", "shop", "ghcr.io/acme/worker:main"),
            ("Deployment", "ops", "ops", "ghcr.io/acme/ops:latest"),  # another namespace
            ("StatefulSet", "db", "shop", "ghcr.io/acme/db:latest"),  # another kind
        )
    plan = _plan_of_releases(
        tmp_path, ".github/workflows/deploy.yml", dict.fromkeys(("base", "head"), workflow)
    )
    ways = _ways_back(plan["commands"])
    for name in ("api", "worker"):
        (pin,) = ways[f"deployment/{name}"]
        assert pin.startswith(
            f"kubectl -n shop set image deployment/{name} {name}=ghcr.io/acme/{name}@"
            "<the digest before this release>"
        ), pin
    assert sorted(plan["unchanged"]) == ["deployment/ops", "statefulset/db"], plan["unchanged"]
    assert len([w for w in plan["warnings"] if "`kubectl rollout restart`" in w]) == 2


@pytest.mark.parametrize(
    "write",
    [
        'echo "IMAGE={image}" >> "$GITHUB_ENV"',
        "echo IMAGE={image} >> $GITHUB_ENV",
        "echo 'IMAGE={image}' >>${{GITHUB_ENV}}",
        '|\n          {{ echo "NS=shop"; echo "IMAGE={image}"; }} >> $GITHUB_ENV',
        'echo "IMAGE={image}" | tee -a "$GITHUB_ENV"',
        "|\n          {{\n            echo 'IMAGE<<EOF'\n            echo '{image}'\n"
        "            echo 'EOF'\n          }} >> \"$GITHUB_ENV\"",
        '|\n          cat >> "$GITHUB_ENV" <<EOF\n          IMAGE={image}\n          EOF',
        # the redirection glued to the here-document's word, either way round
        '|\n          cat <<EOF>>"$GITHUB_ENV"\n          IMAGE={image}\n          EOF',
        "|\n          cat >>$GITHUB_ENV<<'EOF'\n          IMAGE={image}\n          EOF",
    ],
)
def test_an_image_a_github_step_writes_to_github_env_reaches_the_later_steps(
    tmp_path: Path, write: str
) -> None:
    """Found by review: a step's `echo "IMAGE=…" >> "$GITHUB_ENV"` sets IMAGE for the later
    steps of its job, but `kubectl set image deployment/api api=$IMAGE` in a later step was
    read as a value made per run: the plan gave `rollout undo` instead of the previous
    release's image."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            "jobs:\n  deploy:\n    steps:\n"
            f"      - run: {write.format(image=f'{_IMAGE}:{tag}')}\n"
            "      - run: kubectl -n shop set image deployment/api api=$IMAGE\n"
        ),
    )
    (api,) = plan["targets"]
    assert (api["current_image"], api["rollback_image"]) == (f"{_IMAGE}:1.4", f"{_IMAGE}:1.3")
    assert _commands_of(plan, "deployment/api") == [
        f"kubectl -n shop set image deployment/api api={_IMAGE}:1.3"
    ]


@pytest.mark.parametrize(
    "steps",
    [
        # it may not run: after && or ||, in an if, in a step with `if:`
        '      - run: test -n "$X" && echo "IMAGE={image}" >> "$GITHUB_ENV"\n',
        '      - run: if [ -n "$X" ]; then echo "IMAGE={image}" >> $GITHUB_ENV; fi\n',
        "      - if: github.ref == 'refs/heads/main'\n"
        '        run: echo "IMAGE={image}" >> $GITHUB_ENV\n',
        # the step that writes it does not see it
        '      - run: |\n          echo "IMAGE={image}" >> $GITHUB_ENV\n'
        "          kubectl -n shop set image deployment/api api=$IMAGE\n",
    ],
)
def test_a_github_env_write_that_may_not_run_leaves_the_image_unknown(
    tmp_path: Path, steps: str
) -> None:
    later = "      - run: kubectl -n shop set image deployment/api api=$IMAGE\n"
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            f"env:\n  IMAGE: {_IMAGE}:1.0\njobs:\n  deploy:\n    steps:\n"
            + steps.format(image=f"{_IMAGE}:{tag}")
            + (later if "kubectl" not in steps else "")
        ),
    )
    ways = _ways_back(plan["commands"])
    if "kubectl" in steps:  # the workflow's IMAGE, in both releases: nothing to roll back
        assert plan["unchanged"] == ["deployment/api"] and not ways, plan
    else:
        (undo,) = ways["deployment/api"]
        assert undo.startswith("kubectl -n shop rollout undo deployment/api"), undo


@pytest.mark.parametrize(
    ("env", "steps"),
    [
        # the step makes TAG per run: the job's TAG is not what it wrote
        (
            "env:\n  TAG: {tag}\n",
            "      - run: |\n          TAG=$(git rev-parse --short HEAD)\n"
            '          echo "IMAGE={repository}:$TAG" >> "$GITHUB_ENV"\n',
        ),
        # the writing step has no VERSION (bash writes `…:`); the later step's is not it
        (
            "",
            '      - run: echo "IMAGE={repository}:$VERSION" >> "$GITHUB_ENV"\n'
            "      - env:\n          VERSION: {tag}\n"
            "        run: kubectl -n shop set image deployment/api api=$IMAGE\n",
        ),
    ],
)
def test_a_github_env_value_that_names_a_variable_unknown_where_it_is_written_is_unknown(
    tmp_path: Path, env: str, steps: str
) -> None:
    """Found by review: `echo "IMAGE=…:$TAG" >> "$GITHUB_ENV"` after `TAG=$(…)` wrote the
    text `…:$TAG` as IMAGE's value, and a later step expanded it with the job's `TAG:`: the
    plan told the on-call to set the job's image, not the one the step built."""
    later = "      - run: kubectl -n shop set image deployment/api api=$IMAGE\n"
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            env.format(tag=tag)
            + "jobs:\n  deploy:\n    steps:\n"
            + steps.format(repository=_IMAGE, tag=tag)
            + ("" if "kubectl" in steps else later)
        ),
    )
    (undo,) = _ways_back(plan["commands"])["deployment/api"]
    assert undo.startswith("kubectl -n shop rollout undo deployment/api"), undo


@pytest.mark.parametrize(
    ("before", "job"),
    [
        # default: before_script, which the job inherits, shares its shell with script
        ("default:\n  before_script:\n    - export NS=shop\n    - IMAGE={image}\n", ""),
        # the deprecated top-level before_script is the same
        ("before_script:\n  - export NS=shop\n  - IMAGE={image}\n", ""),
        # the job's own
        ("", "  before_script:\n    - export NS=shop\n    - IMAGE={image}\n"),
    ],
)
def test_what_a_gitlab_before_script_assigns_reaches_the_script(
    tmp_path: Path, before: str, job: str
) -> None:
    """Found by review: GitLab runs a job's `before_script` (its own or `default:`'s) and its
    `script` in one shell, so an assignment in the first holds in the second; an inherited
    `default: before_script` was read as a shell of its own, and the plan asked for `$NS`
    and `$IMAGE` as values to fill in."""
    plan = _api_plan(
        tmp_path,
        ".gitlab-ci.yml",
        lambda tag: (
            before.format(image=f"{_IMAGE}:{tag}")
            + "deploy:\n"
            + job.format(image=f"{_IMAGE}:{tag}")
            + "  script:\n    - kubectl -n $NS set image deployment/api api=$IMAGE\n"
        ),
        namespace="",
    )
    assert _commands_of(plan, "deployment/api") == [
        f"kubectl -n shop set image deployment/api api={_IMAGE}:1.3"
    ]


def test_a_job_that_does_not_inherit_the_default_before_script_does_not_see_it(
    tmp_path: Path,
) -> None:
    plan = _api_plan(
        tmp_path,
        ".gitlab-ci.yml",
        lambda tag: (
            f"default:\n  before_script:\n    - IMAGE={_IMAGE}:{tag}\n"
            "deploy:\n  inherit:\n    default: [image]\n"
            "  script:\n    - kubectl -n shop set image deployment/api api=$IMAGE\n"
        ),
        namespace="",
    )
    (undo,) = _ways_back(plan["commands"])["deployment/api"]
    assert undo.startswith("kubectl -n shop rollout undo deployment/api"), undo


@pytest.mark.parametrize(
    ("heredoc", "runs"),
    [
        ("cat <<EOF > deploy.sh", False),
        ("cat > deploy.sh <<'EOF'", False),
        ("cat <<-EOF | tee deploy.sh", False),
        ("ssh deploy@bastion <<'EOF'", True),
        ("bash -s <<EOF", True),
        ("cat <<EOF | sh", True),
    ],
)
def test_kubectl_in_a_here_document_is_a_deploy_only_when_a_shell_reads_it(
    tmp_path: Path, heredoc: str, runs: bool
) -> None:
    """Found by review: the lines of `cat <<EOF > deploy.sh … EOF` were read as commands
    the job ran: the plan gave a `kubectl set image` row and a `helm rollback` for deploys
    that a file only holds. A here-document that a shell reads (`bash`, `sh`, `ssh`) does
    run them."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            "jobs:\n  deploy:\n    steps:\n      - run: |\n"
            f"          {heredoc}\n"
            f"          kubectl -n shop set image deployment/api api={_IMAGE}:{tag}\n"
            "          helm upgrade --install shop ./chart -n shop\n"
            "          EOF\n"
        ),
        manifest_tag="1.0",
    )
    ways = _ways_back(plan["commands"])
    assert [helm["release"] for helm in plan["helm"]] == (["shop"] if runs else [])
    if runs:
        assert _commands_of(plan, "deployment/api") == [
            f"kubectl -n shop set image deployment/api api={_IMAGE}:1.3"
        ], ways
    else:
        assert not ways and plan["unchanged"] == ["deployment/api"], plan


@pytest.mark.parametrize(
    ("heredoc", "run"),
    [
        ("cat <<EOF > deploy.sh", "bash deploy.sh"),
        ("cat > deploy.sh <<'EOF'", "sh ./deploy.sh"),
        ("tee d.sh <<EOF", "chmod +x d.sh && ./d.sh"),
        ("cat <<EOF > d.sh", "source d.sh"),
        ("cat <<'EOF' > d.sh", ". d.sh"),
        # a later step of the same job runs it
        ("cat <<EOF > deploy.sh", "      - run: bash deploy.sh"),
        ("ssh deploy@bastion 'bash -s' <<EOF", ""),
    ],
)
def test_kubectl_in_a_here_document_written_to_a_file_the_job_runs_is_a_deploy(
    tmp_path: Path, heredoc: str, run: str
) -> None:
    """Found by review: once the text of `cat <<EOF > deploy.sh … EOF` ran nothing, a job
    that then runs `bash deploy.sh` deployed nothing either: the plan said the workload was
    unchanged, where it used to give a row."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            "jobs:\n  deploy:\n    steps:\n      - run: |\n"
            f"          export TAG={tag}\n"
            f"          {heredoc}\n"
            f"          kubectl -n shop set image deployment/api api={_IMAGE}:${{TAG}}\n"
            "          helm upgrade --install shop ./chart -n shop\n"
            "          EOF\n" + (f"{run}\n" if run.startswith(" ") else f"          {run}\n")
        ),
        manifest_tag="1.0",
    )
    assert [helm["release"] for helm in plan["helm"]] == ["shop"]
    assert _commands_of(plan, "deployment/api") == [
        f"kubectl -n shop set image deployment/api api={_IMAGE}:1.3"
    ], plan


@pytest.mark.parametrize(
    "before",
    [
        # the word ends at the redirection glued to it: EOF, then > notes.txt
        "cat <<EOF>notes.txt\n          hello\n          EOF",
        "cat <<'EOF'>>notes.txt\n          hello\n          EOF",
        # a shift in arithmetic is no here-document
        "echo $((1<<20))",
        "SIZE=$(( 1 << 20 ))",
        "(( BITS = 1 << 4 ))",
    ],
)
def test_the_lines_after_what_is_no_open_here_document_are_commands(
    tmp_path: Path, before: str
) -> None:
    """Found by review: `cat <<EOF>notes.txt` was read as a here-document ended by
    `EOF>notes.txt`, and `$((1<<20))` as one ended by `20))`: neither line ever came, so
    the job's later `kubectl set image` was text, and the plan called the workload
    unchanged."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            "jobs:\n  deploy:\n    steps:\n      - run: |\n"
            f"          {before}\n"
            f"          kubectl -n shop set image deployment/api api={_IMAGE}:{tag}\n"
        ),
        manifest_tag="1.0",
    )
    assert _commands_of(plan, "deployment/api") == [
        f"kubectl -n shop set image deployment/api api={_IMAGE}:1.3"
    ], plan


@pytest.mark.parametrize(
    ("restart", "namespace", "flags"),
    [
        ("kubectl --context prod -n shop rollout restart deployment", "", "--context prod -n shop"),
        ("kubectl --context prod rollout restart deployment/api", "shop", "--context prod -n shop"),
        ("kubectl -n shop rollout restart deployment api worker", "", "-n shop"),
    ],
)
def test_the_pin_after_a_restart_goes_where_the_ci_restarted(
    tmp_path: Path, restart: str, namespace: str, flags: str
) -> None:
    """Found by review: the digest pin after a CI's `kubectl rollout restart` left out its
    `--context`, and its `-n` when the manifest names no namespace: the on-call's command
    went to their current cluster and namespace, not the ones the CI restarted."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: f"jobs:\n  deploy:\n    steps:\n      - run: {restart}\n",
        namespace=namespace,
    )
    (pin,) = _commands_of(plan, "deployment/api")
    assert pin.startswith(f"kubectl {flags} set image deployment/api api={_IMAGE}@"), pin


@pytest.mark.parametrize(
    "write",
    [
        './scripts/image-env.sh >> "$GITHUB_ENV"',
        "cat build/image.env >> $GITHUB_ENV",
        "./scripts/image-env.sh | tee -a $GITHUB_ENV",
        'tee -a "$GITHUB_ENV" <<< "$(./scripts/image-env.sh)"',
        '|\n          {{\n            echo "NS=shop"\n            ./scripts/image-env.sh\n'
        '          }} >> "$GITHUB_ENV"',
    ],
)
def test_a_github_env_write_the_plan_cannot_read_leaves_the_job_env_unknown(
    tmp_path: Path, write: str
) -> None:
    """Found by review: a step that writes to `$GITHUB_ENV` what a program prints may set
    any variable, IMAGE too; the later step's `$IMAGE` was read as the workflow's `IMAGE:`,
    and the plan told the on-call to set that image."""
    plan = _api_plan(
        tmp_path,
        ".github/workflows/deploy.yml",
        lambda tag: (
            f"env:\n  IMAGE: {_IMAGE}:{tag}\njobs:\n  deploy:\n    steps:\n"
            f"      - run: {write.format()}\n"
            "      - run: kubectl -n shop set image deployment/api api=$IMAGE\n"
        ),
    )
    (undo,) = _ways_back(plan["commands"])["deployment/api"]
    assert undo.startswith("kubectl -n shop rollout undo deployment/api"), undo
