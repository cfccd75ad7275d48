""" "Has this been tried?": a free-text proposal read against the project's own parameter keys and values.

People write proposals the way they talk: "try random forest with max_depth=20 and class_weight balanced",
"lr 3e-4, batch size 64 with adamw", "SMOTE oversampling on lightgbm". Nothing here knows a parameter vocabulary in
advance; the stored runs are the vocabulary:
- a key is named as stored, or with other separators or case ("batch size" = "batch_size" = "batchSize"), by a
  common abbreviation ("lr"), or by its last words when only one stored key ends that way ("depth" = "max_depth");
- a value follows its key ("key=value", "key: value", "key value", "max_depth of 20") or precedes it ("500
  estimators"); a bare word that is a stored value of exactly one key ("adamw", "balanced") proposes that value;
- a model family is named as `family_of` spells it, with other separators, or by a usual short name ("rf", "lgbm").
Numbers compare as numbers (3e-4 = 0.0003), words case- and separator-insensitively. Terms read after "instead of",
"rather than", "not" or "vs" are what the proposal moves away from, and are left out.

A run has tried the proposal when it has every proposed value (a key named without a value: the key is set and not
off) and, if a family is named, is of that family, unless the proposal sets a key no run has ("dropout=0.3"); runs
that share the family or some values are similar. Terms no run knows are listed as `unmatched`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from app.analysis.family import FAMILY_ALIASES, FAMILY_KEYS, family_of
from app.analysis.metric import value_of
from app.analysis.model import Findings, ParamChange, ProposalConfig, RunView, TriedMatch, TriedRun, TriedVerdict

MAX_LISTED = 10
_MAX_SPAN = 4  # words a key, value or family name may take ("learning rate warmup steps")

_TOKEN_RE = re.compile(r"[-+]?\.?\w[\w.\-+@%/]*")
_EXPLICIT_RE = re.compile(r"([A-Za-z_][\w.\-]*)\s*=\s*([^\s,;]+)")
_SUBTOKEN_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", re.IGNORECASE)

# Abbreviations people use for keys, as normalised forms: "lr" names learning_rate when a run stores that.
_KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("learningrate",),
    "bs": ("batchsize",),
    "wd": ("weightdecay",),
    "epochs": ("numepochs", "nepochs", "maxepochs"),
    "trees": ("nestimators", "numtrees", "ntrees", "numboostround", "iterations"),
    "estimators": ("nestimators",),
    "depth": ("maxdepth",),
    "leaves": ("numleaves",),
    "dropout": ("dropoutrate", "dropoutp"),
}
# Generic last words of keys that, alone, name no key: "rate" is not learning_rate.
_GENERIC_KEY_WORDS = frozenset(
    "size rate type weight weights state model name version mode path dir count number num max min id n k".split()
)
_AMBIGUOUS_FAMILY_WORDS = frozenset({"cat", "dummy"})  # ordinary words before they are families
_CONNECTORS = frozenset("= : of to at is as = set equal equals around about ~".split())
_NEGATORS = frozenset({"not", "no", "without", "vs", "versus", "than"})
_NEGATING_PAIRS = frozenset({("instead", "of"), ("rather", "than")})
_OFF = frozenset({"", "false", "0", "none", "null", "no", "off", "nan"})
_BOOLS = {"true": "true", "yes": "true", "on": "true", "false": "false", "no": "false", "off": "false"}
_STOPWORDS = frozenset(
    """a an the and or but if then so with without w using use used try trying tried test testing run runs running
    on in of for to from at by as is are was were no be been being it its this that these those we i you they our my
    me us what about how maybe perhaps also again instead rather than not vs versus plus some any more less lower
    higher bigger smaller larger increase decrease raise reduce add adding remove removing swap switch change set
    setting same different new another other model models approach config configuration experiment experiments
    like just only still do does did doing should could would might can will let lets let's see check compare
    value values parameter parameters param params hyperparameter hyperparameters tune tuning vs. etc e.g i.e
    there here too very really bit little much many few all each both either neither now today tomorrow next
    time times""".split()
)


def match_proposal(proposal: str, runs: Sequence[RunView], findings: Findings) -> TriedMatch:
    """Read `proposal` against `runs` and say whether some run has already tried it (`tried`), shares part of it
    (`similar`) or nothing of it (`new`). Exact runs come best first on the metric in force; similar runs most keys
    matched first; at most `MAX_LISTED` of each."""
    family_by_key = {run.key: family_of(run) for run in runs}
    vocabulary = _Vocabulary.of(runs, family_by_key)
    config = _Reader(vocabulary, _tokens(proposal)).read(proposal)
    approach_of = {key: a.name for a in findings.approaches for key in a.run_ids}
    order = {key: i for i, key in enumerate(findings.run_order)}
    family = _norm(config.family) if config.family else None
    # "dropout=0.3" with no run knowing a dropout: no run has tried the whole proposal
    unknown_pairs = any("=" in term for term in config.unmatched)
    exact: list[TriedRun] = []
    similar: list[tuple[int, TriedRun]] = []
    if not config.params and family is None:
        return TriedMatch(verdict="new", proposal=config)
    for run in runs:
        tried = _compare(run, config, findings.metric, approach_of.get(run.key), vocabulary.spellings)
        family_hit = family is not None and _norm(family_by_key[run.key] or "") == family
        if len(tried.matched) == len(config.params) and (family is None or family_hit) and not unknown_pairs:
            exact.append(tried)
        elif tried.matched or family_hit:
            similar.append((len(tried.matched) + int(family_hit), tried))

    def history(tried: TriedRun) -> int:
        return order.get(tried.key, len(order))

    def best_first(tried: TriedRun) -> tuple[bool, float, int]:
        value = tried.value
        if value is None or math.isnan(value):
            return (True, 0.0, history(tried))
        return (False, -value if findings.direction == "max" else value, history(tried))

    exact.sort(key=best_first)
    similar.sort(key=lambda pair: (-pair[0], *best_first(pair[1])))
    verdict: TriedVerdict = "tried" if exact else "similar" if similar else "new"
    return TriedMatch(
        verdict=verdict,
        proposal=config,
        exact=tuple(exact[:MAX_LISTED]),
        similar=tuple(tried for _, tried in similar[:MAX_LISTED]),
    )


# -- comparing a run with the proposal --------------------------------------------------------------------------------


def _compare(
    run: RunView, config: ProposalConfig, metric: str, approach: str | None, spellings: Mapping[str, Sequence[str]]
) -> TriedRun:
    matched: list[str] = []
    differing: list[ParamChange] = []
    for key, proposed in config.params.items():
        stored = next((run.params[k] for k in spellings.get(key, (key,)) if k in run.params), None)
        if _has(stored, proposed):
            matched.append(key)
        else:
            differing.append(ParamChange(key=key, before=stored, after=proposed))
    return TriedRun(
        key=run.key,
        matched=tuple(matched),
        differing=tuple(differing),
        value=value_of(run, metric),
        approach=approach,
    )


def _has(stored: str | None, proposed: str) -> bool:
    if stored is None:
        return False
    if proposed == "":
        return _canonical(stored) not in _OFF
    return same_value(stored, proposed)


@lru_cache(maxsize=65536)
def same_value(a: str, b: str) -> bool:
    """Two parameter values as equal as a person means them: numbers by value (3e-4 = 0.0003, 64 = 64.0), words by
    case and separators ("AdamW" = "adamw", "random_forest" = "random forest"), yes/on/True alike."""
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-15)
    return _canonical(a) == _canonical(b)


def _number(text: str) -> float | None:
    text = text.strip()
    if not _NUMBER_RE.fullmatch(text):
        return None
    return float(text)


def _canonical(value: str) -> str:
    lowered = value.strip().strip("\"'`").lower()
    return _BOOLS.get(lowered, _norm(lowered) if _norm(lowered) else lowered)


def _norm(text: str) -> str:
    """A key or word with case and separators gone: "batch size", "batch_size", "batchSize" -> "batchsize"."""
    return "".join(part.lower() for part in _SUBTOKEN_RE.findall(text))


def _parts(text: str) -> list[str]:
    return [part.lower() for part in _SUBTOKEN_RE.findall(text)]


# -- the project's vocabulary -----------------------------------------------------------------------------------------


@dataclass
class _Vocabulary:
    keys: dict[str, set[str]] = field(default_factory=dict)  # normalised key (and key suffix) -> stored keys
    suffixes: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # canonical word value -> {stored key: spelling}
    families: dict[str, str] = field(default_factory=dict)  # normalised family name or alias -> family
    spellings: dict[str, list[str]] = field(default_factory=dict)  # stored key -> every stored key spelled alike
    counts: dict[str, int] = field(default_factory=dict)  # stored key -> runs that have it

    @classmethod
    def of(cls, runs: Iterable[RunView], family_by_key: Mapping[str, str | None]) -> _Vocabulary:
        vocabulary = cls()
        seen_keys: set[str] = set()
        seen_values: set[tuple[str, str]] = set()  # 10,000 runs repeat the same few values: read each once
        seen_families: set[str] = set()
        for run in runs:
            family = family_by_key[run.key]
            if family:
                seen_families.add(family)
            for key, value in run.params.items():
                vocabulary.counts[key] = vocabulary.counts.get(key, 0) + 1
                if key not in seen_keys:
                    seen_keys.add(key)
                    vocabulary._add_key(key)
                if (key, value) not in seen_values:
                    seen_values.add((key, value))
                    vocabulary._add_value(key, value)
        for family in sorted(seen_families):
            vocabulary._add_family(family)
        # a usual family no run has ("xgboost" in a project of forests) is still a family, not a stray word
        for alias, family in sorted(FAMILY_ALIASES.items()):
            if len(alias) >= 3 and alias not in _AMBIGUOUS_FAMILY_WORDS and not vocabulary.is_key_word(alias):
                vocabulary.families.setdefault(alias, family)
                vocabulary.families.setdefault(_norm(family), family)
        return vocabulary

    def _add_value(self, key: str, value: str) -> None:
        if _number(value) is None and len(value) <= 60 and _canonical(value) not in _OFF:
            self.values.setdefault(_canonical(value), {}).setdefault(key, value)

    def _add_key(self, key: str) -> None:
        parts = _parts(key)
        if not parts:
            return
        alike = self.keys.setdefault("".join(parts), set())
        alike.add(key)
        for other in alike:  # "batch_size" in some runs, "batchSize" in others: one key
            self.spellings[other] = sorted(alike)
        for start in range(1, len(parts)):
            suffix = parts[start:]
            if len(suffix) == 1 and (suffix[0] in _GENERIC_KEY_WORDS or len(suffix[0]) < 3):
                continue
            self.suffixes.setdefault("".join(suffix), set()).add(key)

    def _add_family(self, family: str) -> None:
        """A family by its name and its usual short names ("rf", "lgbm"), unless a short name is also a key ("lr":
        learning rate before logistic regression)."""
        self.families.setdefault(_norm(family), family)
        for alias, name in FAMILY_ALIASES.items():
            if name == family and not self.is_key_word(alias) and alias not in _KEY_ALIASES:
                self.families.setdefault(alias, family)

    def key(self, normalised: str) -> str | None:
        """The one stored key a normalised term names, or None (unknown or ambiguous)."""
        for candidates in (
            self.keys.get(normalised),
            {k for alias in _KEY_ALIASES.get(normalised, ()) for k in self.keys.get(alias, ())},
            self.suffixes.get(normalised),
        ):
            if candidates:
                alike = {_norm(k) for k in candidates}
                # spelled alike ("batch_size", "batchSize"): the spelling most runs use
                return min(candidates, key=lambda k: (-self.counts[k], k != k.lower(), k)) if len(alike) == 1 else None
        return None

    def is_key_word(self, normalised: str) -> bool:
        return normalised in self.keys or normalised in self.suffixes or normalised in _KEY_ALIASES

    def value_key(self, canonical: str) -> tuple[str, str] | None:
        """(key, stored spelling) of a word value exactly one stored key takes."""
        keys = self.values.get(canonical, {})
        if not keys or len({_norm(k) for k in keys}) != 1:
            return None
        key = min(keys, key=lambda k: (-self.counts[k], k != k.lower(), k))
        return key, keys[key]


# -- reading the proposal ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def norm(self) -> str:
        return _norm(self.text)


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        word = match[0].rstrip(".-+/")
        if word:
            tokens.append(_Token(word, match.start(), match.start() + len(word)))
    return tokens


@dataclass
class _Reader:
    vocabulary: _Vocabulary
    tokens: list[_Token]
    params: dict[str, str] = field(default_factory=dict)
    family: str | None = None
    unmatched: list[str] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    def read(self, text: str) -> ProposalConfig:
        self._explicit_unknown(text)
        at = 0
        while at < len(self.tokens):
            at = self._read_at(at)
        return ProposalConfig(params=dict(self.params), family=self.family, unmatched=tuple(self.unmatched))

    def _explicit_unknown(self, text: str) -> None:
        """ "dropout=0.3" when no run has a dropout: the pair, as written, is what no stored run knows."""
        for match in _EXPLICIT_RE.finditer(text):
            if self.vocabulary.key(_norm(match[1])) is None:
                self.unmatched.append(f"{match[1]}={match[2].rstrip('.')}")
                self.used.update(i for i, t in enumerate(self.tokens) if match.start() <= t.start < match.end())

    def _read_at(self, at: int) -> int:
        if at in self.used:
            return at + 1
        negated = self._negated(at)
        for size in range(min(_MAX_SPAN, len(self.tokens) - at), 0, -1):
            span = range(at, at + size)
            if any(i in self.used for i in span):
                continue
            normalised = "".join(self.tokens[i].norm for i in span)
            if not normalised:
                continue
            family = self.vocabulary.families.get(normalised)
            if family is not None:
                if not negated and self.family is None:
                    self.family = family
                return at + size
            key = self.vocabulary.key(normalised)
            if key is not None and (size > 1 or len(normalised) >= 2):
                return self._read_value(key, at, at + size, negated)
            words = " ".join(self.tokens[i].text for i in span)
            value = None if words.lower() in _STOPWORDS else self.vocabulary.value_key(_canonical(words))
            if value is not None:
                if not negated:
                    self.params.setdefault(value[0], value[1])
                    self.params[value[0]] = self.params[value[0]] or value[1]
                return at + size
        self._unknown(self.tokens[at], negated)
        return at + 1

    def _read_value(self, key: str, start: int, end: int, negated: bool) -> int:
        """The value after a key (past "=", ":", "of", "to"), else a number just before it, else none ("")."""
        at = end
        while at < len(self.tokens) and self.tokens[at].text.lower() in _CONNECTORS and at - end < 2:
            at += 1
        value: str | None = None
        if at < len(self.tokens) and at not in self.used and self._is_value(key, self.tokens[at]):
            value = self.tokens[at].text
            end = at + 1
        elif start > 0 and start - 1 not in self.used and _number(self.tokens[start - 1].text) is not None:
            value = self.tokens[start - 1].text
            self.unmatched = [u for u in self.unmatched if u != value]
        # "a random forest model": a key named in passing (a common word, a family key) proposes nothing by itself
        word = " ".join(t.text for t in self.tokens[start:end]).lower()
        in_passing = word in _STOPWORDS or key.lower() in FAMILY_KEYS
        if not negated and (value is not None or not in_passing):
            self.params[key] = self._spelling(key, value) if value is not None else self.params.get(key, "")
        self.used.update(range(start, end))
        return end

    def _is_value(self, key: str, token: _Token) -> bool:
        text = token.text.lower()
        if _number(token.text) is not None or text in _BOOLS:
            return True
        if key in self.vocabulary.values.get(_canonical(token.text), {}):
            return True
        normalised = token.norm
        return bool(normalised) and not (
            text in _STOPWORDS or self.vocabulary.is_key_word(normalised) or normalised in self.vocabulary.families
        )

    def _spelling(self, key: str, value: str) -> str:
        """A proposed word value as the runs spell it ("balanced"), a number as the proposal writes it."""
        if _number(value) is None:
            stored = self.vocabulary.values.get(_canonical(value), {}).get(key)
            if stored is not None:
                return stored
        return value

    def _negated(self, at: int) -> bool:
        before = [t.text.lower() for t in self.tokens[max(0, at - 2) : at]]
        return bool(before) and (before[-1] in _NEGATORS or tuple(before) in _NEGATING_PAIRS)

    def _unknown(self, token: _Token, negated: bool) -> None:
        text = token.text.lower()
        if negated or text in _STOPWORDS or len(token.norm) < 2 or text in self.unmatched:
            return
        self.unmatched.append(text)
