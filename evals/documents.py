"""Run the blind document set (`cases/documents/*.yaml`): "has this been tried?" in people's words, documents that
do not contradict themselves, quotes filed under the right approach, stated next steps heard, and log-entry
fragments read right.

    python -m evals.documents [-v] [--check] [--case NAME] [--json PATH] [--cases DIR]

A second set, `cases/documents_holdout/` (6 files: keyword spotting, liver segmentation with a selection decision,
credit default on an out-of-time split, invoice OCR in mixed German and French, LLM fine-tuning and sensor anomaly
"tried?" cases), was written and labelled the same way by another helper, later, in other domains and writing styles
(Slack typos and emoji, long prose, "## what didn't work" headings, terse mixed-language bullets), and scored once
before any fix was made for it: `--cases evals/cases/documents_holdout`.

The cases were written and labelled from docs/definitions.md, issue 15 and its interface, without reading the
document composers or the analysis, and without running them first. Each case is one fresh project in a temporary
SQLite database, driven through `app.services` as the API drives it: runs stored as the MLflow sync stores them,
brain dumps posted with `create_log`, decisions with `create_decision`, then the documents requested with
`create_tried`, `create_summary`, `create_next_experiments` and `create_brief`. Offline, no model, deterministic.
Without `--check` the exit status is 0 whatever the scores.

## Case format (strict: unknown keys are refused)

Every file has `kind` (`tried`, `documents` or `log_entry`), `why`, `project`
(`primary_metric`, `direction`, optional `target`) and `runs`. A run is
`{id, name, start, params, metrics, tags, status, seed}`; its stored key is a 32-hex ID derived from the case
name and `id` (`run_key`), so labels cite runs by `id`. A `baseline: "true"` tag marks a declared baseline.

- `kind: tried`: `proposals`, each `{text, verdict, accept, cite, not_cited, not_exact}`. `verdict` is the
  label (`tried`/`similar`/`new`), `accept` other verdicts a careful reader would also accept for a loose
  proposal; `cite` the runs that must be listed (exact or similar); `not_cited` runs that must not be listed at all
  (another family's); `not_exact` runs that must not be an exact match (the baseline, for a proposal naming a change).
- `kind: documents`: `dumps` (`{date, run_ids, text}`, posted oldest first), `decisions`
  (`{finalists, criteria, selected, rationale}`, criteria as `DecisionCreate`, scores keyed by run id), and
  `labels`: `target_met`, `best`, `selected`, `min_candidates` (3: at least three candidates remain),
  `answered` (key phrases of questions a later dump answered), `quotes` (`{phrase, kind, approach}`: kind
  `conclusion`/`did_not_work`/`open_question`, approach a run id of the approach it is about, or null for a
  general one), `not_failures` (key phrases, e.g. "best so far" lines, never filed as a failure), `next_steps`
  (`{phrase, dump}`, dump the 0-based index of the dump that says it) and `failed_settings`
  (`{params, dump, phrase}`: a setting a dump says failed).
- `kind: log_entry`: `dumps`, each `{id, date, run_ids, text, labels}` with labels `changes`
  (`{run, not_phrase, mentions}`), `stated_once`, `stated_metric`, `not_stated_metric`, `not_conclusion` and
  `instructions` (`{phrase, numbers}`).

A key phrase matches a text when every word of the phrase starts some word of the text (case-insensitive,
punctuation ignored, apostrophes dropped), as in `evals.blind_findings2.phrase_matches`.

## Figures

- **verdict accuracy**: proposals whose `TriedAnswer.verdict` is the label (or one of `accept`).
- **cited-run recall**: labelled `cite` runs found in `exact` + `similar`, over all labelled. Reported beside it:
  wrong matches (a `not_cited` run listed, a `not_exact` run exact).
- **self-contradiction checks**, per documents case over the JSON and Markdown of the phase summary, the
  next-experiments, the handover brief and the selection decision (and, for tried cases, the answers' Markdown):
  `target_met` as labelled; target met & pivot; target met & a "reframe" suggestion; target met & no "harden"
  suggestion; fewer than 3 priorities when >= 3 candidates remain; "dropped (active)" (text, or an approach story
  dropped while active); a repeated sentence (8+ words, outside tables, headings and labelled fields such as
  `Cost: ...`) in one document; one run called both within and beyond the noise in
  one document; an answered question listed as open; summary and brief `selected` not the recorded decision's run
  (or the chosen run not named in their Markdown); a negative gain (JSON field or Markdown); a number with more
  than 4 significant digits in Markdown; a 32-hex run ID in Markdown outside a link target.
- **quotes filed right**: per labelled quote and per document (phase summary; handover brief, except conclusions,
  which it has no place for): the quote appears exactly once, in the right section (`conclusions`, `did_not_work`,
  `open_questions`), under an approach whose runs contain the labelled run (null: the document's general open
  questions: `PhaseSummary.open_questions`, the brief's `open_question` risks). A `not_failures` phrase counts as
  one item per document, right when no `did_not_work` quote matches it.
- **stated-next-step recall**: a labelled next step is found when a suggestion of `priorities` + `more` carries
  the dump's `entry_id` and its title, why or quote matches the phrase, or its `quote` matches the phrase.
- **failed-setting re-proposals**: suggestions (priorities + more) whose configuration (the base run's params with
  the suggestion's changes applied) holds every param of a failed setting. Target 0.
- **log-entry fragment checks**: each labelled item of the `log_entry` cases, one check each (instructions: a
  warning on that line, the line kept quoted, none of its numbers stated, no stated number/run reference from that
  line).

An interface of /work/shared/i15/INTERFACE.md that does not exist yet (`Suggestion.entry_id`, `NextExperiments.more`,
`PhaseSummary.selected`, ...) reads as absent: the items it would serve score 0 and the runner says which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CASES_DIR = Path(__file__).parent / "cases" / "documents"

TARGETS = {
    "verdict_accuracy": 0.9,
    "cited_run_recall": 0.95,
    "quotes_filed_right": 0.95,
    "stated_next_step_recall": 0.9,
}

Scalar = str | int | float | bool
Verdict = Literal["tried", "similar", "new"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectSpec(_Strict):
    primary_metric: str
    direction: Literal["max", "min"]
    target: float | None = None


class RunSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str | None = None
    start: datetime
    status: str = "FINISHED"
    seed: str | int | None = None
    params: dict[str, Scalar] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class _WithRuns(_Strict):
    why: str = Field(min_length=1)
    project: ProjectSpec
    runs: list[RunSpec] = Field(min_length=1)

    def _run_ids(self) -> set[str]:
        ids = [r.id for r in self.runs]
        if len(set(ids)) != len(ids):
            raise ValueError("run ids must be unique")
        return set(ids)

    @staticmethod
    def _known(ids: set[str], cited: set[str], what: str) -> None:
        if cited - ids:
            raise ValueError(f"{what} cite unknown runs: {sorted(cited - ids)}")


# --- tried ----------------------------------------------------------------------------------------------------------


class Proposal(_Strict):
    text: str = Field(min_length=1)
    verdict: Verdict
    accept: list[Verdict] = Field(default_factory=list)
    cite: list[str] = Field(default_factory=list)
    not_cited: list[str] = Field(default_factory=list)
    not_exact: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Proposal:
        if self.verdict == "new" and self.cite:
            raise ValueError(f"{self.text!r}: a new proposal cites no run")
        if set(self.cite) & set(self.not_cited):
            raise ValueError(f"{self.text!r}: a run both cited and not")
        return self


class TriedCase(_WithRuns):
    kind: Literal["tried"]
    proposals: list[Proposal] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TriedCase:
        ids = self._run_ids()
        for p in self.proposals:
            self._known(ids, {*p.cite, *p.not_cited, *p.not_exact}, f"proposal {p.text!r}")
        return self


# --- documents ------------------------------------------------------------------------------------------------------


class DumpSpec(_Strict):
    date: date
    run_ids: list[str] = Field(default_factory=list)
    text: str = Field(min_length=1)


class CriterionSpec(_Strict):
    name: str
    weight: float = Field(ge=0)
    metric: str | None = None
    direction: Literal["max", "min"] = "max"
    scores: dict[str, float] = Field(default_factory=dict)


class DecisionSpec(_Strict):
    finalists: list[str] = Field(min_length=1)
    criteria: list[CriterionSpec] = Field(min_length=1)
    selected: str | None = None
    rationale: str = ""


class QuoteLabel(_Strict):
    phrase: str = Field(min_length=1)
    kind: Literal["conclusion", "did_not_work", "open_question"]
    approach: str | None  # a run id of the approach it is about; null: not about one approach


class NextStepLabel(_Strict):
    phrase: str = Field(min_length=1)
    dump: int = Field(ge=0)


class FailedSetting(_Strict):
    params: dict[str, Scalar] = Field(min_length=1)
    dump: int = Field(ge=0)
    phrase: str


class DocLabels(_Strict):
    target_met: bool | None
    best: str | None
    selected: str | None
    min_candidates: int | None
    answered: list[str] = Field(default_factory=list)
    quotes: list[QuoteLabel] = Field(default_factory=list)
    not_failures: list[str] = Field(default_factory=list)
    next_steps: list[NextStepLabel] = Field(default_factory=list)
    failed_settings: list[FailedSetting] = Field(default_factory=list)


class DocumentsCase(_WithRuns):
    kind: Literal["documents"]
    dumps: list[DumpSpec] = Field(min_length=1)
    decisions: list[DecisionSpec] = Field(default_factory=list)
    labels: DocLabels

    @model_validator(mode="after")
    def _consistent(self) -> DocumentsCase:
        ids = self._run_ids()
        lab = self.labels
        cited = {k for d in self.dumps for k in d.run_ids}
        cited |= {k for d in self.decisions for k in [*d.finalists, *([d.selected] if d.selected else [])]}
        cited |= {k for d in self.decisions for c in d.criteria for k in c.scores}
        cited |= {k for k in (lab.best, lab.selected) if k}
        cited |= {q.approach for q in lab.quotes if q.approach}
        self._known(ids, cited, "dumps, decisions and labels")
        for item in [*lab.next_steps, *lab.failed_settings]:
            if item.dump >= len(self.dumps):
                raise ValueError(f"{item.phrase!r}: no dump {item.dump}")
        if lab.selected and (not self.decisions or self.decisions[-1].selected != lab.selected):
            raise ValueError("labels.selected must be the last decision's selected run")
        return self


# --- log-entry fragments --------------------------------------------------------------------------------------------


class ChangeLabel(_Strict):
    run: str
    not_phrase: str
    mentions: list[str] = Field(default_factory=list)


class InstructionLabel(_Strict):
    phrase: str = Field(min_length=1)
    numbers: list[float] = Field(default_factory=list)


class FragmentLabels(_Strict):
    changes: list[ChangeLabel] = Field(default_factory=list)
    stated_once: list[float] = Field(default_factory=list)
    stated_metric: list[float] = Field(default_factory=list)
    not_stated_metric: list[float] = Field(default_factory=list)
    not_conclusion: list[str] = Field(default_factory=list)
    instructions: list[InstructionLabel] = Field(default_factory=list)


class FragmentDump(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    date: date
    run_ids: list[str] = Field(default_factory=list)
    text: str = Field(min_length=1)
    labels: FragmentLabels


class LogEntryCase(_WithRuns):
    kind: Literal["log_entry"]
    dumps: list[FragmentDump] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> LogEntryCase:
        ids = self._run_ids()
        names = [d.id for d in self.dumps]
        if len(set(names)) != len(names):
            raise ValueError("dump ids must be unique")
        for d in self.dumps:
            self._known(ids, {*d.run_ids, *(c.run for c in d.labels.changes)}, f"dump {d.id}")
            for ins in d.labels.instructions:
                if _line_of(d.text, ins.phrase) is None:
                    raise ValueError(f"dump {d.id}: no line matches instruction {ins.phrase!r}")
        return self


Case = Annotated[TriedCase | DocumentsCase | LogEntryCase, Field(discriminator="kind")]


class _CaseFile(_Strict):
    case: Case


def load_cases(directory: Path = CASES_DIR) -> dict[str, TriedCase | DocumentsCase | LogEntryCase]:
    return {
        p.stem: _CaseFile.model_validate({"case": yaml.safe_load(p.read_text())}).case
        for p in sorted(directory.glob("*.yaml"))
    }


def run_key(case: str, run_id: str) -> str:
    """The stored run ID of a case's run: 32 hex characters, as MLflow's."""
    return hashlib.md5(f"{case}:{run_id}".encode()).hexdigest()  # noqa: S324 -- an ID, not a secret


def _words(text: str) -> list[str]:
    return re.findall(r"[\w]+", text.lower().replace("'", "").replace("\u2019", ""))


def phrase_matches(phrase: str, text: str) -> bool:
    """Every word of `phrase` starts some word of `text` (case-insensitive, punctuation ignored)."""
    words = _words(text)
    return all(any(w.startswith(p) for w in words) for p in _words(phrase))


def _line_of(text: str, phrase: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if phrase_matches(phrase, line):
            return i
    return None


# --- driving the service --------------------------------------------------------------------------------------------


@contextmanager
def _database() -> Iterator[Any]:
    from app.storage.db import make_engine, migrate

    logging.disable(logging.CRITICAL)  # the service's log lines would interleave with the table
    with tempfile.TemporaryDirectory(prefix="labbook-evals-docs-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'evals.db'}")
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()
            logging.disable(logging.NOTSET)


PUBLIC_URL = "http://labbook.test"

# Called with every entry a case stores (session, project row, the stored entry); answers with the entry as it
# stands afterwards. `evals.llm_paths` sets it to let a model phrase each entry; unset, the entries stay offline.
FOLLOW: ContextVar[Callable[[Any, Any, Any], Any] | None] = ContextVar("evals_documents_follow", default=None)


def _followed(session: Any, row: Any, entry: Any) -> Any:
    follow = FOLLOW.get()
    return entry if follow is None or entry is None else follow(session, row, entry)


class Project:
    """One case's project in a fresh session: its runs stored as the MLflow sync stores them."""

    def __init__(self, session: Any, name: str, case: _WithRuns, slug: str) -> None:
        from app.services.auth import Principal
        from app.storage.models import Project as ProjectRow
        from app.storage.models import Run

        self.session, self.name, self.case = session, name, case
        self.principal = Principal(name="evals")
        self.keys = {r.id: run_key(name, r.id) for r in case.runs}
        self.ids = {v: k for k, v in self.keys.items()}
        self.params = {r.id: {k: str(v) for k, v in r.params.items()} for r in case.runs}
        self.names = {r.id: r.name for r in case.runs}
        self.row = ProjectRow(
            slug=slug,
            name=name,
            primary_metric=case.project.primary_metric,
            metric_direction=case.project.direction,
            target_value=case.project.target,
            writeback=False,
        )
        session.add(self.row)
        session.flush()
        for r in case.runs:
            session.add(
                Run(
                    project_id=self.row.id,
                    key=self.keys[r.id],
                    run_id=self.keys[r.id],
                    run_name=r.name,
                    source="mlflow",
                    experiment_id="1",
                    params=self.params[r.id],
                    metrics=dict(r.metrics),
                    tags=dict(r.tags),
                    status=r.status,
                    start_time=r.start,
                    seed=None if r.seed is None else str(r.seed),
                    baseline=r.tags.get("baseline", "").lower() == "true",
                )
            )
        session.commit()

    def post_log(self, text: str, day: date, run_ids: Sequence[str]) -> Any:
        from app.services.logs import create_log
        from app.services.schemas import LogCreate

        log = create_log(
            self.session,
            project=self.row,
            principal=self.principal,
            body=LogCreate(text=text, session_date=day, run_ids=[self.keys[i] for i in run_ids]),
        )
        self.session.commit()
        return _followed(self.session, self.row, log.log_entry)

    def decide(self, d: DecisionSpec) -> Any:
        from app.services import documents as svc
        from app.services.schemas import CriterionCreate, DecisionCreate

        body = DecisionCreate(
            finalists=[self.keys[k] for k in d.finalists],
            criteria=[
                CriterionCreate(
                    name=c.name,
                    weight=c.weight,
                    metric=c.metric,
                    direction=c.direction,
                    scores={self.keys[k]: v for k, v in c.scores.items()},
                )
                for c in d.criteria
            ],
            selected=self.keys[d.selected] if d.selected else None,
            rationale=d.rationale,
        )
        entry = svc.create_decision(self.session, project=self.row, body=body, public_url=PUBLIC_URL)
        self.session.commit()
        return _followed(self.session, self.row, entry)

    def document(self, kind: str, **kwargs: Any) -> Any:
        from app.services import documents as svc
        from app.services.schemas import BriefCreate, NextExperimentsCreate, SummaryCreate, TriedCreate

        make = {
            "summary": (svc.create_summary, SummaryCreate),
            "next": (svc.create_next_experiments, NextExperimentsCreate),
            "brief": (svc.create_brief, BriefCreate),
            "tried": (svc.create_tried, TriedCreate),
        }
        fn, model = make[kind]
        entry = fn(self.session, project=self.row, body=model(**kwargs), public_url=PUBLIC_URL)
        self.session.commit()
        return _followed(self.session, self.row, entry)


