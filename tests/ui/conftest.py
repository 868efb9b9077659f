"""Browser fixtures: one chromium (Debian's, driven by Playwright) for the session, a fresh
context per test so that no cookie or storage leaks between tests, and a fixed screenshots
folder, build/screenshots/, that docs/failover.md can point to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT
from tests.ui.browser import LOCALE, TIMEOUT_MS, VIEWPORT, LoopParking, chromium_executable

SCREENSHOTS = ROOT / "build" / "screenshots"
_PARKING = LoopParking()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Found, or apt-get installed, once a session: the install takes a minute or two."""
    return chromium_executable()


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One browser for the session: launching chromium costs more than a test."""
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
    except BaseException:
        playwright.stop()
        raise
    _PARKING.adopt()
    try:
        yield launched
    finally:
        # The last test of the session may be one that parked the loop.
        _PARKING.resume()
        try:
            launched.close()
        finally:
            playwright.stop()
            _PARKING.forget()


@pytest.fixture(autouse=True)
def _playwright_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's loop marked running only during the tests that use the browser."""
    if "browser" in request.fixturenames:
        _PARKING.resume()
    yield
    _PARKING.park()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new context per test: its own cookies and storage, a desktop viewport, US English."""
    context = browser.new_context(viewport=VIEWPORT, locale=LOCALE)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests write their PNGs; a fixed folder, so a person knows where to look."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
