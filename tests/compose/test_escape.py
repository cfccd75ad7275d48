"""Escaping people's text for each place it goes: rendered by a real CommonMark reader (raw HTML allowed), hostile text
shows as the text typed and makes no markup; numbers are never touched; tag values stay plain; CSV cells that a
spreadsheet would run are neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from app.compose.escape import (
    MAX_TAG_VALUE_BYTES,
    csv_cell,
    csv_text,
    html_text,
    inline_code,
    md_cell,
    md_plain,
    md_prose,
    md_text,
    one_line,
    slack_text,
    tag_value,
)
from tests.markdown_reader import assert_shows_as_text, read_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<iframe src="javascript:alert(1)"></iframe>',
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<https://evil.example>",
    "<!-- hidden --> --> <!--",
    "<div onclick=alert(1)>click</div>",
    "<a href='javascript:alert(1)'>x</a>",
    "&lt;script&gt; is written as an entity, &#60;too&#62;, R&D stays",
    "**bold** __strong__ _em_ *em* ~~gone~~ ~one~",
    "`code` and ``double`` and a lone ` tick",
    "# a heading",
    "###### small",
    "- a list",
    "+ a list",
    "* a list",
    "1. ordered",
    "2) ordered",
    "> a quote",
    "---",
    "===",
    "***",
    "a | table | row",
    "line one\nline two\r\n<script>x</script>\tand a tab",
    "back\\slash \\<script> \\[x](y) trailing \\",
    "\\",
    "C:\\data\\new",
    "\x1b[31mred\x07 bell \u202eevil\u202c and \u2028separator",
    "__init__ and val_auc and snake_case_name",
    '=HYPERLINK("http://evil")',
]


class TestMdText:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_hostile_text_is_only_text(self, text: str) -> None:
        rendered = assert_shows_as_text(md_text(text))
        assert rendered.tags == ["p"]
        assert rendered.text.strip() == one_line(text)

    @pytest.mark.parametrize("text", HOSTILE)
    def test_it_is_read_back_as_written(self, text: str) -> None:
        assert md_plain(md_text(text)) == one_line(text)

    @pytest.mark.parametrize(
        "text",
        ["0.858", "-0.25", "+3", "93%", "1e-3", "1,234.5", "lr=0.05, num_leaves=31", "val_auc 0.858 vs 0.861", "2x"],
    )
    def test_numbers_and_plain_words_are_untouched(self, text: str) -> None:
        assert md_text(text) == text

    @pytest.mark.parametrize("text", HOSTILE)
    def test_after_a_bullet_and_in_bold_it_stays_text(self, text: str) -> None:
        rendered = assert_shows_as_text(f"- **{md_text(text)}**: {md_text(text)}\n- next")
        assert rendered.tags == ["ul", "li", "strong", "li"]


class TestMdCell:
    @pytest.mark.parametrize("text", HOSTILE)
    def test_the_row_keeps_its_columns_and_the_cell_its_text(self, text: str) -> None:
        markdown = f"| a | b | c |\n|---|---|---|\n| `run|1` | {md_cell(text)} | end |\n"
        markdown = markdown.replace("`run|1`", inline_code("run|1").replace("|", "\\|"))
        rendered = assert_shows_as_text(markdown)
        assert rendered.rows[1] == ["run|1", one_line(text), "end"]


class TestMdProse:
    def test_run_keys_stay_code_and_the_rest_is_text(self) -> None:
        sentence = f"Continue <b>a*b</b>: lr 1 → 2 on {inline_code('run`1')} [x](javascript:y)"
        rendered = assert_shows_as_text(md_prose(sentence), "Continue <b>a*b</b>: lr 1 → 2 on", "[x](javascript:y)")
        assert rendered.code == ["run`1"]

    def test_a_backtick_that_closes_nothing_is_text(self) -> None:
        rendered = assert_shows_as_text(md_prose("a lone ` tick <i>"), "a lone ` tick <i>")
        assert rendered.code == []

    @pytest.mark.parametrize("text", HOSTILE)
    def test_without_code_it_escapes_as_md_text(self, text: str) -> None:
        if "`" not in text:
            assert md_prose(text) == md_text(text)


class TestInlineCode:
    @pytest.mark.parametrize(
        "text",
        ["run1", "a`b", "``x``", "`lead", "trail`", "<script>x</script>", "x\n# not a heading\n<script>y</script>"],
    )
    def test_the_span_holds_the_text_and_cannot_end_the_line(self, text: str) -> None:
        rendered = read_markdown(f"- {inline_code(text)} after")
        assert rendered.tags == ["ul", "li", "code"]
        assert rendered.code == [text.replace("\n", " ")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel> & <@U123> <http://evil|click>", "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;http://evil|click&gt;"),
        ("two\nlines\x1b", "two\nlines "),
    ],
)
def test_slack_text_makes_no_link_or_mention(text: str, expected: str) -> None:
    assert slack_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
        ("it's & <b>", "it&#x27;s &amp; &lt;b&gt;"),
    ],
)
def test_html_text_is_text_and_attribute_safe(text: str, expected: str) -> None:
    assert html_text(text) == expected


class TestTagValue:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("<script>alert(1)</script> [x](javascript:y) *b*", "<script>alert(1)</script> [x](javascript:y) *b*"),
            ("smote\nv2\r\n\tfinal", "smote v2 final"),
            ("bell\x07 escape\x1b[0m nul\x00 del\x7f", "bell escape [0m nul del"),
            ("right\u202eto-left\u2066isolate\u2069", "right to-left isolate"),
            ("  padded  ", "padded"),
            ("\n\t", ""),
        ],
    )
    def test_plain_one_line_text(self, text: str, expected: str) -> None:
        assert tag_value(text) == expected

    def test_a_long_value_is_cut_on_a_character_within_the_limit(self) -> None:
        value = tag_value("模" * 3000)
        assert len(value.encode("utf-8")) <= MAX_TAG_VALUE_BYTES and value.endswith("…")
        assert set(value[:-1]) == {"模"}


class TestCsv:
    @pytest.mark.parametrize(
        ("value", "cell"),
        [
            ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("-0.25", "-0.25"),
            ("+3", "+3"),
            (-0.25, "-0.25"),
            (3, "3"),
            (None, ""),
            ("smote on train only", "smote on train only"),
            ("a = b", "a = b"),
        ],
    )
    def test_formulas_are_neutralised_and_numbers_kept(self, value: object, cell: str) -> None:
        assert csv_cell(value) == cell

    def test_a_document_reads_back_with_every_formula_quoted_off(self) -> None:
        rows = [["r1", '=HYPERLINK("http://evil","x")', 0.858], ["r2", "two\nlines, and a comma", -0.5]]
        text = csv_text(["run", "notes", "val_auc"], rows)
        assert text.endswith("\r\n")
        read = list(csv.reader(io.StringIO(text)))
        assert read == [
            ["run", "notes", "val_auc"],
            ["r1", '\'=HYPERLINK("http://evil","x")', "0.858"],
            ["r2", "two\nlines, and a comma", "-0.5"],
        ]