@contextmanager
def _project(name: str, case: _WithRuns, n: int) -> Iterator[Project]:
    from sqlmodel import Session

    with _database() as engine, Session(engine, expire_on_commit=False) as session:
        yield Project(session, name, case, slug=f"case-{n}")


# --- reading documents ----------------------------------------------------------------------------------------------


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, Mapping) or p not in obj:
            return default
        obj = obj[p]
    return obj


@dataclass
class Checks:
    """Named pass/fail checks with, for a failure, what was seen."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        (self.passed if ok else self.failed).append(name if ok else f"{name}: {detail}" if detail else name)


_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_HEX32 = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])")
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.]*\d)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_FIELD_LINE = re.compile(r"^\W*(?:\w[\w-]*\W{0,2}\s?){1,3}:\s")


def _visible(markdown: str) -> str:
    """Markdown without link targets (where full IDs may stay)."""
    return _LINK_TARGET.sub("]", markdown)


def long_numbers(markdown: str) -> list[str]:
    """Decimal numbers with more than 4 significant digits in the visible Markdown."""
    out = []
    for m in _DECIMAL.finditer(_visible(markdown)):
        digits = m.group().lstrip("-").replace(".", "").lstrip("0")
        if len(digits) > 4:
            out.append(m.group())
    return out


def hex_ids(markdown: str) -> list[str]:
    return _HEX32.findall(_visible(markdown))


def repeated_sentences(markdown: str) -> list[str]:
    """Sentences of 8+ words said twice in one document (tables and headings left out)."""
    seen: set[str] = set()
    out: list[str] = []
    for line in markdown.splitlines():
        line = line.strip().lstrip("-*> ").strip()
        if not line or line.startswith(("|", "#")):
            continue
        for sentence in _SENTENCE_SPLIT.split(line):
            if _FIELD_LINE.match(sentence):
                continue  # a labelled field ("Cost: ...") repeats per item by design
            norm = " ".join(_words(sentence))
            if len(norm.split()) < 8:
                continue
            if norm in seen and norm not in out:
                out.append(norm)
            seen.add(norm)
    return out


_WITHIN = re.compile(r"\bwithin (?:the )?noise\b", re.I)
_BEYOND = re.compile(r"\b(?:beyond|clears?|above) (?:the )?noise\b", re.I)


def noise_contradictions(markdown: str, labels: Mapping[str, str]) -> list[str]:
    """Runs one sentence calls within the noise and another beyond it. `labels`: run key -> how Markdown names it
    (its name and its 8-character prefix are both tried)."""
    said: dict[str, set[str]] = {}
    for line in markdown.splitlines():
        for sentence in _SENTENCE_SPLIT.split(line):
            w, b = bool(_WITHIN.search(sentence)), bool(_BEYOND.search(sentence))
            if w == b:
                continue
            for key, name in labels.items():
                runs_named = [m for m in re.finditer(re.escape(key[:8]), sentence)]
                if name:
                    runs_named += list(re.finditer(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", sentence))
                if runs_named:
                    said.setdefault(key, set()).add("within" if w else "beyond")
    return sorted(k for k, v in said.items() if len(v) > 1)


def _negative_gains(body: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(body, Mapping):
        for k, v in body.items():
            here = f"{path}.{k}" if path else k
            if "gain" in k and isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
                out.append(f"{here}={v}")
            out += _negative_gains(v, here)
    elif isinstance(body, list):
        for i, v in enumerate(body):
            out += _negative_gains(v, f"{path}[{i}]")
    return out


_MD_NEG_GAIN = re.compile(r"\bgains?\b(?: of| is| was|:|=)?\s*[-\u2212]\d", re.I)


def markdown_checks(checks: Checks, doc: str, entry: Any, run_labels: Mapping[str, str]) -> None:
    md = entry.markdown
    checks.add(f"{doc}: numbers <= 4 significant digits", not (n := long_numbers(md)), ", ".join(n[:5]))
    checks.add(f"{doc}: no 32-hex ID outside a link", not (h := hex_ids(md)), ", ".join(h[:3]))
    checks.add(f"{doc}: no repeated sentence", not (r := repeated_sentences(md)), " | ".join(r[:2]))
    checks.add(f"{doc}: no run both within and beyond the noise", not (c := noise_contradictions(md, run_labels)))
    neg = _negative_gains(entry.body) + _MD_NEG_GAIN.findall(md)
    checks.add(f"{doc}: no negative gain", not neg, ", ".join(map(str, neg[:3])))
    checks.add(f"{doc}: no 'dropped (active)'", "dropped (active)" not in md.lower())
    del c


# --- scoring: tried -------------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One case's items: verdicts, citations, checks, quotes, next steps, re-proposals, fragment checks."""

    name: str
    kind: str
    verdicts: list[tuple[str, str, str | None]] = field(default_factory=list)  # (proposal, labelled, got)
    cited: list[tuple[str, str, bool]] = field(default_factory=list)  # (proposal, run id, listed)
    wrong_matches: list[str] = field(default_factory=list)
    checks: Checks = field(default_factory=Checks)
    quotes: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, right, detail)
    next_steps: list[tuple[str, bool]] = field(default_factory=list)
    reproposals: list[str] = field(default_factory=list)
    fragments: Checks = field(default_factory=Checks)
    missing: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _run_labels(p: Project) -> dict[str, str]:
    return {p.keys[i]: p.names[i] or "" for i in p.keys}


