"""What the browser may not do, and what the console shows when things go wrong: CSP on every console
response, no secret in the served page, PUT analysis unreachable from a browser (same origin or
not, even holding the service token), expired and wrong tokens, a missing session, a narrow screen."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, expect
from playwright.sync_api import Error as PlaywrightError

from api.auth import mint_token
from api.config import Settings
from api.routes.console import ASSETS_DIR
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN
from tests.console.conftest import Console, console_jwt
from tests.console.seed import failed_session
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

PUT_ANALYSIS = """async ([url, headers]) => {
  try {
    const response = await fetch(url, {method: "PUT", headers: {...headers, "Content-Type": "application/json"},
      body: JSON.stringify({detector_version: "forged", input_digest: "0".repeat(64), labels: [], critical_step: null})});
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""


def test_console_responses_carry_a_strict_csp_and_no_secret(http: httpx.Client) -> None:
    assets = ["index.html", *(p.name for p in ASSETS_DIR.iterdir() if p.name != "index.html")]
    for name in assets:
        response = http.get("/console" if name == "index.html" else f"/console/{name}")
        assert response.status_code == 200, name
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        for secret in (SERVICE_TOKEN, JWT_SECRET):
            assert secret not in response.text
    assert http.get("/console/../config.py").status_code == 404
    assert http.get("/console/nope.js").status_code == 404


def test_put_analysis_is_unreachable_from_a_browser_even_with_the_service_token(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console], browser: Browser,
    console_server: RunningServer,
) -> None:
    failed_session(http, tenant, "console-put-1")
    member = console_jwt(tenant, "owner")
    console = open_console()
    console.sign_in(member)
    url = f"{console.base_url}/api/traces/console-put-1/analysis?project_id={tenant.projects[0]}"
    as_member = console.page.evaluate(PUT_ANALYSIS, [url, {"Authorization": f"Bearer {member}"}])
    assert (as_member["status"], as_member["body"]["error"]["code"]) == (403, "service_only")
    leaked = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Workspace-Id": tenant.workspace_id}
    as_service = console.page.evaluate(PUT_ANALYSIS, [url, leaked])
    assert (as_service["status"], as_service["body"]["error"]["code"]) == (403, "credential_not_allowed")

    # Another origin (localhost is not 127.0.0.1): the preflight finds no CORS grant, nothing is sent.
    context = browser.new_context()
    try:
        page = context.new_page()
        methods: list[str] = []
        page.on("request", lambda request: methods.append(request.method))
        page.goto(console_server.base_url.replace("127.0.0.1", "localhost") + "/console")
        cross = page.evaluate(PUT_ANALYSIS, [url, leaked])
        assert "blocked" in cross and "PUT" not in methods, cross
    finally:
        context.close()
    stored = http.get("/api/traces/console-put-1/analysis", headers=tenant.key()).json()
    assert stored["source"] != "service" and stored["detector_version"] != "forged"


def test_wrong_and_expired_tokens_missing_sessions_and_a_narrow_screen_have_clear_states(
    http: httpx.Client, tenant: Tenant, open_console: Callable[..., Console], console_settings: Settings,
) -> None:
    failed_session(http, tenant, "console-narrow-1")
    console = open_console()
    page = console.page
    console.open()
    page.get_by_label("Console token (JWT)").fill(tenant.keys[tenant.projects[0]])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a console user's token")
    page.get_by_label("Console token (JWT)").fill(SERVICE_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a console user's token")
    expired = mint_token(console_settings, tenant.users["member"], -60)
    page.get_by_label("Console token (JWT)").fill(expired)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your token has expired")
    console.shoot("expired-token")
    assert page.evaluate("() => sessionStorage.length") == 0

    member = console_jwt(tenant, "member")
    console.sign_in(member, "#/session/no-such-session")
    expect(page.get_by_role("alert")).to_contain_text("Session no-such-session was not found")
    console.shoot("not-found")

    narrow = open_console(width=390, height=844)
    narrow.sign_in(member, "#/session/console-narrow-1")
    expect(narrow.page.locator(".timeline li[aria-selected='true']")).to_have_attribute("data-seq", "3")
    assert narrow.page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    narrow.shoot("replay-narrow")
    for tab in (console, narrow):
        tab.assert_no_secret_leaked(member, expired, tenant.keys[tenant.projects[0]])


def test_the_service_token_is_refused_on_any_request_a_browser_marks_as_its_own(
    http: httpx.Client, tenant: Tenant,
) -> None:
    service = tenant.service(SERVICE_TOKEN)
    assert http.get("/api/sessions", headers=service).status_code == 200
    for marker in ({"Origin": http.base_url.scheme + "://" + http.base_url.netloc.decode()}, {"Sec-Fetch-Site": "same-origin"},
                   {"Sec-Fetch-Mode": "cors"}):
        refused = http.get("/api/sessions", headers={**service, **marker})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "credential_not_allowed"), marker
    member = tenant.user("member")
    assert http.get("/api/sessions", headers={**member, "Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_the_pages_network_is_limited_to_the_server(open_console: Callable[..., Console]) -> None:
    console = open_console()
    console.open()
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()
    with pytest.raises(PlaywrightError):
        console.page.goto("http://example.com/elsewhere")
    assert console.blocked == ["http://example.com/elsewhere"]
