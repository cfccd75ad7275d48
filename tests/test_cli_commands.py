"""`labbook projects | findings | decide | log (editor) | export` and `labbook restore`, against one real `labbook
serve` process: through Typer's runner for most cases, and through the installed console script once per command family.
The server and token come from a config file (`$XDG_CONFIG_HOME/labbook/config.toml`) unless a test says otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from tests.factories import HISTORY_CSV, hist_id
from tests.live import LiveServer, live_server

TOKEN = "cli-commands-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LABBOOK = str(Path(sys.executable).parent / "labbook")
EDITOR = "import sys, os; open(sys.argv[1], 'w').write(os.environ.get('NOTES', ''))"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("server"), token=TOKEN) as running:
        for slug in ("churn", "fraud"):
            body = {"slug": slug, "name": f"{slug.title()} <b>model</b>", "primary_metric": "Val AUC"}
            body |= {"metric_direction": "max", "target_value": 0.9}
            assert httpx.post(f"{running.url}/v1/projects", json=body, headers=AUTH).status_code == 201
        table = {"table": HISTORY_CSV, "format": "csv"}
        assert httpx.post(f"{running.url}/v1/projects/churn/runs/import", json=table, headers=AUTH).is_success
        yield running


@pytest.fixture
def env(server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A config file naming the server and token; no LABBOOK_URL/TOKEN; an editor that writes $NOTES."""
    config = tmp_path / "config" / "labbook" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'url = "{server.url}"\ntoken = "{TOKEN}"\n')
    config.chmod(0o600)
    values = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "EDITOR": f'{sys.executable} -c "{EDITOR}"',
    }
    for name in ("LABBOOK_URL", "LABBOOK_TOKEN", "VISUAL", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env=env)


def ok(*args: str, **kwargs: Any) -> Result:
    result = run(*args, **kwargs)
    assert result.exit_code == 0, f"labbook {' '.join(args)}: {result.output}\n{result.exception!r}"
    return result


def console_script(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("LABBOOK_URL", "LABBOOK_TOKEN", "FORCE_COLOR")}
    return subprocess.run(
        [LABBOOK, *args], input=input, capture_output=True, text=True, env={**environ, **env}, timeout=60, check=False
    )