def run_tried(name: str, case: TriedCase, n: int = 0) -> Result:
    res = Result(name, "tried")
    with _project(name, case, n) as p:
        long_, hexes = [], []
        for prop in case.proposals:
            try:
                entry = p.document("tried", proposal=prop.text)
            except Exception as exc:  # a crash scores as nothing found, and is reported
                res.errors.append(f"{prop.text!r}: {type(exc).__name__}: {exc}")
                res.verdicts.append((prop.text, prop.verdict, None))
                res.cited += [(prop.text, k, False) for k in prop.cite]
                continue
            body = entry.body
            got = body.get("verdict")
            res.verdicts.append((prop.text, prop.verdict, got if got not in prop.accept else prop.verdict))
            exact = {p.ids.get(x.get("key"), x.get("key")) for x in body.get("exact", [])}
            similar = {p.ids.get(x.get("key"), x.get("key")) for x in body.get("similar", [])}
            listed = exact | similar
            res.cited += [(prop.text, k, k in listed) for k in prop.cite]
            res.wrong_matches += [f"{prop.text!r}: lists {k} (another family)" for k in prop.not_cited if k in listed]
            res.wrong_matches += [f"{prop.text!r}: {k} as an exact match" for k in prop.not_exact if k in exact]
            long_ += [f"{prop.text!r}: {x}" for x in long_numbers(entry.markdown)]
            hexes += [f"{prop.text!r}: {x}" for x in hex_ids(entry.markdown)]
        res.checks.add("tried answers: numbers <= 4 significant digits", not long_, "; ".join(long_[:3]))
        res.checks.add("tried answers: no 32-hex ID outside a link", not hexes, "; ".join(hexes[:3]))
    return res


