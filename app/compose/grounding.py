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

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from app.compose.entry_schema import SECTIONS, Experiment, Item, LogEntry, StatedMetric
from app.compose.facts import RunFacts

__all__ = ["GroundingReport", "NumberMention", "check_grounding", "extract_numbers", "numbers_match"]

_REL_TOL = 1e-9
_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# A token of 6+ hex characters with at least one letter and one digit: a run ID or a prefix of one.
_HEX_ID_RE = re.compile(r"(?<![0-9a-z])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,}(?![0-9a-z])", re.IGNORECASE)
# Digits glued to letters ("f1", "v2", "p95") are part of a name, not a number; ".93" may follow a word ("auc.93").
_NUMBER_RE = re.compile(r"(?:(?<![\w.])\d+(?:\.\d+)?\.?|(?<![\d.])\.\d+)(?:[eE][+-]?\d+)?(?:\s?%)?")
_THOUSANDS_RE = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_RANGE_NUMBER = r"\d*\.?\d+(?:[eE][+-]?\d+)?"
_RANGE_RE = re.compile(
    rf"between\s+{_RANGE_NUMBER}\s*%?\s*and\s+{_RANGE_NUMBER}|{_RANGE_NUMBER}\s*%?\s*(?:[-–—]|to)\s*{_RANGE_NUMBER}",
    re.IGNORECASE,
)
_MIN_NAME_TO_MASK = 3
_WORD_RE = re.compile(r"[\w]+(?:[-_.][\w]+)*")
_PERCENT_RANGE_RE = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?(?=\s*(?:[-–—]|to|and)\s*\d+(?:\.\d+)?\s?%)", re.IGNORECASE
)  # the low end of "78-80%", "between 18 and 19%", "5 to 7%"


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


@dataclass(frozen=True)
class NumberMention:
    """A number as written (`text`), the values it may stand for (`93%`: 0.93 and 93), and its 1-based line."""

    text: str
    values: tuple[float, ...]
    line: int


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


def extract_numbers(text: str, *, mask: Iterable[str] = ()) -> list[NumberMention]:
    """Every number written in `text`, skipping digits inside URLs, hex run IDs and the strings in `mask`."""
    return _extract(text, _mask_sets(tuple(mask)))


_Masks = tuple[frozenset[str], tuple[str, ...]]


def _extract(text: str, masks: _Masks) -> list[NumberMention]:
    mentions: list[NumberMention] = []
    if not any(ch.isdigit() for ch in text):
        return mentions
    for line_number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        cleaned = _mask_identifiers(line, masks)
        # "78-80%" means 78% to 80%: the low end of a percent range is a percentage too
        percent_lows = {m.start() for m in _PERCENT_RANGE_RE.finditer(cleaned)}
        for match in _NUMBER_RE.finditer(cleaned):
            written = match[0] + "%" if match.start() in percent_lows and not match[0].endswith("%") else match[0]
            values = _values(written, _signed(cleaned, match.start()))
            if written != match[0]:
                values = (*values, *_values(match[0], False))
            mentions.append(NumberMention(match[0], values, line_number))
        for match in _THOUSANDS_RE.finditer(cleaned):
            mentions.append(NumberMention(match[0], (float(match[0].replace(",", "")),), line_number))
    return mentions


def numbers_match(a: float, b: float) -> bool:
    """Equal within a relative 1e-9: what the text says and what was stored are the same number."""
    return math.isclose(a, b, rel_tol=_REL_TOL)


# --- Reading numbers ----------------------------------------------------------------------------------------------


def _mask_identifiers(line: str, masks: _Masks) -> str:
    """Blank out URLs, run IDs and run names so their digits are not read as numbers.

    Names are looked up word by word in a set (a project can have 10,000 runs; one substitution per name per line
    took minutes); the rare name with a space in it is replaced as a string."""
    words, spaced = masks
    for name in spaced:
        line = re.sub(re.escape(name), " ", line, flags=re.IGNORECASE)
    line = _WORD_RE.sub(lambda m: " " if m[0].lower() in words else m[0], line)
    return _HEX_ID_RE.sub(" ", _URL_RE.sub(" ", line))


_NO_MASKS: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())


@lru_cache(maxsize=8)
def _mask_sets(mask: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The names worth masking (3+ characters with a digit), as a lowercase set of words and a list of spaced names."""
    names = [n for n in mask if len(n) >= _MIN_NAME_TO_MASK and any(ch.isdigit() for ch in n)]
    spaced = tuple(sorted((n for n in names if any(ch.isspace() for ch in n)), key=len, reverse=True))
    return frozenset(n.lower() for n in names if n not in spaced), spaced


def _signed(line: str, start: int) -> bool:
    """A "-" right before a number is a minus sign unless it joins two things ("0.81-0.84", "top-5")."""
    if start == 0 or line[start - 1] not in "-\u2212":
        return False
    return start < 2 or not (line[start - 2].isalnum() or line[start - 2] == ".")


def _values(written: str, negative: bool) -> tuple[float, ...]:
    """The values a written number may stand for: a percentage is both its fraction and its figure."""
    body = written.replace(" ", "")
    percent = body.endswith("%")
    figures = [Decimal(body.rstrip("%").rstrip(".") or "0")]
    if negative:  # "-0.02" is also "dropped 0.02" in someone's summary
        figures.insert(0, -figures[0])
    return tuple(
        float(f / 100 if divide else f) for f in figures for divide in ((True, False) if percent else (False,))
    )


def _is_range(text: str) -> bool:
    return _RANGE_RE.search(text) is not None


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
            stored.extend(v for mention in _extract(value, _NO_MASKS) for v in mention.values)
    quoted = frozenset(item.line for _, item in _items(entry) if item.quoted and item.line is not None)
    identifiers = _run_identifiers(runs)
    masks = _mask_sets(identifiers)
    mentions = tuple(_extract(text, masks))
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


def _keys(values: Iterable[float]) -> frozenset[float]:
    return frozenset(_key(v) for v in values)


def _key(value: float) -> float:
    """Values equal to 9 significant digits share a key: set lookups instead of pairwise comparisons."""
    return float(f"{value:.9g}")


def _run_identifiers(runs: Sequence[RunFacts]) -> tuple[str, ...]:
    names = [run.run_name for run in runs if run.run_name] + [run.key for run in runs]
    return (*names, *(run.run_id for run in runs if run.run_id))


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
    if _is_range(stated.text):
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
        for mention in _extract(text, sources.masks):
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
