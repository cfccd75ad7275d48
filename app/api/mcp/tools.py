"""The chat tools and resources. Each is one call to the `/v1` API (app/api/mcp/api.py), answered in Markdown: the API's
own Markdown where it has one, so a tool says exactly what the HTTP answer says and cites runs the same way
(`name (abcdef12)`).

The descriptions are written for a model choosing among tools: what the tool answers, when to use it, and what to
use instead."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date
from functools import cache
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import ToolAnnotations
from pydantic import Field

from app import __version__
from app.api.mcp.api import Refused, body_of, call, markdown, project_path
from app.services.schemas import SLUG_RE, CriterionCreate

INSTRUCTIONS = """\
Labbook keeps the story of a team's ML experiments: brain dumps of each session, the runs they cite, and the \
documents composed from them. Every tool takes a project's slug: call list_projects first when you do not know it. \
Answers cite runs by name and short ID, e.g. `lightgbm (9b22c4f0)`; quote them as given, never invent runs or \
numbers. Read-only tools: list_projects, get_findings, search_history. The others store what they write as an entry \
of the project's history (a brain dump, a summary, a plan, a decision, a report, a brief)."""

PROJECTS_SHOWN = 500  # one page of the API
ENTRIES_SHOWN = 50  # the latest entries in the entries resource; search_history finds older ones

# --- Arguments ----------------------------------------------------------------------------------------------------

Project = Annotated[
    str,
    Field(
        pattern=SLUG_RE.pattern,
        description="The project's slug, as list_projects shows it, e.g. `churn`.",
    ),
]
Since = Annotated[date | None, Field(description="First day covered (YYYY-MM-DD); from the start when omitted.")]
Until = Annotated[date | None, Field(description="Last day covered (YYYY-MM-DD); up to today when omitted.")]

_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# The writing tools add an entry to the history; they never change or remove what is there.
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


# --- Tools --------------------------------------------------------------------------------------------------------


async def list_projects() -> str:
    """List the Labbook projects this token can see: each project's slug (the `project` argument of every other
    tool), name, goal, primary metric and its direction, target and deadline. Call it first when you do not know
    the project's slug, or to see what the team is working on."""
    response = await call("GET", "/v1/projects", as_markdown=True, params={"limit": PROJECTS_SHOWN})
    more = "\n\nMore projects than shown; ask for one by its slug." if "link" in response.headers else ""
    return response.text + more


async def log_session(
    project: Project,
    text: Annotated[
        str,
        Field(
            min_length=1,
            description="What happened in the session, in the person's own words (a brain dump): what was run, the "
            "numbers seen, what did not work, open questions, what is next. Stored verbatim.",
        ),
    ],
    run_table: Annotated[
        str | None, Field(description="A pasted run table (Markdown or CSV), imported as the project's runs.")
    ] = None,
    run_ids: Annotated[list[str] | None, Field(description="Run IDs or names the session is about.")] = None,
    session_date: Annotated[
        date | None, Field(description="The day of the session (YYYY-MM-DD); today when omitted.")
    ] = None,
    author: Annotated[str | None, Field(description="Who ran the session; the token's name when omitted.")] = None,
) -> str:
    """Record an experiment session in the project's history and get back its structured log entry: TL;DR,
    hypothesis, experiments (each run with its change and its stated and stored numbers), observations, what did not
    work, open questions and next steps, citing stored runs only. Use it when the user tells you what they ran, saw
    or concluded, or pastes a run table. For questions about the past use search_history or was_it_tried."""
    body = body_of(text=text, run_table=run_table, run_ids=run_ids, session_date=session_date, author=author)
    response = await call("POST", f"{project_path(project)}/logs", as_markdown=True, json=body)
    if response.headers.get("content-type", "").startswith("text/markdown"):
        return response.text
    # Stored, but its entry could not be composed now: the service composes it later, with retries.
    log = response.json()
    return f"Brain dump {log['id']} is stored for {log['session_date']}; its log entry will be composed shortly."


async def get_findings(project: Project) -> str:
    """The computed facts about the project's runs, on the primary metric in force: the baseline (or that there is
    none), the current best, seed noise, improvements within noise, runs that changed several things at once,
    duplicates, stalls and plateaus, reproduction gaps, and each approach's status. Every finding gives its numbers
    and the runs it comes from. Read-only and quick: use it to ground any claim about what works."""
    return await markdown("GET", f"{project_path(project)}/findings")


