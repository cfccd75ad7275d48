"""The one metric-switch detector: does a brain dump announce a new primary metric, which one, and why?

The composer's `metric_switch_announced` warning and the switch the service records (`app/services/
metric_switches.py`) both come from `app.compose.log_entry.declarations.announced_metric_switch`, which reads a dump
sentence by sentence with `find_switch` here, so a dump never warns without recording or records without warning;
the dump's sectioning asks the same question (`announces_switch`). A sentence announces a switch when it has

1. a **slot**: a construction that makes a metric the one the project is judged by, whatever the words:
   - a role named, then the metric: "the primary metric is now F1", "from next week the yardstick is WAPE", "new north
     star = recall@10", "switching primary metric -> pinball loss", "main metric switched to ROC AUC";
   - the metric, then its role: "PR AUC is our primary metric", "recall@10 is the number we care about", "top-5
     accuracy is what we track", "val accuracy is the headline number", "WER as the main metric";
   - a verb of judging: "we optimise PR-AUC", "judge forecasts on MASE", "rank candidates on coverage", "we use WAPE
     as its primary metric", "make recall the main metric";
   - a replacement: "top-5 accuracy replaces log loss", "switch the main metric to macro F1";
2. a **change**: the slot's clause says it is new ("now", "new", "becomes", "instead of Y", ", not Y", "(was Y)") or
   the sentence does ("from now on", "going forward", "this sprint", "from next week", "starting today", "since the
   product sync", "we decided", "no longer"), or the sentence before retires a metric ("NDCG is out.", "drop AUC
   as the yardstick"); a
   replacement, a switch verb or "make X the main metric" is a change by itself;
3. and **no hedge or denial** before the metric in its clause ("should we", "maybe", "whether", "not", "still",
   "stays", "keep"), no question mark in the sentence, and no result right after the metric ("primary metric: auc
   0.86").

A metric is read as written, over several words and with punctuation ("PR AUC", "macro F1", "top-5 accuracy",
"recall@10", "hit rate@10"): the longest run of words that read as metric words (a usual metric word or modifier, a
word of a metric the project knows, an acronym, a name with digits, "@" or "%"). A verb slot needs such a phrase; a
named role takes any identifier-like name. The name is then mapped to what the project records (`resolve_metric`):
an alias, a known metric with other separators ("PR-AUC" is `pr_auc`), the validation variant of a split-prefixed
metric ("recall" is `val_recall` when only that one exists), a known metric in other words (`same_words`: "pass@1"
is `pass_at_1`, "top-decile uplift" `uplift_top_decile`, "character error rate" `val_cer`), a known metric the
phrase ends with ("catalogue coverage" is `coverage`), else the name as written, lowercase with spaces as "_".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.parsing.columns import normalize_metric_name

Direction = Literal["max", "min"]

# -- what reads as a metric ------------------------------------------------------------------------------------------

METRIC_WORDS = frozenset(
    """auc roc pr auroc auprc ap accuracy acc precision recall f1 f2 f05 fbeta loss logloss error err rmse mae mse
    mape smape wape mase rmsle msle r2 ndcg map mrr hit hits rate bleu rouge meteor wer cer perplexity ppl latency
    throughput iou miou dice kappa mcc specificity sensitivity brier ece calibration coverage diversity novelty gini
    lift uplift ctr cvr conversion retention revenue cost profit pinball quantile crps nll deviance likelihood score
    jaccard hamming distance regret reward return""".split()
)
# Words that qualify a metric name ("macro F1", "val accuracy", "top-5 accuracy", "balanced accuracy").
MODIFIERS = frozenset(
    """macro micro weighted balanced mean average avg median top val valid validation test dev train holdout oof
    overall global per class sample samples normalized normalised log cross entropy squared absolute relative
    percentage false true positive negative catalogue catalog""".split()
)
_STOP = frozenset(
    """is are was were be been being becomes become will would shall as the a an our its their his her my your to
    for from on by of in at with and or but not no instead rather than now since because so that this these those
    we i you they it metric metrics number numbers primary main new now then only just also today tomorrow going
    forward here there what which who vs versus over under after before until while when""".split()
)
_TOKEN_RE = re.compile(r"[\w@%]+(?:[-./+][\w@%]+)*%?")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)%?")
_ACRONYM_RE = re.compile(r"^[A-Z][A-Z0-9]+$")
_PARTS_RE = re.compile(r"[^a-z0-9]+")
MAX_WORDS = 4

# -- slots -------------------------------------------------------------------------------------------------------------

_ROLE_ADJ = (
    r"(?:primary|main|target|headline|north[- ]?star|key|optimi[sz]ation|selection|eval(?:uation)?|success|"
    r"decision|deciding|guiding|lead(?:ing)?|official|core|top[- ]?line|reference|chosen)"
)
_ROLE_NOUN = r"(?:metric|number|figure|kpi|measure|criterion|score|target|yardstick)"
_ROLE = (
    rf"(?:{_ROLE_ADJ}\s+{_ROLE_NOUN}|north[- ]?star(?:\s+{_ROLE_NOUN})?|yardstick|figure\s+of\s+merit|kpi|"
    rf"new\s+{_ROLE_NOUN}|metric\s+of\s+record|(?:launch|acceptance)\s+criterion)"
)
# "the number we care about", "the metric we optimise", "what we track", "what matters"
_ROLE_CLAUSE = (
    r"(?:(?:the|our|its|their)\s+(?:new\s+|only\s+|one\s+)?(?:number|metric|figure|thing|score)\s+(?:that\s+)?"
    r"(?:we|people|everyone|the\s+team|product|i)\b|what\s+(?:we|matters|counts|people|everyone|the\s+team)\b)"
)
_BE = r"(?:is\s+now|now\s+is|is|are|becomes|become|will\s+be|shall\s+be|is\s+going\s+to\s+be|now\s+becomes)"
_TO = r"(?:to|over\s+to|->|→|=>)"
_JUDGE = (
    r"(?:judg\w*|rank\w*|select\w*|evaluat\w*|assess\w*|measur\w*|scor(?:e|es|ed|ing)|compar\w*|pick\w*|choos\w*|"
    r"benchmark\w*|grad(?:e|es|ed|ing))"
)
_OPTIMISE = (
    r"(?:optimi[sz]\w*|maximi[sz]\w*|minimi[sz]\w*|target(?:s|ed|ing)?|track(?:s|ed|ing)?|focus(?:es|ed|ing)?\s+on|"
    r"care\s+(?:most\s+)?about|prioriti[sz]\w*|go(?:ing)?\s+by|chas(?:e|es|ing))"
)
_FILLER = r"(?:[A-Za-z][\w-]*\s+){0,2}?"  # "judge [forecasts] on", "rank [the candidates] on"
# "the primary metric [for the fraud project] is", "switching the primary metric [for #412] from logloss to ECE"
_OF_WHAT = r"(?:\s+(?:for|of|on|in)\s+(?:the\s+|this\s+|our\s+)?[\w#@./-]+(?:\s+[\w#@./-]+){0,2}?)?"

Kind = Literal["forward", "backward", "middle"]


@dataclass(frozen=True, slots=True)
class _Slot:
    pattern: re.Pattern[str]
    kind: Kind
    named_role: bool  # the role is named: any identifier-like name is a metric here
    changes: bool  # the construction says it is a change by itself


def _slot(pattern: str, kind: Kind, *, named_role: bool, changes: bool = False) -> _Slot:
    return _Slot(re.compile(pattern, re.IGNORECASE), kind, named_role, changes)


_SLOTS: tuple[_Slot, ...] = (
    # "switching our main metric to recall@5%FPR", "changed the primary metric from auc to F1"
    _slot(
        rf"\b(?:switch|chang|mov)\w*\s+(?:the\s+|our\s+|its\s+)?(?:{_ROLE_ADJ}\s+)?(?:{_ROLE_NOUN}|north[- ]?star)"
        rf"{_OF_WHAT}\s+(?:from\s+\S+(?:\s+\S+)?\s+)?{_TO}\s*",
        "forward",
        named_role=True,
        changes=True,
    ),
    # "the primary metric is now F1", "yardstick is WAPE", "new north star = recall@10", "main metric switched to"
    _slot(
        rf"\b{_ROLE}{_OF_WHAT}\s*(?:\([^)]*\)\s*)?(?:{_BE}|=|:|->|→|now|(?:has\s+)?(?:switch|chang|mov)\w*\s+{_TO}|"
        r"goes\s+to)"
        r"\s*(?:now\s+)?(?:the\s+)?",
        "forward",
        named_role=True,
    ),
    # "PR AUC is our primary metric", "recall@10 is the number we care about", "top-5 accuracy is what we track"
    _slot(
        rf"\s+{_BE}\s+(?:now\s+)?(?:(?:our|the|its|their)\s+(?:new\s+|only\s+|one\s+)?{_ROLE}|{_ROLE_CLAUSE})",
        "backward",
        named_role=True,
    ),
    # "WER as the main metric", "MAP@10 as its north star"
    _slot(rf"\s+as\s+(?:the|our|its|their)\s+(?:new\s+)?{_ROLE}", "backward", named_role=True),
    # "top-5 accuracy replaces log loss", "MAPE supersedes RMSE"
    _slot(
        r"\s+(?:replaces|replaced|supersedes|superseded|takes\s+over\s+from|displaces|overtakes)\b",
        "backward",
        named_role=False,
        changes=True,
    ),
    # "let's make recall the main metric", "we use WAPE as its primary metric"
    _slot(
        rf"\b(?:make|makes|making|made|use|uses|using|adopt\w*|take|takes|treat\w*|set)\s+(?P<m>.{{1,60}}?)\s+"
        rf"(?:as\s+)?(?:the|our|its|their)\s+(?:new\s+)?{_ROLE}",
        "middle",
        named_role=True,
    ),
    # "from now on we optimise PR-AUC", "optimize for F1", "we care about recall@10 now"
    _slot(rf"\b{_OPTIMISE}\s+(?:for\s+|on\s+)?(?:the\s+|our\s+)?", "forward", named_role=False),
    # "judge forecasts on MASE", "rank candidates on catalogue coverage", "the model is judged on F1"
    _slot(
        rf"\b{_JUDGE}\s+{_FILLER}(?:on|by|using|with|against|in\s+terms\s+of)\s+(?:the\s+|our\s+)?",
        "forward",
        named_role=False,
    ),
)

# -- change, hedge, result ---------------------------------------------------------------------------------------------

_PERIOD = r"(?:sprint|week|month|quarter|release|cycle|phase|iteration|milestone|round|year)"
_CHANGE_IN_SENTENCE_RE = re.compile(
    rf"\b(?:from\s+(?:now|today|tomorrow|here)(?:\s+on)?|going\s+forward|moving\s+forward|henceforth|"
    rf"from\s+(?:this|next|the\s+next)\s+{_PERIOD}(?:\s+on)?|(?:this|next)\s+{_PERIOD}|"
    rf"starting\s+(?:today|now|tomorrow|this|next|\w+day)|as\s+of\s+(?:today|now|this|next)|"
    r"no\s+longer|any\s*more|instead\s+of|rather\s+than|replac\w*|switch\w*|supersed\w*|decided|decision|agreed|"
    r"(?:is|are)\s+(?:now\s+)?out)\b|\(\s*was\s+[^)]+\)",
    re.IGNORECASE,
)
_CHANGE_IN_CLAUSE_RE = re.compile(
    r"\b(?:now|new(?!\s+(?:best|record|high|low|sota|top|results?)\b)|becomes?|became|chang\w*|mov(?:e|ed|es|ing)|"
    r"instead|let'?s|we'?ll)\b",
    re.IGNORECASE,
)
# "since the product sync": since + a short noun phrase closing the clause is a point in time, not a reason
_SINCE_EVENT_RE = re.compile(r"\bsince\s+(?:the|our|last|this|that)\s+(?:[\w-]+\s+){0,2}[\w-]+\s*(?:[,;.)]|$)", re.I)
# "NDCG is out.", "we no longer optimise log loss.": the next sentence's switch is a change
_RETIRES_RE = re.compile(
    r"\b(?:is|are)\s+(?:now\s+)?out\b|\bno\s+longer\b|\bretir\w+|\bdrop(?:ped|ping|s)?\s+(?:[\w@%.-]+\s+){1,3}as\b",
    re.I,
)
_HEDGE_RE = re.compile(
    r"\b(?:should\s+we|shall\s+we|maybe|perhaps|might|could|would|consider\w*|thinking\s+(?:about|of)|wonder\w*|"
    r"propos\w*|suggest\w*|if\s+we|whether|not|never|nobody|no\s+one|no\s+longer|stays?|stayed|remains?|still|"
    r"unchanged|same|as\s+always|as\s+usual|keep\w*|stick\w*|asked)\b|n't\b",
    re.IGNORECASE,
)
# "I propose that we switch ...", "we suggest making ...": a first-person proposal to the team decides, like "let's"
_PROPOSAL_RE = re.compile(r"\b(?:i|we)\s+(?:would\s+|'d\s+)?(?:like\s+to\s+)?(?:propose|suggest)\s+(?:that\s+)?", re.I)
_CONTRAST_RE = re.compile(r"^\s*(?:,\s*)?(?:not|instead\s+of|rather\s+than|replacing|over)\b|^\s*\(\s*was\b", re.I)
_CLAUSE_MARKS = (",", ";", ":", " - ", " – ", " — ", " so ", " but ")

# -- reasons and direction --------------------------------------------------------------------------------------------

_REASON_RE = re.compile(r"(?:\bbecause\b|\bsince\b|\bb/c\b|\bdue\s+to\b|,\s*as\b|\bso\s+that\b|:|\s[-–—]\s)\s*(.+)$")
_REASON_BEFORE_RE = re.compile(
    r"^\W*(?:(?:since|because|as|given)\s+(?P<a>[^,]+),|(?P<b>.+?),?\s+so\s+)", re.IGNORECASE
)
_REASON_SENTENCE_RE = re.compile(r"^\W*(?:reason(?:ing)?|why)\b\s*(?:is|was)?\s*[:\-–—]?\s*(.+)$", re.IGNORECASE)
_DIRECTION_RE = re.compile(
    r"\b(?P<min>lower\s+is\s+better|minimi[sz]\w*|smaller\s+is\s+better)|\b(?P<max>higher\s+is\s+better|"
    r"maximi[sz]\w*|bigger\s+is\s+better|larger\s+is\s+better)",
    re.IGNORECASE,
)
# Words that make a metric one to minimise: val_loss, logloss, rmse, error_rate, p95_latency, pinball_loss.
_MIN_WORDS = frozenset(
    {"loss", "error", "err", "rmse", "mse", "mae", "mape", "smape", "wape", "mase", "nll", "perplexity", "ppl"}
    | {"wer", "cer", "brier", "ece", "rmsle", "msle", "crps", "pinball", "logloss"}
    | {"latency", "time", "cost", "fpr", "fnr", "deviance", "regret", "distance"}
)
_MAX_WORDS = frozenset(
    """auc roc auroc auprc ap accuracy acc precision recall f1 f2 fbeta ndcg map mrr hit hits r2 bleu rouge iou miou
    dice kappa mcc specificity sensitivity coverage lift uplift ctr conversion retention revenue profit reward
    return throughput""".split()
)
_SPLIT_PREFIXES = ("val_", "valid_", "validation_", "eval_", "dev_", "test_", "train_")


@dataclass(frozen=True, slots=True)
class AnnouncedSwitch:
    """A change of primary metric a brain dump announces: the new metric as the project records it (or as written,
    normalised), its direction when stated or implied by the name (None: `default_direction` decides), and why."""

    metric: str
    direction: Direction | None
    reason: str
    line: int
    sentence: str


@dataclass(frozen=True, slots=True)
class _Found:
    written: str
    start: int
    end: int


def read_switch(
    sentences: Sequence[tuple[int, str]], *, known_metrics: Sequence[str], aliases: Mapping[str, str]
) -> AnnouncedSwitch | None:
    """The first metric switch the (line, sentence) pairs of a dump announce, or None."""
    vocabulary = _vocabulary(known_metrics, aliases)
    for at, (line, sentence) in enumerate(sentences):
        previous = sentences[at - 1][1] if at else ""
        found = find_switch(sentence, vocabulary=vocabulary, previous=previous)
        if found is None:
            continue
        metric = resolve_metric(found.written, known_metrics=known_metrics, aliases=aliases)
        if metric not in known_metrics and metric not in aliases.values():
            metric = _with_words_before(sentence[: found.start], found.written, known_metrics, aliases) or metric
        after = sentences[at + 1][1] if at + 1 < len(sentences) else ""
        reason = _reason(sentence[found.end :]) or _reason_sentence(after) or _reason_before(sentence[: found.start])
        return AnnouncedSwitch(metric, _direction(sentence, metric), reason, line, sentence)
    return None


def _with_words_before(
    before: str, written: str, known_metrics: Sequence[str], aliases: Mapping[str, str]
) -> str | None:
    """A known metric that the phrase names with the one or two words before it: the phrase is read from metric
    words, so "character error rate" arrives as "error rate", which the project records as `val_cer`."""
    words = re.findall(r"[\w@%-]+", before)[-2:]
    for size in (1, 2):
        if len(words) < size:
            break
        metric = resolve_metric(" ".join([*words[-size:], written]), known_metrics=known_metrics, aliases=aliases)
        if metric in known_metrics or metric in aliases.values():
            return metric
    return None


def announces_switch(sentence: str) -> bool:
    """Whether one sentence announces a switch (without the project's vocabulary: how the dump is sectioned)."""
    return find_switch(sentence, vocabulary=frozenset()) is not None


def default_direction(metric: str) -> Direction:
    """'min' for loss- or error-like names, else 'max'. The first word that says either decides, so a qualifier
    does not flip the metric it qualifies: `recall@5%fpr` is a recall (max), `error_rate` an error (min)."""
    for word in (w for w in re.split(r"[^a-z0-9]+", metric.lower()) if w):
        if word in _MIN_WORDS or word.endswith(("loss", "error")):
            return "min"
        if word in _MAX_WORDS:
            return "max"
    return "max"


def resolve_metric(written: str, *, known_metrics: Sequence[str], aliases: Mapping[str, str]) -> str:
    """The metric the project records that `written` means (see the module docstring), else `written` normalised."""
    key = normalize_metric_name(written)
    alias = {normalize_metric_name(a): m for a, m in aliases.items()}
    known = {normalize_metric_name(m): m for m in known_metrics}
    if key in alias:
        return alias[key]
    if key in known:
        return known[key]
    variant = split_variant(key, list(known_metrics))
    if variant is not None:
        return variant
    same = same_words(written, known_metrics)
    if same is not None:
        return same
    words = key.split("_")
    for size in range(len(words) - 1, 0, -1):  # "catalogue coverage" is `coverage`: the longest known ending
        tail = "_".join(words[-size:])
        for candidates in (alias, known):
            if tail in candidates and len(tail) > 2:
                return candidates[tail]
        variant = split_variant(tail, list(known_metrics)) if len(tail) > 2 else None
        if variant is not None:
            return variant
    return "_".join(written.lower().split())


# Words a metric name may carry or drop without meaning another metric: "@" and "at" ("recall@100" is
# `recall_at_100`), articles and prepositions ("uplift in the top decile"), and generic nouns ("Qini coefficient").
_FILLER_WORDS = frozenset({"at", "the", "a", "an", "of", "in", "on", "for", "coefficient", "score", "value", "metric"})
_SPLIT_WORDS = frozenset(prefix.rstrip("_") for prefix in _SPLIT_PREFIXES)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower().replace("@", " at ")) if w and w not in _FILLER_WORDS]


