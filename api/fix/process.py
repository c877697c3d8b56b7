"""Subprocesses for git and check commands: bounded output, killed on timeout or cancellation."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path


class ProcessTimeout(Exception):
    """The process ran past its time limit and was killed."""


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def scrubbed_env(home: Path) -> dict[str, str]:
    """The whole environment a child gets: no agentdeck setting, token or key of the server's."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }


async def run_process(argv: list[str], *, cwd: Path, env: dict[str, str], time_limit: float, stdin: bytes | None = None,
                      max_output: int = 8 * 1024 * 1024) -> ProcessResult:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    try:
        async with asyncio.timeout(time_limit):
            stdout, stderr = await process.communicate(stdin)
    except TimeoutError:
        raise ProcessTimeout(f"{argv[0]} ran longer than {time_limit:.0f}s") from None
    finally:
        if process.returncode is None:
            # The whole group: a check command's own children go too.
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            await process.wait()
    return ProcessResult(process.returncode or 0, stdout[:max_output], stderr[-max_output:])
