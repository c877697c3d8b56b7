"""`agentdeck`: serve the API and administer workspaces, projects, members and keys.

With no DATABASE_URL every command uses the private PostgreSQL under AGENTDECK_DATA_DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from api import admin
from api.auth import mint_token
from api.config import ConfigError, Settings, load_settings
from api.migrate import MigrationError, migrate


def with_local_secrets(settings: Settings) -> Settings:
    """In dev or embedded mode, a JWT secret and service token kept in the data dir (mode 0600)."""
    if not (settings.embedded or settings.dev_mode):
        return settings
    path = settings.data_dir / "local-secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        stored = {"jwt_secret": secrets.token_urlsafe(48), "service_token": secrets.token_urlsafe(48)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
    updates: dict[str, Any] = {}
    if settings.jwt_secret is None and settings.jwt_algorithms[0].startswith("HS"):
        updates["jwt_secret"] = stored["jwt_secret"]
    if settings.service_token is None:
        updates["service_token"] = stored["service_token"]
    return dataclasses.replace(settings, **updates)


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url
    from api.pg import embedded

    return embedded.start(settings.data_dir)


def _emit(args: argparse.Namespace, value: dict[str, Any], text: str) -> None:
    print(json.dumps(value, default=str) if args.json else text)


async def _with_admin(settings: Settings, action: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    conn = await asyncpg.connect(database_url(settings))
    try:
        return await action(conn)
    finally:
        await conn.close()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    applied = asyncio.run(migrate(database_url(settings)))
    _emit(args, {"applied": applied}, f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def cmd_workspace_create(args: argparse.Namespace, settings: Settings) -> None:
    row = asyncio.run(_with_admin(settings, lambda c: admin.create_workspace(c, args.name)))
    _emit(args, row, f"workspace {row['workspace_id']} ({row['name']})")


def cmd_project_create(args: argparse.Namespace, settings: Settings) -> None:
    row = asyncio.run(_with_admin(settings, lambda c: admin.create_project(c, args.workspace, args.name)))
    _emit(args, row, f"project {row['project_id']} ({row['name']}) in {row['workspace_id']}")


def cmd_member_add(args: argparse.Namespace, settings: Settings) -> None:
    row = asyncio.run(_with_admin(settings, lambda c: admin.add_member(c, args.workspace, args.user, args.role)))
    _emit(args, row, f"{row['user_id']} is {row['role']} of {row['workspace_id']}")


def cmd_key_create(args: argparse.Namespace, settings: Settings) -> None:
    row = asyncio.run(_with_admin(settings, lambda c: admin.create_key(c, args.project, args.name)))
    _emit(args, row, f"API key {row['key_id']} for {row['project_id']} (shown once, store it now):\n{row['secret']}")


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> None:
    row = asyncio.run(_with_admin(settings, lambda c: admin.revoke_key(c, args.key)))
    _emit(args, row, f"revoked {row['key_id']}")


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    token = mint_token(settings, args.user, args.ttl)
    _emit(args, {"token": token, "user": args.user, "ttl": args.ttl}, token)


async def _bootstrap(conn: asyncpg.Connection) -> dict[str, Any] | None:
    if await admin.first_workspace(conn) is not None:
        return None
    workspace = await admin.create_workspace(conn, "Default workspace")
    project = await admin.create_project(conn, workspace["workspace_id"], "Default project")
    user = "00000000-0000-4000-8000-000000000001"
    await admin.add_member(conn, workspace["workspace_id"], user, "owner")
    key = await admin.create_key(conn, project["project_id"], "dev key")
    return {"workspace": workspace, "project": project, "user": user, "key": key}


def cmd_dev(args: argparse.Namespace, settings: Settings) -> None:
    """Migrate, bootstrap a default workspace once (dev only), print credentials, serve."""
    settings = dataclasses.replace(settings, dev_mode=True)
    settings = with_local_secrets(settings)
    url = database_url(settings)
    asyncio.run(migrate(url))
    created = asyncio.run(_with_admin(dataclasses.replace(settings, database_url=url), _bootstrap))
    base = f"http://{settings.host}:{settings.port}"
    if created is not None:
        print("=" * 72)
        print("agentdeck dev bootstrap (DEV MODE ONLY; shown once)")
        print(f"  workspace   {created['workspace']['workspace_id']}")
        print(f"  project     {created['project']['project_id']}")
        print(f"  API key     {created['key']['secret']}")
        print(f"  console JWT {mint_token(settings, created['user'], 12 * 3600)}")
        print(f"  console     {base}/console  (paste the console JWT to sign in)")
        print(f"  try: curl -H 'Authorization: Bearer <API key>' {base}/api/sessions")
        print("=" * 72)
    else:
        print("agentdeck: already bootstrapped; `agentdeck key create --project ...` makes another key")
    _serve(dataclasses.replace(settings, database_url=url), url)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    settings = with_local_secrets(settings)
    url = database_url(settings)
    if not args.no_migrate:
        asyncio.run(migrate(url))
    _serve(settings, url)


def _serve(settings: Settings, url: str) -> None:
    import uvicorn

    from api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Live streams never end on their own: give them a bounded grace period on shutdown.
    uvicorn.run(create_app(settings, url), host=settings.host, port=settings.port, access_log=False,
                log_level="info", timeout_graceful_shutdown=10)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    """Analyse ended sessions, for deployments that run workers apart from `serve`."""
    from api.db import Database, api_role_url
    from api.worker import AnalysisWorker

    url = database_url(settings)

    async def work() -> None:
        db = await Database.connect(settings.api_database_url or api_role_url(url), min_size=1,
                                    max_size=settings.pool_max, statement_timeout_ms=settings.statement_timeout_ms,
                                    max_waiters=settings.backpressure_waiters)
        try:
            await AnalysisWorker(db).run()
        finally:
            await db.close()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(work())


def cmd_schema(args: argparse.Namespace, settings: Settings) -> None:
    from api.event_types import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="agentdeck", description=__doc__)
    top.add_argument("--json", action="store_true", help="machine-readable output")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (migrates first)")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("dev", help="embedded default: migrate, bootstrap once, serve").set_defaults(run=cmd_dev)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(run=cmd_migrate)
    sub.add_parser("schema", help="print the event JSON Schema").set_defaults(run=cmd_schema)
    sub.add_parser("worker", help="run the analysis worker without serving").set_defaults(run=cmd_worker)

    workspace = sub.add_parser("workspace").add_subparsers(dest="action", required=True)
    create = workspace.add_parser("create")
    create.add_argument("--name", required=True)
    create.set_defaults(run=cmd_workspace_create)

    project = sub.add_parser("project").add_subparsers(dest="action", required=True)
    create = project.add_parser("create")
    create.add_argument("--workspace", required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(run=cmd_project_create)

    member = sub.add_parser("member").add_subparsers(dest="action", required=True)
    add = member.add_parser("add")
    add.add_argument("--workspace", required=True)
    add.add_argument("--user", required=True, help="the user's uuid (JWT sub)")
    add.add_argument("--role", required=True, choices=admin.ROLES)
    add.set_defaults(run=cmd_member_add)

    key = sub.add_parser("key").add_subparsers(dest="action", required=True)
    create = key.add_parser("create")
    create.add_argument("--project", required=True)
    create.add_argument("--name", default="api key")
    create.set_defaults(run=cmd_key_create)
    revoke = key.add_parser("revoke")
    revoke.add_argument("--key", required=True, help="the key id (key_...)")
    revoke.set_defaults(run=cmd_key_revoke)

    token = sub.add_parser("token", help="mint a console JWT with the local secret")
    token.add_argument("--user", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(run=cmd_token)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "token":
            settings = with_local_secrets(settings)
        args.run(args, settings)
    except ConfigError as exc:
        sys.exit(f"agentdeck: configuration error: {exc}")
    except (MigrationError, admin.AdminError) as exc:
        sys.exit(f"agentdeck: {exc}")
    except (OSError, asyncpg.PostgresError) as exc:
        sys.exit(f"agentdeck: database error: {type(exc).__name__}: {exc}")
