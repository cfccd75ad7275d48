"""The garbage collector's pause around a project's load and analysis (`app.services.analysis.collection_paused`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.services.analysis import collection_paused


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector enabled and nothing frozen, as in the service; restored afterwards."""
    was_enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if not was_enabled:
        gc.disable()


def _in_generation(obj: object, generation: int) -> bool:
    return any(o is obj for o in gc.get_objects(generation=generation))


@pytest.mark.usefixtures("collector")
def test_the_collector_resumes_with_what_the_pause_made_in_the_oldest_generation() -> None:
    with collection_paused():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert _in_generation(made, 2) and not _in_generation(made, 0)


@pytest.mark.usefixtures("collector")
def test_overlapping_pauses_resume_once_the_last_ends() -> None:
    with collection_paused():
        with collection_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_objects_something_else_froze_stay_frozen() -> None:
    frozen = [[1], [2]]
    gc.freeze()
    count = gc.get_freeze_count()
    with collection_paused():
        pass
    assert gc.get_freeze_count() == count
    assert gc.isenabled() and not _in_generation(frozen, 2)


def test_a_collector_that_was_off_stays_off() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()
