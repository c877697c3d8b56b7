"""Sign in, find a failed session, land on its critical step with the evidence, see its screenshot
through a signed URL, search the trace, move through it with the keyboard."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Response, expect

from tests.console.conftest import Console, console_jwt
from tests.console.seed import failed_session
from tests.support.tenants import Tenant


def test_failed_session_opens_at_its_critical_step_with_evidence_screenshot_and_search(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console],
) -> None:
    seeded = failed_session(http, tenant, "console-failed-1")
    critical = seeded["analysis"]["critical_step"]
    # The critical step is the cause (the model's turn that called fetch_page); the 404 shows at 5.
    assert critical is not None and (critical["seq"], critical["observed_seq"]) == (3, 5)
    token = console_jwt(tenant, "member")
    console = open_console()
    page = console.page

    console.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    console.shoot("sign-in")
    console.sign_in(token)
    row = page.locator("tr[data-session='console-failed-1']")
    expect(row).to_contain_text("pricing question")
    expect(row).to_contain_text("failure")
    expect(row).to_contain_text("not_found")
    console.shoot("sessions")

    row.get_by_role("link").click()
    expect(page.get_by_text("Opened at the critical step #3")).to_be_visible()
    selected = page.locator(".timeline li[aria-selected='true']")
    expect(selected).to_have_attribute("data-seq", "3")
    expect(selected).to_be_focused()
    expect(page.locator(".timeline li.cause")).to_have_attribute("data-seq", "3")
    expect(page.locator(".timeline li[data-seq='5']")).to_contain_text("observed failure")
    # The conversation reads as one: the model's answer and the call it made.
    expect(page.locator(".detail .bubble.role-assistant")).to_contain_text("I will read the pricing page.")
    expect(page.locator(".detail .tool-call")).to_contain_text("fetch_page")
    findings = page.get_by_role("complementary", name="Findings")
    expect(findings).to_contain_text("not_found")
    expect(findings.locator(".finding", has_text="not_found").locator(".evidence-seqs")).to_contain_text("#5")
    console.shoot("replay")

    # Down to the observed failure and its evidence; k goes back up to the question; c to the critical step.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(selected).to_have_attribute("data-seq", "5")
    expect(selected).to_contain_text("observed failure")
    expect(page.locator(".detail")).to_contain_text("404 Not Found: /docs/pricing-v2")
    page.keyboard.press("c")
    expect(selected).to_have_attribute("data-seq", "3")
    page.keyboard.press("k")
    expect(page.locator(".detail .bubble.role-user")).to_contain_text("What does the pricing page say about seats?")
    page.keyboard.press("c")
    expect(selected).to_have_attribute("data-seq", "3")

    with page.expect_response(lambda r: f"/artifacts/{seeded['artifact_id']}" in r.url and r.status == 200) as signed:
        page.locator(".timeline li[data-seq='6']").click()
    image = page.locator(f"img[data-artifact='{seeded['artifact_id']}']")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 160
    download: Response = signed.value
    redirect = download.request.redirected_from
    assert redirect is not None and redirect.url.endswith(f"/artifacts/{seeded['artifact_id']}")
    assert redirect.response() is not None and redirect.response().status == 302  # type: ignore[union-attr]
    assert download.url != redirect.url and "?" in download.url  # the short-lived signed URL
    console.shoot("screenshot")

    page.keyboard.press("/")
    expect(page.get_by_label("Search the trace")).to_be_focused()
    page.keyboard.type("pricing-v2")
    page.keyboard.press("Enter")
    expect(page.locator(".search-results")).to_contain_text("3 matches")
    assert page.locator(".matches li").all_inner_texts()[0].startswith("#3")
    expect(page.locator(".timeline li.match")).to_have_count(3)
    page.get_by_label("Search the trace").fill("")
    page.get_by_label("Event type").select_option("tool.result")
    page.get_by_label("Tool name").fill("fetch_page")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".search-results")).to_contain_text("1 match")
    expect(selected).to_have_attribute("data-seq", "5")
    console.shoot("search")

    console.assert_no_secret_leaked(token, tenant.keys[tenant.projects[0]])
