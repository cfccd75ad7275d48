"""Admission control: at most `limit` requests run at once, a bounded queue waits briefly, the rest are shed.

Why a gate and not bigger pools: each request runs its dependencies and its route in worker threads, one step after
another, and holds one pooled database connection from its first query to its commit. If more requests run than
there are threads, a request can hold a connection while it waits for a thread, while every thread waits for a
connection: the service wedges. With at most `limit` requests admitted, `limit` threads and `limit` connections (plus
the reserve the outbox worker and `/healthz` use, see `capacity`), an admitted request always finds both.

Over capacity a request waits in a FIFO queue of at most `queue` requests for at most `wait_seconds`; when the queue
is full or the wait runs out the answer is `503` with `Retry-After`, at once and without touching the database. A
client that disconnects while it waits is dropped before any of its work starts. `/healthz` never waits here: it
reports these figures (`snapshot`) so a probe sees overload honestly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Overloaded

RETRY_AFTER_SECONDS = 1
# A scope key: a request the service makes to itself, in-process, on behalf of a request it has admitted (the chat
# tools call `/v1` so, app/api/mcp/http.py). It runs under that request's slot: the outer one waits on the event loop,
# holding no thread and no connection, and admitting the inner one again could deadlock a full service on itself.
IN_PROCESS = "labbook.in_process"
# How long after the last shed request the service still reports itself busy.
BUSY_WINDOW_SECONDS = 5.0


@dataclass(frozen=True)
class Capacity:
    """Thread and connection limits derived from one number, so they can never disagree."""

    requests: int  # admitted at once
    threads: int  # the worker-thread limit of the event loop
    pool_size: int  # pooled database connections
    max_overflow: int


def capacity(max_concurrency: int) -> Capacity:
    """Admitted requests each use at most one thread and one connection at a time. The pool keeps one connection
    for the outbox worker and one for `/healthz` (which pings on its own thread), and a small overflow that a
    request never needs; the threads keep a small margin for the middleware's own short calls."""
    return Capacity(
        requests=max_concurrency,
        threads=max_concurrency + 2,
        pool_size=max_concurrency + 2,
        max_overflow=2,
    )


@dataclass(frozen=True)
class LoadSnapshot:
    limit: int
    in_flight: int
    queued: int
    queue_limit: int
    shed: int  # answered 503 since the start
    dropped: int  # clients that left while queued
    busy: bool  # shedding now or in the last few seconds, or requests are queued


class Admission:
    """The gate's state, shared by the middleware (`LoadGate`) and `/healthz` (`snapshot`). One event loop uses it,
    so plain counters are safe."""

    def __init__(self, *, limit: int, queue: int, wait_seconds: float) -> None:
        self.limit = limit
        self.queue_limit = queue
        self.wait_seconds = wait_seconds
        self.in_flight = 0
        self.shed = 0
        self.dropped = 0
        self._last_shed = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    def snapshot(self) -> LoadSnapshot:
        queued = self._live_waiters()
        recent = time.monotonic() - self._last_shed < BUSY_WINDOW_SECONDS
        return LoadSnapshot(
            limit=self.limit,
            in_flight=self.in_flight,
            queued=queued,
            queue_limit=self.queue_limit,
            shed=self.shed,
            dropped=self.dropped,
            busy=recent or queued > 0,
        )

    async def admit(self, receive: Receive) -> Receive | None | bool:
        """A `receive` to run the request with once it holds a slot; False when it must be shed; None when the
        client disconnected while it waited."""
        if self.in_flight < self.limit and not self._live_waiters():
            self.in_flight += 1
            return receive
        if self._live_waiters() >= self.queue_limit:
            return False
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        buffered: list[Message] = []
        watcher = asyncio.ensure_future(_watch_disconnect(receive, buffered))
        try:
            racers: set[asyncio.Future[Any]] = {slot, watcher}
            await asyncio.wait(racers, timeout=self.wait_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not watcher.done():
                watcher.cancel()
        gone = watcher.done() and not watcher.cancelled() and watcher.result()
        if slot.done() and not slot.cancelled():
            if gone:
                self.dropped += 1
                self.release()
                return None
            return _replaying(buffered, receive)
        slot.cancel()
        if gone:
            self.dropped += 1
            return None
        return False

    def release(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or give it back."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_flight -= 1

    def note_shed(self) -> None:
        self.shed += 1
        self._last_shed = time.monotonic()

    def _live_waiters(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())


class LoadGate:
    """The ASGI middleware: every HTTP request but the exempt paths passes `admission` first."""

    def __init__(self, app: ASGIApp, *, admission: Admission, exempt: Collection[str] = ("/healthz",)) -> None:
        self.app = app
        self.admission = admission
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt or scope.get(IN_PROCESS):
            await self.app(scope, receive, send)
            return
        admitted = await self.admission.admit(receive)
        if admitted is None:  # the client left: nothing to do, nobody to answer
            return
        if admitted is False:
            self.admission.note_shed()
            await _shed(send)
            return
        try:
            await self.app(scope, cast(Receive, admitted), send)
        finally:
            self.admission.release()


async def _shed(send: Send) -> None:
    error = Overloaded("the service is at capacity; retry shortly", extra={"retry_after_seconds": RETRY_AFTER_SECONDS})
    payload = json.dumps(error.to_body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _watch_disconnect(receive: Receive, buffered: list[Message]) -> bool:
    """Read (and keep) the request's messages while it waits; True once the client has disconnected."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return True
        buffered.append(message)


def _replaying(buffered: list[Message], receive: Receive) -> Receive:
    pending = deque(buffered)

    async def replay() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replay
