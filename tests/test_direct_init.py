"""``direct_init``: the fast ``__init__`` of facts built in bulk acts as the dataclass one."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from backout.models import Location, direct_init
from backout.schema_operations import Column, Operation
from backout.sources.migration_facts import DownScript, Migration

FAST_CLASSES = [Location, Column, Operation, Migration, DownScript]


def _as_written_by_dataclasses(cls: type) -> Any:
    """The same fields in a frozen dataclass whose ``__init__`` dataclasses wrote."""
    return dataclasses.make_dataclass(
        cls.__name__,
        [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)],
        frozen=True,
    )


def _distinct_values(cls: type) -> list[object]:
    return [f"value of {f.name}" for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", FAST_CLASSES, ids=lambda cls: cls.__name__)
def test_same_signature_as_the_dataclass_init(cls: type) -> None:
    reference = inspect.signature(_as_written_by_dataclasses(cls).__init__)
    fast = inspect.signature(cls.__init__)
    assert [(p.name, p.kind, p.default) for p in fast.parameters.values()] == [
        (p.name, p.kind, p.default) for p in reference.parameters.values()
    ]


@pytest.mark.parametrize("cls", FAST_CLASSES, ids=lambda cls: cls.__name__)
def test_same_instance_as_the_dataclass_init(cls: type) -> None:
    reference = _as_written_by_dataclasses(cls)
    values = _distinct_values(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    by_position = cls(*values)
    by_keyword = cls(**dict(zip(names, values, strict=True)))
    assert vars(by_position) == vars(by_keyword) == vars(reference(*values))
    assert list(vars(by_position)) == names
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    minimal = {name: f"value of {name}" for name in required}
    assert vars(cls(**minimal)) == vars(reference(**minimal))


@pytest.mark.parametrize("cls", FAST_CLASSES, ids=lambda cls: cls.__name__)
def test_still_a_frozen_dataclass(cls: type) -> None:
    values = _distinct_values(cls)
    instance = cls(*values)
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, first, "changed")
    assert instance == cls(*values)
    assert hash(instance) == hash(cls(*values))
    assert getattr(dataclasses.replace(instance, **{first: "changed"}), first) == "changed"
    assert pickle.loads(pickle.dumps(instance)) == instance
    with pytest.raises(TypeError):
        cls(*values, "one too many")


def test_refuses_what_it_does_not_write() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithFactory:
        items: tuple[str, ...] = dataclasses.field(default_factory=tuple)

    @dataclasses.dataclass(frozen=True)
    class WithPostInit:
        name: str

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True)
    class WithKeywordOnly:
        name: str = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True)
    class WithoutInit:
        name: str = dataclasses.field(default="", init=False)

    @dataclasses.dataclass(frozen=True)
    class WithInitVar:
        name: dataclasses.InitVar[str]

    for cls in (WithFactory, WithPostInit, WithKeywordOnly, WithoutInit, WithInitVar):
        with pytest.raises(TypeError, match="not plain fields"):
            direct_init(cls)


def test_with_location_is_dataclasses_replace_of_the_location() -> None:
    from backout.models import Finding, Severity, Suppression, with_location

    suppression = Suppression(Location("a.yaml", 2), ("BK101",), "reviewed")
    finding = Finding(
        "BK101",
        "mutable-image-reference",
        Severity.ERROR,
        Location("a.yaml", 3, 7, 4, 2),
        "message",
        "fix",
        suppression,
    )
    moved = with_location(finding, Location("deploy/a.yaml", 3, 7, 4, 2))
    expected = dataclasses.replace(finding, location=Location("deploy/a.yaml", 3, 7, 4, 2))
    assert moved == expected
    assert vars(moved) == vars(expected)
    assert finding.location.path == "a.yaml"  # the original is left as it was
    with pytest.raises(dataclasses.FrozenInstanceError):
        moved.code = "BK102"  # type: ignore[misc]
