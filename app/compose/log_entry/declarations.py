"""Declarations in a brain dump: an announced change of primary metric, and the run declared as the baseline.

A metric switch is read by `announced_metric_switch`, sentence by sentence with the one detector in `metric_switch.py`
(its docstring says what announces one); the composer's warning and the recorded switch both call it.

A run is declared the baseline when the sentence says the run *is* the baseline ("abc123 is our baseline", "baseline:
run 5c6d70a1", "using the logreg run as baseline"); a comparison with the baseline ("beat the baseline by 2pt",
"compared to baseline") declares nothing.

Verdicts on approaches ("dead end, dropping it") and answers to earlier open questions live in
`app.compose.log_entry.said`, and are read from here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from app.compose.log_entry.dump import split_sentences
from app.compose.log_entry.metric_switch import AnnouncedSwitch, read_switch
from app.compose.log_entry.said import AnsweredQuestion as AnsweredQuestion
from app.compose.log_entry.said import ProposedMark as ProposedMark
from app.compose.log_entry.said import answered_questions as answered_questions
from app.compose.log_entry.said import may_declare_verdict as may_declare_verdict
from app.compose.log_entry.said import proposed_marks as proposed_marks
from app.compose.log_entry.schema import LogEntry

# -- metric switches -------------------------------------------------------------------------------------------------


def announced_metric_switch(
    text: str, *, known_metrics: Sequence[str], aliases: Mapping[str, str]
) -> AnnouncedSwitch | None:
    """The first metric switch `text` announces, or None: the one reading the composer's warning and the recorded
    switch share (`metric_switch.py`)."""
    return read_switch(list(_sentences(text)), known_metrics=known_metrics, aliases=aliases)


def _sentences(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        for sentence in split_sentences(line.strip().lstrip("-*•> ").strip()):
            if sentence:
                yield number, sentence


# -- declared baselines ----------------------------------------------------------------------------------------------

_RUN = "\u27e8run\u27e9"  # the run being asked about, substituted for its reference
_OTHER = "\u27e8other\u27e9"
_BASELINE = r"(?:base[- ]?line|reference\s+run)"
_DECLARES_RE = re.compile(
    # "abc123 is our baseline", "using the logreg run as baseline", "5c6d (auc .80) is the new baseline"
    rf"{_RUN}(?:\s+run|\s+model)?(?:\s*\([^)]*\))?\s*(?:,\s*)?(?:is|=|becomes|will\s+be|as|->|→|:)\s+(?:now\s+)?"
    rf"(?:our\s+|the\s+|a\s+|my\s+)?(?:new\s+|official\s+|reference\s+|simple\s+)?{_BASELINE}\b"
    # "baseline: run 5c6d70a1", "the baseline is abc123", "new baseline = run 5c6d"
    rf"|(?:^|[^\w\s]\s*|\b(?:our|the|new|my)\s+){_BASELINE}(?:\s+run|\s+model)?\s*(?:is|=|:|->|→|will\s+be|"
    rf"becomes|\()\s*(?:now\s+)?(?:run\s+|the\s+|our\s+)*{_RUN}"
    # "baseline run 5c6d70a1 ..." opening the statement
    rf"|^\W*(?:our\s+|the\s+|new\s+)?{_BASELINE}(?:\s+run|\s+model)?\s+{_RUN}",
    re.IGNORECASE,
)
# "beat the baseline: ⟨run⟩ ..." -- words just before "baseline" that make it a comparison, not a declaration.
_COMPARED_RE = re.compile(
    r"\b(?:vs\.?|versus|than|over|against|beat\w*|above|below|relative\s+to|compared\s+(?:to|with)|from|to|on|"
    r"improv\w*|outperform\w*|gain\w*|lift|of|over)\s+(?:the\s+|our\s+|a\s+)?$",
    re.IGNORECASE,
)
_BASELINE_RE = re.compile(_BASELINE, re.IGNORECASE)
_UNDECLARED_RE = re.compile(r"\?|^\W*(?:if|whether|should|maybe|perhaps|not sure)\b", re.IGNORECASE)
_HEX_RE = re.compile(r"(?<![\w./#@-])[0-9a-fA-F]{6,32}(?![\w-])")


def declared_baselines(entry: LogEntry) -> list[str]:
    """Run keys the entry declares as the baseline, in the order they are declared."""
    refs: dict[str, set[str]] = {}
    for experiment in entry.experiments:
        if experiment.run_id and experiment.ref:
            refs.setdefault(experiment.run_id, set()).add(experiment.ref)
    statements: list[tuple[str, Sequence[str]]] = [
        (e.context, [e.run_id]) for e in entry.experiments if e.run_id and e.context
    ]
    for items in (entry.hypothesis, entry.observations, entry.conclusions, entry.did_not_work, entry.next_steps):
        statements.extend((item.text, item.run_ids) for item in items if item.run_ids and not item.quoted)
    declared: list[str] = []
    for text, keys in statements:
        for key in keys:
            if key not in declared and _declares(text, key, keys, refs):
                declared.append(key)
    return declared


def _declares(text: str, key: str, keys: Sequence[str], refs: Mapping[str, set[str]]) -> bool:
    marked = text
    for other in keys:
        for written in sorted(_written(marked, other, refs), key=len, reverse=True):
            marked = marked.replace(written, _RUN if other == key else _OTHER)
    if _RUN not in marked:
        return False
    for sentence in split_sentences(marked):
        if _RUN not in sentence or _UNDECLARED_RE.search(sentence):
            continue
        for match in _DECLARES_RE.finditer(sentence):
            word = _BASELINE_RE.search(match[0])
            if word and not _COMPARED_RE.search(sentence[: match.start() + word.start()]):
                return True
    return False


def _written(text: str, key: str, refs: Mapping[str, set[str]]) -> set[str]:
    """How `text` writes the run `key`: as the dump referred to it, its key or name, or a prefix of its ID."""
    forms = {f for f in refs.get(key, set()) if f in text}
    name = key.removeprefix("name:")
    if name in text:
        forms.add(name)
    forms.update(token for token in _HEX_RE.findall(text) if key.lower().startswith(token.lower()))
    return forms
