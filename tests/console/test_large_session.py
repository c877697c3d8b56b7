"""A long session opens at its critical step by reading one page around it, pages on demand, and
is searched page by page: what the browser loads does not grow with the session."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import expect

from tests.console.conftest import Console, console_jwt
from tests.console.seed import append, create
from tests.support.tenants import Tenant

EVENTS = 20_000
FAILURE_SEQ = 15_000
CAUSE_SEQ = FAILURE_SEQ - 1  # the deploy call that failed: the critical step


def long_failing_run(http: httpx.Client, tenant: Tenant, trace_id: str) -> None:
    create(http, tenant, trace_id, name="long run")
    for first in range(1, EVENTS + 1, 1000):
        batch = []
        for seq in range(first, first + 1000):
            if seq == FAILURE_SEQ - 1:
                batch.append({"seq": seq, "type": "tool.call", "payload": {"tool": "deploy", "arguments": {"env": "prod"}}})
            elif seq == FAILURE_SEQ:
                batch.append({"seq": seq, "type": "tool.result", "parent_seq": seq - 1, "payload": {
                    "tool": "deploy", "status": "error", "error": {"type": "PermissionDenied", "code": 403,
                                                                 "message": "403 Forbidden: deploy to prod"}}})
            else:
                batch.append({"seq": seq, "type": "log", "payload": {"level": "info", "message": f"poll {seq}"}})
        append(http, tenant, trace_id, batch)
    assert http.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key()).json()["critical_step"]["seq"] == CAUSE_SEQ


def event_pages(console: Console, trace_id: str) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(url).query) for url in console.requested if f"/api/traces/{trace_id}/events" in url]


def test_a_long_session_opens_at_its_critical_step_from_one_page_and_pages_on_demand(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    long_failing_run(http, tenant, "console-long-1")
    token = console_jwt(tenant, "member")
    console = open_console()
    page = console.page
    console.sign_in(token, "#/session/console-long-1")
    selected = page.locator(".timeline li[aria-selected='true']")
    expect(selected).to_have_attribute("data-seq", str(CAUSE_SEQ))
    rows = page.locator(".timeline li[data-seq]")
    expect(rows).to_have_count(500)
    assert event_pages(console, "console-long-1") == [
        {"project_id": [tenant.projects[0]], "after_seq": [str(CAUSE_SEQ - 101)], "limit": ["500"]}]

    page.get_by_role("button", name="Load earlier events").click()
    expect(rows).to_have_count(1000)
    assert rows.first.get_attribute("data-seq") == str(CAUSE_SEQ - 600)
    selected.press("End")
    expect(selected).to_have_attribute("data-seq", str(CAUSE_SEQ + 399))
    selected.press("ArrowDown")  # past the window's end: the next page is fetched, then the move is made
    expect(selected).to_have_attribute("data-seq", str(CAUSE_SEQ + 400))
    expect(rows).to_have_count(1500)

    page.get_by_label("Search the trace").fill("403 forbidden")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".search-results")).to_contain_text("1 match ·")
    expect(selected).to_have_attribute("data-seq", str(FAILURE_SEQ))
    scans = [p for p in event_pages(console, "console-long-1") if p.get("limit") == ["5000"]]
    assert len(scans) == EVENTS // 5000 + 1  # the last, empty page says the end was reached
    console.shoot("replay-long")
    console.assert_no_secret_leaked(token)
