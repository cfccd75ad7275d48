"""Markdown pieces every document kind renders the same way."""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")


def inline_code(text: str) -> str:
    """Inline code that survives backticks inside the text (CommonMark: a longer fence, padded with spaces)."""
    ticks = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    if ticks == 0:
        return f"`{text}`"
    fence = "`" * (ticks + 1)
    return f"{fence} {text} {fence}"
