"""Checking that a composed document invents nothing.

`check_document_grounding` holds a document (the offline composer's or a model's) to one
rule: every run key it cites is a stored run, and every number its Markdown prints (or its body's evidence
carries) is one of
- a stored metric, parameter or duration of a run it cites (or a number inside a stored text field of one);
- a number the findings computed (every float in `Findings`, and the numbers in its messages and reasons), among
  them the seed sd, the believable gain of one run over another and that of the best run's lead;
- a number this check recomputes from stored values and finds equal: a cost (the median duration of the runs it
  names, in seconds, minutes or hours), a proposed parameter value (the step or ratio between the two runs it names,
  applied to its base run), a selection table (raw values are the finalists' stored values, totals are the sum of
  normalised weight x score), a gap between two values of the same metric among the cited runs;
- a date, a small count or ordinal, or a value the person gave (target, budget, weights, their own text).
Numbers are compared after rendering with `fmt` (or `fmt_noise`, two digits), so 0.86123 stored and 0.8612 printed
agree. The Markdown is read as a person reads it: the escaping of people's words (`app.compose.escape`) is undone
first, so an escaped name still masks its digits and an escaped backtick opens no code span. The result is a list of
problem sentences naming the number or run; [] means grounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from app.analysis.model import Findings, RunView
from app.compose.contract import Composed, DocContext
from app.compose.documents.common import body_run_ids, value_of
from app.compose.documents.planning import median_duration
from app.compose.escape import md_plain
from app.compose.labels import SHORT
from app.parsing.fmt import fmt, fmt_noise, fmt_plain, half_unit
from app.parsing.mentions import extract_numbers

__all__ = ["check_document_grounding"]

_DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_CODE_RE = re.compile(r"(?<!\\)(`+)\s?(.+?)\s?\1")  # not from an escaped backtick: a person's, shown as typed
_SHORT_RE = re.compile(r"(?<![0-9A-Za-z.])[0-9A-Za-z_-]{8}(?![0-9A-Za-z.])")
_PERSON_FIELDS = ("proposal", "audience", "known", "params", "unmatched", "reason")
_MIN_COUNT_BOUND = 12


def check_document_grounding(composed: Composed, ctx: DocContext, findings: Findings) -> list[str]:
    body = composed.body.model_dump(mode="json")
    problems: list[str] = []
    cited = _check_runs(composed, body, ctx, problems)
    allowed = _Allowed()
    allowed.add_many(_stored_numbers(ctx, cited))
    allowed.add_many(_findings_numbers(findings, cited))
    allowed.add_many(_metric_gaps(ctx, findings, cited))
    allowed.add_many(_person_numbers(ctx, findings, body))
    allowed.add_many(_verified(ctx, body, problems))
    bound = max(len(ctx.runs), len(ctx.entries), _MIN_COUNT_BOUND)
    masks = _identifiers(ctx, findings, cited)
    shorts = {key[:SHORT] for key in ctx.runs if len(key) > SHORT}
    for line_number, line in enumerate(composed.markdown.splitlines(), start=1):
        line = _strip_short_keys(_strip_code(line), shorts)
        for mention in extract_numbers(_DATE_RE.sub(" ", md_plain(line)), mask=masks):
            if not any(allowed.has(v) or _is_count(v, bound) for v in mention.values):
                problems.append(
                    f"number {mention.text} in the Markdown (line {line_number}) is neither a stored value of a "
                    "cited run, a computed finding, nor a value given by the person"
                )
    for name, value in _evidence_numbers(body):
        if not allowed.has(value):
            problems.append(f"number {fmt(value)} ({name}) in the body's evidence is neither stored nor computed")
    return problems


class _Allowed:
    """Values by their rendering: a stored 0.86123 allows 0.86123 and 0.8612; signs are ignored ("dropped 0.02")."""

    def __init__(self) -> None:
        self._keys: set[float] = set()

    def add_many(self, values: Iterable[float]) -> None:
        for value in set(values):
            value = abs(value)
            self._keys.add(_key(value))
            self._keys.add(_key(float(fmt(value))))
            self._keys.add(_key(float(fmt_noise(value))))  # a noise figure is written with two digits

    def has(self, value: float) -> bool:
        value = abs(value)
        return _key(value) in self._keys or _key(float(fmt(value))) in self._keys


def _key(value: float) -> float:
    return float(f"{value:.9g}")


def numbers_match(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _is_count(value: float, bound: int) -> bool:
    return value == int(value) and 0 <= value <= bound


# -- run keys ----------------------------------------------------------------------------------------------------------


def _check_runs(composed: Composed, body: dict[str, Any], ctx: DocContext, problems: list[str]) -> set[str]:
    """Every run key in the body, `run_ids` and the Markdown's code spans is stored; returns the cited keys."""
    in_body = body_run_ids(body)
    code = set(_code_values(body))
    in_markdown = [_span_key(m[2], ctx) for m in _CODE_RE.finditer(composed.markdown) if m[2] not in code]
    for where, keys in (("the body", in_body), ("run_ids", composed.run_ids), ("the Markdown", in_markdown)):
        for key in dict.fromkeys(keys):
            if key not in ctx.runs:
                problems.append(f"run `{key}` cited in {where} is not a stored run")
    return {k for k in (*in_body, *composed.run_ids, *in_markdown) if k in ctx.runs}


