"""Credentials → identity: project API keys, console JWTs and the service token.

An identity is a request role plus the claims SQL reads through `auth.jwt()`. API keys are
resolved inside the request's own transaction (by the sha256 of the secret), so a revoked key
fails there with AD401 and costs no extra round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from api.config import ConfigError, Settings

KEY_PREFIX = "adk_"
# A user id as PostgreSQL's uuid type reads it back unchanged (Python also takes urn:uuid:, braces, no hyphens).
_USER_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# exp and iat are integer seconds before 9999-01-01T00:00:00Z, the last instant agentdeck stores (docs/events.md).
MAX_EPOCH_SECONDS = 253_370_764_800
_WORKSPACE_ID = re.compile(r"^ws_[A-Za-z0-9]{1,64}$")
# Claims copied from a verified JWT into the request; anything else in the token is dropped.
_CLAIM_WHITELIST = ("sub", "role", "aud", "exp", "iat", "iss", "email", "session_id")


class AuthenticationFailed(Exception):
    """Missing, malformed, expired or unverifiable credentials (401)."""


class CredentialNotAllowed(Exception):
    """A valid credential of a kind this request may not use: the service token from a browser (403)."""


class WorkspaceHeaderInvalid(Exception):
    """The service credential did not name a usable workspace (400)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Identity:
    kind: str  # "user" | "key" | "service"
    role: str  # the request role the transaction switches to
    claims: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None  # a JWT's exp, for long-lived streams

    @property
    def rate_key(self) -> str:
        """What the rate limiter counts requests against (never the secret itself)."""
        return f"{self.kind}:{self.claims.get('sub') or self.claims.get('key_hash') or self.claims.get('workspace_id')}"


def new_api_key() -> tuple[str, str, bytes]:
    """A new secret, the prefix shown in listings, and the sha256 that is stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[: len(KEY_PREFIX) + 6], hashlib.sha256(secret.encode()).digest()


def mint_token(settings: Settings, user_id: str, ttl_seconds: int) -> str:
    """A console JWT signed with the configured local HS secret (the CLI's `token` command)."""
    if settings.jwt_secret is None or not settings.jwt_algorithms[0].startswith("HS"):
        raise ConfigError("minting needs an HS* algorithm and AGENTDECK_JWT_SECRET")
    now = int(time.time())
    claims = {"sub": user_id, "role": "authenticated", "aud": settings.jwt_audience, "iat": now,
              "exp": now + ttl_seconds, "iss": settings.jwt_issuer or "agentdeck-local"}
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithms[0])


def _epoch_seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_EPOCH_SECONDS


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._jwks_file: jwt.PyJWKSet | None = None
        source = settings.jwt_jwks
        if source is not None:
            if source.startswith("https://"):
                self._jwks = jwt.PyJWKClient(source, cache_keys=True, lifespan=settings.jwks_cache_seconds)
            else:
                self._jwks_file = jwt.PyJWKSet.from_json(Path(source).read_text())

    async def identify(self, authorization: str | None, workspace_header: str | None,
                       from_browser: bool = False) -> Identity:
        if not authorization:
            raise AuthenticationFailed("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
        if token.startswith(KEY_PREFIX):
            key_hash = hashlib.sha256(token.encode()).hexdigest()
            return Identity("key", "agentdeck_key", {"role": "agentdeck_key", "key_hash": key_hash})
        service_token = self.settings.service_token
        if service_token is not None and hmac.compare_digest(token.encode(), service_token.encode()):
            if from_browser:
                # The service token is server-side only: a browser holding it anyway is refused (docs/console.md).
                raise CredentialNotAllowed("the service credential is not accepted from a browser")
            return self._service(workspace_header)
        return await self._user(token)

    def _service(self, workspace_header: str | None) -> Identity:
        if not workspace_header:
            raise WorkspaceHeaderInvalid("the service credential must name its workspace in X-Workspace-Id",
                                         "workspace_required")
        if not _WORKSPACE_ID.match(workspace_header):
            raise WorkspaceHeaderInvalid("X-Workspace-Id is not a workspace id", "bad_workspace_id")
        return Identity("service", "service_role", {"role": "service_role", "workspace_id": workspace_header})

    async def _user(self, token: str) -> Identity:
        try:
            key = await self._verification_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.settings.jwt_algorithms),
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub"], "verify_iss": self.settings.jwt_issuer is not None},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("token has expired") from None
        except (jwt.PyJWTError, ValueError, KeyError):
            raise AuthenticationFailed("invalid token") from None
        if claims.get("role", "authenticated") != "authenticated":
            raise AuthenticationFailed("token role is not accepted")
        if not isinstance(claims["sub"], str) or not _USER_ID.match(claims["sub"]):
            raise AuthenticationFailed("token subject is not a user id")
        if any(not _epoch_seconds(claims[name]) for name in ("exp", "iat") if name in claims):
            raise AuthenticationFailed("exp and iat must be integer seconds before 9999-01-01")
        kept = {name: claims[name] for name in _CLAIM_WHITELIST if name in claims}
        kept["role"] = "authenticated"
        return Identity("user", "authenticated", kept, expires_at=float(claims["exp"]))

    async def _verification_key(self, token: str) -> Any:
        if self._jwks is not None:
            client = self._jwks
            signing_key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            return signing_key.key
        if self._jwks_file is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            matching = [k for k in self._jwks_file.keys if kid is None or k.key_id == kid]
            if not matching:
                raise jwt.InvalidKeyError("no key for this kid")
            return matching[0].key
        if self.settings.jwt_secret is None:
            raise jwt.InvalidKeyError("JWT verification is not configured")
        return self.settings.jwt_secret
