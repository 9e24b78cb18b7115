"""Every rule backout has, named explicitly (no registration by import side effect).

To add a rule: write one module in its family's package (file name starting with its code),
add its class to ``ALL_RULES`` below, and add its fixtures under ``tests/fixtures/rules/``.
"""

from __future__ import annotations

from functools import cache

from backout.rules.artifacts.BK301_ci_artifact_retention_shorter_than_window import (
    CiArtifactRetentionShorterThanWindow,
)
from backout.rules.artifacts.BK302_registry_lifecycle_expires_rollback_target import (
    RegistryLifecycleExpiresRollbackTarget,
)
from backout.rules.artifacts.BK303_rollback_target_missing import RollbackTargetMissing
from backout.rules.artifacts.BK304_rollback_restores_same_image import RollbackRestoresSameImage
from backout.rules.artifacts.BK305_unpinned_build_input import UnpinnedBuildInput
from backout.rules.base import Rule
from backout.rules.hosts.BK501_previous_package_unavailable import PreviousPackageUnavailable
from backout.rules.images.BK101_mutable_image_reference import MutableImageReference
from backout.rules.images.BK102_revision_history_too_short import RevisionHistoryTooShort
from backout.rules.images.BK103_tag_reused_by_pipeline import TagReusedByPipeline
from backout.rules.images.BK104_helm_rollback_hazard import HelmRollbackHazard
from backout.rules.images.BK105_immutable_field_changed import ImmutableFieldChanged
from backout.rules.inputs.BK901_unreadable_input import UnreadableInput
from backout.rules.inputs.BK902_unused_or_unjustified_suppression import (
    UnusedOrUnjustifiedSuppression,
)
from backout.rules.procedures.BK401_runbook_without_rollback import RunbookWithoutRollback
from backout.rules.procedures.BK402_rollback_never_drilled import RollbackNeverDrilled
from backout.rules.schema.BK201_not_null_column_without_default import (
    NotNullColumnWithoutDefault,
)
from backout.rules.schema.BK202_column_or_table_dropped import ColumnOrTableDropped
from backout.rules.schema.BK203_column_or_table_renamed import ColumnOrTableRenamed
from backout.rules.schema.BK204_column_type_changed import ColumnTypeChanged
from backout.rules.schema.BK205_not_null_set_on_existing_column import (
    NotNullSetOnExistingColumn,
)
from backout.rules.schema.BK206_constraint_old_writes_may_violate import (
    ConstraintOldWritesMayViolate,
)
from backout.rules.schema.BK207_irreversible_migration import IrreversibleMigration
from backout.rules.schema.BK208_rollback_loses_data import RollbackLosesData
from backout.rules.schema.BK209_expand_and_contract_in_one_release import (
    ExpandAndContractInOneRelease,
)
from backout.rules.schema.BK211_old_code_fails_on_new_schema import OldCodeFailsOnNewSchema
from backout.rules.schema.BK212_schema_not_restored import SchemaNotRestored

ALL_RULES: tuple[type[Rule], ...] = (
    PreviousPackageUnavailable,
    UnreadableInput,
    UnusedOrUnjustifiedSuppression,
    TagReusedByPipeline,
    HelmRollbackHazard,
    MutableImageReference,
    RevisionHistoryTooShort,
    ImmutableFieldChanged,
    UnpinnedBuildInput,
    CiArtifactRetentionShorterThanWindow,
    RegistryLifecycleExpiresRollbackTarget,
    RollbackTargetMissing,
    RollbackRestoresSameImage,
    RunbookWithoutRollback,
    RollbackNeverDrilled,
    NotNullColumnWithoutDefault,
    ColumnOrTableDropped,
    ColumnOrTableRenamed,
    ColumnTypeChanged,
    NotNullSetOnExistingColumn,
    ConstraintOldWritesMayViolate,
    IrreversibleMigration,
    RollbackLosesData,
    ExpandAndContractInOneRelease,
    OldCodeFailsOnNewSchema,
    SchemaNotRestored,
)


@cache
def rules_by_code() -> dict[str, type[Rule]]:
    """Every rule class, keyed by its code."""
    return {rule.code: rule for rule in sorted(ALL_RULES, key=lambda r: r.code)}


def all_codes() -> tuple[str, ...]:
    """Every rule code, sorted."""
    return tuple(rules_by_code())


def rule_for(code_or_name: str) -> type[Rule] | None:
    """The rule with this code (any case) or kebab-case name, if there is one."""
    wanted = code_or_name.strip()
    for rule in ALL_RULES:
        if rule.code == wanted.upper() or rule.name == wanted.lower():
            return rule
    return None
