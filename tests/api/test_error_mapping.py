"""api/errors.py: every lower-layer failure becomes one documented HTTP error, never a KeyError or a 500."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from botocore.exceptions import EndpointConnectionError

from api.auth import AuthenticationFailed, WorkspaceHeaderInvalid
from api.errors import ApiError, rejection_error, to_api_error
from api.ratelimit import RateLimited


def test_an_ingest_rejection_code_the_api_does_not_know_is_422_not_a_key_error() -> None:
    assert (rejection_error({"code": "a_code_added_later", "reason": "r"}).status) == 422
    conflict = rejection_error({"code": "seq_conflict", "reason": "seq already stored"})
    assert (conflict.status, conflict.code, conflict.message) == (409, "seq_conflict", "seq already stored")
    assert rejection_error({}).status == 422


@pytest.mark.parametrize("exc,status,code", [
    (RateLimited("address", 7), 429, "unverified_rate_limited"),
    (RateLimited("credential", 1), 429, "rate_limited"),
    (RateLimited("analysis", 1), 429, "analysis_busy"),
    (AuthenticationFailed("invalid token"), 401, "unauthorized"),
    (WorkspaceHeaderInvalid("no workspace", "workspace_required"), 400, "workspace_required"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), 503, "storage_unavailable"),
    (ConnectionRefusedError(), 503, "database_unavailable"),
    (TimeoutError(), 503, "timeout"),
    (KeyError("anything else"), 500, "internal_error"),
])
def test_lower_layer_failures_map_to_one_http_error(exc: Exception, status: int, code: str) -> None:
    error = to_api_error(exc)
    assert (error.status, error.code) == (status, code)
    assert to_api_error(error) is error
    if status == 429:
        assert error.headers["Retry-After"] == str(exc.retry_after)  # type: ignore[attr-defined]
    if status == 401:
        assert error.headers["WWW-Authenticate"].startswith("Bearer")


def sql_error(database_url: str, statement: str) -> ApiError:
    async def run() -> BaseException:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(statement)
        except asyncpg.PostgresError as exc:
            return exc
        finally:
            await conn.close()
        raise AssertionError("the statement did not fail")

    return to_api_error(asyncio.run(run()))


def test_sqlstates_from_a_real_server_map_as_documented(database_url: str) -> None:
    raised = "do $$ begin raise exception using errcode = '{}', message = 'm', hint = 'h', detail = '{}'; end $$"
    conflict = sql_error(database_url, raised.format("AD409", '{"seq": 3}'))
    assert (conflict.status, conflict.code, conflict.details) == (409, "h", [{"seq": 3}])
    assert sql_error(database_url, raised.format("AD999", "x")).status == 500
    assert sql_error(database_url, raised.format("AD422", "not json")).details == ["not json"]
    assert sql_error(database_url, "select 1 / 0").status == 422
    assert sql_error(database_url, "select '10000-01-01T00:00:00+16:00'::timestamptz").status == 422
    assert sql_error(database_url, "select * from no_such_table").status == 500
