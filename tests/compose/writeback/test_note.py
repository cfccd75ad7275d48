"""Labbook's section of an MLflow run's description: rendering, merging with a human's note, trimming to 5000 bytes."""

from __future__ import annotations

from datetime import date

import pytest

from app.compose.writeback.note import (
    BEGIN,
    END,
    ENTRY_IDS_KEY,
    MAX_VALUE_BYTES,
    NOTE_KEY,
    NoteEntry,
    build_note,
    check_tags,
    entry_ids_value,
    human_text,
    merge_note,
    render_section,
    run_tags,
    utf8_len,
)
from tests.markdown_reader import assert_shows_as_text

URL = "https://labbook.example"
E1 = NoteEntry(1, date(2026, 11, 20), "SMOTE did not help: 0.858 vs 0.861.")
E2 = NoteEntry(2, date(2026, 11, 22), "Class weights beat SMOTE.")


def note(existing: str | None, entries: list[NoteEntry], max_bytes: int = MAX_VALUE_BYTES) -> str:
    return build_note(existing, entries, public_url=URL, project_slug="churn", max_bytes=max_bytes)


class TestRenderSection:
    def test_one_bullet_per_entry_newest_first_with_date_tldr_and_link(self) -> None:
        section = render_section([E1, E2], public_url=URL, project_slug="churn", budget=5000)
        assert section.splitlines() == [
            BEGIN,
            "**Labbook**",
            f"- 2026-11-22 · Class weights beat SMOTE. · [entry 2]({URL}/v1/entries/2)",
            f"- 2026-11-20 · SMOTE did not help: 0.858 vs 0.861. · [entry 1]({URL}/v1/entries/1)",
            END,
        ]

    def test_same_day_orders_by_id(self) -> None:
        a, b = NoteEntry(5, date(2026, 1, 1), "a"), NoteEntry(9, date(2026, 1, 1), "b")
        section = render_section([a, b], public_url=URL, project_slug="p", budget=5000)
        assert section.index("entry 9") < section.index("entry 5")

    def test_public_url_trailing_slash_is_not_doubled(self) -> None:
        section = render_section([E1], public_url=URL + "/", project_slug="churn", budget=5000)
        assert f"({URL}/v1/entries/1)" in section

    @pytest.mark.parametrize(
        ("tldr", "shown"),
        [
            ("two\nlines  and\ttabs", "two lines and tabs"),
            ("closes --> the comment", "closes --&gt; the comment"),
            ("opens <!-- a comment", "opens &lt;!-- a comment"),
            ("", None),
        ],
    )
    def test_tldr_is_one_line_and_cannot_break_the_markers(self, tldr: str, shown: str | None) -> None:
        section = render_section([NoteEntry(3, date(2026, 1, 2), tldr)], public_url=URL, project_slug="p", budget=5000)
        line = section.splitlines()[2]
        assert line.count("\n") == 0
        if shown is None:
            assert line == f"- 2026-01-02 · [entry 3]({URL}/v1/entries/3)"
        else:
            assert shown in line
        assert section.count("<!--") == 2 and section.count("-->") == 2  # the markers' own, no more


class TestMergeNote:
    def test_first_section_goes_below_the_human_note(self) -> None:
        merged = merge_note("Baseline for Q4.\n", "SECTION")
        assert merged == "Baseline for Q4.\n\nSECTION"

    def test_no_note_is_just_the_section(self) -> None:
        assert merge_note(None, "SECTION") == "SECTION"
        assert merge_note("  \n", "SECTION") == "SECTION"

    def test_second_merge_replaces_never_appends(self) -> None:
        first = note("Human words.", [E1])
        second = note(first, [E1, E2])
        assert second.count(BEGIN) == 1 and second.count(END) == 1
        assert second.startswith("Human words.\n\n" + BEGIN)
        assert "entry 2" in second and "entry 1" in second

    def test_same_entries_again_is_byte_identical(self) -> None:
        first = note("Human words.", [E1, E2])
        assert note(first, [E1, E2]) == first
        assert note(note(first, [E1, E2]), [E1, E2]) == first

    def test_text_a_human_wrote_after_the_section_stays_after_it(self) -> None:
        existing = note("Above.", [E1]) + "\n\nBelow, added later by hand."
        merged = note(existing, [E1, E2])
        assert merged.startswith("Above.\n\n" + BEGIN)
        assert merged.endswith(END + "\n\nBelow, added later by hand.")
        assert merged.count(BEGIN) == 1

    def test_a_section_without_its_end_marker_is_replaced_to_the_end(self) -> None:
        truncated = note("Above.", [E1, E2])[:-30]  # a server cut the note short
        assert END not in truncated
        merged = note(truncated, [E1])
        assert merged == note("Above.", [E1])

    def test_duplicated_sections_collapse_into_one(self) -> None:
        section = render_section([E1], public_url=URL, project_slug="churn", budget=5000)
        doubled = f"Human.\n\n{section}\n\n{section}"
        merged = note(doubled, [E2])
        assert merged.count(BEGIN) == 1 and "entry 2" in merged and "entry 1" not in merged

    def test_no_entries_removes_the_section_and_keeps_the_human_text(self) -> None:
        assert note(note("Human.", [E1]), []) == "Human."
        assert note(None, []) == ""

    def test_human_text_is_the_note_without_the_section(self) -> None:
        assert human_text(note("Human.", [E1]) + "\n\nmore") == "Human.\n\n\n\nmore"
        assert human_text(None) == ""


