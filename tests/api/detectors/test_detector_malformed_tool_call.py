"""malformed_tool_call: unparseable arguments, schema violations, undeclared tools."""

from __future__ import annotations

from detector_events import Session

TOOLS = [
    {
        "name": "book_flight",
        "parameters": {
            "type": "object",
            "properties": {"destination": {"type": "string"}, "passengers": {"type": "integer"}},
            "required": ["destination"],
        },
    },
    "search",
]


def test_arguments_that_are_not_valid_json_are_malformed() -> None:
    s = Session()
    s.start(TOOLS)
    bad = s.call("book_flight", '{"destination": "CDG",')
    s.end("failure")
    label = s.labels()["malformed_tool_call"]
    assert (label["critical_seq"], label["confidence"]) == (bad, 0.95)
    assert label["signature"]["error_type"] == "invalid_json"
    assert label["signature"]["tool"] == "book_flight"


def test_missing_required_argument_is_malformed() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("book_flight", {"passengers": 2})
    s.end("failure")
    label = s.labels()["malformed_tool_call"]
    assert label["signature"]["error_type"] == "missing_required"
    assert label["confidence"] == 0.95


def test_wrong_argument_type_is_medium_evidence() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("book_flight", {"destination": "CDG", "passengers": "two"})
    s.end("failure")
    label = s.labels()["malformed_tool_call"]
    assert (label["signature"]["error_type"], label["confidence"]) == ("wrong_type", 0.8)


def test_boolean_is_not_an_integer_but_a_whole_float_is() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("book_flight", {"destination": "CDG", "passengers": 2.0})
    s.call("book_flight", {"destination": "CDG", "passengers": True})
    s.end("failure")
    assert s.labels()["malformed_tool_call"]["critical_seq"] == 2


def test_call_to_a_tool_the_agent_was_not_given_is_malformed() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("web_search", {"q": "x"})
    s.end("failure")
    assert s.labels()["malformed_tool_call"]["signature"]["error_type"] == "undeclared_tool"


def test_openai_tool_call_with_bad_json_in_llm_response_is_malformed() -> None:
    s = Session()
    s.start([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])
    bad = s.llm(
        content=None,
        tool_calls=[
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{city: Paris}"}}
        ],
    )
    s.end("failure")
    assert s.labels()["malformed_tool_call"]["critical_seq"] == bad


def test_well_formed_calls_and_raw_strings_without_schema_are_fine() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("book_flight", '{"destination": "CDG", "passengers": 1}')
    s.call("search", "blue widget price")
    s.end("failure", reason="wrong answer")
    assert "malformed_tool_call" not in s.labels()


def test_without_a_tool_list_any_tool_name_is_accepted() -> None:
    s = Session()
    s.start()
    s.call("anything_goes", {"x": 1})
    s.start([])  # an empty list is "not given", not "no tools"
    s.call("anything_else", {"x": 1})
    s.end("failure", reason="wrong answer")
    assert "malformed_tool_call" not in s.labels()


def test_a_corrected_retry_recovers_the_malformed_call() -> None:
    s = Session()
    s.start(TOOLS)
    s.call("book_flight", '{"destination": ')
    s.call("book_flight", '{"destination": "CDG"}')
    s.end("failure", reason="wrong answer")
    assert "malformed_tool_call" not in s.labels()