async def summarize_phase(project: Project, since: Since = None, until: Until = None) -> str:
    """Write a phase summary of the sessions between `since` and `until` (the whole history when both are omitted):
    each approach with its status and evidence, what was closed and why, the current best, metric switches, open
    questions and the plan. Stored as an entry. Use it for "where are we?" or "summarise last week"."""
    return await markdown("POST", f"{project_path(project)}/summaries", json=body_of(since=since, until=until))


async def suggest_next(
    project: Project,
    target: Annotated[
        float | None, Field(description="The primary metric's value to reach; the project's target when omitted.")
    ] = None,
    deadline: Annotated[date | None, Field(description="The day it is due (YYYY-MM-DD).")] = None,
    budget_runs: Annotated[int | None, Field(ge=1, le=100_000, description="How many runs can be afforded.")] = None,
    budget_hours: Annotated[float | None, Field(gt=0, le=100_000, description="Compute hours available.")] = None,
) -> str:
    """Propose the next experiments, ranked by the progress each can make toward the target within the deadline and
    budget, each with its evidence and cost; also the lines of work with low returns, and whether to reframe the
    problem. Stored as an entry. Use it for "what should I try next?"."""
    body = body_of(target=target, deadline=deadline, budget_runs=budget_runs, budget_hours=budget_hours)
    return await markdown("POST", f"{project_path(project)}/next-experiments", json=body)


async def was_it_tried(
    project: Project,
    proposal: Annotated[
        str,
        Field(
            min_length=1,
            max_length=5_000,
            description='The idea in words, e.g. "lightgbm with num_leaves=63 and class weights".',
        ),
    ],
) -> str:
    """Answer "has this been tried?" for an idea: tried, similar or new, with the matching runs, their results and
    how they differ from the idea. Stored as an entry. Use it before proposing or running an experiment."""
    return await markdown("POST", f"{project_path(project)}/tried", json={"proposal": proposal})


