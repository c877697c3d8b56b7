"""Settings from environment variables, validated once at start-up.

Every variable, its default and its meaning is listed in docs/configuration.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import platformdirs


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
    # Retention (api/stream/retention.py): the default per workspace (0: keep forever), the rows
    # pruned per workspace per transaction, and the pause between passes.
    retention_seconds: int = 7 * 24 * 3600
    retention_batch: int = 1000
    retention_interval_seconds: float = 60.0


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
        retention_seconds=_int(env, "AGENTDECK_STREAM_RETENTION_SECONDS", 7 * 24 * 3600, minimum=0),
        retention_batch=_int(env, "AGENTDECK_STREAM_RETENTION_BATCH", 1000, minimum=1),
        retention_interval_seconds=_float(env, "AGENTDECK_STREAM_RETENTION_INTERVAL_SECONDS", 60.0),
    )


# --- Fix agent (POST /api/incidents/{id}/fix-agent; docs/fix-agent.md) ---------------------------


@dataclass(frozen=True)
class CheckCommand:
    """A repository's own check (its tests), run on the server with the diff applied: off unless configured."""

    argv: tuple[str, ...]
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class GitHubRepositorySettings:
    owner: str
    repo: str
    installation_id: int


@dataclass(frozen=True)
class RepositorySettings:
    """Where a project's code lives: a local checkout or a GitHub App installation (references, never secrets)."""

    ref: str = "HEAD"
    local_path: Path | None = None
    github: GitHubRepositorySettings | None = None
    check: CheckCommand | None = None

    @property
    def display_name(self) -> str:
        if self.github is not None:
            return f"github:{self.github.owner}/{self.github.repo}"
        return f"local:{self.local_path.name if self.local_path else ''}"


@dataclass(frozen=True)
class FixSettings:
    model_base_url: str | None = None  # an OpenAI-compatible API root, e.g. https://api.openai.com/v1
    model: str | None = None
    model_api_key: str | None = field(default=None, repr=False)
    budget_seconds: float = 60.0
    max_tokens: int = 4096
    max_response_bytes: int = 1024 * 1024
    max_diff_bytes: int = 200 * 1024
    max_files: int = 8
    max_file_bytes: int = 64 * 1024
    max_context_bytes: int = 256 * 1024
    concurrency_per_workspace: int = 2
    repositories: Mapping[str, RepositorySettings] = field(default_factory=dict)  # by project id
    github_api_url: str = "https://api.github.com"
    github_app_id: str | None = None
    github_private_key: str | None = field(default=None, repr=False)  # PEM, read from the configured file

    @property
    def model_configured(self) -> bool:
        return self.model_base_url is not None and self.model is not None


_GITHUB_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_REF = re.compile(r"^(?!-)[A-Za-z0-9_./^~-]{1,200}$")


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name) or None
    if raw is not None and urlsplit(raw).scheme not in ("http", "https"):
        raise ConfigError(f"{name} must be an http:// or https:// URL")
    return raw.rstrip("/") if raw else None


def _repository(project_id: str, raw: object) -> RepositorySettings:
    where = f"AGENTDECK_FIX_REPOSITORIES[{project_id!r}]"
    if not isinstance(raw, dict) or ("local" in raw) == ("github" in raw):
        raise ConfigError(f"{where} must be an object with exactly one of local or github")
    ref = raw.get("ref", "HEAD")
    if not isinstance(ref, str) or not _REF.match(ref):
        raise ConfigError(f"{where}.ref must be a branch, tag or commit name")
    local_path = github = check = None
    if "local" in raw:
        if not isinstance(raw["local"], str) or not Path(raw["local"]).is_absolute():
            raise ConfigError(f"{where}.local must be an absolute path to a git checkout")
        local_path = Path(raw["local"])
    else:
        gh = raw["github"]
        if (not isinstance(gh, dict) or not all(isinstance(gh.get(k), str) and _GITHUB_NAME.match(gh[k])
                                                for k in ("owner", "repo"))
                or not isinstance(gh.get("installation_id"), int) or isinstance(gh.get("installation_id"), bool)):
            raise ConfigError(f"{where}.github must be {{owner, repo, installation_id (integer)}}")
        github = GitHubRepositorySettings(gh["owner"], gh["repo"], gh["installation_id"])
    if "check" in raw:
        spec = raw["check"]
        argv = spec.get("command") if isinstance(spec, dict) else None
        timeout = spec.get("timeout_seconds", 120) if isinstance(spec, dict) else None
        if (not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv)
                or not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
            raise ConfigError(f"{where}.check must be {{command: [argv...], timeout_seconds?: number}}")
        check = CheckCommand(tuple(argv), float(timeout))
    return RepositorySettings(ref=ref, local_path=local_path, github=github, check=check)


