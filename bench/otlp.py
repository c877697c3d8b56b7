"""OTLP ingest beside the native batch path, and the SDK's cost on the caller's thread, in one run.

    python -m bench.otlp        (knobs: BENCH_BATCHES, BENCH_EXPORTS, BENCH_SDK_EVENTS)

Native: 4 clients POST batches of 100 realistic events (bench.ingest's shapes). OTLP: 4 clients POST
protobuf exports of 50 spans (25 model calls and 25 tool calls: 100 events, the same sizes) to
/v1/traces, each export one new trace. SDK: one thread emits events through `agentdeck.Tracer`;
the time each helper call takes on that thread is the per-event overhead, then flush() gives the
end-to-end delivery rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentdeck import Tracer
from bench.common import BenchTarget, bench_target, percentile
from bench.http1 import Http1Connection
from bench.ingest import BATCH, BATCHES_PER_CLIENT, CLIENTS, realistic_event

EXPORTS_PER_CLIENT = int(os.environ.get("BENCH_EXPORTS", "30"))
SPANS_PER_EXPORT = 50
SDK_EVENTS = int(os.environ.get("BENCH_SDK_EVENTS", "20000"))


def otlp_export(rng: random.Random, trace_index: int) -> bytes:
    """One trace of 50 spans as an ExportTraceServiceRequest: model calls and tool calls, alternating."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    trace_id = rng.randbytes(16)
    start = 1_764_000_000_000_000_000 + trace_index * 10**9
    for index in range(SPANS_PER_EXPORT):
        request_event = realistic_event(rng, 4 * index + (0 if index % 2 == 0 else 2))
        result_event = realistic_event(rng, 4 * index + (1 if index % 2 == 0 else 3))
        span = spans.add(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=b"\x01" * 8,
                         name="chat" if index % 2 == 0 else "execute_tool",
                         start_time_unix_nano=start + index * 1000, end_time_unix_nano=start + index * 1000 + 900)
        if index % 2 == 0:
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini",
                          "gen_ai.input.messages": json.dumps(request_event["payload"]["messages"]),
                          "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                              {"type": "text", "content": result_event["payload"]["content"]}]}])}
            usage = {"gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300}
        else:
            attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "run_tests",
                          "gen_ai.tool.call.arguments": json.dumps(request_event["payload"]["arguments"]),
                          "gen_ai.tool.call.result": result_event["payload"]["output"]}
            usage = {}
        for key, value in attributes.items():
            span.attributes.add(key=key).value.string_value = value
        for key, number in usage.items():
            span.attributes.add(key=key).value.int_value = number
    return request.SerializeToString()


Request = tuple[str, bytes, str]  # path, body, content type


async def post_all(target: BenchTarget, headers: dict[str, str], requests: list[list[Request]]) -> float:
    """Seconds for every client to send its requests in order, each on a keep-alive connection of its own."""
    host, port = target.base_url.removeprefix("http://").split(":")

    async def client(mine: list[Request]) -> None:
        async with Http1Connection(host, int(port), headers) as http:
            for path, body, content_type in mine:
                status, answer = await http.post_json(path, body, content_type)
                assert status in (200, 201), answer
                # Full success only: an OTLP export answers empty, a native batch accepts all its events.
                if path == "/v1/traces":
                    assert answer == b"", answer
                elif status == 200:
                    assert json.loads(answer)["accepted"] == BATCH, answer

    started = time.perf_counter()
    await asyncio.gather(*(client(mine) for mine in requests))
    return time.perf_counter() - started


def native_requests(clients: int, batches: int, label: str) -> list[list[Request]]:
    rng = random.Random(1)
    requests = []
    for index in range(clients):
        trace = f"bench-{label}-{index}"
        mine = [("/api/traces", json.dumps({"id": trace}).encode(), "application/json")]
        mine += [(f"/api/traces/{trace}/events", json.dumps({"events": [
            realistic_event(rng, batch * BATCH + i) for i in range(BATCH)]}).encode(), "application/json")
            for batch in range(batches)]
        requests.append(mine)
    return requests