# --- scoring: documents ---------------------------------------------------------------------------------------------

_SECTION = {"conclusion": "conclusions", "did_not_work": "did_not_work", "open_question": "open_questions"}


def _suggestions(body: Mapping[str, Any], res: Result) -> list[Mapping[str, Any]]:
    if "more" not in body:
        res.missing.add("NextExperiments.more")
    return [*body.get("priorities", []), *body.get("more", [])]


def _placements(doc: str, body: Mapping[str, Any], approach_runs: Mapping[str, set[str]]) -> list[tuple[str, Any]]:
    """Every quote of a summary or brief: (section, the runs of its approach, or None for a general one, text)."""
    out: list[tuple[str, Any]] = []
    if doc == "summary":
        notes = list(body.get("approaches", []))
        names = {a.get("name") for a in notes}
        notes += [a for a in [*body.get("closed", []), *body.get("remaining", [])] if a.get("name") not in names]
        for a in notes:
            runs = set(a.get("run_ids", [])) | approach_runs.get(a.get("name"), set())
            for section in _SECTION.values():
                out += [(section, (runs, q.get("text", ""))) for q in a.get(section, [])]
        out += [("open_questions", (None, q.get("text", ""))) for q in body.get("open_questions", [])]
    else:
        for a in body.get("approaches", []):
            runs = set(_get(a, "evidence", "run_ids", default=[])) | approach_runs.get(a.get("name"), set())
            for section in ("did_not_work", "open_questions"):
                out += [(section, (runs, q.get("text", ""))) for q in a.get(section, [])]
        out += [
            ("open_questions", (None, r.get("text", "")))
            for r in body.get("risks", [])
            if r.get("kind") == "open_question"
        ]
    return out