def same_words(written: str, known_metrics: Sequence[str]) -> str | None:
    """The one known metric that `written` names in other words: the same words in any order, with "@"/"at",
    articles, prepositions and generic nouns ignored and a split prefix allowed on the stored name ("top-decile
    uplift" is `uplift_top_decile`, "pass@1" is `pass_at_1`, "Qini coefficient" is `qini`), or whose core is the
    initials of a written name of three or more words ("character error rate" is `val_cer`). A validation variant
    wins over a test or train one; otherwise two candidates are no answer."""
    words = _words(written)
    if not words:
        return None
    initials = "".join(w[0] for w in words) if len(words) >= 3 and all(w.isalpha() for w in words) else None
    matches: list[str] = []
    for metric in dict.fromkeys(known_metrics):
        core = _words(metric)
        if core and core[0] in _SPLIT_WORDS and len(core) > 1:
            core = core[1:]
        if sorted(core) == sorted(words) or (initials is not None and core == [initials]):
            matches.append(metric)
    if len(matches) > 1:
        matches = [m for m in matches if not m.lower().startswith(("test_", "train_"))]
    return matches[0] if len(matches) == 1 else None


def split_variant(metric: str, known: list[str]) -> str | None:
    """The stored metric a name without its split means: "recall" is `val_recall` when the runs record that and no
    other `*_recall` of a validation split; a test or train variant only when it is the only one. None when no run
    records anything like it, or when it stays ambiguous."""
    if metric in known:
        return metric
    split_variants = [
        k
        for k in dict.fromkeys(known)
        if k.startswith(_SPLIT_PREFIXES) and normalize_metric_name(k.split("_", 1)[1]) == metric
    ]
    validation = [k for k in split_variants if not k.startswith(("test_", "train_"))]
    for candidates in (validation, split_variants):
        if len(candidates) == 1:
            return candidates[0]
    return None


