"""What the user commands print (app.terminal) and where they find their server (app.client's config file), without a
server: rendered at a terminal, plain when piped, control characters never reaching a terminal as such."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from app.client import DEFAULT_URL, resolve_target
from app.errors import ConfigInvalid
from app.terminal import Output, safe


def terminal() -> tuple[Output, io.StringIO]:
    buffer = io.StringIO()
    return Output(Console(file=buffer, force_terminal=True, width=100, color_system="standard")), buffer


def pipe() -> tuple[Output, io.StringIO]:
    buffer = io.StringIO()
    return Output(Console(file=buffer, force_terminal=False)), buffer


class TestOutput:
    def test_markdown_is_rendered_at_a_terminal(self) -> None:
        out, buffer = terminal()
        out.markdown("# Churn — findings\n\n- **current_best**: run `abc` with 0.87\n")
        shown = buffer.getvalue()
        assert "\x1b[" in shown  # styled
        assert "Churn — findings" in shown and "# Churn" not in shown and "**current_best**" not in shown

    def test_markdown_is_the_servers_text_when_piped(self, capsys: pytest.CaptureFixture[str]) -> None:
        out, _ = pipe()
        out.markdown("# Churn\n\n- **a**\n")
        assert capsys.readouterr().out == "# Churn\n\n- **a**\n\n"

    def test_tables_are_aligned_at_a_terminal_and_tab_separated_when_piped(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out, buffer = terminal()
        out.table(["slug", "name"], [["churn", "Churn model"], ["fraud-detection", None]])
        lines = [line for line in buffer.getvalue().splitlines() if "churn" in line or "fraud" in line]
        assert len(lines) == 2 and len({line.index("│", 2) for line in lines}) == 1  # one column edge for both rows
        plain, _ = pipe()
        plain.table(["slug", "name"], [["churn", "Churn\tmodel"], ["fraud-detection", None]])
        assert capsys.readouterr().out == "slug\tname\nchurn\tChurn model\nfraud-detection\t\n"

    @pytest.mark.parametrize("shown", ["line", "markdown", "table"])
    def test_control_characters_never_reach_a_terminal(self, shown: str) -> None:
        hostile = "title \x1b]0;owned\x07 clear \x1b[2J rtl \u202eexe.txt"
        out, buffer = terminal()
        {"line": out.line, "markdown": out.markdown, "table": lambda t: out.table(["x"], [[t]])}[shown](hostile)
        text = buffer.getvalue()
        assert "\x1b]0;" not in text and "\x07" not in text and "\x1b[2J" not in text and "\u202e" not in text
        assert "\\x1b]0;owned\\x07" in text and "\\u202e" in text

    def test_safe_keeps_line_breaks_and_tabs(self) -> None:
        assert safe("a\tb\nc\x00d\x9be") == "a\tb\nc\\x00d\\x9be"

    def test_a_progress_bar_at_a_terminal_only(self) -> None:
        out, buffer = terminal()
        with out.progress("restoring churn", total=10) as step:
            step(5, 10)
            out.console.file.flush()
        assert "restoring churn" in buffer.getvalue()
        plain, quiet = pipe()
        with plain.progress("restoring churn", total=10) as step:
            step(5, 10)
        assert quiet.getvalue() == ""


class TestConfigFile:
    def write(self, tmp_path: Path, text: str, mode: int = 0o600) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text)
        os.chmod(path, mode)
        return path

    def test_url_and_token_come_from_the_file_when_not_given(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, 'url = "https://labbook.example"\ntoken = "lbk_file"\n')
        target = resolve_target(url=None, token=None, path=path)
        assert (target.url, target.token, target.warning) == ("https://labbook.example", "lbk_file", None)

    def test_what_is_given_wins_over_the_file(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, 'url = "https://labbook.example"\ntoken = "lbk_file"\n')
        target = resolve_target(url="http://127.0.0.1:9000", token="lbk_env", path=path)
        assert (target.url, target.token) == ("http://127.0.0.1:9000", "lbk_env")
        assert resolve_target(url=None, token="lbk_env", path=path).url == "https://labbook.example"

    def test_no_file_means_the_local_server_and_no_token(self, tmp_path: Path) -> None:
        target = resolve_target(url=None, token=None, path=tmp_path / "missing.toml")
        assert (target.url, target.token) == (DEFAULT_URL, None)

    def test_a_token_others_can_read_is_warned_about(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, 'token = "lbk_file"\n', mode=0o644)
        warning = resolve_target(url=None, token=None, path=path).warning
        assert warning == f"{path} holds a token and others can read it: chmod 600 {path}"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('url = "x"\ntokn = "y"\n', "unknown key 'tokn' (known: url, token)"),
            ("url = 3\n", "'url' must be a non-empty string"),
            ('url = "x"\ntoken "y"\n', "Expected '=' after a key in a key/value pair (at line 2, column 7)"),
        ],
    )
    def test_a_broken_file_is_an_error_naming_the_key_or_line(self, tmp_path: Path, text: str, message: str) -> None:
        path = self.write(tmp_path, text)
        with pytest.raises(ConfigInvalid) as error:
            resolve_target(url=None, token=None, path=path)
        assert error.value.message == f"{path}: {message}"
