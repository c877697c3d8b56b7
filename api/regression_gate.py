"""`agentdeck regression wait`: the CI gate. Polls GET /api/regression-runs/{id} over HTTP with a
project API key (CI machines do not hold the database) until the run settles or the timeout passes.

Exit codes: 0 passed, 1 failed, 3 still pending at the timeout, 4 the run could not be read (2 stays
argparse's usage error, as for every agentdeck command).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

PASSED, FAILED, PENDING, UNREADABLE = 0, 1, 3, 4


class GateError(Exception):
    """The run could not be read (network, authentication, not found); the message is safe to print."""


def fetch_run(base_url: str, api_key: str, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise GateError(f"the server URL must be http:// or https://, not {base_url!r}")
    url = f"{base_url.rstrip('/')}/api/regression-runs/{urllib.parse.quote(run_id, safe='')}"
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            run: dict[str, Any] = json.loads(response.read())
            return run
    except urllib.error.HTTPError as exc:
        raise GateError(f"GET {url} answered {exc.code}: {_error_message(exc)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise GateError(f"GET {url} failed: {exc}") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.reason if isinstance(exc.reason, str) else "error"


def wait_for_run(base_url: str, api_key: str, run_id: str, *, timeout: float, interval: float,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[int, dict[str, Any] | None, str]:
    """(exit code, the last run read, a message): polls until the run is not pending or `timeout` passes."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] | None = None
    while True:
        try:
            run = fetch_run(base_url, api_key, run_id)
        except GateError as exc:
            return UNREADABLE, run, str(exc)
        if run["status"] == "passed":
            return PASSED, run, f"regression run {run_id} passed"
        if run["status"] == "failed":
            return FAILED, run, f"regression run {run_id} failed"
        if time.monotonic() + interval > deadline:
            return PENDING, run, f"regression run {run_id} is still pending after {timeout:g}s"
        sleep(interval)


def verdict_table(run: dict[str, Any]) -> str:
    """One line per pair (task, before, after, verdict), then the counts and the sign test."""
    rows = [("TASK", "BEFORE", "AFTER", "VERDICT")]
    for pair in run["pairs"]:
        rows.append((pair["task"] or "-", ",".join(pair["before_session_ids"]) or "-",
                     pair["after_session_id"] or "-", pair["verdict"] or "pending"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
             for row in rows]
    summary = run["summary"]
    counts = ", ".join(f"{name} {count}" for name, count in summary["pairs"].items())
    tasks = ", ".join(f"{name} {count}" for name, count in summary["tasks"].items())
    sign = summary["sign_test"]
    lines += [
        f"pairs: {counts}",
        f"tasks: {tasks}",
        f"sign test: {sign['improved']} improved, {sign['worsened']} worsened, p = {sign['p_value']}",
    ]
    return "\n".join(lines)
