"""Holding a model's answer to the facts the offline composer computed, before its grounding check.

Two jobs, two rules:
- **Reading a brain dump** (`merge_log_entry`): the model's sections (tldr, hypothesis, observations, conclusions,
  what did not work, open questions, next steps) replace the rule-based reader's, but its experiments are kept and
  only added to (a new one must name a stored run, and its stored metrics are the run's, never the model's); a line
  the reader kept as an instruction-like quotation stays quoted, so no number from it can become a result; the
  reader's warnings stay. The merged entry then meets the log entry's own grounding check.
- **Phrasing a document** (`phrase_document`): the model may rewrite only the prose fields (`PROSE_KEYS`). Every
  other value (run keys, numbers, statuses, dates, what a person wrote) must come back exactly as in the draft, every
  list with its items, every field present; and a prose field may carry only numbers its draft text carries. So a
  model can make a sentence clearer, never change what the document says. The document's grounding check follows.

Each problem is a sentence naming the field, for the repair prompt and, when the repair fails, for the reason the
offline document stands. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.schema import SECTIONS, EntryWarning, Experiment, Item, LogEntry
from app.parsing.mentions import extract_numbers

__all__ = ["PROSE_KEYS", "merge_log_entry", "phrase_document"]

# The fields of a document body a model may phrase: sentences the composer wrote from computed facts.
PROSE_KEYS = frozenset({"answer", "argument", "note", "why", "what", "dropped_because"})
# Warnings a model may add to a log entry: that it ignored an instruction in the dump.
_MODEL_WARNINGS = frozenset({"instruction_ignored"})


# --- reading a brain dump -------------------------------------------------------------------------------------------


def merge_log_entry(
    draft: LogEntry, answer: Mapping[str, Any], *, runs: Sequence[RunFacts]
) -> tuple[LogEntry | None, list[str]]:
    """The draft with the model's sections in place, or None with the problems that stop the merge."""
    problems = [f"'{key}' is missing" for key in ("tldr", *SECTIONS, "experiments") if key not in answer]
    tldr = answer.get("tldr")
    if "tldr" in answer and not (isinstance(tldr, str) and tldr.strip()):
        problems.append("'tldr' must be a non-empty string")
    sections: dict[str, list[Item]] = {section: _items(answer.get(section), section, problems) for section in SECTIONS}
    experiments = _new_experiments(draft, answer.get("experiments"), runs, problems)
    if problems:
        return None, problems
    sections = _keep_quoted(draft, sections)
    warnings = [*draft.warnings, *_model_warnings(answer.get("warnings"), draft)]
    merged = {
        **draft.model_dump(),
        **{section: [item.model_dump() for item in items] for section, items in sections.items()},
        "tldr": str(tldr).strip(),
        "experiments": [e.model_dump() for e in (*draft.experiments, *experiments)],
        "warnings": [w.model_dump() for w in warnings],
    }
    try:
        entry = LogEntry.model_validate(merged)
    except ValidationError as exc:
        return None, [_error(exc, "")]
    return entry.model_copy(update={"run_ids": _cited(entry)}), []


def _items(value: object, section: str, problems: list[str]) -> list[Item]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"'{section}' must be a list of items")
        return []
    items: list[Item] = []
    for index, raw in enumerate(value):
        if isinstance(raw, str):  # a bare sentence: an item with no run and no line
            raw = {"text": raw}
        try:
            items.append(Item.model_validate(raw))
        except ValidationError as exc:
            problems.append(_error(exc, f"{section}[{index}]"))
    return [item for item in items if item.text.strip()]


def _new_experiments(draft: LogEntry, value: object, runs: Sequence[RunFacts], problems: list[str]) -> list[Experiment]:
    """The model's experiments on stored runs the reader did not find, with the runs' stored metrics."""
    if not isinstance(value, list):
        if value is not None:
            problems.append("'experiments' must be a list")
        return []
    by_key = {run.key: run for run in runs} | {run.run_id: run for run in runs if run.run_id}
    known = {e.run_id for e in draft.experiments if e.run_id is not None}
    added: list[Experiment] = []
    for index, raw in enumerate(value):
        run_id = raw.get("run_id") if isinstance(raw, dict) else None
        if run_id is None or run_id in known:
            continue  # the reader's experiment on that run stands
        run = by_key.get(str(run_id))
        if run is None:
            problems.append(f"experiments[{index}].run_id {run_id!r} is not a stored run")
            continue
        facts = {"ref": run_id, "change": "", "context": "", "line": 0, **raw}
        facts.update(run_id=run.key, run_name=run.run_name, stored=dict(run.metrics))
        try:
            added.append(Experiment.model_validate(facts))
        except ValidationError as exc:
            problems.append(_error(exc, f"experiments[{index}]"))
            continue
        known.add(run.key)
    return added