# -- one sentence ------------------------------------------------------------------------------------------------------


def find_switch(sentence: str, *, vocabulary: frozenset[str], previous: str = "") -> _Found | None:
    """The new metric as written and where it sits, when `sentence` announces a switch."""
    if "?" in sentence:
        return None
    matches = sorted(
        ((m.start(), m, slot) for slot in _SLOTS for m in slot.pattern.finditer(sentence)), key=lambda t: t[0]
    )
    for _, match, slot in matches:
        found = _metric_at(sentence, match, slot, vocabulary)
        if found is None:
            continue
        clause_start, clause_end = _clause(sentence, min(found.start, match.start()), max(found.end, match.end()))
        if _HEDGE_RE.search(_PROPOSAL_RE.sub("let's ", sentence[clause_start : max(found.end, match.end())])):
            continue  # "should we switch the main metric to F1", "we still optimise NDCG@10"
        if _NUMBER_RE.match(sentence[found.end :].lstrip(" =:")):
            continue  # "primary metric: auc 0.86": a result
        rest = sentence[found.end :]
        changed = (
            slot.changes
            or bool(_CHANGE_IN_SENTENCE_RE.search(sentence))
            or bool(_CHANGE_IN_CLAUSE_RE.search(sentence[clause_start:clause_end]))
            or bool(_CONTRAST_RE.search(rest))
            or bool(_SINCE_EVENT_RE.search(sentence))
            or bool(previous and _RETIRES_RE.search(previous))
        )
        if changed:
            return found
    return None


