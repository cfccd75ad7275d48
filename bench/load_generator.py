"""The open-loop load generator of `bench/load.py`: a lean keep-alive HTTP/1.1 client over asyncio streams, a
driver that sends at scheduled times whatever happened to earlier requests, and per-route statistics.

Latency is measured from each request's scheduled time, not from when it was written, so a generator or a server
that falls behind shows as latency instead of silently lowering the offered rate (no coordinated omission).
Nothing here imports Labbook: the benchmark drives any checkout through its public HTTP API.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Request = tuple[str, str, str, bytes]  # route label, method, path, JSON body (b"" for none)
Answer = Callable[[str, int, bytes], None]  # route label, status, body: for callers that read answers


class Pool:
    """Keep-alive connections to one server, opened on demand: one request per connection at a time, as clients of
    an HTTP/1.1 server are; idle connections are reused last-in first-out."""

    def __init__(self, host: str, port: int, *, token: str | None = None) -> None:
        self.host, self.port = host, port
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._headers = f"Host: {host}:{port}\r\n{auth}"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reader, writer, reused = await self._connection()
        try:
            status, payload, keep = await self._exchange(reader, writer, method, path, body)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
            writer.transport.abort()
            stale = reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial)
            if not stale:
                raise
            # The server closed this idle connection as we reused it (keep-alive timeout): once more on a new one.
            reader, writer = await self._open()
            status, payload, keep = await self._exchange(reader, writer, method, path, body)
        except BaseException:
            writer.transport.abort()  # a timeout or cancellation leaves the connection mid-answer: never reuse it
            raise
        if keep:
            self._idle.append((reader, writer))
        else:
            writer.transport.abort()
        return status, payload

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str, body: bytes
    ) -> tuple[int, bytes, bool]:
        try:
            head = f"{method} {path} HTTP/1.1\r\n{self._headers}"
            if body or method in ("POST", "PUT", "PATCH"):
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode("ascii") + b"\r\n" + body)
            return await read_response(reader)
        except BaseException:
            writer.transport.abort()
            raise

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection, and whether it is an idle one reused."""
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer, True
            writer.transport.abort()
        return *await self._open(), False

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self) -> None:
        """Drop the idle connections, so the next phase starts without connections the server may have closed."""
        for _, writer in self._idle:
            writer.transport.abort()
        self._idle.clear()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection can be reused, for one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, keep = None, False, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"close" not in value.lower()
    if status in (204, 304) or status < 200:
        return status, b"", keep
    if chunked:
        return status, await _read_chunked(reader), keep
    if length is None:
        return status, await reader.read(), False  # the body ends with the connection
    return status, await reader.readexactly(length), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are expected
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx answers only
    ok: int = 0
    shed: int = 0  # 503
    other: int = 0  # any other status, or a transport error
    timeouts: int = 0
    capped: int = 0  # never sent: the generator's in-flight cap was reached
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return self.ok + self.shed + self.other + self.timeouts + self.capped

    @property
    def errors(self) -> int:
        return self.count - self.ok

    def merge(self, other: RouteStats) -> None:
        self.latencies += other.latencies
        for name in ("ok", "shed", "other", "timeouts", "capped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.statuses.update(other.statuses)

    def summary(self, seconds: float) -> dict[str, Any]:
        p50, p95, p99 = (percentile(self.latencies, q) for q in (50, 95, 99))
        return {
            "count": self.count,
            "throughput": round(self.ok / seconds, 1) if seconds > 0 else 0.0,
            "p50_ms": ms(p50),
            "p95_ms": ms(p95),
            "p99_ms": ms(p99),
            "ok": self.ok,
            "503": self.shed,
            "other_errors": self.other,
            "timeouts": self.timeouts,
            "capped": self.capped,
            "statuses": dict(self.statuses),
        }


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (no interpolation), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Phase:
    """One stretch of load at one arrival rate: what was offered and what came back, per route."""

    name: str
    rate: float
    seconds: float
    routes: dict[str, RouteStats] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)  # how late the generator sent each request, seconds
    cpu_seconds: float = 0.0  # the generator's own CPU time over the phase
    max_in_flight: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # figures the caller adds (server RSS, ...)

    def stats(self, route: str) -> RouteStats:
        stats = self.routes.get(route)
        if stats is None:
            stats = self.routes[route] = RouteStats()
        return stats

    def total(self) -> RouteStats:
        total = RouteStats()
        for stats in self.routes.values():
            total.merge(stats)
        return total

    def summary(self) -> dict[str, Any]:
        routes = {name: stats.summary(self.seconds) for name, stats in sorted(self.routes.items())}
        return {
            "name": self.name,
            "rate": self.rate,
            "seconds": self.seconds,
            "routes": routes,
            "all": self.total().summary(self.seconds),
            "generator": {
                "cpu_share": round(self.cpu_seconds / self.seconds, 3) if self.seconds else 0.0,
                "lag_p99_ms": ms(percentile(self.lags, 99)),
                "lag_max_ms": ms(max(self.lags, default=0.0)),
                "max_in_flight": self.max_in_flight,
            },
            **self.extra,
        }