def _same(a: str, b: Scalar) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


def _is_number(v: Scalar) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def run_documents(name: str, case: DocumentsCase, n: int = 0) -> Result:
    res = Result(name, "documents")
    lab = case.labels
    with _project(name, case, n) as p:
        entry_ids: list[int | None] = []
        for d in case.dumps:
            entry = p.post_log(d.text, d.date, d.run_ids)
            entry_ids.append(entry.id if entry else None)
        decisions = [p.decide(d) for d in case.decisions]
        summary = p.document("summary")
        nxt = p.document("next", target=case.project.target)
        brief = p.document("brief")
        s, ne, br = summary.body, nxt.body, brief.body
        key = p.keys
        sugg = _suggestions(ne, res)
        kinds = [x.get("kind") for x in sugg]
        c = res.checks

        if lab.target_met is not None:
            c.add("next: target_met as labelled", ne.get("target_met") == lab.target_met, str(ne.get("target_met")))
        if lab.target_met:
            c.add("next: no pivot when the target is met", not _get(ne, "pivot", "pivot", default=False))
            plan_kinds = [x.get("kind") for x in s.get("plan", [])]
            c.add("next/summary: no reframe when the target is met", "reframe" not in kinds + plan_kinds)
            c.add(
                "next: confirm-and-harden advice when the target is met", "harden" in kinds, ", ".join(map(str, kinds))
            )
        if lab.min_candidates and lab.min_candidates >= 3:
            got = len(ne.get("priorities", []))
            c.add("next: three priorities when >= 3 candidates remain", got >= 3, f"{got} priorities")
        active_dropped = [
            a.get("name")
            for a in br.get("approaches", [])
            if a.get("outcome") == "dropped" and a.get("status") == "active"
        ]
        c.add("brief: no approach dropped while active", not active_dropped, ", ".join(map(str, active_dropped)))
        if lab.best:
            got = _get(ne, "best", "key")
            c.add("next: the best run on the metric", got == key[lab.best], str(p.ids.get(got, got)))
            allowed = {key[lab.best]} | ({key[lab.selected]} if lab.selected else set())
            got = _get(s, "current_best", "key")
            c.add("summary: current best is the best or the selected run", got in allowed, str(p.ids.get(got, got)))
        if lab.selected:
            for doc, body, entry in (("summary", s, summary), ("brief", br, brief)):
                if "selected" not in body:
                    res.missing.add(f"{'PhaseSummary' if doc == 'summary' else 'HandoverBrief'}.selected")
                c.add(
                    f"{doc}: selected is the recorded decision's run",
                    body.get("selected") == key[lab.selected],
                    str(p.ids.get(body.get("selected"), body.get("selected"))),
                )
                label = p.names[lab.selected] or key[lab.selected][:8]
                c.add(
                    f"{doc}: Markdown names the chosen run",
                    label in _visible(entry.markdown) or key[lab.selected][:8] in entry.markdown,
                )
        open_texts = [t for sec, (runs, t) in _placements("summary", s, {}) if sec == "open_questions"]
        open_texts += [t for sec, (runs, t) in _placements("brief", br, {}) if sec == "open_questions"]
        for phrase in lab.answered:
            still = [t for t in open_texts if phrase_matches(phrase, t)]
            c.add(f"answered question not listed as open: {phrase!r}", not still, still[0][:80] if still else "")
        labels = _run_labels(p)
        for doc, entry in (("summary", summary), ("next", nxt), ("brief", brief)) + tuple(
            (f"decision {i}", e) for i, e in enumerate(decisions)
        ):
            markdown_checks(c, doc, entry, labels)

        # quotes filed right
        approach_runs = {a.get("name"): set(a.get("run_ids", [])) for a in s.get("approaches", [])}
        for doc, body in (("summary", s), ("brief", br)):
            placed = _placements(doc, body, approach_runs)
            if doc == "summary" and any("open_questions" not in a for a in s.get("approaches", [])):
                res.missing.add("ApproachNote.open_questions")
            if doc == "brief" and any("open_questions" not in a for a in br.get("approaches", [])):
                res.missing.add("ApproachStory.open_questions")
            for q in lab.quotes:
                if doc == "brief" and q.kind == "conclusion":
                    continue
                hits = [(sec, runs, t) for sec, (runs, t) in placed if phrase_matches(q.phrase, t)]
                want = _SECTION[q.kind]
                where = "general" if q.approach is None else q.approach
                if len(hits) != 1:
                    res.quotes.append((f"{doc}: {q.phrase!r} ({want}, {where})", False, f"{len(hits)} placements"))
                    continue
                sec, runs, _ = hits[0]
                right_place = runs is None if q.approach is None else runs is not None and key[q.approach] in runs
                detail = f"under {sec}, " + (
                    "general" if runs is None else f"an approach of {sorted(p.ids.get(r, r) for r in runs)}"
                )
                res.quotes.append((f"{doc}: {q.phrase!r} ({want}, {where})", sec == want and right_place, detail))
            for phrase in lab.not_failures:
                bad = [t for sec, (_, t) in placed if sec == "did_not_work" and phrase_matches(phrase, t)]
                res.quotes.append((f"{doc}: {phrase!r} not a failure", not bad, "filed under did_not_work"))

        # stated next steps
        if sugg and not any("entry_id" in x for x in sugg):
            res.missing.add("Suggestion.entry_id")
        for step in lab.next_steps:
            eid = entry_ids[step.dump]
            found = False
            for x in sugg:
                words = " ".join(str(x.get(k) or "") for k in ("title", "why", "quote"))
                if (eid is not None and x.get("entry_id") == eid and phrase_matches(step.phrase, words)) or (
                    x.get("quote") and phrase_matches(step.phrase, str(x.get("quote")))
                ):
                    found = True
                    break
            res.next_steps.append((f"{step.phrase!r} (dump {step.dump})", found))

        # failed settings re-proposed
        for fs in lab.failed_settings:
            for x in sugg:
                base = p.ids.get(x.get("base") or "")
                config = dict(p.params.get(base, {})) if base else {}
                for ch in x.get("changes", []):
                    config[ch.get("param")] = ch.get("proposed")
                by_config = all(k in config and _same(config[k], v) for k, v in fs.params.items())
                words = [str(v) for v in fs.params.values() if not _is_number(v)]
                by_text = len(words) == len(fs.params) and all(
                    phrase_matches(w, str(x.get("title", ""))) for w in words
                )
                if by_config or by_text:
                    res.reproposals.append(f"{fs.params} re-proposed: {x.get('title')!r}")
    return res


