"""Prometheus metrics for operators: one registry per app, served at GET /metrics when enabled.

Labels are route templates, methods, statuses, outcomes and rejection codes only: never a
workspace, project, trace id or any other tenant value (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Request latency buckets from 1 ms to 10 s: ingest batches sit low, analyses of large sessions high.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ANALYSIS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _LiveGauges(Collector):
    """Gauges read from the running process at scrape time (pool, stream hub, analysis queue)."""

    def __init__(self) -> None:
        self.sources: dict[str, tuple[str, Callable[[], Iterable[tuple[dict[str, str], float]]]]] = {}

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, read) in sorted(self.sources.items()):
            samples = list(read())
            family = GaugeMetricFamily(name, help_text, labels=sorted({k for labels, _ in samples for k in labels}))
            for labels, value in samples:
                family.add_metric([labels[k] for k in sorted(labels)], value)
            yield family


class Metrics:
    """The counters and histograms the request path, ingest, stream and worker update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("agentdeck_http_requests", "HTTP requests by route template, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("agentdeck_http_request_duration_seconds", "HTTP request latency by route template.",
                                 ["route", "method"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.events = Counter("agentdeck_events", "Events posted, by outcome (accepted, duplicate, rejected).",
                              ["outcome"], registry=self.registry)
        self.rejections = Counter("agentdeck_events_rejected_by_code", "Rejected events by rejection code.",
                                  ["code"], registry=self.registry)
        self.refusals = Counter("agentdeck_rate_limit_refusals", "429 answers by reason (rate_limited, backpressure).",
                                ["reason"], registry=self.registry)
        self.analyses = Histogram("agentdeck_analysis_job_duration_seconds",
                                  "Queued analyses done by this process's worker, by result (ok, failed).",
                                  ["result"], buckets=_ANALYSIS_BUCKETS, registry=self.registry)
        self._live = _LiveGauges()
        self.registry.register(self._live)
        self.queue_depth: dict[str, int] = {}  # refreshed from the database by each scrape
        self.gauge("agentdeck_analysis_queue_jobs", "Analysis jobs queued or running, across workspaces.",
                   lambda: [({"status": s}, float(self.queue_depth.get(s, 0))) for s in ("queued", "running")])

    def gauge(self, name: str, help_text: str, read: Callable[[], Iterable[tuple[dict[str, str], float]]]) -> None:
        """Register a gauge whose samples are read when scraped."""
        self._live.sources[name] = (help_text, read)

    def count_ingest(self, outcome: dict[str, Any]) -> None:
        """Count one batch outcome: `{"accepted": n, "duplicates": n, "rejected": [{"code": ...}, ...]}`."""
        self.events.labels("accepted").inc(outcome.get("accepted", 0))
        self.events.labels("duplicate").inc(outcome.get("duplicates", 0))
        rejected = outcome.get("rejected", [])
        self.events.labels("rejected").inc(len(rejected))
        for item in rejected:
            self.rejections.labels(str(item.get("code", "unknown"))).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