def _metric_at(sentence: str, match: re.Match[str], slot: _Slot, vocabulary: frozenset[str]) -> _Found | None:
    if slot.kind == "forward":
        tokens = _tokens_forward(sentence, match.end())
    elif slot.kind == "backward":
        tokens = _tokens_backward(sentence, match.start())
    else:
        tokens = _tokens_forward(sentence, match.start("m"), stop=match.end("m"))
    if not tokens:
        return None
    words = [t[0] for t in tokens]
    if slot.kind == "backward":
        while words and not _metricish(words[0], vocabulary):  # "so PR AUC": from the first metric word
            words, tokens = words[1:], tokens[1:]
        if not any(_head(w, vocabulary) for w in words):
            return None  # "the holdout set": modifiers only
    else:
        last = max((i for i, w in enumerate(words) if _head(w, vocabulary)), default=-1)
        if last < 0 and slot.named_role and _identifier(words[0]):
            last = 0  # "the primary metric is val_score"
        words, tokens = words[: last + 1], tokens[: last + 1]
    if not words:
        return None
    start, end = tokens[0][1], tokens[-1][2]
    return _Found(sentence[start:end], start, end)


def _tokens_forward(sentence: str, at: int, stop: int | None = None) -> list[tuple[str, int, int]]:
    """Up to `MAX_WORDS` words from `at`, joined by spaces only, none a stop word (leading "the"/"our" skipped)."""
    out: list[tuple[str, int, int]] = []
    position = at
    for match in _TOKEN_RE.finditer(sentence, at, stop if stop is not None else len(sentence)):
        gap = sentence[position : match.start()]
        if (out and gap.strip()) or (not out and gap.strip(" \t\"'“”‘’*`")):
            break
        word = match[0]
        if word.lower() in ("the", "our", "its", "their") and not out:
            position = match.end()
            continue
        if word.lower() in _STOP or _NUMBER_RE.fullmatch(word) or len(out) == MAX_WORDS:
            break
        out.append((word, match.start(), match.end()))
        position = match.end()
    return out


