"""The offline composer: a brain dump plus the project's stored runs become a `LogEntry`, with no model at all.

The dump is cut into statements and sorted into sections (`dump`); run references are resolved against
stored runs (`refs`); numbers stated as results are read (`stated`) and attached to the runs
they are stated for (`pairing`). Everything in the entry is quoted from the dump or copied from stored
runs; where the two disagree, or a reference cannot be resolved, the entry says so in a warning instead of choosing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.compose.log_entry.changes import diff_words, is_a_change, subject, tidy
from app.compose.log_entry.cues import is_setup
from app.compose.log_entry.declarations import announced_metric_switch
from app.compose.log_entry.dump import Statement, parse_dump
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.metric_switch import default_direction
from app.compose.log_entry.metrics_check import stated_mismatch
from app.compose.log_entry.pairing import is_param_value, pair_numbers
from app.compose.log_entry.refs import Reference, RunIndex, find_references, resolve_explicit
from app.compose.log_entry.schema import (
    SECTIONS,
    EntryWarning,
    Experiment,
    Item,
    LogEntry,
    Section,
    StatedMetric,
    WarningCode,
)
from app.compose.log_entry.stated import PARAM_WORDS, FoundNumber, find_stated, metric_name_pattern
from app.compose.log_entry.tldr import tldr

__all__ = ["ProjectFacts", "RunFacts", "compose_log_entry"]

# Statements in these sections describe work done; a number there with no run reference is still a trial.
_PAST_SECTIONS: frozenset[Section] = frozenset({"observations", "did_not_work", "conclusions"})
_TRIAL_RE = re.compile(
    r"\b(?:tried|try(?:ing)?|ran|trained|training|tested|swept|sweep|fit|fitted|added|removed|switched|used|"
    r"w/o?|with|without|baseline)\b",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
_CHANGE_SPLIT_RE = re.compile(r"[,;:]|\bvs\.?(?=\s)|->|=>|\band\b|\bthen\b", re.IGNORECASE)
_CHANGE_STRIP = " ()[]{},;:–=>\"'`|"  # not "." or "-": ".861" and "-0.02" keep their signs and points


def compose_log_entry(
    text: str,
    *,
    runs: Sequence[RunFacts],
    project: ProjectFacts,
    run_ids: Sequence[str] = (),
    table_run_ids: Sequence[str] = (),
) -> LogEntry:
    """Structure `text`. `run_ids` are references the caller attached explicitly, and `table_run_ids` the keys of
    the rows of a run table pasted with the dump: both are cited even where the text is silent."""
    builder = _Builder(project, RunIndex(runs))
    for statement in parse_dump(text):
        builder.add(statement)
    for reference in run_ids:
        builder.add_explicit(reference)
    for key in table_run_ids:
        builder.add_explicit(key, change="in the run table pasted with the dump")
    if not text.strip():
        builder.warn("empty_dump", "the brain dump is empty: there is nothing to structure")
    builder.warn_switch(text)
    return builder.build()


@dataclass
class _Builder:
    project: ProjectFacts
    index: RunIndex
    sections: dict[Section, list[Item]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    experiments: dict[str, Experiment] = field(default_factory=dict)  # by run key, or by reference text
    attached: set[str] = field(default_factory=set)  # the runs the caller attached to the dump (its session's)
    warnings: dict[tuple[str, str, str | None], EntryWarning] = field(default_factory=dict)
    line_refs: dict[int, list[Reference]] = field(default_factory=dict)  # resolved references per statement group
    trials: dict[int, str] = field(default_factory=dict)  # group -> key of the trial without a reference it states
    firsts: dict[int, Statement] = field(default_factory=dict)  # group -> its first statement
    sentence_refs: dict[int, list[Reference]] = field(default_factory=dict)  # resolved references per sentence
    statement_refs: list[Reference] = field(default_factory=list)  # the references of the statement being read
    stated_names: dict[str, dict[tuple[object, ...], set[str | None]]] = field(default_factory=dict)  # per experiment
    read: set[tuple[int, str]] = field(default_factory=set)  # (line, text) of the statements read
    positions: dict[str, int] | None = None  # run key -> its place in the stored history, built when first needed

    def __post_init__(self) -> None:
        known = {self.project.primary_metric, *self.project.metric_aliases, *self.project.metric_aliases.values()}
        known.update(name for run in self.index.runs for name in run.metrics)
        self.metric_re = metric_name_pattern(known)
        self.param_words = PARAM_WORDS | {k.lower() for run in self.index.runs for k in run.params}

    def warn_switch(self, text: str) -> None:
        """Warn of the switch the dump announces, read as the service records it (`announced_metric_switch`): a
        switch to the metric already in force changes nothing and is not announced."""
        known = [self.project.primary_metric, *dict.fromkeys(m for run in self.index.runs for m in run.metrics)]
        switch = announced_metric_switch(text, known_metrics=known, aliases=self.project.metric_aliases)
        if switch is None:
            return
        direction = switch.direction or default_direction(switch.metric)
        if (switch.metric, direction) != (self.project.primary_metric, self.project.metric_direction):
            message = f"the dump announces a change of primary metric: {switch.sentence}"
            self.warn("metric_switch_announced", message, line=switch.line)

    # -- statements ---------------------------------------------------------------------------------------------------

    def add(self, statement: Statement) -> None:
        if statement.quoted:
            self._add_quoted(statement)
            return
        references = self.statement_refs = find_references(statement.text, self.index)
        for reference in references:
            self._check_reference(reference, statement.line)
        self.firsts.setdefault(statement.group, statement)
        if self._names_parents_run(statement, references):
            return
        masked = [range(r.start, r.end) for r in references]
        numbers = find_stated(
            statement.text, statement.line, metric_re=self.metric_re, param_words=self.param_words, masked=masked
        )
        if (statement.line, statement.text) in self.read:
            numbers = []  # the same words again (a clause yielded twice): their numbers are already stated once
        self.read.add((statement.line, statement.text))
        inherited = self._inherited(statement) if _elaborates(statement.text, numbers) else []
        cited = _unique_refs(references) or inherited or self._same_sentence(statement, numbers)
        self.line_refs.setdefault(statement.group, []).extend(r for r in cited if r.run)
        self.sentence_refs.setdefault(statement.sentence, []).extend(r for r in cited if r.run)
        self._attach(statement, cited, numbers, direct=bool(references))
        run_ids = list(dict.fromkeys(r.run.key for r in cited if r.run))
        self.sections[statement.section].append(Item(text=statement.text, run_ids=run_ids, line=statement.line))

    def _add_quoted(self, statement: Statement) -> None:
        self.sections["observations"].append(Item(text=statement.text, line=statement.line, quoted=True))
        self.warn(
            "instruction_ignored",
            "a line reads like an instruction to a model; it is kept as a quotation, not as a result",
            line=statement.line,
        )

    def _names_parents_run(self, statement: Statement, references: list[Reference]) -> bool:
        """A nested bullet that is only a link or a run ID names the run of the bullet above it:
        "- vit-b/16 @ 384 -> 90.1% top-1" then "  - http://mlflow/#/experiments/7/runs/0694...". The parent's
        trial becomes that run's experiment, and the parent's other sub-bullets are about it too."""
        unique = _unique_refs(references)
        parent = self.firsts.get(statement.parent) if statement.parent is not None else None
        if parent is None or len(unique) != 1 or unique[0].run is None or not _only_reference(statement.text, unique):
            return False
        reference, run = unique[0], unique[0].run
        trial = self.experiments.pop(self.trials.pop(parent.group, ""), None)
        self._experiment(reference, parent, [], change=_trim(parent.text))
        for metric in trial.stated if trial else ():
            self._check_number(reference, run, metric)
        if trial:
            current = self.experiments[run.key]
            added = _once(list(trial.stated), self.stated_names.setdefault(run.key, {}))
            self.experiments[run.key] = current.model_copy(update={"stated": [*current.stated, *added]})
        self.line_refs.setdefault(parent.group, []).append(reference)
        for section, items in self.sections.items():
            self.sections[section] = [_cite(item, run.key) if item.line == parent.line else item for item in items]
        return True

    def _same_sentence(self, statement: Statement, numbers: list[FoundNumber]) -> list[Reference]:
        """A clause cut from a sentence that named one run goes on about it: "..., this is run d0b6f4a8, and it went
        up again to ROC AUC 0.809" (unless the clause describes a variant of its own)."""
        named = self.sentence_refs.get(statement.sentence, [])
        if not numbers or len({r.run.key for r in named if r.run}) != 1 or not _elaborates(statement.text, numbers):
            return []
        return [named[0]]

    def _inherited(self, statement: Statement) -> list[Reference]:
        """A nested bullet with no reference of its own is about the one run its parent bullet names."""
        parent = self.line_refs.get(statement.parent) if statement.parent is not None else None
        keys = {r.run.key for r in parent or () if r.run}
        return [parent[0]] if parent and len(keys) == 1 else []

    def _check_reference(self, reference: Reference, line: int | None) -> None:
        if reference.ambiguous:
            self.warn(
                "ambiguous_run_ref",
                f"{reference.text} matches {len(reference.candidates)} runs ({', '.join(reference.candidates)}); "
                "paste more of the run ID",
                line=line,
                ref=reference.text,
            )
        elif reference.run is None:
            self.warn("unknown_run_ref", f"{reference.text} matches no stored run", line=line, ref=reference.text)

    def _attach(
        self, statement: Statement, cited: list[Reference], numbers: list[FoundNumber], *, direct: bool
    ) -> None:
        """Give each stated number to the run it is stated for; a trial without a reference gets its own line."""
        if not cited:
            # A plan, a question or a hypothesis is not a trial: "try smote for the 7% positive rate" ran nothing.
            # "... (447c745c was 0.05) is worse -> keep 0.05": a parameter value of a run named on the same line
            named = self.line_refs.get(statement.group, [])
            stated = [n.metric for n in numbers if not any(is_param_value(n.metric, r.run) for r in named)]
            tried = _TRIAL_RE.search(statement.text) and not is_setup(statement.text)  # "trained on 8 GPUs": setup
            if statement.section in _PAST_SECTIONS and (stated or tried):
                self._experiment(None, statement, stated)
                self.trials.setdefault(statement.group, f"line:{statement.line}:{statement.text}")
            return
        pairs, others = pair_numbers(statement.text, cited, numbers)
        for reference, stated in pairs:
            kept = [m for m in stated if not is_param_value(m, reference.run)]
            # A run inferred from the bullet above or the sentence around may be the wrong one: no mismatch warning
            self._experiment(reference, statement, kept, check=direct)
        # a number equal to a parameter of a run the sentence names is that parameter ("keep 0.05")
        others = [m for m in others if not any(is_param_value(m, r.run) for r in cited)]
        parent = self._inherited(statement)
        if others and parent and parent[0].run and all(parent[0].run.key != r.run.key for r in cited if r.run):
            # under "- TFT (tft-h28)": "MASE 0.84, worse than lgbm (0.81, run 65ae0e1a)" -- 0.84 is TFT's
            self._experiment(parent[0], statement, others, check=False)
        elif others:
            self._experiment(None, statement, others)

    def _experiment(
        self,
        reference: Reference | None,
        statement: Statement,
        stated: list[StatedMetric],
        *,
        check: bool = True,
        change: str | None = None,
    ) -> None:
        run = reference.run if reference else None
        key = run.key if run else (reference.text if reference else f"line:{statement.line}:{statement.text}")
        if run and check:
            for metric in stated:
                self._check_number(reference, run, metric)
        existing = self.experiments.get(key)
        stated = _once(stated, self.stated_names.setdefault(key, {}))
        if existing:
            self.experiments[key] = existing.model_copy(update={"stated": [*existing.stated, *stated]})
            return
        self.experiments[key] = Experiment(
            ref=reference.text if reference else None,
            run_id=run.key if run else None,
            run_name=run.run_name if run else None,
            change=change or self._change(statement.text, reference),
            context=statement.text,
            stated=stated,
            stored=dict(run.metrics) if run else {},
            line=statement.line,
        )

    def _change(self, text: str, reference: Reference | None) -> str:
        """What changed for the run: the dump's words when they say it; else the parameter diff against the run the
        sentence compares it with or its closest earlier configuration; else the words the observation is about."""
        if reference is None:
            return _trim(text)
        fragments = _fragments(text, reference, self.statement_refs, self.metric_re)
        said = next((f for f, follows in fragments if is_a_change(f, self.metric_re, number_follows=follows)), None)
        if said:
            return _trim(tidy(said))
        run = reference.run
        if run is not None:
            compared = [r.run for r in self.statement_refs if r.run and r.run.key != run.key]
            words = diff_words(run, compared, self.index.runs, self._position(run.key))
            if words:
                return _trim(words)
        about = next((subject(f) for f, _ in fragments if subject(f)), "")
        return _trim(about) if about else reference.text

    def _position(self, key: str) -> int | None:
        if self.positions is None:
            self.positions = {run.key: at for at, run in enumerate(self.index.runs)}
        return self.positions.get(key)

    def _check_number(self, reference: Reference | None, run: RunFacts, metric: StatedMetric) -> None:
        mismatch = stated_mismatch(metric, run, self.project)
        if mismatch:
            self.warn("metric_mismatch", mismatch, line=metric.line, ref=reference.text if reference else run.key)

    def add_explicit(self, text: str, *, change: str = "attached to the dump (not mentioned in the text)") -> None:
        reference = resolve_explicit(text, self.index)
        self._check_reference(reference, None)
        run = reference.run
        if run is not None:
            self.attached.add(run.key)
        if run is None or run.key in self.experiments:
            return
        self.experiments[run.key] = Experiment(
            ref=text,
            run_id=run.key,
            run_name=run.run_name,
            change=change,
            context="",
            stored=dict(run.metrics),
            line=0,
        )

    def warn(self, code: WarningCode, message: str, *, line: int | None = None, ref: str | None = None) -> None:
        self.warnings.setdefault((code, message, ref), EntryWarning(code=code, message=message, line=line, ref=ref))

    # -- the entry ----------------------------------------------------------------------------------------------------

    def build(self) -> LogEntry:
        experiments = _each_number_once(list(self.experiments.values()))
        cited = [e.run_id for e in experiments if e.run_id]
        cited += [key for items in self.sections.values() for item in items for key in item.run_ids]
        run_ids = list(dict.fromkeys(cited))
        return LogEntry(
            tldr=tldr(self.sections, experiments, self.index, self.project, attached=self.attached),
            experiments=experiments,
            warnings=list(self.warnings.values()),
            run_ids=run_ids,
            **{section: items for section, items in self.sections.items()},
        )


