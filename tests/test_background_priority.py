"""Background work yields the cores to requests: inside `background`, the embedding model's calls run on a thread
at a lower scheduling priority, while the caller (and any database lock it holds) keeps its own; the packaged
embedder runs each call on one thread."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from app.config import Settings
from app.retrieval import priority

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")


def _priority(tid: int | None = None) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid if tid is not None else threading.get_native_id())


def _where() -> tuple[int, int]:
    return threading.get_native_id(), _priority()


@linux_only
def test_lowering_a_threads_priority_leaves_the_others_as_they_were() -> None:
    main = _priority()
    seen: dict[str, object] = {}

    def lowered() -> None:
        seen["done"] = priority.lower_priority(5)
        seen["priority"] = _priority()

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert seen == {"done": True, "priority": min(main + 5, 19)}
    assert _priority() == main


def test_no_lowering_asked_changes_nothing() -> None:
    before = _priority()
    assert priority.lower_priority(0) is False
    assert _priority() == before


@linux_only
def test_inside_background_a_call_runs_on_a_lowered_thread_and_the_caller_keeps_its_priority() -> None:
    main = _priority()
    here = threading.get_native_id()
    assert priority.run(_where) == (here, main)  # outside: right here
    with priority.background(7):
        tid, lowered = priority.run(_where)
        assert _priority() == main
        with priority.background(0):
            assert priority.run(_where) == (here, main)
    assert tid != here and lowered == min(main + 7, 19)
    assert priority.run(_where) == (here, main)


def test_an_error_in_the_background_reaches_the_caller() -> None:
    def fails() -> None:
        raise ValueError("the model broke")

    with priority.background(3), pytest.raises(ValueError, match="the model broke"):
        priority.run(fails)


def test_the_service_embeds_on_one_thread_by_default() -> None:
    from app.retrieval.embedder import get_embedder

    assert Settings().embedding_threads == 1 and Settings().index_nice == 10
    embedder = get_embedder(threads=1)
    with priority.background(5):
        lowered = embedder.embed(["random forest overfit"])
    assert lowered.shape[0] == 1
    inner = embedder.inner  # type: ignore[attr-defined]
    assert inner._session.get_session_options().intra_op_num_threads == 1
    assert get_embedder(threads=1) is embedder and get_embedder() is not embedder
