"""What a research agent's result log says about each row: its key, its name, its change and its configuration.

Agents that run experiments in a loop (autoresearch's `results.tsv`) write one row per experiment: the code state
(`commit`), the metric, a verdict (`keep`, `discard`, `crash`) and a one-line `description` of the change. Such a
table names no run, so a row is keyed by its position and its content: re-importing the same file changes nothing,
and a file with rows appended adds only the new ones.

The description is the change: its `key=value` pairs are parameters and the words left, unless they only say
"baseline", are the parameter `change`. An agent tries each change on top of the last kept state, so a row's
configuration is its parent's (the last `keep` row before it) overlaid with its own parameters: a row whose only
change is a seed then has its parent's configuration, which is what makes it a seed repeat.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

__all__ = [
    "KEEP_WORDS",
    "AGENT_STATUS_WORDS",
    "CHANGE_PARAM",
    "accumulate",
    "change_words",
    "read_change",
    "row_key",
    "row_name",
    "same_change",
    "says_baseline",
]

KEEP_WORDS = frozenset({"keep", "kept"})
CHANGE_PARAM = "change"  # the parameter holding a description's words
AGENT_STATUS_WORDS = frozenset({"keep", "kept", "discard", "discarded", "crash"})
NAME_LENGTH = 48

_ASSIGNMENT_RE = re.compile(r"([A-Za-z_][\w.\-]*)\s*=\s*([^\s,;()\[\]]+)")
_ASIDE_RE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_FILLER_RE = re.compile(r"^[\W_]*(?:and|with|plus|also|then)?[\W_]*$", re.IGNORECASE)
_BASELINE_RE = re.compile(r"^\W*(?:the\s+)?(?:baseline|base|initial|starting point|start)\W*$", re.IGNORECASE)
_NON_WORD_RE = re.compile(r"[^\w.=+\-]+")


def row_key(position: int, cells: Sequence[str]) -> str:
    """`row<N>-<8 hex digits>`: the row's position (from 1) and a hash of its cells, stable across re-imports."""
    digest = hashlib.sha256("\t".join(cell.strip() for cell in cells).encode("utf-8")).hexdigest()
    return f"row{position}-{digest[:8]}"


def row_name(position: int, description: str | None) -> str:
    """`#N <description>`, cut at a word to 48 characters: the row as people count it and what it tried."""
    if not description:
        return f"#{position}"
    text = " ".join(description.split())
    if len(text) > NAME_LENGTH:
        cut = text[: NAME_LENGTH - 1].rsplit(" ", 1)[0] if " " in text[: NAME_LENGTH - 1] else text[: NAME_LENGTH - 1]
        text = cut.rstrip(",;:") + "…"
    return f"#{position} {text}"


def read_change(description: str) -> tuple[dict[str, str], str | None]:
    """The `key=value` pairs a description sets, and its words once they are taken out (None when nothing but
    fillers, asides or "baseline" is left). "lr=3e-4 (was 1e-3)" sets lr and says nothing more; "swap GELU for
    SwiGLU" is words only."""
    assignments: dict[str, str] = {}
    for key, value in _ASSIGNMENT_RE.findall(description):
        assignments.setdefault(key, value.rstrip(".,;:"))
    words = _ASIDE_RE.sub(" ", _ASSIGNMENT_RE.sub(" ", description))
    words = " ".join(words.split()).strip(" ,;:+&/-")
    if not words or _FILLER_RE.fullmatch(words) or _BASELINE_RE.fullmatch(words):
        return assignments, None
    return assignments, words


def says_baseline(description: str) -> bool:
    """The description says the row is the log's baseline ("baseline", "baseline (default config)")."""
    words = " ".join(_ASIDE_RE.sub(" ", description).split())
    return bool(_BASELINE_RE.fullmatch(words))


def change_words(description: str) -> str:
    """A description compared across rows: lower-cased, punctuation and repeated spaces removed ("Add weight
    decay." and "add  weight decay" agree)."""
    return " ".join(_NON_WORD_RE.sub(" ", description.lower()).split()).strip(".")


def same_change(a: str, b: str) -> bool:
    """Two descriptions name the same change: the same words, or the same `key=value` assignments."""
    if change_words(a) == change_words(b):
        return True
    assigned_a, words_a = read_change(a)
    assigned_b, words_b = read_change(b)
    return bool(assigned_a) and assigned_a == assigned_b and words_a is None and words_b is None


def accumulate(rows: Sequence[tuple[Mapping[str, str], str | None]]) -> list[dict[str, str]]:
    """Each row's configuration: its parent's (the last kept row before it) overlaid with its own parameters.

    `rows` are (own parameters, status word) in log order. Rows before the first keep have no parent."""
    state: dict[str, str] = {}
    configured = []
    for own, status in rows:
        params = {**state, **own}
        configured.append(params)
        if status in KEEP_WORDS:
            state = params
    return configured
