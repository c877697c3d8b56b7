"""Console end-to-end tests: headless Debian chromium driven by Playwright against a real server.

Every page runs with the network limited to the server (anything else is aborted and recorded)
and every requested URL is recorded, so each test can check that no token ever lands in one.
Screenshots of each view go to CONSOLE_SCREENSHOTS (docs/console.md).
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, sync_playwright

from api.app import create_app
from api.config import Settings
from tests.api.conftest import SERVICE_TOKEN, settings_for
from tests.support.artifacts import SIGNING_KEY
from tests.support.ensure_chromium import CHROMIUM
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCREENSHOTS = Path(os.environ.get("AGENTDECK_CONSOLE_SCREENSHOTS", ROOT / ".agentdeck" / "console-screenshots"))
DOC_SCREENSHOTS = ROOT / "docs" / "console"
Result = TypeVar("Result")


def console_jwt(tenant: Tenant, name: str = "member") -> str:
    """What a user pastes into the sign-in form."""
    return tenant.user(name)["Authorization"].removeprefix("Bearer ")


def off_the_browser_loop(function: Callable[..., Result], *args: Any) -> Result:
    """Playwright's sync API keeps an event loop running in this thread: asyncio-based set-up runs in another."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture(scope="session")
def console_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("console-data")
    return settings_for(database_url, AGENTDECK_DATA_DIR=str(data_dir), AGENTDECK_ARTIFACT_SIGNING_KEY=SIGNING_KEY)


@pytest.fixture(scope="session")
def console_server(console_settings: Settings, database_url: str) -> Iterator[RunningServer]:
    with RunningServer(create_app(console_settings, database_url)) as running:
        yield running


@pytest.fixture
def http(console_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def tenant(database_url: str, console_settings: Settings) -> Tenant:
    return off_the_browser_loop(make_tenant, database_url, console_settings, 1)


@pytest.fixture
def other_tenant(database_url: str, console_settings: Settings) -> Tenant:
    return off_the_browser_loop(make_tenant, database_url, console_settings, 1)


# Package scope: while Playwright runs, this thread has a running event loop, so tests outside
# this package (asyncio.run in their fixtures) must run before it starts or after it stops.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    yield launched
    launched.close()


@dataclass
class Console:
    """A browser tab on the console, with every URL it requested and every request it was refused."""

    page: Page
    base_url: str
    requested: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    stream_requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.base_url}/console{route}")

    def sign_in(self, token: str, route: str = "") -> None:
        self.open(route)
        self.page.get_by_label("Console token (JWT)").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#nav").wait_for(state="visible")

    def shoot(self, name: str) -> None:
        CONSOLE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = CONSOLE_SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        if os.environ.get("AGENTDECK_UPDATE_DOC_SCREENSHOTS") == "1":
            DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOC_SCREENSHOTS / path.name)

    def assert_no_secret_leaked(self, *secrets: str) -> None:
        """No token in any URL requested or in the page, nothing requested elsewhere, no error raised."""
        assert self.requested, "the page requested nothing"
        html = self.page.content()
        for secret in (*secrets, SERVICE_TOKEN):
            assert secret not in html, "a token is in the page"
        for url in self.requested:
            for secret in (*secrets, SERVICE_TOKEN):
                assert secret not in url, f"a token appears in {url}"
        assert all(url.startswith(self.base_url) for url in self.requested if not url.startswith(("blob:", "data:"))), \
            self.requested
        assert self.blocked == [], f"the page tried to leave the server: {self.blocked}"
        assert self.errors == [], f"the page raised: {self.errors}"


@pytest.fixture
def open_console(browser: Browser, console_server: RunningServer) -> Iterator[Callable[..., Console]]:
    contexts = []

    def open_one(width: int = 1280, height: int = 800) -> Console:
        context = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        console = Console(page, console_server.base_url)
        base = console_server.base_url

        def outside(url: str) -> bool:
            return not (url.startswith(f"{base}/") or url == base)

        # Only requests leaving the server are intercepted (and refused): the server's own,
        # streams included, go straight through.
        context.route(outside, lambda route: (console.blocked.append(route.request.url), route.abort()))
        page.on("request", lambda request: console.requested.append(request.url))
        page.on("pageerror", lambda error: console.errors.append(str(error)))
        # A Content-Security-Policy violation is only ever reported on the console.
        page.on("console", lambda message: console.errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.on("request", lambda request: console.stream_requests.append(request)
                if request.url.startswith(f"{base}/api/stream") else None)
        return console

    yield open_one
    for context in contexts:
        context.close()
