"""Running async scenarios from sync tests, and waiting with a deadline (never asserting by sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(scenario: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    return asyncio.run(asyncio.wait_for(scenario, timeout=timeout))


async def eventually(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll until `condition()` holds, or fail naming `what` after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
