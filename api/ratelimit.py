"""Token buckets, and which bucket a request counts against (docs/credentials.md, "Rate limits").

A credential that has not been verified recently spends a token of its client address's bucket
before anything checks it: random API keys, forged JWTs and missing headers are throttled per
address, in memory, without a database round trip each. Only verified identities (a JWT or
service token checked here, an API key the database accepted) get a bucket of their own, so
junk keys can neither earn fresh buckets nor evict the real ones.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from api.auth import Identity
from api.config import Settings


class RateLimited(Exception):
    """A bucket is empty; `scope` says which ("credential" or "address")."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"{scope} rate limit exceeded")
        self.scope = scope
        self.retry_after = retry_after


class RateLimiter:
    """In-process buckets; the least recently used are forgotten past `max_keys`."""

    def __init__(self, rate_per_second: float, burst: int, scope: str, max_keys: int = 100_000) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self.scope = scope
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, key: str, now: float | None = None) -> None:
        """Take one token for `key`, or raise RateLimited with the seconds until one is available."""
        tokens = self._take(key, time.monotonic() if now is None else now, allow_debt=False)
        if tokens < 0.0:
            raise RateLimited(self.scope, max(1, math.ceil(-tokens / self.rate)))

    def spend(self, key: str) -> None:
        """Take one token for a request already served (it may leave the bucket empty, never below -1)."""
        self._take(key, time.monotonic(), allow_debt=True)

    def _take(self, key: str, now: float, *, allow_debt: bool) -> float:
        """The tokens left after taking one; negative (and nothing taken) when empty, unless `allow_debt`."""
        tokens, updated = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate) - 1.0
        if tokens < 0.0 and not allow_debt:
            self._buckets[key] = (tokens + 1.0, now)
            return tokens
        self._buckets[key] = (max(tokens, -1.0), now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return tokens


def credential_digest(authorization: str | None) -> str:
    """The sha256 of the presented token (for an API key: the hash the database stores)."""
    token = (authorization or "").partition(" ")[2].strip()
    return hashlib.sha256(token.encode()).hexdigest()


class RequestThrottle:
    """Per-address buckets for unverified credentials, per-identity buckets for verified ones."""

    VERIFIED_FOR_SECONDS = 60.0

    def __init__(self, settings: Settings, max_verified: int = 100_000) -> None:
        self.credentials = RateLimiter(settings.rate_per_second, settings.rate_burst, "credential")
        self.addresses = RateLimiter(settings.unverified_rate_per_second, settings.unverified_burst, "address")
        self.trusted_proxies = settings.trusted_proxies
        self._max_verified = max_verified
        self._verified: OrderedDict[str, float] = OrderedDict()  # credential digest -> monotonic expiry

    def admit(self, authorization: str | None, peer: str | None, headers: Mapping[str, str]) -> bool:
        """Before authentication: True for a recently verified credential; else spend the address's token."""
        expiry = self._verified.get(credential_digest(authorization))
        if expiry is not None and expiry > time.monotonic():
            return True
        self.addresses.check(self.client_address(peer, headers))
        return False

    def count(self, identity: Identity, verified_before: bool) -> None:
        """After authentication: a verified identity spends a token of its own bucket."""
        if identity.kind != "key" or verified_before:
            self.credentials.check(identity.rate_key)

    def verified(self, digest: str) -> None:
        """The credential with this digest checked out (a JWT here, an API key in the database)."""
        self._verified.pop(digest, None)
        self._verified[digest] = time.monotonic() + self.VERIFIED_FOR_SECONDS
        while len(self._verified) > self._max_verified:
            self._verified.popitem(last=False)

    def key_checked(self, identity: Identity, accepted: bool) -> None:
        """The database's verdict on an API key; a refused (revoked) one goes back to its address's bucket."""
        digest = str(identity.claims.get("key_hash"))
        if accepted:
            if digest not in self._verified:  # its first request was counted against its address only
                self.credentials.spend(identity.rate_key)
            self.verified(digest)
        else:
            self._verified.pop(digest, None)

    def client_address(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The peer, or behind trusted proxies the last X-Forwarded-For hop that is not one of them."""
        if peer is None or not self._trusted(peer):
            return peer or "unknown"
        hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return peer

    def _trusted(self, address: str) -> bool:
        parsed: IPv4Address | IPv6Address
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        networks: tuple[IPv4Network | IPv6Network, ...] = self.trusted_proxies
        return any(parsed in network for network in networks)