# --- scoring: log-entry fragments -----------------------------------------------------------------------------------


def _stated(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for e in body.get("experiments", []) for m in e.get("stated", [])]


def _has_value(m: Mapping[str, Any], v: float) -> bool:
    return any(isinstance(m.get(k), int | float) and abs(m[k] - v) < 1e-9 for k in ("value", "low", "high"))


def run_log_entries(name: str, case: LogEntryCase, n: int = 0) -> Result:
    from app.compose.log_entry.schema import SECTIONS

    res = Result(name, "log_entry")
    f = res.fragments
    with _project(name, case, n) as p:
        for d in case.dumps:
            entry = p.post_log(d.text, d.date, d.run_ids)
            body = entry.body if entry else {}
            lab = d.labels
            stated = _stated(body)
            items = [(sec, it) for sec in SECTIONS for it in body.get(sec, [])]
            for ch in lab.changes:
                exps = [e for e in body.get("experiments", []) if e.get("run_id") == p.keys[ch.run]]
                changes = [str(e.get("change", "")) for e in exps]
                ok = bool(exps) and all(
                    not phrase_matches(ch.not_phrase, t) and all(m.lower() in t.lower() for m in ch.mentions)
                    for t in changes
                )
                f.add(f"{d.id}: change of {ch.run} is its parameter diff", ok, " | ".join(changes) or "no experiment")
            for v in lab.stated_once:
                k = sum(_has_value(m, v) for m in stated)
                f.add(f"{d.id}: {v} stated once", k == 1, f"{k} times")
            for v in lab.stated_metric:
                f.add(f"{d.id}: {v} is a stated metric", any(_has_value(m, v) for m in stated))
            for v in lab.not_stated_metric:
                f.add(f"{d.id}: {v} is not a stated metric", not any(_has_value(m, v) for m in stated))
            for phrase in lab.not_conclusion:
                bad = [
                    it.get("text", "")
                    for it in body.get("conclusions", [])
                    if phrase_matches(phrase, it.get("text", ""))
                ]
                f.add(f"{d.id}: setup {phrase!r} is not a conclusion", not bad)
            for ins in lab.instructions:
                line = _line_of(d.text, ins.phrase)
                warned = any(
                    w.get("code") == "instruction_ignored" and w.get("line") == line for w in body.get("warnings", [])
                )
                f.add(f"{d.id}: instruction_ignored on line {line}", warned)
                quoted = any(
                    it.get("quoted") and (it.get("line") == line or phrase_matches(ins.phrase, it.get("text", "")))
                    for _, it in items
                )
                f.add(f"{d.id}: instruction line kept quoted", quoted)
                leaked = [
                    v for v in ins.numbers if any(_has_value(m, v) for m in stated) or str(v) in body.get("tldr", "")
                ]
                f.add(f"{d.id}: instruction numbers not stated", not leaked, str(leaked))
                from_line = [m.get("text") for m in stated if m.get("line") == line]
                from_line += [f"run ref {e.get('ref')}" for e in body.get("experiments", []) if e.get("line") == line]
                from_line += [
                    f"{sec}: {it.get('text', '')[:40]}"
                    for sec, it in items
                    if it.get("line") == line and not it.get("quoted")
                ]
                f.add(
                    f"{d.id}: nothing taken from the instruction line",
                    not from_line,
                    "; ".join(map(str, from_line[:3])),
                )
    return res