def _span_key(span: str, ctx: DocContext) -> str:
    """The run key a code span shows: in a table row, a `|` in the key is written `\\|` (GFM splits the row first)."""
    unescaped = span.replace("\\|", "|")
    return unescaped if span not in ctx.runs and unescaped in ctx.runs else span


def _code_values(body: Any) -> Iterator[str]:
    """Code the document quotes on purpose (the MLflow calls of a reproduction report): not run citations."""
    if isinstance(body, Mapping):
        for name, value in body.items():
            if name == "code" and isinstance(value, str):
                yield value
            else:
                yield from _code_values(value)
    elif isinstance(body, list):
        for item in body:
            yield from _code_values(item)


def _strip_short_keys(line: str, shorts: set[str]) -> str:
    """A run's label shows the first 8 characters of its key (`app.compose.labels`): digits that are not numbers."""
    return _SHORT_RE.sub(lambda m: " " if m[0] in shorts else m[0], line) if shorts else line


def _strip_code(line: str) -> str:
    """Run keys and quoted code hold digits that are not numbers."""
    return _CODE_RE.sub(" ", line)


# -- where numbers may come from ---------------------------------------------------------------------------------------


def _stored_numbers(ctx: DocContext, cited: set[str]) -> Iterator[float]:
    texts: set[str] = set()  # runs share most of their texts (a commit, a data version): each is read once
    for key in cited:
        run = ctx.runs[key]
        yield from run.metrics.values()
        if run.duration_s is not None:
            yield from (run.duration_s, run.duration_s / 60, run.duration_s / 3600)
        texts.update(_run_texts(run))
    for text in texts:
        yield from _numbers_in(text)


def _run_texts(run: RunView) -> Iterator[str]:
    yield from run.params.values()
    for value in (run.git_commit, run.data_version, run.seed, run.hardware, run.source_name, run.split, run.owner):
        if value:
            yield value
    yield from _strings(run.environment)
    for dataset in run.datasets:
        yield from _strings(dataset)


