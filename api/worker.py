"""Automatic analysis: a worker that takes queued jobs (sessions that ended) and analyses them,
then settles the regression runs those analyses made due (or whose deadline passed).

Runs inside `serve` and as `agentdeck worker`. Jobs are claimed with FOR UPDATE SKIP LOCKED under a
lease (internal.claim_analysis_job), so several workers never analyse the same session at once,
and a failed attempt is retried with exponential backoff up to `max_attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from api.analysis import AnalysisRunner, store_analysis
from api.auth import Identity
from api.db import Database
from api.metrics import Metrics

log = logging.getLogger("agentdeck.worker")


class AnalysisWorker:
    def __init__(self, db: Database, *, poll_seconds: float = 0.5, lease_seconds: int = 120,
                 max_attempts: int = 5, runner: AnalysisRunner | None = None, metrics: Metrics | None = None
                 ) -> None:
        self.db = db
        # Standalone (`agentdeck worker`), the worker gets detector threads of its own.
        self.runner = runner or AnalysisRunner(db, threads=1, max_pending=1, page_timeout_seconds=lease_seconds)
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    async def run(self) -> None:
        """Work until cancelled: drain due jobs, then wait one poll interval."""
        while True:
            try:
                while await self.run_one():
                    pass
                while await self.settle_regression_runs():
                    pass
            except Exception:  # noqa: BLE001 - the worker must outlive any failure; jobs are leased, not lost
                log.exception("analysis worker: unexpected failure; retrying after a poll interval")
            await asyncio.sleep(self.poll_seconds)

    async def run_one(self) -> bool:
        """Take and process one due job; False when none is due."""
        async with self.db.pool.acquire() as conn:
            job = await conn.fetchrow("select * from internal.claim_analysis_job($1)", self.lease_seconds)
        if job is None:
            return False
        identity = _service_of(job["workspace_id"])
        error: str | None = None
        started = time.perf_counter()
        try:
            result = await self.runner.analyze_session(identity, job["trace_id"], job["project_id"])
            await store_analysis(self.db, identity, job["trace_id"], job["project_id"], result, "worker")
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried with backoff
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("analysis of %s failed (attempt %d): %s", job["trace_id"], job["attempts"], error)
        if self.metrics is not None:
            self.metrics.analyses.labels("ok" if error is None else "failed").observe(time.perf_counter() - started)
        async with self.db.pool.acquire() as conn:
            await conn.fetchval("select internal.finish_analysis_job($1, $2, $3, $4, $5)", job["workspace_id"],
                                job["project_id"], job["trace_id"], error, self.max_attempts)
        return True

    async def settle_regression_runs(self, batch: int = 20) -> int:
        """Settle the regression runs that are due (a session analysed, or the deadline); returns how many."""
        async with self.db.pool.acquire() as conn:
            due = await conn.fetch("select * from internal.claim_regression_runs($1, $2)", batch, self.lease_seconds)
        for run in due:
            try:
                await self.db.call(_service_of(run["workspace_id"]), "select api.settle_regression_run($1, $2)",
                                   run["workspace_id"], run["run_id"], readonly=False)
            except Exception:  # noqa: BLE001 - the claim's lease makes the run due again later
                log.exception("settling regression run %s failed; retried after its lease", run["run_id"])
        return len(due)


def _service_of(workspace_id: str) -> Identity:
    """The workflow acts for one workspace only, like any service request."""
    return Identity("service", "service_role", {"role": "service_role", "workspace_id": workspace_id})
