"""Run the findings evals: generated histories with known truth through `analyze` and every document composer.

    python -m evals.findings [--seed N] [--histories K] [--json PATH] [-v] [--check]

Prints precision and recall per finding type (micro over histories), approach-status accuracy and document grounding,
then the JSON summary. Offline and deterministic for a seed. `--check` exits 1 below the targets (CI gate).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Criterion, Findings, RunView
from app.analysis.options import next_options
from app.analysis.ranking import rank_finalists
from app.analysis.setup import likely_setup
from app.analysis.tried import match_proposal
from app.compose.contract import Composed, DocContext, EntryDigest
from app.compose.documents.brief import compose_brief
from app.compose.documents.decision import compose_decision
from app.compose.documents.grounding import check_document_grounding
from app.compose.documents.metric_switch import compose_metric_switch
from app.compose.documents.next_experiments import compose_next_experiments
from app.compose.documents.reproduction import compose_reproduction
from app.compose.documents.summary import compose_phase_summary
from app.compose.documents.tried import compose_tried
from evals import findings_scorers as scorers
from evals.histories import FAMILIES, History, generate

Analyzer = Callable[[AnalysisInput], Findings]

# (finding type, precision floor, recall floor); None: reported, not gated.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "duplicate": (0.95, 0.95),
    "multi_change": (0.95, 0.95),
    "missing_baseline": (0.95, 1.0),
    "repro_gap": (0.95, 1.0),
    "within_noise": (None, None),
    "stall": (None, None),
    "best_run": (None, None),
}
STATUS_TARGET = 0.9
GROUPING_TARGET = 0.95
GROUNDING_TARGET = 1.0


@dataclass
class HistoryResult:
    name: str
    traits: tuple[str, ...]
    runs: int
    predicted: dict[str, set[object]]
    truth: dict[str, set[object]]
    statuses: list[tuple[str, str, str | None]]
    changes_agreed: tuple[int, int]
    best_ok: bool
    grouping: tuple[int, int] = (0, 0)  # (true approaches matched at Jaccard >= 0.8, true approaches)
    documents: list[tuple[str, list[str]]] = field(default_factory=list)  # (kind, problems); [] = grounded


# --- running ------------------------------------------------------------------------------------------------------


def run_history(history: History, analyzer: Analyzer = analyze, *, documents: bool = True) -> HistoryResult:
    findings = analyzer(history.inp)
    return HistoryResult(
        name=history.name,
        traits=history.traits,
        runs=len(history.inp.runs),
        predicted=scorers.predicted_items(history, findings),
        truth=scorers.truth_items(history),
        statuses=scorers.approach_statuses(history, findings),
        changes_agreed=scorers.change_count_agreement(history, findings),
        best_ok=findings.best == history.truth.best,
        grouping=scorers.approach_grouping(history, findings),
        documents=compose_all(history, findings) if documents else [],
    )


def doc_context(history: History, entries: tuple[EntryDigest, ...] = ()) -> DocContext:
    inp = history.inp
    last = max(run.session for run in inp.runs if run.session is not None)
    return DocContext(
        project_slug="churn",
        project_name="Churn model",
        goal="Predict which customers churn in the next 30 days, well enough to target retention offers",
        primary_metric=inp.primary_metric,
        direction=inp.direction,
        target_value=None,
        deadline=None,
        today=last + timedelta(days=1),
        public_url="",
        runs={run.key: run for run in inp.runs},
        entries=entries,
    )


def compose_all(history: History, findings: Findings) -> list[tuple[str, list[str]]]:
    """Every document kind composed on the history, each with its grounding problems."""
    ctx = doc_context(history)
    ctx = replace(ctx, options=next_options(ctx.runs, findings, history.inp.settings))
    out: list[tuple[str, list[str]]] = []
    entries: list[EntryDigest] = []
    for i, switch in enumerate(history.inp.metric_switches, start=1):
        composed = _attempt(lambda s=switch: compose_metric_switch(ctx, s, source="api", log_id=None))  # type: ignore[misc]
        out.append(("metric_switch", _problems(composed, ctx, findings)))
        if isinstance(composed, Composed):
            body = composed.body.model_dump(mode="json")
            entries.append(
                EntryDigest(i, "metric_switch", switch.effective, switch.effective, composed.title, (), body)
            )
    ctx = doc_context(history, tuple(entries))
    for kind, compose in _composers(history, findings, ctx):
        out.append((kind, _problems(_attempt(compose), ctx, findings)))
    return out


def _composers(history: History, findings: Findings, ctx: DocContext) -> list[tuple[str, Callable[[], Composed]]]:
    runs = history.inp.runs
    proposal = _proposal(runs, findings)
    gap_keys = sorted({key for key, _ in history.truth.repro_gaps})
    repro_key = gap_keys[0] if gap_keys else (findings.best or runs[0].key)
    return [
        ("phase_summary", lambda: compose_phase_summary(ctx, findings, since=None, until=None)),
        (
            "next_experiments",
            lambda: compose_next_experiments(
                ctx, findings, target=None, deadline=None, budget_runs=10, budget_hours=None
            ),
        ),
        (
            "tried_answer",
            lambda: compose_tried(ctx, findings, match_proposal(proposal, runs, findings), proposal=proposal),
        ),
        ("selection_decision", lambda: _decision(ctx, findings, runs)),
        (
            "reproduction_report",
            lambda: compose_reproduction(ctx, findings, likely_setup(repro_key, runs, findings, {}), known={}),
        ),
        ("handover_brief", lambda: compose_brief(ctx, findings, audience="a new team member")),
    ]


def _proposal(runs: Sequence[RunView], findings: Findings) -> str:
    """A single small change from the best run, as a person would type it."""
    best = next((r for r in runs if r.key == findings.best), runs[0])
    family = best.params.get("model", "logreg")
    key, values = sorted(FAMILIES.get(family, FAMILIES["logreg"]).items())[0]
    other = next((v for v in values if v != best.params.get(key)), values[0])
    return f"try {family} with {key}={other}"


def _decision(ctx: DocContext, findings: Findings, runs: Sequence[RunView]) -> Composed:
    scored = [r for r in runs if findings.metric in r.metrics]
    sign = 1.0 if findings.direction == "max" else -1.0
    finalists = sorted(scored, key=lambda r: -sign * r.metrics[findings.metric])[:3]
    criteria = [
        Criterion(findings.metric, 0.7, findings.direction, findings.metric, "the metric in force"),
        Criterion("latency", 0.3, "min", "inference_ms", "the serving budget is 30 ms"),
    ]
    noise = findings.noise
    ranking = rank_finalists(finalists, criteria, metric=findings.metric, believable_gain=noise.min_gain)
    return compose_decision(ctx, findings, ranking, selected=ranking.top, rationale="best weighted total", title=None)


def _attempt(compose: Callable[[], Composed]) -> Composed | str:
    try:
        return compose()
    except Exception as exc:  # noqa: BLE001 -- a composer that raises is an ungrounded document, reported
        return f"raised {type(exc).__name__}: {exc}"


def _problems(composed: Composed | str, ctx: DocContext, findings: Findings) -> list[str]:
    if isinstance(composed, str):
        return [composed]
    problems = list(check_document_grounding(composed, ctx, findings))
    problems += [f"cites unknown run {key}" for key in composed.run_ids if key not in ctx.runs]
    return problems


# --- summary ------------------------------------------------------------------------------------------------------


def _ratio(found: int, total: int) -> float:
    return 1.0 if total == 0 else round(found / total, 4)


def summarize(results: Sequence[HistoryResult], *, seed: int, seconds: float) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for kind in scorers.FINDING_TYPES:
        counts = scorers.Counts()
        for result in results:
            counts.add(result.predicted[kind], result.truth[kind])
        precision, recall = round(counts.precision, 4), round(counts.recall, 4)
        types[kind] = {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "precision": precision, "recall": recall}
    statuses = [s for r in results for s in r.statuses]
    docs = [d for r in results for d in r.documents]
    agreed = sum(r.changes_agreed[0] for r in results), sum(r.changes_agreed[1] for r in results)
    grouped = sum(r.grouping[0] for r in results), sum(r.grouping[1] for r in results)
    return {
        "task": "findings",
        "seed": seed,
        "histories": len(results),
        "runs": sum(r.runs for r in results),
        "seconds": round(seconds, 3),
        "types": types,
        "approach_status": {
            "correct": sum(1 for _, want, got in statuses if want == got),
            "total": len(statuses),
            "accuracy": _ratio(sum(1 for _, want, got in statuses if want == got), len(statuses)),
        },
        "approach_grouping": {"matched": grouped[0], "total": grouped[1], "agreement": _ratio(*grouped)},
        "grounding": {
            "grounded": sum(1 for _, problems in docs if not problems),
            "documents": len(docs),
            "share": _ratio(sum(1 for _, problems in docs if not problems), len(docs)),
        },
        "change_counts": {"agreed": agreed[0], "total": agreed[1], "share": _ratio(*agreed)},
        "best_run_all": _ratio(sum(r.best_ok for r in results), len(results)),
        "per_history": [_record(r) for r in results],
    }


def _record(result: HistoryResult) -> dict[str, Any]:
    misses = {
        kind: {
            "missed": sorted(map(str, result.truth[kind] - result.predicted[kind])),
            "unexpected": sorted(map(str, result.predicted[kind] - result.truth[kind])),
        }
        for kind in scorers.FINDING_TYPES
        if result.truth[kind] != result.predicted[kind]
    }
    return {
        "name": result.name,
        "traits": list(result.traits),
        "misses": misses,
        "statuses_wrong": [list(s) for s in result.statuses if s[1] != s[2]],
        "documents_ungrounded": {kind: problems for kind, problems in result.documents if problems},
    }


def failures(summary: dict[str, Any]) -> list[str]:
    """Every target missed, in words; [] when the check passes."""
    out = []
    for kind, (p_floor, r_floor) in TARGETS.items():
        figures = summary["types"][kind]
        if p_floor is not None and figures["precision"] < p_floor:
            out.append(f"{kind} precision {figures['precision']:.3f} < {p_floor}")
        if r_floor is not None and figures["recall"] < r_floor:
            out.append(f"{kind} recall {figures['recall']:.3f} < {r_floor}")
    if summary["approach_status"]["accuracy"] < STATUS_TARGET:
        out.append(f"approach status accuracy {summary['approach_status']['accuracy']:.3f} < {STATUS_TARGET}")
    if summary["approach_grouping"]["agreement"] < GROUPING_TARGET:
        out.append(f"approach grouping {summary['approach_grouping']['agreement']:.3f} < {GROUPING_TARGET}")
    if summary["grounding"]["share"] < GROUNDING_TARGET:
        out.append(f"grounding {summary['grounding']['share']:.3f} < {GROUNDING_TARGET}")
    return out


# --- output -------------------------------------------------------------------------------------------------------


def render(summary: dict[str, Any], *, verbose: bool = False) -> list[str]:
    lines = [
        f"task findings  seed {summary['seed']}  histories {summary['histories']}  runs {summary['runs']}  "
        f"provider offline  cost $0.00  {summary['seconds']:.2f} s",
        "",
        f"{'finding':<18}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}  target",
    ]
    for kind, f in summary["types"].items():
        p_floor, r_floor = TARGETS[kind]
        target = "-" if p_floor is None else f"P>={p_floor} R>={r_floor}"
        lines.append(
            f"  {kind:<16}{f['tp']:>6}{f['fp']:>6}{f['fn']:>6}{f['precision']:>11.3f}{f['recall']:>8.3f}  {target}"
        )
    status, grounding, changes = summary["approach_status"], summary["grounding"], summary["change_counts"]
    grouping = summary["approach_grouping"]
    lines += [
        f"approach grouping  {grouping['matched']}/{grouping['total']}  agreement {grouping['agreement']:.3f}  "
        f"(target {GROUPING_TARGET}; best Jaccard >= {scorers.GROUPING_JACCARD})",
        f"approach status    {status['correct']}/{status['total']}  accuracy {status['accuracy']:.3f}  "
        f"(target {STATUS_TARGET})",
        f"grounding          {grounding['grounded']}/{grounding['documents']} documents  share "
        f"{grounding['share']:.3f}  (target {GROUNDING_TARGET})",
        f"change counts      {changes['agreed']}/{changes['total']} runs agree with the O(n^2) reference",
        f"best run           {summary['best_run_all']:.3f} of histories",
    ]
    problems = failures(summary)
    lines.append("check              " + ("pass" if not problems else "FAIL: " + "; ".join(problems)))
    if verbose:
        lines += [""] + [line for record in summary["per_history"] for line in _history_lines(record)]
    return lines


def _history_lines(record: dict[str, Any]) -> list[str]:
    lines = [f"  {record['name']}  {' '.join(record['traits'])}"]
    for kind, miss in record["misses"].items():
        lines += [f"      {kind} missed: {item}" for item in miss["missed"]]
        lines += [f"      {kind} unexpected: {item}" for item in miss["unexpected"]]
    lines += [f"      status {name}: expected {want}, got {got}" for name, want, got in record["statuses_wrong"]]
    for kind, problems in record["documents_ungrounded"].items():
        lines += [f"      {kind}: {problem}" for problem in problems]
    return lines


def evaluate(seed: int = 0, count: int = 40, *, analyzer: Analyzer = analyze, documents: bool = True) -> dict[str, Any]:
    start = time.perf_counter()
    histories = generate(seed, count)
    results = [run_history(h, analyzer, documents=documents) for h in histories]
    return summarize(results, seed=seed, seconds=time.perf_counter() - start)


def _say(text: str) -> None:
    print(text)  # noqa: T201 -- the eval runner reports to the terminal, like bench/


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.findings", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="generator seed (histories are deterministic per seed)")
    parser.add_argument("--histories", type=int, default=40, help="how many histories to generate")
    parser.add_argument("--json", type=str, help="write the JSON summary here instead of printing it")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss per history")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target is missed")
    args = parser.parse_args(argv)
    summary = evaluate(args.seed, args.histories)
    for line in render(summary, verbose=args.verbose):
        _say(line)
    if args.json is not None:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(summary, indent=2) + "\n")
    else:
        _say(json.dumps({k: v for k, v in summary.items() if k != "per_history"}, indent=2))
    return 1 if args.check and failures(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
