"""The browser harness itself, against real pages on a real socket: chromium loads them,
axe-core finds nothing serious in an accessible page and names the rule a broken one breaks,
and a screenshot lands in build/screenshots/. A broken harness fails here, not in every UI
test at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.ui.browser import assert_accessible, serious_violations, shoot

GOOD = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness: good</title></head>
<body>
<main>
<h1>Sign in</h1>
<form>
<label for="key">API key</label>
<input id="key" name="key" type="text">
<button type="button">Sign in</button>
</form>
</main>
</body>
</html>
"""
# The same page, but its input has no label: axe-core's "label" rule, impact critical.
BAD = GOOD.replace("<title>Harness: good</title>", "<title>Harness: bad</title>").replace(
    '<label for="key">API key</label>\n', ""
)
PAGES = {"/good": GOOD, "/bad": BAD}


class _Pages(BaseHTTPRequestHandler):
    """Serves PAGES; 404 for anything else (the browser asks for /favicon.ico)."""

    def do_GET(self) -> None:
        body = PAGES.get(urlsplit(self.path).path)
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a line on stderr per request says nothing the assertions don't."""


@pytest.fixture(scope="module")
def pages_url() -> Iterator[str]:
    """http.server on a free port of 127.0.0.1, in a thread, stopped and closed after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, name="harness-pages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chromium_loads_a_page_over_a_socket(page: Page, pages_url: str) -> None:
    response = page.goto(f"{pages_url}/good")
    assert response is not None
    assert response.ok
    expect(page).to_have_title("Harness: good")
    page.get_by_label("API key").fill("abc")
    expect(page.get_by_label("API key")).to_have_value("abc")
    assert page.evaluate("navigator.language") == "en-US"
    assert page.viewport_size == {"width": 1200, "height": 900}


def test_an_accessible_page_has_no_serious_violation(page: Page, pages_url: str) -> None:
    page.goto(f"{pages_url}/good")
    assert serious_violations(page) == []
    assert_accessible(page)


def test_an_unlabelled_input_is_named(page: Page, pages_url: str) -> None:
    page.goto(f"{pages_url}/bad")
    violations = serious_violations(page)
    assert [(v["id"], v["impact"], v["targets"]) for v in violations] == [
        ("label", "critical", ["#key"])
    ]
    assert violations[0]["help"]
    with pytest.raises(pytest.fail.Exception, match=r"- label \(critical\): .* at #key"):
        assert_accessible(page)


def test_a_screenshot_is_a_png_in_the_folder(page: Page, pages_url: str, screenshots: Path) -> None:
    page.goto(f"{pages_url}/good")
    target = screenshots / "harness-good.png"
    target.unlink(missing_ok=True)
    shot = shoot(page, screenshots, "harness-good")
    assert shot == target
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert shot.stat().st_size > 1000


def test_asyncio_runs_while_the_browser_lives() -> None:
    """Runs after the browser tests above, the session's browser still open: Playwright's loop
    must not be left marked running for a test that does not use the browser."""

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42
