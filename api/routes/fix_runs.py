"""The fix agent: POST /api/incidents/{id}/fix-agent and GET /api/incidents/{id}/fix-runs.

A run is two short transactions around the runner (which holds no connection): start (access,
concurrency limit, context) and finish (outcome, audit, stream).
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_body, parse_query, read_json
from api.errors import ApiError
from api.fix.agent import FixAgent
from api.fix.context import FixContext
from api.models import FixAgentRequest, FixRun, FixRunsPage, FixRunsQuery
from api.openapi import Operation
from api.routes.incidents import incident_id_of


async def dispatch_fix_agent(request: Request) -> Response:
    request_started = asyncio.get_running_loop().time()  # the budget covers the whole request
    identity = await authorize(request)
    if identity.kind == "key":
        # Before the body, like PATCH: SQL grants refuse keys too.
        raise ApiError(403, "API keys may not run the fix agent", code="credential_not_allowed")
    incident_id = incident_id_of(request)
    if request.headers.get("content-length", "0") != "0" or request.headers.get("transfer-encoding"):
        parse_body(FixAgentRequest, await read_json(request, request.app.state.settings.max_body_bytes))
    agent: FixAgent = request.app.state.fix_agent
    db = request.app.state.db
    started = await db.call(
        identity, "select api.start_fix_run($1, $2, $3, $4)", incident_id, agent.runner_name,
        agent.settings.concurrency_per_workspace, round(agent.settings.budget_seconds * 1000), readonly=False,
    )
    context = FixContext.from_json(json.loads(started))
    outcome = await agent.run(agent.runner_for(context.incident["project_id"]), context, request_started)
    finished = await db.call(identity, "select api.finish_fix_run($1, $2::jsonb)", context.fix_run_id,
                             json.dumps(outcome.as_json()), readonly=False)
    return json_text(finished, status=201)


async def list_fix_runs(request: Request) -> Response:
    identity = await authorize(request)
    incident_id = incident_id_of(request)
    query = parse_query(FixRunsQuery, request)
    page = await request.app.state.db.call(identity, "select api.list_fix_runs($1, $2::jsonb)", incident_id,
                                           query.model_dump_json(exclude_none=True), readonly=True)
    return json_text(page)


routes = [
    Route("/api/incidents/{incident_id}/fix-agent", dispatch_fix_agent, methods=["POST"]),
    Route("/api/incidents/{incident_id}/fix-runs", list_fix_runs, methods=["GET"]),
]
operations = [
    Operation("post", "/api/incidents/{incident_id}/fix-agent",
              "Run the fix agent: a plan, and a diff only when it applies at base_sha, else a labelled fallback",
              {201: FixRun}, body=(FixAgentRequest,)),
    Operation("get", "/api/incidents/{incident_id}/fix-runs", "The incident's fix runs, newest first",
              {200: FixRunsPage}, query=FixRunsQuery),
]
