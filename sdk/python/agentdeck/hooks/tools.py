"""`@tool`: a plain function (sync or async) recorded as `tool.call` and `tool.result` in the current session.

Arguments are recorded by parameter name; the return value as the result's output; an exception as
a failed result (`status: error`, with its type, message and stack) and then re-raised. Outside a
session the function runs untraced.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from agentdeck.session import Session, current_session

F = TypeVar("F", bound=Callable[..., Any])


@overload
def tool(function: F) -> F: ...
@overload
def tool(*, name: str | None = None) -> Callable[[F], F]: ...


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or fn.__name__
        signature = inspect.signature(fn)

        def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return {"args": list(args), **kwargs}
            return dict(bound.arguments)

        def begin(session: Session, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
            return session.tool_call(tool_name, arguments(args, kwargs))

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                session = current_session()
                if session is None:
                    return await fn(*args, **kwargs)
                call = begin(session, args, kwargs)
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    session.tool_result(tool_name, error=exc, parent_seq=call)
                    raise
                session.tool_result(tool_name, output=result, parent_seq=call)
                return result
            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            session = current_session()
            if session is None:
                return fn(*args, **kwargs)
            call = begin(session, args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                session.tool_result(tool_name, error=exc, parent_seq=call)
                raise
            session.tool_result(tool_name, output=result, parent_seq=call)
            return result
        return run

    return decorate(function) if function is not None else decorate
