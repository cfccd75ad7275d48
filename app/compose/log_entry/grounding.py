"""Checking that a log entry invents nothing: every run it cites is stored, every number it states is written down.

The offline composer quotes the brain dump by construction; a model does not. `check_grounding` is the independent
check both are held to: the evals score the composer with it, and the LLM path will use it to reject or repair a
model's answer. Each rule below is counted as one or more checks, and every failed check becomes a problem sentence
naming the run ID, the number and the section, so a person (or a repair prompt) can see what was made up.

Numbers are compared as floats within a relative 1e-9. A number "written in the dump" is any decimal (`.858`,
`0.858`), integer, exponent (`1e-3`) or percentage (`93%` counts as 0.93 and as 93). Digits inside run IDs, run
names and URLs are not numbers, so "5c6d70a1" does not make 5 or 70 a stated value. Free text may also count what
the entry itself cites ("best of the 3 cited runs"): that number is checkable against the entry, so not invented.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from app.compose.labels import SHORT
from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.schema import SECTIONS, Experiment, Item, LogEntry, StatedMetric
from app.parsing.mentions import (
    NO_MASKS,
    NumberMention,
    extract_masked,
    extract_numbers,
    is_range,
    mask_sets,
    numbers_match,
)

__all__ = ["GroundingReport", "check_grounding"]


@dataclass(frozen=True)
class GroundingReport:
    """How many checks ran, how many passed, and one sentence per failure."""

    checked: int
    grounded: int
    problems: tuple[str, ...]

    @property
    def score(self) -> float:
        """The share of checks passed; 1.0 when there was nothing to check."""
        return 1.0 if self.checked == 0 else self.grounded / self.checked


@dataclass
class _Tally:
    checked: int = 0
    grounded: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        self.checked += 1
        self.grounded += ok
        if not ok:
            self.problems.append(problem)


@dataclass(frozen=True)
class _Sources:
    """What an entry may draw on: the dump's numbers by line, stored runs, and the lines kept only as quotations."""

    dump: str
    mentions: tuple[NumberMention, ...]
    runs: dict[str, RunFacts]
    stored_numbers: tuple[float, ...]
    quoted_lines: frozenset[int]
    identifiers: tuple[str, ...]
    counts: tuple[float, ...]  # how many runs and experiments the entry cites
    # Looked up once per check, so that a 500 KB dump against 10,000 runs is checked in linear time.
    masks: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())
    dump_normalised: str = ""
    dump_keys: frozenset[float] = frozenset()  # every value written in the dump
    unquoted_keys: frozenset[float] = frozenset()  # ...outside instruction-like (quoted) lines
    other_keys: frozenset[float] = frozenset()  # stored metrics and parameters, and the entry's counts


# --- Public API ---------------------------------------------------------------------------------------------------


def check_grounding(entry: LogEntry, *, text: str, runs: Sequence[RunFacts]) -> GroundingReport:
    """Check `entry` against the dump `text` and the stored `runs`; every failed check names what was invented."""
    sources = _sources(entry, text, runs)
    tally = _Tally()
    _check_run_ids(entry, sources, tally)
    for experiment in entry.experiments:
        _check_experiment(experiment, sources, tally)
    _check_free_text_numbers(entry, sources, tally)
    _check_quoted_lines(entry, tally)
    return GroundingReport(tally.checked, tally.grounded, tuple(tally.problems))


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _contains(values: Iterable[float], value: float) -> bool:
    return any(numbers_match(candidate, value) for candidate in values)


def _fmt(value: float) -> str:
    return f"{value:.12g}"


# --- Sources ------------------------------------------------------------------------------------------------------


def _sources(entry: LogEntry, text: str, runs: Sequence[RunFacts]) -> _Sources:
    by_id = {run.key: run for run in runs} | {run.run_id: run for run in runs if run.run_id}
    stored: list[float] = []
    for run in runs:
        stored.extend(run.metrics.values())
        for value in run.params.values():
            stored.extend(_param_numbers(value))
    quoted = frozenset(item.line for _, item in _items(entry) if item.quoted and item.line is not None)
    identifiers = _run_identifiers(runs)
    masks = mask_sets(identifiers)
    mentions = tuple(extract_masked(text, masks))
    counts = (float(len(set(entry.run_ids))), float(len(entry.experiments)))
    return _Sources(
        text,
        mentions,
        by_id,
        tuple(stored),
        quoted,
        identifiers,
        counts,
        masks=masks,
        dump_normalised=_normalise(text),
        dump_keys=_keys(v for m in mentions for v in m.values),
        unquoted_keys=_keys(v for m in mentions if m.line not in quoted for v in m.values),
        other_keys=_keys([*stored, *counts]),
    )


@lru_cache(maxsize=65_536)
def _param_numbers(value: str) -> tuple[float, ...]:
    """The numbers in one stored parameter value; values repeat across runs (a sweep's "0.05"), so read each once."""
    return tuple(v for mention in extract_masked(value, NO_MASKS) for v in mention.values)


def _keys(values: Iterable[float]) -> frozenset[float]:
    return frozenset(_key(v) for v in values)


def _key(value: float) -> float:
    """Values equal to 9 significant digits share a key: set lookups instead of pairwise comparisons."""
    return float(f"{value:.9g}")


def _run_identifiers(runs: Sequence[RunFacts]) -> tuple[str, ...]:
    """Every way an entry names a run: its name, key and ID, and the short ID its label shows ("name (59242043)"),
    which is all digits now and then and must not read as a number."""
    names = [run.run_name for run in runs if run.run_name] + [run.key for run in runs]
    ids = [run.run_id for run in runs if run.run_id]
    shorts = {key[:SHORT] for key in (*(run.key for run in runs), *ids) if len(key) > SHORT}
    return (*names, *ids, *sorted(shorts))


