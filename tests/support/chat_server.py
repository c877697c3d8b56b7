"""A local server speaking the OpenAI chat-completions protocol (JSON and SSE streaming), for hook tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STREAM_WORDS = ["The", " answer", " is", " forty", "-two", "."]


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None,
           choices: bool = True) -> str:
    body: dict[str, Any] = {"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": 1, "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


async def completions(request: Request) -> Response:
    body = await request.json()
    model = body["model"]
    last = body["messages"][-1]["content"]
    if last == "fail":
        return JSONResponse({"error": {"message": "the model is overloaded", "type": "server_error"}}, status_code=500)
    usage = {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}
    if body.get("stream"):
        words = STREAM_WORDS * (50 if last == "long" else 1)

        async def chunks() -> AsyncIterator[str]:
            yield _chunk(model, {"role": "assistant", "content": ""})
            for word in words:
                yield _chunk(model, {"content": word})
            yield _chunk(model, {}, finish="stop")
            yield _chunk(model, {}, usage=usage, choices=False)
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(STREAM_WORDS)}
    finish = "stop"
    if last == "use a tool":
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]}
        finish = "tool_calls"
    return JSONResponse({"id": "chatcmpl-local", "object": "chat.completion", "created": 1, "model": model,
                         "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})


app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
