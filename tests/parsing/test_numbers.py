"""parse_number reads the ways people write metric values, and says when it interpreted them."""

from __future__ import annotations

import pytest

from app.parsing.numbers import ParsedNumber, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.93", 0.93),
        (".93", 0.93),
        ("-1.5", -1.5),
        ("+2", 2.0),
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("  0.5\t", 0.5),
        ("\u00a00.5\u00a0", 0.5),
        ("\u22121.5", -1.5),
        ("7", 7.0),
        ("3.", 3.0),
    ],
)
def test_plain_numbers_are_read_without_warning(text: str, value: float) -> None:
    assert parse_number(text) == ParsedNumber(value, None)


@pytest.mark.parametrize(
    ("text", "value", "warning"),
    [
        ("93%", 0.93, '"93%" read as 0.93'),
        ("85.7%", 0.857, '"85.7%" read as 0.857'),
        (".93ish", 0.93, '".93ish" read as 0.93 (approximate)'),
        ("0.93-ish", 0.93, '"0.93-ish" read as 0.93 (approximate)'),
        ("~0.93", 0.93, '"~0.93" read as 0.93 (approximate)'),
        ("approx 0.93", 0.93, '"approx 0.93" read as 0.93 (approximate)'),
        ("≈0.93", 0.93, '"≈0.93" read as 0.93 (approximate)'),
        ("0.93?", 0.93, '"0.93?" read as 0.93 (approximate)'),
        ("~93%", 0.93, '"~93%" read as 0.93 (approximate)'),
        ("0.93 ± 0.01", 0.93, '"0.93 ± 0.01" read as 0.93 (spread ± 0.01 dropped)'),
        ("0.93+-0.01", 0.93, '"0.93+-0.01" read as 0.93 (spread ± 0.01 dropped)'),
        ("0.93 +/- 0.01", 0.93, '"0.93 +/- 0.01" read as 0.93 (spread ± 0.01 dropped)'),
        ("between 0.81 and 0.84", 0.825, '"between 0.81 and 0.84" read as 0.825 (midpoint of range 0.81 to 0.84)'),
        ("0.81-0.84", 0.825, '"0.81-0.84" read as 0.825 (midpoint of range 0.81 to 0.84)'),
        ("0.81–0.84", 0.825, '"0.81–0.84" read as 0.825 (midpoint of range 0.81 to 0.84)'),
        ("0.81 to 0.84", 0.825, '"0.81 to 0.84" read as 0.825 (midpoint of range 0.81 to 0.84)'),
        ("81-84%", 0.825, '"81-84%" read as 0.825 (midpoint of range 81% to 84%)'),
        ("1,234", 1234.0, '"1,234" read as 1234'),
        ("1,234,567.5", 1234567.5, '"1,234,567.5" read as 1234567.5'),
        ("0,93", 0.93, '"0,93" read as 0.93'),
    ],
)
def test_interpreted_numbers_come_with_a_warning(text: str, value: float, warning: str) -> None:
    assert parse_number(text) == ParsedNumber(value, warning)


@pytest.mark.parametrize("text", ["", "   ", "-", "—", "n/a", "N/A", "na", "none", "None", "null", "?"])
def test_missing_markers_are_none_without_warning(text: str) -> None:
    assert parse_number(text) == ParsedNumber(None, None)


@pytest.mark.parametrize("text", ["nan", "NaN"])
def test_nan_is_missing_with_a_warning(text: str) -> None:
    assert parse_number(text) == ParsedNumber(None, f'"{text}" read as missing')


@pytest.mark.parametrize(
    "text",
    ["good", "0.9.1", "abc1", "1-", "~", "0.93 ± x", "2023-01-05", "inf", "1 2", "0x1f", "12abc", "between 1 and x"],
)
def test_non_numbers_raise_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number") as caught:
        parse_number(text)
    assert f'"{text}"' in str(caught.value)


def test_overflowing_number_is_rejected() -> None:
    with pytest.raises(ValueError, match='"1e999" is too large'):
        parse_number("1e999")


def test_scientific_notation_is_not_mistaken_for_a_range() -> None:
    assert parse_number("1e-3-3e-3") == ParsedNumber(
        0.002, '"1e-3-3e-3" read as 0.002 (midpoint of range 1e-3 to 3e-3)'
    )
