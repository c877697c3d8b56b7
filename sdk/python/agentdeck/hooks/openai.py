"""The OpenAI Python client (sync, async, streaming): chat completions become llm.request / llm.response.

    from agentdeck.hooks.openai import instrument
    instrument(client)  # records into the current session, or into `session=` when given

`llm.request` is written when the call starts, so a call that never returns still leaves its
record. A streamed answer's `llm.response` is written when the stream ends; a stream abandoned
before its end (closed early, broken out of and dropped) gets an `llm.response` with
`incomplete: true` holding what had arrived.
"""

from __future__ import annotations

import functools
from typing import Any

from agentdeck.session import Session, current_session


def instrument(client: Any, session: Session | None = None) -> Any:
    """Wrap `client.chat.completions.create` (an `OpenAI` or `AsyncOpenAI` client); returns the client."""
    import openai  # the hook's own dependency (agentdeck-sdk[openai])

    completions = client.chat.completions
    original = completions.create
    pick = (lambda: session) if session is not None else current_session

    if isinstance(client, openai.AsyncOpenAI):
        @functools.wraps(original)
        async def create_async(*args: Any, **kwargs: Any) -> Any:
            target = pick()
            if target is None:
                return await original(*args, **kwargs)
            call = _Call(target, kwargs)
            try:
                result = await original(*args, **kwargs)
            except Exception as exc:
                call.failed(exc)
                raise
            return _AsyncRecordedStream(result, call) if kwargs.get("stream") else call.completed(result)
        completions.create = create_async
    else:
        @functools.wraps(original)
        def create(*args: Any, **kwargs: Any) -> Any:
            target = pick()
            if target is None:
                return original(*args, **kwargs)
            call = _Call(target, kwargs)
            try:
                result = original(*args, **kwargs)
            except Exception as exc:
                call.failed(exc)
                raise
            return _RecordedStream(result, call) if kwargs.get("stream") else call.completed(result)
        completions.create = create
    return client


def _plain(value: Any) -> Any:
    """SDK objects (pydantic models) as plain data; containers copied, so later mutation does not leak in."""
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    found = {"input_tokens": getattr(usage, "prompt_tokens", None),
             "output_tokens": getattr(usage, "completion_tokens", None),
             "total_tokens": getattr(usage, "total_tokens", None)}
    return {k: v for k, v in found.items() if isinstance(v, int)}


class _Call:
    """One chat-completions call: its request written at once, its response when known."""

    def __init__(self, session: Session, kwargs: dict[str, Any]) -> None:
        self.session = session
        self.model = str(kwargs.get("model") or "unknown")
        fields = {key: _plain(kwargs[key]) for key in ("tools", "tool_choice", "temperature", "max_tokens")
                  if key in kwargs}
        self.request_seq = session.llm_request(self.model, _plain(list(kwargs.get("messages") or [])),
                                               stream=bool(kwargs.get("stream")), **fields)
        self.done = False

    def failed(self, exc: BaseException) -> None:
        self.done = True
        error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            error["status"] = status
        self.session.llm_response(self.model, error=error, parent_seq=self.request_seq)

    def completed(self, completion: Any) -> Any:
        self.done = True
        choice = completion.choices[0] if getattr(completion, "choices", None) else None
        message = getattr(choice, "message", None)
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in (getattr(message, "tool_calls", None) or []) if getattr(c, "function", None)]
        fields: dict[str, Any] = {"finish_reason": getattr(choice, "finish_reason", None)}
        refusal = getattr(message, "refusal", None)
        if refusal:
            fields["refusal"] = refusal
        self.session.llm_response(getattr(completion, "model", None) or self.model,
                                  usage=_usage(getattr(completion, "usage", None)),
                                  content=getattr(message, "content", None) or "", tool_calls=calls,
                                  parent_seq=self.request_seq, **fields)
        return completion


class _StreamState:
    """What a streamed answer has said so far."""

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.model = call.model
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, int] = {}
        self.finish_reason: str | None = None

    def absorb(self, chunk: Any) -> None:
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self.usage = _usage(chunk.usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = choice.delta
            if getattr(delta, "content", None):
                self.content.append(delta.content)
            for part in getattr(delta, "tool_calls", None) or []:
                call = self.calls.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["name"] += part.function.name or ""
                    call["arguments"] += part.function.arguments or ""
            self.finish_reason = choice.finish_reason or self.finish_reason

    def finish(self, *, incomplete: bool = False, error: BaseException | None = None) -> None:
        if self.call.done:
            return
        self.call.done = True
        fields: dict[str, Any] = {"finish_reason": self.finish_reason}
        if incomplete:
            fields["incomplete"] = True
        if error is not None:
            fields["error"] = {"type": type(error).__name__, "message": str(error)}
        self.call.session.llm_response(self.model, usage=self.usage, content="".join(self.content),
                                       tool_calls=[self.calls[i] for i in sorted(self.calls)],
                                       parent_seq=self.call.request_seq, **fields)


class _RecordedStream:
    """The client's Stream, recorded as it is read; everything else passes through."""

    def __init__(self, stream: Any, call: _Call) -> None:
        self._stream = stream
        self._iterator = iter(stream)
        self._state = _StreamState(call)

    def __iter__(self) -> _RecordedStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._state.finish()
            raise
        except Exception as exc:
            self._state.finish(error=exc)
            raise
        self._state.absorb(chunk)
        return chunk

    def close(self) -> None:
        self._state.finish(incomplete=True)
        self._stream.close()

    def __enter__(self) -> _RecordedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Abandoned without being closed: what arrived is still recorded.
        state = self.__dict__.get("_state")
        if state is not None:
            state.finish(incomplete=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _AsyncRecordedStream:
    def __init__(self, stream: Any, call: _Call) -> None:
        self._stream = stream
        self._iterator = stream.__aiter__()
        self._state = _StreamState(call)

    def __aiter__(self) -> _AsyncRecordedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._state.finish()
            raise
        except Exception as exc:
            self._state.finish(error=exc)
            raise
        self._state.absorb(chunk)
        return chunk

    async def close(self) -> None:
        self._state.finish(incomplete=True)
        await self._stream.close()

    async def __aenter__(self) -> _AsyncRecordedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        state = self.__dict__.get("_state")
        if state is not None:
            state.finish(incomplete=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


__all__ = ["instrument"]