# --- summary --------------------------------------------------------------------------------------------------------


def run_case(name: str, case: TriedCase | DocumentsCase | LogEntryCase, n: int = 0) -> Result:
    runner = {"tried": run_tried, "documents": run_documents, "log_entry": run_log_entries}[case.kind]
    try:
        return runner(name, case, n)  # type: ignore[arg-type]
    except Exception as exc:  # a crash scores the case as finding nothing, and is reported
        return _failed(name, case, f"{type(exc).__name__}: {exc}")


def _failed(name: str, case: TriedCase | DocumentsCase | LogEntryCase, error: str) -> Result:
    res = Result(name, case.kind, errors=[error])
    if isinstance(case, TriedCase):
        res.verdicts = [(p.text, p.verdict, None) for p in case.proposals]
        res.cited = [(p.text, k, False) for p in case.proposals for k in p.cite]
    elif isinstance(case, DocumentsCase):
        res.checks.add("case ran", False, error)
        res.quotes = [(q.phrase, False, error) for q in case.labels.quotes]
        res.next_steps = [(s.phrase, False) for s in case.labels.next_steps]
    else:
        res.fragments.add("case ran", False, error)
    return res


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def summarize(results: Sequence[Result]) -> dict[str, Any]:
    verdicts = [v for r in results for v in r.verdicts]
    cited = [c for r in results for c in r.cited]
    passed = sum(len(r.checks.passed) for r in results)
    failed = sum(len(r.checks.failed) for r in results)
    quotes = [q for r in results for q in r.quotes]
    steps = [s for r in results for s in r.next_steps]
    frag_ok = sum(len(r.fragments.passed) for r in results)
    frag_bad = sum(len(r.fragments.failed) for r in results)
    ok_verdicts = sum(1 for _, want, got in verdicts if want == got)
    return {
        "cases": len(results),
        "verdict_accuracy": _ratio(ok_verdicts, len(verdicts)),
        "verdicts": {"correct": ok_verdicts, "total": len(verdicts)},
        "cited_run_recall": _ratio(sum(1 for *_, ok in cited if ok), len(cited)),
        "cited_runs": {"found": sum(1 for *_, ok in cited if ok), "labelled": len(cited)},
        "wrong_matches": sum(len(r.wrong_matches) for r in results),
        "self_contradiction_checks": {"passed": passed, "failed": failed, "total": passed + failed},
        "quotes_filed_right": _ratio(sum(1 for _, ok, _ in quotes if ok), len(quotes)),
        "quotes": {"right": sum(1 for _, ok, _ in quotes if ok), "total": len(quotes)},
        "stated_next_step_recall": _ratio(sum(1 for _, ok in steps if ok), len(steps)),
        "next_steps": {"found": sum(1 for _, ok in steps if ok), "labelled": len(steps)},
        "failed_setting_reproposals": sum(len(r.reproposals) for r in results),
        "log_entry_fragment_checks": {"passed": frag_ok, "failed": frag_bad, "total": frag_ok + frag_bad},
        "missing_interfaces": sorted({m for r in results for m in r.missing}),
        "errors": {r.name: r.errors for r in results if r.errors},
    }


