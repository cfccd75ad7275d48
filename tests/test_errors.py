"""How a pydantic error location becomes the field name an error shows, in each of its forms."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import field_name


@pytest.mark.parametrize(
    ("loc", "options", "expected"),
    [
        (("experiments", 0, "run_id"), {}, "experiments.0.run_id"),
        (("experiments", 0, "run_id"), {"brackets": True}, "experiments[0].run_id"),
        (("observations", 0, "run_ids", 1), {"brackets": True}, "observations[0].run_ids[1]"),
        ((0, "name"), {"brackets": True}, "[0].name"),
        ((), {}, "body"),
        ((), {"brackets": True}, "body"),
        ((), {"empty": ""}, ""),
        ((), {"empty": "front matter"}, "front matter"),
        (("body", "name"), {}, "body.name"),
        (("body", "name"), {"request": True}, "name"),
        (("body", "criteria", "0", "weight"), {"request": True}, "criteria.0.weight"),
        (("body",), {"request": True}, "body"),
        (("query", "limit"), {"request": True}, "query.limit"),
        ((), {"request": True, "empty": ""}, ""),
    ],
)
def test_field_name(loc: tuple[int | str, ...], options: dict[str, Any], expected: str) -> None:
    assert field_name(loc, **options) == expected
