"""The Playwright hook against a real Chromium and a local site: navigations, actions, screenshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from agentdeck import Tracer
from agentdeck.hooks.playwright import record
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

# Debian's chromium package; Playwright drives it instead of downloading its own build.
CHROMIUM = os.environ.get("AGENTDECK_TEST_CHROMIUM", "/usr/lib/chromium/chromium")

PAGES = {
    "/": '<a id="next" href="/next">next</a><input id="q"><button id="noop">nothing</button>',
    "/next": "<p>second page</p>",
}


async def page(request: Any) -> HTMLResponse:
    body = PAGES.get(request.url.path)
    return HTMLResponse(body or "<p>missing</p>", status_code=200 if body else 404)


@pytest.fixture(scope="module")
def site() -> Iterator[RunningServer]:
    app = Starlette(routes=[Route("/", page), Route("/next", page), Route("/missing", page)])
    with RunningServer(app) as running:
        yield running


def test_navigations_actions_and_screenshots_become_browser_events(site: RunningServer, server: RunningServer,
                                                                   client: httpx.Client, tenant: Tenant) -> None:
    assert Path(CHROMIUM).exists(), f"Chromium is required at {CHROMIUM} (apt install chromium)"
    with Tracer(server.base_url, tenant.keys[tenant.projects[0]]) as tracer, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            with tracer.session() as session:
                tab = record(browser.new_page())
                tab.goto(f"{site.base_url}/")
                tab.fill("#q", "shoes")
                tab.click("#noop")
                with pytest.raises(PlaywrightError):
                    tab.click("#absent", timeout=300)
                tab.click("#next")
                tab.wait_for_url(f"{site.base_url}/next")
                tab.goto(f"{site.base_url}/missing")
        finally:
            browser.close()
        counts = tracer.flush(timeout=60)
    assert counts.rejected == 0, counts.rejections
    events = client.get(f"/api/traces/{session.id}/events", headers=tenant.key()).json()["events"]
    browser_events = [e for e in events if e["type"].startswith("browser.")]
    navigations = [e["payload"] for e in browser_events if e["type"] == "browser.navigation"]
    actions = [e["payload"] for e in browser_events if e["type"] == "browser.action"]
    assert (navigations[0]["url"], navigations[0]["status_code"]) == (f"{site.base_url}/", 200)
    assert any(n["url"] == f"{site.base_url}/next" and n.get("initiator") == "page" for n in navigations)
    assert (navigations[-1]["url"], navigations[-1]["status_code"]) == (f"{site.base_url}/missing", 404)
    assert [(a["action"], a["selector"], a["status"]) for a in actions] == [
        ("fill", "#q", "ok"), ("click", "#noop", "ok"), ("click", "#absent", "error"), ("click", "#next", "ok")]
    assert actions[2]["error"]["type"] == "TimeoutError"
    assert all(len(a["screenshot_digest"]) == 64 and len(a["dom_digest"]) == 64 for a in actions)
    screenshots = [e for e in events if e["type"] == "artifact"]
    assert len(screenshots) == 2 + len(actions)  # one per goto and per action
