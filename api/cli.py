"""agentdeck: serve the API and administer workspaces, projects, members and keys.

Every command finds the same data directory from anywhere: AGENTDECK_DATA_DIR, else the per-user
data directory. With no DATABASE_URL the database is the private PostgreSQL kept there.
Exit codes: 0 done, 1 failed (one line on stderr says why), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import signal
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api import admin, logs
from api.auth import mint_token
from api.config import ConfigError, Settings, load_settings
from api.migrate import MigrationError, migrate

BOOTSTRAP_USER = "00000000-0000-4000-8000-000000000001"
CONSOLE_TOKEN_TTL = 12 * 3600
LOCAL_SECRETS = "local-secrets.json"
BOOTSTRAP_SECRETS = "bootstrap-secrets.json"


class CliError(Exception):
    """A refusal with a message for the operator (exit 1)."""


def _no_setup(settings: Settings, what: str) -> CliError:
    return CliError(f"no {what} in {settings.data_dir}; start one there with `agentdeck dev` (or `agentdeck serve`), "
                    "or point AGENTDECK_DATA_DIR (or DATABASE_URL) at an existing one")


def _write_private(path: Path, value: dict[str, Any], *, exclusive: bool) -> None:
    """Write JSON to a file only its owner can read (mode 0600 from the first byte)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle, indent=2)


def with_local_secrets(settings: Settings, *, create: bool) -> Settings:
    """In dev or embedded mode, a JWT secret and service token kept in the data dir (mode 0600).

    Only the commands that run a server create them; the others refuse to invent secrets that no
    server would accept.
    """
    if not (settings.embedded or settings.dev_mode):
        return settings
    path = settings.data_dir / LOCAL_SECRETS
    if path.exists():
        stored = json.loads(path.read_text())
    elif create:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        stored = {"jwt_secret": secrets.token_urlsafe(48), "service_token": secrets.token_urlsafe(48)}
        _write_private(path, stored, exclusive=True)
    else:
        raise _no_setup(settings, "local secrets")
    updates: dict[str, Any] = {}
    if settings.jwt_secret is None and settings.jwt_algorithms[0].startswith("HS"):
        updates["jwt_secret"] = stored["jwt_secret"]
    if settings.service_token is None:
        updates["service_token"] = stored["service_token"]
    return dataclasses.replace(settings, **updates)


def database_url(settings: Settings, *, create: bool) -> str:
    if settings.database_url is not None:
        return settings.database_url
    if not create and not (settings.data_dir / "pgdata").is_dir():
        raise _no_setup(settings, "agentdeck database")
    from api.pg import embedded

    # The embedded server stops from an atexit hook, which a bare SIGTERM (re-raised by uvicorn after
    # its graceful shutdown) would skip: make SIGTERM an ordinary exit.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return embedded.start(settings.data_dir)


