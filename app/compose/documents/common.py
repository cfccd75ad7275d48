"""Facts several documents state the same way: the best run and its gain, an approach's evidence, people's
statements from log entries, metric switches, and the ordered list of cited runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from app.analysis.model import Approach, BestLead, Direction, Findings, RunView
from app.compose.contract import DocContext, EntryDigest
from app.compose.documents.filing import Filed, Section, log_quotes
from app.compose.documents.schemas import (
    ApproachNote,
    BestNote,
    EarlierDoc,
    Evidence,
    LeadNote,
    ProposedNote,
    Quote,
    SwitchNote,
)
from app.compose.escape import md_text


class Cited:
    """Run keys in order of first citation."""

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}

    def add(self, keys: Iterable[str | None]) -> None:
        for key in keys:
            if key:
                self._keys.setdefault(key, None)

    def walk(self, value: Any) -> None:
        """Every `run_ids` list, `key`, `base`, `best`, `from_runs` ... of a body dump, in order."""
        if isinstance(value, Mapping):
            for name, item in value.items():
                if name in _KEY_FIELDS and isinstance(item, str):
                    self.add([item])
                elif name in _KEYS_FIELDS and isinstance(item, list):
                    self.add(k for k in item if isinstance(k, str))
                elif name not in _NOT_RUNS:
                    self.walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.walk(item)

    @property
    def keys(self) -> list[str]:
        return list(self._keys)


_KEY_FIELDS = frozenset({"key", "base", "best", "baseline", "best_key", "top", "selected"})
_KEYS_FIELDS = frozenset({"run_ids", "from_runs", "evidence"})
_NOT_RUNS = frozenset({"params", "known", "numbers"})  # a parameter named "key" is not a run


def body_run_ids(dump: Mapping[str, Any]) -> list[str]:
    """Every run key a body dump cites, in order (its own `run_ids` last, so it only adds what the rest missed)."""
    cited = Cited()
    cited.walk({k: v for k, v in dump.items() if k != "run_ids"})
    cited.add(dump.get("run_ids", []))
    return cited.keys


def better(a: float, b: float, direction: Direction) -> bool:
    return gain(a, b, direction) > 0


def gain(a: float, b: float, direction: Direction) -> float:
    """How much better `a` is than `b`: positive when `a` is better, whichever way the metric points."""
    return a - b if direction == "max" else b - a


def value_of(run: RunView | None, metric: str) -> float | None:
    """The run's value on `metric`; None for no run, a failed run or no finite value."""
    return None if run is None else run.score(metric)


def run_day(run: RunView) -> date | None:
    return run.session or (run.when.date() if run.when else None)


def in_window(day: date | None, since: date | None, until: date | None) -> bool:
    """Inclusive on both ends; None is open. An undated thing is in an open window only."""
    if day is None:
        return since is None and until is None
    return (since is None or day >= since) and (until is None or day <= until)


def lines_of_inquiry(findings: Findings) -> list[Approach]:
    """The approaches worth reporting as lines of inquiry: not the one that holds only the baseline run and repeats of
    its configuration (the reference every approach is judged against, reported as the baseline), unless a person
    marked it."""
    return [a for a in findings.approaches if a.mark is not None or not _baseline_only(a, findings)]


def _baseline_only(a: Approach, findings: Findings) -> bool:
    base = findings.baseline
    if not base:
        return False
    changes = findings.changes
    return all(key == base or (key in changes and not changes[key].vs_baseline) for key in a.run_ids)


def one_off(a: Approach) -> bool:
    """A single run nobody named or marked (an inherited or passing try): reported with what was explored, never as
    a line that remains open. A tagged or regrouped approach is a line a person named, however short."""
    return a.mark is None and a.source == "inferred" and len(a.run_ids) == 1


def open_lines(findings: Findings) -> list[Approach]:
    """The lines of inquiry that can still be judged open: every one but the one-off runs."""
    return [a for a in lines_of_inquiry(findings) if not one_off(a)]


def below_baseline(a: Approach) -> bool:
    """Still too short to judge, but every scored run so far is worse than the reference: not an open line."""
    return a.status == "active" and a.gain_vs_baseline is not None and a.gain_vs_baseline < 0


def approach_by_run(findings: Findings) -> dict[str, Approach]:
    return {key: a for a in findings.approaches for key in a.run_ids}


def best_note(ctx: DocContext, findings: Findings, key: str | None = None) -> BestNote | None:
    """The best run (or `key`) on the metric in force, its gain over the baseline, and whether it clears the noise."""
    key = key or findings.best
    value = value_of(ctx.runs.get(key or ""), findings.metric) if key else None
    if key is None or value is None:
        return None
    approach = approach_by_run(findings).get(key)
    noise = findings.noise
    numbers = {findings.metric: value, "believable_gain": noise.min_gain}
    numbers |= {"seed_sd": noise.std} if noise.std is not None else {}
    up: float | None = None
    if findings.baseline_value is not None and findings.baseline != key:
        up = gain(value, findings.baseline_value, findings.direction)
        numbers |= {"baseline_value": findings.baseline_value, "gain_vs_baseline": up}
    return BestNote(
        key=key,
        metric=findings.metric,
        value=value,
        approach=approach.name if approach else None,
        baseline=findings.baseline,
        baseline_value=findings.baseline_value,
        gain_vs_baseline=up,
        noise_source=findings.noise.source,
        noise_threshold=findings.noise.min_gain,
        beyond_noise=None if up is None else up > findings.noise.min_gain,
        evidence=Evidence(run_ids=[k for k in (key, findings.baseline) if k], numbers=numbers),
        seed_sd=noise.std,
        believable_gain=noise.min_gain,
        lead=lead_note(findings.best_lead) if findings.best_lead and findings.best_lead.best == key else None,
    )


