"""Failure sites per (recovery channel, signature), with their recoveries, kept bounded.

Every match is tracked under its channel and a key made of its signature (tool, error type and
the message with digits blanked, so `timed out after 30.2s` and `after 31.0s` are one failure).
A recovery on the channel marks every open site on it recovered, with the recovering seq; the
same failure seen again afterwards reopens it. Per site the first match, the first match of the
run still open (the critical one), a count and the first `EVIDENCE_SEQS` seqs are kept; at most
`MAX_SITES` sites per rule (first come, first kept, so the result stays deterministic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from api.detectors.finding import EVIDENCE_SEQS, Finding, Match

MAX_SITES = 16
_DIGITS = re.compile(r"\d+")

SiteKey = tuple[str, str | None, str | None, str]


@dataclass(slots=True)
class _Site:
    first: Match
    current: Match  # the first match since the last recovery (the first one while never recovered)
    count: int = 1
    confidence: float = 0.0
    seqs: list[int] = field(default_factory=list)
    recovered_by: int | None = None


class PendingMatches:
    def __init__(self) -> None:
        self._sites: dict[SiteKey, _Site] = {}
        self._open: dict[str, list[SiteKey]] = {}  # channel -> keys of its unrecovered sites

    def add(self, channel: str, match: Match) -> None:
        signature = match.signature
        key = (channel, signature.tool, signature.error_type, _DIGITS.sub("#", signature.message[:200]))
        site = self._sites.get(key)
        if site is None:
            if len(self._sites) >= MAX_SITES:
                return
            self._sites[key] = _Site(match, match, confidence=match.confidence, seqs=[match.seq])
            self._open.setdefault(channel, []).append(key)
            return
        site.count += 1
        site.confidence = max(site.confidence, match.confidence)
        if len(site.seqs) < EVIDENCE_SEQS:
            site.seqs.append(match.seq)
        if site.recovered_by is not None:
            site.recovered_by, site.current = None, match
            self._open.setdefault(channel, []).append(key)

    @property
    def waiting(self) -> bool:
        """Whether any site is open (a recovery can change something)."""
        return bool(self._open)

    def clear(self, channel: str, seq: int) -> None:
        """A recovery at `seq` on `channel`: its open sites are recovered."""
        if not self._open:
            return
        keys = self._open.pop(channel, None)
        for key in keys or ():
            self._sites[key].recovered_by = seq

    def findings(self, label: str) -> list[Finding]:
        """One finding per site, in the order the sites were first seen."""
        found = []
        for site in self._sites.values():
            recovered = site.recovered_by is not None
            match = site.first if recovered else site.current
            facts = dict(match.facts)
            facts["occurrences"] = site.count
            seqs = site.seqs if match.seq in site.seqs else [*site.seqs[: EVIDENCE_SEQS - 1], match.seq]
            found.append(
                Finding(
                    label=label,
                    confidence=site.confidence,
                    critical_seq=match.seq,
                    seqs=tuple(sorted(seqs)),
                    facts=facts,
                    signature=match.signature,
                    reason=match.reason + (f"; recovered at seq {site.recovered_by}" if recovered else "; unrecovered"),
                    cause_seq=match.seq if match.cause_seq is None else match.cause_seq,
                    occurrences=site.count,
                    recovered_by_seq=site.recovered_by,
                )
            )
        return found