def _findings_numbers(findings: Findings, cited: set[str]) -> Iterator[float]:
    """Every number the findings computed, read from their fields, never parsed back out of their messages: the
    analysis puts every number a message states into its `numbers` (tests/analysis checks that), and parsing
    thousands of messages made a 10,000-run document take seconds. People's words in reasons are read as text."""
    noise = findings.noise
    for value in (findings.baseline_value, findings.best_value, noise.std, noise.min_gain):
        if value is not None:
            yield value
    for value in (noise.std, noise.min_gain):  # a noise estimate may be written at 2 significant digits
        if value is not None:
            yield float(fmt_noise(value))
    lead = findings.best_lead
    if lead is not None:  # the best run's lead over the runner-up and the believable gain for its two sides
        yield from (lead.lead, lead.best_mean, lead.runner_up_mean, lead.believable_gain)
    for group in noise.groups:
        yield from (group.mean, group.std)
    for f in findings.findings:
        yield from f.numbers.values()
    for a in findings.approaches:
        yield from (v for v in (a.best_value, a.gain_vs_baseline, a.recent_gain) if v is not None)
        yield from (value for _, value in a.best_so_far)
        yield from _numbers_in(a.reason)
        if a.mark is not None:
            yield from _numbers_in(a.mark.reason)
    for d in findings.duplicates:
        if d.compute_s is not None:
            yield d.compute_s
    for switch in findings.metric_switches:
        yield from _numbers_in(switch.reason)
    for key in cited:  # the parameter changes of the runs a document cites
        change = findings.changes.get(key)
        for c in (*change.vs_baseline, *change.vs_closest) if change else ():
            yield from (n for text in (c.before, c.after) if text for n in _numbers_in(text))


def _metric_gaps(ctx: DocContext, findings: Findings, cited: set[str]) -> Iterator[float]:
    """The gain of a cited run over the baseline or the best on the metric in force."""
    anchors = [v for v in (findings.baseline_value, findings.best_value) if v is not None]
    for key in cited:
        value = value_of(ctx.runs[key], findings.metric)
        if value is not None:
            yield from (value - anchor for anchor in anchors)


def _person_numbers(ctx: DocContext, findings: Findings, body: dict[str, Any]) -> Iterator[float]:
    """What people wrote or asked for: the goal, their entries, the request, and their text in the body."""
    texts = [ctx.goal, *(s.reason for s in findings.metric_switches)]
    for entry in ctx.entries:
        texts += [entry.tldr, *_strings(entry.body)]
    for name in _PERSON_FIELDS:
        texts += list(_strings(body.get(name)))
    if body.get("rationale_source") == "person":
        texts += [str(body.get("rationale", "")), str(body.get("title", ""))]
    for text in texts:
        yield from _numbers_in(text)
    if ctx.target_value is not None:
        yield ctx.target_value
    yield from _request_numbers(ctx, body.get("request"))


def _request_numbers(ctx: DocContext, request: Any) -> Iterator[float]:
    if not isinstance(request, Mapping):
        return
    for name in ("target", "budget_runs", "budget_hours"):
        if isinstance(request.get(name), int | float):
            yield float(request[name])
    deadline = request.get("deadline")
    if isinstance(deadline, str) and request.get("days_left") is not None:
        if (date.fromisoformat(deadline) - ctx.today).days == request["days_left"]:
            yield float(request["days_left"])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _numbers_in(text: str) -> Iterator[float]:
    try:  # most parameter values are one plain number: skip the parser for them
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value) and text.strip() == text and "_" not in text:
            yield value
            return
    for mention in extract_numbers(_DATE_RE.sub(" ", text)):
        yield from mention.values


def _identifiers(ctx: DocContext, findings: Findings, cited: set[str]) -> tuple[str, ...]:
    names = [ctx.project_name, ctx.project_slug, ctx.primary_metric, findings.metric]
    names += [a.name for a in findings.approaches]
    for key in cited:
        run = ctx.runs[key]
        names += [key, *(n for n in (run.name, run.run_id) if n), *run.params, *run.metrics]
    return tuple(dict.fromkeys(names))


# -- recomputed numbers ------------------------------------------------------------------------------------------------


def _verified(ctx: DocContext, body: Any, problems: list[str]) -> Iterator[float]:
    for node in _dicts(body):
        if "seconds_per_run" in node:
            yield from _verify_cost(ctx, node, problems)
        elif "rule" in node and "proposed" in node:
            yield from _verify_proposal(ctx, node, problems)
        elif "normalised_weight" in node:
            yield from (node["weight"], node["normalised_weight"])
    if isinstance(body, Mapping) and body.get("schema_version") == "selection_decision/1":
        yield from _verify_table(ctx, body, problems)
    if isinstance(body, Mapping) and body.get("schema_version") == "reproduction_report/1":
        yield from _verify_rounding(body, problems)


