"""Run the blind retrieval set (`cases/retrieval/*.yaml`): queries in people's words over a project's own history.

The cases were written and labelled by someone who had not read the retrieval code, before this runner existed:
eight histories in other domains and styles (Slack typos, long prose, bullets, mixed languages), with queries phrased
in other words than the dumps (synonyms, abbreviations, typos), exact-token queries (a run name or ID, a parameter),
queries nothing answers, the earlier sessions a colleague would cite as related, and "has this been tried?"
proposals whose answer is in the words of the dumps.

Each case is played through the services on a fresh SQLite database and a fresh embedded Chroma, with the real
packaged embedding model: the dumps are posted oldest first, each indexed before the next is composed (so a new
entry's "related prior work" sees only the past), then every query is searched.

    python -m evals.retrieval [--cases DIR] [--check] [--verbose]

## Case format (strict)

`kind: retrieval`, `why`, `project`, `runs` (as in `cases/documents`), `dumps` (`{id, date, run_ids, text}`),
`queries` (`{q, answers}`: `answers` the dumps that answer it, best first, or `[]` when nothing does; `q` may hold
`{run_name:ID}`, `{run_id:ID}` and `{param:KEY}` placeholders), `related` (`{dump, related, not_related}`) and
`tried` (`{text, verdict, evidence}`, verdict `tried`/`similar`/`new`).

## Figures

- **recall@3**: per answerable query, the share of its answers (at most 3) among the top 3 sessions; the mean.
- **MRR**: the mean of 1 / the rank of the first answer in the top 10 (0 when none is).
- **unanswerable queries kept below the threshold**: queries with no answer whose best hit's similarity is under
  the related-work threshold (a search still ranks something; the threshold is what a citation needs).
- **related prior work**: precision and recall of the earlier sessions cited in each labelled dump's entry against
  `related`, and the `not_related` ones cited (must be 0).
- **"tried?" verdicts**: the share right without semantic neighbours (runs only) and with them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from evals.documents import ProjectSpec, RunSpec, _Strict, run_key

CASES_DIR = Path(__file__).parent / "cases" / "retrieval"
TARGETS = {"recall_at_3": 0.9}
Verdict = Literal["tried", "similar", "new"]


class DumpSpec(_Strict):
    id: str
    date: date
    run_ids: list[str] = Field(default_factory=list)
    text: str


class QuerySpec(_Strict):
    q: str
    answers: list[str]


class RelatedSpec(_Strict):
    dump: str
    related: list[str]
    not_related: list[str] = Field(default_factory=list)


class TriedSpec(_Strict):
    text: str
    verdict: Verdict
    evidence: list[str] = Field(default_factory=list)


class RetrievalCase(_Strict):
    kind: Literal["retrieval"]
    why: str
    project: ProjectSpec
    runs: list[RunSpec] = Field(default_factory=list)
    dumps: list[DumpSpec] = Field(min_length=1)
    queries: list[QuerySpec] = Field(default_factory=list)
    related: list[RelatedSpec] = Field(default_factory=list)
    tried: list[TriedSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_ids(self) -> RetrievalCase:
        dumps = {d.id for d in self.dumps}
        runs = {r.id for r in self.runs}
        cited = {a for q in self.queries for a in q.answers} | {t for t in (e for x in self.tried for e in x.evidence)}
        cited |= {d for r in self.related for d in (r.dump, *r.related, *r.not_related)}
        if cited - dumps:
            raise ValueError(f"unknown dumps: {sorted(cited - dumps)}")
        unknown_runs = {r for d in self.dumps for r in d.run_ids} - runs
        if unknown_runs:
            raise ValueError(f"unknown runs: {sorted(unknown_runs)}")
        return self


def load_cases(directory: Path = CASES_DIR) -> dict[str, RetrievalCase]:
    return {
        path.stem: RetrievalCase.model_validate(yaml.safe_load(path.read_text()))
        for path in sorted(directory.glob("*.yaml"))
    }


# --- playing a case -------------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ranks: list[tuple[str, list[str], list[str]]] = field(default_factory=list)  # (query, answers, top 10 dump ids)
    unanswerable: list[tuple[str, float]] = field(default_factory=list)  # (query, best similarity)
    related: list[tuple[str, list[str], list[str], list[str]]] = field(default_factory=list)  # dump, want, not, got
    tried: list[tuple[str, str, str, str]] = field(default_factory=list)  # text, label, without, with
    error: str | None = None


@contextmanager
def _stack() -> Iterator[tuple[Any, Path]]:
    from app.storage.db import make_engine, migrate

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="labbook-evals-retrieval-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'evals.db'}")
        migrate(engine)
        try:
            yield engine, Path(tmp) / "chroma"
        finally:
            engine.dispose()
            logging.disable(logging.NOTSET)


def _fill(q: str, case: RetrievalCase, name: str) -> str:
    for run in case.runs:
        q = q.replace(f"{{run_name:{run.id}}}", run.name or run.id).replace(
            f"{{run_id:{run.id}}}", run_key(name, run.id)
        )
    while "{param:" in q:
        start = q.index("{param:")
        end = q.index("}", start)
        q = q[:start] + q[start + 7 : end] + q[end + 1 :]
    return q


def run_case(name: str, case: RetrievalCase, n: int = 0, threshold: float | None = None) -> Result:
    from sqlmodel import Session

    from app.retrieval.embedder import get_embedder
    from app.retrieval.store import VectorStore
    from app.services import index_queue
    from app.services import memory as memory_service
    from app.services import search as search_service
    from app.services.logs import create_log
    from app.services.schemas import LogCreate
    from evals.documents import Project

    res = Result(name)
    # A history dated in the future is moved back whole (a dump's day may not be later than today).
    shift = max(0, (max(d.date for d in case.dumps) - date.today()).days)
    with _stack() as (engine, chroma), Session(engine, expire_on_commit=False) as session:
        from app.config import Settings

        minimum = threshold if threshold is not None else Settings().related_min_similarity
        memory = memory_service.Memory(VectorStore(path=chroma), get_embedder(), minimum)
        index_queue.configure(enabled=True)
        memory_service._active = memory
        try:
            p = Project(session, name, case, slug=f"case-{n}")  # type: ignore[arg-type]
            dump_of_log: dict[int, str] = {}
            related_of: dict[str, list[int]] = {}
            for d in case.dumps:
                log = create_log(
                    session,
                    project=p.row,
                    principal=p.principal,
                    body=LogCreate(
                        text=d.text, session_date=d.date - timedelta(days=shift), run_ids=[p.keys[i] for i in d.run_ids]
                    ),
                )
                session.commit()
                dump_of_log[log.id] = d.id
                entry = log.log_entry
                related_of[d.id] = (
                    [r["log_id"] for r in entry.body.get("related", []) if r.get("log_id")] if entry else []
                )
                memory_service.reindex(session, memory, project=p.row)
            for q in case.queries:
                text = _fill(q.q, case, name)
                found = search_service.search(
                    session, memory, project=p.row, query=search_service.Query(text, limit=10)
                )
                top = [dump_of_log.get(f.log_id or -1, f.key) for f in found]
                if q.answers:
                    res.ranks.append((text, q.answers, top))
                else:
                    res.unanswerable.append((text, max((f.similarity for f in found), default=0.0)))
            for r in case.related:
                got = [dump_of_log[i] for i in related_of.get(r.dump, []) if i in dump_of_log]
                res.related.append((r.dump, r.related, r.not_related, got))
            for t in case.tried:
                res.tried.append((t.text, t.verdict, _verdict(p, t.text, None), _verdict(p, t.text, memory)))
        finally:
            index_queue.configure(enabled=False)
            memory_service._active = None
    return res


def _verdict(p: Any, text: str, memory: Any) -> str:
    from app.services import memory as memory_service

    saved = memory_service._active
    memory_service._active = memory
    try:
        entry = p.document("tried", proposal=text)
        return str(entry.body.get("verdict", "?")) if isinstance(entry.body, dict) else "?"
    finally:
        memory_service._active = saved


# --- figures --------------------------------------------------------------------------------------------------------


def summarize(results: Sequence[Result], threshold: float) -> dict[str, Any]:
    recalls, rr = [], []
    for r in results:
        for _q, answers, top in r.ranks:
            wanted = answers[:3]
            recalls.append(sum(1 for a in wanted if a in top[:3]) / len(wanted))
            first = next((i for i, t in enumerate(top[:10]) if t in answers), None)
            rr.append(0.0 if first is None else 1.0 / (first + 1))
    unanswerable = [s for r in results for _q, s in r.unanswerable]
    tp = fp = fn = wrong = 0
    for r in results:
        for _d, want, not_want, got in r.related:
            tp += sum(1 for g in got if g in want)
            fp += sum(1 for g in got if g not in want)
            fn += sum(1 for w in want if w not in got)
            wrong += sum(1 for g in got if g in not_want)
    tried = [t for r in results for t in r.tried]
    return {
        "queries": len(recalls),
        "recall_at_3": _mean(recalls),
        "mrr": _mean(rr),
        "unanswerable_below_threshold": (sum(1 for s in unanswerable if s < threshold), len(unanswerable)),
        "related_precision": tp / (tp + fp) if tp + fp else None,
        "related_recall": tp / (tp + fn) if tp + fn else None,
        "related_not_related_cited": wrong,
        "tried_without": (sum(1 for _t, want, got, _w in tried if got == want), len(tried)),
        "tried_with": (sum(1 for _t, want, _g, got in tried if got == want), len(tried)),
        "errors": [r.error for r in results if r.error],
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report(s: Mapping[str, Any], results: Sequence[Result], *, verbose: bool, threshold: float) -> None:
    out = sys.stdout.write
    below, total = s["unanswerable_below_threshold"]
    tw, tn = s["tried_without"]
    tv, _ = s["tried_with"]
    out(f"retrieval set: {len(results)} histories, {s['queries']} answerable queries\n")
    out(f"recall@3                          {_f(s['recall_at_3'])}  (target {TARGETS['recall_at_3']})\n")
    out(f"MRR                               {_f(s['mrr'])}\n")
    out(f"unanswerable under {threshold:.2f}          {below}/{total}\n")
    out(f"related prior work precision      {_f(s['related_precision'])}\n")
    out(f"related prior work recall         {_f(s['related_recall'])}\n")
    out(f"'not related' sessions cited      {s['related_not_related_cited']}\n")
    out(f"tried? verdicts, runs only        {tw}/{tn}\n")
    out(f"tried? verdicts, with neighbours  {tv}/{tn}\n")
    if verbose:
        for r in results:
            for q, answers, top in r.ranks:
                if not any(a in top[:3] for a in answers):
                    out(f"  {r.name}: {q!r} wants {answers}, top 3 {top[:3]}\n")
            for d, want, not_want, got in r.related:
                if set(got) != set(want):
                    out(f"  {r.name}: related of {d}: want {want} (not {not_want}), got {got}\n")
            for t, want, without, with_ in r.tried:
                if with_ != want:
                    out(f"  {r.name}: tried {t!r}: label {want}, runs only {without}, with neighbours {with_}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES_DIR)
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    parser.add_argument("--verbose", action="store_true", help="List the misses.")
    parser.add_argument("--threshold", type=float, default=None, help="The related-work similarity threshold.")
    args = parser.parse_args(argv)
    from app.config import Settings

    threshold = args.threshold if args.threshold is not None else Settings().related_min_similarity
    results = []
    for n, (name, case) in enumerate(load_cases(args.cases).items()):
        try:
            results.append(run_case(name, case, n, threshold))
        except Exception as exc:  # a case that crashes is a figure too
            results.append(Result(name, error=f"{type(exc).__name__}: {exc}"))
    summary = summarize(results, threshold)
    report(summary, results, verbose=args.verbose, threshold=threshold)
    for error in summary["errors"]:
        sys.stdout.write(f"error: {error}\n")
    missed = [k for k, target in TARGETS.items() if (summary[k] or 0) < target] + summary["errors"]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
