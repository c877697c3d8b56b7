"""The sessions list: the API's filters from the form (kept in the route), cursor paging."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.console.conftest import Console, console_jwt
from tests.console.seed import create, failed_session
from tests.support.tenants import Tenant

PAGE = 50


def test_the_session_list_filters_through_the_api_and_pages_by_cursor(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    for index in range(PAGE + 2):
        create(http, tenant, f"console-list-{index:02d}", environment="ci" if index % 2 else "staging")
    failed_session(http, tenant, "console-list-failed")
    token = console_jwt(tenant, "viewer")
    console = open_console()
    page = console.page
    console.sign_in(token, "#/sessions")
    rows = page.locator("tbody tr[data-session]")
    expect(rows).to_have_count(PAGE)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(PAGE + 3)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    assert len(set(rows.evaluate_all("rs => rs.map(r => r.dataset.session)"))) == PAGE + 3

    page.get_by_label("Status").select_option("failure")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-session", "console-list-failed")
    assert "status=failure" in page.url

    page.get_by_role("link", name="Clear").click()
    # The cleared view renders anew: filling the form before it would fill the old one's inputs.
    expect(rows).to_have_count(PAGE)
    page.get_by_label("Environment").fill("ci")
    page.get_by_label("Text").fill("list-0")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(5)  # console-list-01, 03, 05, 07, 09
    page.get_by_label("Label").fill("not_found")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("No sessions match")
    console.assert_no_secret_leaked(token)
