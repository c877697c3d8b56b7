"""malformed_output — the framework could not parse what the model wrote.

Rule: an error site (an `error` event, a failed or ok tool result, a session end) that is a
framework's parse complaint: smolagents' `AgentParsingError` / "Error in code parsing" / "regex
pattern ... was not found", LangChain's `OutputParserException` / "Could not parse LLM output" /
"Invalid Format: Missing 'Action:'", "no code block found", "missing closing tag", ... The
complaint is where it was observed (critical seq); the cause is the response that could not be
parsed (the latest decision before the complaint). Recovered by the next clean tool result (the
model's next output parsed and ran).
- STRONG: an exception type that names a parse failure (AgentParsingError, OutputParserException,
  ...).
- MEDIUM: a complaint phrase in the message or the output.
"""

from __future__ import annotations

from api.detectors.finding import MEDIUM, STRONG, Match
from api.detectors.signals import ErrorSite
from api.detectors.site_rules import SiteDetector, pattern

_PARSE_TYPES = pattern(r"ParsingError|ParseError|OutputParser|ParserException|FormatError|InvalidFormat")


class MalformedOutput(SiteDetector):
    label = "malformed_output"
    channel = "output"  # the next clean tool result recovers it, whichever tool

    def match(self, site: ErrorSite) -> Match | None:
        summary = "model output could not be parsed"
        if site.error_type and _PARSE_TYPES.search(site.error_type):
            return self.site_match(site, STRONG, "error_type", site.error_type, summary)
        if site.inline == "parse_complaint":
            return self.site_match(site, MEDIUM, "phrase", site.message, summary)
        return None
