"""People's statements from log entries, each quoted once and filed under the approach it is about.

Only log entries are quoted: an earlier summary or brief stores quotes too, and quoting those would say the same thing
twice (or quote a document as if a person wrote it). A statement said again in a later dump is quoted once, where it
was first said. An open question is left out once answered: recorded as answered in storage (`EntryDigest.answered`,
of any entry that asked it), or answered by a later log entry's statements as the dumps' own answer detection reads
them.

A statement is filed under one approach: the one most of the runs it cites belong to; when it cites none of the
approaches' runs, the one whose words it uses (its name, its model family's usual names, its runs' names, the
parameters its runs change and the words of their values), a word shared by several approaches naming none of them
and one only compared with ("better than X") counting little; a clause naming nothing, split from a dump line that
names one approach, is about that one; else it is not about one approach (general). A success is a conclusion: a
"did not work" item that says a best outright ("best so far") or a gain ("helped") and names no failure, and an
observation that says a best outright.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.analysis.model import Approach, RunView
from app.compose.contract import EntryDigest
from app.compose.documents.schemas import Quote
from app.compose.log_entry.said import answered_questions

Section = Literal["conclusions", "did_not_work", "open_questions"]
SECTIONS: tuple[Section, ...] = ("conclusions", "did_not_work", "open_questions")
LOG_ENTRY = "log_entry"
# What a later dump says that may answer an earlier question.
_ANSWERING = ("observations", "conclusions", "did_not_work")

_SUCCESS = re.compile(
    r"\b(?:best\s+so\s+far|best\s+yet|new\s+best|(?:the\s+)?best\s+(?:run|model|result|score|one)|top\s+score|"
    r"improv\w*|helped|helps|works?|worked|beats?|beating|better|gain(?:ed|s)?|wins?|winner|outperform\w*|"
    r"boost\w*|lifted|clear\s+win|promising|(?:still|remains?|stays?|is|was)\s+(?:the\s+|our\s+)?best)\b"
)
# A success said outright ("best so far", "our best model") stands whatever else the line says went wrong, unless
# denied ("not the best", "no longer the best").
_BEST = re.compile(
    r"\b(?:best\s+so\s+far|best\s+yet|new\s+best|(?:still|now|remains?|stays?|is|was|our|the|current)\s+"
    r"(?:the\s+|our\s+)?best\b|winner|top\s+of\s+the\s+(?:board|leaderboard|ranking)|works?\s+best|"
    r"sweet\s+spot)"
)
_NOT_BEST = re.compile(
    r"\b(?:not|no\s+longer|never|isn'?t|wasn'?t|nowhere\s+near|far\s+from)\s+(?:\w+\s+){0,2}(?:best|winner)\b"
)
# A finding of no effect ("factors don't matter much", "C=0.1 barely moves it", "nothing over the baseline beyond
# noise", "no better"): a conclusion about what a change does, not an attempt that broke.
_NO_EFFECT = re.compile(
    r"\b(?:(?:do|does|did)\s*(?:n'?t|not)\s+(?:really\s+|seem\s+to\s+)?matter|barely\s+(?:move|moves|moved|changes?|"
    r"changed|matters?|helps?|helped|budges?|budged)|(?:makes?|made)\s+(?:no|little|almost\s+no)\s+(?:real\s+)?"
    r"(?:difference|change)|no\s+(?:real\s+|clear\s+|significant\s+|measurable\s+)?(?:difference|effect|change)|"
    r"(?:within|beyond|inside)\s+(?:the\s+)?(?:seed\s+)?noise|nothing\s+(?:over|above|beyond|on\s+top\s+of)|no\s+better|"
    r"on\s+par|insensitive|(?:about|roughly|basically)\s+the\s+same|same\s+as)\b"
)
# What makes a statement a failure whatever else it says: something broke, got worse, or was given up.
_BROKE = re.compile(
    r"\b(?:fail\w*|diverg\w*|crash\w*|broke\w*|broken|oom|out\s+of\s+memory|nans?|hurt\w*|worse|worst|degrad\w*|"
    r"regress\w*|unstable|overfit\w*|drop(?:ped|ping)?|abandon\w*|gave\s+up|give\s+up|ditch\w*|scrap\w*|"
    r"killed|not\s+worth|waste|dead|useless|converge\w*|nowhere\s+near)\b"
)
# An observation that the target is reached ("-> 291, under the 300 target", "past the 0.60 target").
_TARGET_MET = re.compile(
    r"\b(?:under|below|beats?|beating|beat|hits?|hitting|meets?|met|reach\w*|above|over|past|exceeds?|exceeding|"
    r"clears?|cleared|crossed)\s+(?:the\s+|our\s+)?(?:[\d.,]+\s*)?(?:\w+\s+)?target\b|\btarget\s+(?:met|reached|hit)\b"
)
_NOT_MET = re.compile(r"\b(?:not|n't|still|yet|short\s+of|far\s+from|nowhere)\b[^.;]{0,25}\btarget\b")

_FAILURE = re.compile(
    r"\b(?:not|no|never|none|nothing|without|cannot|can't|won't|isn't|wasn't|aren't|didn't|doesn't|don't|"
    r"worse|worst|fail\w*|hurt\w*|diverg\w*|nan|crash\w*|broke\w*|broken|dead|overfit\w*|degrad\w*|drop(?:ped|s)?|"
    r"regress\w*|unstable|slower|oom|errors?|stuck|flat|useless|lower|decreas\w*|lost|loses?|killed|"
    r"abandon\w*|gave\s+up|give\s+up|noise|noisy|marginal\w*|negligible)\b|n't\b"
)
# "than lgbm", "vs the forest", "below the scaled logistic regression": an approach only compared with is not the one
# the statement is about.
_COMPARED = re.compile(
    r"\b(?:than|vs|versus|behind|against|beat|beats|beating|outperform\w*|over|of|like|instead of|compared to|"
    r"compared with|relative to|below|above|under|beneath|short of|ahead of|level with|on par with)"
    r"(?: the| our| plain)?(?: [a-z0-9]+){0,2}$"
)
_COMPARED_WEIGHT = 0.25
# Words that do not change what a statement says: "Still: is the val set big enough?" is the question asked before.
_FILLER = frozenset("a an the is are was were be it this that still again also so q question open do does".split())
# Words the answer detection never counts as key terms (a subset of its list): left out of the prefilter.
_COMMON = frozenset(
    """a an the is are was were be been it its this that these those we i you they to of in on at by for from with
    and or but so if than then what why how when where which who do does did have has had not no can could should
    would will may might just only still yet also any some all more most much very""".split()
)
# Words of an approach's name or a parameter's name that do not name it on their own.
_GENERIC = frozenset(
    """a an and the of on off with without no new old base baseline default line approach model models run runs
    ft finetune tuned tuning aug sweep grid search cv objective loss small large big tiny full lite plus feature
    features data test eval exp experiment v1 v2 v3 num n max min use is in to for by at seed seeds random state
    random_state fold folds split""".split()
)
# Parameter values that say nothing about which approach: "true", "auto", "none" ...
_VALUE_WORDS = frozenset("true false none null auto yes off default nan inf".split())
_ON = frozenset("true yes on enabled".split())
_VALUES_NAMED = 50  # at most this many values of one key are read as "key value" phrases
# Usual names of model families: a family named by one of a group is named by all of its group.
_FAMILIES: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split(","))
    for group in (
        "random forest,random forests,randomforest,rf,forest,forests,randomforestclassifier,randomforestregressor",
        "lightgbm,lgbm,lgb,lgbmclassifier,lgbmregressor,light gbm",
        "xgboost,xgb,xgbclassifier,xgbregressor",
        "catboost,cat boost,catboostclassifier",
        "gradient boosting,gbm,gbdt,gradientboostingclassifier,histgradientboostingclassifier,hist gradient boosting",
        "logistic regression,logreg,logit,lr model,logisticregression",
        "svm,svc,support vector machine,support vector machines,linearsvc",
        "knn,k nearest neighbours,k nearest neighbors,nearest neighbours,nearest neighbors,kneighborsclassifier",
        "mlp,neural net,neural network,feed forward net,mlpclassifier",
        "naive bayes,gaussiannb,nb",
        "linear regression,ols,linearregression",
        "ridge,ridge regression",
        "lasso,lasso regression",
        "transformer,transformers,bert",
        "cnn,convnet,conv net,resnet",
        "lstm,rnn,gru",
        "tabnet",
        "prophet",
        "arima,sarima",
    )
)
# Usual names of common parameters, so "learning rate" names the approach whose runs change `lr`.
_PARAM_NAMES: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split(","))
    for group in (
        "lr,learning rate,learning_rate,eta,step size",
        "num leaves,num_leaves,leaves",
        "max depth,max_depth,depth,deeper,shallower",
        "n estimators,n_estimators,estimators,trees,num trees,boosting rounds,num_boost_round",
        "c,regularisation,regularization,l2,reg lambda,reg_lambda,lambda,penalty",
        "alpha,l1,reg alpha,reg_alpha",
        "dropout,drop rate",
        "batch size,batch_size,batch",
        "warmup,warm up,warmup steps,warmup_steps",
        "weight decay,weight_decay,wd",
        "epochs,epoch,num epochs",
        "kernel,rbf",
        "gamma",
        "class weight,class_weight,balanced,imbalance,scale pos weight,scale_pos_weight",
        "optimizer,optimiser,adam,adamw,sgd",
    )
)


@dataclass(frozen=True, slots=True)
class Filed:
    """Quotes by section: `by_approach[name][section]`, and `general[section]` for those about no one approach."""

    by_approach: Mapping[str, Mapping[Section, list[Quote]]] = field(default_factory=dict)
    general: Mapping[Section, list[Quote]] = field(default_factory=dict)

    def of(self, approach: str, section: Section) -> list[Quote]:
        return list(self.by_approach.get(approach, {}).get(section, []))

    def unfiled(self, section: Section) -> list[Quote]:
        return list(self.general.get(section, []))


def file_quotes(
    entries: Sequence[EntryDigest],
    approaches: Sequence[Approach],
    runs: Mapping[str, RunView] | None = None,
    others: Sequence[Approach] = (),
) -> Filed:
    """Every log entry's conclusions, failures and still-open questions, once each, filed under an approach (`runs`
    add the names of its runs and the words of their parameter values to the words that name it). A statement about
    one of `others` (approaches the document does not tell, such as the baseline's) is filed under none."""
    by_approach: dict[str, dict[Section, list[Quote]]] = {a.name: {s: [] for s in SECTIONS} for a in approaches}
    general: dict[Section, list[Quote]] = {s: [] for s in SECTIONS}
    told = {a.name for a in approaches}
    every = [*approaches, *(a for a in others if a.name not in told)]
    owner = {key: a.name for a in every for key in a.run_ids}
    # a phrase shared by one told approach and others names the told one ("logreg" of the line, not the baseline's)
    vocab = {
        phrase: (names if len(names) == 1 or len(mine := {n: w for n, w in names.items() if n in told}) != 1 else mine)
        for phrase, names in _vocabulary(every, runs or {}).items()
    }
    labels = {key: run.name for key, run in (runs or {}).items() if run.name}
    said = [
        (section, quote, line, _approach_of(quote, owner, vocab, labels))
        for section, quote, line in _log_items(entries)
    ]
    on_line = _named_on_lines(entries, owner, vocab, labels)
    for section, quote, line, name in said:
        if name is None and section != "open_questions" and line is not None:
            # a clause split from a line that names one approach ("X is behind, not worth more runs") is about it
            sibling = on_line.get((quote.entry_id, line), set())
            name = next(iter(sibling)) if len(sibling) == 1 else None
        (by_approach[name] if name in by_approach else general)[section].append(quote)
    return Filed(by_approach, general)


_LINE_SECTIONS = ("observations", "hypothesis", "conclusions", "did_not_work", "open_questions", "next_steps")


def _named_on_lines(
    entries: Sequence[EntryDigest], owner: Mapping[str, str], vocab: _Vocab, labels: Mapping[str, str]
) -> dict[tuple[int, int], set[str]]:
    """(entry, dump line) -> the approaches its statements are about, every section read ("Tried knn-raw (..) and
    svc-raw (..): 0.94 and 0.96. Both worse than the baseline." names one approach on that line)."""
    out: dict[tuple[int, int], set[str]] = {}
    for entry in entries:
        if entry.kind != LOG_ENTRY:
            continue
        for section in _LINE_SECTIONS:
            for item in entry_items(entry, section):
                line = item.get("line")
                if not isinstance(line, int):
                    continue
                cited = [r for r in item.get("run_ids", []) if isinstance(r, str)]
                quote = Quote(text=str(item["text"]), entry_id=entry.id, day=entry.day, run_ids=cited)
                if (name := _approach_of(quote, owner, vocab, labels)) is not None:
                    out.setdefault((entry.id, line), set()).add(name)
    return out


def log_quotes(entries: Sequence[EntryDigest]) -> Iterator[tuple[Section, Quote]]:
    """(section, quote) for each statement of the log entries, oldest entry first, each text once."""
    return ((section, quote) for section, quote, _ in _log_items(entries))


def _log_items(entries: Sequence[EntryDigest]) -> Iterator[tuple[Section, Quote, int | None]]:
    """(section, quote, dump line) for each statement of the log entries, oldest entry first, each text once."""
    logs = sorted((e for e in entries if e.kind == LOG_ENTRY), key=lambda e: (e.day, e.id))
    answered = {_gist(text) for e in logs for text in e.answered} | _answered_later(logs)
    seen: set[str] = set()
    for entry in logs:
        for section in (*SECTIONS, "observations"):
            for item in entry_items(entry, section):
                text = str(item["text"])
                said = _gist(text)
                if not said or said in seen or (section == "observations" and not _quoted_observation(text)):
                    continue
                if section == "open_questions" and said in answered:
                    continue
                seen.add(said)
                cited = [r for r in item.get("run_ids", []) if isinstance(r, str)]
                quote = Quote(text=text, entry_id=entry.id, day=entry.day, run_ids=cited)
                line = item.get("line") if isinstance(item.get("line"), int) else None
                yield _filed_as(section, text), quote, line


def _filed_as(section: str, text: str) -> Section:
    """Where a statement is quoted: a success or a finding of no effect is a conclusion, whether the entry filed it
    as a failure or an observation."""
    if section == "did_not_work" and not is_success(text) and not no_effect_found(text):
        return "did_not_work"
    return "open_questions" if section == "open_questions" else "conclusions"


def _quoted_observation(text: str) -> bool:
    """An observation quoted as a conclusion: a best said outright, the target said to be reached, or a finding of
    no effect."""
    return best_said(text) or target_said_met(text) or no_effect_found(text)


def no_effect_found(text: str) -> bool:
    """A change found to do nothing ("barely moves it", "doesn't matter much", "no better") in a statement that
    names nothing broken, worse or given up."""
    lower = text.lower()
    return bool(_NO_EFFECT.search(lower)) and not _BROKE.search(lower)


def target_said_met(text: str) -> bool:
    """The statement says the target is reached ("under the 300 target"), not that it is still short of it."""
    lower = text.lower()
    return bool(_TARGET_MET.search(lower)) and not _NOT_MET.search(lower)


def entry_items(entry: EntryDigest, section: str) -> Iterator[Mapping[str, Any]]:
    """The items of a section of an entry's body, never the quoted (instruction-like) ones."""
    items = entry.body.get(section, [])
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("text"), str) and not item.get("quoted", False):
            yield item


