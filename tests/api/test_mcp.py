"""The chat tools through the official MCP client, against a real `labbook serve`: over streamable HTTP at `/mcp`, and
over stdio through `labbook mcp` pointed at the same server. Every tool answers in Markdown that cites runs by name and
short ID; a token limited to one project reaches nothing of another through any tool or resource.

One server for the module (retrieval on, so search answers for real; one request admitted at a time, so every tool
call shows that its own call to /v1 runs under its request's slot), seeded with two projects: `churn`, which the
tools work on, and `secret`, which a token scoped to `churn` must never see."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent, TextResourceContents

from tests.live import LiveServer, free_port, live_server
from tests.retrieval.conftest import CHROMA_URL

ADMIN = "mcp-admin-token-0123456789"
ENV = {
    # One request at a time: each tool's own call to /v1 must run under the slot of the /mcp request that made it
    # (queued behind it, it would wait out LABBOOK_QUEUE_WAIT_SECONDS and fail with a 503).
    "LABBOOK_MAX_CONCURRENCY": "1",
    "LABBOOK_RETRIEVAL": "on",
    "LABBOOK_OUTBOX_POLL_SECONDS": "0.2",
    **({"LABBOOK_CHROMA_URL": CHROMA_URL} if CHROMA_URL else {}),
}
LABBOOK = str(Path(sys.executable).parent / "labbook")

CHURN_TABLE = """\
| Run ID | Run name | Model | Key hyperparams | Val AUC |
|---|---|---|---|---|
| 5c6d70a1e2f3 | smote-try | lightgbm+smote | lr=0.05, num_leaves=31 | 0.858 |
| 9b22c4f07a6e | lgbm-base | lightgbm | lr=0.05, num_leaves=31 | 0.861 |
| 0d81ee3b9c2d | xgb-first | xgboost | eta=0.1, max_depth=6 | 0.857 |
"""
CHURN_DUMP = (
    "Tried SMOTE on train only (5c6d70a1e2f3): val auc 0.858 vs 0.861 for lgbm-base 9b22c4f07a6e. "
    "Didn't help, and it costs 2x training time.\nNext: try class weights instead."
)
# What only the `secret` project holds: none of it may reach a token scoped to `churn`.
SECRET_RUN = "feedbeef00c0ffee"
SECRET_TABLE = f"| Run ID | Run name | Val AUC |\n|---|---|---|\n| {SECRET_RUN} | walrus-run | 0.991 |\n"
SECRET_DUMP = f"The walrus features ({SECRET_RUN}) reach 0.991; nobody outside the team may know."
# Strings only `secret` holds, which no probe sends (a tool may repeat the caller's own words: a search's title, an
# error naming the run asked for).
SECRET_MARKERS = ("nobody outside", "0.991", "Hidden", "the walrus question")

LABEL_BASE = "lgbm-base (9b22c4f0)"  # how every answer cites the run: its name and short ID


@dataclass
class Seeded:
    server: LiveServer
    scoped: str  # a token limited to `churn`
    secret_entry: int  # the id of the `secret` dump's log entry


def _post(server: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def _project(slug: str, name: str, goal: str) -> dict[str, Any]:
    return {"slug": slug, "name": name, "goal": goal, "primary_metric": "Val AUC", "metric_direction": "max"}


def _wait_indexed(server: LiveServer, slug: str) -> None:
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {ADMIN}"}
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.url}/v1/projects/{slug}/search", params={"q": "x"}, headers=headers)
        assert response.status_code in (200, 503), response.text  # 503: Chroma busy, ask again
        if response.status_code == 200 and response.json()["not_indexed"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"the dumps of {slug} were not indexed in time")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with live_server(tmp_path_factory.mktemp("mcp"), token=ADMIN, env=ENV) as server:
        _post(server, "/v1/projects", _project("churn", "Churn", "predict churn"))
        _post(server, "/v1/projects", _project("secret", "Hidden", "the walrus question"))
        _post(server, "/v1/projects/churn/logs", {"text": CHURN_DUMP, "run_table": CHURN_TABLE})
        secret = _post(server, "/v1/projects/secret/logs", {"text": SECRET_DUMP, "run_table": SECRET_TABLE})
        scoped = _post(server, "/v1/tokens", {"name": "churn-only", "projects": ["churn"]})["token"]
        for slug in ("churn", "secret"):
            _wait_indexed(server, slug)
        yield Seeded(server=server, scoped=scoped, secret_entry=secret["log_entry"]["id"])


# -- the official client over both transports --------------------------------------------------------------------------


@asynccontextmanager
async def over_http(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def over_stdio(url: str, token: str, errlog: TextIO) -> AsyncIterator[ClientSession]:
    """`labbook mcp` as a desktop assistant starts it: its environment names the server and the token."""
    env = {"LABBOOK_URL": url, "LABBOOK_TOKEN": token}
    env |= {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}  # the checkout under test
    params = StdioServerParameters(command=LABBOOK, args=["mcp"], env=env)
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent), result
    return result.content[0].text


# -- what each tool is asked, and what its answer must say -------------------------------------------------------------

# (tool, arguments, strings the answer holds). Runs are cited by label; the documents are the /v1 documents.
CALLS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("list_projects", {}, ("# Projects", "- **Churn** (`churn`): predict churn. Primary metric `val_auc` (max).")),
    (
        "log_session",
        {
            "project": "churn",
            "text": "Class weights on lgbm-base 9b22c4f07a6e gave val auc 0.861, no gain.\nNext: try focal loss.",
            "session_date": "2026-11-20",
        },
        ("## Next steps", "focal loss", LABEL_BASE),
    ),
    ("get_findings", {"project": "churn"}, ("# Churn — findings on val_auc (max)", f"(runs: {LABEL_BASE}, smote-try")),
    ("summarize_phase", {"project": "churn", "since": "2026-01-01"}, ("# Phase summary: Churn", LABEL_BASE)),
    (
        "suggest_next",
        {"project": "churn", "budget_runs": 5},
        ("# Next experiments: Churn", "Budget: 5 runs", LABEL_BASE),
    ),
    (
        "was_it_tried",
        {"project": "churn", "proposal": "lightgbm with num_leaves=31"},
        ("**Verdict: tried.**", f"| {LABEL_BASE} | 0.861 |"),
    ),
    (
        "search_history",
        {"project": "churn", "query": "SMOTE training time"},
        ("# Search: SMOTE training time", "Tried **SMOTE** on train only"),
    ),
    (
        "document_decision",
        {
            "project": "churn",
            "finalists": ["9b22c4f07a6e", "0d81ee3b9c2d"],
            "criteria": [{"name": "AUC", "weight": 1, "metric": "val_auc"}],
            "rationale": "the best AUC",
        },
        (f"| 1 | {LABEL_BASE} ← selected |", "## Rationale\n\nthe best AUC"),
    ),
    ("reproduction_report", {"project": "churn", "run": "lgbm-base"}, (f"Run {LABEL_BASE}, judged on **val_auc**",)),
    ("handover_brief", {"project": "churn", "audience": "Dana"}, ("# Handover brief: Churn", "Written for: Dana.")),
]
TOOLS = [name for name, _, _ in CALLS]


def check_answer(name: str, answer: str, expected: tuple[str, ...]) -> None:
    for part in expected:
        assert part in answer, f"{name}: {part!r} not in\n{answer}"
    if name != "list_projects":  # the admin token sees both projects; no answer about churn holds the secret's
        assert not any(marker in answer for marker in SECRET_MARKERS), answer


class TestOverStreamableHttp:
    def test_the_tools_are_listed_with_their_descriptions_and_schemas(self, seeded: Seeded) -> None:
        async def listed() -> Any:
            async with over_http(seeded.server.url, ADMIN) as session:
                return (await session.list_tools()).tools

        tools = {tool.name: tool for tool in anyio.run(listed)}
        assert sorted(tools) == sorted(TOOLS)
        for tool in tools.values():
            assert tool.description and len(tool.description) > 120, tool.name
            assert tool.input_schema["type"] == "object"
        assert tools["log_session"].input_schema["required"] == ["project", "text"]
        assert "description" in tools["log_session"].input_schema["properties"]["project"]
        assert tools["get_findings"].annotations and tools["get_findings"].annotations.read_only_hint
        assert tools["log_session"].annotations and tools["log_session"].annotations.read_only_hint is False

    @pytest.mark.parametrize(("name", "arguments", "expected"), CALLS, ids=TOOLS)
    def test_tool(self, seeded: Seeded, name: str, arguments: dict[str, Any], expected: tuple[str, ...]) -> None:
        async def call() -> CallToolResult:
            async with over_http(seeded.server.url, ADMIN) as session:
                return await session.call_tool(name, arguments)

        result = anyio.run(call)
        assert not result.is_error, text_of(result)
        check_answer(name, text_of(result), expected)

    def test_resources_hold_the_findings_and_the_entries(self, seeded: Seeded) -> None:
        async def read() -> tuple[list[str], str, str]:
            async with over_http(seeded.server.url, ADMIN) as session:
                templates = (await session.list_resource_templates()).resource_templates
                findings = (await session.read_resource("labbook://projects/churn/findings")).contents[0]
                entries = (await session.read_resource("labbook://projects/churn/entries")).contents[0]
                assert isinstance(findings, TextResourceContents) and isinstance(entries, TextResourceContents)
                return [t.uri_template for t in templates], findings.text, entries.text

        templates, findings, entries = anyio.run(read)
        assert "labbook://projects/{slug}/findings" in templates and "labbook://projects/{slug}/entries" in templates
        assert findings.startswith("# Churn — findings on val_auc (max)") and LABEL_BASE in findings
        assert "## What didn't work" in entries and "smote-try (5c6d70a1)" in entries

    def test_the_server_admits_one_request_at_a_time(self, seeded: Seeded) -> None:
        """What makes every tool call here a test of `load.IN_PROCESS` (see ENV)."""
        assert httpx.get(f"{seeded.server.url}/healthz").json()["load"]["limit"] == 1

    def test_without_a_valid_token_it_is_401_as_for_v1(self, seeded: Seeded) -> None:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = httpx.post(f"{seeded.server.url}/mcp", json=ping, headers=headers)
            assert response.status_code == 401, response.text
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["error"]["code"] == "unauthorized"

    def test_it_offers_no_stream_to_hold_open(self, seeded: Seeded) -> None:
        """Stateless: nothing is sent unasked, so a GET (an SSE stream) and a DELETE (a session) are 405."""
        headers = {"Authorization": f"Bearer {ADMIN}", "Accept": "text/event-stream"}
        for method in ("GET", "DELETE"):
            response = httpx.request(method, f"{seeded.server.url}/mcp", headers=headers, timeout=10)
            assert response.status_code == 405, response.text
            assert response.headers["Allow"] == "POST"


class TestOverStdio:
    def test_every_tool(self, seeded: Seeded, tmp_path: Path) -> None:
        async def call_all() -> dict[str, CallToolResult]:
            with (tmp_path / "mcp.log").open("w") as errlog:
                async with over_stdio(seeded.server.url, ADMIN, errlog) as session:
                    assert sorted(t.name for t in (await session.list_tools()).tools) == sorted(TOOLS)
                    return {name: await session.call_tool(name, arguments) for name, arguments, _ in CALLS}

        results = anyio.run(call_all)
        for name, _, expected in CALLS:
            assert not results[name].is_error, text_of(results[name])
            check_answer(name, text_of(results[name]), expected)

    def test_a_server_it_cannot_reach_is_the_tools_error(self, tmp_path: Path) -> None:
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there

        async def call() -> CallToolResult:
            with (tmp_path / "mcp.log").open("w") as errlog:
                async with over_stdio(url, ADMIN, errlog) as session:
                    return await session.call_tool("list_projects", {})

        result = anyio.run(call)
        assert result.is_error and f"cannot reach Labbook at {url}" in text_of(result)

    def test_without_a_token_it_says_so(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "LABBOOK_TOKEN"}
        env["XDG_CONFIG_HOME"] = str(tmp_path)  # no config file with a token either
        done = subprocess.run([LABBOOK, "mcp"], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 2
        assert "LABBOOK_TOKEN" in done.stderr and done.stdout == ""


# -- a token scoped to `churn` reaches nothing of `secret` -------------------------------------------------------------

# Every tool pointed at `secret`, with arguments that would be valid there.
ON_SECRET: list[tuple[str, dict[str, Any]]] = [
    ("log_session", {"project": "secret", "text": "what is in here?"}),
    ("get_findings", {"project": "secret"}),
    ("summarize_phase", {"project": "secret"}),
    ("suggest_next", {"project": "secret"}),
    ("was_it_tried", {"project": "secret", "proposal": "walrus features"}),
    ("search_history", {"project": "secret", "query": "walrus"}),
    (
        "document_decision",
        {
            "project": "secret",
            "finalists": [SECRET_RUN],
            "criteria": [{"name": "AUC", "weight": 1, "metric": "val_auc"}],
        },
    ),
    ("reproduction_report", {"project": "secret", "run": SECRET_RUN}),
    ("handover_brief", {"project": "secret"}),
]
# The secret's runs and words asked for through the project the token may see, with what the answer must not say
# besides the markers (a run asked for by ID must not be named, and the other way round).
THROUGH_CHURN: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("search_history", {"project": "churn", "query": "walrus features"}, ("walrus-run", "feedbeef")),
    ("reproduction_report", {"project": "churn", "run": SECRET_RUN}, ("walrus-run",)),
    ("reproduction_report", {"project": "churn", "run": "walrus-run"}, ("feedbeef",)),
    (
        "document_decision",
        {
            "project": "churn",
            "finalists": [SECRET_RUN],
            "criteria": [{"name": "AUC", "weight": 1, "metric": "val_auc"}],
        },
        ("walrus-run",),
    ),
    ("was_it_tried", {"project": "churn", "proposal": "walrus features"}, ("walrus-run", "feedbeef")),
]


def assert_nothing_leaked(text: str, also: tuple[str, ...] = ()) -> None:
    assert not any(marker in text for marker in (*SECRET_MARKERS, *also)), text


async def probe(session: ClientSession, entry_id: int) -> dict[str, Any]:
    """Every way in, with the scoped token: each tool on `secret`, the secret through `churn`, the resources."""
    answers: dict[str, Any] = {"list_projects": await session.call_tool("list_projects", {})}
    answers |= {f"{name} on secret": await session.call_tool(name, args) for name, args in ON_SECRET}
    for i, (name, args, _) in enumerate(THROUGH_CHURN):
        answers[f"via churn {i}"] = await session.call_tool(name, args)
    for uri in (
        "labbook://projects/secret/findings",
        "labbook://projects/secret/entries",
        f"labbook://entries/{entry_id}",
    ):
        try:
            answers[uri] = await session.read_resource(uri)
        except MCPError as exc:
            answers[uri] = exc
    return answers


def check_scoped(answers: dict[str, Any]) -> None:
    listed = text_of(answers.pop("list_projects"))
    assert "`churn`" in listed and "`secret`" not in listed
    assert_nothing_leaked(listed)
    assert len(answers) == len(ON_SECRET) + len(THROUGH_CHURN) + 3
    for where, answer in answers.items():
        if where.endswith(" on secret"):
            assert answer.is_error, (where, text_of(answer))
            assert "no project 'secret' (project_not_found, HTTP 404)" in text_of(answer), where
        if where.startswith("via churn"):
            assert_nothing_leaked(text_of(answer), also=THROUGH_CHURN[int(where.split()[-1])][2])
        if isinstance(answer, CallToolResult):
            assert_nothing_leaked(text_of(answer))
        elif where.startswith("labbook://"):
            assert isinstance(answer, MCPError), (where, answer)  # a resource outside the scope is not there
            assert "HTTP 404" in str(answer), where
            assert_nothing_leaked(str(answer))


class TestScopedToken:
    def test_it_cannot_reach_another_project_over_http(self, seeded: Seeded) -> None:
        async def run() -> dict[str, Any]:
            async with over_http(seeded.server.url, seeded.scoped) as session:
                return await probe(session, seeded.secret_entry)

        check_scoped(anyio.run(run))

    def test_it_cannot_reach_another_project_over_stdio(self, seeded: Seeded, tmp_path: Path) -> None:
        async def run() -> dict[str, Any]:
            with (tmp_path / "mcp.log").open("w") as errlog:
                async with over_stdio(seeded.server.url, seeded.scoped, errlog) as session:
                    return await probe(session, seeded.secret_entry)

        check_scoped(anyio.run(run))

    def test_the_probe_sees_what_a_full_token_sees(self, seeded: Seeded) -> None:
        """The check can fail: the same probe with the admin token reaches `secret`, and the check says so."""

        async def run() -> dict[str, Any]:
            async with over_http(seeded.server.url, ADMIN) as session:
                return await probe(session, seeded.secret_entry)

        answers = anyio.run(run)
        with pytest.raises(AssertionError):
            check_scoped(answers)
        assert "0.991" in text_of(answers["get_findings on secret"])  # what the scoped token must never read

    def test_it_still_works_on_its_own_project(self, seeded: Seeded) -> None:
        async def call() -> CallToolResult:
            async with over_http(seeded.server.url, seeded.scoped) as session:
                return await session.call_tool("get_findings", {"project": "churn"})

        result = anyio.run(call)
        assert not result.is_error and LABEL_BASE in text_of(result)