def _fix_settings(env: Mapping[str, str]) -> FixSettings:
    repositories: dict[str, RepositorySettings] = {}
    source = env.get("AGENTDECK_FIX_REPOSITORIES") or None
    if source is not None:
        try:
            raw = json.loads(Path(source).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"AGENTDECK_FIX_REPOSITORIES must name a readable JSON file: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError("AGENTDECK_FIX_REPOSITORIES must hold an object keyed by project id")
        repositories = {project: _repository(project, spec) for project, spec in raw.items()}
    app_id = env.get("AGENTDECK_GITHUB_APP_ID") or None
    key_file = env.get("AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE") or None
    if (app_id is None) != (key_file is None):
        raise ConfigError("set both AGENTDECK_GITHUB_APP_ID and AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE, or neither")
    private_key = None
    if key_file is not None:
        try:
            private_key = Path(key_file).read_text()
        except OSError:
            # Never echo key material; the path is not secret.
            raise ConfigError(f"AGENTDECK_GITHUB_APP_PRIVATE_KEY_FILE {key_file} is not readable") from None
    if any(r.github for r in repositories.values()) and app_id is None:
        raise ConfigError("a github repository is configured but AGENTDECK_GITHUB_APP_ID is not set")
    base_url = _http_url(env, "AGENTDECK_FIX_MODEL_BASE_URL")
    model = env.get("AGENTDECK_FIX_MODEL") or None
    if (base_url is None) != (model is None):
        raise ConfigError("set both AGENTDECK_FIX_MODEL_BASE_URL and AGENTDECK_FIX_MODEL, or neither")
    return FixSettings(
        model_base_url=base_url,
        model=model,
        model_api_key=env.get("AGENTDECK_FIX_MODEL_API_KEY") or None,
        budget_seconds=_float(env, "AGENTDECK_FIX_BUDGET_SECONDS", 60.0),
        max_tokens=_int(env, "AGENTDECK_FIX_MAX_TOKENS", 4096, minimum=1),
        max_response_bytes=_int(env, "AGENTDECK_FIX_MAX_RESPONSE_BYTES", 1024 * 1024, minimum=1024),
        max_diff_bytes=_int(env, "AGENTDECK_FIX_MAX_DIFF_BYTES", 200 * 1024, minimum=1),
        max_files=_int(env, "AGENTDECK_FIX_MAX_FILES", 8, minimum=0),
        max_file_bytes=_int(env, "AGENTDECK_FIX_MAX_FILE_BYTES", 64 * 1024, minimum=1),
        max_context_bytes=_int(env, "AGENTDECK_FIX_MAX_CONTEXT_BYTES", 256 * 1024, minimum=1024),
        concurrency_per_workspace=_int(env, "AGENTDECK_FIX_CONCURRENCY", 2, minimum=1),
        repositories=repositories,
        github_api_url=_http_url(env, "AGENTDECK_GITHUB_API_URL") or "https://api.github.com",
        github_app_id=app_id,
        github_private_key=private_key,
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
    # Hardening (issue #10): the detectors' own threads and queue, the throttle on unverified
    # credentials per client address, and the proxies whose X-Forwarded-For is believed.
    analysis_threads: int = field(default=2)
    analysis_max_pending: int = field(default=32)
    unverified_rate_per_second: float = field(default=5.0)
    unverified_burst: int = field(default=50)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = field(default=())
    # Operations (docs/operations.md): the /metrics endpoint and the log line format.
    metrics_enabled: bool = field(default=False)
    metrics_token: str | None = field(default=None, repr=False)
    log_format: str = field(default="text")
    # Migrations (#14): how long a migration waits for a table lock before giving up with a
    # message (AGENTDECK_MIGRATE_LOCK_TIMEOUT_MS), so a deploy never queues traffic behind it.
    migrate_lock_timeout_ms: int = field(default=5000)
    # Fix agent (issue #12).
    fix: FixSettings = field(default_factory=FixSettings)
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
        data_dir=default_data_dir(env),
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
        analysis_threads=_int(env, "AGENTDECK_ANALYSIS_THREADS", 2, minimum=1),
        analysis_max_pending=_int(env, "AGENTDECK_ANALYSIS_MAX_PENDING", 32, minimum=1),
        unverified_rate_per_second=_float(env, "AGENTDECK_UNVERIFIED_RATE_PER_SECOND", 5.0),
        unverified_burst=_int(env, "AGENTDECK_UNVERIFIED_BURST", 50, minimum=1),
        trusted_proxies=_networks(env, "AGENTDECK_TRUSTED_PROXIES"),
        migrate_lock_timeout_ms=_int(env, "AGENTDECK_MIGRATE_LOCK_TIMEOUT_MS", 5000, minimum=1),
        **_operations_settings(env),
        fix=_fix_settings(env),
        regression_deadline_seconds=_int(env, "AGENTDECK_REGRESSION_DEADLINE_SECONDS", 3600, minimum=1),
    )


def default_data_dir(env: Mapping[str, str]) -> Path:
    """AGENTDECK_DATA_DIR, else the platform's per-user data directory: the same from any working directory."""
    configured = env.get("AGENTDECK_DATA_DIR")
    return Path(configured or platformdirs.user_data_dir("agentdeck", appauthor=False)).expanduser().resolve()


def _operations_settings(env: Mapping[str, str]) -> dict[str, Any]:
    metrics = env.get("AGENTDECK_METRICS") or "off"
    if metrics not in ("on", "off"):
        raise ConfigError(f"AGENTDECK_METRICS must be on or off, got {metrics!r}")
    token = env.get("AGENTDECK_METRICS_TOKEN") or None
    if token is not None and len(token) < 32:
        raise ConfigError("AGENTDECK_METRICS_TOKEN must be at least 32 characters")
    log_format = env.get("AGENTDECK_LOG_FORMAT") or "text"
    if log_format not in ("text", "json"):
        raise ConfigError(f"AGENTDECK_LOG_FORMAT must be text or json, got {log_format!r}")
    return {"metrics_enabled": metrics == "on", "metrics_token": token, "log_format": log_format}


def _networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    try:
        return tuple(ip_network(part, strict=False) for part in _csv(env, name, ()))
    except ValueError as exc:
        raise ConfigError(f"{name} must be a comma-separated list of addresses or CIDR networks: {exc}") from None