def otlp_requests(clients: int, exports: int, seed: int) -> list[list[Request]]:
    rng = random.Random(seed)
    return [[("/v1/traces", otlp_export(rng, seed * 10_000 + c * exports + e), "application/x-protobuf")
             for e in range(exports)] for c in range(clients)]


def native_rate(target: BenchTarget, clients: int, batches: int, label: str) -> float:
    """Events/s of the native batch path (the session creates are timed too: one per client)."""
    seconds = asyncio.run(post_all(target, {"Authorization": f"Bearer {target.key}"},
                                   native_requests(clients, batches, label)))
    return clients * batches * BATCH / seconds


def otlp_rate(target: BenchTarget, clients: int, exports: int, seed: int) -> float:
    """Spans/s of OTLP exports, each a new trace of 50 spans."""
    seconds = asyncio.run(post_all(target, {"x-api-key": target.key}, otlp_requests(clients, exports, seed)))
    return clients * exports * SPANS_PER_EXPORT / seconds


def per_request_ms(target: BenchTarget, clients: int) -> tuple[float, float]:
    """(ms per native 100-event batch, ms per 50-span OTLP export) with `clients` concurrent clients."""
    requests = 12
    native = native_rate(target, clients, requests, f"per-request-{clients}")
    spans = otlp_rate(target, clients, requests, seed=10 + clients)
    return 1000 * clients / (native / BATCH), 1000 * clients / (spans / SPANS_PER_EXPORT)


def sdk_overhead(target: BenchTarget) -> tuple[float, float, float, float]:
    """(median, mean and p99 µs per event on the caller's thread; events/s delivered end to end)."""
    rng = random.Random(3)
    events = [realistic_event(rng, i) for i in range(SDK_EVENTS)]
    tracer = Tracer(target.base_url, target.key, max_buffer=SDK_EVENTS + 10)
    session = tracer.session(id="bench-sdk")
    timings = []
    started = time.perf_counter()
    for event in events:
        before = time.perf_counter_ns()
        session.event(event["type"], event["payload"])
        timings.append((time.perf_counter_ns() - before) / 1000)
    counts = tracer.flush()
    elapsed = time.perf_counter() - started
    tracer.close()
    assert counts.accepted == SDK_EVENTS + 1 and counts.dropped == 0, counts
    return (percentile(timings, 0.5), sum(timings) / len(timings), percentile(timings, 0.99),
            SDK_EVENTS / elapsed)


def main() -> None:
    with bench_target() as target:
        native = native_rate(target, CLIENTS, BATCHES_PER_CLIENT, "native")
        spans = otlp_rate(target, CLIENTS, EXPORTS_PER_CLIENT, seed=2)
        p50_us, mean_us, p99_us, delivered = sdk_overhead(target)
        apart = {clients: per_request_ms(target, clients) for clients in (1, CLIENTS)}
    print(f"native batches, {CLIENTS} clients x {BATCH} events: {native:,.0f} events/s")
    print(f"OTLP protobuf exports, {CLIENTS} clients x {SPANS_PER_EXPORT} spans ({2 * SPANS_PER_EXPORT} events):"
          f" {spans:,.0f} spans/s = {2 * spans:,.0f} events/s ({2 * spans / native:.0%} of native)")
    print(f"SDK on the caller's thread: p50 {p50_us:.1f} µs/event, mean {mean_us:.1f} µs, p99 {p99_us:.1f} µs;"
          f" delivered end to end {delivered:,.0f} events/s")
    for clients, (native_ms, otlp_ms) in apart.items():
        print(f"{clients} client(s): {native_ms:.1f} ms per native batch, {otlp_ms:.1f} ms per OTLP export"
              f" (x{otlp_ms / native_ms:.2f})")


if __name__ == "__main__":
    main()