def _items(entry: LogEntry) -> Iterator[tuple[str, Item]]:
    for section in SECTIONS:
        for item in getattr(entry, section):
            yield section, item


def _dump_values(sources: _Sources, *, skip_lines: frozenset[int] = frozenset()) -> Iterator[float]:
    for mention in sources.mentions:
        if mention.line not in skip_lines:
            yield from mention.values


# --- The checks ---------------------------------------------------------------------------------------------------


def _check_run_ids(entry: LogEntry, sources: _Sources, tally: _Tally) -> None:
    """Every run the entry cites is stored: a citation of a run that does not exist sends readers nowhere."""
    cited = [("run_ids", run_id) for run_id in entry.run_ids]
    cited += [(f"experiment line {e.line}", e.run_id) for e in entry.experiments if e.run_id is not None]
    cited += [(section, run_id) for section, item in _items(entry) for run_id in item.run_ids]
    for where, run_id in cited:
        tally.check(run_id in sources.runs, f"run ID {run_id!r} cited in {where} is not a stored run")


def _check_experiment(experiment: Experiment, sources: _Sources, tally: _Tally) -> None:
    label = f"experiment {experiment.run_id or experiment.ref or '(no run)'} (line {experiment.line})"
    for stated in experiment.stated:
        _check_stated(stated, label, sources, tally)
    _check_stored(experiment, label, sources, tally)


def _check_stated(stated: StatedMetric, label: str, sources: _Sources, tally: _Tally) -> None:
    """A stated metric quotes the dump, and its numbers are the ones written there, as a value or as a range."""
    what = f"{label}: stated {stated.name or 'metric'} {stated.text!r} (line {stated.line})"
    tally.check(_normalise(stated.text) in sources.dump_normalised, f"{what} does not occur in the dump")
    _check_shape(stated, what, tally)
    own = [value for mention in extract_numbers(stated.text) for value in mention.values]
    for field_name in ("value", "low", "high"):
        value = getattr(stated, field_name)
        if value is None:
            continue
        if _key(value) not in sources.dump_keys:
            tally.check(False, f"{what}: {field_name} {_fmt(value)} is not a number written in the dump")
        else:
            tally.check(_contains(own, value), f"{what}: {field_name} {_fmt(value)} is not the number in its text")


def _check_shape(stated: StatedMetric, what: str, tally: _Tally) -> None:
    """A range stays a range (low/high, no value) and a single number stays one: no invented midpoints."""
    if is_range(stated.text):
        ok = stated.value is None and stated.low is not None and stated.high is not None
        tally.check(ok, f"{what} is a range but is not given as low/high with value null")
    else:
        ok = stated.value is not None and stated.low is None and stated.high is None
        tally.check(ok, f"{what} is a single number but is not given as a value with low/high null")


def _check_stored(experiment: Experiment, label: str, sources: _Sources, tally: _Tally) -> None:
    """`stored` is the resolved run's metrics, exactly: a made-up stored value is worse than a made-up stated one."""
    run = sources.runs.get(experiment.run_id) if experiment.run_id is not None else None
    if run is None:
        if experiment.stored:
            tally.check(False, f"{label}: has stored metrics but resolves to no stored run")
        return
    differences = _metric_differences(experiment.stored, run.metrics)
    tally.check(not differences, f"{label}: stored metrics differ from run {run.key}: {'; '.join(differences)}")


def _metric_differences(given: Mapping[str, float], stored: Mapping[str, float]) -> list[str]:
    differences = [f"{name} not stored" for name in given if name not in stored]
    differences += [f"{name} missing" for name in stored if name not in given]
    differences += [
        f"{name} {_fmt(given[name])} != {_fmt(stored[name])}"
        for name in given
        if name in stored and not numbers_match(given[name], stored[name])
    ]
    return differences


def _check_free_text_numbers(entry: LogEntry, sources: _Sources, tally: _Tally) -> None:
    """Numbers in the tldr, items and experiment texts come from the dump (not an instruction), a stored run, or count
    what the entry cites."""
    texts = [("tldr", entry.tldr, False)]
    texts += [(section, item.text, item.quoted) for section, item in _items(entry)]
    texts += [(f"experiment line {e.line}", f"{e.change}\n{e.context}", False) for e in entry.experiments]
    for where, text, quoted in texts:
        for mention in extract_masked(text, sources.masks):
            _check_free_number(mention, where, quoted, sources, tally)


def _check_free_number(mention: NumberMention, where: str, quoted: bool, sources: _Sources, tally: _Tally) -> None:
    skip = frozenset() if quoted else sources.quoted_lines
    written = sources.unquoted_keys if skip else sources.dump_keys
    if any(_key(v) in written or _key(v) in sources.other_keys for v in mention.values):
        tally.check(True, "")
        return
    anywhere = any(_key(value) in sources.dump_keys for value in mention.values)
    reason = "comes only from an instruction-like (quoted) line" if anywhere else "is neither in the dump nor stored"
    tally.check(False, f"number {mention.text} in {where} {reason}")


def _check_quoted_lines(entry: LogEntry, tally: _Tally) -> None:
    """A line kept as a quotation (instruction-like) is never a result: no experiment or stated metric comes from it."""
    quoted = {item.line: section for section, item in _items(entry) if item.quoted and item.line is not None}
    for line, section in quoted.items():
        offenders = [f"experiment {e.run_id or e.ref or '(no run)'}" for e in entry.experiments if e.line == line] + [
            f"stated {s.text!r}" for e in entry.experiments for s in e.stated if s.line == line
        ]
        tally.check(
            not offenders,
            f"line {line} is quoted in {section} as instruction-like, but {', '.join(offenders)} uses it as a result "
            "(number from an instruction-like line used as a result)",
        )
