"""A real smolagents CodeAgent, traced by openinference-instrumentation-smolagents and exported with the
stock OTLP/HTTP exporter: the shapes TRAIL-style runs arrive in, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openinference.instrumentation.smolagents import SmolagentsInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.server import RunningServer
from tests.support.tenants import Tenant

# What the scripted model answers, turn by turn: code that fails, then code that calls a tool and answers.
REPLIES = [
    "Thought: read the total.\n<code>\nprices = {'a': 1}\nprint(prices['total'])\n</code>",
    "Thought: look it up instead.\n<code>\nx = lookup(query='total price')\nfinal_answer(x)\n</code>",
]


# For a ToolCallingAgent: a call to a tool that fails, then the final answer.
TOOL_CALL_REPLIES = [
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"query": "broken"}'}}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_2", "type": "function", "function": {"name": "final_answer", "arguments": '{"answer": "7"}'}}]},
]


def scripted(messages: list[dict[str, Any]]) -> Iterator[RunningServer]:
    replies = iter(messages)

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": "c", "object": "chat.completion", "created": 1, "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop", "message": next(replies)}],
                             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

    with RunningServer(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])) as running:
        yield running


@pytest.fixture
def scripted_model() -> Iterator[RunningServer]:
    yield from scripted([{"role": "assistant", "content": text} for text in REPLIES])


@pytest.fixture
def scripted_tool_caller() -> Iterator[RunningServer]:
    yield from scripted(TOOL_CALL_REPLIES)


def events_of(client: httpx.Client, tenant: Tenant, name: str) -> list[dict[str, Any]]:
    sessions = client.get("/api/sessions", headers=tenant.key()).json()["sessions"]
    [session] = [s for s in sessions if s["name"] == name]
    events: list[dict[str, Any]] = client.get(f"/api/traces/{session['id']}/events",
                                              headers=tenant.key()).json()["events"]
    return events


@pytest.fixture
def traced(server: RunningServer, tenant: Tenant) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces", headers={"x-api-key": tenant.keys[tenant.projects[0]]})))
    instrumentor = SmolagentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_codeagent_run_becomes_a_session_with_its_code_failure_and_recovery(
        scripted_model: RunningServer, traced: TracerProvider, client: httpx.Client, tenant: Tenant) -> None:
    from smolagents import CodeAgent, OpenAIServerModel, tool

    @tool
    def lookup(query: str) -> str:
        """Look something up.

        Args:
            query: what to look up
        """
        return "42"

    model = OpenAIServerModel(model_id="scripted", api_base=f"{scripted_model.base_url}/v1", api_key="local")
    agent = CodeAgent(tools=[lookup], model=model, max_steps=4, verbosity_level=0)
    try:
        assert agent.run("What is the total price?") == "42"
    finally:
        model.client.close()
    assert traced.force_flush()

    events = events_of(client, tenant, "CodeAgent.run")
    assert [(e["type"], e["name"]) for e in events] == [
        ("session.start", "CodeAgent.run"),
        ("llm.request", "OpenAIModel.generate"),
        ("llm.response", "OpenAIModel.generate"),
        ("tool.result", "python_interpreter"),  # step 1's code failed
        ("llm.request", "OpenAIModel.generate"),
        ("llm.response", "OpenAIModel.generate"),
        ("tool.call", "lookup"),
        ("tool.result", "lookup"),
        ("tool.call", "final_answer"),
        ("tool.result", "final_answer"),
        ("tool.result", "python_interpreter"),  # step 2's code ran
        ("session.end", "CodeAgent.run"),
    ]
    start, failed, ran, end = events[0], events[3], events[10], events[11]
    assert start["payload"]["tools"] == ["lookup", "final_answer"]
    assert start["payload"]["input"]["task"] == "What is the total price?"
    assert failed["payload"]["status"] == "error"
    assert "KeyError: 'total'" in failed["payload"]["error"]["message"]
    assert failed["payload"]["error"]["agent_error"].endswith("AgentExecutionError")
    assert ran["payload"]["status"] == "ok" and ran["payload"]["output"].startswith("Execution logs:")
    assert events[2]["payload"]["content"].startswith("Thought: read the total.")
    assert events[6]["payload"]["arguments"] == {"query": "total price"}
    assert (end["payload"]["outcome"], end["payload"]["output"]) == ("success", "42")


def test_toolcallingagent_tool_failure_is_a_failed_tool_result(
        scripted_tool_caller: RunningServer, traced: TracerProvider, client: httpx.Client, tenant: Tenant) -> None:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def lookup(query: str) -> str:
        """Look something up.

        Args:
            query: what to look up
        """
        raise ValueError(f"index offline for {query}")

    model = OpenAIServerModel(model_id="scripted", api_base=f"{scripted_tool_caller.base_url}/v1", api_key="local")
    agent = ToolCallingAgent(tools=[lookup], model=model, max_steps=4, verbosity_level=0)
    try:
        assert agent.run("Find it") == "7"
    finally:
        model.client.close()
    assert traced.force_flush()

    events = events_of(client, tenant, "ToolCallingAgent.run")
    kinds = [(e["type"], e["name"]) for e in events]
    assert kinds[0] == ("session.start", "ToolCallingAgent.run") and kinds[-1][0] == "session.end"
    response = next(e for e in events if e["type"] == "llm.response")
    assert response["payload"]["tool_calls"][0]["name"] == "lookup"
    [failed] = [e for e in events if e["type"] == "tool.result" and e["name"] == "lookup"]
    assert failed["payload"]["status"] == "error"
    assert "index offline for broken" in failed["payload"]["error"]["message"]
