"""Numbers as written in free text: every decimal, integer, exponent or percentage a person wrote, with the values
it may stand for (`93%` is 0.93 and 93) and its line. Digits inside URLs, hex run IDs and the names given as masks
are not numbers, so "5c6d70a1" does not make 5 or 70 a stated value. Shared by every grounding check."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "NO_MASKS",
    "Masks",
    "NumberMention",
    "extract_masked",
    "extract_numbers",
    "is_range",
    "mask_sets",
    "numbers_match",
]

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
class NumberMention:
    """A number as written (`text`), the values it may stand for (`93%`: 0.93 and 93), and its 1-based line."""

    text: str
    values: tuple[float, ...]
    line: int


def extract_numbers(text: str, *, mask: Iterable[str] = ()) -> list[NumberMention]:
    """Every number written in `text`, skipping digits inside URLs, hex run IDs and the strings in `mask`."""
    return extract_masked(text, mask_sets(tuple(mask)))


Masks = tuple[frozenset[str], tuple[str, ...]]


def extract_masked(text: str, masks: Masks) -> list[NumberMention]:
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


def _mask_identifiers(line: str, masks: Masks) -> str:
    """Blank out URLs, run IDs and run names so their digits are not read as numbers.

    Names are looked up word by word in a set (a project can have 10,000 runs; one substitution per name per line
    took minutes); the rare name with a space in it is replaced as a string."""
    words, spaced = masks
    for name in spaced:
        line = re.sub(re.escape(name), " ", line, flags=re.IGNORECASE)
    line = _WORD_RE.sub(lambda m: " " if m[0].lower() in words else m[0], line)
    return _HEX_ID_RE.sub(" ", _URL_RE.sub(" ", line))


NO_MASKS: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())


@lru_cache(maxsize=8)
def mask_sets(mask: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
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


def is_range(text: str) -> bool:
    return _RANGE_RE.search(text) is not None