def is_success(text: str) -> bool:
    """The statement reads as something that worked: a best said outright and not denied ("best so far"), or a
    gain ("helped", "improved") in a line that names no failure."""
    return best_said(text) or (bool(_SUCCESS.search(text.lower())) and not _FAILURE.search(text.lower()))


def best_said(text: str) -> bool:
    """A best said outright and not denied ("best so far", "works best", "the sweet spot"): a conclusion, wherever
    the dump's structure filed it (an observation, a failure)."""
    lower = text.lower()
    return bool(_BEST.search(lower)) and not _NOT_BEST.search(lower)


def _said(text: str) -> str:
    return " ".join(_words(text))


def _gist(text: str) -> str:
    """What a statement says, whatever its order, case, punctuation and filler words: two statements with the same
    gist are one statement said twice."""
    return " ".join(sorted(set(_words(text)) - _FILLER))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _answered_later(logs: Sequence[EntryDigest]) -> set[str]:
    """The gists of the questions that a later log entry's statements answer, each entry read once against the
    questions still open before it (as a dump is read when it is posted).

    Only the questions sharing at least two word beginnings (4 letters) with the entry's statements are read: an
    answer shares at least two key terms with its question, each one a word that starts like one of the text's, so no
    other question can be answered, and a long history stays fast."""
    asked: dict[str, str] = {}  # gist -> text, the questions still open
    by_head: dict[str, set[str]] = {}  # word beginning -> gists of the questions that use it
    answered: set[str] = set()
    for entry in logs:
        said = _statements(entry)
        shared = Counter(gist for head in _heads(said) for gist in by_head.get(head, ()) if gist in asked)
        candidates = [asked[gist] for gist, n in shared.items() if n >= 2]
        for found in answered_questions(said, open_questions=candidates) if candidates else ():
            answered.add(gist := _gist(found.question))
            asked.pop(gist, None)
        for item in entry_items(entry, "open_questions"):
            if (gist := _gist(text := str(item["text"]))) not in answered and gist not in asked:
                asked[gist] = text
                for head in _heads(text):
                    by_head.setdefault(head, set()).add(gist)
    return answered


