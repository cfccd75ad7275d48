"""Markdown read the way a viewer reads it, to check that people's text shows as text.

CommonMark with GFM tables and strikethrough, raw HTML passed through (`html=True`: what a careless viewer does, and
the worst case for us), parsed back into the tags, attributes, text and table cells a browser would get. A Labbook
answer is safe when only the tags Labbook's own Markdown makes appear, and people's words are in the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
# markdown-it refuses `javascript:` links by itself; a viewer may not, so every link is made here and then caught.
_MARKDOWN.validateLink = lambda url: True  # type: ignore[method-assign]
# What Labbook's own Markdown renders to: headings, paragraphs, lists, emphasis, code, quotes, tables, rules.
LABBOOK_TAGS = frozenset(
    {"h1", "h2", "p", "ul", "ol", "li", "strong", "em", "code", "blockquote", "hr"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)


@dataclass
class Rendered:
    html: str
    tags: list[str] = field(default_factory=list)
    attrs: list[tuple[str, str, str | None]] = field(default_factory=list)  # (tag, name, value)
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)  # each table row's cells, as text
    code: list[str] = field(default_factory=list)  # each code span's text


class _Reader(HTMLParser):
    def __init__(self, rendered: Rendered) -> None:
        super().__init__(convert_charrefs=True)
        self.out = rendered
        self._texts: list[str] = []
        self._cell: list[str] | None = None
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.tags.append(tag)
        self.out.attrs += [(tag, name, value) for name, value in attrs]
        if tag == "tr":
            self.out.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "code":
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.out.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "code" and self._code is not None:
            self.out.code.append("".join(self._code))
            self._code = None

    def handle_data(self, data: str) -> None:
        self._texts.append(data)
        for sink in (self._cell, self._code):
            if sink is not None:
                sink.append(data)

    def close(self) -> None:
        super().close()
        self.out.text = "".join(self._texts)


def read_markdown(markdown: str) -> Rendered:
    rendered = Rendered(html=_MARKDOWN.render(markdown))
    reader = _Reader(rendered)
    reader.feed(rendered.html)
    reader.close()
    return rendered


def assert_shows_as_text(markdown: str, *texts: str, links: tuple[str, ...] = ()) -> Rendered:
    """Only Labbook's own tags (and links to `links` prefixes), no attribute that runs or loads anything, and each
    of `texts` (one-lined, as a person typed it) visible in the text a reader sees."""
    rendered = read_markdown(markdown)
    extra = {t for t in rendered.tags if t not in LABBOOK_TAGS and not (t == "a" and links)}
    assert not extra, f"markup from people's text: {sorted(extra)}\n{rendered.html}"
    for tag, name, value in rendered.attrs:
        allowed = tag == "a" and name == "href" and (value or "").startswith(links) if links else False
        assert allowed, f"attribute {name}={value!r} on <{tag}>\n{rendered.html}"
    for text in texts:
        shown = " ".join(text.split())
        assert shown in rendered.text, f"{shown!r} not shown as text in\n{rendered.text}"
    return rendered
