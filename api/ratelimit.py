"""Per-credential token buckets: a burst allowance refilled at a steady rate."""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from api.errors import ApiError


class RateLimiter:
    """In-process buckets keyed by credential; the least recently used are forgotten past `max_keys`."""

    def __init__(self, rate_per_second: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, key: str, now: float | None = None) -> None:
        """Take one token for `key`, or raise 429 with the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, updated = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            retry_after = max(1, math.ceil((1.0 - tokens) / self.rate))
            raise ApiError(429, "rate limit exceeded for this credential", code="rate_limited",
                           headers={"Retry-After": str(retry_after)})
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
