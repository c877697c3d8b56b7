"""Schema-driven fuzzing of every operation in /openapi.json, against a real server and database.

Schemathesis generates requests from the published document; each is sent with an API key or a
console JWT, and fails the test on any 5xx, an undocumented status or content type, or a body
that breaks its documented schema. Path parameters are pointed at real objects half the time, so
the handlers past the 404 are reached too. Bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.test_analysis import failing_run
from tests.support.artifacts import png, upload_raw
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# An endless event stream: tests/api/test_stream*.py cover it with a real SSE client.
SKIPPED = {("GET", "/api/stream")}


def real_objects(client: httpx.Client, tenant: Tenant) -> dict[str, str]:
    """A session with a failure, its incident and an artifact: what path parameters may point at."""
    failing_run(client, tenant.key(), "fuzz-1", end=False)
    assert client.post("/api/traces/fuzz-1/analyze", headers=tenant.key()).status_code == 200
    [incident] = client.get("/api/incidents", headers=tenant.key()).json()["incidents"]
    artifact = upload_raw(client, "fuzz-1", tenant.key(), png(), "image/png").json()
    return {"trace_id": "fuzz-1", "incident_id": incident["id"], "artifact_id": artifact["artifact_id"]}


def test_every_operation_survives_schema_driven_fuzzing_with_both_credentials(
    start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant,
) -> None:
    with start_server() as server, httpx.Client(base_url=server.base_url, timeout=30) as client:
        known = real_objects(client, tenant)
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        credentials = {"api_key": tenant.key(), "console_jwt": tenant.user("member", ttl=3600)}
        operations = [result.ok() for result in schema.get_all_operations()]
        seen: Counter[tuple[str, int]] = Counter()
        assert len(operations) >= 15
        for operation in operations:
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue

            @given(case=operation.as_strategy(), credential=st.sampled_from(sorted(credentials)),
                   pin=st.booleans())
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case: Any, credential: str, pin: bool) -> None:
                if pin:
                    for name in case.path_parameters or {}:
                        case.path_parameters[name] = known.get(name, case.path_parameters[name])
                response = case.call(base_url=server.base_url, headers=credentials[credential],
                                     allow_redirects=False, timeout=30)
                seen[(operation.path, response.status_code)] += 1
                case.validate_response(response, checks=CHECKS)

            fuzz()
        # Every operation was exercised, and past authentication and validation some of the time.
        fuzzed = {path for path, _ in seen}
        assert len(fuzzed) == len({op.path for op in operations if (op.method.upper(), op.path) not in SKIPPED})
        assert sum(count for (_, status), count in seen.items() if status < 300) > len(fuzzed)
