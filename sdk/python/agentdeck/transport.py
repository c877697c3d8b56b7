"""HTTP to the agentdeck API, with retries: exponential backoff with full jitter, honouring Retry-After.

Retried: connection errors and timeouts, 429, 5xx. Every request the SDK retries is safe to repeat:
trace creates carry a client-chosen id, events carry idempotency keys.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 0.2
    max_seconds: float = 10.0
    # Retry-After above this is capped: a confused proxy cannot park the SDK for an hour.
    max_retry_after_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))  # noqa: S311 (jitter)


class GaveUp(Exception):
    """Retrying stopped (the tracer is closing past its deadline)."""


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


class Transport:
    def __init__(self, base_url: str, api_key: str, *, timeout: float, policy: RetryPolicy,
                 stop: threading.Event, on_retry: Callable[[str], None]) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                    headers={"Authorization": f"Bearer {api_key}",
                                             "User-Agent": "agentdeck-sdk/0.1"})
        self._policy = policy
        self._stop = stop
        self._on_retry = on_retry

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The first answer that is not retryable; raises GaveUp once `stop` is set while retrying."""
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self._client.request(method, path, **kwargs)
                if response.status_code not in RETRY_STATUSES:
                    return response
                retry_after = retry_after_seconds(response) if response.status_code in (429, 503) else None
                reason = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            self._on_retry(reason)
            if self._stop.wait(self._policy.delay(attempt, retry_after)):
                raise GaveUp(reason)
            attempt += 1