def _heads(text: str) -> set[str]:
    return {w[:4] for w in _words(text) if w not in _COMMON}


def _statements(entry: EntryDigest) -> str:
    texts = [str(item["text"]) for section in _ANSWERING for item in entry_items(entry, section)]
    experiments = entry.body.get("experiments", [])
    for x in experiments if isinstance(experiments, list) else []:
        texts += [str(x["context"])] if isinstance(x, Mapping) and isinstance(x.get("context"), str) else []
    return " ".join(t.strip().rstrip(".") + "." for t in texts if t.strip())


# -- which approach ---------------------------------------------------------------------------------------------------

_Vocab = Mapping[str, Mapping[str, float]]  # phrase -> approach name -> weight


def _approach_of(
    quote: Quote, owner: Mapping[str, str], vocab: _Vocab, labels: Mapping[str, str] | None = None
) -> str | None:
    """By the runs it cites, leaving out those it only compares with ("well below logreg-C1 at 0.9957"), else by
    its words."""
    cited = [key for key in quote.run_ids if key in owner]
    subject = [key for key in cited if not only_compared(quote.text, key, (labels or {}).get(key))]
    if cited and not subject:
        return _by_words(quote.text, vocab) or Counter(owner[k] for k in cited).most_common(1)[0][0]
    counts = Counter(owner[key] for key in subject)
    if counts:
        ranked = counts.most_common()
        tied = [name for name, n in ranked if n == ranked[0][1]]
        return tied[0] if len(tied) == 1 else (_by_words(quote.text, vocab, among=set(tied)) or tied[0])
    return _by_words(quote.text, vocab)


