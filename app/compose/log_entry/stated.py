"""Numbers a brain dump states as results: "auc .93ish", "f1 between 0.81 and 0.84", ".858 vs .861", "93%".

A number is a result when a metric name stands before it ("auc .84", "val_auc=0.861", "rmse went from 12.1 to 11.8"),
or when it is a bare decimal or percentage that no parameter name claims: "lr 0.1", "dropout=0.3", "2x slower",
"took 3.5 h" and "python 3.11" are not results. Each result keeps the text exactly as written, and a range stays a
range (`low`, `high`), never a midpoint, so everything the entry shows can be found in the dump.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from app.compose.log_entry.schema import StatedMetric
from app.parsing.columns import METRIC_WORDS, normalize_metric_name
from app.parsing.numbers import parse_number

# Parameters people write before a number; the project's own parameter keys are added to these.
PARAM_WORDS = frozenset(
    (
        "lr learning_rate learning rate eta alpha lambda gamma beta dropout drop wd weight_decay decay momentum depth "
        "max_depth min_child_weight subsample colsample frac fraction ratio threshold thresh thr temp temperature "
        "smoothing label_smoothing reg l1 l2 c p prob eps epsilon clip clipnorm warmup patience scale_pos_weight "
        "test_size val_size split seed random_state version v python py sklearn torch cuda numpy pandas lightgbm_v "
        "mlflow step steps epoch epochs bs batch batch_size k n n_estimators trees leaves num_leaves layers heads "
        "hidden dim units window lag lags horizon"
    ).split()
)
# A word shaped like a parameter's name, whatever the project calls it: "smoothness around 0.1", "a mixing weight
# of 0.3", "shrinkage 0.05". A metric named before a number is read first, so "error rate 0.12" stays a result.
_PARAM_SHAPE_RE = re.compile(
    r"(?:ness|rate|size|weight|factor|decay|penalty|strength|coef|coefficient|ratio|temperature|margin|tolerance|"
    r"width|length|radius|bandwidth|power|exponent|prior|fraction|momentum|smoothing|threshold|dropout|shrinkage|"
    r"cutoff|scale|noise|budget|interval|lambda|alpha|beta|gamma|epsilon|sigma|lr)$",
    re.IGNORECASE,
)
_VALUE_OF_RE = re.compile(r"\s+(?:of|set to|set at|fixed at|fixed to|at|to|=|:)\s*$", re.IGNORECASE)
_UNITS_AFTER_RE = re.compile(
    r"^\s*(?:x\b|×|h\b|hrs?\b|hours?\b|mins?\b|minutes?\b|s\b|secs?\b|seconds?\b|ms\b|gb\b|mb\b|kb\b|epochs?\b|"
    r"steps?\b|folds?\b|seeds?\b|trees?\b|layers?\b|days?\b|weeks?\b|of\b|times\b|gpus?\b|cores?\b|rows?\b|"
    r"samples?\b|params?\b|[kmb]\b)",
    re.IGNORECASE,
)
_ATOM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\.\d+|\d+)(?:[eE][+-]?\d+)?%?"  # "1,850" too
_HEDGE_BEFORE = r"(?:~|≈|∼|approx\.?\s*|approximately\s+|about\s+|around\s+|roughly\s+|circa\s+|ca\.\s*)?"
_HEDGE_AFTER = r"(?:-?ish\b|\?)?"
_NUMBER_RE = re.compile(
    rf"(?<![\w.])(?P<expr>"
    rf"{_HEDGE_BEFORE}between\s+(?P<b_low>{_ATOM})\s+and\s+(?P<b_high>{_ATOM})"
    rf"|{_HEDGE_BEFORE}(?P<r_low>\d*\.\d+%?)\s*[-–—]\s*(?P<r_high>\d*\.\d+%?)(?!\d|\.\d)"
    rf"|{_HEDGE_BEFORE}(?P<p_low>\d+(?:\.\d+)?)\s*[-–—]\s*(?P<p_high>\d+(?:\.\d+)?%)"  # "78-80%"
    rf"|{_HEDGE_BEFORE}(?P<single>{_ATOM}){_HEDGE_AFTER}"
    rf")(?![\w%]|\.\d)",
    re.IGNORECASE,
)
_BOUND_BEFORE_RE = re.compile(
    r"(?:(?<![-=])[<>≤≥]=?|\b(?:target|budget|goal|sla|under|over|above|below|less than|more than|"
    r"at least|at most|wants?|needs?|required?)(?:\s+(?:is|was|of|=|:))?)\s*$",
    re.IGNORECASE,
)
_OPERATING_POINT_RE = re.compile(r"(?:\bat|@)\s*$", re.IGNORECASE)
_NOUN_AFTER_RE = re.compile(
    r"\s*(?!(?:now|on|in|for|with|and|or|vs|after|over|which|so|but|the|a|an|from|to|by|is|was|again|too|"
    r"still|only|overall|total|best)\b)[a-z]",
    re.IGNORECASE,
)
_PREFIXES = r"(?:val|valid|validation|test|train|eval|cv|oof|holdout|dev|macro|micro|weighted|roc|pr|top)"
_CONNECTORS_RE = re.compile(
    r"^[\s:=~≈(\[,]*(?:(?:is|was|of|at|now|still|only|just|got|gets|hit|reached|around|about|approx\.?|roughly|went|"
    r"from|to|->|=>|up|down|dropped|rose|jumped|fell|improved|by|on|stays?|stayed|like|maybe|vs\.?|and|or|/|,)"
    r"[\s:=~≈(\[,]*)*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FoundNumber:
    metric: StatedMetric
    start: int
    end: int


def metric_name_pattern(known: Collection[str]) -> re.Pattern[str]:
    """Metric words ("auc", "f1", "ndcg@10") with an optional split prefix ("val auc"), plus the project's names."""
    words = sorted({*METRIC_WORDS, *(normalize_metric_name(k) for k in known if k)}, key=len, reverse=True)
    spelled = "|".join(re.escape(w).replace("_", r"[\s_/-]?") for w in words)
    spelled += r"|top[-_]?\d+(?:[-_ ]?acc(?:uracy)?)?|[pr]@\d+"  # "top-1", "top5 acc", "p@50", "r@10"
    return re.compile(
        rf"(?<![\w])(?:{_PREFIXES}[\s_/-]?)*(?:{spelled})(?:\s*@\s*\d+%?|[_-]?\d{{1,3}}(?![\d.,]))?(?![\w])",
        re.IGNORECASE,
    )


