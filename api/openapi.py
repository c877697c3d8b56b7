"""/openapi.json, generated from the pydantic models the handlers parse and answer with.

Each routes module lists its `operations` next to its `routes`; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import api
from api.event_types import EventIn, json_schema
from api.models import ErrorBody

_ERRORS = {
    "400": "malformed body or bad query parameter",
    "401": "missing or invalid authentication",
    "403": "workspace or project outside the credential, or credential kind not allowed",
    "404": "not visible in the caller's workspace",
    "409": "conflict",
    "413": "body over the configured limit",
    "415": "unsupported media type",
    "422": "validation failed",
    "429": "rate or backpressure limit (Retry-After)",
    "500": "unexpected error (body carries the request id)",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | None]
    body: tuple[type[BaseModel], ...] = ()
    query: type[BaseModel] | None = None
    secured: bool = True
    media_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(operations: list[Operation]) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody, EventIn}
    for op in operations:
        models.update(op.body)
        models.update(m for m in op.responses.values() if m is not None)
    _, schemas = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                    ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "responses": {}, **op.extra}
        for status, model in sorted(op.responses.items()):
            response: dict[str, Any] = {"description": "OK" if status < 300 else "redirect"}
            if model is not None:
                response["content"] = {"application/json": {"schema": _ref(model)}}
            entry["responses"][str(status)] = response
        for error_status, description in _ERRORS.items():
            entry["responses"].setdefault(error_status, {
                "description": description,
                "content": {"application/json": {"schema": _ref(ErrorBody)}},
            })
        if op.body:
            schema = _ref(op.body[0]) if len(op.body) == 1 else {"oneOf": [_ref(m) for m in op.body]}
            entry["requestBody"] = {"required": True, "content": {op.media_type: {"schema": schema}}}
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in _path_parameters(op.path)]
        if op.query is not None:
            properties = op.query.model_json_schema()["properties"]
            required = set(op.query.model_json_schema().get("required", []))
            parameters += [{"name": name, "in": "query", "required": name in required, "schema": _without_nul(schema)}
                           for name, schema in properties.items()]
        if parameters:
            entry["parameters"] = parameters
        if op.secured:
            entry["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "agentdeck", "version": api.__version__},
        "paths": paths,
        # The full event schema (payload per type), as published in docs/event-schema.json.
        "x-event-schema": json_schema(),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _without_nul(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema stating the rule parse_query enforces: no NUL in any string."""
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        return {**schema, "pattern": "^[^\\u0000]*$"}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_without_nul(option) for option in schema["anyOf"]]}
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return {**schema, "items": _without_nul(schema["items"])}
    return schema


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