def many(n: int, tldr: str = "x" * 120) -> list[NoteEntry]:
    return [NoteEntry(i, date(2026, 1, 1 + i % 28), f"{tldr} {i}") for i in range(1, n + 1)]


class TestTrimming:
    def test_many_entries_fit_in_5000_bytes_dropping_the_oldest(self) -> None:
        entries = many(200)
        result = note("Human.", entries)
        assert utf8_len(result) <= MAX_VALUE_BYTES
        shown = [e for e in entries if f"[entry {e.id}]" in result]
        newest = sorted(entries, key=lambda e: (e.day, e.id), reverse=True)
        assert shown and set(shown) == set(newest[: len(shown)])
        assert f"- {200 - len(shown)} more entries: {URL}/v1/projects/churn/entries" in result
        assert result.startswith("Human.\n\n")

    def test_one_more_entry_is_singular(self) -> None:
        entries = many(2, tldr="y" * 100)
        full = note(None, entries)
        result = note(None, entries, max_bytes=utf8_len(full) - 1)
        assert "- 1 more entry: " in result and utf8_len(result) < utf8_len(full)

    def test_unicode_is_counted_in_bytes_not_characters(self) -> None:
        entries = many(60, tldr="é" * 60 + "模型")  # 2 and 3 bytes per character
        result = note("Zusammenfassung für Menschen — 模型.", entries)
        assert utf8_len(result) <= MAX_VALUE_BYTES
        assert len(result) < MAX_VALUE_BYTES  # characters: fewer than bytes
        result.encode("utf-8").decode("utf-8")  # never a cut multibyte character

    def test_a_long_tldr_is_shortened_when_a_single_entry_does_not_fit(self) -> None:
        entry = NoteEntry(7, date(2026, 12, 3), "ü" * 600)  # newer than E1
        result = note("H" * 4200, [entry, E1])
        assert utf8_len(result) <= MAX_VALUE_BYTES
        assert "…" in result and f"[entry 7]({URL}/v1/entries/7)" in result
        assert f"- 1 more entry: {URL}/v1/projects/churn/entries" in result
        assert result.startswith("H" * 4200)

    def test_human_text_is_never_cut_and_gets_a_minimal_section(self) -> None:
        human = "long human note " * 400  # 6400 bytes: alone over the budget
        result = note(human, many(5))
        assert result.startswith(human.rstrip())
        section = result[result.index(BEGIN) :]
        assert f"[entry 5]({URL}/v1/entries/5)" in section  # the newest entry's link
        assert "- 4 more entries: " in section
        assert "x" * 20 not in section  # no TL;DR

    def test_trimmed_note_is_stable_on_redelivery(self) -> None:
        first = note("Human.", many(200))
        assert note(first, many(200)) == first


class TestTags:
    def test_run_tags_holds_the_note_and_the_entry_ids(self) -> None:
        tags = run_tags("Mine.", [E2, E1], public_url=URL, project_slug="churn")
        assert set(tags) == {NOTE_KEY, ENTRY_IDS_KEY}
        assert tags[ENTRY_IDS_KEY] == "1,2"
        assert tags[NOTE_KEY].startswith("Mine.\n\n" + BEGIN)

    def test_entry_ids_are_trimmed_to_5000_bytes_keeping_the_newest(self) -> None:
        value = entry_ids_value(range(1, 3000))
        assert utf8_len(value) <= MAX_VALUE_BYTES
        ids = [int(i) for i in value.split(",")]
        assert ids == sorted(ids) and ids[-1] == 2999 and ids[0] > 1

    def test_entry_ids_empty(self) -> None:
        assert entry_ids_value([]) == ""

    @pytest.mark.parametrize(
        "tags",
        [{"k" * 251: "v"}, {"": "v"}, {"labbook.x": "v" * 5001}, {"labbook.x": "é" * 2501}],
    )
    def test_check_tags_refuses_what_mlflow_would_refuse(self, tags: dict[str, str]) -> None:
        with pytest.raises(ValueError):
            check_tags(tags)

    def test_check_tags_accepts_the_limits(self) -> None:
        tags = {"k" * 250: "v" * 5000}
        assert check_tags(tags) == tags


class TestHostileTldr:
    """The MLflow UI renders the note as Markdown: a TL;DR is a person's words and shows as text."""

    TLDR = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) **b** `c` <!-- x"

    def test_the_section_shows_it_as_text_with_only_the_entry_link(self) -> None:
        text = note("Written by hand.", [NoteEntry(5, date(2026, 1, 2), self.TLDR)])
        rendered = assert_shows_as_text(text, self.TLDR, links=(f"{URL}/v1/entries/",))
        assert rendered.tags.count("a") == 1
        assert text.count("<!--") == 2 and text.count("-->") == 2

    def test_a_shortened_tldr_is_cut_before_it_is_escaped(self) -> None:
        full = note(None, [NoteEntry(5, date(2026, 1, 2), self.TLDR)])
        text = note(None, [NoteEntry(5, date(2026, 1, 2), self.TLDR)], max_bytes=utf8_len(full) - 40)
        rendered = assert_shows_as_text(text, links=(f"{URL}/v1/entries/",))
        shown = rendered.text.split("2026-01-02 · ")[1].split(" · ")[0]
        assert shown.endswith("…") and self.TLDR.startswith(shown.removesuffix("…"))