def _tokens_backward(sentence: str, at: int) -> list[tuple[str, int, int]]:
    """Up to `MAX_WORDS` words ending at `at`, joined by spaces only, none a stop word."""
    tokens = list(_TOKEN_RE.finditer(sentence, 0, at))
    out: list[tuple[str, int, int]] = []
    position = at
    for match in reversed(tokens):
        gap = sentence[match.end() : position]
        if gap.strip(" \t\"'“”‘’*`") or (out and gap.strip()):
            break
        word = match[0]
        if word.lower() in _STOP or _NUMBER_RE.fullmatch(word) or len(out) == MAX_WORDS:
            break
        out.insert(0, (word, match.start(), match.end()))
        position = match.start()
    return out


def _metricish(word: str, vocabulary: frozenset[str]) -> bool:
    """A word that can be part of a metric's name."""
    if _NUMBER_RE.fullmatch(word):
        return False
    low = word.lower()
    parts = [p for p in _PARTS_RE.split(low) if p]
    if low in METRIC_WORDS or low in vocabulary or any(p in METRIC_WORDS or p in vocabulary for p in parts):
        return True
    if re.search(r"[@%]|\d", word) or _ACRONYM_RE.match(word):
        return True
    return low in MODIFIERS or low.startswith("top")


def _head(word: str, vocabulary: frozenset[str]) -> bool:
    """A word that names a metric by itself, not only a modifier ("macro", "val", "holdout")."""
    low = word.lower()
    return _metricish(word, vocabulary) and low not in MODIFIERS and not re.fullmatch(r"top[- ]?", low)


