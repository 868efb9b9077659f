"""Helpers for the browser tests: Debian's chromium found (or installed), axe-core's rules run
in the page, full-page screenshots, and Playwright's event loop kept out of the other tests."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, TypedDict

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, ViewportSize

from tests import apt

VIEWPORT: ViewportSize = {"width": 1200, "height": 900}
LOCALE = "en-US"
TIMEOUT_MS = 10_000
# axe-core's impacts, least to most; the tests fail on the two that block people.
SERIOUS = frozenset({"serious", "critical"})
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc"})

# axe-playwright-python ships axe.min.js and injects it itself: no download, no Node step.
_AXE = Axe()


class Violation(TypedDict):
    """One axe-core rule the page breaks, with the elements that break it."""

    id: str
    impact: str
    help: str
    targets: list[str]


def _has_fonts() -> bool:
    """Without any font chromium draws every letter as a box and the screenshots say nothing."""
    return any(
        path.suffix.lower() in FONT_SUFFIXES
        for folder in FONT_DIRS
        if folder.is_dir()
        for path in folder.rglob("*")
    )


def chromium_executable() -> str:
    """Debian's chromium (Playwright's own browser download cannot work here), installed with
    apt-get when missing; fails rather than skips, so that CI runs every browser test."""
    found = shutil.which("chromium")
    if found is None:
        reason = apt.install("chromium")
        found = shutil.which("chromium")
        if found is None:
            pytest.fail(
                f"the browser tests need Debian's chromium: {reason or 'apt-get installed none'}",
                pytrace=False,
            )
    if not _has_fonts():
        reason = apt.install("fonts-dejavu-core")
        if not _has_fonts():
            pytest.fail(
                f"the screenshots need a font: {reason or 'apt-get installed none'}",
                pytrace=False,
            )
    return found


def _target(node: dict[str, Any]) -> str:
    """axe-core names an element by selectors, one per frame or shadow root it sits in."""
    parts = node.get("target", [])
    return " >>> ".join(" ".join(part) if isinstance(part, list) else str(part) for part in parts)


def serious_violations(page: Page) -> list[Violation]:
    """axe-core's rules run in the page as it stands; the violations that are serious or
    critical, since those are the ones that lock someone out of a page."""
    response = _AXE.run(page).response
    return [
        Violation(
            id=violation["id"],
            impact=violation["impact"],
            help=violation["help"],
            targets=[_target(node) for node in violation["nodes"]],
        )
        for violation in response["violations"]
        if violation.get("impact") in SERIOUS
    ]


def assert_accessible(page: Page) -> None:
    """Fail naming each serious violation, its rule and the elements, so the report is the fix."""
    violations = serious_violations(page)
    if violations:
        lines = [
            f"- {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}"
            for v in violations
        ]
        pytest.fail(
            f"{page.url} breaks {len(violations)} of axe-core's rules:\n" + "\n".join(lines),
            pytrace=False,
        )


def shoot(page: Page, screenshots: Path, name: str) -> Path:
    """A full-page PNG `<name>.png` in the screenshots folder, for a person to look at."""
    path = screenshots / f"{name}.png"
    page.screenshot(path=path, full_page=True, animations="disabled")
    return path


class LoopParking:
    """Playwright's sync API leaves its event loop marked as this thread's running loop between
    calls, so while the session's browser lives, `asyncio.run()` in any other test would raise
    "cannot be called from a running event loop". The loop is parked (unmarked) after each
    browser test and put back before the next one; nothing runs on it in between, since the sync
    API drives it only from inside its own calls."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def park(self) -> None:
        """Unmark Playwright's loop, keeping it for the next browser test."""
        running = asyncio._get_running_loop()
        if running is not None and running is self._loop:
            asyncio._set_running_loop(None)

    def resume(self) -> None:
        """Mark Playwright's loop as running again, as its sync API expects."""
        if self._loop is not None and asyncio._get_running_loop() is None:
            asyncio._set_running_loop(self._loop)

    def adopt(self) -> None:
        """Remember the loop a just-started Playwright left marked."""
        self._loop = asyncio._get_running_loop()

    def forget(self) -> None:
        """Playwright has stopped and closed its loop."""
        self._loop = None


def sign_in(page: Page, base_url: str, api_key: str, app_key: str) -> None:
    """Fill and send the sign-in form with an API key and an application key."""
    page.goto(f"{base_url}/ui/sign-in")
    page.get_by_label("API key (DD-API-KEY)").fill(api_key)
    page.get_by_label("Application key (DD-APPLICATION-KEY)").fill(app_key)
    page.get_by_role("button", name="Sign in").click()