def _verify_rounding(body: Mapping[str, Any], problems: list[str]) -> Iterator[float]:
    """A deterministic run's tolerance: half a unit in the last digit of its stored value as shown."""
    rule, expected, tolerance = body.get("tolerance_rule"), body.get("expected"), body.get("tolerance")
    if rule != "rounding" or expected is None or tolerance is None:
        return
    if not numbers_match(half_unit(fmt(expected)), tolerance):
        problems.append(f"tolerance {fmt_plain(tolerance)} is not the rounding of the stored value {fmt(expected)}")
        return
    yield tolerance


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _verify_cost(ctx: DocContext, node: Mapping[str, Any], problems: list[str]) -> Iterator[float]:
    seconds, runs = node["seconds_per_run"], [k for k in node.get("from_runs", []) if k in ctx.runs]
    if seconds is None:
        return
    if not runs or any(ctx.runs[k].duration_s is None for k in runs):
        problems.append(f"cost {fmt(seconds)} s names no runs with a recorded duration")
        return
    if not numbers_match(median_duration(ctx.runs, runs), seconds):
        problems.append(f"cost {fmt(seconds)} s is not the median duration of the runs it names")
        return
    yield from (seconds, seconds / 60, seconds / 3600)


def _verify_proposal(ctx: DocContext, node: Mapping[str, Any], problems: list[str]) -> Iterator[float]:
    param, proposed, rule = node["param"], str(node["proposed"]), node["rule"]
    runs = [ctx.runs.get(k) for k in node.get("from_runs", [])]
    base = ctx.runs.get(node["base"])
    if rule == "new_seed":
        return
    if rule == "stored_value":
        ok = bool(runs) and runs[0] is not None and runs[0].params.get(param) == proposed
    else:
        # A step is grounded when the analysis computed it: the same key, base run, value and runs it follows.
        named = list(node.get("from_runs", []))
        ok = base is not None and any(
            (s.key, s.base, s.proposed, [s.closest, s.change]) == (param, base.key, proposed, named)
            for s in ctx.options.steps
        )
    if not ok:
        problems.append(f"proposed {param} = {proposed} does not follow from the stored values of the runs it names")
        return
    yield from _numbers_in(proposed)


def _verify_table(ctx: DocContext, body: Mapping[str, Any], problems: list[str]) -> Iterator[float]:
    criteria = {c["name"]: c for c in body.get("criteria", [])}
    for row in body.get("table", []):
        run = ctx.runs.get(row["key"])
        total = 0.0
        for cell in row["scores"]:
            criterion = criteria.get(cell["criterion"], {})
            total += criterion.get("normalised_weight", 0.0) * cell["score"]
            metric = criterion.get("metric")
            if metric and run is not None and cell["value"] is not None and not _stored_as(run, metric, cell["value"]):
                problems.append(f"{cell['criterion']} value {fmt(cell['value'])} of `{row['key']}` is not stored")
            if not 0.0 <= cell["score"] <= 1.0:
                problems.append(f"{cell['criterion']} score {fmt(cell['score'])} of `{row['key']}` is not in [0, 1]")
            yield from (v for v in (cell["value"], cell["score"]) if v is not None)
        if not numbers_match(total, row["total"]):
            problems.append(f"weighted total {fmt(row['total'])} of `{row['key']}` is not the sum of weight x score")
        yield row["total"]
    for name in criteria:
        values = [c["value"] for r in body.get("table", []) for c in r["scores"] if c["criterion"] == name]
        values = [v for v in values if v is not None]
        yield from (a - b for a in values for b in values)


def _stored_as(run: RunView, name: str, value: float) -> bool:
    if name in run.metrics:
        return numbers_match(run.metrics[name], value)
    return any(numbers_match(v, value) for v in _numbers_in(run.params.get(name, "")))


def _evidence_numbers(body: Any) -> Iterator[tuple[str, float]]:
    for node in _dicts(body):
        numbers = node.get("numbers")
        if isinstance(numbers, Mapping) and "run_ids" in node:
            yield from ((str(k), float(v)) for k, v in numbers.items())
