"""``_Names``, the dict of table and column names that MySQL and SQLite find ignoring case:
every way of putting a name in it folds the name, as its lookups do."""

from __future__ import annotations

import pytest

from backout.schema_model import _Names, name_key


def _names() -> _Names[int]:
    fold = name_key("mysql")
    assert fold is not None
    return _Names(fold, [("Users", 1)])


def test_init_folds_items_and_keyword_names() -> None:
    names = _Names(str.lower, [("Users", 1)], Orders=2)
    assert dict(names) == {"users": 1, "orders": 2}
    assert "ORDERS" in names


def test_update_folds_a_mapping_pairs_and_keywords() -> None:
    names = _names()
    names.update({"USERS": 5})
    names.update([("Orders", 2)], Items=3)
    assert dict(names) == {"users": 5, "orders": 2, "items": 3}


def test_copy_keeps_the_fold() -> None:
    copied = _names().copy()
    assert isinstance(copied, _Names)
    copied["USERS"] = 7
    assert dict(copied) == {"users": 7}


def test_or_folds_the_other_side() -> None:
    merged = _names() | {"USERS": 2, "Orders": 3}
    assert isinstance(merged, _Names)
    assert dict(merged) == {"users": 2, "orders": 3}
    merged_right = {"USERS": 2, "Orders": 3} | _names()
    assert isinstance(merged_right, _Names)
    assert dict(merged_right) == {"users": 1, "orders": 3}


def test_ior_folds_in_place() -> None:
    names = _names()
    same = names
    names |= {"USERS": 4, "Orders": 5}
    assert names is same
    assert dict(names) == {"users": 4, "orders": 5}


def test_fromkeys_refuses_without_a_fold() -> None:
    with pytest.raises(TypeError, match="fromkeys has no fold"):
        _Names.fromkeys(["Users"])


def test_setdefault_pop_get_fold() -> None:
    names = _names()
    assert names.setdefault("USERS", 9) == 1
    assert names.get("uSERS") == 1
    assert names.pop("USERS") == 1
    assert not names
