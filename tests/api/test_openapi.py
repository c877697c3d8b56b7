"""/openapi.json describes exactly the endpoints the app serves, from the handlers' own models."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from starlette.routing import Route

from api.app import ENDPOINT_GROUPS
from api.event_types import json_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_route_is_documented_and_every_documented_path_is_served(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    served = {(method.lower(), route.path) for group in ENDPOINT_GROUPS for route in group.routes
              if isinstance(route, Route) for method in (route.methods or set()) - {"HEAD"}}
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == documented


def test_request_models_resolve_to_component_schemas(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    create = document["paths"]["/api/traces"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create == {"$ref": "#/components/schemas/TraceCreate"}
    assert "id" in schemas["TraceCreate"]["properties"]
    assert {"seq", "type", "payload"} <= set(schemas["EventIn"]["properties"])
    for path, ops in document["paths"].items():
        for op in ops.values():
            for ref in _refs(op):
                assert ref.rsplit("/", 1)[-1] in schemas, (path, ref)


def test_published_event_schema_matches_the_code(client: httpx.Client) -> None:
    published = json.loads((DOCS / "event-schema.json").read_text())
    assert published == json.loads(json.dumps(json_schema())), "run `agentdeck schema > docs/event-schema.json`"
    assert client.get("/openapi.json").json()["x-event-schema"] == published


def _refs(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if "$ref" in value else []
        return found + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []
