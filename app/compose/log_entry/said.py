"""What a brain dump says about the project's lines of work: a verdict on an approach, and an answer to an earlier
open question.

A sentence declares a verdict when it names an approach and says it is dead ("dead end", "dropping it", "giving up
on the RF line", "not pursuing this", "shelving prophet", "won't revisit") or chosen ("going with X", "X is the
winner, shipping it"). An approach is named by its name or its words ("the forest" for `random_forest`, "mixup" for
`mixup_aug`) or a usual name of its model family ("RF", "random forest"); "it", "this" or "that line" stands for the
one approach named just before (earlier in the sentence, else in the nearest of the two sentences before that names
one). A run named there stands for its approach: "knn-k5 got 0.94 and svc-raw 0.96. Both worse than the baseline.
Dead end, dropping them." marks the approach both runs belong to, and "them", "both", "these" or "they" pointing back
to runs or approaches of several approaches marks each of them. A run named in the verdict itself ("dropping
knn-k5") is a verdict on that run, not on its approach. A setback ("didn't help this
time", "worse today, will retry") is no verdict, nor is a negated, hedged or conditional one ("not dropping X yet",
"looks like a dead end", "if X fails again we'll drop it", "should we drop X?"). An approach only compared with
("never within two points of LightGBM") is not the one the verdict is about. When in doubt nothing is proposed: a
false mark costs more than a missed one.

A sentence answers an earlier open question when it is not itself a question or a hedge, shares at least two of the
question's key terms (its words minus the usual ones), and reads as an answer ("checked ...: no leakage",
"explained: ...", "turns out", "because", "made no difference", "answer to the warmup question").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.refs import RunIndex, find_references

MarkStatus = Literal["abandoned", "adopted"]


@dataclass(frozen=True, slots=True)
class ProposedMark:
    """A verdict a dump declares on one of the project's approaches; `reason` is the sentence that says it."""

    approach: str
    status: MarkStatus
    reason: str


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    """An earlier open question (its text as given) and the sentence of the dump that answers it."""

    question: str
    quote: str


# -- naming an approach ----------------------------------------------------------------------------------------------