def _each_number_once(experiments: list[Experiment]) -> list[Experiment]:
    """A number read once is stated for one experiment: the first that holds it keeps it."""
    seen: set[int] = set()
    out = []
    for experiment in experiments:
        kept = [m for m in experiment.stated if id(m) not in seen]
        seen.update(id(m) for m in kept)
        out.append(
            experiment if len(kept) == len(experiment.stated) else experiment.model_copy(update={"stated": kept})
        )
    return out


def _once(stated: list[StatedMetric], names: dict[tuple[object, ...], set[str | None]]) -> list[StatedMetric]:
    """The numbers of `stated` not already stated for the run: a number said twice for one run on one line ("AUUC
    was 0.58 I think yeah 0.58") is stated once (the same value on the same line, unnamed the second time or under
    the same name). `names` holds what the run states so far, and is updated: linear, however long the dump."""
    out: list[StatedMetric] = []
    for metric in stated:
        seen = names.setdefault((metric.line, metric.text.strip(), metric.value, metric.low, metric.high), set())
        if seen and (metric.name is None or None in seen or metric.name in seen):
            continue
        seen.add(metric.name)
        out.append(metric)
    return out


def _only_reference(text: str, references: list[Reference]) -> bool:
    rest = text
    for reference in sorted(references, key=lambda r: -r.start):
        rest = rest[: reference.start] + rest[reference.end :]
    return not re.sub(r"\b(?:run|id|see|mlflow|link|url|here|is|was|in)\b", "", rest, flags=re.I).strip(" :()[]-–,.*")


