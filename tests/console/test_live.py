"""Live: new sessions and events arrive while the page is open; after a network drop the console
resumes with Last-Event-ID and shows every missed event exactly once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.console.conftest import Console, console_jwt
from tests.console.seed import append, create
from tests.support.tenants import Tenant


def logs(first: int, last: int) -> list[dict[str, object]]:
    return [{"seq": s, "type": "log", "payload": {"level": "info", "message": f"step {s}"}} for s in range(first, last + 1)]


def test_new_sessions_and_events_arrive_live_and_a_network_drop_is_backfilled_without_duplicates(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    token = console_jwt(tenant, "member")
    console = open_console()
    page = console.page
    console.sign_in(token, "#/sessions")
    expect(page.locator(".sessions .live-state")).to_have_text("● live")
    create(http, tenant, "console-live-1", name="live run")
    expect(page.locator("tr[data-session='console-live-1']")).to_contain_text("running")

    append(http, tenant, "console-live-1", logs(1, 3))
    page.locator("tr[data-session='console-live-1']").get_by_role("link").click()
    timeline = page.locator(".timeline li[data-seq]")
    expect(timeline).to_have_count(3)
    expect(page.locator(".session-head .live-state")).to_have_text("● live")
    append(http, tenant, "console-live-1", logs(4, 4))
    expect(page.locator(".timeline li[data-seq='4']")).to_contain_text("step 4")

    page.context.set_offline(True)
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator(".session-head .live-state")).to_have_text("offline — will resume")
    append(http, tenant, "console-live-1", logs(5, 7))
    console.shoot("offline")
    expect(timeline).to_have_count(4)  # nothing reaches an offline page
    connects = len(console.stream_requests)
    page.context.set_offline(False)
    expect(page.locator(".timeline li[data-seq='7']")).to_contain_text("step 7")
    append(http, tenant, "console-live-1", logs(8, 8))
    expect(page.locator(".timeline li[data-seq='8']")).to_be_visible()
    assert [int(s) for s in timeline.evaluate_all("rows => rows.map(r => r.dataset.seq)")] == list(range(1, 9))

    events = http.get("/api/traces/console-live-1/events", headers=tenant.key()).json()["events"]
    position_of_4 = next(e["position"] for e in events if e["seq"] == 4)
    resumed = console.stream_requests[connects:]
    assert resumed and resumed[0].all_headers().get("last-event-id") == str(position_of_4)

    page.goto(f"{console.base_url}/console#/live")
    expect(page.locator(".live .live-state")).to_have_text("● live")
    append(http, tenant, "console-live-1", logs(9, 9))
    expect(page.locator(".feed li")).to_contain_text("step 9")
    console.shoot("live")
    console.assert_no_secret_leaked(token, tenant.keys[tenant.projects[0]])
