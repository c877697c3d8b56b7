"""Compare a failed run with its fixed twin; work the incident it opened, as a member and as a viewer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.console.conftest import Console, console_jwt
from tests.console.seed import failed_session, succeeded_session
from tests.support.tenants import Tenant


def test_two_sessions_compare_side_by_side_with_the_first_divergence_and_each_sides_findings(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    failed_session(http, tenant, "console-before")
    succeeded_session(http, tenant, "console-after")
    token = console_jwt(tenant, "member")
    console = open_console()
    page = console.page
    console.sign_in(token, "#/sessions")
    compare = page.get_by_role("button", name="Compare selected")
    expect(compare).to_be_disabled()
    page.get_by_label("Compare console-before").check()
    page.get_by_label("Compare console-after").check()
    compare.click()

    expect(page.locator(".compare .banner")).to_have_text("First divergence at step 5")
    divergence = page.locator("tr.divergence")
    expect(divergence.locator("td").nth(0)).to_contain_text("404 Not Found")
    expect(divergence.locator("td").nth(1)).to_contain_text("fetch_page ✓")
    expect(page.locator("tr.divergence ~ tr")).to_have_count(2)  # the two steps after it
    heads = page.locator(".compare-side-head")
    expect(heads.nth(0)).to_contain_text("not_found")
    expect(heads.nth(0)).to_contain_text("critical step #3")
    expect(heads.nth(1)).to_contain_text("no findings")
    console.shoot("compare")
    divergence.locator("td").nth(1).get_by_role("link", name="#5").click()
    expect(page.locator(".timeline li[aria-selected='true']")).to_have_attribute("data-seq", "5")
    expect(page.locator(".session-head h2")).to_have_text("pricing question (fixed)")
    console.assert_no_secret_leaked(token)


def incident_of(http: httpx.Client, tenant: Tenant, label: str) -> dict[str, object]:
    incidents = http.get("/api/incidents", params={"label": label}, headers=tenant.key()).json()["incidents"]
    assert len(incidents) == 1, incidents
    return incidents[0]  # type: ignore[no-any-return]


def test_a_member_changes_an_incidents_status_and_owner_and_a_viewer_is_refused(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    failed_session(http, tenant, "console-incident-1")
    incident = incident_of(http, tenant, "not_found")
    # A rules-only fix run (no model configured here) and a pending regression run to show beside it.
    fix = http.post(f"/api/incidents/{incident['id']}/fix-agent", headers=tenant.user("member"))
    assert fix.status_code == 201, fix.text
    regression = http.post(f"/api/incidents/{incident['id']}/regression-runs", json={"name": "after the fix"},
                           headers=tenant.key())
    assert regression.status_code == 201, regression.text
    member = console_jwt(tenant, "member")
    console = open_console()
    page = console.page
    console.sign_in(member, "#/incidents")
    row = page.locator(f"tr[data-incident='{incident['id']}']")
    expect(row).to_contain_text("open")
    row.get_by_role("link").click()
    detail = page.get_by_role("article", name="Incident")
    expect(detail.locator(".incident-sessions")).to_contain_text("pricing question")
    fix_runs = page.locator("[data-section='fix-runs']")
    expect(fix_runs).to_contain_text(fix.json()["fix_run_id"])
    expect(fix_runs).to_contain_text("Fallback: no_model_configured")
    expect(fix_runs.locator(".plan")).to_contain_text("what_failed: ")
    regression_runs = page.locator("[data-section='regression-runs']")
    expect(regression_runs).to_contain_text("after the fix")
    expect(regression_runs.locator("tbody tr")).to_have_count(1)
    expect(regression_runs.locator("tbody tr")).to_contain_text("console-incident-1")
    console.shoot("incident-runs")

    detail.get_by_label("Status").select_option("acknowledged")
    expect(detail.locator(".save-status")).to_have_text("Saved: acknowledged, unassigned")
    detail.get_by_label("Owner").select_option(tenant.users["member"])
    expect(detail.locator(".save-status")).to_contain_text("Saved: acknowledged, me")
    expect(row).to_contain_text("acknowledged")
    expect(detail.locator(".chip.status-acknowledged")).to_be_visible()
    stored = incident_of(http, tenant, "not_found")
    assert (stored["status"], stored["owner"]) == ("acknowledged", tenant.users["member"])
    console.shoot("incidents")

    viewer = console_jwt(tenant, "viewer")
    watcher = open_console()
    watcher.sign_in(viewer, f"#/incidents?open={incident['id']}")
    seen = watcher.page.get_by_role("article", name="Incident")
    expect(seen.get_by_label("Status")).to_be_disabled()
    expect(seen.get_by_label("Owner")).to_be_disabled()
    expect(seen.locator("[data-readonly]")).to_contain_text("viewer")
    watcher.shoot("incident-viewer")
    # Controls forced back on in the page: the API refuses the change and the console says so.
    seen.get_by_label("Status").evaluate("select => { select.disabled = false; }")
    seen.get_by_label("Status").select_option("resolved")
    expect(seen.locator(".save-status")).to_contain_text("Refused")
    expect(seen.get_by_label("Status")).to_have_value("acknowledged")
    assert incident_of(http, tenant, "not_found")["status"] == "acknowledged"
    console.assert_no_secret_leaked(member)
    watcher.assert_no_secret_leaked(viewer)
