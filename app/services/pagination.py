"""Opaque keyset cursors: the client gets a token, the server keeps the freedom to change what is inside."""

from __future__ import annotations

import base64
import binascii
import json

from app.errors import InputInvalid
from app.storage.models import MAX_ID

MAX_LIMIT = 500


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts; 0 for the first page."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InputInvalid("the cursor is not one this server gave out", field="cursor") from exc
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
        raise InputInvalid("the cursor is not one this server gave out", field="cursor")
    return after


def next_cursor(ids: list[int], limit: int) -> str | None:
    """A cursor when the page is full (there may be more), else None."""
    return encode_cursor(ids[-1]) if len(ids) == limit and ids else None