def lead_note(lead: BestLead) -> LeadNote | None:
    """The best run's lead over the runner-up, as the findings computed it."""
    if lead.runner_up is None:
        return None
    numbers = {"lead": lead.lead, "best_mean": lead.best_mean, "runner_up_mean": lead.runner_up_mean}
    numbers |= {"believable_gain": lead.believable_gain}
    numbers |= {"seed_sd": lead.seed_sd} if lead.seed_sd is not None else {}
    return LeadNote(
        runner_up=lead.runner_up,
        runner_up_source=lead.runner_up_source,
        runner_up_approach=lead.runner_up_approach,
        runner_up_value=lead.runner_up_mean,
        best_value=lead.best_mean,
        n_best=lead.n_best,
        n_runner_up=lead.n_runner_up,
        lead=lead.lead,
        seed_sd=lead.seed_sd,
        believable_gain=lead.believable_gain,
        beyond_noise=lead.beyond_noise,
        evidence=Evidence(run_ids=[lead.best, lead.runner_up], numbers=numbers),
    )


def versus_baseline(g: float) -> dict[str, float]:
    """A gain over the baseline as a number a person reads without a sign, named as the analysis names it:
    `gain_vs_baseline` when ahead or level, else `shortfall_vs_baseline`, how far behind."""
    return {"gain_vs_baseline": g} if g >= 0 else {"shortfall_vs_baseline": -g}


def approach_evidence(a: Approach) -> Evidence:
    numbers = {
        name: value
        for name, value in (
            ("best_value", a.best_value),
            ("recent_gain", a.recent_gain),
        )
        if value is not None
    }
    if a.gain_vs_baseline is not None:
        numbers |= versus_baseline(a.gain_vs_baseline)
    return Evidence(run_ids=[a.best] if a.best else [], numbers=numbers)


def proposed_note(ctx: DocContext, a: Approach) -> ProposedNote | None:
    """The mark a dump proposed for the approach, when it is not the status a person already set."""
    mark = ctx.proposed.get(a.name)
    if mark is None or (a.mark is not None and a.mark.status == mark.status):
        return None
    return ProposedNote(status=mark.status, reason=mark.reason)


def proposed_line(p: ProposedNote | None, quoted: Sequence[Quote] = ()) -> str:
    """ "  - a dump proposes marking it abandoned: “...” (not confirmed yet)", or ""; when one of `quoted` (the
    approach's quotes, listed below it) is the sentence, it is not quoted twice."""
    if p is None:
        return ""
    said = " ".join(p.reason.lower().split())
    if any(" ".join(q.text.lower().split()) == said for q in quoted):
        return f"  - a dump proposes marking it {p.status} (its words are quoted below; not confirmed yet)"
    return f"  - a dump proposes marking it {p.status}: \u201c{md_text(p.reason)}\u201d (not confirmed yet)"


def approach_note(a: Approach, run_ids: Sequence[str], filed: Filed, ctx: DocContext | None = None) -> ApproachNote:
    """The approach's status, evidence, the statements filed under it and a mark a dump proposed for it."""
    return ApproachNote(
        name=a.name,
        status=a.status,
        computed_status=a.computed_status,
        reason=a.mark.reason if a.mark else a.reason,
        run_ids=list(run_ids),
        best=a.best,
        evidence=approach_evidence(a),
        conclusions=filed.of(a.name, "conclusions"),
        did_not_work=filed.of(a.name, "did_not_work"),
        open_questions=filed.of(a.name, "open_questions"),
        proposed=proposed_note(ctx, a) if ctx is not None else None,
        earlier=earlier_docs(ctx, a.name),
    )


def earlier_docs(ctx: DocContext | None, name: str) -> list[EarlierDoc]:
    if ctx is None:
        return []
    return [EarlierDoc(entry_id=d.entry_id, kind=d.kind, date=d.day, link=d.link) for d in ctx.earlier.get(name, ())]


def earlier_line(docs: Sequence[EarlierDoc]) -> str:
    """ "  - earlier: [phase summary, 2026-10-05](link), ..." or "" when there are none."""
    if not docs:
        return ""
    links = [f"[{d.kind.replace('_', ' ')}, {d.date.isoformat()}]({d.link})" for d in docs]
    return "  - earlier documents: " + ", ".join(links)


def quotes(entries: Sequence[EntryDigest], section: Section, runs: set[str] | None = None) -> list[Quote]:
    """The statements of `section` in log entries, each once (those citing one of `runs` when given); never
    instruction-like ones, never answered questions, never the quotes of an earlier document."""
    return [q for s, q in log_quotes(entries) if s == section and (runs is None or runs.intersection(q.run_ids))]


def open_questions(entries: Sequence[EntryDigest]) -> list[Quote]:
    """The open questions of log entries that no later dump answered, each once."""
    return quotes(entries, "open_questions")


def switch_notes(findings: Findings, until: date | None = None) -> list[SwitchNote]:
    return [
        SwitchNote(
            metric=s.metric,
            direction=s.direction,
            previous_metric=s.previous_metric,
            effective=s.effective,
            reason=s.reason,
            entry_id=s.entry_id,
        )
        for s in findings.metric_switches
        if until is None or s.effective <= until
    ]