def find_stated(
    text: str, line: int, *, metric_re: re.Pattern[str], param_words: Collection[str], masked: Collection[range]
) -> list[FoundNumber]:
    """The results stated in one statement; `masked` spans (run IDs, URLs) are not read for numbers."""
    names = [m for m in metric_re.finditer(text) if not _in_masked(m.start(), masked)]
    masked = [*masked, *(range(m.start(), m.end()) for m in names)]  # "recall@10%": the 10% names the metric
    found: list[FoundNumber] = []
    current_name: str | None = None
    last_end = 0
    for match in _NUMBER_RE.finditer(text):
        if _in_masked(match.start(), masked) or _signed(text, match.start()) or _param_after(text, match, param_words):
            continue
        if _BOUND_BEFORE_RE.search(text[: match.start()]):
            continue  # "PSI >0.25", "target was 15%", "budget is 300ms": a bound, not a result
        if _OPERATING_POINT_RE.search(text[: match.start()]) and _NOUN_AFTER_RE.match(text[match.end() :]):
            continue  # "recall at 5% alert rate", "precision @ 10 docs": where a metric is read, not its value
        name = _name_before(text, match.start(), names, last_end) or _name_after(text, match.end(), names)
        if name is not None:
            current_name = name
        elif current_name is not None and _CONNECTORS_RE.match(text[last_end : match.start()]):
            name = current_name  # "auc .858 vs .861": the second number is an auc too
        else:
            current_name = None
        if name is None and not _unnamed_result(text, match, param_words):
            continue
        if name is not None and _UNITS_AFTER_RE.match(text[match.end() :]):
            continue
        stated = _stated(match, name, line)
        if stated:
            found.append(FoundNumber(stated, match.start(), match.end()))
            last_end = match.end()
    return found


