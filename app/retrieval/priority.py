"""Background CPU work yields the cores to requests. The embedding model is the service's heaviest CPU work, and
the outbox's index jobs run it for every dump and entry: inside `background(nice)`, those calls run on one thread at
a lower scheduling priority (Linux schedules each thread on its own), so under load the model takes what requests
leave and catches up as soon as the load falls. Only the CPU-bound call moves there; the caller keeps its own
priority, so a database lock it holds is never held by a thread the scheduler has put last."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_local = threading.local()
_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def lower_priority(nice: int) -> bool:
    """Lower the calling thread's scheduling priority by `nice`. False where that cannot be done; the thread then
    runs as before."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:
        return False
    return True


@contextmanager
def background(nice: int) -> Iterator[None]:
    """CPU-bound calls made through `run` on this thread meanwhile go to a thread `nice` steps lower (0: no
    change)."""
    before = getattr(_local, "nice", 0)
    _local.nice = nice
    try:
        yield
    finally:
        _local.nice = before


def run(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)`, on the lowered thread inside `background`, else right here."""
    nice = getattr(_local, "nice", 0)
    if nice <= 0:
        return fn(*args)
    return _executor(nice).submit(fn, *args).result()


def _executor(nice: int) -> ThreadPoolExecutor:
    with _lock:
        if nice not in _executors:
            _executors[nice] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"labbook-nice{nice}", initializer=lower_priority, initargs=(nice,)
            )
        return _executors[nice]
