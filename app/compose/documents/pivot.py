"""What not to spend runs on (closed approaches, duplicates, gains within the noise) and whether to pivot: on a
stall, or when every approach is plateaued, exhausted or abandoned, the argument is for reframing the problem or a
time box as well as more runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.analysis.model import Approach, Findings, RunView
from app.compose.contract import DocContext
from app.compose.documents.chosen import latest_selection
from app.compose.documents.common import below_baseline, gain, open_lines, value_of, versus_baseline
from app.compose.documents.render import cite, plural
from app.compose.documents.schemas import Evidence, LowRoi, Pivot
from app.parsing.fmt import fmt, fmt_noise

CLOSED = frozenset({"plateaued", "exhausted", "abandoned"})


# -- low return and pivot ----------------------------------------------------------------------------------------------


# At most this many duplicates and within-noise gains are listed one by one (the most recent); the rest are counted.
LISTED = 10


def low_roi(findings: Findings, chosen: str | None = None) -> list[LowRoi]:
    """Closed approaches, duplicates and gains within the noise; a closed approach that holds the chosen model
    (`chosen`) says so: tuning it further is what has low return, not the model."""
    items = [
        LowRoi(
            subject=a.name,
            reason=f"{a.status}: {a.mark.reason if a.mark else a.reason}"
            + (
                f"; it holds the chosen model {cite(chosen)}: harden that, no more tuning"
                if chosen in a.run_ids
                else ""
            ),
            evidence=Evidence(run_ids=[a.best] if a.best else [], numbers=_numbers(a)),
            kind="approach",
        )
        for a in findings.approaches
        if a.status in CLOSED
    ]
    items += [
        LowRoi(
            subject=d.key,
            reason=f"repeats the configuration of {cite(d.of)}"
            + (f" ({fmt(d.compute_s)} s of compute)" if d.compute_s is not None else ""),
            evidence=Evidence(
                run_ids=[d.key, d.of], numbers={"compute_s": d.compute_s} if d.compute_s is not None else {}
            ),
            kind="duplicate",
        )
        for d in findings.duplicates[-LISTED:]
    ]
    items += _more(len(findings.duplicates), "runs repeat an earlier configuration", "duplicate")
    items += [
        LowRoi(
            subject=f.subject or "",
            reason=f.message,
            evidence=Evidence(run_ids=list(f.run_ids), numbers=dict(f.numbers)),
            kind="within_noise",
        )
        for f in findings.of_kind("within_noise")[-LISTED:]
    ]
    items += _more(len(findings.of_kind("within_noise")), "gains are within the noise", "within_noise")
    return items


def _more(total: int, what: str, kind: str) -> list[LowRoi]:
    if total <= LISTED:
        return []
    return [
        LowRoi(
            subject="",
            reason=f"{total - LISTED} earlier {what} (GET .../findings lists them all)",
            evidence=Evidence(),
            kind=kind,
            count=total - LISTED,
        )
    ]


def _state(a: Approach) -> str:
    return "below the baseline so far" if below_baseline(a) else a.status


def _numbers(a: Approach) -> dict[str, float]:
    values = {"best_value": a.best_value, "recent_gain": a.recent_gain}
    numbers = {k: v for k, v in values.items() if v is not None}
    return numbers | (versus_baseline(a.gain_vs_baseline) if a.gain_vs_baseline is not None else {})


def pivot_of(ctx: DocContext, findings: Findings, *, target_met: bool = False) -> Pivot:
    """Yes on a stall, or when every approach is plateaued, exhausted or abandoned, unless the target is met (then
    the advice is to confirm and harden). The argument names the evidence: the approaches and how many runs since
    the last believable gain."""
    judged = [a for a in open_lines(findings) if a.run_ids]  # a one-off run neither keeps a project open nor closes it
    closed = [a for a in judged if a.status in CLOSED or below_baseline(a)]
    best = findings.best
    if target_met and best is not None:
        picked = latest_selection(ctx.entries)
        chosen = picked[0] if picked and picked[0] in ctx.runs else None
        held = f"; the chosen model is {cite(chosen)}" if chosen is not None and chosen != best else ""
        return Pivot(
            pivot=False,
            argument=f"The target is met by {cite(best)}{held}: no pivot. Confirm and harden "
            f"{'the chosen model' if held else 'it'} (repeats, a held-out check, a look at the errors) before more "
            "tuning.",
            evidence=Evidence(run_ids=[best, *([chosen] if held and chosen else [])]),
        )
    stall = findings.of_kind("stall")
    all_closed = bool(judged) and len(closed) == len(judged)
    if not findings.stalled and not all_closed:
        moving = [a.name for a in judged if a not in closed]
        why = f"{', '.join(moving)} still open" if moving else "nothing has been judged yet"
        return Pivot(pivot=False, argument=f"{why}; keep making single small changes.", evidence=Evidence())
    sentences: list[str] = []
    evidence_runs: list[str] = []
    numbers: dict[str, float] = {}
    since, last = runs_since_believable_gain(ctx, findings)
    if findings.stalled:
        bg = stall[0].numbers.get("believable_gain", findings.noise.min_gain) if stall else findings.noise.min_gain
        sessions = int(stall[0].numbers.get("sessions", 0)) if stall else 0
        span = f" over the last {sessions} sessions" if sessions else " over the last sessions"
        sentences.append(f"No gain beyond the believable gain {fmt_noise(bg)} on {findings.metric}{span}")
        if stall:
            evidence_runs += stall[0].run_ids
            numbers |= dict(stall[0].numbers)
    if last is not None:
        sentences.append(f"{plural(since, 'run')} since the last believable gain ({cite(last)})")
        evidence_runs.append(last)
    if all_closed:
        sentences.append("every approach is " + ", ".join(f"{a.name} {_state(a)}" for a in closed))
        evidence_runs += [a.best for a in closed if a.best]
    said = "; ".join(sentences)
    argument = (
        f"{said[:1].upper() + said[1:]}. More runs of the same kind are unlikely to pay: reframe the problem or "
        "time-box the current line before adding runs."
    )
    return Pivot(
        pivot=True, argument=argument, evidence=Evidence(run_ids=list(dict.fromkeys(evidence_runs)), numbers=numbers)
    )


def runs_since_believable_gain(ctx: DocContext, findings: Findings) -> tuple[int, str | None]:
    """Scored runs after the last run that beat the level before it by more than the believable gain, and that run."""
    level: float | None = None
    last: str | None = None
    since = 0
    for key in findings.run_order or tuple(ctx.runs):
        value = value_of(ctx.runs.get(key), findings.metric)
        if value is None:
            continue
        if level is None or gain(value, level, findings.direction) > findings.noise.min_gain:
            level, last, since = value, key, 0
        else:
            since += 1
    return since, last


_COST_WORDS = frozenset(
    "time latency duration ms sec seconds memory mem mb gb size count epoch epochs step steps".split()
)
_THRESHOLD_METRICS = frozenset(
    "f1 precision recall accuracy acc fbeta specificity sensitivity tpr fpr mcc kappa".split()
)
_REGRESSION_METRICS = frozenset("rmse mse mae r2 mape smape rmsle".split())
_FEATURE_WORDS = frozenset(
    "feature features feat feats encoding encoder embedding embed lag lags window ngram ngrams tfidf vocab "
    "vectorizer pca poly polynomial interaction interactions selection text aug augment augmentation".split()
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower().replace("_", " ")))


def reframe_why(ctx: DocContext, findings: Findings) -> tuple[str, str]:
    """The reframe suggestion's title (the approaches and the runs since the last believable gain) and what
    reframing could mean in this project: another metric, the decision threshold, more data, a feature family."""
    lines = [a for a in open_lines(findings) if a.run_ids]
    names = [a.name for a in lines] or [a.name for a in findings.approaches]
    since, last = runs_since_believable_gain(ctx, findings)
    title = "Reframe the problem or time-box " + (" and ".join(names[:3]) if names else "the current line")
    if last is not None:
        title += f" ({plural(since, 'run')} since the last believable gain)"
    runs = [ctx.runs[k] for k in findings.run_order if k in ctx.runs] or list(ctx.runs.values())
    best = ctx.runs.get(findings.best or "")
    options = [_metric_option(findings, best), _threshold_option(findings, runs), _data_option(runs)]
    options.append(_feature_option(runs))
    why = "Reframing here could mean " + "; ".join(o for o in options if o) + "."
    if names:
        why += (
            f" Or time-box {' and '.join(names[:3])}: a fixed number of runs, stopping unless one beats the best by "
            f"more than {fmt(findings.noise.min_gain)}."
        )
    return title, why


def _metric_option(findings: Findings, best: RunView | None) -> str:
    others = [
        m
        for m in (best.metrics if best else {})
        if m != findings.metric and not _words(m) & (_COST_WORDS | {"train", "training"})
    ]
    if others:
        return f"another metric ({', '.join(others[:3])} {'is' if len(others) == 1 else 'are'} also recorded)"
    return f"another metric (only {findings.metric} is judged; log the one the decision rests on)"


def _keys(runs: Sequence[RunView]) -> set[str]:
    """Every parameter key the runs store, each once (read word by word once, however many runs share it)."""
    return {k for r in runs for k in r.params}


def _threshold_option(findings: Findings, runs: Sequence[RunView]) -> str:
    words = _words(findings.metric)
    keys = sorted(k for k in _keys(runs) if _words(k) & {"threshold", "cutoff"})
    if keys:
        values = sorted({r.params[keys[0]] for r in runs if keys[0] in r.params})
        return f"the decision threshold ({keys[0]} took {', '.join(values[:4])})"
    if words & _REGRESSION_METRICS:
        return ""
    if words & _THRESHOLD_METRICS:
        return f"the decision threshold ({findings.metric} depends on the cut-off, and no run varies one)"
    return f"the decision threshold ({findings.metric} does not depend on one; the decision made with the model does)"


def _data_option(runs: Sequence[RunView]) -> str:
    versions = sorted({r.data_version for r in runs if r.data_version})
    if len(versions) == 1:
        return f"more data or better labels (every run used data version {versions[0]})"
    if versions:
        return f"more data or better labels (runs used data versions {', '.join(versions[:3])})"
    return "more data or better labels (no run records its data version)"


def _feature_option(runs: Sequence[RunView]) -> str:
    keys = sorted(k for k in _keys(runs) if _words(k) & _FEATURE_WORDS)
    if not keys:
        return "a feature family (no parameter records the inputs, so a new family of features is untried)"
    key = keys[0]
    values = sorted({r.params[key] for r in runs if key in r.params})
    return f"a feature family beyond what {key} took ({', '.join(values[:4])})"
