"""A partition that cuts the leader's site off from the two others (its namespace's frames
dropped on the lab's bridge, while the tests still reach every site), with writers through
all three sites' hamr: the majority promotes, the minority acknowledges nothing meanwhile (no
split brain), no acknowledged write is lost, and writes come back on the majority side.
docs/multi-site.md's partition commands run as printed."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from tests import docs
from tests.multisite.conftest import REQUIRE_ENV
from tests.multisite.test_site_loss import WARM_UP, WRITES_BACK_WITHIN, member, wait_until
from tests.multisite.writers import Writers, assert_safe


def test_a_partitioned_leaders_site_acknowledges_nothing_after_the_majority_promotes(
    lab: Any, lab_env: dict[str, str]
) -> None:
    if not lab.namespaces:
        reason = "partitions need the sites' namespaces (HAMR_LAB_NAMESPACES=0 was set)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    minority = lab.leader()
    assert minority is not None
    majority = {s.name for s in lab.sites} - {minority.name}
    most_primaries, promoted_at = 0, None
    with Writers(lab, "partition") as writers:
        time.sleep(WARM_UP)
        cut = docs.run_sh(
            docs.block("docs/multi-site.md", "Cut the leader's site off", 0),
            env=lab_env,
            cwd=docs.ROOT,
        )
        assert cut.returncode == 0, cut.stderr
        cut_at = time.monotonic()
        try:
            while promoted_at is None and time.monotonic() < cut_at + 60:
                primaries = lab.primaries()
                most_primaries = max(most_primaries, len(primaries))
                if any(s.name in majority for s in primaries):
                    promoted_at = time.monotonic()
                time.sleep(0.5)
            back = (
                writers.wait_for_write(promoted_at, majority, WRITES_BACK_WITHIN)
                if promoted_at is not None
                else None
            )
        finally:
            healed = docs.run_sh(
                docs.block("docs/multi-site.md", "Cut the leader's site off", 1),
                env=lab_env,
                cwd=docs.ROOT,
            )
        healed_at = time.monotonic()
        assert healed.returncode == 0, healed.stderr
        wait_until(
            lambda: member(lab, minority.name).get("state") == "streaming",
            90,
            f"{minority.name} back as a replica after the partition",
        )
    assert promoted_at is not None, "the majority promoted no leader within 60 s"
    after_promotion = [
        a
        for a in writers.attempts
        if a.site == minority.name and a.status == 200 and promoted_at < a.ended < healed_at
    ]
    gap = "not within 30 s" if back is None else f"{back - promoted_at:.1f} s after it"
    print(
        f"partition {minority.name}: promoted after {promoted_at - cut_at:.1f} s, majority "
        f"writes back {gap}; {writers.summary()}"
    )
    assert most_primaries == 1, "two sites led at once (split brain)"
    assert after_promotion == [], f"the minority acknowledged writes: {after_promotion[:5]}"
    assert back is not None, (
        f"no write through {sorted(majority)} acknowledged within {WRITES_BACK_WITHIN} s of "
        f"the promotion ({writers.summary()})"
    )
    assert_safe(lab, writers)