def _cite(item: Item, key: str) -> Item:
    return item if key in item.run_ids else item.model_copy(update={"run_ids": [*item.run_ids, key]})


def _unique_refs(references: list[Reference]) -> list[Reference]:
    seen: set[str] = set()
    unique = []
    for reference in references:
        key = reference.run.key if reference.run else reference.text
        if key not in seen:
            seen.add(key)
            unique.append(reference)
    return unique


def _fragments(
    text: str, reference: Reference, neighbours: list[Reference], metric_re: re.Pattern[str]
) -> list[tuple[str, bool]]:
    """The words written for this run, best first: those just before the reference (back to the previous reference
    or link), then those just after it; each with whether a number follows it in the dump."""
    start = max((m.end() for m in _URL_RE.finditer(text[: reference.start])), default=0)
    start = max([start, *(r.end for r in neighbours if r.end <= reference.start)])
    before_text, after_text = text[start : reference.start], text[reference.end :]
    following = min([r.start for r in neighbours if r.start >= reference.end], default=len(text))
    link = _URL_RE.search(after_text)
    after_text = after_text[: min(following - reference.end, link.start() if link else len(after_text))]
    # "worse than plain lgbm lags (0.81, run 65ae0e1a)": an unclosed parenthesis before the run is cut off
    parts = [_strip(_OPEN_PAREN_RE.sub("", p)) for p in _CHANGE_SPLIT_RE.split(before_text)]
    before = next(
        (p for p in reversed(parts) if _WORDY_RE.search(p) and not _is_reference_text(p) and not _is_result(p)), ""
    )
    cut = _AFTER_SPLIT_RE.search(after_text)
    number_follows = bool(cut and cut.group().isdigit())
    head = after_text[: cut.start()] if cut else ""
    if (
        number_follows
        and re.search(r"[A-Za-z_]\s*[=:]?\s*$", head)
        and not re.search(rf"(?:{metric_re.pattern})\W*$", head)
    ):
        # "(dim 128, lr 3e-4)": the number is the value of the words before it, not a result; keep them together
        assert cut is not None  # a number follows the cut
        cut = _AFTER_BREAK_RE.search(after_text, cut.end())
        number_follows = False
    after = _strip(after_text[: cut.start()] if cut else after_text)
    found = [(before, False)] if before else []
    return [*found, (after, number_follows)] if _WORDY_RE.search(after) and not _is_result(after) else found


