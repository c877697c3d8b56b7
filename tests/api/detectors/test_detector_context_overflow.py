"""context_overflow: context length / input token limit exceeded."""

from __future__ import annotations

from detector_events import Session


def test_openai_context_length_exceeded_code_is_strong_evidence() -> None:
    s = Session()
    overflow = s.llm(
        usage={},
        error={
            "type": "BadRequestError",
            "status": 400,
            "code": "context_length_exceeded",
            "message": "This model's maximum context length is 128000 tokens. However, you requested 131072 tokens.",
        },
    )
    s.end("error")
    labels = s.labels()
    assert (labels["context_overflow"]["critical_seq"], labels["context_overflow"]["confidence"]) == (overflow, 0.95)
    assert "llm_error" in labels


def test_anthropic_prompt_too_long_message_is_medium_evidence() -> None:
    s = Session()
    s.llm(usage={}, error={"message": "prompt is too long: 215000 tokens > 200000 maximum"})
    s.end("error")
    assert s.labels()["context_overflow"]["confidence"] == 0.8


def test_context_window_finish_reason_is_strong_evidence() -> None:
    s = Session()
    s.llm(content="", finish_reason="model_context_window_exceeded")
    s.end("failure")
    assert s.labels()["context_overflow"]["confidence"] == 0.95


def test_output_truncated_by_max_tokens_is_not_context_overflow() -> None:
    s = Session()
    s.llm(content="The report begins with", finish_reason="length")
    s.end("failure", reason="incomplete answer")
    assert "context_overflow" not in s.labels()


def test_overflow_followed_by_a_working_call_after_summarising_is_recovered() -> None:
    s = Session()
    s.llm(usage={}, error={"code": "context_length_exceeded", "message": "too long"})
    s.answer("Summary of the conversation so far ...")
    s.end("failure", reason="wrong answer")
    assert "context_overflow" not in s.labels()
