"""Analysis of one trace: POST …/analyze, GET and PUT …/analysis."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.analysis import store_analysis
from api.context import authorize, json_text, parse_body, parse_query, read_json
from api.errors import ApiError
from api.models import AnalysisIn, ProjectQuery, StoredAnalysis
from api.openapi import Operation
from api.routes.traces import trace_id_of


async def analyze(request: Request) -> Response:
    identity = await authorize(request)
    trace_id = trace_id_of(request)
    project_id = parse_query(ProjectQuery, request).project_id
    result = await request.app.state.analysis.analyze_session(identity, trace_id, project_id)
    # SQL stores it for writers and hands a viewer's result back unstored (docs/detectors.md).
    return json_text(await store_analysis(request.app.state.db, identity, trace_id, project_id, result, "analyze"))


async def get_analysis(request: Request) -> Response:
    identity = await authorize(request)
    trace_id = trace_id_of(request)
    project_id = parse_query(ProjectQuery, request).project_id
    stored = await request.app.state.db.call(
        identity, "select api.get_analysis($1, $2)", trace_id, project_id, readonly=True
    )
    return json_text(stored)


async def put_analysis(request: Request) -> Response:
    identity = await authorize(request)
    if identity.kind != "service":
        raise ApiError(403, "only the service credential may store an analysis", code="service_only")
    trace_id = trace_id_of(request)
    project_id = parse_query(ProjectQuery, request).project_id
    body = parse_body(AnalysisIn, await read_json(request, request.app.state.settings.max_body_bytes))
    stored = await store_analysis(request.app.state.db, identity, trace_id, project_id, body.model_dump(mode="json"),
                                  "service")
    return json_text(stored)


routes = [
    Route("/api/traces/{trace_id}/analyze", analyze, methods=["POST"]),
    Route("/api/traces/{trace_id}/analysis", get_analysis, methods=["GET"]),
    Route("/api/traces/{trace_id}/analysis", put_analysis, methods=["PUT"]),
]
operations = [
    Operation("post", "/api/traces/{trace_id}/analyze",
              "Run the deterministic detectors; stored unless the caller is a viewer", {200: StoredAnalysis},
              query=ProjectQuery),
    Operation("get", "/api/traces/{trace_id}/analysis", "The stored analysis (404 when none)", {200: StoredAnalysis},
              query=ProjectQuery),
    Operation("put", "/api/traces/{trace_id}/analysis", "Store a workflow-computed analysis (service only)",
              {200: StoredAnalysis}, body=(AnalysisIn,), query=ProjectQuery),
]
