"""POST /v1/traces: the unmodified OpenTelemetry SDK exporter, OTLP/JSON, partial success, idempotency."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.common.http import Compression
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.support.otlp import encode, export, new_trace_id, span
from tests.support.tenants import Tenant

JSON = {"content-type": "application/json"}


def events_of(client: httpx.Client, tenant: Tenant, trace_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/traces/{trace_id}/events", headers=tenant.key())
    assert page.status_code == 200, page.text
    return page.json()["events"]


def protobuf_exporter(endpoint: str, api_key: str) -> Any:
    return OTLPSpanExporter(endpoint=endpoint, headers={"x-api-key": api_key}, timeout=10)


def json_exporter(endpoint: str, api_key: str) -> Any:
    return JsonSpanExporter(endpoint=endpoint, headers={"Authorization": f"Bearer {api_key}"}, timeout=10,
                            compression=Compression.GZIP)


def run_instrumented_agent(base_url: str, api_key: str, processor: type = BatchSpanProcessor,
                           exporter: Any = protobuf_exporter) -> str:
    """A small agent traced with the OpenTelemetry SDK and a stock OTLP/HTTP exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-agent"}))
    provider.add_span_processor(processor(exporter(f"{base_url}/v1/traces", api_key)))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("invoke_agent shopper", attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "shopper"}) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "find"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "tool_calls", "parts": [
                {"type": "tool_call", "id": "c1", "name": "fetch_page", "arguments": {"url": "/docs/42"}}]}]),
            "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 7,
        }):
            pass
        with tracer.start_as_current_span("execute_tool fetch_page", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch_page",
            "gen_ai.tool.call.id": "c1", "gen_ai.tool.call.arguments": '{"url": "/docs/42"}',
        }) as tool_span:
            tool_span.record_exception(LookupError("404 Not Found: /docs/42"))
            tool_span.set_status(Status(StatusCode.ERROR, "404 Not Found"))
        root.set_status(Status(StatusCode.ERROR, "gave up"))
    provider.force_flush()
    provider.shutdown()
    return trace_id


@pytest.mark.parametrize("exporter", [protobuf_exporter, json_exporter], ids=["protobuf", "json-gzip"])
def test_stock_exporters_land_in_documented_order_and_detectors_see_the_failure(
        client: httpx.Client, server: Any, tenant: Tenant, exporter: Any) -> None:
    trace_id = run_instrumented_agent(server.base_url, tenant.keys[tenant.projects[0]], exporter=exporter)
    events = events_of(client, tenant, trace_id)
    assert [(e["type"], e["name"]) for e in events] == [
        ("session.start", "invoke_agent shopper"),
        ("llm.request", "chat gpt-4o"),
        ("llm.response", "chat gpt-4o"),
        ("tool.call", "fetch_page"),
        ("tool.result", "fetch_page"),
        ("error", "invoke_agent shopper"),  # the root's ERROR status
        ("session.end", "invoke_agent shopper"),
    ]
    assert [e["seq"] for e in events] == list(range(7))
    request, response, call, result = (e["payload"] for e in events[1:5])
    assert request["messages"] == [{"role": "user", "content": "find"}]
    assert response["usage"] == {"input_tokens": 12, "output_tokens": 7}
    assert response["tool_calls"] == [{"id": "c1", "name": "fetch_page", "arguments": {"url": "/docs/42"}}]
    assert call["arguments"] == {"url": "/docs/42"}
    assert result["status"] == "error" and result["error"]["type"] == "LookupError"
    assert events[4]["parent_seq"] == events[3]["seq"]
    assert events[5]["payload"]["message"] == "gave up"
    assert events[6]["payload"]["outcome"] == "error"
    session = client.get("/api/sessions", headers=tenant.key()).json()["sessions"]
    assert any(s["id"] == trace_id and s["status"] == "error" and s["name"] == "invoke_agent shopper"
               for s in session)
    analysis = client.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key())
    assert analysis.status_code == 200, analysis.text
    labels = {finding["label"] for finding in analysis.json()["labels"]}
    assert "not_found" in labels or "tool_error" in labels, labels


