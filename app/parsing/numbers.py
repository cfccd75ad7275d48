"""Reading the numbers people type into run tables.

Metric cells come from spreadsheets, notebooks and chat threads, so "0.93", "93%", ".93ish" and "0.81-0.84" all
mean a number to the person who wrote them. `parse_number` accepts these forms and, whenever it had to interpret
the text rather than read it, says so in a warning, so the user can check what was stored instead of trusting a
silent guess. Arithmetic goes through `Decimal` so that "85.7%" is stored as 0.857, not 0.8570000000000001.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

# Cells that mean "no value": the metric is simply absent, without a warning.
MISSING_MARKERS = frozenset({"", "-", "--", "—", "–", "n/a", "na", "n.a.", "none", "null", "nil", "missing", "?"})
# Cells that are a value in code but a missing value to us: absent, with a warning.
NAN_MARKERS = frozenset({"nan", "-nan", "+nan"})

# Non-breaking and thin spaces become plain spaces; the Unicode minus becomes "-".
_SPACES_AND_MINUS = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2212": "-"})

_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PLAIN_RE = re.compile(rf"[+-]?{_UNSIGNED}")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")

_APPROX_PREFIX_RE = re.compile(r"^(?:~|≈|∼|approx\.?|approximately|about|around|roughly|circa|ca\.)\s*", re.IGNORECASE)
_APPROX_SUFFIX_RE = re.compile(r"\s*(?:-?ish|\?+|\(approx\.?\)|approx\.?)$", re.IGNORECASE)
_SPREAD_RE = re.compile(r"^(.+?)\s*(?:±|\+/-|\+-)\s*(.+)$")
_RANGE_RES = (
    re.compile(r"^between\s+(.+?)\s+and\s+(.+)$", re.IGNORECASE),
    re.compile(r"^(.+?)\s+to\s+(.+)$", re.IGNORECASE),
    re.compile(r"^([+-]?[\d.,]*\d(?:[eE][+-]?\d+)?%?)\s*[-–—]\s*([\d.,]*\d(?:[eE][+-]?\d+)?%?)$"),
)


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from a cell: `value` None means the cell was explicitly missing.

    `warning` is set whenever the text was interpreted (a percentage, an approximation, a range...), so the
    caller can show the user how their text was read.
    """

    value: float | None
    warning: str | None


def parse_number(text: str) -> ParsedNumber:
    """Read `text` as a number the way a person would; raise ValueError naming the text when it is not one."""
    cleaned = " ".join(text.translate(_SPACES_AND_MINUS).split())
    lowered = cleaned.lower()
    if lowered in MISSING_MARKERS:
        return ParsedNumber(None, None)
    if lowered in NAN_MARKERS:
        return ParsedNumber(None, f'"{cleaned}" read as missing')
    try:
        value, notes = _interpret(cleaned)
    except ValueError:
        raise ValueError(f'"{cleaned}" is not a number') from None
    if not math.isfinite(value):
        raise ValueError(f'"{cleaned}" is too large to store')
    if _PLAIN_RE.fullmatch(cleaned):
        return ParsedNumber(value, None)
    return ParsedNumber(value, _warning(cleaned, value, notes))


def _warning(cleaned: str, value: float, notes: list[str]) -> str:
    """Say what the text was read as, and why, in the words the user would use."""
    message = f'"{cleaned}" read as {value:.12g}'
    return f"{message} ({'; '.join(notes)})" if notes else message


def _interpret(text: str) -> tuple[float, list[str]]:
    """Peel off approximation markers and a ± spread, then read a range or a single number."""
    notes: list[str] = []
    body = _strip_approximate(text)
    if body != text:
        notes.append("approximate")
    spread = _SPREAD_RE.match(body)
    if spread:
        _atom(spread[2])  # the spread must be a number too, or the whole cell is not one
        body = spread[1]
        notes.append(f"spread ± {spread[2]} dropped")
    value, range_note = _range_or_atom(body)
    if range_note:
        notes.append(range_note)
    return float(value), notes


def _strip_approximate(text: str) -> str:
    """Remove "~", "approx", "ish", "?" and the like: people use them to hedge, the number is still meant."""
    without_prefix = _APPROX_PREFIX_RE.sub("", text, count=1)
    return _APPROX_SUFFIX_RE.sub("", without_prefix, count=1)


def _range_or_atom(text: str) -> tuple[Decimal, str | None]:
    """A range becomes its midpoint (with a note saying so); anything else must be a single number."""
    for pattern in _RANGE_RES:
        match = pattern.match(text)
        if match:
            low, high = match[1], match[2]
            if high.endswith("%") and not low.endswith("%"):
                low += "%"  # "81-84%" means 81% to 84%
            midpoint = (_atom(low) + _atom(high)) / 2
            return midpoint, f"midpoint of range {low} to {high}"
    return _atom(text), None


def _atom(text: str) -> Decimal:
    """One number as written, possibly with a percent sign, thousands separators or a decimal comma."""
    body = text.strip()
    percent = body.endswith("%")
    if percent:
        body = body[:-1].rstrip()
    if _PLAIN_RE.fullmatch(body):
        value = Decimal(body)
    elif _THOUSANDS_RE.fullmatch(body):
        value = Decimal(body.replace(",", ""))
    elif _DECIMAL_COMMA_RE.fullmatch(body):
        value = Decimal(body.replace(",", "."))
    else:
        raise ValueError("not a number")
    return value / 100 if percent else value
