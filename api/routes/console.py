"""The browser console: its static assets at /console, and GET /api/me, the identity it signs in with.

The assets are read once from `api/console/` and served with a strict Content-Security-Policy:
scripts and connections to this origin only, no inline code, no framing. The page holds no
credential; the user pastes a console JWT, which the scripts keep in sessionStorage and send as
`Authorization` (docs/console.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text
from api.errors import ApiError
from api.openapi import Operation

ASSETS_DIR = Path(__file__).resolve().parent.parent / "console"
_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
# blob: for screenshots fetched through their signed URLs; nothing else leaves this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def _load_assets() -> dict[str, tuple[bytes, str]]:
    return {path.name: (path.read_bytes(), _MEDIA_TYPES[path.suffix])
            for path in sorted(ASSETS_DIR.iterdir()) if path.suffix in _MEDIA_TYPES}


_ASSETS = _load_assets()


def _asset(name: str) -> Response:
    found = _ASSETS.get(name)
    if found is None:
        raise ApiError(404, "no such console asset", code="not_found")
    body, media_type = found
    return Response(body, media_type=media_type, headers=_HEADERS)


async def console_index(request: Request) -> Response:
    return _asset("index.html")


async def console_asset(request: Request) -> Response:
    return _asset(request.path_params["asset"])


async def me(request: Request) -> Response:
    identity = await authorize(request)
    if identity.kind != "user":
        raise ApiError(403, "GET /api/me is for console users (a JWT)", code="credential_not_allowed")
    return json_text(await request.app.state.db.call(identity, "select api.console_identity()", readonly=True))


class Member(BaseModel):
    user_id: str
    role: str


class ProjectRef(BaseModel):
    project_id: str
    name: str


class Membership(BaseModel):
    workspace_id: str
    name: str
    role: str
    projects: list[ProjectRef] | None
    members: list[Member]


class ConsoleIdentity(BaseModel):
    user_id: str
    workspaces: list[Membership]


routes = [
    Route("/console", console_index, methods=["GET"]),
    Route("/console/{asset}", console_asset, methods=["GET"]),
    Route("/api/me", me, methods=["GET"]),
]
operations = [
    Operation("get", "/console", "The browser console (sign in with a console JWT)", {200: None}, secured=False),
    Operation("get", "/console/{asset}", "The console's scripts and styles", {200: None}, secured=False),
    Operation("get", "/api/me", "The console user: workspaces, role in each, projects and members",
              {200: ConsoleIdentity}),
]