# "got 0.9448", "scored .86", "gets": the previous run's result, or this run's, said with a verb; never a change.
_RESULT_RE = re.compile(
    r"^(?:got|gets?|getting|scored?|scores|scoring|hit|hits|reached|reaches|gave|gives|lands?|landed|at|is|was)\b"
    r"\s*(?:[~≈]?\s*[-+]?\d*\.?\d+\s*%?(?:ish)?)?$",
    re.IGNORECASE,
)


def _is_result(text: str) -> bool:
    return bool(_RESULT_RE.match(text.strip()))


_OPEN_PAREN_RE = re.compile(r"\s*\([^)]*$")
_AFTER_SPLIT_RE = re.compile(r"[,;:]|\.\s|\bvs\.?(?=\s)|->|=>|\band\b|\bthen\b|(?<![\w@-])\d", re.IGNORECASE)
_AFTER_BREAK_RE = re.compile(r"[,;:|)]|\.\s|\bvs\.?(?=\s)|->|=>|\band\b|\bthen\b", re.IGNORECASE)
_WORDY_RE = re.compile(r"[A-Za-z]{2,}")  # a change is said in words: "0.889" alone is a number, not a change


_VARIANT_RE = re.compile(
    r"=|\b(?:tried|try|with|w/o?|without|instead|vs|add(?:ed|ing)?|remov\w*|switch\w*|drop(?:ped)?|on top|swap\w*)\b|"
    r"->|=>|^\s*\+",
    re.IGNORECASE,
)


def _elaborates(text: str, numbers: list[FoundNumber]) -> bool:
    """A nested bullet with numbers and no reference of its own elaborates the run its parent names ("f1 0.81-0.84
    across regions"), unless it describes a variant of it ("class_weight=balanced -> ~0.86", "with mixup .85")."""
    return bool(numbers) and not _VARIANT_RE.search(text)


def _strip(text: str) -> str:
    return text.strip(_CHANGE_STRIP).rstrip(".-").strip(_CHANGE_STRIP)


def _is_reference_text(text: str) -> bool:
    return bool(re.fullmatch(r"(?:run|runs|id|run id|#)", text, re.IGNORECASE))


def _trim(text: str, limit: int = 160) -> str:
    """Shorten at a word boundary, so a number is never cut in half."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