@dataclass
class Driver:
    """Sends `next_request()` at `rate` per second for `seconds`, each request on its own task, at most `cap` in
    flight; a request still unanswered `timeout` seconds after its scheduled time counts as a timeout."""

    pool: Pool
    cap: int = 2000
    timeout: float = 10.0
    on_answer: Answer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, phase: Phase, next_request: Callable[[], Request]) -> None:
        """Drive one phase and wait for its last answers."""
        await self.send(phase, next_request)
        await self.drain()

    async def send(self, phase: Phase, next_request: Callable[[], Request]) -> None:
        """The arrivals of one phase; returns when the last is sent, with answers still in flight (see `drain`)."""
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        start = loop.time() + 0.01
        for i in range(max(1, round(phase.rate * phase.seconds))):
            due = start + i / phase.rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            phase.lags.append(max(0.0, loop.time() - due))
            route, method, path, body = next_request()
            if len(self._tasks) >= self.cap:
                phase.stats(route).capped += 1
                continue
            task = loop.create_task(self._one(phase, route, method, path, body, due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            phase.max_in_flight = max(phase.max_in_flight, len(self._tasks))
        phase.cpu_seconds += time.process_time() - cpu

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _one(self, phase: Phase, route: str, method: str, path: str, body: bytes, due: float) -> None:
        stats = phase.stats(route)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(due + self.timeout):
                status, payload = await self.pool.request(method, path, body)
        except TimeoutError:
            stats.timeouts += 1
            return
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
            stats.other += 1
            stats.statuses[type(exc).__name__] += 1
            return
        stats.statuses[str(status)] += 1
        if 200 <= status < 300:
            stats.ok += 1
            stats.latencies.append(loop.time() - due)
            if self.on_answer is not None:
                self.on_answer(route, status, payload)
        elif status == 503:
            stats.shed += 1
        else:
            stats.other += 1


async def timed(call: Awaitable[tuple[int, bytes]], timeout: float) -> tuple[int | None, float]:
    """Status (None on a timeout or transport error) and latency of one request."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            status, _ = await call
    except (TimeoutError, OSError, EOFError, ValueError):
        return None, time.perf_counter() - start
    return status, time.perf_counter() - start


def report(phase: Phase) -> None:
    summary = phase.summary()
    print(f"{phase.name}, {phase.seconds:g} s (latency of 2xx answers, from the scheduled time):")
    print(
        f"  {'route':<14}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'2xx':>7}{'503':>6}{'other':>7}{'timeout':>9}{'capped':>8}"
    )
    for name, line in [*summary["routes"].items(), ("all", summary["all"])]:
        cells = [_cell(line[k]) for k in ("p50_ms", "p95_ms", "p99_ms")]
        print(
            f"  {name:<14}{line['count']:>7}{line['throughput']:>8.1f}{cells[0]:>9}{cells[1]:>9}{cells[2]:>9}"
            f"{line['ok']:>7}{line['503']:>6}{line['other_errors']:>7}{line['timeouts']:>9}{line['capped']:>8}"
        )
    gen = summary["generator"]
    if "rss_peak_mb" in summary:
        print(
            f"  server RSS peak {summary['rss_peak_mb']:.0f} MB; brain dumps answered without an entry: "
            f"{summary['dumps_without_entry']}"
        )
    print(
        f"  generator {gen['cpu_share']:.0%} of a core, send lag p99 {gen['lag_p99_ms']} ms, at most "
        f"{gen['max_in_flight']} in flight"
    )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
