"""Readers for the attribute conventions spans arrive in: OpenTelemetry GenAI (current attributes and
the deprecated span events) and OpenInference. Each returns plain JSON-shaped values; nothing here
knows about events or sessions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from api.otlp.spans import Span, SpanEvent

# gen_ai.operation.name values that are model calls.
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion", "embeddings"})
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
# The deprecated GenAI span events: a message sent to the model, by role.
_MESSAGE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                   "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def span_role(span: Span) -> str:
    """`llm`, `tool` or `step` (any other unit of work: agent, chain, step, retriever, plain spans)."""
    attributes = span.attributes
    kind = str(attributes.get("openinference.span.kind") or "").upper()
    operation = attributes.get("gen_ai.operation.name")
    if kind == "LLM" or operation in LLM_OPERATIONS:
        return "llm"
    if kind == "TOOL" or operation == "execute_tool":
        return "tool"
    if kind or operation in AGENT_OPERATIONS:
        return "step"
    if any(event.name in _MESSAGE_EVENTS or event.name == "gen_ai.choice" for event in span.events):
        return "llm"
    if "gen_ai.input.messages" in attributes or "gen_ai.request.model" in attributes:
        return "llm"
    return "step"


# Decoded JSON nested deeper than this stays a string: stored payloads keep a sane depth.
MAX_JSON_DEPTH = 64


def maybe_json(value: Any) -> Any:
    """A JSON string decoded, anything else as it is (attributes often carry JSON as text)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return decoded if _shallow(decoded, MAX_JSON_DEPTH) else value
    return value


def _shallow(value: Any, budget: int) -> bool:
    if isinstance(value, dict):
        return budget > 0 and all(_shallow(v, budget - 1) for v in value.values())
    if isinstance(value, list):
        return budget > 0 and all(_shallow(v, budget - 1) for v in value)
    return True


def indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened lists (`llm.input_messages.0.message.role`) back as a list of {rest-of-key: value}."""
    rows: dict[int, dict[str, Any]] = {}
    start = len(prefix) + 1
    for key, value in attributes.items():
        if not key.startswith(prefix + "."):
            continue
        number, _, rest = key[start:].partition(".")
        if number.isdigit() and rest:
            rows.setdefault(int(number), {})[rest] = value
    return [rows[n] for n in sorted(rows)]


# --- model calls ------------------------------------------------------------------------------------------

def model_name(attributes: Mapping[str, Any]) -> str:
    for key in ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return "unknown"


def usage(attributes: Mapping[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, keys in (
        ("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")),
        ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                           "llm.token_count.completion")),
        ("total_tokens", ("gen_ai.usage.total_tokens", "llm.token_count.total")),
    ):
        for key in keys:
            value = attributes.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                found[name] = value
                break
    return found


def request_messages(span: Span) -> list[dict[str, Any]]:
    """What the model was sent: GenAI `gen_ai.input.messages`, the deprecated message events, or
    OpenInference `llm.input_messages.*`."""
    attributes = span.attributes
    current = maybe_json(attributes.get("gen_ai.input.messages"))
    if isinstance(current, list):
        return [_genai_message(m) for m in current if isinstance(m, dict)]
    from_events = [_event_message(event, role) for event in span.events
                   if (role := _MESSAGE_EVENTS.get(event.name)) is not None]
    if from_events:
        return from_events
    legacy = maybe_json(attributes.get("gen_ai.prompt"))
    if isinstance(legacy, list):
        return [m for m in legacy if isinstance(m, dict)]
    return [_openinference_message(row) for row in indexed(attributes, "llm.input_messages")] or \
        [_flat_message(row) for row in indexed(attributes, "gen_ai.prompt")]


def system_instructions(attributes: Mapping[str, Any]) -> Any:
    value = maybe_json(attributes.get("gen_ai.system_instructions"))
    if isinstance(value, list):
        return "".join(_part_text(part) for part in value if isinstance(part, dict)) or value
    return value


def response_message(span: Span) -> dict[str, Any]:
    """The model's answer as `{content?, tool_calls?, finish_reason?}`."""
    attributes = span.attributes
    current = maybe_json(attributes.get("gen_ai.output.messages"))
    if isinstance(current, list) and current and isinstance(current[0], dict):
        message = _genai_message(current[0])
        reason = current[0].get("finish_reason")
        if reason is not None:
            message["finish_reason"] = reason
        return _answer(message)
    for event in span.events:
        if event.name == "gen_ai.choice":
            return _choice(event)
    legacy = maybe_json(attributes.get("gen_ai.completion"))
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return _answer(legacy[0])
    rows = indexed(attributes, "llm.output_messages")
    if rows:
        return _answer(_openinference_message(rows[0]))
    rows = indexed(attributes, "gen_ai.completion")
    if rows:
        return _answer(_flat_message(rows[0]))
    finish = attributes.get("gen_ai.response.finish_reasons")
    output = attributes.get("output.value")
    answer: dict[str, Any] = {}
    if output is not None:
        answer["content"] = output if isinstance(output, str) else json.dumps(output)
    if isinstance(finish, list) and finish:
        answer["finish_reason"] = finish[0]
    return answer


def declared_tools(attributes: Mapping[str, Any]) -> list[Any]:
    """Tools the model or agent was given: GenAI definitions, OpenInference `llm.tools.*`, smolagents names."""
    definitions = maybe_json(attributes.get("gen_ai.tool.definitions"))
    if isinstance(definitions, list):
        return [d for d in definitions if _named_tool(d)]
    schemas = [maybe_json(row.get("tool.json_schema")) for row in indexed(attributes, "llm.tools")]
    if schemas:
        return [s for s in schemas if _named_tool(s)]
    names = attributes.get("smolagents.tools_names")
    if isinstance(names, list):
        return [n for n in names if isinstance(n, str)]
    return []


