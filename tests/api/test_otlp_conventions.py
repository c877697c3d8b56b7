"""Conformance fixtures: span sets in each convention, and the events they must become (docs/otlp.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.otlp.mapping import map_export
from api.otlp.spans import decode_json
from tests.support.otlp import encode, export, new_trace_id, span
from tests.support.tenants import Tenant

T = "0af7651916cd43dd8448eb211c80319c"
ROOT, STEP, LLM, TOOL, STEP2 = "00000000000000a1", "00000000000000b1", "00000000000000c1", "00000000000000d1", \
    "00000000000000e1"


def mapped(*spans: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    decoded = decode_json(export(*spans))
    assert decoded.rejected == []
    [trace] = map_export(decoded.spans)
    return [(e.type, e.name, e.payload) for e in trace.events]


def subset(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(actual.get(key) == value for key, value in expected.items())


GENAI_CURRENT = [
    span(T, LLM, "chat gpt-4o", 1, 5, {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024", "gen_ai.system_instructions": json.dumps(
            [{"type": "text", "content": "be brief"}]),
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "weather?"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "tool_call", "parts": [
            {"type": "text", "content": "checking"},
            {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]}]),
        "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 9,
    }),
    span(T, TOOL, "execute_tool get_weather", 6, 8, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.arguments": '{"city": "Oslo"}', "gen_ai.tool.call.result": '{"temp": 3}'}),
]

GENAI_DEPRECATED_EVENTS = [
    span(T, LLM, "chat", 1, 5, {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4",
                                "gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 4}, events=[
        ("gen_ai.system.message", 1, {"content": "be brief"}),
        ("gen_ai.user.message", 1, {"content": "hi"}),
        ("gen_ai.choice", 5, {"index": 0, "finish_reason": "stop",
                              "message": json.dumps({"role": "assistant", "content": "hello"})}),
    ]),
]

OPENINFERENCE = [
    span(T, ROOT, "ToolCallingAgent.run", 0, 20, {
        "openinference.span.kind": "AGENT", "input.value": '{"task": "weather in Oslo"}',
        "smolagents.tools_names": ["get_weather", "final_answer"], "output.value": "3 degrees"}),
    span(T, STEP, "Step 1", 1, 19, {"openinference.span.kind": "CHAIN", "output.value": "temp 3"}, parent=ROOT),
    span(T, LLM, "OpenAIServerModel.generate", 2, 6, {
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
        "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "You are an agent",
        "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "weather in Oslo",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.contents.0.message_content.type": "text",
        "llm.output_messages.0.message.contents.0.message_content.text": "calling the tool",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c9",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Oslo"}',
        "llm.token_count.prompt": 30, "llm.token_count.completion": 8, "llm.token_count.total": 38,
    }, parent=STEP),
    span(T, TOOL, "GetWeatherTool", 7, 9, {
        "openinference.span.kind": "TOOL", "tool.name": "get_weather",
        "input.value": '{"args": [], "sanitize_inputs_outputs": true, "kwargs": {"city": "Oslo"}}',
        "output.value": "temp 3"}, parent=STEP),
]

SMOLAGENTS_CODE_FAILURE = [
    span(T, ROOT, "CodeAgent.run", 0, 40, {"openinference.span.kind": "AGENT", "smolagents.task": "sum prices",
                                           "smolagents.tools_names": ["final_answer"]}, status=(1, "")),
    span(T, STEP, "Step 1", 1, 10, {"openinference.span.kind": "CHAIN"}, parent=ROOT, status=(2, ""), events=[
        ("exception", 9, {"exception.type": "AgentExecutionError",
                          "exception.message": "Code execution failed at line 'x = prices['total']' due to: "
                                               "KeyError: 'total'",
                          "exception.stacktrace": "Traceback (most recent call last):\n"
                                                  "  File \"agents.py\", line 1205, in step\n"
                                                  "smolagents.utils.AgentExecutionError: Code execution failed "
                                                  "at line 'x = prices['total']' due to: KeyError: 'total'\n"})]),
    span(T, STEP2, "Step 2", 11, 30, {"openinference.span.kind": "CHAIN"}, parent=ROOT, events=[
        ("agent.step_recovery", 29, {"type": "AgentToolCallError", "message": "unknown tool web_search",
                                     "severity": "expected"})]),
]

ERRORS = [
    span(T, LLM, "chat", 1, 3, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, status=(2, "429"),
         events=[("exception", 3, {"exception.type": "RateLimitError", "exception.message": "429 Too Many Requests"})]),
    span(T, STEP, "retrieve", 4, 5, {"openinference.span.kind": "RETRIEVER"}, parent="00000000000000ff",
         status=(2, "index offline")),
]

OPENLLMETRY = [
    span(T, LLM, "openai.chat", 1, 2, {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                                       "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "hi",
                                       "gen_ai.completion.0.role": "assistant",
                                       "gen_ai.completion.0.content": "hello",
                                       "gen_ai.completion.0.finish_reason": "stop"}),
]

FIXTURES = {
    "genai-current": (GENAI_CURRENT, [
        ("llm.request", "chat gpt-4o", {"model": "gpt-4o-2024", "provider": "openai", "system_instructions": "be brief",
                                        "messages": [{"role": "user", "content": "weather?"}]}),
        ("llm.response", "chat gpt-4o", {"usage": {"input_tokens": 20, "output_tokens": 9}, "content": "checking",
                                         "finish_reason": "tool_call", "tool_calls": [
                                             {"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]}),
        ("tool.call", "get_weather", {"tool": "get_weather", "arguments": {"city": "Oslo"}, "call_id": "call_1"}),
        ("tool.result", "get_weather", {"tool": "get_weather", "status": "ok", "output": {"temp": 3}}),
    ]),
    "genai-deprecated-events": (GENAI_DEPRECATED_EVENTS, [
        ("llm.request", "chat", {"model": "gpt-4", "messages": [{"role": "system", "content": "be brief"},
                                                                {"role": "user", "content": "hi"}]}),
        ("llm.response", "chat", {"usage": {"input_tokens": 11, "output_tokens": 4}, "content": "hello",
                                  "finish_reason": "stop"}),
    ]),
    "openinference": (OPENINFERENCE, [
        ("session.start", "ToolCallingAgent.run", {"tools": ["get_weather", "final_answer"],
                                                    "input": {"task": "weather in Oslo"}}),
        ("llm.request", "OpenAIServerModel.generate", {"model": "gpt-4o", "messages": [
            {"role": "system", "content": "You are an agent"}, {"role": "user", "content": "weather in Oslo"}]}),
        ("llm.response", "OpenAIServerModel.generate", {
            "usage": {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38}, "content": "calling the tool",
            "tool_calls": [{"id": "c9", "name": "get_weather", "arguments": {"city": "Oslo"}}]}),
        ("tool.call", "get_weather", {"tool": "get_weather", "arguments": {"city": "Oslo"}}),
        ("tool.result", "get_weather", {"status": "ok", "output": "temp 3"}),
        ("custom.span", "Step 1", {"status": "ok", "output": "temp 3"}),
        ("session.end", "ToolCallingAgent.run", {"outcome": "success", "output": "3 degrees"}),
    ]),
    "smolagents-code-failure": (SMOLAGENTS_CODE_FAILURE, [
        ("session.start", "CodeAgent.run", {"tools": ["final_answer"], "input": "sum prices"}),
        ("tool.result", "python_interpreter", {"tool": "python_interpreter", "status": "error"}),
        ("error", "Step 2", {"type": "AgentToolCallError", "message": "unknown tool web_search"}),
        ("custom.span", "Step 2", {"status": "ok"}),
        ("session.end", "CodeAgent.run", {"outcome": "success"}),
    ]),
    "errors": (ERRORS, [
        ("llm.request", "chat", {"model": "m"}),
        ("llm.response", "chat", {"error": {"type": "RateLimitError", "message": "429 Too Many Requests"}}),
        ("error", "retrieve", {"message": "index offline"}),
        ("custom.span", "retrieve", {"status": "error"}),
    ]),
    "openllmetry-indexed": (OPENLLMETRY, [
        ("llm.request", "openai.chat", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        ("llm.response", "openai.chat", {"content": "hello", "finish_reason": "stop"}),
    ]),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_convention_fixture_becomes_its_events(name: str) -> None:
    spans, expected = FIXTURES[name]
    events = mapped(*spans)
    assert [(t, n) for t, n, _ in events] == [(t, n) for t, n, _ in expected]
    for (event_type, _, payload), (_, _, wanted) in zip(events, expected, strict=True):
        assert subset(payload, wanted), (event_type, payload, wanted)


def test_every_event_names_the_span_it_came_from() -> None:
    for _, _, payload in mapped(*OPENINFERENCE):
        assert payload["span"]["span_id"] in (ROOT, STEP, LLM, TOOL)


def test_order_is_deterministic_whatever_order_the_spans_arrive_in() -> None:
    assert mapped(*OPENINFERENCE) == mapped(*reversed(OPENINFERENCE))


def test_smolagents_code_failure_is_a_code_execution_error_to_the_detectors(client: httpx.Client,
                                                                              tenant: Tenant) -> None:
    trace_id = new_trace_id()
    spans = [{**raw, "traceId": trace_id} for raw in SMOLAGENTS_CODE_FAILURE]
    # The run then raised (a claimed success would count as the agent's recovery).
    spans[0]["status"] = {"code": 2, "message": "AgentMaxStepsError"}
    answer = client.post("/v1/traces", content=encode(export(*spans)),
                         headers={**tenant.key(), "content-type": "application/json"})
    assert answer.json() == {}
    analysis = client.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key()).json()
    labels = {finding["label"]: finding for finding in analysis["labels"]}
    assert labels["code_execution_error"]["signature"]["error_type"] == "KeyError"


def test_only_the_first_parentless_span_opens_and_ends_the_session() -> None:
    events = mapped(span(T, ROOT, "first", 0, 10), span(T, STEP, "second", 5, 20))
    assert [(t, n) for t, n, _ in events] == [("session.start", "first"), ("custom.span", "second"),
                                              ("session.end", "first")]


def test_snake_case_otlp_json_reads_like_camel_case() -> None:
    camel = export(span(T, TOOL, "t", 0, 1, {"openinference.span.kind": "TOOL", "tool.name": "lookup", "n": 3}))
    snake = json.loads(json.dumps(camel).replace("resourceSpans", "resource_spans")
                       .replace("scopeSpans", "scope_spans").replace("traceId", "trace_id")
                       .replace("spanId", "span_id").replace("startTimeUnixNano", "start_time_unix_nano")
                       .replace("endTimeUnixNano", "end_time_unix_nano").replace("stringValue", "string_value")
                       .replace("intValue", "int_value"))
    assert decode_json(snake).spans == decode_json(camel).spans
