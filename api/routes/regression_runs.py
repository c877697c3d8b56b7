"""Regression runs: POST /api/incidents/{id}/regression-runs, GET /api/regression-runs/{id},
GET /api/incidents/{id}/regression-runs. Pairing, verdicts and settling are SQL (regression_runs.sql)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_body, parse_query, read_json
from api.detectors import SUITE_VERSION
from api.errors import ApiError
from api.models import RegressionRun, RegressionRunCreate, RegressionRunsPage, RegressionRunsQuery
from api.openapi import Operation

_INCIDENT_ID = re.compile(r"^inc_[A-Za-z0-9]{1,64}$")
_RUN_ID = re.compile(r"^rr_[A-Za-z0-9]{1,64}$")


def _incident_id_of(request: Request) -> str:
    incident_id: str = request.path_params["incident_id"]
    if not _INCIDENT_ID.match(incident_id):
        raise ApiError(404, f"incident {incident_id[:80]} not found", code="incident_not_found")
    return incident_id


async def create_regression_run(request: Request) -> Response:
    identity = await authorize(request)
    incident_id = _incident_id_of(request)
    settings = request.app.state.settings
    body = parse_body(RegressionRunCreate, await read_json(request, settings.max_body_bytes))
    # The run is judged by this server's detector suite; sessions analysed by another version are re-analysed.
    created = await request.app.state.db.call(
        identity, "select api.create_regression_run($1, $2::jsonb, $3, $4)", incident_id,
        body.model_dump_json(exclude_unset=True, exclude_none=True), SUITE_VERSION,
        settings.regression_deadline_seconds, readonly=False,
    )
    return json_text(created, status=201)


async def get_regression_run(request: Request) -> Response:
    identity = await authorize(request)
    run_id: str = request.path_params["run_id"]
    if not _RUN_ID.match(run_id):
        raise ApiError(404, f"regression run {run_id[:80]} not found", code="regression_run_not_found")
    run = await request.app.state.db.call(identity, "select api.get_regression_run($1)", run_id, readonly=True)
    return json_text(run)


async def list_regression_runs(request: Request) -> Response:
    identity = await authorize(request)
    incident_id = _incident_id_of(request)
    query = parse_query(RegressionRunsQuery, request)
    page = await request.app.state.db.call(
        identity, "select api.list_regression_runs($1, $2::jsonb)", incident_id,
        query.model_dump_json(exclude_none=True), readonly=True,
    )
    return json_text(page)


routes = [
    Route("/api/incidents/{incident_id}/regression-runs", create_regression_run, methods=["POST"]),
    Route("/api/incidents/{incident_id}/regression-runs", list_regression_runs, methods=["GET"]),
    Route("/api/regression-runs/{run_id}", get_regression_run, methods=["GET"]),
]
operations = [
    Operation("post", "/api/incidents/{incident_id}/regression-runs",
              "Start a before/after regression run for the incident (audited, streamed)", {201: RegressionRun},
              body=(RegressionRunCreate,)),
    Operation("get", "/api/incidents/{incident_id}/regression-runs", "The incident's regression runs, newest first",
              {200: RegressionRunsPage}, query=RegressionRunsQuery),
    Operation("get", "/api/regression-runs/{run_id}", "A regression run with its pairs, tasks and summary",
              {200: RegressionRun}),
]
