"""The deterministic detector suite: what went wrong in a session, and at which step.

`analyze(events)` reads a session's events once, in seq order, and returns
`{"detector_version", "input_digest", "labels", "critical_step", "verdict"}`; serialise it with
`canonical_json` for byte-identical output. One rule per module; docs/detectors.md describes them.
"""

from api.detectors.canonical import canonical_json
from api.detectors.finding import Finding, Signature
from api.detectors.suite import LABELS, SUITE_VERSION, analyze, critical_step, detect

__all__ = [
    "LABELS",
    "SUITE_VERSION",
    "Finding",
    "Signature",
    "analyze",
    "canonical_json",
    "critical_step",
    "detect",
]
