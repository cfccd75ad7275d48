"""The Dockerfile, checked statically: no container engine runs on these machines (see ARCHITECTURE.md).

Each test checks one thing a `docker build` or `docker run` would trip over: a COPY of a missing or ignored file,
a CMD naming a command the CLI does not have, a port or health URL that does not match the server.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def words(self) -> list[str]:
        """Exec form (a JSON array) or shell form, split as a shell would."""
        if self.args.startswith("["):
            value = json.loads(self.args)
            assert isinstance(value, list), f"Dockerfile:{self.line}: {self.keyword} is not a JSON array"
            return [str(v) for v in value]
        return shlex.split(self.args)


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with `\\` continuations joined; comments and blank lines dropped (also inside continuations)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if line.endswith("\\"):
            continue
        keyword, _, args = " ".join(pending).partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
        pending = []
    assert not pending, f"Dockerfile:{start}: the last instruction ends in a continuation"
    return instructions


def _flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split leading `--name=value` flags (COPY --chown=..., HEALTHCHECK --interval=...) from the rest."""
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


@cache
def instructions() -> tuple[Instruction, ...]:
    return tuple(parse_dockerfile(DOCKERFILE.read_text()))


def only(keyword: str) -> Instruction:
    found = [i for i in instructions() if i.keyword == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    return found[-1]  # the last one is the one that takes effect


def copy_sources() -> list[tuple[Instruction, str]]:
    sources = []
    for instruction in instructions():
        if instruction.keyword in {"COPY", "ADD"}:
            flags, words = _flags(instruction.words())
            if "from" not in flags:  # --from copies out of another stage or image, not the build context
                sources += [(instruction, source) for source in words[:-1]]
    return sources


def cmd() -> list[str]:
    words = only("CMD").words()
    assert only("CMD").args.startswith("["), "use the exec form, so signals reach the server (no shell in between)"
    return words


def cmd_port() -> int:
    words = cmd()
    return int(words[words.index("--port") + 1])


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


# .dockerignore follows Go's filepath.Match plus `**`, and a path is excluded when it or any parent matches.
def _pattern(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i])))
            i += 1
    return re.compile("".join(out) + r"\Z")


def dockerignored(path: str, lines: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = _pattern(line.removeprefix("!").strip().strip("/"))
        if any(pattern.match(prefix) for prefix in prefixes):
            ignored = not negated  # the last matching line wins
    return ignored


def ignore_lines() -> list[str]:
    return DOCKERIGNORE.read_text().splitlines()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("LABBOOK_DATA_DIR", str(tmp_path / "data"))
    for name in ("DATABASE_URL", "LABBOOK_CONFIG", "LABBOOK_API_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- the parsers -------------------------------------------------------------------------------------------------------


def test_parser_joins_continuations_and_skips_comments() -> None:
    text = 'FROM x\n# note\nRUN a \\\n  # inside\n  && b\n\nCMD ["c", "d"]\n'
    parsed = parse_dockerfile(text)
    assert [(i.line, i.keyword, i.args) for i in parsed] == [
        (1, "FROM", "x"),
        (3, "RUN", "a && b"),
        (7, "CMD", '["c", "d"]'),
    ]
    assert parsed[2].words() == ["c", "d"]


@pytest.mark.parametrize(
    ("path", "lines", "ignored"),
    [
        (".venv/bin/python", [".venv"], True),
        ("app/main.py", [".venv"], False),
        ("sub/x.db", ["**/*.db"], True),
        ("x.db", ["**/*.db"], True),
        ("app/data/x.py", ["data"], False),
        ("data/x", ["/data/"], True),
        ("README.md", ["*.md", "!README.md"], False),
    ],
)
def test_dockerignore_matcher(path: str, lines: list[str], ignored: bool) -> None:
    assert dockerignored(path, lines) is ignored


# -- the Dockerfile ----------------------------------------------------------------------------------------------------


def test_base_image_is_python_311_slim() -> None:
    assert instructions()[0].keyword == "FROM"
    assert only("FROM").args == "python:3.11-slim"


@pytest.mark.parametrize("source", sorted({s for _, s in copy_sources()}))
def test_copy_source_exists_and_is_not_dockerignored(source: str) -> None:
    assert list(REPO.glob(source)), f"COPY {source}: no such file in the repo"
    assert not dockerignored(source, ignore_lines()), f"COPY {source}: excluded by .dockerignore"


def test_copies_everything_the_wheel_is_built_from() -> None:
    """pip builds the wheel from the image's copy: pyproject's readme, packages and force-included files."""
    copied = {source.rstrip("/") for _, source in copy_sources()}
    wheel = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", pyproject()["project"]["readme"], *wheel["packages"], *wheel.get("force-include", {})}
    missing = [n for n in sorted(needed) if not any(n == c or n.startswith(c + "/") for c in copied)]
    assert not missing, f"the Dockerfile does not COPY {missing}"


def test_installs_the_project_with_the_pinned_constraints() -> None:
    runs = [i.args for i in instructions() if i.keyword == "RUN"]
    assert any(re.search(r"pip install -c constraints\.txt \.(\s|$)", run) for run in runs), runs
    assert "constraints.txt" in {source for _, source in copy_sources()}


def test_cmd_is_the_labbook_console_script() -> None:
    name = cmd()[0]
    scripts = pyproject()["project"]["scripts"]
    assert name == "labbook" and name in scripts, f"CMD runs {name!r}; [project.scripts] has {sorted(scripts)}"
    module, _, function = scripts[name].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_cmd_subcommand_is_a_real_cli_command() -> None:
    assert cmd()[1] == "serve"
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--host" in result.output and "--port" in result.output


def test_cmd_arguments_reach_the_server(cli_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the CMD's arguments through the real CLI, stopping at uvicorn's door."""
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(kwargs))
    result = CliRunner().invoke(cli, cmd()[1:])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("0.0.0.0", 8000)


def test_runs_as_a_user_other_than_root() -> None:
    user = only("USER").args.split(":")[0]
    assert user not in {"root", "0"}


def test_expose_matches_the_cmd_port() -> None:
    exposed = {int(word.split("/")[0]) for word in only("EXPOSE").words()}
    assert exposed == {cmd_port()}


def test_data_dir_is_a_volume() -> None:
    env = dict(word.partition("=")[::2] for i in instructions() if i.keyword == "ENV" for word in i.words())
    assert env.get("LABBOOK_DATA_DIR") == "/data"
    assert "/data" in only("VOLUME").words()


def test_healthcheck_fetches_healthz_on_the_served_port() -> None:
    flags, words = _flags(only("HEALTHCHECK").words())
    assert words[0] == "CMD", words
    command = json.loads(only("HEALTHCHECK").args.partition("CMD")[2])  # exec form: no shell needed in the image
    assert command[:2] == ["python", "-c"], command
    compile(command[2], "<healthcheck>", "exec")  # a typo in the one-liner would only show as "unhealthy"
    assert f"http://127.0.0.1:{cmd_port()}/healthz" in command[2]
    assert "urllib" in command[2] and "timeout" in flags


def test_healthz_answers_without_a_token(anon: TestClient) -> None:
    response = anon.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "labbook-data/labbook.db",
        "data/labbook.db",
        "labbook.db",
        "x/a.db-wal",
        "x/a.db-writers",
    ],
)
def test_dockerignore_keeps_environments_and_data_out(path: str) -> None:
    assert dockerignored(path, ignore_lines()), f".dockerignore lets {path} into the build context"
