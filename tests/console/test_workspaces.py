"""A user in two workspaces follows one at a time (stream positions are per workspace) and switches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
from playwright.sync_api import expect

from api import admin
from tests.console.conftest import Console, console_jwt, off_the_browser_loop
from tests.console.seed import create
from tests.support.tenants import Tenant


def add_member(database_url: str, workspace_id: str, user: str, role: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await admin.add_member(conn, workspace_id, user, role)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_user_of_two_workspaces_switches_between_them_with_live_updates_in_each(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant, database_url: str, open_console: Callable[..., Console],
) -> None:
    user = tenant.users["member"]
    off_the_browser_loop(add_member, database_url, other_tenant.workspace_id, user, "viewer")
    create(http, tenant, "console-ws-a")
    create(http, other_tenant, "console-ws-b")
    token = console_jwt(tenant, "member")
    console = open_console()
    page = console.page
    console.sign_in(token, "#/sessions")
    switch = page.get_by_label("Workspace")
    first = tenant if switch.input_value() == tenant.workspace_id else other_tenant
    second = other_tenant if first is tenant else tenant
    names = {tenant.workspace_id: "console-ws-a", other_tenant.workspace_id: "console-ws-b"}
    expect(page.locator(f"tr[data-session='{names[first.workspace_id]}']")).to_be_visible()
    expect(page.locator(f"tr[data-session='{names[second.workspace_id]}']")).to_have_count(0)

    switch.select_option(second.workspace_id)
    expect(page.locator(f"tr[data-session='{names[second.workspace_id]}']")).to_be_visible()
    expect(page.locator(f"tr[data-session='{names[first.workspace_id]}']")).to_have_count(0)
    expect(page.locator(".sessions .live-state")).to_have_text("● live")
    create(http, second, "console-ws-new")
    expect(page.locator("tr[data-session='console-ws-new']")).to_be_visible()
    console.assert_no_secret_leaked(token)
