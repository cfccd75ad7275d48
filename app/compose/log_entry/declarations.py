"""Declarations in a brain dump: an announced change of primary metric, and the run declared as the baseline.

A dump announces a metric switch when it says the primary (main, target, headline, north-star, key) metric is,
becomes or switches to another metric as a change ("from today", "from now on", "new", "instead of", "switch"), or
that the team now optimises a metric instead of another: "primary metric is F1 from today, because the clinic ships a
yes/no flag", "switching our main metric to recall@5%FPR since ...", "from now on we optimise PR-AUC instead of
ROC-AUC: positives are rare", "new north star metric: val_loss (lower is better)". Reporting metrics ("we report AUC
and F1"), results ("F1 went up"), a metric that stays ("primary metric stays auc"), a question or a hedge ("should we
switch to F1?", "maybe make F1 the main metric") announce nothing.

A run is declared the baseline when the sentence says the run *is* the baseline ("abc123 is our baseline", "baseline:
run 5c6d70a1", "using the logreg run as baseline"); a comparison with the baseline ("beat the baseline by 2pt",
"compared to baseline") declares nothing.

Verdicts on approaches ("dead end, dropping it") and answers to earlier open questions live in
`app.compose.log_entry.said`, and are read from here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.compose.log_entry.dump import split_sentences
from app.compose.log_entry.said import AnsweredQuestion as AnsweredQuestion
from app.compose.log_entry.said import ProposedMark as ProposedMark
from app.compose.log_entry.said import answered_questions as answered_questions
from app.compose.log_entry.said import may_declare_verdict as may_declare_verdict
from app.compose.log_entry.said import proposed_marks as proposed_marks
from app.compose.log_entry.schema import LogEntry
from app.parsing.columns import normalize_metric_name

# -- metric switches -------------------------------------------------------------------------------------------------

_ROLE = r"(?:primary|main|target|headline|north[- ]?star|key|optimi[sz]ation|selection|eval(?:uation)?|success)"
_METRIC_AT = r"(?P<metric>[A-Za-z][\w@%./+\-]*)"
_SWITCH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # "switching our main metric to recall@5%FPR", "changed the primary metric from auc to F1"
        rf"\b(?:switch|chang|mov)\w*\s+(?:the\s+|our\s+|its\s+)?(?:{_ROLE}\s+)?metric\s+(?:from\s+\S+\s+)?"
        rf"(?:to|over to)\s+{_METRIC_AT}",
        # "primary metric is F1 from today", "main metric becomes recall"
        rf"\b(?:new\s+)?{_ROLE}\s+metric\s+(?:is\s+now|now\s+is|is|becomes|will\s+be|now)\s+(?:now\s+)?"
        rf"(?:the\s+)?{_METRIC_AT}",
        # "new north star metric: val_loss" (not "primary metric: auc 0.86", a result)
        rf"\bnew\s+{_ROLE}\s+metric\s*(?:->|→|=|:)\s*{_METRIC_AT}",
        # "from now on we optimise PR-AUC instead of ROC-AUC", "optimize for F1 from today"
        rf"\b(?:optimi[sz]e|optimi[sz]ing|maximi[sz]e|maximi[sz]ing|minimi[sz]e|minimi[sz]ing)\s+(?:for\s+)?(?:the\s+)?"
        rf"{_METRIC_AT}",
        # "F1 is our new primary metric", "we use F1 as the main metric from now on"
        rf"{_METRIC_AT}\s+(?:is|becomes|will\s+be|as)\s+(?:our|the)\s+(?:new\s+)?{_ROLE}\s+metric",
    )
)
# What makes it a change rather than a statement of the current state.
_CHANGE_RE = re.compile(
    r"\b(?:from\s+(?:today|now|tomorrow|this\s+\w+|here)|going\s+forward|starting\s+(?:today|now|\w+day)|"
    r"new|instead|switch\w*|chang\w*|mov(?:e|ed|ing)|becomes|replac\w*|no\s+longer|anymore|now)\b",
    re.IGNORECASE,
)
_NOT_ANNOUNCED_RE = re.compile(
    r"\b(?:should\s+we|shall\s+we|maybe|perhaps|might|could|consider\w*|thinking\s+(?:about|of)|wonder\w*|"
    r"propos\w*|if\s+we|whether|not|n't|never|stays?|stayed|remains?|still|unchanged|same)\b",
    re.IGNORECASE,
)
_REASON_RE = re.compile(r"(?:\bbecause\b|\bsince\b|\bb/c\b|\bdue\s+to\b|,\s*as\b|\bso\s+that\b|:|\s[-–—]\s)\s*(.+)$")
_REASON_SENTENCE_RE = re.compile(r"^\W*(?:reason(?:ing)?|why)\b\s*(?:is|was)?\s*[:\-–—]?\s*(.+)$", re.IGNORECASE)
_DIRECTION_RE = re.compile(
    r"\b(?P<min>lower\s+is\s+better|minimi[sz]\w*|smaller\s+is\s+better)|\b(?P<max>higher\s+is\s+better|"
    r"maximi[sz]\w*|bigger\s+is\s+better|larger\s+is\s+better)",
    re.IGNORECASE,
)
_LOWER_IS_BETTER_PARTS = frozenset(
    "loss logloss error err rmse mae mse wer cer perplexity ppl latency mape smape nll brier rmsle msle".split()
)
_LOWER_IS_BETTER_INSIDE = ("loss", "error", "latency", "perplexity")
# Words the metric pattern may catch that are not metric names.
_NOT_A_METRIC = frozenset("the a an our to for it this that now on from metric metrics is be".split())
# "optimise X" names a metric only when X reads as one: known to the project, a usual metric word, an acronym
# ("NDCG", "PR-AUC") or a name with digits or "@" ("f1", "recall@5%FPR"); "optimise the pipeline" does not.
_METRIC_WORDS = frozenset(
    """auc roc pr accuracy acc precision recall f1 f2 fbeta loss logloss error rmse mae mse mape r2 ndcg map mrr
    bleu rouge wer cer perplexity latency throughput iou dice kappa mcc specificity sensitivity brier ece
    calibration coverage""".split()
)
_ACRONYM_RE = re.compile(r"[A-Z]{2,}|[\d@%_]")


@dataclass(frozen=True, slots=True)
class AnnouncedSwitch:
    """A change of primary metric a brain dump announces: the new metric as written (normalised, aliases applied),
    its direction when stated or implied by the name (None: the service uses "max"), and why."""

    metric: str
    direction: Literal["max", "min"] | None
    reason: str
    line: int
    sentence: str


def announced_metric_switch(
    text: str, *, known_metrics: Sequence[str], aliases: Mapping[str, str]
) -> AnnouncedSwitch | None:
    """The first metric switch `text` announces, or None."""
    sentences = list(_sentences(text))
    known = {normalize_metric_name(m) for m in (*known_metrics, *aliases, *aliases.values())}
    for at, (line, sentence) in enumerate(sentences):
        found = _switch_in(sentence, known)
        if found is None:
            continue
        written, end = found
        metric = _metric_name(written, sentence, end, known_metrics, aliases)
        reason = _reason(sentence[end:]) or _reason_sentence(sentences[at + 1][1] if at + 1 < len(sentences) else "")
        return AnnouncedSwitch(
            metric=metric,
            direction=_direction(sentence, metric),
            reason=reason,
            line=line,
            sentence=sentence,
        )
    return None


def _sentences(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        for sentence in split_sentences(line.strip().lstrip("-*•> ").strip()):
            if sentence:
                yield number, sentence


def _switch_in(sentence: str, known: set[str]) -> tuple[str, int] | None:
    """The metric as written and where it ends, when `sentence` announces a switch."""
    if "?" in sentence or not _CHANGE_RE.search(sentence):
        return None
    for number, pattern in enumerate(_SWITCH_PATTERNS):
        for match in pattern.finditer(sentence):
            written = match["metric"].rstrip(".,;:)")
            end = match.start("metric") + len(written)
            if written.lower() in _NOT_A_METRIC or (number == 3 and not _reads_as_metric(written, known)):
                continue
            if not _CHANGE_RE.search(_clause(sentence, match.start(), match.end())):
                continue  # "primary metric is auc, new best 0.86": the change word is about something else
            if _NOT_ANNOUNCED_RE.search(sentence[: max(end, match.end())]):
                return None  # "should we switch the main metric to F1", "primary metric is still auc"
            return written, end
    return None


def _clause(sentence: str, start: int, end: int) -> str:
    """The part of `sentence` around a match, between the commas, semicolons or dashes either side."""
    before = max(sentence.rfind(mark, 0, start) for mark in (",", ";", " - ", " – "))
    after = [at for mark in (",", ";", " - ", " – ") if (at := sentence.find(mark, end)) != -1]
    return sentence[before + 1 : min(after, default=len(sentence))]


def _reads_as_metric(written: str, known: set[str]) -> bool:
    name = normalize_metric_name(written)
    return name in known or bool(set(name.split("_")) & _METRIC_WORDS) or bool(_ACRONYM_RE.search(written))


def _metric_name(
    written: str, sentence: str, end: int, known_metrics: Sequence[str], aliases: Mapping[str, str]
) -> str:
    """The name as written, lowercase with spaces as "_", mapped through the aliases; a known metric written with
    other separators ("PR-AUC" for "pr_auc") or over several words ("balanced accuracy") is that metric."""
    start = end - len(written)
    known = {normalize_metric_name(m): m for m in known_metrics}
    alias = {normalize_metric_name(a): m for a, m in aliases.items()}
    words = sentence[start:].split()
    for size in range(min(4, len(words)), 0, -1):
        candidate = " ".join(words[:size]).rstrip(".,;:)")
        key = normalize_metric_name(candidate)
        if key in alias:
            return alias[key]
        if key in known:
            return known[key]
    return "_".join(written.lower().split())


def _direction(sentence: str, metric: str) -> Literal["max", "min"] | None:
    stated = _DIRECTION_RE.search(sentence)
    if stated:
        return "min" if stated["min"] else "max"
    parts = set(re.split(r"[^a-z]+", metric.lower()))
    if parts & _LOWER_IS_BETTER_PARTS or any(word in metric.lower() for word in _LOWER_IS_BETTER_INSIDE):
        return "min"
    return None


def _reason(rest: str) -> str:
    """The reason given after the metric: "because ...", "since ...", ", as ...", ": ...", " - ..."."""
    rest = re.sub(r"\((?:lower|higher|smaller|bigger|larger) is better\)", "", rest, flags=re.IGNORECASE)
    match = _REASON_RE.search(rest)
    return match[1].strip().rstrip(".") if match else ""


def _reason_sentence(sentence: str) -> str:
    match = _REASON_SENTENCE_RE.match(sentence)
    return match[1].strip().rstrip(".") if match else ""


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
