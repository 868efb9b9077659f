"""tests/reference/ holds copies of ../shared's contract and Datadog's reference pages, so that
a clone anywhere runs the whole suite; beside ../shared, the copies must be the same bytes."""

from __future__ import annotations

import pytest

from tests.conftest import REFERENCE, SHARED


def test_the_copies_are_the_shared_files_byte_for_byte() -> None:
    copies = sorted(p.relative_to(REFERENCE) for p in REFERENCE.rglob("*") if p.is_file())
    assert copies, "tests/reference/ is empty"
    if not SHARED.exists():
        pytest.skip(f"no {SHARED} beside this clone to compare with; the copies are used")
    originals = sorted(
        p.relative_to(SHARED)
        for folder in ("spec", "seeds")
        for p in (SHARED / folder).rglob("*")
        if p.is_file()
    )
    assert copies == originals
    for relative in copies:
        assert (REFERENCE / relative).read_bytes() == (SHARED / relative).read_bytes(), relative