_A = "\u27e8a\u27e9"  # an approach named in the sentence, substituted for its words
# Words of an approach's name that do not name it on their own ("ft" in resnet_ft, "aug" in mixup_aug).
_GENERIC = frozenset(
    """a an and the of on off with without no yes true false v1 v2 v3 new old base baseline default line approach
    model models run runs ft finetune finetuned fine tune tuned tuning aug augment augmentation sweep grid search cv
    objective loss lr small large big tiny full lite plus feature features data test eval exp experiment""".split()
)
# Usual names of model families, each group naming the same family.
_FAMILY_NAMES: tuple[tuple[str, ...], ...] = (
    ("random forest", "random forests", "randomforest", "rf", "forest", "forests"),
    ("gradient boosting", "gradient boosted trees", "boosted trees", "gbm", "gbdt", "lightgbm", "lgbm", "xgboost"),
    ("logistic regression", "logreg", "logit"),
    ("svm", "svc", "support vector machine", "support vector machines"),
    ("knn", "k nearest neighbours", "k nearest neighbors", "nearest neighbours", "nearest neighbors"),
    ("mlp", "neural net", "neural network", "feed forward net"),
    ("naive bayes",),
    ("linear regression", "ols"),
)
_COMPARED_BEFORE = re.compile(
    r"\b(?:than|vs\.?|versus|behind|against|beat|beats|beating|outperform\w*|over|of|like|instead\s+of|"
    r"compared\s+(?:to|with)|relative\s+to|near|close\s+to|below|above|under|trail(?:s|ed|ing)?)\s+"
    r"(?:the\s+|our\s+|plain\s+)?$"
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _phrases(approach: str) -> set[str]:
    """The ways a sentence may name `approach`, as space-separated lowercase words."""
    base = approach.split(" + ")[0]
    words = _words(base)
    phrases = {" ".join(words), "".join(words), " ".join(_words(approach))}
    phrases |= {w for w in words if w not in _GENERIC and len(w) >= 3}
    for group in _FAMILY_NAMES:
        if any(" ".join(words) == g or "".join(words) == g.replace(" ", "") for g in group):
            phrases |= set(group)
    return {p for p in phrases if p and p not in _GENERIC}


@dataclass(frozen=True, slots=True)
class _Mention:
    approach: str
    start: int
    end: int
    compared: bool
    run: bool = False  # a run of the approach is named, not the approach


@dataclass(frozen=True, slots=True)
class _Runs:
    """The stored runs a dump may name, and the approach each belongs to (by run key)."""

    index: RunIndex
    approach_of: Mapping[str, str]


def _mentions(sentence: str, approaches: Sequence[str], runs: _Runs | None) -> list[_Mention]:
    """Runs and approaches the sentence names: runs first (a run's name holds words of approaches, "rf-n200"), then
    approaches, longest wording first; a wording that names several approaches equally is left out."""
    lower = sentence.lower()
    out = _run_mentions(sentence, runs) if runs else []
    found: dict[tuple[int, int], set[str]] = {}
    for approach in approaches:
        for phrase in _phrases(approach):
            pattern = r"(?<![a-z0-9])" + r"[\s_\-./]*".join(map(re.escape, phrase.split())) + r"(?![a-z0-9])"
            for match in re.finditer(pattern, lower):
                found.setdefault(match.span(), set()).add(approach)
    for (start, end), names in sorted(found.items(), key=lambda kv: (kv[0][0] - kv[0][1], kv[0][0])):
        if len(names) != 1 or any(m.start < end and start < m.end for m in out):
            continue
        out.append(_Mention(names.pop(), start, end, _compared(lower, start)))
    return sorted(out, key=lambda m: m.start)


def _run_mentions(sentence: str, runs: _Runs) -> list[_Mention]:
    lower = sentence.lower()
    found = [(r, runs.approach_of.get(r.run.key)) for r in find_references(sentence, runs.index) if r.run]
    return [_Mention(a, r.start, r.end, _compared(lower, r.start), run=True) for r, a in found if a is not None]


def _compared(lower: str, start: int) -> bool:
    return bool(_COMPARED_BEFORE.search(lower[max(0, start - 40) : start]))


# -- verdicts --------------------------------------------------------------------------------------------------------

_NOUN = r"(?:line|approach|idea|direction|branch|track|thread|one|family)"
# "the tabnet run", "the forest's features": a part of the approach, not the approach.
_PART = (
    r"(?!\s*(?:'s\b|runs?\b|jobs?\b|process\w*|training\b|trials?\b|sweeps?\b|seeds?\b|configs?\b|features?\b|"
    r"layers?\b|heads?\b|checkpoints?\b|params?\b|hyperparam\w*|settings?\b))"
)
_THE = r"(?:the\s+|our\s+|my\s+|this\s+|that\s+)?"
_REF = (
    rf"(?:{_THE}{_A}{_PART}(?:\s+{_NOUN}|\s+(?:stuff|thing|experiments?))?"
    rf"|(?:it|this|that|them|these|those|both)(?:\s+{_NOUN})?|(?:the|this|that)\s+{_NOUN})"
)
_VERDICT_PATTERNS: tuple[tuple[MarkStatus, str], ...] = (
    ("abandoned", r"\bdead[\s-]?ends?\b"),
    ("abandoned", rf"\b(?:giv(?:e|es|ing)|gave|given)\s+up\s+on\s+{_REF}"),
    (
        "abandoned",
        rf"\b(?:abandon(?:s|ing|ed)?|shelv(?:e|es|ing|ed)|ditch(?:es|ing|ed)?|scrap(?:s|ping|ped)?|"
        rf"retir(?:e|es|ing|ed)|park(?:s|ing|ed)?|drop(?:s|ping|ped)?)\s+{_REF}",
    ),
    (
        "abandoned",
        rf"{_REF}\s*(?:(?:is|was|gets|got|has\s+been|'s)\s+|[:\-–—]\s*)(?:now\s+)?"
        r"(?:abandoned|shelved|dropped|ditched|scrapped|retired|parked|killed|dead|finished\s+for\s+(?:us|me|good)|"
        r"done\s+for\s+(?:us|me|good))\b",
    ),
    (
        "abandoned",
        rf"\b(?:not|no\s+longer|stop(?:ped|ping)?|won'?t|will\s+not)\s+(?:be\s+)?"
        rf"pursu(?:e|ing)\s+{_REF}",
    ),
    (
        "abandoned",
        r"\b(?:not|no\s+longer|won'?t|will\s+not)\s+(?:be\s+)?pursu(?:e|ing)\s+(?:this\s+|it\s+|that\s+)?"
        r"(?:any\s+)?further\b",
    ),
    # "killing that line", "kill the tabnet line"; not "killed it", which may praise a result
    ("abandoned", rf"\bkill(?:s|ing|ed)?\s+(?:{_THE}{_A}{_PART}(?:\s+{_NOUN})?|(?:the|this|that)\s+{_NOUN})"),
    ("abandoned", rf"\b(?:stop(?:ped|ping)?|quit(?:ting)?)\s+(?:working\s+on|with)\s+{_REF}"),
    ("abandoned", rf"\b(?:moving|moved|move)\s+on\s+from\s+{_REF}"),
    ("abandoned", rf"\b(?:we(?:'re|\s+are)|i(?:'m|\s+am))\s+done\s+with\s+{_REF}"),
    (
        "abandoned",
        rf"\b(?:(?:won'?t|will\s+not|not\s+going\s+to|never)\s+revisit|not\s+revisiting)\b(?:\s+{_REF})?",
    ),
    ("abandoned", rf"\bno\s+more\s+{_A}\b|\bwrit(?:e|ing|ten)\s+off\s+{_REF}|{_REF}\s+(?:is\s+)?written\s+off"),
    ("adopted", rf"\b(?:go(?:ing|es)?|went|stick(?:ing)?)\s+with\s+{_REF}"),
    # not "the winner on recall": a win on one count is no choice
    (
        "adopted",
        rf"(?:{_REF}\s+(?:is|was|it\s+is)\s+(?:the|our)\s+(?:clear\s+)?winner\b|\bthe\s+winner\s+is\s+{_REF})"
        r"(?!\s+(?:on|in|for|at|of|among|so\s+far|today|here)\b)",
    ),
    ("adopted", rf"\b(?:ship(?:s|ping|ped)?|adopt(?:s|ing|ed)?|deploy(?:s|ing|ed)?)\s+{_REF}"),
    ("adopted", rf"{_REF}\s+(?:is|was|gets|got)\s+(?:adopted|shipped|deployed)\b"),
    ("adopted", rf"\b(?:settl(?:e|ed|ing)|decid(?:e|ed|ing)|standardi[sz](?:e|ed|ing))\s+on\s+{_REF}"),
    (
        "adopted",
        rf"{_REF}\s+(?:is|becomes)\s+(?:our|the)\s+(?:final|production|chosen)\s+"
        r"(?:model|approach|choice)",
    ),
)
_VERDICTS = tuple((status, re.compile(pattern)) for status, pattern in _VERDICT_PATTERNS)
_POINTS_BACK = re.compile(rf"\b(?:it|this|that|them|these|those|both)(?:\s+{_NOUN})?\b|\b(?:the|this|that)\s+{_NOUN}\b")
# Words that point back to several things at once: "dropping them", "both are a dead end", "they're done".
_PLURAL = frozenset("them these those both they all".split())
# A verdict under one of these is not one: a condition, a question, a hedge or a plan still to be made.
_CONDITIONAL = re.compile(r"\?|\b(?:if|unless|whether|in\s+case|otherwise)\b")
_HEDGED_BEFORE = re.compile(
    r"(?:n't|'d\b|\b(?:not|never|no|nobody|maybe|perhaps|might|may|could|should|would|probably|possibly|likely|almost|nearly|"
    r"looks?|seems?|feels?|consider\w*|think\w*|tempted|wonder\w*|propos\w*|suggest\w*|before|rather\s+than|"
    r"instead\s+of|about\s+to|wants?\s+to|plan\w*\s+to|yet\s+to)\b)[^,;:]*$"
)
_YET = re.compile(r"^[^,;:.]*\b(?:yet|for\s+now|for\s+the\s+moment)\b")
# Words that may stand before a verdict with no subject of their own: "it's a dead end", "honestly, dead end".
_FILLER = frozenset(
    """it its s this that is was a an the total complete clearly clear honestly so ok okay yeah yes well just really
    basically pretty much definitely another also and then we re are i m am line approach one idea direction actually
    anyway sadly unfortunately officially but now""".split()
)
# A sentence ends at ".", "!" or "?" and a space, except after "vs." or "e.g.".
_SENTENCE_END = re.compile(r"(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bcf\.)(?<=[.!?])\s+")
_CLAUSE_MARKS = re.compile(r"[,;:()]|[.!]\s|\s[-–—]\s|\band\s+(?=\w+ing\b)")


# Every verdict has one of these words: a dump without any declares none, and the approaches need not be computed.
_VERDICT_WORDS = re.compile(
    r"\b(?:dead|giv\w*|gave|abandon\w*|shelv\w*|ditch\w*|scrap\w*|retir\w*|park\w*|drop\w*|kill\w*|pursu\w*|"
    r"stop\w*|quit\w*|mov(?:e|ed|ing)|done|revisit\w*|no\s+more|writ\w*|go|goes|going|went|stick\w*|winner|"
    r"ship\w*|adopt\w*|"
    r"deploy\w*|settl\w*|decid\w*|standardi\w*|final|finished)\b",
    re.IGNORECASE,
)


def may_declare_verdict(text: str) -> bool:
    """False when `text` has none of the words a verdict needs."""
    return bool(_VERDICT_WORDS.search(text))


LOOK_BACK = 2  # sentences before a verdict searched for what its "it" or "them" points back to


def proposed_marks(
    text: str,
    *,
    approaches: Sequence[str],
    runs: Sequence[RunFacts] = (),
    approach_of: Mapping[str, str] | None = None,
) -> list[ProposedMark]:
    """The verdicts `text` declares on `approaches`, one per approach (two contrary ones cancel out). `runs` are the
    stored runs the dump may name and `approach_of` the approach of each (by run key): a run pointed back to stands
    for its approach."""
    known = _Runs(RunIndex(runs), approach_of) if runs and approach_of else None
    found: dict[str, ProposedMark] = {}
    contrary: set[str] = set()
    before: list[list[_Mention]] = []
    for sentence in _sentences(text):
        mentions = _mentions(sentence, approaches, known)
        for approach, status in _verdicts(sentence, mentions, _pointed_back(before)):
            seen = found.get(approach)
            if seen is not None and seen.status != status:
                contrary.add(approach)
            found.setdefault(approach, ProposedMark(approach, status, sentence))
        before = [*before, mentions][-LOOK_BACK:]
    return [mark for name, mark in found.items() if name not in contrary]


def _pointed_back(before: list[list[_Mention]]) -> list[_Mention]:
    """What the sentences before name, the nearest first that names anything besides what it compares with ("Both
    worse than the baseline." names nothing a verdict after it could be about)."""
    return next(([m for m in s if not m.compared] for s in reversed(before) if any(not m.compared for m in s)), [])


def _sentences(text: str) -> Iterable[str]:
    """Each line's sentences, kept whole ("Answer to the warmup question: ..." is one), a fragment of three words or
    fewer ("Dead end.") finishing the sentence before it."""
    for line in text.splitlines():
        pieces: list[str] = []
        for piece in _SENTENCE_END.split(line.strip().lstrip("-*•> ").strip()):
            if pieces and len(piece.split()) <= 3 and not piece.endswith("?"):
                pieces[-1] = f"{pieces[-1]} {piece}"
            elif piece.strip():
                pieces.append(piece.strip())
        yield from pieces


def _verdicts(sentence: str, mentions: list[_Mention], previous: list[_Mention]) -> list[tuple[str, MarkStatus]]:
    if _CONDITIONAL.search(sentence.lower()):
        return []
    marked, spans = _marked(sentence.lower(), mentions)
    out: list[tuple[str, MarkStatus]] = []
    for status, pattern in _VERDICTS:
        for match in pattern.finditer(marked):
            if _hedged(marked, match.start(), match.end()):
                continue
            out.extend((approach, status) for approach in _subjects(marked, match, spans, previous))
    return out


def _marked(lower: str, mentions: list[_Mention]) -> tuple[str, list[tuple[int, _Mention]]]:
    """`lower` with each named approach replaced by a marker, and where each marker now stands."""
    parts: list[str] = []
    spans: list[tuple[int, _Mention]] = []
    at = 0
    for m in mentions:
        parts.append(lower[at : m.start])
        spans.append((sum(map(len, parts)), m))
        parts.append(_A)
        at = m.end
    parts.append(lower[at:])
    return "".join(parts), spans


def _clause_start(marked: str, at: int) -> int:
    return max((m.end() for m in _CLAUSE_MARKS.finditer(marked, 0, at)), default=0)


def _hedged(marked: str, start: int, end: int) -> bool:
    before = marked[_clause_start(marked, start) : start]
    return bool(_HEDGED_BEFORE.search(before) or _YET.search(marked[end:]))


def _subjects(
    marked: str, match: re.Match[str], spans: list[tuple[int, _Mention]], previous: list[_Mention]
) -> list[str]:
    """The approaches the verdict is about: the one it names ("dropping the RF line"), else the subject of its clause
    ("tabnet is a dead end"), else what "it", "that line", "them" or a bare verdict points back to (earlier in the
    sentence, else in the sentences before): one approach, or for "them", "both" and the like each approach of the
    runs and approaches named there. A run named in the verdict or as its subject is a verdict on that run. Any
    doubt, such as an approach named only in a comparison among the candidates, is none."""
    inside = [m for at, m in spans if match.start() <= at < match.end() and not m.compared]
    if inside:
        named = {m.approach for m in inside}
        return [named.pop()] if len(named) == 1 and not any(m.run for m in inside) else []
    start = _clause_start(marked, match.start())
    clause = [m for at, m in spans if start <= at < match.start()]
    words = [w for w in re.findall(r"[a-z]+", marked[start : match.start()].replace(_A, " ")) if w not in _FILLER]
    pointers = [w for w in words if w in _PLURAL]
    if len(pointers) < len(words) and not _points_back(match[0]):
        return []  # "the feature engineering is a dead end": something else is
    if any(m.run for m in clause):
        return []  # "knn-k5 is a dead end": a run, not its approach
    plural = bool(pointers) or bool(set(re.findall(r"[a-z]+", match[0])) & _PLURAL)
    earlier = [m for at, m in spans if at < start and not m.compared]
    candidates = clause or (earlier if plural else earlier[-1:]) or previous
    names = sorted({m.approach for m in candidates})
    if any(m.compared for m in candidates) or not names or (len(names) > 1 and not plural):
        return []
    return names


def _points_back(verdict: str) -> bool:
    return bool(_POINTS_BACK.search(verdict))


# -- answered questions ----------------------------------------------------------------------------------------------

_STOP = frozenset(
    """a an the is are was were be been being do does did doing done have has had having i we you it its they this
    that these those there here what why how when where which who whom whose whether if or and but so to of in on
    at by for from with without about into over under than then just only really still yet again also any some
    all more most much many very can could should would will may might must shall not no yes q question questions
    open idea ideas know unclear unknown sure maybe need needs our my your their one get got make made""".split()
)
_ANSWERS = re.compile(
    r"\b(?:answer\w*|explain\w*|turn(?:s|ed)\s+out|because|caused\s+by|comes?\s+from|came\s+from|due\s+to|"
    r"check(?:ed)?|confirm\w*|verif\w*|ruled?\s+out|no\s+difference|made\s+no|found|resolved|solved|figured|"
    r"the\s+reason|is\s+not\s+what|not\s+the\s+cause|it\s+was|it\s+is|yes|no|"
    # the question's claim denied ("lowercasing does not hurt the emoji reviews"), or the question named ("re the
    # tokenizer question: ...")
    r"(?:does|do|did|is|are|was|were|has|have)\s*(?:n'?t|not)|^\W*re\b|(?:re|about|on)\s+the\s+[\w\s-]{0,30}question)\b"
)
_STILL_OPEN = re.compile(
    r"\?|\b(?:not\s+sure|no\s+idea|still\s+(?:open|unclear|unknown|don'?t)|don'?t\s+know|unclear|tbd|to\s+check|"
    r"todo|open\s+question|whether|"
    # a check still to be made: "will check", "going to look", "next: verify"
    r"(?:will|'ll|shall|should|must|going\s+to|need\s+to|needs\s+to|want\s+to|plan\s+to|next:?)\s+"
    r"(?:check|look|test|try|verify|investigate|find|figure|dig|confirm|rule))\b"
)


def answered_questions(text: str, *, open_questions: Sequence[str]) -> list[AnsweredQuestion]:
    """The open questions `text` answers, each with the sentence that answers it."""
    terms = {q: _key_terms(q) for q in open_questions}
    out: dict[str, AnsweredQuestion] = {}
    for sentence in _sentences(text):
        lower = sentence.lower()
        if _STILL_OPEN.search(lower) or not _ANSWERS.search(lower):
            continue
        words = set(_words(lower))
        scored = [(len(shared), q) for q, key in terms.items() if len(shared := _shared(key, words)) >= 2]
        best = max((n for n, _ in scored), default=0)
        tops = [q for n, q in scored if n == best and q not in out]
        if len(tops) == 1:
            out[tops[0]] = AnsweredQuestion(tops[0], sentence)
    return list(out.values())


def _key_terms(question: str) -> set[str]:
    return {_stem(w) for w in _words(question) if w not in _STOP and (len(w) >= 3 or w.isdigit())}


def _stem(word: str) -> str:
    """ "leaking", "leakage" and "leaks" all give "leak"."""
    for suffix in ("ations", "ation", "ings", "ing", "ages", "age", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _shared(key: set[str], words: set[str]) -> set[str]:
    """Key terms the sentence uses, a word counting for a term when one starts the other ("warm", "warmup")."""
    stems = {_stem(w) for w in words}
    return {t for t in key if any(w == t or (min(len(w), len(t)) >= 4 and w.startswith(t)) for w in stems)}
