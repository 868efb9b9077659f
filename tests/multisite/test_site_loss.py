"""Site-loss drills against the lab's three sites (issue 27), each with writers through all
three sites' hamr: the leader's whole site killed, that site back, and a frozen leader woken
after the promotion. Each must lose no acknowledged write, answer no 500 (a 503 with
Retry-After instead), and leave the history intact; the site kill runs docs/multi-site.md's
drill as printed."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest

from tests import docs, local_http
from tests.multisite.writers import Readers, Writers, assert_safe

# Patroni's ttl is 20 s: the standby is promoted 20-25 s after the leader stops renewing it.
WRITES_BACK_WITHIN = 30
WARM_UP = 2.0
COOL_DOWN = 2.0


@pytest.fixture(scope="module")
def lost() -> dict[str, str]:
    """Which site the kill drill lost, for the drill that brings it back."""
    return {}


def wait_until(condition: Any, timeout: float, what: str) -> float:
    """Poll `condition` until it holds; when it did (monotonic time), or a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")


def member(lab: Any, name: str) -> dict[str, Any]:
    return next((m for m in lab.cluster() if m.get("name") == name), {})


def says_it_leads(site: Any) -> bool | None:
    """Whether the site's Patroni itself says its node leads (None: it does not answer): the
    cluster's view names the new leader before the old one knows."""
    try:
        local_http.get(f"{site.patroni_url}/primary", timeout=1).raise_for_status()
    except httpx.HTTPStatusError:
        return False
    except httpx.TransportError:
        return None
    return True


def test_losing_the_leaders_site_loses_no_acknowledged_write(
    lab: Any, lab_env: dict[str, str], lost: dict[str, str]
) -> None:
    leader = lab.leader()
    assert leader is not None
    survivors = {s.name for s in lab.sites} - {leader.name}
    with Writers(lab, "kill") as writers, Readers(lab, survivors) as readers:
        time.sleep(WARM_UP)
        drill = docs.run_sh(
            docs.block("docs/multi-site.md", "Lose the leader's site", 0),
            env=lab_env,
            cwd=docs.ROOT,
        )
        killed_at = time.monotonic()  # writes acknowledged before are the old leader's
        assert drill.returncode == 0, drill.stderr
        lost["site"] = leader.name
        back = writers.wait_for_write(killed_at, survivors, WRITES_BACK_WITHIN)
        time.sleep(COOL_DOWN)
    assert back is not None, f"no write acknowledged within {WRITES_BACK_WITHIN} s of the kill"
    print(f"kill {leader.name}: writes back after {back - killed_at:.1f} s; {writers.summary()}")
    assert_safe(lab, writers, down=frozenset({leader.name}))
    # The survivors' reads were answered throughout, from their own nodes, saying how old.
    refused = [answer for answer in readers.answers if answer[1] != 200]
    assert readers.answers, "no read was made"
    assert refused == [], f"reads the surviving sites did not answer: {refused[:5]}"
    oldest = max(int(staleness or 0) for _, _, staleness in readers.answers)
    print(f"kill {leader.name}: {len(readers.answers)} reads, all 200, oldest {oldest} ms")


def test_the_lost_site_rejoins_as_a_replica_and_serves_again(
    lab: Any, lab_env: dict[str, str], lost: dict[str, str]
) -> None:
    if "site" not in lost:  # run alone: lose a replica's site (no promotion to wait for)
        leader = lab.leader()
        lost["site"] = next(s.name for s in lab.sites if s != leader)
        lab.kill(lab.site(lost["site"]))
    site = lab.site(lost["site"])
    others = {s.name: lab.pid(s, "hamr") for s in lab.sites if s != site}
    started = time.monotonic()
    back = docs.run_sh(
        docs.block("docs/multi-site.md", "Bring the site back", 0), env=lab_env, cwd=docs.ROOT
    )
    assert back.returncode == 0, back.stdout + back.stderr
    wait_until(
        lambda: member(lab, site.name).get("state") == "streaming",
        60,
        f"{site.name} streaming as a replica",
    )
    role = member(lab, site.name).get("role")
    print(f"{site.name} back as {role} in {time.monotonic() - started:.1f} s")
    assert {s.name: lab.pid(s, "hamr") for s in lab.sites if s != site} == others, (
        "bringing one site back restarted another's hamr"
    )
    with Writers(lab, "rejoin") as writers:
        wait_until(
            lambda: any(a.status == 200 and a.site == site.name for a in writers.attempts),
            30,
            f"a write acknowledged through {site.name}",
        )
    assert_safe(lab, writers)
    verified = docs.run_sh(
        docs.block("docs/multi-site.md", "Bring the site back", 2), env=lab_env, cwd=docs.ROOT
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_frozen_leader_woken_after_the_promotion_acknowledges_nothing(lab: Any) -> None:
    leader = lab.leader()
    assert leader is not None
    frozen = lab.node_pids(leader)
    with Writers(lab, "freeze") as writers:
        time.sleep(WARM_UP)
        frozen_at = time.monotonic()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            promoted_at = wait_until(
                lambda: lab.leader() not in (None, leader), 60, "a promotion past the frozen leader"
            )
            time.sleep(COOL_DOWN)  # the old leader wakes after the promotion, not at it
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        woken_at = time.monotonic()
        demoted_at = wait_until(
            lambda: says_it_leads(leader) is False, 60, f"{leader.name} demoting itself"
        )
        back = writers.wait_for_write(woken_at, {s.name for s in lab.sites}, WRITES_BACK_WITHIN)
        time.sleep(COOL_DOWN)
    print(
        f"freeze {leader.name}: promoted after {promoted_at - frozen_at:.1f} s, demoted "
        f"{demoted_at - woken_at:.1f} s after waking; {writers.summary()}"
    )
    assert back is not None, "no write acknowledged after the frozen leader woke"
    assert_safe(lab, writers)
    for site in lab.sites:
        assert local_http.get(f"{site.url}/healthz", timeout=5).status_code == 200
