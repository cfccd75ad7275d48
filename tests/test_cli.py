"""The `labbook` server commands (token, migrate, demo) on a fresh SQLite file in the test's tmp dir.

The commands read their settings from the environment through the lru_cached `get_settings()`, so the fixture sets
the environment and clears that cache before and after each test.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli, main
from app.config import Settings, get_settings
from app.demo.seed import DEMO_SLUG, DUMPS, TOKEN_FILE, ensure_demo_token
from app.main import create_app
from app.storage.db import make_engine, migrate


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    monkeypatch.setenv("LABBOOK_DATA_DIR", str(data))
    # DATABASE_URL unset: the CLI uses <data_dir>/labbook.db. The others could point it at a developer's setup.
    for name in ("DATABASE_URL", "LABBOOK_CONFIG", "LABBOOK_API_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"labbook {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result


def create_token(name: str, *options: str) -> tuple[int, str]:
    """`labbook token create`; returns the id and the secret."""
    lines = run("token", "create", name, *options).output.splitlines()
    match = re.fullmatch(rf"token (\d+) '{name}' \(.+\):", lines[0])
    assert match, lines
    return int(match.group(1)), lines[1]


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int | str | None:
    """The console script's entry point, `main()`, with these arguments; returns its exit code."""
    monkeypatch.setattr(sys, "argv", ["labbook", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code


def token_rows(*options: str) -> dict[str, list[str]]:
    """`labbook token list` as {name: [id, name, prefix, scope, state]}."""
    output = run("token", "list", *options).output
    return {row[1]: row for row in (line.split("\t") for line in output.splitlines())}


def api(data_dir: Path) -> TestClient:
    """The HTTP service on the same SQLite file the CLI used."""
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'labbook.db'}")
    return TestClient(create_app(settings))


class TestTokenCreate:
    def test_prints_a_secret_once(self, data_dir: Path) -> None:
        result = run("token", "create", "alice")
        first, secret = result.output.splitlines()
        assert first == "token 1 'alice' (all projects):"
        assert secret.startswith("lbk_") and len(secret) > 40

    def test_project_option_scopes_the_token(self, data_dir: Path) -> None:
        result = run("token", "create", "bob", "--project", "churn")
        assert result.output.splitlines()[0].endswith("'bob' (churn):")
        assert token_rows()["bob"][3] == "churn"

    def test_the_secret_works_against_the_http_api(self, data_dir: Path) -> None:
        token_id, secret = create_token("alice")
        with api(data_dir) as client:
            headers = {"Authorization": f"Bearer {secret}"}
            assert client.get("/v1/projects", headers=headers).status_code == 200
            run("token", "revoke", str(token_id))
            response = client.get("/v1/projects", headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"


class TestTokenList:
    def test_shows_names_and_prefixes_but_never_the_secret(self, data_dir: Path) -> None:
        token_id, secret = create_token("alice")
        output = run("token", "list").output
        assert output.split("\t")[:2] == [str(token_id), "alice"]
        assert secret not in output
        assert token_rows()["alice"][2:] == [f"{secret[:10]}…", "*", "active"]

    def test_empty_database_lists_nothing(self, data_dir: Path) -> None:
        assert run("token", "list").output == ""


class TestTokenRevoke:
    def test_revoked_token_is_hidden_unless_all(self, data_dir: Path) -> None:
        token_id, _ = create_token("alice")
        create_token("bob")
        assert run("token", "revoke", str(token_id)).output == f"token {token_id} 'alice' revoked\n"
        assert set(token_rows()) == {"bob"}
        everything = token_rows("--all")
        assert everything["alice"][4].startswith("revoked ")
        assert everything["bob"][4] == "active"

    def test_unknown_id_exits_1_with_the_message(
        self, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # Through main(), the console script's entry point: it turns a LabbookError into a message and exit 1.
        assert run_main(monkeypatch, "token", "revoke", "999") == 1
        captured = capsys.readouterr()
        assert captured.err == "error: no token with id 999\n"
        assert "Traceback" not in captured.out + captured.err

    def test_invalid_input_exits_1_naming_the_field(
        self, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_main(monkeypatch, "token", "create", "bob", "--project", "Not A Slug") == 1
        err = capsys.readouterr().err
        assert err.startswith("error: projects.0: ")
        assert "Traceback" not in err
        assert token_rows("--all") == {}

    def test_console_script_exits_1_with_the_message(self, data_dir: Path) -> None:
        # The installed `labbook` entry point (pyproject [project.scripts]) in a real process, as a shell sees it.
        labbook = Path(sys.executable).parent / "labbook"
        env = {**os.environ, "LABBOOK_DATA_DIR": str(data_dir)}
        done = subprocess.run(
            [str(labbook), "token", "revoke", "999"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert (done.returncode, done.stderr, done.stdout) == (1, "error: no token with id 999\n", "")

    def test_main_exits_0_on_success(
        self, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_main(monkeypatch, "token", "create", "carol") == 0
        assert capsys.readouterr().out.startswith("token 1 'carol'")


class TestMigrate:
    def test_creates_the_sqlite_file(self, data_dir: Path) -> None:
        assert not (data_dir / "labbook.db").exists()
        assert run("migrate").output == "database is up to date (sqlite)\n"
        assert (data_dir / "labbook.db").is_file()

    def test_is_idempotent(self, data_dir: Path) -> None:
        run("migrate")
        assert run("migrate").output == "database is up to date (sqlite)\n"


def demo(data_dir: Path) -> tuple[str, str, int, int]:
    """`labbook demo --no-serve` as the console script, so a real MLflow server starts and stops with it; returns the
    whole output, the token and the run and brain-dump counts."""
    labbook = shutil.which("labbook", path=str(Path(sys.executable).parent))
    assert labbook, "the labbook console script is installed next to the interpreter"
    env = {**os.environ, "LABBOOK_DATA_DIR": str(data_dir)}
    done = subprocess.run([labbook, "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = re.search(rf"project '{DEMO_SLUG}' \((\d+) runs, (\d+) brain dumps\)", done.stdout)
    token = re.search(r"Token: +(lbk_\S+)", done.stdout)
    assert counts and token, done.stdout
    return done.stdout, token.group(1), int(counts.group(1)), int(counts.group(2))


def demo_token(data_dir: Path) -> str:
    """The demo token as `labbook demo` gets it (kept, or replaced when revoked), without starting MLflow."""
    engine = make_engine(get_settings().sqlalchemy_url)
    migrate(engine)
    try:
        with Session(engine) as session:
            token = ensure_demo_token(session, settings=get_settings())
            session.commit()
            return token
    finally:
        engine.dispose()


class TestDemo:
    def test_first_start_seeds_and_second_start_reuses(self, data_dir: Path) -> None:
        output, token, runs, logs = demo(data_dir)
        # With --no-serve both servers are gone when it returns: it says so, with no URLs to try.
        assert "MLflow and Labbook have stopped (--no-serve)" in output, output
        assert "http://" not in output and "Try:" not in output, output
        assert re.search(r"^seeded in \d+\.\d s$", output, re.MULTILINE), output
        assert "View run" not in output  # MLflow's client noise stays out of the demo's output
        # A short progress line per step, never the services' INFO log lines.
        assert " INFO " not in output and "HTTP Request" not in output, output
        steps = [line for line in output.splitlines() if line.startswith("demo: ")]
        assert 3 <= len(steps) <= 8 and len(output.splitlines()) <= 16, output
        # Without a server to run the worker, the entries are written back to MLflow before it stops.
        written = re.search(r"^ *written back to MLflow: (\d+) write-backs \(0 to retry\)$", output, re.MULTILINE)
        assert written and int(written.group(1)) >= 10, output
        assert logs == len(DUMPS) and runs >= 35
        with api(data_dir) as client:
            response = client.get(
                f"/v1/projects/{DEMO_SLUG}/runs?limit=100", headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text
        assert runs == len(response.json()["items"])
        assert stat.S_IMODE((data_dir / TOKEN_FILE).stat().st_mode) == 0o600
        assert (data_dir / TOKEN_FILE).read_text().strip() == token

        output_again, token_again, runs_again, logs_again = demo(data_dir)
        assert (token_again, runs_again, logs_again) == (token, runs, logs)
        assert "written back to MLflow: 0 write-backs (0 to retry)" in output_again  # nothing new to write
        assert list(token_rows()) == ["demo"]

    def test_revoked_demo_token_is_replaced(self, data_dir: Path) -> None:
        old = demo_token(data_dir)
        assert demo_token(data_dir) == old
        run("token", "revoke", token_rows()["demo"][0])
        new = demo_token(data_dir)
        assert new != old and new.startswith("lbk_")
        assert (data_dir / TOKEN_FILE).read_text().strip() == new
        assert stat.S_IMODE((data_dir / TOKEN_FILE).stat().st_mode) == 0o600
