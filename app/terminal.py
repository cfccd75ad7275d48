"""What the CLI prints: rendered for a person at a terminal, plain for a pipe or a file.

At a terminal (or with `FORCE_COLOR` / `TTY_COMPATIBLE=1`, rich's conventions; `NO_COLOR` keeps the layout without
colour) Markdown is rendered, tables are aligned in a grid and long steps show a progress bar. Piped, the output is
the server's text as it came (Markdown stays Markdown, so `labbook summary churn > summary.md` saves the document),
tables are tab-separated with a header line, and there is no progress bar.

Text from the server holds what people wrote. Before it reaches a terminal, control characters (an escape sequence
could retitle the window, move the cursor or hide what follows) are shown as escapes such as `\\x1b` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

Step = Callable[[int, int], None]  # (done, total)


def safe(text: str) -> str:
    """`text` with the control characters a terminal acts on shown as escapes (line breaks and tabs kept)."""
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


class Output:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    @property
    def rich(self) -> bool:
        return self.console.is_terminal

    def line(self, text: str = "", *, style: str | None = None) -> None:
        if self.rich:
            self.console.print(safe(text), style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(text)

    def markdown(self, text: str) -> None:
        if self.rich:
            self.console.print(Markdown(safe(text)))
        else:
            typer.echo(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if not self.rich:
            for row in [list(headers), *cells]:
                typer.echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
            return
        grid = Table(*headers, header_style="bold", show_lines=False)
        for row in cells:
            grid.add_row(*(safe(cell) for cell in row))
        self.console.print(grid)

    @contextmanager
    def progress(self, label: str, *, total: int | None = None) -> Iterator[Step]:
        """A progress bar while the block runs (a terminal only). The block reports with `step(done, total)`; with no
        total the bar pulses until the block ends (one long request)."""
        if not self.rich:
            yield lambda _done, _total: None
            return
        counted = (MofNCompleteColumn(),) if total is not None else ()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), *counted, TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(safe(label), total=total)

            def step(done: int, of: int) -> None:
                bar.update(task, completed=done, total=of)

            yield step
