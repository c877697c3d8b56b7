"""The shared machinery of the error rules: match error sites, forget the recovered ones.

A `SiteDetector` matches each error site against its rule and tracks the match under the site's
recovery channel and signature (see `signals` and `pending`); a recovery on that channel marks it
recovered. Every site is reported, recovered or not, whatever outcome the session claims.

A `CauseRule` is the common shape of the cause rules (rate limit, auth, not found, ...), tiered by
strength of evidence: STRONG for a status code, exception type or error code; MEDIUM for an exit
code or a specific phrase (a status number written in a message); WEAK for a keyword.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from api.detectors.finding import MEDIUM, STRONG, WEAK, Detector, Finding, Match, SessionEnd, Signature
from api.detectors.pending import PendingMatches
from api.detectors.signals import ErrorSite, Observation


class SiteDetector(Detector):
    wants_signals = True
    channel: ClassVar[str | None] = None  # a rule's own recovery channel, instead of the site's

    def __init__(self) -> None:
        self._pending = PendingMatches()

    def observe(self, observation: Observation) -> None:
        if self._pending.waiting:  # most events recover something; only open sites care
            for channel in observation.recovers:
                self._pending.clear(channel, observation.event.seq)
        site = observation.site
        if site is not None:
            match = self.match(site)
            if match is not None:
                self._pending.add(self.channel or site.channel, match)

    @abstractmethod
    def match(self, site: ErrorSite) -> Match | None: ...

    def findings(self, end: SessionEnd) -> list[Finding]:
        return self._pending.findings(self.label)

    def site_match(self, site: ErrorSite, confidence: float, basis: str, matched: object, summary: str) -> Match:
        """A match on `site`, its signature and a one-line reason."""
        facts = site.facts()
        facts["basis"] = basis
        facts["matched"] = matched
        where = f"{site.source} at seq {site.seq}" + (f" (tool {site.tool})" if site.tool else "")
        reason = f"{summary} in {where}: {basis} {matched}"
        signature = Signature(tool=site.tool, error_type=site.error_type or site.code, message=site.message)
        return Match(
            seq=site.seq, confidence=confidence, signature=signature, reason=reason, facts=facts,
            cause_seq=site.cause_seq,
        )  # fmt: skip


def status_in_text(*statuses: int) -> str:
    """A regex for a status number written in a message: `HTTP 429`, `Error code: 429`, `429 Too Many`."""
    numbers = "|".join(str(status) for status in statuses)
    return (
        rf"\b(?:http(?:/\d(?:\.\d)?)?|status|status code|error code|code|response)\W{{0,3}}(?:{numbers})\b"
        rf"|\b(?:{numbers})\s*(?:-\s*)?(?:(?-i:[A-Z][a-z]+)|client error|server error)"
    )


@dataclass(frozen=True, slots=True)
class CauseRule:
    statuses: frozenset[int] = frozenset()
    error_types: re.Pattern[str] | None = None
    codes: frozenset[str] = frozenset()  # lower case
    exit_codes: frozenset[int] = frozenset()
    phrases: re.Pattern[str] | None = None
    keywords: re.Pattern[str] | None = None
    excludes: re.Pattern[str] | None = None  # vetoes every tier but an explicit status


def match_cause(rule: CauseRule, site: ErrorSite) -> tuple[float, str, object] | None:
    """(confidence, basis, matched value) of the strongest tier `site` satisfies, or None."""
    if site.status is not None and site.status in rule.statuses:
        return STRONG, "status", site.status
    if rule.excludes is not None and rule.excludes.search(site.text):
        return None
    if site.error_type and rule.error_types is not None and rule.error_types.search(site.error_type):
        return STRONG, "error_type", site.error_type
    if site.code and site.code.lower() in rule.codes:
        return STRONG, "code", site.code
    if site.exit_code is not None and site.exit_code in rule.exit_codes:
        return MEDIUM, "exit_code", site.exit_code
    if rule.phrases is not None and (found := rule.phrases.search(site.text)):
        return MEDIUM, "phrase", found.group(0)
    if rule.keywords is not None and (found := rule.keywords.search(site.text)):
        return WEAK, "keyword", found.group(0)
    return None


class CauseDetector(SiteDetector):
    """A site rule defined by a `CauseRule`."""

    rule: ClassVar[CauseRule]
    summary: ClassVar[str]

    def match(self, site: ErrorSite) -> Match | None:
        if site.inline == "parse_complaint":  # "pattern ... was not found" is a parse failure, not a 404
            return None
        found = match_cause(self.rule, site)
        if found is None:
            return None
        confidence, basis, matched = found
        return self.site_match(site, confidence, basis, matched, self.summary)


def pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)
