"""tests/reference/ holds copies of ../shared's contract and Datadog's reference pages, so that
a clone anywhere runs the whole suite. The copies must be the bytes recorded in
tests/reference.sha256, in every clone; beside ../shared, they must also be its files, byte
for byte, so that a change there is noticed here."""

from __future__ import annotations

import hashlib

from tests.conftest import REFERENCE, ROOT, SHARED

RECORDED = ROOT / "tests" / "reference.sha256"


def test_the_copies_are_the_recorded_bytes_and_beside_shared_its_files() -> None:
    copies = {
        p.relative_to(REFERENCE).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(REFERENCE.rglob("*"))
        if p.is_file()
    }
    assert copies, "tests/reference/ is empty"
    recorded = dict(
        reversed(line.split("  ", 1)) for line in RECORDED.read_text().splitlines() if line
    )
    assert copies == recorded
    if not SHARED.exists():
        return  # a clone elsewhere: the recorded bytes above are what holds the copies
    originals = {
        p.relative_to(SHARED).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("spec", "seeds")
        for p in sorted((SHARED / folder).rglob("*"))
        if p.is_file()
    }
    assert copies == originals
