"""Hooks: the real OpenAI client against a local chat-completions server, and the @tool decorator."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from agentdeck import Tracer, tool
from agentdeck.hooks.openai import instrument
from tests.support import chat_server
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

ANSWER = "".join(chat_server.STREAM_WORDS)


@pytest.fixture(scope="module")
def chat() -> Iterator[RunningServer]:
    with RunningServer(chat_server.app) as running:
        yield running


@pytest.fixture
def llm(chat: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{chat.base_url}/v1", api_key="local", max_retries=0) as client:
        yield instrument(client)


@pytest.fixture
def tracer(server: RunningServer, tenant: Tenant) -> Iterator[Tracer]:
    with Tracer(server.base_url, tenant.keys[tenant.projects[0]]) as running:
        yield running


def recorded(client: httpx.Client, tenant: Tenant, tracer: Tracer, trace_id: str) -> list[dict[str, Any]]:
    counts = tracer.flush(timeout=30)
    assert counts.rejected == 0, counts.rejections
    events = client.get(f"/api/traces/{trace_id}/events", headers=tenant.key()).json()["events"]
    return [e for e in events if e["type"] not in ("session.start", "session.end")]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_sync_completion_records_request_and_response(llm: openai.OpenAI, tracer: Tracer, client: httpx.Client,
                                                      tenant: Tenant) -> None:
    messages = user("use a tool")
    with tracer.session() as session:
        llm.chat.completions.create(model="local-model", messages=messages)
        messages.append({"role": "assistant", "content": "changed afterwards"})
    request, response = recorded(client, tenant, tracer, session.id)
    assert request["payload"]["messages"] == user("use a tool")  # a copy, taken at call time
    assert response["parent_seq"] == request["seq"]
    assert response["payload"]["usage"] == {"input_tokens": 9, "output_tokens": 6, "total_tokens": 15}
    assert response["payload"]["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}]
    assert response["payload"]["finish_reason"] == "tool_calls"


def test_stream_read_to_the_end_records_the_whole_answer(llm: openai.OpenAI, tracer: Tracer,
                                                         client: httpx.Client, tenant: Tenant) -> None:
    with tracer.session() as session:
        stream = llm.chat.completions.create(model="local-model", messages=user("hi"), stream=True,
                                             stream_options={"include_usage": True})
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == ANSWER
    request, response = recorded(client, tenant, tracer, session.id)
    assert request["payload"]["stream"] is True
    assert response["payload"]["content"] == ANSWER and "incomplete" not in response["payload"]
    assert response["payload"]["usage"]["total_tokens"] == 15


def test_abandoned_stream_still_leaves_its_request_and_an_incomplete_response(
        llm: openai.OpenAI, tracer: Tracer, client: httpx.Client, tenant: Tenant) -> None:
    with tracer.session() as session:
        stream = llm.chat.completions.create(model="local-model", messages=user("long"), stream=True)
        for index, _ in enumerate(stream):
            if index == 2:
                break
        del stream
        gc.collect()
    request, response = recorded(client, tenant, tracer, session.id)
    assert request["type"] == "llm.request"
    assert response["payload"]["incomplete"] is True
    assert ANSWER.startswith(response["payload"]["content"]) and response["payload"]["content"]


def test_failed_call_records_the_error(llm: openai.OpenAI, tracer: Tracer, client: httpx.Client,
                                       tenant: Tenant) -> None:
    with tracer.session() as session, pytest.raises(openai.InternalServerError):
        llm.chat.completions.create(model="local-model", messages=user("fail"))
    _, response = recorded(client, tenant, tracer, session.id)
    assert response["payload"]["error"]["status"] == 500


def test_async_client_plain_and_streamed(chat: RunningServer, tracer: Tracer, client: httpx.Client,
                                         tenant: Tenant) -> None:
    async def agent() -> str:
        llm = instrument(openai.AsyncOpenAI(base_url=f"{chat.base_url}/v1", api_key="local", max_retries=0))
        async with tracer.session() as session:
            await llm.chat.completions.create(model="local-model", messages=user("hi"))
            stream = await llm.chat.completions.create(model="local-model", messages=user("hi"), stream=True)
            async for _ in stream:
                pass
        await llm.close()
        return session.id

    trace_id = asyncio.run(agent())
    events = recorded(client, tenant, tracer, trace_id)
    assert [e["type"] for e in events] == ["llm.request", "llm.response"] * 2
    assert [e["payload"]["content"] for e in events[1::2]] == [ANSWER, ANSWER]


def test_tool_decorator_records_arguments_results_and_failures(tracer: Tracer, client: httpx.Client,
                                                               tenant: Tenant) -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    @tool(name="fetch")
    async def fetch_page(url: str) -> str:
        raise LookupError(f"404 Not Found: {url}")

    with tracer.session() as session:
        assert add(1) == 3
        with pytest.raises(LookupError):
            asyncio.run(fetch_page("/docs/42"))
    call, result, failed_call, failed = recorded(client, tenant, tracer, session.id)
    assert call["payload"] == {"tool": "add", "arguments": {"a": 1}}
    assert result["payload"]["output"] == 3 and result["parent_seq"] == call["seq"]
    assert failed_call["payload"]["arguments"] == {"url": "/docs/42"}
    assert failed["payload"]["status"] == "error"
    assert failed["payload"]["error"]["type"] == "LookupError"


def test_hooks_outside_a_session_record_nothing(llm: openai.OpenAI) -> None:
    answer = llm.chat.completions.create(model="local-model", messages=user("hi"))
    assert answer.choices[0].message.content == ANSWER
