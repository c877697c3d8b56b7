"""Regression runs by size: 10, 100 and 500 tasks, through the real API.

    python -m bench.regression          (BENCH_REGRESSION_SIZES=10,100,500 by default)

For each size: that many failing before-sessions (one incident) and as many clean after-sessions,
all analysed by the server's worker; then the time of POST …/regression-runs for a run whose
sessions are all analysed (it is judged and settled inside the request), and of GET
/api/regression-runs/{id} for a pending run of the same sessions (judged live on every read).
"""

from __future__ import annotations

import os
import statistics
import time

import httpx

from bench.common import BenchTarget, bench_target
from tests.support.regression import agent_run, wait_until

SIZES = tuple(int(n) for n in os.environ.get("BENCH_REGRESSION_SIZES", "10,100,500").split(","))
REPEATS = 5


def _sessions(http: httpx.Client, headers: dict[str, str], size: int) -> str:
    for n in range(size):
        agent_run(http, headers, f"s{size}-before-{n}", "not_found", task_key=f"s{size}-t{n}")
        agent_run(http, headers, f"s{size}-after-{n}", "clean", task_key=f"s{size}-t{n}")

    def incident() -> str | None:
        found = http.get("/api/incidents", params={"label": "not_found"}, headers=headers).json()["incidents"]
        return str(found[0]["id"]) if found and found[0]["session_count"] >= size else None

    incident_id: str = wait_until(incident, "the incident", within=300)
    wait_until(lambda: http.get(f"/api/traces/s{size}-after-{size - 1}/analysis", headers=headers).status_code == 200,
               "the after-sessions' analyses", within=300)
    return incident_id


def measure(target: BenchTarget) -> list[tuple[int, float, float]]:
    headers = {"Authorization": f"Bearer {target.key}"}
    rows = []
    with httpx.Client(base_url=target.base_url, timeout=120) as http:
        for size in SIZES:
            started = time.perf_counter()
            incident_id = _sessions(http, headers, size)
            print(f"{size} tasks: sessions written and analysed in {time.perf_counter() - started:.1f} s", flush=True)
            body = {"before_session_ids": [f"s{size}-before-{n}" for n in range(size)],
                    "after_session_ids": [f"s{size}-after-{n}" for n in range(size)]}
            url = f"/api/incidents/{incident_id}/regression-runs"
            creates = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                created = http.post(url, json=body, headers=headers)
                creates.append(time.perf_counter() - started)
                assert created.json()["status"] == "passed", created.text
            pending = http.post(url, json={**body, "expected_after": size + 1}, headers=headers).json()
            reads = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                read = http.get(f"/api/regression-runs/{pending['id']}", headers=headers)
                reads.append(time.perf_counter() - started)
                assert read.json()["status"] == "pending"
            rows.append((size, statistics.median(creates) * 1000, statistics.median(reads) * 1000))
    return rows


def main() -> None:
    with bench_target() as target:
        rows = measure(target)
    print("| tasks (pairs) | POST, judged and settled (ms, median) | GET pending, judged live (ms, median) |")
    print("|---|---|---|")
    for size, create_ms, read_ms in rows:
        print(f"| {size} | {create_ms:.1f} | {read_ms:.1f} |")


if __name__ == "__main__":
    main()