def api(server: LiveServer, path: str, **params: Any) -> Any:
    response = httpx.get(f"{server.url}{path}", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


class TestProjects:
    def test_a_tab_separated_table_when_piped(self, env: dict[str, str]) -> None:
        lines = ok("projects").output.splitlines()
        assert lines[0] == "slug\tname\tmetric\ttarget\tdeadline\texperiments"
        assert lines[1:] == [
            "churn\tChurn <b>model</b>\tval_auc (max)\t0.9\t\t",
            "fraud\tFraud <b>model</b>\tval_auc (max)\t0.9\t\t",
        ]

    def test_a_grid_at_a_terminal(self, env: dict[str, str]) -> None:
        shown = ok("projects", env={"FORCE_COLOR": "1", "COLUMNS": "120"}).output
        assert "┏━" in shown and "slug" in shown and "│ churn" in shown and "\t" not in shown

    def test_the_environment_wins_over_the_config_file(self, env: dict[str, str], server: LiveServer) -> None:
        denied = run("projects", env={"LABBOOK_TOKEN": "wrong-token-0123456789"})
        assert denied.exit_code == 1 and "unauthorized, HTTP 401" in denied.exception.message
        unreachable = run("projects", "--url", "http://127.0.0.1:9")
        assert unreachable.exception.message.startswith("cannot reach Labbook at http://127.0.0.1:9")


class TestFindings:
    def test_the_servers_markdown_when_piped(self, env: dict[str, str], server: LiveServer) -> None:
        expected = httpx.get(f"{server.url}/v1/projects/churn/findings", headers={**AUTH, "Accept": "text/markdown"})
        assert ok("findings", "churn").output == expected.text + "\n"
        assert expected.text.startswith("# Churn &lt;b&gt;model&lt;/b&gt; — findings on val_auc (max)")

    def test_rendered_at_a_terminal(self, env: dict[str, str]) -> None:
        shown = ok("findings", "churn", env={"FORCE_COLOR": "1"}).output
        assert "current_best" in shown and "**current_best**" not in shown and "\x1b[" in shown


class TestDecide:
    def test_criteria_from_the_options(self, env: dict[str, str], server: LiveServer) -> None:
        args = ["decide", "churn", "weights-b", "smote-d", "-c", "val_auc:max:3", "-c", "val_f1:1"]
        shown = ok(*args, "--select", "smote-d", "--rationale", "=better recall").output
        (decision,) = api(server, "/v1/projects/churn/entries", kind="selection_decision")["items"][-1:]
        assert shown == decision["markdown"] + "\n"
        assert decision["body"]["selected"] == hist_id("5") and decision["body"]["rationale"] == "=better recall"
        assert [(c["name"], c["weight"]) for c in decision["body"]["criteria"]] == [("val_auc", 3.0), ("val_f1", 1.0)]

    def test_the_primary_metric_by_default(self, env: dict[str, str], server: LiveServer) -> None:
        ok("decide", "churn", "weights-b", "smote-d")
        (decision,) = api(server, "/v1/projects/churn/entries", kind="selection_decision")["items"][-1:]
        assert [(c["metric"], c["direction"]) for c in decision["body"]["criteria"]] == [("val_auc", "max")]
        assert decision["body"]["selected"] == hist_id("7")  # the top-ranked

    @pytest.mark.parametrize("spec", ["val_auc:up", "val_auc:max:-1", ":max", "a:max:1:2"])
    def test_a_criterion_that_cannot_be_read(self, env: dict[str, str], spec: str) -> None:
        result = run("decide", "churn", "weights-b", "-c", spec)
        assert result.exit_code == 1
        assert result.exception.message == (
            f"--criterion '{spec}': write METRIC[:max|min][:WEIGHT], e.g. val_auc:max:3"
        )


class TestLog:
    def test_written_in_the_editor(self, env: dict[str, str], server: LiveServer) -> None:
        notes = "smote didn't help\ntomorrow: group split\n"
        shown = ok("log", "fraud", "--edit", "--date", "2026-11-20", env={"NOTES": notes}).output
        log_id = int(shown.split()[1])
        assert api(server, f"/v1/logs/{log_id}")["text"] == notes
        assert "## Next steps\n\n- group split" in shown

    def test_piped_notes_need_no_editor(self, env: dict[str, str], server: LiveServer) -> None:
        shown = ok("log", "fraud", input="one more thing\n", env={"EDITOR": "false"}).output
        assert api(server, f"/v1/logs/{int(shown.split()[1])}")["text"] == "one more thing\n"

    def test_an_empty_editor_logs_nothing(self, env: dict[str, str]) -> None:
        result = run("log", "fraud", "--edit", env={"NOTES": "  \n"})
        assert result.exit_code == 1
        assert result.exception.message == "nothing to log: the brain dump is empty (or was not saved)"

    def test_notes_the_server_refused_are_kept(self, env: dict[str, str], tmp_path: Path) -> None:
        result = run("log", "no-such-project", "--edit", env={"NOTES": "a long day of notes"})
        assert result.exit_code == 1
        message = result.exception.message
        assert message.startswith("no project 'no-such-project' (project_not_found, HTTP 404, field slug)")
        (draft,) = (tmp_path / "state" / "labbook" / "unsent").iterdir()
        assert f"your notes are saved in {draft}" in message and draft.read_text() == "a long day of notes"


class TestExport:
    def test_the_report_and_the_backup_as_the_server_wrote_them(
        self, env: dict[str, str], server: LiveServer, tmp_path: Path
    ) -> None:
        out = tmp_path / "export"
        shown = ok("export", "churn", "-o", str(out)).output
        assert shown.splitlines()[0] == f"wrote {out / 'churn-report.md'} and {out / 'churn-backup.json'}"
        assert "run\t7" in shown.splitlines()
        backup = json.loads((out / "churn-backup.json").read_text())
        fresh = api(server, "/v1/projects/churn/export")
        assert {**backup, "exported_at": None} == {**fresh, "exported_at": None}
        assert (
            (out / "churn-report.md")
            .read_text()
            .startswith("# Project report: Churn &lt;b&gt;model&lt;/b&gt; (`churn`)")
        )
        assert not list(out.glob("*.part"))

    def test_an_earlier_export_is_overwritten_only_with_force(self, env: dict[str, str], tmp_path: Path) -> None:
        ok("export", "churn", "-o", str(tmp_path))
        again = run("export", "churn", "-o", str(tmp_path))
        assert again.exit_code == 1
        assert again.exception.message == f"{tmp_path / 'churn-report.md'} exists; --force overwrites it"
        ok("export", "churn", "-o", str(tmp_path), "--force")


class TestConsoleScript:
    """The installed `labbook`, once per command family."""

    def test_read_commands(self, env: dict[str, str]) -> None:
        done = console_script("projects", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[1].startswith("churn\t")
        findings = console_script("findings", "churn", env=env)
        assert findings.returncode == 0 and findings.stdout.startswith("# Churn")

    def test_writing_commands_and_their_errors(self, env: dict[str, str], server: LiveServer) -> None:
        done = console_script("log", "fraud", "--edit", env={**env, "NOTES": "from the console script"})
        assert done.returncode == 0, done.stderr
        decided = console_script("decide", "churn", "weights-b", "smote-d", "-c", "val_f1", env=env)
        assert decided.returncode == 0 and decided.stdout.startswith("# ")
        refused = console_script("decide", "churn", "no-such-run", env=env)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith("error: ") and "(input_invalid, HTTP 422, field finalists" in refused.stderr

    def test_export_then_restore_into_another_database(
        self, env: dict[str, str], server: LiveServer, tmp_path: Path
    ) -> None:
        done = console_script("export", "churn", "-o", str(tmp_path), env=env)
        assert done.returncode == 0, done.stderr
        target = {"DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}", "LABBOOK_RETRIEVAL": "off"}
        restored = console_script("restore", str(tmp_path / "churn-backup.json"), env={**env, **target})
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.splitlines()[0].startswith("restored project 'churn': ")
        assert "run\t7\tkept" in restored.stdout.splitlines()
        again = console_script("restore", str(tmp_path / "churn-backup.json"), env={**env, **target})
        assert again.returncode == 1
        assert again.stderr == (
            "error: a project 'churn' exists in this database; restore reads a backup into one that lacks it\n"
        )


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """`labbook restore` reads its settings once per process; runner tests share this one."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