def _keep_quoted(draft: LogEntry, sections: dict[str, list[Item]]) -> dict[str, list[Item]]:
    """Every line the reader quoted as instruction-like is quoted in the merged entry too (added where the model
    dropped it), and no item of the model's reads such a line as anything but a quotation."""
    quoted = {item.line: (section, item) for section in SECTIONS for item in getattr(draft, section) if item.quoted}
    out = {
        section: [i.model_copy(update={"quoted": True}) if i.line in quoted else i for i in items]
        for section, items in sections.items()
    }
    present = {item.line for items in out.values() for item in items if item.quoted}
    for line, (section, item) in quoted.items():
        if line not in present:
            out[section] = [*out[section], item]
    return out


def _model_warnings(value: object, draft: LogEntry) -> list[EntryWarning]:
    if not isinstance(value, list):
        return []
    have = {(w.code, w.line) for w in draft.warnings}
    out: list[EntryWarning] = []
    for raw in value:
        try:
            warning = EntryWarning.model_validate(raw)
        except ValidationError:
            continue  # a warning the model made up is dropped, not an error: it states no fact
        if warning.code in _MODEL_WARNINGS and (warning.code, warning.line) not in have:
            out.append(warning)
            have.add((warning.code, warning.line))
    return out


def _cited(entry: LogEntry) -> list[str]:
    cited = [e.run_id for e in entry.experiments if e.run_id is not None]
    cited += [run_id for section in SECTIONS for item in getattr(entry, section) for run_id in item.run_ids]
    return list(dict.fromkeys(cited))


# --- phrasing a document --------------------------------------------------------------------------------------------


def phrase_document(draft: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The draft body with the model's prose fields, or None with every place the answer departs from the draft."""
    problems: list[str] = []
    body = _same(draft, answer, "", problems, prose=False)
    return (body if not problems else None), problems


def _same(draft: object, answer: object, where: str, problems: list[str], *, prose: bool) -> Any:
    if isinstance(draft, dict):
        return _same_mapping(draft, answer, where, problems)
    if isinstance(draft, list):
        if not isinstance(answer, list) or len(answer) != len(draft):
            problems.append(f"'{where}' must keep its {len(draft)} item(s) as in the draft")
            return draft
        return [
            _same(d, a, f"{where}[{i}]", problems, prose=prose)
            for i, (d, a) in enumerate(zip(draft, answer, strict=True))
        ]
    if prose and isinstance(draft, str) and isinstance(answer, str):
        return _prose(draft, answer, where, problems)
    if answer != draft or type(answer) is not type(draft):
        problems.append(f"'{where}' must stay {_show(draft)} as in the draft")
    return draft


def _same_mapping(draft: dict[str, Any], answer: object, where: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(answer, dict):
        problems.append(f"'{where or 'the answer'}' must be an object with the draft's fields")
        return draft
    missing = [key for key in draft if key not in answer]
    extra = [key for key in answer if key not in draft]
    problems += [f"'{_at(where, key)}' is missing" for key in missing]
    problems += [f"'{_at(where, key)}' is not a field of this document" for key in extra]
    return {
        key: _same(value, answer[key], _at(where, key), problems, prose=key in PROSE_KEYS) if key in answer else value
        for key, value in draft.items()
    }


def _prose(draft: str, answer: str, where: str, problems: list[str]) -> str:
    """A rewritten sentence: not empty, and with no number its draft text does not have."""
    if not draft.strip() or not answer.strip():
        if answer.strip() != draft.strip():
            problems.append(f"'{where}' must stay {'empty' if not draft.strip() else 'a sentence'} as in the draft")
        return draft
    allowed = {_key(v) for m in extract_numbers(draft) for v in m.values}
    for mention in extract_numbers(answer):
        if not any(_key(v) in allowed for v in mention.values):
            problems.append(f"'{where}': the number {mention.text} is not in the draft's text")
    return answer.strip()


def _key(value: float) -> float:
    return float(f"{abs(value):.9g}")


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _error(exc: ValidationError, where: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    place = ".".join(part for part in (where, loc) if part)
    return f"'{place or 'the answer'}': {first['msg']}"
