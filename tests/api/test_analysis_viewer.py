"""A viewer's POST analyze runs the detectors but stores nothing (docs/detectors.md, docs/credentials.md)."""

from __future__ import annotations

import httpx

from tests.api.conftest import SERVICE_TOKEN
from tests.api.test_analysis import failing_run
from tests.support.tenants import Tenant


def test_a_viewers_analyze_returns_the_result_unstored_and_touches_no_incident(
    client: httpx.Client, tenant: Tenant,
) -> None:
    failing_run(client, tenant.key(), "viewer-1", end=False)
    stored = client.post("/api/traces/viewer-1/analyze", headers=tenant.service(SERVICE_TOKEN))
    assert stored.status_code == 200 and stored.json()["stored"] is True
    [incident] = client.get("/api/incidents", headers=tenant.key()).json()["incidents"]
    resolved = client.patch(f"/api/incidents/{incident['id']}", json={"status": "resolved"},
                            headers=tenant.user("member"))
    assert resolved.status_code == 200

    viewed = client.post("/api/traces/viewer-1/analyze", headers=tenant.user("viewer"))
    assert viewed.status_code == 200, viewed.text
    result = viewed.json()
    assert result["stored"] is False
    assert (result["labels"], result["input_digest"]) == (stored.json()["labels"], stored.json()["input_digest"])
    # The stored analysis is still the service's, and the incident is as the member left it.
    assert client.get("/api/traces/viewer-1/analysis", headers=tenant.key()).json() == stored.json()
    [after] = client.get("/api/incidents", headers=tenant.key()).json()["incidents"]
    assert after == resolved.json()


def test_writers_analyze_stores_the_result(client: httpx.Client, tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "viewer-2", end=False)
    for headers in (tenant.key(), tenant.user("member"), tenant.user("owner")):
        analyzed = client.post("/api/traces/viewer-2/analyze", headers=headers)
        assert analyzed.status_code == 200 and analyzed.json()["stored"] is True
        assert client.get("/api/traces/viewer-2/analysis", headers=tenant.user("viewer")).json() == analyzed.json()