def _named_tool(tool: Any) -> bool:
    """A tool entry the event schema takes: a name, or `{name}`, or OpenAI's `{function: {name}}`."""
    if isinstance(tool, str):
        return True
    if not isinstance(tool, dict):
        return False
    function = tool.get("function")
    return isinstance(tool.get("name"), str) or (isinstance(function, dict) and isinstance(function.get("name"), str))


def _answer(message: dict[str, Any]) -> dict[str, Any]:
    return {key: message[key] for key in ("content", "tool_calls", "finish_reason", "refusal") if key in message}


def _part_text(part: Mapping[str, Any]) -> str:
    if part.get("type", "text") == "text":
        value = part.get("content", part.get("text"))
        return value if isinstance(value, str) else ""
    return ""


def _genai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A GenAI message `{role, parts: [{type: text|tool_call|tool_call_response, …}]}` in our shape."""
    result: dict[str, Any] = {"role": message.get("role")}
    parts = message.get("parts")
    if not isinstance(parts, list):
        if "content" in message:
            result["content"] = message["content"]
        return result
    texts = [_part_text(p) for p in parts if isinstance(p, dict) and p.get("type", "text") == "text"]
    if texts:
        result["content"] = "".join(texts)
    calls = [_tool_call(p.get("id"), p.get("name"), p.get("arguments"))
             for p in parts if isinstance(p, dict) and p.get("type") == "tool_call"]
    if calls:
        result["tool_calls"] = calls
    responses = [p for p in parts if isinstance(p, dict) and p.get("type") == "tool_call_response"]
    if responses:
        result["tool_call_id"] = responses[0].get("id")
        result.setdefault("content", responses[0].get("response") if isinstance(responses[0].get("response"), str)
                          else json.dumps(responses[0].get("response")))
    return result


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"name": name, "arguments": arguments if arguments is not None else {}}
    if call_id is not None:
        call["id"] = call_id
    return call


def _openinference_message(row: Mapping[str, Any]) -> dict[str, Any]:
    """`message.role`, `message.content` or `message.contents.N.message_content.text`, `message.tool_calls.N.…`."""
    message: dict[str, Any] = {"role": row.get("message.role")}
    if "message.content" in row:
        message["content"] = row["message.content"]
    else:
        texts = [r.get("message_content.text") for r in indexed(row, "message.contents")
                 if r.get("message_content.type", "text") == "text"]
        if texts:
            message["content"] = "".join(t for t in texts if isinstance(t, str))
    calls = [_tool_call(r.get("tool_call.id"), r.get("tool_call.function.name"),
                        maybe_json(r.get("tool_call.function.arguments")))
             for r in indexed(row, "message.tool_calls")]
    if calls:
        message["tool_calls"] = calls
    for key, name in (("message.name", "name"), ("message.tool_call_id", "tool_call_id")):
        if key in row:
            message[name] = row[key]
    return message


def _flat_message(row: Mapping[str, Any]) -> dict[str, Any]:
    """OpenLLMetry's `gen_ai.prompt.N.role` / `.content` pairs."""
    message = {key: row[key] for key in ("role", "content", "finish_reason") if key in row}
    calls = [_tool_call(r.get("id"), r.get("name"), maybe_json(r.get("arguments")))
             for r in indexed(row, "tool_calls")]
    if calls:
        message["tool_calls"] = calls
    return message


def _event_message(event: SpanEvent, role: str) -> dict[str, Any]:
    attributes = event.attributes
    message: dict[str, Any] = {"role": attributes.get("role", role)}
    content = maybe_json(attributes.get("content"))
    if content is not None:
        message["content"] = content
    calls = maybe_json(attributes.get("tool_calls"))
    if isinstance(calls, list):
        message["tool_calls"] = calls
    if "id" in attributes:
        message["tool_call_id"] = attributes["id"]
    return message


def _choice(event: SpanEvent) -> dict[str, Any]:
    attributes = event.attributes
    message = maybe_json(attributes.get("message"))
    answer: dict[str, Any] = {}
    if isinstance(message, dict):
        answer.update(_answer(message))
    elif isinstance(message, str):
        answer["content"] = message
    elif "content" in attributes:
        answer["content"] = maybe_json(attributes["content"])
    if "finish_reason" in attributes:
        answer["finish_reason"] = attributes["finish_reason"]
    return answer


# --- tools ------------------------------------------------------------------------------------------------

def tool_name(span: Span) -> str:
    for key in ("tool.name", "gen_ai.tool.name"):
        value = span.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return span.name or "unknown"


def tool_arguments(attributes: Mapping[str, Any]) -> dict[str, Any] | str:
    raw = attributes.get("gen_ai.tool.call.arguments", attributes.get("tool.parameters_value",
                                                                      attributes.get("input.value")))
    value = maybe_json(raw)
    if isinstance(value, dict):
        # smolagents records the bound call `{"args": [], "sanitize_inputs_outputs": …, "kwargs": {…}}`.
        kwargs, args = value.get("kwargs"), value.get("args")
        if isinstance(kwargs, dict) and isinstance(args, list):
            return kwargs if not args else {"args": args, **kwargs}
        return value
    if value is None:
        return {}
    return value if isinstance(value, str) else json.dumps(value)


def tool_output(attributes: Mapping[str, Any]) -> Any:
    for key in ("gen_ai.tool.call.result", "output.value"):
        if key in attributes:
            return maybe_json(attributes[key])
    return None


def tool_call_id(attributes: Mapping[str, Any]) -> Any:
    return attributes.get("gen_ai.tool.call.id", attributes.get("tool_call.id"))
