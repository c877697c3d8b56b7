"""The shared machinery of the error rules: match error sites, forget the recovered ones.

A `SiteDetector` matches each error site against its rule and parks the match on the site's
recovery channel (see `signals`); a recovery on that channel clears it. What is still parked when
the session ends is reported as one finding whose critical seq is the earliest unrecovered match.
A session that ends in success recovers everything.

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

    def __init__(self) -> None:
        self._pending = PendingMatches()

    def observe(self, observation: Observation) -> None:
        for channel in observation.recovers:
            self._pending.clear(channel)
        site = observation.site
        if site is not None:
            match = self.match(site)
            if match is not None:
                self._pending.add(site.channel, match)

    @abstractmethod
    def match(self, site: ErrorSite) -> Match | None: ...

    def findings(self, end: SessionEnd) -> list[Finding]:
        if end.succeeded:
            return []
        finding = self._pending.finding(self.label)
        return [finding] if finding is not None else []

    def site_match(self, site: ErrorSite, confidence: float, basis: str, matched: object, summary: str) -> Match:
        """A match on `site`, its signature and a one-line reason."""
        facts = site.facts()
        facts["basis"] = basis
        facts["matched"] = matched
        where = f"{site.source} at seq {site.seq}" + (f" (tool {site.tool})" if site.tool else "")
        reason = f"{summary} in {where}, never recovered: {basis} {matched}"
        signature = Signature(tool=site.tool, error_type=site.error_type or site.code, message=site.message)
        return Match(seq=site.seq, confidence=confidence, signature=signature, reason=reason, facts=facts)


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
        found = match_cause(self.rule, site)
        if found is None:
            return None
        confidence, basis, matched = found
        return self.site_match(site, confidence, basis, matched, self.summary)


def pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)
