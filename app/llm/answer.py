"""Reading a model's answer as one JSON object.

Small models wrap JSON in a Markdown fence, put prose before or after it, or stop half-way. The object is taken
from the first `{` that starts a complete JSON value; anything else is `LlmAnswerInvalid`, whose message goes back
to the model in the repair prompt and, if the repair fails too, into the reason the offline document stands.
"""

from __future__ import annotations

import json
from typing import Any

from app.errors import LlmAnswerInvalid

_DECODER = json.JSONDecoder()


def json_object(text: str) -> dict[str, Any]:
    """The first complete JSON object in `text`."""
    start = text.find("{")
    if start < 0:
        raise LlmAnswerInvalid(f"the answer holds no JSON object: {_preview(text)}")
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise LlmAnswerInvalid(f"the answer is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(value, dict):  # pragma: no cover - raw_decode from "{" always gives an object
        raise LlmAnswerInvalid("the answer is not a JSON object")
    return value


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
