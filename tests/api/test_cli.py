"""The CLI from anywhere: one data directory found the same way, no silent new database, listings, status."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "cli-test-secret-" + "z" * 32
ADMIN_COMMANDS = (
    ("workspace", "create", "--name", "x"),
    ("workspace", "list"),
    ("project", "create", "--workspace", "ws_x", "--name", "x"),
    ("project", "list"),
    ("member", "add", "--workspace", "ws_x", "--user", "00000000-0000-4000-8000-000000000009", "--role", "viewer"),
    ("member", "list"),
    ("key", "create", "--project", "proj_x"),
    ("key", "list"),
    ("key", "revoke", "--key", "key_x"),
    ("token", "--user", "00000000-0000-4000-8000-000000000009"),
    ("status",),
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    # A clean environment: no database or data dir inherited from the developer's shell.
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTDECK_", "DATABASE_URL", "XDG_"))}
    return {**keep, "HOME": str(home), "PYTHONPATH": str(REPO), **extra}


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("data_dir_set", [False, True], ids=["per-user-default", "AGENTDECK_DATA_DIR"])
def test_admin_commands_from_another_directory_refuse_to_create_a_database(tmp_path: Path, data_dir_set: bool) -> None:
    home, elsewhere, data_dir = tmp_path / "home", tmp_path / "elsewhere", tmp_path / "data"
    for folder in (home, elsewhere, data_dir):
        folder.mkdir()
    env = _env(home, **({"AGENTDECK_DATA_DIR": str(data_dir)} if data_dir_set else {}))
    looked_in = str(data_dir) if data_dir_set else str(home / ".local" / "share" / "agentdeck")
    for command in ADMIN_COMMANDS:
        result = _cli(elsewhere, env, *command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        message = result.stderr if command != ("status",) else result.stdout
        assert looked_in in message, (command, message)
        assert "Traceback" not in result.stderr
        if command != ("status",):
            assert "agentdeck dev" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # Nothing was created anywhere: no database, no secrets file, no ./.agentdeck.
    assert _tree(home) == [] and _tree(elsewhere) == [] and _tree(data_dir) == []


def test_every_command_works_from_another_directory_against_an_existing_database(
        tmp_path: Path, empty_database: str) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = _env(home, DATABASE_URL=empty_database, AGENTDECK_JWT_SECRET=SECRET, AGENTDECK_PORT="9")

    def run(*args: str) -> object:
        result = _cli(elsewhere, env, *args, "--json")  # --json after the subcommand
        assert result.returncode == 0, (args, result.stderr)
        return json.loads(result.stdout)

    assert run("migrate")
    workspace = run("workspace", "create", "--name", "Acme")
    assert isinstance(workspace, dict)
    ws = workspace["workspace_id"]
    project = run("project", "create", "--workspace", ws, "--name", "Web")
    assert isinstance(project, dict)
    user = "00000000-0000-4000-8000-00000000000a"
    run("member", "add", "--workspace", ws, "--user", user, "--role", "admin")
    key = run("key", "create", "--project", project["project_id"], "--name", "ci")
    assert isinstance(key, dict)
    run("key", "revoke", "--key", key["key_id"])

    assert [w["workspace_id"] for w in run("workspace", "list")] == [ws]  # type: ignore[attr-defined]
    assert [p["project_id"] for p in run("project", "list", "--workspace", ws)] == [project["project_id"]]  # type: ignore[attr-defined]
    members = run("member", "list")
    assert [(m["user_id"], m["role"]) for m in members] == [(user, "admin")]  # type: ignore[attr-defined]
    keys = run("key", "list", "--project", project["project_id"])
    assert isinstance(keys, list) and len(keys) == 1
    listed = keys[0]
    assert listed["key_id"] == key["key_id"] and listed["name"] == "ci" and listed["revoked_at"] is not None
    assert key["secret"].startswith(listed["prefix"]) and key["secret"] not in json.dumps(keys)
    assert "secret" not in listed and "key_hash" not in listed

    token = run("token", "--user", user, "--ttl", "60")
    assert isinstance(token, dict) and token["user"] == user and token["expires_at"]

    status = run("status")
    assert isinstance(status, dict)
    assert status["data_dir"] == str(home / ".local" / "share" / "agentdeck")
    assert status["health"] == "not answering"
    assert [(w["workspace_id"], [p["project_id"] for p in w["projects"]]) for w in status["workspaces"]] == [
        (ws, [project["project_id"]])]
    # Nothing was written into the working directory.
    assert _tree(elsewhere) == []


def test_status_redacts_the_database_password(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="postgresql://alice:hunter2-secret@127.0.0.1:1/agentdeck")
    result = _cli(tmp_path, env, "status")
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "postgresql://alice:***@127.0.0.1:1/agentdeck" in result.stdout
    assert result.returncode == 1 and "database error" in result.stdout


def test_usage_errors_exit_2_and_every_command_has_a_description(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _cli(tmp_path, env, "no-such-command").returncode == 2
    assert _cli(tmp_path, env, "key", "create").returncode == 2  # --project missing
    top = _cli(tmp_path, env, "--help").stdout
    for name in ("serve", "dev", "migrate", "schema", "worker", "status", "workspace", "project", "member", "key",
                 "token"):
        assert name in top
    for command in (("serve",), ("dev",), ("key", "list"), ("project", "create"), ("token",)):
        text = _cli(tmp_path, env, *command, "--help").stdout
        options = [line for line in text.splitlines() if line.strip().startswith("--")]
        assert options, command
        # Every option line carries its one-line description (argparse prints it beside or below the flag).
        assert all(len(line.split("  ")) > 1 or line.strip().endswith(("HOST", "PORT")) for line in options), text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_dev_with_piped_stdout_writes_secrets_to_a_private_file_not_to_stdout(
        tmp_path: Path, empty_database: str) -> None:
    home, data_dir = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    port = _free_port()
    env = _env(home, DATABASE_URL=empty_database, AGENTDECK_DATA_DIR=str(data_dir))
    with subprocess.Popen([sys.executable, "-m", "api", "dev", "--port", str(port)], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as dev:
        try:
            assert dev.stdout is not None
            banner = [dev.stdout.readline()]
            while not banner[-1].startswith("=") or len(banner) == 1:
                assert banner[-1], "dev exited before printing its bootstrap report"
                banner.append(dev.stdout.readline())
            printed = "".join(banner)
            secrets_file = data_dir / "bootstrap-secrets.json"
            assert str(secrets_file) in printed
            assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
            stored = json.loads(secrets_file.read_text())
            local = json.loads((data_dir / "local-secrets.json").read_text())
            for secret in (stored["api_key"], stored["console_jwt"], local["service_token"], local["jwt_secret"]):
                assert secret not in printed
            assert stored["console_user_id"] in printed and "12 h" in printed
            assert str(data_dir / "local-secrets.json") in printed  # where the service token is kept
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "dev did not start serving"
                        time.sleep(0.1)
                # The file holds live credentials: the key and the JWT both get in.
                assert http.get("/api/sessions", headers={"Authorization": f"Bearer {stored['api_key']}"}
                                ).status_code == 200
                assert http.get("/api/sessions", headers={"Authorization": f"Bearer {stored['console_jwt']}"}
                                ).status_code == 200
        finally:
            dev.terminate()
            dev.wait(timeout=30)
