"""The optional check command: the repository's own tests, run with the diff applied.

It runs repository code on this server (docs/fix-agent.md says so plainly), so it gets a fresh
export of the pinned tree in a temporary directory, a time limit, and a scrubbed environment:
PATH and a throwaway HOME, nothing of the server's settings, tokens or keys.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from api.config import CheckCommand
from api.fix.process import ProcessTimeout, run_process, scrubbed_env
from api.fix.redact import redact_text
from api.fix.repository import Repository
from api.fix.validate import apply, init_tree

OUTPUT_TAIL_CHARS = 4000


async def run_check(repository: Repository, base_sha: str, diff: str, check: CheckCommand,
                    time_limit: float) -> dict[str, Any]:
    """{status: passed|failed|timeout, exit_code, output_tail, duration_ms}; raises InvalidDiff if it will not apply."""
    started = time.monotonic()
    with (tempfile.TemporaryDirectory(prefix="agentdeck-check-") as scratch,
          tempfile.TemporaryDirectory(prefix="agentdeck-home-") as scratch_home):
        tree, home = Path(scratch), Path(scratch_home)
        await repository.export(base_sha, tree)
        await init_tree(tree)
        await apply(diff, tree, check_only=False)
        exit_code: int | None = None
        try:
            result = await run_process(list(check.argv), cwd=tree, env=scrubbed_env(home),
                                       time_limit=min(check.timeout_seconds, time_limit))
            exit_code = result.returncode
            status = "passed" if exit_code == 0 else "failed"
            output = (result.stdout + b"\n" + result.stderr).decode(errors="replace")
        except ProcessTimeout as exc:
            status, output = "timeout", str(exc)
        except OSError as exc:
            status, output = "failed", f"the check command could not start: {exc.strerror}"
    tail = output.strip()[-OUTPUT_TAIL_CHARS:]
    return {"status": status, "exit_code": exit_code, "output_tail": redact_text(tail, OUTPUT_TAIL_CHARS),
            "duration_ms": round((time.monotonic() - started) * 1000)}

