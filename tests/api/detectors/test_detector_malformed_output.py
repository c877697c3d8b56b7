"""malformed_output: the framework could not parse what the model wrote."""

from __future__ import annotations

from detector_events import Session

SMOL = ("Error in code parsing:\nYour code snippet is invalid, because the regex pattern ```(?:py|python)?\\s*\\n"
        "(.*?)\\n``` was not found in it.\nHere is your code snippet:\nThe answer is 4.")


def test_smolagents_parse_error_is_caused_by_the_response_it_complains_about() -> None:
    s = Session()
    response = s.llm(content="The answer is 4.")
    complaint = s.error(SMOL, parent_seq=response, type="AgentParsingError")
    s.end("failure")
    analysis = s.analysis()
    labels = {entry["label"]: entry for entry in analysis["labels"]}
    assert set(labels) == {"malformed_output"}  # not llm_error: the call worked, not_found: no 404 here
    finding = labels["malformed_output"]
    assert (finding["critical_seq"], finding["cause_seq"], finding["confidence"]) == (complaint, response, 0.95)
    assert analysis["critical_step"]["seq"] == response


def test_parse_complaint_in_an_ok_result_is_medium_and_recovered_by_the_next_clean_result() -> None:
    s = Session()
    s.llm(content="Action: search[weather")
    s.call("search")
    complaint = s.ok("search", "Could not parse LLM output: `Action: search[weather`")
    s.llm(content="Action: search[weather]")
    s.call("search")
    clean = s.ok("search", "sunny")
    s.end("success")
    (finding,) = s.analysis()["labels"]
    assert (finding["label"], finding["critical_seq"], finding["confidence"]) == ("malformed_output", complaint, 0.8)
    assert (finding["recovered"], finding["recovered_by_seq"]) == (True, clean)


def test_output_that_merely_mentions_parsing_is_not_a_complaint() -> None:
    s = Session()
    s.call("csv")
    s.ok("csv", "Parsed 20 rows. Could not parse the date format, assuming ISO.")
    s.end("success")
    assert s.analysis()["labels"] == []
