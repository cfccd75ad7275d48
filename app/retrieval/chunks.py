"""What goes into the index: a source (a brain dump, a log entry, a document) cut into chunks with their metadata.

A chunk's ID names its source and place (`log:12:3`, `entry:40:conclusions:0`, `entry:41:s2:0`), so any hit leads
back to the SQL row it came from; SQL stays the source of truth. Each chunk carries the sha256 of its text and the
embedder's name: the indexer embeds only chunks whose hash it has not stored yet.

Exact tokens: identifier-like words (`max_depth`, `lr=0.01`, `rf-500-trees`, run IDs) and the project's own
vocabulary (parameter names, run names) are kept lower-cased in the `tokens` metadata list, so a query naming one
finds it even where the meaning of the words would not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

MAX_WORDS = 40  # a chunk says one thing: a sentence or two, well under the model's 256 tokens
MIN_WORDS = 4  # shorter lines are joined to their neighbour
MAX_TOKENS = 40  # exact tokens kept per chunk
WHOLE_WORDS = 180  # the whole-dump chunk: about what the model reads (256 tokens)
MAX_TERMS = 60  # word stems kept per chunk, for the lexical pass

_WORD = re.compile(r"[A-Za-z0-9][\w.=:/+-]*[\w]|[A-Za-z0-9]")
_IDENTIFIER = re.compile(r"[_=]|\d|[a-z][A-Z]|\w-\w|\w\.\w")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


STOPWORDS = frozenset(
    """a about above after again against all also am an and any anyone anything are as at be because been before being
    below between both but by can could did do does doing done down during each even ever few for from further get
    got had has have having he her here hers him his how i if in into is it its itself just me more most my no nor not
    now of off on once only or other our ours out over own same she should so some such than that the their theirs
    them then there these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your abt wht pls thx ok yeah also still really like maybe""".split()
)
_SUFFIXES = ("isation", "ization", "ations", "ation", "ings", "ing", "ages", "age", "ies", "ied", "ed", "es", "s")
_STEM_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def stem(word: str) -> str:
    """A crude English stem: "leakage", "leaked" and "leaks" are all "leak"; "overfitting" is "overfit"."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def content_stems(text: str) -> list[str]:
    """The stems of the text's content words (no stopwords, at least 3 letters), first seen first."""
    found = dict.fromkeys(
        stem(w) for w in _STEM_WORD.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()
    )
    return list(found)[:MAX_TERMS]


@dataclass(frozen=True)
class Source:
    """One thing to index, in plain values. `parts` are (section, text) in reading order; `kind` is `log` for a brain
    dump, else the entry's kind (`log_entry`, `phase_summary`, ...)."""

    key: str  # "log:12" or "entry:40"
    kind: str
    project: str
    day: date
    parts: Sequence[tuple[str, str]]
    log_id: int | None = None
    entry_id: int | None = None
    version: int = 1
    run_ids: Sequence[str] = ()
    approaches: Mapping[str, str] = field(default_factory=dict)  # run key -> approach name


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: dict[str, str | int | list[str]]

    @property
    def sha256(self) -> str:
        return str(self.metadata["sha256"])


def log_source_key(log_id: int) -> str:
    return f"log:{log_id}"


def entry_source_key(entry_id: int) -> str:
    return f"entry:{entry_id}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def exact_tokens(text: str, vocabulary: Collection[str] = ()) -> list[str]:
    """Identifier-like words and words of the project's vocabulary, lower-cased, first seen first."""
    found: dict[str, None] = {}
    for word in words(text):
        low = word.lower().strip(".:/+-")
        if len(low) < 2:
            continue
        if _IDENTIFIER.search(word) or low in vocabulary:
            found[low] = None
            if "=" in low:  # `lr=0.01` is found by `lr` too
                found[low.split("=", 1)[0]] = None
    return list(found)[:MAX_TOKENS]


def split_text(text: str) -> list[str]:
    """Paragraph and line pieces of at most MAX_WORDS words; a long line is cut at sentence ends, short lines are
    joined to the next so a chunk says something."""
    pieces: list[str] = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        if len(words(line)) <= MAX_WORDS:
            pieces.append(line)
            continue
        current: list[str] = []
        for sentence in _SENTENCE_END.split(line):
            if current and len(words(" ".join([*current, sentence]))) > MAX_WORDS:
                pieces.append(" ".join(current))
                current = []
            current.append(sentence)
        if current:
            pieces.append(" ".join(current))
    merged: list[str] = []
    for piece in pieces:
        if merged and (len(words(merged[-1])) < MIN_WORDS) and len(words(merged[-1] + " " + piece)) <= MAX_WORDS:
            merged[-1] = merged[-1] + " " + piece
        else:
            merged.append(piece)
    if len(merged) > 1 and len(words(merged[-1])) < MIN_WORDS:
        last = merged.pop()
        merged[-1] = merged[-1] + " " + last
    return merged


def chunks_of(source: Source, *, embedder: str, vocabulary: Collection[str] = (), split: bool = True) -> list[Chunk]:
    """The source's chunks with their metadata; the runs a chunk names (by ID or name in `vocabulary`) decide its
    approaches, falling back to the approaches of every run the source cites."""
    out: list[Chunk] = []
    cited = [r for r in source.run_ids if r]
    for section, text in source.parts:
        for n, piece in enumerate(split_text(text) if split else [text]):
            tokens = exact_tokens(piece, vocabulary)
            runs_here = [r for r in cited if r.lower() in tokens or r.lower() in piece.lower()]
            if source.kind in ("log", "log_entry"):
                approaches = _approaches(runs_here or cited, source.approaches)
            else:  # a document names an approach in its words; the runs it cites span them all
                low = piece.lower()
                approaches = sorted({a for a in source.approaches.values() if a.lower() in low})
            metadata: dict[str, str | int | list[str]] = {
                "source": source.key,
                "project": source.project,
                "kind": source.kind,
                "section": section,
                "day": source.day.isoformat(),
                "day_num": int(source.day.strftime("%Y%m%d")),
                "version": source.version,
                "sha256": text_hash(f"{embedder}\n{piece}"),
                "embedder": embedder,
            }
            if source.log_id is not None:
                metadata["log_id"] = source.log_id
            if source.entry_id is not None:
                metadata["entry_id"] = source.entry_id
            # Chroma refuses empty lists: a list is set only when it has items.
            if tokens:
                metadata["tokens"] = tokens
            stems = content_stems(piece)
            if stems:
                metadata["terms"] = stems
            if runs_here or cited:
                metadata["run_ids"] = list(dict.fromkeys(runs_here or cited))[:MAX_TOKENS]
            if approaches:
                metadata["approaches"] = approaches
            out.append(Chunk(id=f"{source.key}:{section}:{n}", text=piece, metadata=metadata))
    return out


def whole_chunk(source: Source, *, embedder: str, vocabulary: Collection[str] = ()) -> Chunk | None:
    """The whole dump as one more chunk (its first WHOLE_WORDS words): a question about the session's topic as a
    whole matches it even where no single line says it all."""
    text = " ".join(t for section, t in source.parts if section == "text")
    cut = " ".join(text.split()[:WHOLE_WORDS])
    if len(words(cut)) <= MAX_WORDS:
        return None  # one line already says it all
    shaped = chunks_of(replace(source, parts=[("all", cut)]), embedder=embedder, vocabulary=vocabulary, split=False)
    return shaped[0] if shaped else None


def _approaches(run_ids: Iterable[str], approaches: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(approaches[r] for r in run_ids if r in approaches))
