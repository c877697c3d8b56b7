"""Credentials: every way a token can be wrong answers 401; keys, users and the service resolve."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api import admin
from api.auth import mint_token
from api.config import Settings
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN
from tests.support.tenants import Tenant

URL = "/api/sessions"


def claims(user: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": user, "role": "authenticated", "aud": "authenticated", "iat": now, "exp": now + 300, **overrides}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()["error"]
    assert body["code"] == "unauthorized"
    assert body["request_id"] == response.headers["x-request-id"]


def test_valid_credentials_reach_an_authenticated_endpoint(client: httpx.Client, tenant: Tenant) -> None:
    assert client.get(URL, headers=tenant.key()).status_code == 200
    assert client.get(URL, headers=tenant.user("viewer")).status_code == 200
    assert client.get(URL, headers=tenant.service(SERVICE_TOKEN)).status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_malformed_authorization_is_401(client: httpx.Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get(URL, headers=headers)
    assert_401(response)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_expired_token_is_401(client: httpx.Client, tenant: Tenant) -> None:
    token = jwt.encode(claims(tenant.users["member"], exp=int(time.time()) - 60), JWT_SECRET, algorithm="HS256")
    assert_401(client.get(URL, headers=bearer(token)))


def test_wrongly_signed_token_is_401(client: httpx.Client, tenant: Tenant) -> None:
    token = jwt.encode(claims(tenant.users["member"]), "another-secret-" + "x" * 40, algorithm="HS256")
    assert_401(client.get(URL, headers=bearer(token)))


def test_wrong_audience_is_401(client: httpx.Client, tenant: Tenant) -> None:
    token = jwt.encode(claims(tenant.users["member"], aud="someone-else"), JWT_SECRET, algorithm="HS256")
    assert_401(client.get(URL, headers=bearer(token)))


def test_alg_none_token_is_401(client: httpx.Client, tenant: Tenant) -> None:
    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(tenant.users['member']))}."
    assert_401(client.get(URL, headers=bearer(token)))


@pytest.mark.parametrize("garbage", ["a.b.c", "not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed_token_is_401(client: httpx.Client, garbage: str) -> None:
    assert_401(client.get(URL, headers=bearer(garbage)))


def test_token_for_another_role_or_non_uuid_subject_is_401(client: httpx.Client, tenant: Tenant) -> None:
    service_role = jwt.encode(claims(tenant.users["member"], role="service_role"), JWT_SECRET, algorithm="HS256")
    assert_401(client.get(URL, headers=bearer(service_role)))
    not_uuid = jwt.encode(claims("admin"), JWT_SECRET, algorithm="HS256")
    assert_401(client.get(URL, headers=bearer(not_uuid)))


def test_revoked_and_unknown_keys_are_401(client: httpx.Client, tenant: Tenant, database_url: str) -> None:
    async def revoke() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await admin.revoke_key(conn, tenant.key_ids[tenant.projects[0]])
        finally:
            await conn.close()

    assert client.get(URL, headers=tenant.key(0)).status_code == 200
    asyncio.run(revoke())
    assert_401(client.get(URL, headers=tenant.key(0)))
    assert_401(client.get(URL, headers=bearer("adk_" + "x" * 43)))
    assert client.get(URL, headers=tenant.key(1)).status_code == 200


def test_service_token_must_name_a_workspace(client: httpx.Client) -> None:
    response = client.get(URL, headers=bearer(SERVICE_TOKEN))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "workspace_required")


@pytest.fixture
def rsa_server(
    tmp_path: Path, start_server: Callable[..., object]
) -> Iterator[tuple[httpx.Client, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    with start_server(AGENTDECK_JWT_ALGORITHMS="RS256", AGENTDECK_JWT_JWKS=str(jwks),  # type: ignore[attr-defined]
                      AGENTDECK_JWT_SECRET="") as running:
        with httpx.Client(base_url=running.base_url) as http:
            yield http, key


def test_rs256_tokens_verify_against_a_jwks_file(rsa_server: tuple[httpx.Client, rsa.RSAPrivateKey],
                                                 tenant: Tenant) -> None:
    http, key = rsa_server
    token = jwt.encode(claims(tenant.users["member"]), key, algorithm="RS256", headers={"kid": "k1"})
    assert http.get(URL, headers=bearer(token)).status_code == 200


def test_hs256_token_signed_with_the_public_key_is_401(rsa_server: tuple[httpx.Client, rsa.RSAPrivateKey],
                                                       tenant: Tenant) -> None:
    """Algorithm confusion: the RS256 public key used as an HMAC secret must not verify."""
    http, key = rsa_server
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'}).encode())}." \
                    f"{b64(json.dumps(claims(tenant.users['member'])).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_401(http.get(URL, headers=bearer(f"{signing_input}.{b64(signature)}")))


def test_minted_console_token_carries_the_supabase_claims_shape(settings: Settings) -> None:
    user = str(uuid.uuid4())
    decoded = jwt.decode(mint_token(settings, user, 60), JWT_SECRET, algorithms=["HS256"], audience="authenticated")
    assert {"sub", "role", "aud", "exp", "iat", "iss"} <= set(decoded)
    assert (decoded["sub"], decoded["role"]) == (user, "authenticated")