def test_json_export_compressed_with_gzip_or_deflate_and_bearer_auth(client: httpx.Client,
                                                                           tenant: Tenant) -> None:
    trace_id = new_trace_id()
    document = export(
        span(trace_id, "00000000000000a1", "agent", 0, 50, {"gen_ai.operation.name": "invoke_agent"}),
        span(trace_id, "00000000000000b2", "chat", 5, 9, {"gen_ai.operation.name": "chat",
                                                          "gen_ai.request.model": "m"}, parent="00000000000000a1"),
    )
    answer = client.post("/v1/traces", content=gzip.compress(encode(document)),
                         headers={**tenant.key(), **JSON, "content-encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {}  # full success: no partial_success
    again = client.post("/v1/traces", content=zlib.compress(encode(document)),
                        headers={**tenant.key(), **JSON, "content-encoding": "deflate"})
    assert again.json() == {}
    assert [e["type"] for e in events_of(client, tenant, trace_id)] == [
        "session.start", "llm.request", "llm.response", "session.end"]


def test_one_malformed_span_is_named_in_partial_success_and_the_others_are_stored(client: httpx.Client,
                                                                                  tenant: Tenant) -> None:
    trace_id = new_trace_id()
    document = export(
        span(trace_id, "00000000000000a1", "tool", 0, 5, {"openinference.span.kind": "TOOL", "tool.name": "t"}),
        {**span(trace_id, "00000000000000c3", "broken", 1, 2), "traceId": "not-hex"},
        span(trace_id, "00000000000000d4", "late", 9, 3),
    )
    answer = client.post("/v1/traces", content=encode(document), headers={**tenant.key(), **JSON})
    assert answer.status_code == 200, answer.text
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "00000000000000c3: traceId must be 32 hex digits" in partial["errorMessage"]
    assert "00000000000000d4: end_time_unix_nano is before start_time_unix_nano" in partial["errorMessage"]
    assert [e["type"] for e in events_of(client, tenant, trace_id)] == ["tool.call", "tool.result"]


def test_protobuf_partial_success_comes_back_as_protobuf(client: httpx.Client, tenant: Tenant) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    good = spans.spans.add(trace_id=bytes.fromhex(new_trace_id()), span_id=b"\x01" * 8, name="ok",
                           start_time_unix_nano=10, end_time_unix_nano=20)
    spans.spans.add(trace_id=b"\x00" * 16, span_id=b"\x02" * 8, name="zero", start_time_unix_nano=10)
    answer = client.post("/v1/traces", content=request.SerializeToString(),
                         headers={**tenant.key(), "content-type": "application/x-protobuf"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(answer.content)
    assert parsed.partial_success.rejected_spans == 1
    assert "0202020202020202: trace_id must not be all zeros" in parsed.partial_success.error_message
    assert [e["type"] for e in events_of(client, tenant, good.trace_id.hex())] == ["session.start", "session.end"]


def test_resent_export_is_idempotent_and_a_changed_span_is_rejected_by_id(client: httpx.Client,
                                                                          tenant: Tenant) -> None:
    trace_id = new_trace_id()
    tool = span(trace_id, "00000000000000a1", "t", 0, 5, {"openinference.span.kind": "TOOL", "tool.name": "t"},
                parent="00000000000000ff")
    first = client.post("/v1/traces", content=encode(export(tool)), headers={**tenant.key(), **JSON})
    again = client.post("/v1/traces", content=encode(export(tool)), headers={**tenant.key(), **JSON})
    assert first.json() == again.json() == {}
    assert len(events_of(client, tenant, trace_id)) == 2
    changed = span(trace_id, "00000000000000a1", "t", 0, 5, {"openinference.span.kind": "TOOL", "tool.name": "u"},
                   parent="00000000000000ff")
    answer = client.post("/v1/traces", content=encode(export(changed)), headers={**tenant.key(), **JSON}).json()
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    assert "00000000000000a1: idempotency_conflict" in answer["partialSuccess"]["errorMessage"]
    assert len(events_of(client, tenant, trace_id)) == 2


def test_spans_exported_one_by_one_append_in_arrival_order_and_the_root_ends_the_session(
        client: httpx.Client, server: Any, tenant: Tenant) -> None:
    trace_id = run_instrumented_agent(server.base_url, tenant.keys[tenant.projects[0]], SimpleSpanProcessor)
    types = [e["type"] for e in events_of(client, tenant, trace_id)]
    # Children end (and are exported) before their parent: each export is appended after the last.
    assert types == ["llm.request", "llm.response", "tool.call", "tool.result", "session.start", "error",
                     "session.end"]


def test_a_trace_id_naming_a_native_session_is_refused_for_those_spans_only(client: httpx.Client,
                                                                          tenant: Tenant) -> None:
    native, other = new_trace_id(), new_trace_id()
    assert client.post("/api/traces", json={"id": native}, headers=tenant.key()).status_code == 201
    document = export(span(native, "00000000000000a1", "x", 0, 1), span(other, "00000000000000b1", "y", 0, 1))
    answer = client.post("/v1/traces", content=encode(document), headers={**tenant.key(), **JSON}).json()
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    assert "00000000000000a1: trace_conflict" in answer["partialSuccess"]["errorMessage"]
    assert events_of(client, tenant, native) == []
    assert len(events_of(client, tenant, other)) == 2


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"authorization": "Bearer adk_not-a-key"}, 401),
    ({"x-api-key": "adk_not-a-key"}, 401),
])
def test_ingest_needs_a_valid_project_key(client: httpx.Client, headers: dict[str, str], status: int) -> None:
    answer = client.post("/v1/traces", content=b"{}", headers={**headers, **JSON})
    assert answer.status_code == status


