"""Unrecovered matches per recovery channel, kept bounded.

A match waits on its channel until something clears the channel (a recovery); what is still
waiting when the session ends is unrecovered. Per channel only the first match, a count and the
first `EVIDENCE_SEQS` seqs are kept; at most `MAX_CHANNELS` channels wait at once (later channels
are dropped, first come first kept, so the result stays deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.detectors.finding import EVIDENCE_SEQS, Finding, Match

MAX_CHANNELS = 256


@dataclass(slots=True)
class _Waiting:
    first: Match
    count: int = 1
    confidence: float = 0.0
    seqs: list[int] = field(default_factory=list)


class PendingMatches:
    def __init__(self) -> None:
        self._channels: dict[str, _Waiting] = {}

    def add(self, channel: str, match: Match) -> None:
        waiting = self._channels.get(channel)
        if waiting is None:
            if len(self._channels) >= MAX_CHANNELS:
                return
            self._channels[channel] = _Waiting(match, confidence=match.confidence, seqs=[match.seq])
            return
        waiting.count += 1
        waiting.confidence = max(waiting.confidence, match.confidence)
        if len(waiting.seqs) < EVIDENCE_SEQS:
            waiting.seqs.append(match.seq)

    def clear(self, channel: str) -> None:
        if self._channels:
            self._channels.pop(channel, None)

    def finding(self, label: str) -> Finding | None:
        """One finding for everything still waiting: the earliest match is its critical seq."""
        if not self._channels:
            return None
        waiting = [w for _, w in sorted(self._channels.items(), key=lambda item: (item[1].first.seq, item[0]))]
        first = waiting[0].first
        seqs = sorted({seq for w in waiting for seq in w.seqs})[:EVIDENCE_SEQS]
        facts = dict(first.facts)
        facts["occurrences"] = sum(w.count for w in waiting)
        return Finding(
            label=label,
            confidence=max(w.confidence for w in waiting),
            critical_seq=first.seq,
            seqs=tuple(seqs),
            facts=facts,
            signature=first.signature,
            reason=first.reason,
        )
