"""Finding run references in free text and resolving them against stored runs, without guessing.

People paste runs as full MLflow run IDs, as the first 8 characters the UI shows, as run names ("bold-hen-42"), or
as links copied from the MLflow UI. A reference resolves when exactly one stored run matches: the full ID, a prefix of
6 or more hex characters, a run name, or the ID inside a URL. A reference that matches nothing, or more than one run,
is reported (the composer turns it into a warning) and never resolved to a best guess.

Hex-looking words that match nothing are only reported when they look like an ID someone meant (letters and digits
mixed, not preceded by "commit" or "sha"); "decade" or "100000" are just words and numbers.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from app.compose.log_entry.facts import RunFacts

MIN_PREFIX = 6
RefKind = Literal["id", "prefix", "name", "url"]

_URL_RE = re.compile(r"https?://[^\s)>\]]+", re.IGNORECASE)
_URL_RUN_RE = re.compile(r"/runs/([0-9a-fA-F]{6,32})(?![0-9a-fA-F])")
_HEX_RE = re.compile(r"(?<![\w./#@-])([0-9a-fA-F]{6,32})(?![\w-])")
# A word as run names are written: letters, digits and inner "-", "_", "." ("bold-hen-42", "lgbm_v2.1").
_WORD_RE = re.compile(r"[\w]+(?:[-_.][\w]+)*")
_COMMIT_BEFORE_RE = re.compile(r"(?:commit|sha|git|hash|checksum|digest|md5|rev)[\s:=#@]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    """A reference as written, where it is in the text, and what it resolved to."""

    text: str
    start: int
    end: int
    kind: RefKind
    run: RunFacts | None
    candidates: tuple[str, ...] = ()  # keys of the runs an ambiguous reference matches

    @property
    def ambiguous(self) -> bool:
        return self.run is None and len(self.candidates) > 1


class RunIndex:
    """Stored runs, indexed for lookup by ID, ID prefix and name."""

    def __init__(self, runs: Iterable[RunFacts]) -> None:
        self.runs = list(runs)
        self._by_id = {r.run_id.lower(): r for r in self.runs if r.run_id}
        self._by_key = {r.key: r for r in self.runs}
        self._sorted_ids = sorted(self._by_id)
        self._by_name: dict[str, list[RunFacts]] = {}
        for run in self.runs:
            if run.run_name and len(run.run_name) >= 3:
                self._by_name.setdefault(run.run_name.lower(), []).append(run)
        self._longest_name = max((len(n.split()) for n in self._by_name), default=0)

    def by_key(self, key: str) -> RunFacts | None:
        return self._by_key.get(key) or self._by_id.get(key.lower())

    def by_hex(self, token: str) -> tuple[RunFacts | None, tuple[str, ...]]:
        """The one run whose ID is `token` or starts with it; else None and the keys it could mean."""
        token = token.lower()
        exact = self._by_id.get(token)
        if exact:
            return exact, (exact.key,)
        at = bisect.bisect_left(self._sorted_ids, token)
        matches: list[str] = []
        while at < len(self._sorted_ids) and self._sorted_ids[at].startswith(token) and len(matches) < 6:
            matches.append(self._by_id[self._sorted_ids[at]].key)
            at += 1
        return (self._by_id[self._sorted_ids[at - 1]] if len(matches) == 1 else None), tuple(matches)

    def by_name(self, name: str) -> tuple[RunFacts | None, tuple[str, ...]]:
        runs = self._by_name.get(name.lower(), [])
        return (runs[0] if len(runs) == 1 else None), tuple(r.key for r in runs)

    def name_matches(self, text: str) -> Iterator[tuple[int, int]]:
        """Spans of `text` that are a stored run name, as whole words (longest first where names overlap).

        A dictionary lookup per word (and per run of up to as many words as the longest name has): linear in the
        text, however many runs the project has, where one big regex of every name would take seconds to compile."""
        if not self._by_name:
            return
        words = list(_WORD_RE.finditer(text))
        at = 0
        while at < len(words):
            for size in range(min(self._longest_name, len(words) - at), 0, -1):
                start, end = words[at].start(), words[at + size - 1].end()
                if text[start:end].lower() in self._by_name:
                    yield start, end
                    at += size - 1
                    break
            at += 1


def find_references(text: str, index: RunIndex) -> list[Reference]:
    """Every run reference in `text`, in order: URLs first, then hex IDs and prefixes, then run names."""
    found: list[Reference] = []
    taken: list[tuple[int, int]] = []
    for url in _URL_RE.finditer(text):
        taken.append(url.span())
        match = _URL_RUN_RE.search(url[0])
        if match:
            run, candidates = index.by_hex(match[1])
            found.append(Reference(url[0], url.start(), url.end(), "url", run, candidates))
    for match in _HEX_RE.finditer(text):
        if _inside(match.span(), taken):
            continue
        reference = _hex_reference(text, match, index)
        if reference:
            found.append(reference)
            taken.append(match.span())
    found.extend(_name_references(text, index, taken))
    return sorted(found, key=lambda r: r.start)


def _hex_reference(text: str, match: re.Match[str], index: RunIndex) -> Reference | None:
    token = match[1]
    run, candidates = index.by_hex(token) if len(token) >= MIN_PREFIX else (None, ())
    kind: RefKind = "id" if run and run.run_id and run.run_id.lower() == token.lower() else "prefix"
    if run or len(candidates) > 1:
        return Reference(token, match.start(), match.end(), kind, run, candidates)
    looks_like_id = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    if not looks_like_id or _COMMIT_BEFORE_RE.search(text[: match.start()]):
        return None
    return Reference(token, match.start(), match.end(), kind, None, ())


def _name_references(text: str, index: RunIndex, taken: Sequence[tuple[int, int]]) -> Iterable[Reference]:
    for start, end in index.name_matches(text):
        if _inside((start, end), taken):
            continue
        name = text[start:end]
        run, candidates = index.by_name(name)
        # A plain word shared by several runs ("baseline" as a name of three runs) is prose, not a reference.
        if run is None and name.isalpha():
            continue
        yield Reference(name, start, end, "name", run, candidates)


def _inside(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in taken)


def resolve_explicit(reference: str, index: RunIndex) -> Reference:
    """A reference sent beside the dump (`run_ids`): an ID, prefix, name or URL, resolved by the same rules."""
    found = find_references(reference, index)
    if found:
        return found[0]
    run = index.by_key(reference)
    if run is None:
        run, candidates = index.by_name(reference)
    else:
        candidates = (run.key,)
    return Reference(reference, 0, len(reference), "name", run, candidates)
