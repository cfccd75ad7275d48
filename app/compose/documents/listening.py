"""The computed candidates ranked together with what people wrote (`stated`): a stated next step or an experiment
question that proposes the same parameter (a compatible value) or the same family, or names the concept of a
computed candidate (repeats, a held-out check, the errors, a baseline, a reframing), is merged into it, which then
carries the entry and the quote; the others become suggestions of their own. A candidate whose configuration a dump
says did not work, or a stated item a later run has tried, is dropped with the reason; a change only of a solver's
iteration cap or tolerance is no suggestion unless an entry speaks of convergence.

Order: confirming an unproven best, a possible leak a dump asks about (it could invalidate every score; an audit, no
training run), a missing baseline, confirm-and-harden once the target is met, seed repeats for
unknown noise, a reframe when pivoting; then computed candidates a dump also proposed, stated next steps (newest
first), continuing a converging approach, open questions, and single-change neighbours of the best."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from app.analysis.family import family_of
from app.analysis.model import Findings, RunView
from app.analysis.tried import same_value
from app.compose.contract import DocContext
from app.compose.documents.render import cite, fmt
from app.compose.documents.schemas import Cost, Evidence, Suggestion
from app.compose.documents.stated import (
    Failed,
    Reader,
    Said,
    convergence_said,
    failed_settings,
    said_items,
    same_family,
    tried_since,
    words_of,
)

_CONCEPT_KINDS = {"repeats": ("seed_repeats",), "baseline": ("baseline",)}
_HARDEN_CONCEPTS = {"repeats": ("seeds", "cross-validation"), "held_out": ("held-out",), "errors": ("errors",)}
_REFRAME_CONCEPTS = frozenset({"metric", "threshold", "data", "features"})
_SCORE = {"baseline": 95.0, "harden": 92.0, "reframe": 85.0, "continue": 60.0, "neighbour": 40.0}
_CAP_WORDS = frozenset({"tol", "tolerance"})


def listen(
    ctx: DocContext,
    findings: Findings,
    computed: Sequence[Suggestion],
    cost: Callable[[str | None, int], Cost] | None = None,
) -> tuple[list[Suggestion], list[Suggestion]]:
    """The computed candidates ranked with what people wrote (the module's rules); `cost(base, runs)` prices a
    stated item that runs something, as the computed ones are (similar runs' durations)."""
    reader = Reader(ctx, findings)
    failed = failed_settings(ctx, findings, reader)
    converge = convergence_said(ctx)
    dropped: list[Suggestion] = []
    scored: list[tuple[float, int, Suggestion]] = []
    kept: list[Suggestion] = []
    for s in computed:
        if s.dropped_because:
            dropped.append(s)
        elif not converge and s.changes and all(_is_cap(c.param) for c in s.changes):
            continue  # a solver's iteration cap alone, and nothing says it failed to converge
        elif (why := _failed(ctx, s, failed)) is not None:
            dropped.append(s.model_copy(update={"dropped_because": why}))
        else:
            kept.append(s)
    merged: dict[int, Said] = {}
    own: list[Said] = []
    for said in said_items(ctx, reader):
        at = next((i for i, s in enumerate(kept) if i not in merged and _matches(ctx, said, s)), None)
        if at is not None:
            merged[at] = said
        else:
            own.append(said)
    for i, s in enumerate(kept):
        proposer = merged.get(i)
        score = _score(s, i)
        if proposer is not None:
            s = s.model_copy(update={"entry_id": proposer.entry_id, "quote": proposer.text})
            score = max(score, 70.0) + 5.0 if s.kind in ("continue", "neighbour") else score
        scored.append((score, len(scored), s))
    runs = [ctx.runs[k] for k in findings.run_order if k in ctx.runs] or list(ctx.runs.values())
    for n, said in enumerate(own):
        s = _said_suggestion(ctx, findings, said)
        if cost is not None and s.cost.runs:
            s = s.model_copy(update={"cost": cost(s.base, s.cost.runs)})
        run = tried_since(said, runs, findings)
        why = _failed(ctx, s, failed, said=said)
        if run is not None:
            dropped.append(
                s.model_copy(
                    update={
                        "dropped_because": (
                            f"{TRIED_SINCE} {said.entry_id}: {cite(run.key)}{_score_of(run, findings)}"
                            if said.source == "stated"
                            # the runs are there to answer it; the question stays open until a dump does
                            else f"{ANSWERABLE_SINCE} {said.entry_id} can answer it: {cite(run.key)}"
                            f"{_score_of(run, findings)}; it stays open until a dump answers it"
                        ),
                        "evidence": Evidence(run_ids=[run.key], numbers=_numbers_of(run, findings)),
                    }
                )
            )
        elif why is not None:
            dropped.append(s.model_copy(update={"dropped_because": why}))
        else:
            # a possible leak comes first: it could invalidate every score, the best's included
            base = 97.0 if leak_said(said.text) else 70.0 if said.source == "stated" else 55.0
            scored.append((base - n * 0.01, len(scored), s))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return _said_once([s for _, _, s in scored]), dropped


def _said_once(suggestions: list[Suggestion]) -> list[Suggestion]:
    """The entry a stated item comes from is introduced once: a later item of the same entry whose why would read
    the same says so in a few words ("Also stated in entry 3, untried.") instead of the same sentence again."""
    seen: set[str] = set()
    out: list[Suggestion] = []
    for s in suggestions:
        if s.kind == "stated" and s.why in seen and s.entry_id is not None:
            also = (
                "Also stated in entry {}, untried." if s.source == "stated" else "Also asked in entry {}, unanswered."
            )
            s = s.model_copy(update={"why": also.format(s.entry_id)})
        seen.add(s.why)
        out.append(s)
    return out


# How a stated item a later run took up is told: not dropped, done since it was written.
TRIED_SINCE = "tried since entry"
ANSWERABLE_SINCE = "runs since entry"


def done_since(s: Suggestion) -> bool:
    """A stated item a run after its entry took up (tried it, or can answer the question)."""
    return (s.dropped_because or "").startswith((TRIED_SINCE, ANSWERABLE_SINCE))


_LEAK_RE = re.compile(r"\bleak\w*|\bleakage\b|\btarget leak|\bfuture (?:data|information|info)\b", re.IGNORECASE)


def leak_said(text: str) -> bool:
    """The text asks about or names a possible leak ("is bureau_score_v2 leaking?", "is the random split leaking
    future purchases?")."""
    return bool(_LEAK_RE.search(text))


def _score_of(run: RunView, findings: Findings) -> str:
    value = run.metrics.get(findings.metric)
    return f" ({findings.metric} {fmt(value)})" if value is not None else ""


def _numbers_of(run: RunView, findings: Findings) -> dict[str, float]:
    value = run.metrics.get(findings.metric)
    return {findings.metric: value} if value is not None else {}


def _score(s: Suggestion, i: int) -> float:
    if s.kind == "seed_repeats":
        return 100.0 if len(s.evidence.run_ids) > 1 else 88.0  # the top two compared first
    return _SCORE.get(s.kind, 50.0) - i * 0.01


def _is_cap(key: str) -> bool:
    words = set(words_of(key.replace("_", " ")))
    norm = key.lower().replace("_", "").replace("-", "")
    return bool(words & _CAP_WORDS) or norm in ("maxiter", "maxiters", "maxiteration", "maxiterations")


def _family(ctx: DocContext, s: Suggestion) -> str | None:
    base = ctx.runs.get(s.base or "")
    return family_of(base) if base is not None else None


def _same_family(a: str | None, b: str | None) -> bool:
    return a is None or b is None or same_family(a, b)


def _matches(ctx: DocContext, said: Said, s: Suggestion) -> bool:
    if s.changes and said.params and s.kind in ("continue", "neighbour"):
        proposed = {c.param: c.proposed for c in s.changes}
        shared = set(proposed) & set(said.params)
        return (
            bool(shared)
            and _same_family(said.family, _family(ctx, s))
            and all(not said.params[k] or same_value(said.params[k], proposed[k]) for k in shared)
        )
    if not said.params and said.family is not None and s.kind in ("continue", "neighbour"):
        return not said.concepts and _same_family(said.family, _family(ctx, s)) and _family(ctx, s) is not None
    if said.params:
        return False
    if s.kind == "harden":
        title = s.title.lower()
        return any(word in title for c, words in _HARDEN_CONCEPTS.items() if c in said.concepts for word in words)
    if s.kind == "reframe":
        return bool(said.concepts & _REFRAME_CONCEPTS)
    return any(s.kind in _CONCEPT_KINDS.get(c, ()) for c in said.concepts)


def _config(ctx: DocContext, s: Suggestion, said: Said | None) -> dict[str, str]:
    base = ctx.runs.get(s.base or "")
    config = dict(base.params) if base is not None else {}
    config |= {c.param: c.proposed for c in s.changes}
    if said is not None:
        config |= {k: v for k, v in said.params.items() if v}
    return config


def _failed(ctx: DocContext, s: Suggestion, failed: Sequence[Failed], said: Said | None = None) -> str | None:
    """The entry that says this configuration did not work: a failure naming a value the suggestion changes (or
    states), with every value it names in the resulting configuration, of the same family. A stated item is only
    held to failures written as late as it or later."""
    changed = {c.param for c in s.changes} | {k for k, v in (said.params if said else {}).items() if v}
    if not changed:
        return None
    config = _config(ctx, s, said)
    family = said.family if said is not None and said.family else _family(ctx, s)
    for f in failed:
        if said is not None and (f.day, f.entry_id) < (said.day, said.entry_id):
            continue
        if not set(f.params) & changed or not _same_family(f.family, family):
            continue
        if all(k in config and same_value(config[k], v) for k, v in f.params.items()):
            return f"entry {f.entry_id} says this setting did not work: \u201c{f.text}\u201d"
        proposed = {c.param: c.proposed for c in s.changes}
        if (
            proposed
            and all(k in f.params and same_value(f.params[k], v) for k, v in proposed.items())
            and all(same_value(config[k], v) for k, v in f.params.items() if k in config)
        ):
            # it sets the values that failed, and the rest of that setting is not recorded (a library default)
            return f"entry {f.entry_id} says this setting did not work: \u201c{f.text}\u201d"
    return None


def _said_suggestion(ctx: DocContext, findings: Findings, said: Said) -> Suggestion:
    reads = _reading(said.params, said.family)
    if said.source == "stated":
        why = f"A next step stated in entry {said.entry_id} ({said.day.isoformat()}){reads}; no run since has tried it."
    else:
        why = (
            f"An open question of entry {said.entry_id} ({said.day.isoformat()}) that an experiment can answer"
            f"{reads}; no later dump answered it."
        )
    # looking at errors, a held-out set or a possible leak is an audit, not a training run
    audit = bool(said.concepts & {"errors", "held_out"}) or leak_said(said.text)
    runs = 0 if audit and not said.params else 1
    best = ctx.runs.get(findings.best or "")
    return Suggestion(
        rank=None,
        kind="stated",
        title=said.text,
        why=why,
        base=best.key if best is not None and said.params else None,
        cost=Cost(runs=runs, seconds_per_run=None),
        evidence=Evidence(run_ids=[r for r in said.run_ids if r in ctx.runs]),
        source=said.source,
        entry_id=said.entry_id,
        quote=said.text,
    )


def _reading(params: Mapping[str, str], family: str | None) -> str:
    parts = [f"{k} = {v}" if v else k for k, v in params.items()]
    if family:
        parts.append(f"the {family} family")
    return f" (it reads as {', '.join(parts)})" if parts else ""
