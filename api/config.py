"""Settings from environment variables, validated once at start-up.

Every variable, its default and its meaning is listed in docs/configuration.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """Bad configuration: reported as one line at start, never as a traceback."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw is not None and urlsplit(raw).scheme not in ("postgres", "postgresql"):
        # Never echo the URL: it may carry a password.
        raise ConfigError(f"{name} must be a postgresql:// URL")
    return raw


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    api_database_url: str | None
    data_dir: Path
    host: str
    port: int
    jwt_secret: str | None
    jwt_jwks: str | None
    jwt_algorithms: tuple[str, ...]
    jwt_audience: str
    jwt_issuer: str | None
    service_token: str | None
    dev_mode: bool
    max_body_bytes: int
    max_batch_events: int
    statement_timeout_ms: int
    pool_min: int
    pool_max: int
    rate_per_second: float
    rate_burst: int
    backpressure_waiters: int
    jwks_cache_seconds: int = field(default=300)

    @property
    def embedded(self) -> bool:
        return self.database_url is None


_ALLOWED_ALGORITHMS = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    algorithms = _csv(env, "AGENTDECK_JWT_ALGORITHMS", ("HS256",))
    unknown = sorted(set(algorithms) - _ALLOWED_ALGORITHMS)
    if unknown:
        raise ConfigError(f"AGENTDECK_JWT_ALGORITHMS has unsupported algorithms: {', '.join(unknown)}")
    symmetric = {a for a in algorithms if a.startswith("HS")}
    if symmetric and len(symmetric) != len(algorithms):
        # Mixing HMAC and public-key algorithms is what enables algorithm confusion.
        raise ConfigError("AGENTDECK_JWT_ALGORITHMS must not mix HS* with RS*/ES*/PS* algorithms")
    jwt_secret = env.get("AGENTDECK_JWT_SECRET") or None
    jwt_jwks = env.get("AGENTDECK_JWT_JWKS") or None
    if symmetric and jwt_secret is not None and len(jwt_secret) < 32:
        raise ConfigError("AGENTDECK_JWT_SECRET must be at least 32 characters")
    if not symmetric and jwt_jwks is None:
        raise ConfigError("AGENTDECK_JWT_JWKS (a file path or https URL) is required for RS*/ES*/PS* algorithms")
    service_token = env.get("AGENTDECK_SERVICE_TOKEN") or None
    if service_token is not None and len(service_token) < 32:
        raise ConfigError("AGENTDECK_SERVICE_TOKEN must be at least 32 characters")
    pool_max = _int(env, "AGENTDECK_POOL_MAX", 10, minimum=1)
    return Settings(
        database_url=_database_url(env, "DATABASE_URL"),
        api_database_url=_database_url(env, "AGENTDECK_API_DATABASE_URL"),
        data_dir=Path(env.get("AGENTDECK_DATA_DIR") or ".agentdeck").expanduser().resolve(),
        host=env.get("AGENTDECK_HOST") or "127.0.0.1",
        port=_int(env, "AGENTDECK_PORT", 4318, minimum=1),
        jwt_secret=jwt_secret,
        jwt_jwks=jwt_jwks,
        jwt_algorithms=algorithms,
        jwt_audience=env.get("AGENTDECK_JWT_AUDIENCE") or "authenticated",
        jwt_issuer=env.get("AGENTDECK_JWT_ISSUER") or None,
        service_token=service_token,
        dev_mode=(env.get("AGENTDECK_DEV") or "0") in ("1", "true", "yes"),
        max_body_bytes=_int(env, "AGENTDECK_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024),
        max_batch_events=_int(env, "AGENTDECK_MAX_BATCH_EVENTS", 1000, minimum=1),
        statement_timeout_ms=_int(env, "AGENTDECK_STATEMENT_TIMEOUT_MS", 15000, minimum=100),
        pool_min=min(_int(env, "AGENTDECK_POOL_MIN", 2, minimum=1), pool_max),
        pool_max=pool_max,
        rate_per_second=_float(env, "AGENTDECK_RATE_PER_SECOND", 200.0),
        rate_burst=_int(env, "AGENTDECK_RATE_BURST", 400, minimum=1),
        backpressure_waiters=_int(env, "AGENTDECK_BACKPRESSURE_WAITERS", 64, minimum=1),
        jwks_cache_seconds=_int(env, "AGENTDECK_JWKS_CACHE_SECONDS", 300, minimum=1),
    )