async def search_history(
    project: Project,
    query: Annotated[
        str, Field(min_length=1, max_length=1000, description="What to look for, in any words, or a run ID.")
    ],
    kind: Annotated[
        str | None,
        Field(
            pattern=r"^[a-z_]+$",
            description="Only this kind: `log_entry` (sessions), `phase_summary`, `next_experiments`, "
            "`tried_answer`, `selection_decision`, `reproduction_report`, `handover_brief`.",
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
    approach: Annotated[str | None, Field(description="Only passages about this approach.")] = None,
    limit: Annotated[int, Field(ge=1, le=50, description="How many hits.")] = 10,
) -> str:
    """Search the project's past sessions (brain dumps with their log entries) and documents, by meaning and by exact
    token (a run ID or name, a parameter, `key=value`). Each hit has its day, kind, approaches, a link and a snippet.
    Use it for "why did we drop X?", "when did we try Y?" and anything else people wrote."""
    params = body_of(q=query, kind=kind, since=since, until=until, approach=approach, limit=limit)
    return await markdown("GET", f"{project_path(project)}/search", params=params)


async def document_decision(
    project: Project,
    finalists: Annotated[
        list[str],
        Field(min_length=1, max_length=50, description="The candidate runs: run IDs, 6+ character prefixes or names."),
    ],
    criteria: Annotated[
        list[CriterionCreate],
        Field(
            min_length=1,
            max_length=20,
            description="What the choice weighs: each criterion a stored metric of the runs (`metric`) or a "
            "person's score per finalist (`scores`), with a weight.",
        ),
    ],
    selected: Annotated[str | None, Field(description="The run chosen; the top-ranked one when omitted.")] = None,
    rationale: Annotated[str, Field(max_length=10_000, description="Why, in the person's words.")] = "",
    title: Annotated[str | None, Field(max_length=200, description="The decision's title.")] = None,
) -> str:
    """Record a model selection decision: the finalists ranked by weighted criteria, the run selected, the rationale
    and the trade-offs it accepts. Stored as an entry; the selected run is tagged in MLflow. Use it when the user
    chooses among candidate models, or asks which finalist wins on given criteria."""
    body = body_of(
        finalists=finalists,
        criteria=[c.model_dump(mode="json", exclude_unset=True) for c in criteria],
        selected=selected,
        rationale=rationale,
        title=title,
    )
    return await markdown("POST", f"{project_path(project)}/decisions", json=body)


async def reproduction_report(
    project: Project,
    run: Annotated[str, Field(min_length=1, max_length=300, description="The run: its ID, a 6+ prefix or its name.")],
    known: Annotated[
        dict[str, str] | None,
        Field(description="Setup fields the user knows that the run did not record, e.g. {'data_version': 'v3'}."),
    ] = None,
) -> str:
    """Write a reproduction report for one run: its setup as recorded (git commit, data version, seed, environment,
    entry point), as the user knows it, or as inferred from sibling runs; the gaps to fill; and the value to expect
    within noise. Stored as an entry. Use it for "how do I reproduce this run?"."""
    return await markdown("POST", f"{project_path(project)}/reproductions", json=body_of(run=run, known=known))


async def handover_brief(
    project: Project,
    audience: Annotated[str | None, Field(max_length=200, description="Who it is for; a teammate taking over.")] = None,
) -> str:
    """Write a handover brief for someone taking over the project: the goal, the approaches and why they stopped,
    the decisions, the current best run and the risks. Stored as an entry. Use it for onboarding or handing over."""
    return await markdown("POST", f"{project_path(project)}/briefs", json=body_of(audience=audience))


TOOLS: tuple[tuple[Callable[..., Awaitable[str]], str, ToolAnnotations], ...] = (
    (list_projects, "List projects", _READS),
    (log_session, "Log a session", _WRITES),
    (get_findings, "Get findings", _READS),
    (summarize_phase, "Summarize a phase", _WRITES),
    (suggest_next, "Suggest next experiments", _WRITES),
    (was_it_tried, "Was it tried?", _WRITES),
    (search_history, "Search history", _READS),
    (document_decision, "Document a decision", _WRITES),
    (reproduction_report, "Reproduction report", _WRITES),
    (handover_brief, "Handover brief", _WRITES),
)


# --- Resources ----------------------------------------------------------------------------------------------------


async def _resource(read: Awaitable[str]) -> str:
    try:
        return await read
    except Refused as exc:
        raise (ResourceNotFoundError if exc.status == 404 else ResourceError)(str(exc)) from exc


async def findings_resource(slug: str) -> str:
    """The project's findings (as get_findings answers them), in Markdown."""
    return await _resource(markdown("GET", f"{project_path(slug)}/findings"))


async def entries_resource(slug: str) -> str:
    """The project's latest entries (log entries and documents), oldest first, in Markdown."""
    return await _resource(_latest_entries(slug))


async def entry_resource(entry_id: int) -> str:
    """One entry of the history, in Markdown."""
    return await _resource(markdown("GET", f"/v1/entries/{entry_id}"))


async def _latest_entries(slug: str) -> str:
    latest: deque[str] = deque(maxlen=ENTRIES_SHOWN)
    total, cursor = 0, None
    while True:
        params = body_of(limit=500, cursor=cursor)
        page = (await call("GET", f"{project_path(slug)}/entries", as_markdown=False, params=params)).json()
        total += len(page["items"])
        latest.extend(entry["markdown"] for entry in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if not latest:
        return "No entries yet."
    shown = len(latest)
    head = f"The latest {shown} of {total} entries; search_history finds older ones.\n\n" if total > shown else ""
    return head + "\n\n---\n\n".join(latest)


RESOURCES: tuple[tuple[str, Callable[..., Awaitable[str]], str], ...] = (
    ("labbook://projects/{slug}/findings", findings_resource, "findings"),
    ("labbook://projects/{slug}/entries", entries_resource, "entries"),
    ("labbook://entries/{entry_id}", entry_resource, "entry"),
)


# --- The server ---------------------------------------------------------------------------------------------------


@cache
def chat_server() -> MCPServer:
    """The tools and resources, built once per process: deriving a tool's schema costs milliseconds, and the server
    holds no state of its own (each transport brings its session manager, each request its `Api`)."""
    server = _without_logging_setup(
        lambda: MCPServer("labbook", title="Labbook", version=__version__, instructions=INSTRUCTIONS)
    )
    for tool, title, hints in TOOLS:
        server.add_tool(tool, title=title, annotations=hints, structured_output=False)
    for uri, read, name in RESOURCES:
        server.resource(uri, name=name, mime_type="text/markdown")(read)
    return server


def _without_logging_setup(build: Callable[[], MCPServer]) -> MCPServer:
    """MCPServer() calls `logging.basicConfig`, which would give the host process's root logger a handler and a level
    when it has none yet; Labbook configures its own logging (`labbook serve`, `labbook mcp`)."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)  # basicConfig does nothing to a root logger that has a handler
    try:
        return build()
    finally:
        root.removeHandler(placeholder)