def redacted(url: str) -> str:
    """A database URL safe to print: the password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user_host = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, user_host, parts.path, parts.query, parts.fragment))


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)


def _emit(args: argparse.Namespace, value: Any, text: str) -> None:
    print(json.dumps(value, default=str, indent=None) if args.json else text)


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(row.get(c) if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


async def _with_admin(url: str, action: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await action(conn)
    finally:
        await conn.close()


def _admin(settings: Settings, action: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    """Run an admin action on the existing database: administration never creates one."""
    return asyncio.run(_with_admin(database_url(settings, create=False), action))


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    url = database_url(settings, create=True)
    applied = asyncio.run(migrate(url, lock_timeout_ms=settings.migrate_lock_timeout_ms))
    _emit(args, {"applied": applied}, f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def cmd_workspace_create(args: argparse.Namespace, settings: Settings) -> None:
    row = _admin(settings, lambda c: admin.create_workspace(c, args.name))
    _emit(args, row, f"workspace {row['workspace_id']} ({row['name']})")


def cmd_workspace_list(args: argparse.Namespace, settings: Settings) -> None:
    rows = _admin(settings, admin.list_workspaces)
    _emit(args, rows, _table(rows, ("workspace_id", "name", "created_at")))


def cmd_project_create(args: argparse.Namespace, settings: Settings) -> None:
    row = _admin(settings, lambda c: admin.create_project(c, args.workspace, args.name))
    _emit(args, row, f"project {row['project_id']} ({row['name']}) in {row['workspace_id']}")


def cmd_project_list(args: argparse.Namespace, settings: Settings) -> None:
    rows = _admin(settings, lambda c: admin.list_projects(c, args.workspace))
    _emit(args, rows, _table(rows, ("workspace_id", "project_id", "name", "created_at")))


def cmd_member_add(args: argparse.Namespace, settings: Settings) -> None:
    row = _admin(settings, lambda c: admin.add_member(c, args.workspace, args.user, args.role))
    _emit(args, row, f"{row['user_id']} is {row['role']} of {row['workspace_id']}")


def cmd_member_list(args: argparse.Namespace, settings: Settings) -> None:
    rows = _admin(settings, lambda c: admin.list_members(c, args.workspace))
    _emit(args, rows, _table(rows, ("workspace_id", "user_id", "role", "created_at")))


def cmd_key_create(args: argparse.Namespace, settings: Settings) -> None:
    row = _admin(settings, lambda c: admin.create_key(c, args.project, args.name))
    _emit(args, row, f"API key {row['key_id']} for {row['project_id']} (shown once, store it now):\n{row['secret']}")


def cmd_key_list(args: argparse.Namespace, settings: Settings) -> None:
    rows = _admin(settings, lambda c: admin.list_keys(c, args.project))
    _emit(args, rows, _table(rows, ("key_id", "project_id", "name", "prefix", "created_at", "last_used_at",
                                    "revoked_at")))


def cmd_key_revoke(args: argparse.Namespace, settings: Settings) -> None:
    row = _admin(settings, lambda c: admin.revoke_key(c, args.key))
    _emit(args, row, f"revoked {row['key_id']}")


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    settings = with_local_secrets(settings, create=False)
    if settings.jwt_secret is None or not settings.jwt_algorithms[0].startswith("HS"):
        raise CliError("minting needs an HS* algorithm and a JWT secret: set AGENTDECK_JWT_SECRET to the server's")
    token = mint_token(settings, args.user, args.ttl)
    _emit(args, {"token": token, "user": args.user, "ttl": args.ttl, "expires_at": _expiry(args.ttl)}, token)


def _expiry(ttl_seconds: int) -> str:
    return datetime.fromtimestamp(int(time.time()) + ttl_seconds, UTC).isoformat()


async def _bootstrap(conn: asyncpg.Connection) -> dict[str, Any]:
    """Create the default workspace once; either way, say what the first workspace holds."""
    created = await admin.first_workspace(conn) is None
    key: dict[str, Any] | None = None
    if created:
        workspace = await admin.create_workspace(conn, "Default workspace")
        project = await admin.create_project(conn, workspace["workspace_id"], "Default project")
        await admin.add_member(conn, workspace["workspace_id"], BOOTSTRAP_USER, "owner")
        key = await admin.create_key(conn, project["project_id"], "dev key")
    workspace_id = await admin.first_workspace(conn)
    projects = await admin.list_projects(conn, workspace_id)
    return {"created": created, "workspace_id": workspace_id,
            "project_id": projects[0]["project_id"] if projects else None, "key": key}


def _service_token_source(settings: Settings) -> str:
    if os.environ.get("AGENTDECK_SERVICE_TOKEN"):
        return "from AGENTDECK_SERVICE_TOKEN"
    return f"kept in {settings.data_dir / LOCAL_SECRETS} (server-side only: never give it to a browser)"


def _bootstrap_report(settings: Settings, boot: dict[str, Any], base: str) -> None:
    """What a newcomer needs to start: ids always, secrets only to a terminal (else into a 0600 file)."""
    lines = ["=" * 72, "agentdeck dev (DEV MODE ONLY)",
             f"  data dir      {settings.data_dir}",
             f"  workspace     {boot['workspace_id']}",
             f"  project       {boot['project_id']}",
             f"  console user  {BOOTSTRAP_USER} (owner of the workspace)",
             f"  service token {_service_token_source(settings)}"]
    if boot["created"]:
        secrets_out = {"api_key": boot["key"]["secret"], "api_key_id": boot["key"]["key_id"],
                       "console_user_id": BOOTSTRAP_USER,
                       "console_jwt": mint_token(settings, BOOTSTRAP_USER, CONSOLE_TOKEN_TTL),
                       "console_jwt_expires_at": _expiry(CONSOLE_TOKEN_TTL)}
        if sys.stdout.isatty():
            lines += [f"  API key       {secrets_out['api_key']} (shown once)",
                      f"  console JWT   {secrets_out['console_jwt']}",
                      f"                expires {secrets_out['console_jwt_expires_at']} (12 h)"]
        else:
            # Piped stdout ends up in log files: keep the secrets out of it.
            path = settings.data_dir / BOOTSTRAP_SECRETS
            _write_private(path, secrets_out, exclusive=False)
            lines += [f"  secrets       written to {path} (mode 0600): stdout is not a terminal",
                      f"                console JWT expires {secrets_out['console_jwt_expires_at']} (12 h)"]
        lines.append(f"  try           curl -H 'Authorization: Bearer <API key>' {base}/api/sessions")
    else:
        lines.append("  already bootstrapped: the first API key and JWT were shown when it was created")
    lines.append(f"  console       {base}/console  (paste the console JWT to sign in)")
    env = "" if "AGENTDECK_DATA_DIR" not in os.environ else f"AGENTDECK_DATA_DIR={settings.data_dir} "
    lines += [f"  new JWT       {env}agentdeck token --user {BOOTSTRAP_USER} --ttl 43200",
              f"  new API key   {env}agentdeck key create --project {boot['project_id']}",
              "=" * 72]
    print("\n".join(lines), flush=True)


def _listen(settings: Settings, args: argparse.Namespace) -> Settings:
    """--host/--port override AGENTDECK_HOST/AGENTDECK_PORT."""
    return dataclasses.replace(settings, host=args.host or settings.host, port=args.port or settings.port)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> None:
    """Migrate, bootstrap a default workspace once (dev only), say how to get in, serve."""
    settings = with_local_secrets(dataclasses.replace(_listen(settings, args), dev_mode=True), create=True)
    url = database_url(settings, create=True)
    asyncio.run(migrate(url, lock_timeout_ms=settings.migrate_lock_timeout_ms))
    boot = asyncio.run(_with_admin(url, _bootstrap))
    _bootstrap_report(settings, boot, f"http://{settings.host}:{settings.port}")
    _serve(dataclasses.replace(settings, database_url=url), url)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    settings = with_local_secrets(_listen(settings, args), create=True)
    url = database_url(settings, create=True)
    if not args.no_migrate:
        asyncio.run(migrate(url, lock_timeout_ms=settings.migrate_lock_timeout_ms))
    _serve(settings, url)


def _serve(settings: Settings, url: str) -> None:
    import uvicorn

    from api.app import create_app

    logs.configure(settings.log_format)
    # Live streams never end on their own: give them a bounded grace period on shutdown.
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1; AGENTDECK_TRUSTED_PROXIES decides.
    uvicorn.run(create_app(settings, url), host=settings.host, port=settings.port, access_log=False,
                log_level="info", log_config=None, timeout_graceful_shutdown=10, proxy_headers=False)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    """Analyse ended sessions and prune the stream, for deployments that run workers apart from `serve`."""
    from api.db import Database, api_role_url
    from api.stream.retention import StreamRetention
    from api.worker import AnalysisWorker

    url = database_url(settings, create=False)

    async def work() -> None:
        db = await Database.connect(settings.api_database_url or api_role_url(url), min_size=1,
                                    max_size=settings.pool_max, statement_timeout_ms=settings.statement_timeout_ms,
                                    max_waiters=settings.backpressure_waiters)
        try:
            await asyncio.gather(AnalysisWorker(db).run(), StreamRetention(db, settings.stream).run())
        finally:
            await db.close()

    logs.configure(settings.log_format)
    asyncio.run(work())


def cmd_schema(args: argparse.Namespace, settings: Settings) -> None:
    from api.event_types import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))


def _health(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104 - a listen address
    url = f"http://{host}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a fixed http URL of our own
            return "healthy" if response.status == 200 else f"answers {response.status}"
    except OSError:
        return "not answering"


def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    """Where things are and what exists; exit 1 when there is no database to report on."""
    where = "AGENTDECK_DATA_DIR" if "AGENTDECK_DATA_DIR" in os.environ else "the per-user default"
    report: dict[str, Any] = {"data_dir": str(settings.data_dir), "data_dir_from": where,
                              "server": f"http://{settings.host}:{settings.port}", "health": _health(settings)}
    if settings.database_url is not None:
        report["database"] = redacted(settings.database_url)
    elif (settings.data_dir / "pgdata").is_dir():
        report["database"] = f"embedded PostgreSQL in {settings.data_dir / 'pgdata'}"
    else:
        report["database"] = None
    if report["database"] is not None:
        async def tenancy(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            projects = await admin.list_projects(conn, None)
            return [{**ws, "projects": [p for p in projects if p["workspace_id"] == ws["workspace_id"]]}
                    for ws in await admin.list_workspaces(conn)]

        try:
            report["workspaces"] = _admin(settings, tenancy)
        except (OSError, asyncpg.PostgresError) as exc:
            report["database_error"] = f"{type(exc).__name__}: {exc}"
    lines = [f"data directory  {report['data_dir']} ({where})",
             f"database        {report['database'] or 'none yet: start one with `agentdeck dev`'}",
             f"server          {report['server']} ({report['health']})"]
    if "database_error" in report:
        lines.append(f"database error  {report['database_error']}")
    for ws in report.get("workspaces", []):
        lines.append(f"workspace       {ws['workspace_id']}  {ws['name']}")
        lines += [f"  project       {p['project_id']}  {p['name']}" for p in ws["projects"]]
    lines += ["mint a JWT      agentdeck token --user <user uuid> (members: agentdeck member list)",
              "make a key      agentdeck key create --project <project id>"]
    _emit(args, report, "\n".join(lines))
    if report["database"] is None or "database_error" in report:
        sys.exit(1)


def cmd_regression_wait(args: argparse.Namespace, settings: Settings) -> None:
    """The CI gate: exit 0 only when the run passed (api/regression_gate.py has the codes)."""
    from api import regression_gate

    api_key = os.environ.get("AGENTDECK_API_KEY") or ""
    if not api_key:
        print("agentdeck: set AGENTDECK_API_KEY to a project API key", file=sys.stderr)
        sys.exit(regression_gate.UNREADABLE)
    code, run, message = regression_gate.wait_for_run(args.url, api_key, args.run_id, timeout=args.timeout,
                                                      interval=args.interval)
    if args.json:
        print(json.dumps({"exit_code": code, "message": message, "run": run}))
    else:
        if run is not None:
            print(regression_gate.verdict_table(run))
        print(message, file=sys.stderr)
    sys.exit(code)


def parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the subcommand; SUPPRESS keeps a later absence from undoing it.
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                           help="print machine-readable JSON instead of text")
    top = argparse.ArgumentParser(prog="agentdeck", description=__doc__, parents=[json_flag],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group: Any, name: str, summary: str, run: Callable[[argparse.Namespace, Settings], None]
                ) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = group.add_parser(name, help=summary, description=summary,
                                                         parents=[json_flag])
        made.set_defaults(run=run)
        return made

    def listener(made: argparse.ArgumentParser) -> None:
        made.add_argument("--host", help="listen address (overrides AGENTDECK_HOST; default 127.0.0.1)")
        made.add_argument("--port", type=int, help="listen port (overrides AGENTDECK_PORT; default 4318)")

    serve = command(sub, "serve", "serve the API (migrates first)", cmd_serve)
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    listener(serve)
    listener(command(sub, "dev", "embedded default: migrate, bootstrap once, print how to get in, serve", cmd_dev))
    command(sub, "migrate", "apply pending migrations", cmd_migrate)
    command(sub, "schema", "print the event JSON Schema", cmd_schema)
    command(sub, "worker", "run the analysis worker and stream retention, no API", cmd_worker)
    command(sub, "status", "data directory, database, server health, workspaces and projects", cmd_status)

    def group(name: str, summary: str) -> Any:
        return sub.add_parser(name, help=summary, description=summary).add_subparsers(
            dest="action", required=True, metavar="ACTION")

    workspace = group("workspace", "create and list workspaces")
    command(workspace, "create", "create a workspace", cmd_workspace_create).add_argument(
        "--name", required=True, help="display name")
    command(workspace, "list", "list workspaces", cmd_workspace_list)

    project = group("project", "create and list projects")
    create = command(project, "create", "create a project in a workspace", cmd_project_create)
    create.add_argument("--workspace", required=True, help="the workspace id (ws_...)")
    create.add_argument("--name", required=True, help="display name")
    command(project, "list", "list projects", cmd_project_list).add_argument(
        "--workspace", help="only this workspace's projects")

    member = group("member", "add and list workspace members")
    add = command(member, "add", "add a user to a workspace, or change their role", cmd_member_add)
    add.add_argument("--workspace", required=True, help="the workspace id (ws_...)")
    add.add_argument("--user", required=True, help="the user's uuid (JWT sub)")
    add.add_argument("--role", required=True, choices=admin.ROLES, help="what the member may do")
    command(member, "list", "list members", cmd_member_list).add_argument(
        "--workspace", help="only this workspace's members")

    key = group("key", "create, list and revoke project API keys")
    create = command(key, "create", "create a project API key (the secret is shown once)", cmd_key_create)
    create.add_argument("--project", required=True, help="the project id (proj_...)")
    create.add_argument("--name", default="api key", help="a label for listings")
    command(key, "list", "list keys by prefix (secrets are never stored)", cmd_key_list).add_argument(
        "--project", help="only this project's keys")
    command(key, "revoke", "revoke a key (its requests get 401 from then on)", cmd_key_revoke).add_argument(
        "--key", required=True, help="the key id (key_...)")

    regression = group("regression", "follow regression runs from CI (over HTTP, with a project API key)")
    wait = command(regression, "wait", "wait for a regression run; exit 0 only if it passed (CI gate)",
                   cmd_regression_wait)
    wait.add_argument("run_id", metavar="RUN_ID", help="the regression run id (rr_...)")
    wait.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
    wait.add_argument("--interval", type=float, default=5, help="seconds between polls (default 5)")
    wait.add_argument("--url", default=os.environ.get("AGENTDECK_URL") or "http://127.0.0.1:4318",
                      help="the server (default $AGENTDECK_URL or http://127.0.0.1:4318); key: $AGENTDECK_API_KEY")

    token = command(sub, "token", "mint a console JWT with the server's JWT secret", cmd_token)
    token.add_argument("--user", required=True, help="the user's uuid (a workspace member)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        args.run(args, load_settings())
    except ConfigError as exc:
        sys.exit(f"agentdeck: configuration error: {exc}")
    except (CliError, MigrationError, admin.AdminError) as exc:
        sys.exit(f"agentdeck: {exc}")
    except (OSError, asyncpg.PostgresError) as exc:
        sys.exit(f"agentdeck: database error: {type(exc).__name__}: {exc}")