def only_compared(text: str, key: str, name: str | None) -> bool:
    """The run appears in the text (by name or key) only after a comparison word: it is what is compared with."""
    lower = text.lower()
    spots = [m.start() for label in (name, key[:8]) if label for m in re.finditer(re.escape(label.lower()), lower)]
    return bool(spots) and all(_COMPARED.search(" ".join(_words(lower[:at]))) for at in spots)


def _by_words(text: str, vocab: _Vocab, among: set[str] | None = None) -> str | None:
    """The approach the text names most strongly, by phrases naming one approach only, the longest wording first
    ("random forest", not also "forest"), one only compared with counting little; None on a tie or none."""
    said = _singular(" ".join(_words(text)))
    found: list[tuple[int, int, str, float]] = []
    for phrase, names in vocab.items():
        if len(names) == 1 and phrase in said and (among is None or set(names) <= among):
            ((name, weight),) = names.items()
            pattern = rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])"
            found += [(m.start(), m.end(), name, weight) for m in re.finditer(pattern, said)]
    scores: dict[str, float] = {}
    taken: list[tuple[int, int]] = []
    for start, end, name, weight in sorted(found, key=lambda f: f[0] - f[1]):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        compared = _COMPARED.search(said[:start].rstrip())
        scores[name] = scores.get(name, 0.0) + weight * (_COMPARED_WEIGHT if compared else 1)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:2]
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _vocabulary(approaches: Sequence[Approach], runs: Mapping[str, RunView]) -> _Vocab:
    """Each phrase (space-separated words) and the approaches it names, with a weight: 2 for the approach's name, its
    model family or the name of one of its runs, 1 for a parameter its runs change or a word of their values."""
    vocab: dict[str, dict[str, float]] = {}
    for a in approaches:
        for phrase, weight in [*_phrases(a, runs), *_run_phrases([runs[k] for k in a.run_ids if k in runs])]:
            names = vocab.setdefault(_singular(phrase), {})
            names[a.name] = max(names.get(a.name, 0.0), weight)
    return vocab


