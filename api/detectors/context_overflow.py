"""context_overflow — the prompt no longer fit the model's context window.

Rule: an unrecovered error site that reports a context length or input token limit.
- STRONG: exception type like ContextWindowExceededError, ContextLengthExceeded, PromptTooLong,
  TokenLimitExceeded; code context_length_exceeded, model_context_window_exceeded, prompt_too_long,
  ...; finish_reason `model_context_window_exceeded`.
- MEDIUM: "maximum context length", "context length exceeded", "exceeds the context window",
  "prompt is too long", "input is too long", "too many tokens", "reduce the length of the messages".
- WEAK: "token limit", "context limit", "context size".
Output truncation (finish_reason `length`, `max_tokens`) is not context overflow and is ignored.
"""

from __future__ import annotations

from api.detectors.site_rules import CauseDetector, CauseRule, pattern


class ContextOverflow(CauseDetector):
    label = "context_overflow"
    summary = "context window exceeded"
    rule = CauseRule(
        error_types=pattern(
            r"ContextWindowExceeded|ContextLength|ContextOverflow|TokenLimitExceeded|PromptTooLong|TooManyTokens"
        ),
        codes=frozenset(
            {
                "context_length_exceeded",
                "model_context_window_exceeded",
                "context_window_exceeded",
                "string_above_max_length",
                "prompt_too_long",
                "token_limit_exceeded",
            }
        ),
        phrases=pattern(
            r"maximum context length|context[\s_-]length (?:is |was |has been )?exceeded"
            r"|exceeds? (?:the )?(?:model'?s? )?(?:maximum )?context|context window"
            r"|prompt is too long|input is too long|too many (?:input )?tokens|reduce the length of the messages"
        ),
        keywords=pattern(r"token limit|context limit|context size"),
    )