def _name_before(text: str, start: int, names: list[re.Match[str]], floor: int) -> str | None:
    """The metric name written just before a number: with only connector words between ("auc was about .93"), or
    a few words with no other number or clause break between ("mape for the promo model ~13%")."""
    name = next((n for n in reversed(names) if n.end() <= start), None)
    if name is None or name.start() < floor:
        return None
    gap = text[name.end() : start]
    if _CONNECTORS_RE.match(gap) or (not re.search(r"[\d,;:()]|->|=>", gap) and len(gap.split()) <= 4):
        return normalize_metric_name(name[0])
    return None


def _signed(text: str, start: int) -> bool:
    """ "(-0.0025)", "+1.7pts", "±0.01": a difference or a spread, not a result."""
    return start > 0 and text[start - 1] in "+-±−"


def _param_after(text: str, match: re.Match[str], param_words: Collection[str]) -> bool:
    """ "at the default 0.5 threshold": the number names a parameter's value."""
    following = re.match(r"\s*([A-Za-z_]\w*)", text[match.end() :])
    return bool(following and following[1].lower() in param_words)


def _name_after(text: str, end: int, names: list[re.Match[str]]) -> str | None:
    """ "93% acc", "0.86 auc": a metric name right after the number."""
    following = next((n for n in names if n.start() >= end), None)
    if following and not text[end : following.start()].strip(" ~"):
        return normalize_metric_name(following[0])
    return None


def _unnamed_result(text: str, match: re.Match[str], param_words: Collection[str]) -> bool:
    """A bare number is a result when it is a decimal or a percentage that no parameter name or unit claims."""
    expr = match["expr"]
    single = match["single"]
    if single is not None and "." not in single and not single.endswith("%"):
        return False  # integers: counts, epochs, seeds
    if _UNITS_AFTER_RE.match(text[match.end() :]):
        return False
    before = text[: match.start()].rstrip(" :=~≈")  # not "(": "lags (0.81, run X)" -- lags names no value
    before = _VALUE_OF_RE.sub("", before)  # "lr of 3e-4", "a depth of 6", "temperature set to 0.7"
    word = re.search(r"([A-Za-z_][\w]*)\s*$", before)
    if word and (word[1].lower() in param_words or _PARAM_SHAPE_RE.search(word[1])):
        return False
    if re.search(r"[A-Za-z_]\w*\s*=\s*$", text[: match.start()]):
        return False  # "max_depth=0.5": a key=value that is not a metric
    return not expr.lower().startswith("v")


def _stated(match: re.Match[str], name: str | None, line: int) -> StatedMetric | None:
    expr = match["expr"]
    approximate = bool(re.search(r"~|≈|∼|approx|about|around|roughly|circa|ca\.|ish|\?", expr, re.IGNORECASE))
    try:
        low_text = match["b_low"] or match["r_low"] or match["p_low"]
        high_text = match["b_high"] or match["r_high"] or match["p_high"]
        if low_text:
            low = _value(low_text, high_text)
            high = _value(high_text, None)
            return StatedMetric(name=name, low=low, high=high, approximate=approximate, text=expr, line=line)
        return StatedMetric(
            name=name, value=_value(match["single"], None), approximate=approximate, text=expr, line=line
        )
    except ValueError:
        return None


def _value(atom: str, partner: str | None) -> float:
    if partner and partner.endswith("%") and not atom.endswith("%"):
        atom += "%"  # "81-84%" means 81% to 84%
    parsed = parse_number(atom).value
    if parsed is None:
        raise ValueError(atom)
    return parsed


def _in_masked(position: int, masked: Collection[range]) -> bool:
    return any(position in span for span in masked)


def numbers_in(found: list[FoundNumber]) -> Iterator[StatedMetric]:
    return (f.metric for f in found)