def check(summary: Mapping[str, Any]) -> list[str]:
    """The issue's targets missed, in words; empty when all are met."""
    missed = []
    for figure, target in TARGETS.items():
        value = summary[figure]
        if value is not None and value < target:
            missed.append(f"{figure} {value:.3f} < {target}")
    if summary["self_contradiction_checks"]["failed"]:
        missed.append(f"self-contradictions: {summary['self_contradiction_checks']['failed']}")
    if summary["errors"]:
        missed.append(f"errors on {sorted(summary['errors'])}")
    return missed


def disagreements(r: Result) -> list[str]:
    lines = [f"verdict {text!r}: labelled {want}, got {got}" for text, want, got in r.verdicts if want != got]
    lines += [f"not listed for {text!r}: {k}" for text, k, ok in r.cited if not ok]
    lines += [f"wrong match: {w}" for w in r.wrong_matches]
    lines += [f"check failed: {c}" for c in r.checks.failed]
    lines += [f"quote misfiled: {what} -- {detail}" for what, ok, detail in r.quotes if not ok]
    lines += [f"next step not heard: {what}" for what, ok in r.next_steps if not ok]
    lines += [f"failed setting: {x}" for x in r.reproposals]
    lines += [f"fragment: {c}" for c in r.fragments.failed]
    lines += [f"error: {e}" for e in r.errors]
    return lines


def _say(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)  # noqa: T201 -- the eval runner reports to the terminal


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def print_table(s: Mapping[str, Any]) -> None:
    v, c, q, n = s["verdicts"], s["cited_runs"], s["quotes"], s["next_steps"]
    sc, lf = s["self_contradiction_checks"], s["log_entry_fragment_checks"]
    _say(f"tried? verdict accuracy        {v['correct']}/{v['total']} = {_fmt(s['verdict_accuracy'])}  (target 0.9)")
    _say(f"cited-run recall               {c['found']}/{c['labelled']} = {_fmt(s['cited_run_recall'])}  (target 0.95)")
    _say(f"  wrong matches (other family, baseline as exact)  {s['wrong_matches']}")
    _say(
        f"self-contradiction checks      {sc['passed']}/{sc['total']} passed, {sc['failed']} failed  (target 0 failed)"
    )
    _say(f"quotes filed right             {q['right']}/{q['total']} = {_fmt(s['quotes_filed_right'])}  (target 0.95)")
    _say(
        f"stated-next-step recall        {n['found']}/{n['labelled']} = "
        f"{_fmt(s['stated_next_step_recall'])}  (target 0.9)"
    )
    _say(f"failed-setting re-proposals    {s['failed_setting_reproposals']}")
    _say(f"log-entry fragment checks      {lf['passed']}/{lf['total']} passed")
    if s["missing_interfaces"]:
        _say(f"missing interfaces (scored 0 where they serve): {', '.join(s['missing_interfaces'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.documents", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every disagreement per case")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--json", type=Path, help="write the JSON summary here instead of stdout")
    parser.add_argument(
        "--cases", type=Path, default=CASES_DIR, help="the case directory (cases/documents_holdout: the second set)"
    )
    args = parser.parse_args(argv)

    cases = load_cases(args.cases)
    if args.case:
        unknown = set(args.case) - set(cases)
        if unknown:
            parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
        cases = {n: c for n, c in cases.items() if n in args.case}
    results = [run_case(name, case, n) for n, (name, case) in enumerate(cases.items())]
    summary = summarize(results)
    summary["disagreements"] = {r.name: d for r in results if (d := disagreements(r))}
    print_table(summary)
    if args.verbose:
        for name, lines in summary["disagreements"].items():
            _say(f"\n{name}:")
            for line in lines:
                _say(f"  {line}")
    text = json.dumps(summary, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    elif not args.verbose:
        _say(text)
    if args.check:
        missed = check(summary)
        for line in missed:
            _say(f"TARGET MISSED: {line}", err=True)
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
