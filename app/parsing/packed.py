"""Reading packed cells: one cell holding many params or tags, such as `lr=0.05, depth=6` or `{"lr": 0.001}`.

People squeeze hyperparameters and tags into a single column in every shape a notebook or a config dump produces:
key=value pairs separated by commas, semicolons, newlines or spaces, `key: value`, JSON objects, bare words. This
module decides how such a cell splits into (key, value) pairs: separators inside brackets and double quotes do not
split (so `layers=[64, 32]` stays one value), space-separated words split only when each is a pair (so `lr = 0.05`
is not torn apart), and a token that is not a pair is returned as (word, None) rather than dropped, so the caller
can keep it (as a note, or as a bare tag) and the user loses nothing that was typed.
"""

from __future__ import annotations

import json

from app.parsing.columns import EMPTY_TEXT

_PACKED_SEPARATORS = ",;\n"
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


def packed_items(value: str, *, split_words: bool) -> list[tuple[str, str | None]]:
    """(key, value) pairs of a packed cell, written keys kept; (word, None) for a token that is not a pair."""
    text = value.strip()
    if text in EMPTY_TEXT:
        return []
    as_json = _json_object(text)
    if as_json is not None:
        return as_json
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    items: list[tuple[str, str | None]] = []
    for chunk in _split_top_level(text):
        for token in _split_spaced(chunk, split_words=split_words):
            items.append(_key_value(token))
    return items


def _json_object(text: str) -> list[tuple[str, str | None]] | None:
    """A cell pasted from a config dump: `{"lr": 0.001}`; non-string values are kept as their JSON text."""
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return [(str(key), item if isinstance(item, str) else json.dumps(item)) for key, item in loaded.items()]


def _split_top_level(text: str) -> list[str]:
    """Split on "," ";" and newlines outside brackets and double quotes, so `layers=[64, 32]` stays whole."""
    parts: list[str] = []
    current: list[str] = []
    closers: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in _BRACKETS:
            closers.append(_BRACKETS[char])
        elif not quoted and closers and char == closers[-1]:
            closers.pop()
        elif not quoted and not closers and char in _PACKED_SEPARATORS:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _split_spaced(chunk: str, *, split_words: bool) -> list[str]:
    """`lr=0.05 depth=6` is two pairs when every word has "="; `lr = 0.05` stays one. Tags split bare words too."""
    words = chunk.split()
    if len(words) > 1 and all("=" in word for word in words):
        return words
    if split_words and not any(sep in chunk for sep in "=:"):
        return words
    return [chunk]


def _key_value(token: str) -> tuple[str, str | None]:
    """Split on the first "=" (or, without one, the first ":"); quotes around key and value are dropped."""
    separator = "=" if "=" in token else ":"
    key, found, value = token.partition(separator)
    key = key.strip().strip("\"'").strip()
    if not found or not key:
        return token.strip(), None
    return key, value.strip().strip("\"'").strip()