def test_console_users_may_not_use_otlp_ingest(client: httpx.Client, tenant: Tenant) -> None:
    answer = client.post("/v1/traces", content=b"{}", headers={**tenant.user(), **JSON})
    assert answer.status_code == 403


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"\x0a\xff\xff", {"content-type": "application/x-protobuf"}, 400),
    (b"{not json", JSON, 400),
    (b'{"resourceSpans": {}}', JSON, 400),
    (b"{}", {"content-type": "text/plain"}, 415),
    (b"{}", {**JSON, "content-encoding": "br"}, 415),
    (b"not gzip", {**JSON, "content-encoding": "gzip"}, 400),
    (gzip.compress(b"{}")[:-4], {**JSON, "content-encoding": "gzip"}, 400),
    (gzip.compress(b" " * (6 * 1024 * 1024)), {**JSON, "content-encoding": "gzip"}, 413),
])
def test_unreadable_exports_are_refused_whole_and_store_nothing(client: httpx.Client, tenant: Tenant,
                                                                body: bytes, headers: dict[str, str],
                                                                status: int) -> None:
    before = client.get("/api/sessions", headers=tenant.key()).json()["sessions"]
    answer = client.post("/v1/traces", content=body, headers={**tenant.key(), **headers})
    assert answer.status_code == status, answer.text
    assert client.get("/api/sessions", headers=tenant.key()).json()["sessions"] == before


def test_odd_attribute_shapes_and_deep_nesting_never_fail_the_export(client: httpx.Client, tenant: Tenant) -> None:
    trace_id = new_trace_id()
    deep = "[" * 5000 + "]" * 5000
    document = export(
        span(trace_id, "00000000000000a1", "agent", 0, 9, {"gen_ai.tool.definitions": json.dumps([{"x": 1}]),
                                                          "input.value": deep}),
        span(trace_id, "00000000000000b1", "tool", 1, 2, {"openinference.span.kind": "TOOL", "input.value": deep},
             parent="00000000000000a1", events=[("exception", 2, {"exception.message": 42})], status=(2, "")),
    )
    answer = client.post("/v1/traces", content=encode(document), headers={**tenant.key(), **JSON})
    assert answer.status_code == 200 and answer.json() == {}, answer.text
    events = events_of(client, tenant, trace_id)
    assert events[0]["payload"]["input"] == deep  # kept as text, not decoded 5,000 levels deep
    assert events[2]["payload"]["error"]["message"] == "42"


def test_a_json_body_nested_beyond_reason_is_a_400(client: httpx.Client, tenant: Tenant) -> None:
    answer = client.post("/v1/traces", content=b"[" * 100_000, headers={**tenant.key(), **JSON})
    assert answer.status_code == 400


def test_a_trace_whose_every_span_is_refused_gets_no_session(client: httpx.Client, tenant: Tenant) -> None:
    trace_id = new_trace_id()
    document = export(span(trace_id, "00000000000000a1", "bad\u0000name", 0, 1))
    answer = client.post("/v1/traces", content=encode(document), headers={**tenant.key(), **JSON}).json()
    assert "00000000000000a1: text holds a NUL character" in answer["partialSuccess"]["errorMessage"]
    assert client.get(f"/api/traces/{trace_id}/events", headers=tenant.key()).status_code == 404
