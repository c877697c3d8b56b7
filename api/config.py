"""Settings from environment variables, validated once at start-up.

Every variable, its default and its meaning is listed in docs/configuration.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast
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


ARTIFACT_MEDIA_TYPES = (
    "image/png", "image/jpeg", "image/webp", "video/webm", "video/mp4",
    "application/json", "application/gzip", "application/zip", "text/plain",
)
MAX_ARTIFACT_URL_TTL_SECONDS = 900
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_S3_VARIABLES = ("AGENTDECK_S3_BUCKET", "AGENTDECK_S3_ENDPOINT_URL", "AGENTDECK_S3_ACCESS_KEY_ID",
                 "AGENTDECK_S3_SECRET_ACCESS_KEY", "AGENTDECK_S3_PREFIX")


AddressingStyle = Literal["auto", "path", "virtual"]


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket (AWS S3, Supabase Storage's S3 endpoint, MinIO, ...)."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    prefix: str = ""  # prepended to every storage path: "" or "some/prefix/"
    addressing_style: AddressingStyle = "auto"


@dataclass(frozen=True)
class ArtifactSettings:
    backend: str = "local"  # "local" (under data_dir/artifacts) or "s3"
    max_bytes: int = 25 * 1024 * 1024
    media_types: tuple[str, ...] = ARTIFACT_MEDIA_TYPES
    url_ttl_seconds: int = 60
    signing_key: str | None = field(default=None, repr=False)  # local URLs; else a key file in data_dir
    s3: S3Settings | None = None


def _artifact_settings(env: Mapping[str, str]) -> ArtifactSettings:
    backend = env.get("AGENTDECK_STORAGE_BACKEND") or "local"
    if backend not in ("local", "s3"):
        raise ConfigError(f"AGENTDECK_STORAGE_BACKEND must be local or s3, got {backend!r}")
    media_types = tuple(m.lower() for m in _csv(env, "AGENTDECK_ARTIFACT_MEDIA_TYPES", ARTIFACT_MEDIA_TYPES))
    malformed = [m for m in media_types if not _MEDIA_TYPE.match(m)]
    if malformed:
        raise ConfigError(f"AGENTDECK_ARTIFACT_MEDIA_TYPES has malformed media types: {', '.join(malformed)}")
    ttl = _int(env, "AGENTDECK_ARTIFACT_URL_TTL_SECONDS", 60, minimum=1)
    if ttl > MAX_ARTIFACT_URL_TTL_SECONDS:
        raise ConfigError(f"AGENTDECK_ARTIFACT_URL_TTL_SECONDS must be at most {MAX_ARTIFACT_URL_TTL_SECONDS}, "
                          f"got {ttl}")
    signing_key = env.get("AGENTDECK_ARTIFACT_SIGNING_KEY") or None
    if signing_key is not None and len(signing_key) < 32:
        raise ConfigError("AGENTDECK_ARTIFACT_SIGNING_KEY must be at least 32 characters")
    s3 = _s3_settings(env) if backend == "s3" else None
    if s3 is None and any(env.get(name) for name in _S3_VARIABLES):
        raise ConfigError("AGENTDECK_S3_* is set but AGENTDECK_STORAGE_BACKEND is not s3")
    return ArtifactSettings(
        backend=backend,
        max_bytes=_int(env, "AGENTDECK_ARTIFACT_MAX_BYTES", 25 * 1024 * 1024, minimum=1024),
        media_types=media_types,
        url_ttl_seconds=ttl,
        signing_key=signing_key,
        s3=s3,
    )


def _s3_settings(env: Mapping[str, str]) -> S3Settings:
    bucket = env.get("AGENTDECK_S3_BUCKET") or ""
    if not bucket:
        raise ConfigError("AGENTDECK_S3_BUCKET is required when AGENTDECK_STORAGE_BACKEND is s3")
    endpoint = env.get("AGENTDECK_S3_ENDPOINT_URL") or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ConfigError("AGENTDECK_S3_ENDPOINT_URL must be an http:// or https:// URL")
    access_key_id = env.get("AGENTDECK_S3_ACCESS_KEY_ID") or None
    secret = env.get("AGENTDECK_S3_SECRET_ACCESS_KEY") or None
    if (access_key_id is None) != (secret is None):
        # Half a key pair would silently fall back to the ambient AWS credentials.
        raise ConfigError("set both AGENTDECK_S3_ACCESS_KEY_ID and AGENTDECK_S3_SECRET_ACCESS_KEY, or neither")
    addressing = env.get("AGENTDECK_S3_ADDRESSING_STYLE") or "auto"
    if addressing not in ("auto", "path", "virtual"):
        raise ConfigError(f"AGENTDECK_S3_ADDRESSING_STYLE must be auto, path or virtual, got {addressing!r}")
    prefix = (env.get("AGENTDECK_S3_PREFIX") or "").strip("/")
    return S3Settings(
        bucket=bucket,
        endpoint_url=endpoint,
        region=env.get("AGENTDECK_S3_REGION") or "us-east-1",
        access_key_id=access_key_id,
        secret_access_key=secret,
        prefix=prefix + "/" if prefix else "",
        addressing_style=cast(AddressingStyle, addressing),
    )


@dataclass(frozen=True)
class StreamSettings:
    """GET /api/stream: heartbeats, per-subscriber bounds and the listener's timers (docs/stream.md)."""

    heartbeat_seconds: float = 15.0
    retry_ms: int = 3000
    queue_max: int = 1000
    page_size: int = 500
    send_timeout_seconds: float = 60.0
    reauthorize_seconds: float = 60.0
    ping_seconds: float = 10.0
    poll_seconds: float = 30.0


def _stream_settings(env: Mapping[str, str]) -> StreamSettings:
    return StreamSettings(
        heartbeat_seconds=_float(env, "AGENTDECK_STREAM_HEARTBEAT_SECONDS", 15.0),
        retry_ms=_int(env, "AGENTDECK_STREAM_RETRY_MS", 3000, minimum=0),
        queue_max=_int(env, "AGENTDECK_STREAM_QUEUE_MAX", 1000, minimum=1),
        page_size=_int(env, "AGENTDECK_STREAM_PAGE_SIZE", 500, minimum=1),
        send_timeout_seconds=_float(env, "AGENTDECK_STREAM_SEND_TIMEOUT_SECONDS", 60.0),
        reauthorize_seconds=_float(env, "AGENTDECK_STREAM_REAUTHORIZE_SECONDS", 60.0),
        ping_seconds=_float(env, "AGENTDECK_STREAM_PING_SECONDS", 10.0),
        poll_seconds=_float(env, "AGENTDECK_STREAM_POLL_SECONDS", 30.0),
    )


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
    run_worker: bool = field(default=True)
    artifacts: ArtifactSettings = field(default_factory=ArtifactSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    # Regression runs (docs/regression-runs.md): the deadline of a run whose request names none.
    regression_deadline_seconds: int = field(default=3600)

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
    if jwt_jwks is not None and jwt_jwks.startswith("http://"):
        raise ConfigError("AGENTDECK_JWT_JWKS must be an https URL or a file path: keys fetched in clear can be forged")
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
        run_worker=(env.get("AGENTDECK_WORKER") or "1") not in ("0", "false", "no"),
        artifacts=_artifact_settings(env),
        stream=_stream_settings(env),
        regression_deadline_seconds=_int(env, "AGENTDECK_REGRESSION_DEADLINE_SECONDS", 3600, minimum=1),
    )
