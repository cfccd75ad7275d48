"""One way to write a number in a finding's message, shared with the documents so both render it identically.

A finding's `numbers` keep the exact float; its message shows `fmt(value)`. A checker can therefore trace every
number in a message back to a stored or computed value by rendering the finding's numbers the same way.
"""

from __future__ import annotations

import math
from decimal import Decimal


def fmt(value: float) -> str:
    """Four significant digits: 0.91234 -> "0.9123", 12.3456 -> "12.35", 3.0 -> "3", 1234.5 -> "1234" (at
    1000 and above a value is written whole, never in exponent form), 0.00001234 -> "1.234e-05"."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return "0"  # never "-0"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def fmt_gain(value: float) -> str:
    """A difference with its sign: +0.0064, -0.002, 0."""
    text = fmt(value)
    return f"+{text}" if value > 0 and not math.isinf(value) else text


def fmt_noise(value: float) -> str:
    """Two significant digits, for a seed sd or a believable gain (an estimate of noise carries no more), written
    out in full: 0.0009098 -> "0.00091", 0.002117 -> "0.0021", 0.00005 -> "0.00005", 1.25 -> "1.2"."""
    if math.isnan(value) or math.isinf(value) or value == 0:
        return fmt(value)
    return fmt_plain(float(f"{value:.2g}"))


def fmt_plain(value: float) -> str:
    """A value as its shortest decimal, never in exponent form: 5e-05 -> "0.00005", 3.0 -> "3"."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def half_unit(text: str) -> float:
    """Half a unit in the last digit of a number as written: "0.9957" -> 0.00005, "291" -> 0.5, "1.2e-05" -> 5e-07;
    the widest a value shown so can be from the one it rounds."""
    exponent = Decimal(text).as_tuple().exponent
    return 0.5 * 10.0**exponent if isinstance(exponent, int) else math.inf