def _identifier(word: str) -> bool:
    return "_" in word or bool(_ACRONYM_RE.match(word))


def _vocabulary(known_metrics: Sequence[str], aliases: Mapping[str, str]) -> frozenset[str]:
    """The words of the metrics the project knows (and of their aliases), for reading names as metrics."""
    names = (*known_metrics, *aliases, *aliases.values())
    words = {w for name in names for w in normalize_metric_name(name).split("_") if len(w) > 1}
    return frozenset(words - _STOP)


def _clause(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The span of `sentence` around [start, end) between the clause marks either side."""
    lowered = sentence.lower()
    before = max((at + len(mark) for mark in _CLAUSE_MARKS if (at := lowered.rfind(mark, 0, start)) != -1), default=0)
    after = [at for mark in _CLAUSE_MARKS if (at := lowered.find(mark, end)) != -1]
    return before, min(after, default=len(sentence))


def _direction(sentence: str, metric: str) -> Direction | None:
    stated = _DIRECTION_RE.search(sentence)
    if stated:
        return "min" if stated["min"] else "max"
    return "min" if default_direction(metric) == "min" else None


def _reason(rest: str) -> str:
    """The reason given after the metric: "because ...", "since ...", ", as ...", ": ...", " - ..."."""
    rest = re.sub(r"\((?:lower|higher|smaller|bigger|larger) is better\)", "", rest, flags=re.IGNORECASE)
    match = _REASON_RE.search(rest)
    return match[1].strip().rstrip(".") if match else ""


def _reason_before(head: str) -> str:
    """The reason given before the metric: "Since the PM reads accuracy, ...", "Accuracy is useless, so ..."."""
    match = _REASON_BEFORE_RE.match(head)
    if not match:
        return ""
    return (match["a"] or match["b"] or "").strip().rstrip(".,")


def _reason_sentence(sentence: str) -> str:
    match = _REASON_SENTENCE_RE.match(sentence)
    return match[1].strip().rstrip(".") if match else ""
