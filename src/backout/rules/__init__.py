"""Every rule backout has, named explicitly with its code (no registration by import side effect).

A rule's module is imported only when something needs the rule: ``backout check`` loads the
rules that ``select``/``ignore`` leave on (:func:`backout.engine.enabled_rules`), so a check of
the schema rules never imports the image rules, nor the Helm and CI readers whose facts those
read. What needs every rule loads them all: ``backout rules``, the docs, :func:`rules_by_code`.

To add a rule: write one module in its family's package (file name starting with its code),
add a ``RuleRef`` naming its module and class to ``ALL_RULES`` below, and add its
fixtures under ``tests/fixtures/rules/``.
"""

from __future__ import annotations

import importlib
from functools import cache

from backout.models import Family
from backout.rules.base import Rule


class RuleLoadError(ImportError):
    """A rule's module could not be imported: a broken install, reported as such (exit 2), not
    as a traceback whose exit status 1 a CI job would take for findings."""


class RuleRef:
    """A rule known by where its class is; :meth:`load` imports its module.

    ``module`` is relative to this package (``"schema.BK201_not_null_column_without_default"``);
    the rule's code is the start of the module's name, as every rule module is named.
    """

    def __init__(self, module: str, class_name: str) -> None:
        self.module = f"backout.rules.{module}"
        self.class_name = class_name
        self.code = module.rpartition(".")[2].partition("_")[0]

    @property
    def family(self) -> Family:
        """The rule's family: the package its module is in."""
        return Family(self.module.split(".")[2])

    def load(self) -> type[Rule]:
        """The rule class, its module imported if this is its first use."""
        try:
            rule: type[Rule] = getattr(importlib.import_module(self.module), self.class_name)
        except Exception as exc:
            raise RuleLoadError(
                f"rule {self.code} ({self.module}) could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        return rule


ALL_RULES: tuple[RuleRef, ...] = (
    RuleRef("hosts.BK501_previous_package_unavailable", "PreviousPackageUnavailable"),
    RuleRef("inputs.BK901_unreadable_input", "UnreadableInput"),
    RuleRef("inputs.BK902_unused_or_unjustified_suppression", "UnusedOrUnjustifiedSuppression"),
    RuleRef("images.BK103_tag_reused_by_pipeline", "TagReusedByPipeline"),
    RuleRef("images.BK104_helm_rollback_hazard", "HelmRollbackHazard"),
    RuleRef("images.BK101_mutable_image_reference", "MutableImageReference"),
    RuleRef("images.BK102_revision_history_too_short", "RevisionHistoryTooShort"),
    RuleRef("images.BK105_immutable_field_changed", "ImmutableFieldChanged"),
    RuleRef("artifacts.BK305_unpinned_build_input", "UnpinnedBuildInput"),
    RuleRef(
        "artifacts.BK301_ci_artifact_retention_shorter_than_window",
        "CiArtifactRetentionShorterThanWindow",
    ),
    RuleRef(
        "artifacts.BK302_registry_lifecycle_expires_rollback_target",
        "RegistryLifecycleExpiresRollbackTarget",
    ),
    RuleRef("artifacts.BK303_rollback_target_missing", "RollbackTargetMissing"),
    RuleRef("artifacts.BK304_rollback_restores_same_image", "RollbackRestoresSameImage"),
    RuleRef("procedures.BK401_runbook_without_rollback", "RunbookWithoutRollback"),
    RuleRef("procedures.BK402_rollback_never_drilled", "RollbackNeverDrilled"),
    RuleRef("schema.BK201_not_null_column_without_default", "NotNullColumnWithoutDefault"),
    RuleRef("schema.BK202_column_or_table_dropped", "ColumnOrTableDropped"),
    RuleRef("schema.BK203_column_or_table_renamed", "ColumnOrTableRenamed"),
    RuleRef("schema.BK204_column_type_changed", "ColumnTypeChanged"),
    RuleRef("schema.BK205_not_null_set_on_existing_column", "NotNullSetOnExistingColumn"),
    RuleRef("schema.BK206_constraint_old_writes_may_violate", "ConstraintOldWritesMayViolate"),
    RuleRef("schema.BK207_irreversible_migration", "IrreversibleMigration"),
    RuleRef("schema.BK208_rollback_loses_data", "RollbackLosesData"),
    RuleRef("schema.BK209_expand_and_contract_in_one_release", "ExpandAndContractInOneRelease"),
    RuleRef("schema.BK211_old_code_fails_on_new_schema", "OldCodeFailsOnNewSchema"),
    RuleRef("schema.BK212_schema_not_restored", "SchemaNotRestored"),
)

_REF_BY_CODE = {ref.code: ref for ref in ALL_RULES}


@cache
def rules_by_code() -> dict[str, type[Rule]]:
    """Every rule class, keyed by its code (this imports every rule's module)."""
    return {code: _REF_BY_CODE[code].load() for code in all_codes()}


def all_codes() -> tuple[str, ...]:
    """Every rule code, sorted."""
    return tuple(sorted(_REF_BY_CODE))


def load_rule(code: str) -> type[Rule]:
    """The rule class with this code (``KeyError`` for none), importing only its module."""
    return _REF_BY_CODE[code].load()


def rule_for(code_or_name: str) -> type[Rule] | None:
    """The rule with this code (any case) or kebab-case name, if there is one."""
    wanted = code_or_name.strip()
    ref = _REF_BY_CODE.get(wanted.upper())
    if ref is not None:
        return ref.load()
    return next((rule for rule in rules_by_code().values() if rule.name == wanted.lower()), None)