def _run_phrases(runs: Sequence[RunView]) -> Iterator[tuple[str, float]]:
    """Its runs' names ("lgb_weather_lr" as "lgb weather lr"), the words of their parameter values ("weather" of
    features=weather, "lbfgs" of solver=lbfgs: words, not numbers), and the keys of the switches they turn on."""
    names = {_said(r.name) for r in runs if r.name and re.search(r"[a-z]", r.name.lower())}
    yield from ((n, 2.0) for n in names if len(n) >= 3)
    values = {str(v) for r in runs for v in r.params.values()}
    words = {w for v in values for w in _words(v) if len(w) >= 3 and w.isalpha() and w not in _GENERIC}
    yield from ((w, 1.0) for w in words - _VALUE_WORDS)
    # a switch its runs turn on ("specaug": true) names it by the switch's words (a one-run line changes no key)
    switched = {k for r in runs for k, v in r.params.items() if str(v).strip().lower() in _ON}
    yield from ((w, 1.0) for k in switched for w in {_said(k), *_words(k)} if len(w) >= 3 and w not in _GENERIC)


def _singular(phrase: str) -> str:
    """ "class weights" and "class weight", "more trees" and "a tree" read alike."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in phrase.split())


def _phrases(a: Approach, runs: Mapping[str, RunView] | None = None) -> Iterator[tuple[str, float]]:
    names = {_said(a.name), "".join(_words(a.name))}
    names |= {w for w in _words(a.name) if w not in _GENERIC and len(w) >= 3}
    names |= {_said(a.family), "".join(_words(a.family))} if a.family else set()
    for group in _FAMILIES:
        if names & {_said(g) for g in group} or names & {"".join(_words(g)) for g in group}:
            names |= {_said(g) for g in group}
    yield from ((n, 2) for n in names if n and n not in _GENERIC)
    for key in a.changed_keys:
        params = {_said(key)} | {w for w in _words(key) if w not in _GENERIC and len(w) >= 3}
        for group in _PARAM_NAMES:
            if params & {_said(g) for g in group}:
                params |= {_said(g) for g in group}
        yield from ((p, 1) for p in params if p and p not in _GENERIC)
        # a value its runs gave the key, named with it ("lr 0.2 overshoots"): a grid's values, not a random search's
        values = {runs[k].params[key] for k in a.run_ids if runs and k in runs and key in runs[k].params}
        if len(values) <= _VALUES_NAMED:
            yield from ((f"{p} {_said(v)}", 2) for p in params if p for v in values if re.search(r"\d", v))
