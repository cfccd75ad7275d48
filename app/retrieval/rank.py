"""Hybrid ranking: the vector ranking fused with an exact-token pass, chunks grouped into the sessions they tell.

A passage's score is its cosine similarity to the query, raised by the query's words it holds (by stem: "leakage" finds
"leaked"; weighted by how rare each is in the project; a long word inside a longer one counts half) and more by an exact
token the query names. Both word passes use Chroma's metadata index, so a passage the vectors missed can still be found
by its words. The chunks of a brain dump and of the log entry composed from it are one session: they are grouped under
the dump (`log:<id>`), and a document (a phase summary, a decision) is its own group. A group is as good as its best
chunk: a long session is not worth more for having more chunks.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.retrieval.chunks import content_stems, exact_tokens
from app.retrieval.store import Hit

_STOP = frozenset(
    "a an and are as at be been but by did do does for from had has have how i if in into is it its of on or our so "
    "that the their them then there these they this to was we were what when where which who why will with you "
    "ever any anyone anything about abt".split()
)
_TERM = re.compile(r"[A-Za-z0-9][\w.=-]*[A-Za-z0-9]|[A-Za-z0-9]")


def query_tokens(query: str, vocabulary: Collection[str]) -> list[str]:
    """The query's exact tokens: identifier-like words and the project's vocabulary; a one-word query is one."""
    tokens = exact_tokens(query, vocabulary)
    bare = query.strip().lower()
    if bare and " " not in bare and bare not in tokens and len(bare) >= 3:
        tokens.append(bare)
    return tokens


_QUESTION = re.compile(
    r"^\s*(?:(?:why|how|what|when|where|which|who)\b(?:\s+(?:did|do|does|was|were|is|are|has|have|had|can|could|"
    r"should|would|many|much|come|about|happened|kind of))*(?:\s+(?:we|they|you|i|it|anyone|anybody|someone|the team))?"
    r"|(?:did|do|does|has|have|had|was|were|is|are|can|could)\s+(?:we|they|you|i|anyone|anybody|someone|the team)"
    r"(?:\s+(?:ever|already|actually|really))?)\s+",
    re.I,
)


def as_statement(query: str) -> str:
    """The query without its question lead-in ("why did we drop the forests?" -> "drop the forests"): a sentence
    model puts a question and a statement of the same thing further apart than two statements."""
    stripped = _QUESTION.sub("", query, count=1).strip().rstrip("?").strip()
    return stripped if len(stripped.split()) >= 2 else query


def terms(query: str) -> list[str]:
    """The words to highlight: the query's words less the common ones."""
    return [t for t in dict.fromkeys(w.lower() for w in _TERM.findall(query)) if t not in _STOP and len(t) > 1]


@dataclass
class Group:
    key: str  # "log:12" or "entry:40"
    best: Hit
    similarity: float
    score: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    keyword: bool = False

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.best.metadata)


def group_key(hit: Hit) -> str:
    log_id = hit.metadata.get("log_id")
    if log_id is not None and hit.metadata.get("kind") in ("log", "log_entry"):
        return f"log:{log_id}"
    return str(hit.metadata.get("source", hit.id.rsplit(":", 2)[0]))


EXACT_BONUS = 0.25  # a passage holding an exact token the query names (a run ID, a parameter)
LEXICAL_WEIGHT = 0.5  # times the idf-weighted share of the query's word stems the passage holds


def lexical(query_stems: Sequence[str], hit: Hit, idf: Mapping[str, float] | None = None) -> float:
    """The share of the query's word stems the passage holds, each weighted by its idf in the project (a word most
    passages have says little)."""
    if not query_stems:
        return 0.0
    held = set(hit.metadata.get("terms") or content_stems(hit.text))
    weights = {t: (idf or {}).get(t, 1.0) for t in query_stems}
    total = sum(weights.values())
    return sum(w * _held(t, held) for t, w in weights.items()) / total if total else 0.0


INSIDE_MIN = 6  # a query word this long counts half inside a longer word ("forest" in "iforest")


def _held(stem: str, held: Collection[str]) -> float:
    if stem in held:
        return 1.0
    if len(stem) >= INSIDE_MIN and any(stem in h for h in held if len(h) > len(stem)):
        return 0.5
    return 0.0


def fuse(
    vector_hits: Sequence[Hit],
    keyword_hits: Sequence[Hit],
    query_stems: Sequence[str] = (),
    idf: Mapping[str, float] | None = None,
    lexical_hits: Sequence[Hit] = (),
) -> list[Group]:
    """The groups, best first. A passage scores its cosine similarity to the query, plus `LEXICAL_WEIGHT` times the
    idf-weighted share of the query's word stems it has, plus `EXACT_BONUS` when it holds an exact token the query
    names. `lexical_hits` (found by a word, their similarity read back) join the candidates."""
    by_id: dict[str, Hit] = {h.id: h for h in vector_hits}
    for hit in [*keyword_hits, *lexical_hits]:
        known = by_id.get(hit.id)
        by_id[hit.id] = hit if known is None or hit.similarity > known.similarity else known
    keyword_ids = {h.id for h in keyword_hits}
    score = {
        i: h.similarity + LEXICAL_WEIGHT * lexical(query_stems, h, idf) + (EXACT_BONUS if i in keyword_ids else 0.0)
        for i, h in by_id.items()
    }
    groups: dict[str, Group] = {}
    for hit_id in sorted(score, key=lambda i: (-score[i], i)):
        hit = by_id[hit_id]
        key = group_key(hit)
        group = groups.get(key)
        if group is None:
            groups[key] = group = Group(key, hit, hit.similarity, score[hit_id])
        else:
            group.similarity = max(group.similarity, hit.similarity)
        group.hits.append(hit)
        group.keyword = group.keyword or hit_id in keyword_ids
    return sorted(groups.values(), key=lambda g: (-g.score, -g.similarity, g.key))


def highlight(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) spans of `text` where a word starting with one of `words` is (case-insensitive)."""
    if not words:
        return []
    pattern = re.compile(
        r"(?<![\w])(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")[\w]*", re.I
    )
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def snippet(text: str, words: Sequence[str], *, width: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """At most `width` characters around the first highlighted word, cut at word boundaries, with its spans."""
    spans = highlight(text, words)
    if len(text) <= width:
        return text, spans
    centre = spans[0][0] if spans else 0
    start = max(0, min(centre - width // 3, len(text) - width))
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    cut = ("… " if start else "") + text[start:end] + (" …" if end < len(text) else "")
    offset = start - (2 if start else 0)
    return cut, [(s - offset, e - offset) for s, e in spans if s >= start and e <= end]
