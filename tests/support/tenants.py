"""Fresh tenants for API tests, made through the admin functions the CLI uses."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import asyncpg

from api import admin
from api.auth import mint_token
from api.config import Settings


@dataclass
class Tenant:
    workspace_id: str
    projects: list[str]
    keys: dict[str, str]  # project id -> secret
    key_ids: dict[str, str]  # project id -> key id
    users: dict[str, str] = field(default_factory=dict)  # name -> uuid
    settings: Settings | None = None

    def key(self, project_index: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[self.projects[project_index]]}"}

    def user(self, name: str = "member", ttl: int = 600) -> dict[str, str]:
        assert self.settings is not None
        return {"Authorization": f"Bearer {mint_token(self.settings, self.users[name], ttl)}"}

    def service(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Workspace-Id": self.workspace_id}


async def _make_tenant(url: str, settings: Settings, project_count: int) -> Tenant:
    conn = await asyncpg.connect(url)
    try:
        workspace = await admin.create_workspace(conn, "test workspace")
        ws = workspace["workspace_id"]
        tenant = Tenant(ws, [], {}, {}, settings=settings)
        for index in range(project_count):
            project = await admin.create_project(conn, ws, f"project {index}")
            key = await admin.create_key(conn, project["project_id"], "test key")
            tenant.projects.append(project["project_id"])
            tenant.keys[project["project_id"]] = key["secret"]
            tenant.key_ids[project["project_id"]] = key["key_id"]
        for name, role in (("owner", "owner"), ("member", "member"), ("viewer", "viewer")):
            user = str(uuid.uuid4())
            await admin.add_member(conn, ws, user, role)
            tenant.users[name] = user
        tenant.users["stranger"] = str(uuid.uuid4())
        return tenant
    finally:
        await conn.close()


def make_tenant(url: str, settings: Settings, project_count: int = 2) -> Tenant:
    return asyncio.run(_make_tenant(url, settings, project_count))
