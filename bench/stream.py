"""Live stream fan-out: 1,000 SSE subscribers on one workspace while 4 writers ingest.

    python -m bench.stream

Against a real `agentdeck serve` on a loopback port (bench.common), from one client process:
- 1,000 subscribers hold GET /api/stream open (raw asyncio connections: an httpx client per stream
  would cost more CPU than the server under test);
- 4 writers POST batches of realistic events at a steady pace;
- latency: from the writer receiving its ingest response to each subscriber receiving each event
  of that batch (negative when the message beat the response), p50 / p99 / max;
- messages/s delivered to all subscribers together, and that each received every position once;
- server memory per subscriber: the server's RSS with everyone connected and idle, minus its RSS
  before, divided by the number of subscribers.

Knobs (environment): BENCH_SUBSCRIBERS (1000), BENCH_WRITERS (4), BENCH_BATCH (10 events),
BENCH_INTERVAL_MS (250, per writer), BENCH_SECONDS (20). Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import resource
import time
from array import array
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import psutil

from bench.common import BenchTarget, bench_target, percentile
from bench.ingest import realistic_event

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
WRITERS = int(os.environ.get("BENCH_WRITERS", "4"))
BATCH = int(os.environ.get("BENCH_BATCH", "10"))
INTERVAL = int(os.environ.get("BENCH_INTERVAL_MS", "250")) / 1000
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CONNECT_WAVE = 100  # subscribers connecting at once (each connect is two short transactions)
SERVER_ENV = {
    "AGENTDECK_BACKPRESSURE_WAITERS": "4000",  # the connect waves may queue for the pool
    "AGENTDECK_STREAM_QUEUE_MAX": "10000",
}


class Subscriber(asyncio.Protocol):
    """One SSE stream: records (position, receipt time) for every `id:` line, nothing more."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.connected = asyncio.get_running_loop().create_future()
        self.positions = array("q")
        self.times = array("d")
        self._rest = b""
        self._status_checked = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self._status_checked:
            self._status_checked = True
            if not data.startswith(b"HTTP/1.1 200"):
                self.connected.set_exception(RuntimeError(data.split(b"\r\n", 1)[0].decode()))
                return
        if not self.connected.done() and b"retry:" in data:
            self.connected.set_result(None)  # the stream is open and backfilled
        # Frames are whole within a chunk and JSON data holds no raw newline: `id:` lines are positions.
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            if line.startswith(b"id: "):
                self.positions.append(int(line[4:]))
                self.times.append(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before the stream opened"))


@dataclass
class Ingest:
    responded: dict[int, float] = field(default_factory=dict)  # position -> when its batch's response arrived
    requested: dict[int, float] = field(default_factory=dict)  # position -> when its batch was sent
    request_ms: list[float] = field(default_factory=list)
    last_position: int = 0


def loopback_endpoint(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    if not ipaddress.ip_address(parts.hostname).is_loopback:
        raise SystemExit(f"the stream bench only runs against a loopback address, not {parts.hostname}")
    return parts.hostname, parts.port


async def subscribe_all(target: BenchTarget) -> list[Subscriber]:
    host, port = loopback_endpoint(target.base_url)
    request = (f"GET /api/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
               f"Authorization: Bearer {target.key}\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    subscribers: list[Subscriber] = []

    async def connect() -> Subscriber:
        subscriber = Subscriber(request)
        await loop.create_connection(lambda: subscriber, host, port)
        await subscriber.connected
        return subscriber

    for start in range(0, SUBSCRIBERS, CONNECT_WAVE):
        subscribers += await asyncio.gather(*(connect() for _ in range(min(CONNECT_WAVE, SUBSCRIBERS - start))))
    return subscribers


async def write(target: BenchTarget, index: int, ingest: Ingest, until: float) -> None:
    rng = random.Random(index)
    trace = f"bench-stream-{index}"
    async with httpx.AsyncClient(base_url=target.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {target.key}"}) as http:
        await http.post("/api/traces", json={"id": trace})
        await asyncio.sleep(rng.uniform(0, INTERVAL))  # spread the writers over the interval
        seq = 0
        while (started := time.monotonic()) < until:
            events = [realistic_event(rng, seq + i) for i in range(BATCH)]
            response = await http.post(f"/api/traces/{trace}/events", json={"events": events})
            responded = time.monotonic()
            result = response.json()
            assert result["accepted"] == BATCH, response.text
            for position in range(result["first_position"], result["first_position"] + BATCH):
                ingest.responded[position] = responded
                ingest.requested[position] = started
            ingest.last_position = max(ingest.last_position, result["first_position"] + BATCH - 1)
            ingest.request_ms.append((responded - started) * 1000)
            seq += BATCH
            await asyncio.sleep(max(0.0, started + INTERVAL - time.monotonic()))


async def drained(subscribers: list[Subscriber], last_position: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while any(not s.positions or s.positions[-1] < last_position for s in subscribers):
        if time.monotonic() > deadline:
            raise SystemExit("subscribers did not receive every message within 30 s")
        await asyncio.sleep(0.05)


async def measure(target: BenchTarget, server: psutil.Process) -> None:
    rss_before = server.memory_info().rss
    connect_started = time.monotonic()
    subscribers = await subscribe_all(target)
    connect_seconds = time.monotonic() - connect_started
    await asyncio.sleep(1)  # let the server settle before reading its memory (not a measurement of time)
    rss_connected = server.memory_info().rss
    head = max((s.positions[-1] for s in subscribers if s.positions), default=0)

    ingest = Ingest()
    started = time.monotonic()
    await asyncio.gather(*(write(target, i, ingest, started + SECONDS) for i in range(WRITERS)))
    await drained(subscribers, ingest.last_position)
    finished = max(s.times[-1] for s in subscribers)

    latencies: list[float] = []
    from_request: list[float] = []
    exact = 0
    for s in subscribers:
        received = [p for p in s.positions if p > head]
        exact += received == list(range(head + 1, ingest.last_position + 1))
        for position, receipt in zip(s.positions, s.times, strict=True):
            if position in ingest.responded:
                latencies.append((receipt - ingest.responded[position]) * 1000)
                from_request.append((receipt - ingest.requested[position]) * 1000)
    for s in subscribers:
        assert s.transport is not None
        s.transport.close()

    print(f"subscribers: {len(subscribers)} on one workspace (connected in {connect_seconds:.1f} s, "
          f"waves of {CONNECT_WAVE}); writers: {WRITERS} x {BATCH} events every {INTERVAL * 1000:.0f} ms "
          f"for {SECONDS:.0f} s")
    print(f"ingest request: p50 {percentile(ingest.request_ms, 0.5):.1f} ms, "
          f"p99 {percentile(ingest.request_ms, 0.99):.1f} ms ({len(ingest.request_ms)} batches)")
    print(f"ingest response -> subscriber receipt: p50 {percentile(latencies, 0.5):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms ({len(latencies):,} receipts)")
    print(f"ingest request sent -> subscriber receipt: p50 {percentile(from_request, 0.5):.1f} ms, "
          f"p99 {percentile(from_request, 0.99):.1f} ms")
    print(f"delivered: {len(latencies) / (finished - started):,.0f} messages/s; "
          f"subscribers with every position exactly once, in order: {exact}/{len(subscribers)}")
    print(f"server RSS: {rss_before / 2**20:.1f} MiB before, {rss_connected / 2**20:.1f} MiB with subscribers: "
          f"{(rss_connected - rss_before) / len(subscribers) / 1024:.1f} KiB per subscriber")


def server_process() -> psutil.Process:
    """The `agentdeck serve` that bench_target started (our only child running `api serve`)."""
    for child in psutil.Process().children(recursive=True):
        if "serve" in child.cmdline():
            return child
    raise SystemExit("no agentdeck serve child process")


def main() -> None:
    # A socket per subscriber on each side: raise the open-file limit, which the server inherits.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with bench_target(**SERVER_ENV) as target:
        asyncio.run(measure(target, server_process()))


if __name__ == "__main__":
    main()
