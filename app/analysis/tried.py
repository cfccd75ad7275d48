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

Words that name an ML concept ("stronger L2", "more dropout", "a deeper forest", "class weighting", "calendar
features") go through `app.analysis.concepts`, which maps the concept to the keys the project's runs carry for it, per
family. A direction word moves a key or a concept's keys (`ParamMove`): beyond a stated bound, else beyond the value
of the family's reference run (the baseline when of that family, else its first run setting the key).

A run has tried the proposal when it has every proposed value (a key named without a value: the key is set and not
off), made every move and, if a family is named, is of that family, unless the proposal sets a key no run has
("dropout=0.3") or names a concept no run's key carries; runs of the named family (of any family when none is
named) that share some values, set a proposed key or a moved one are similar. The baseline is never an exact match
of a move. Terms no run knows are listed as `unmatched`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from app.analysis import concepts as vocab
from app.analysis.concepts import CONCEPT_BY_NAME, Concept, FamilyKind, Role, parts_of
from app.analysis.family import FAMILY_ALIASES, FAMILY_KEYS, family_of
from app.analysis.metric import value_of
from app.analysis.model import (
    Findings,
    ParamChange,
    ParamMove,
    ProposalConfig,
    RunView,
    TriedMatch,
    TriedRun,
    TriedVerdict,
)

_MAX_SPAN = 4  # words a key, value or family name may take ("learning rate warmup steps")

_TOKEN_RE = re.compile(r"[-+]?\.?\w[\w.\-+@%/]*")
_EXPLICIT_RE = re.compile(r"([A-Za-z_][\w.\-]*)\s*=\s*([^\s,;]+)")
_SUBTOKEN_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_CHANGE_VERBS = frozenset(
    "increase increased decrease decreased raise raised lower lowered set change changed bump bumped reduce reduced "
    "try tried use used switch switched go went back revert reverted halve halved double doubled".split()
)
_CHANGE_WORD_RE = re.compile(r"[\w][\w\-+.]*")
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
# Words of family names that name no family alone ("regression" is logistic and linear alike)
_GENERIC_FAMILY_WORDS = frozenset(
    """regression regressor classifier classification model base baseline linear random gradient extra hist tree
    trees support vector machine naive neighbors neighbours nearest process""".split()
)
_CONNECTORS = frozenset("= : of to at is as = set equal equals around about ~".split())
_ARTICLES = frozenset({"a", "an", "the", "any", "our", "my"})
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
    time times even further still have has had anyone someone anybody help helps helped worth matter matters work
    works""".split()
)


def match_proposal(proposal: str, runs: Sequence[RunView], findings: Findings) -> TriedMatch:
    """Read `proposal` against `runs` and say whether some run has already tried it (`tried`), shares part of it
    (`similar`) or nothing of it (`new`). Exact runs come best first on the metric in force; similar runs most keys
    matched first. Every matching run is listed. A proposal naming a family (or a kind of model: "a neural net")
    considers runs of that family only; the baseline is never an exact match of a proposal that moves a parameter."""
    family_by_key = {run.key: family_of(run) for run in runs}
    vocabulary = _Vocabulary.of(runs, family_by_key)
    text = _spell_comparisons(proposal)
    config = _Reader(vocabulary, _tokens(text)).read(text)
    approach_of = {key: a.name for a in findings.approaches for key in a.run_ids}
    order = {key: i for i, key in enumerate(findings.run_order)}
    allowed = {_norm(f) for f in config.families} or ({_norm(config.family)} if config.family else set())
    # "dropout=0.3" with no run knowing a dropout: no run has tried the whole proposal
    unknown_pairs = any("=" in term for term in config.unmatched)
    if not config.params and not config.moves and not allowed:
        said = _said_in_change(runs, config.unmatched, findings.metric, approach_of)
        exact_said = tuple(sorted(said, key=_best_first(findings, order)))
        return TriedMatch(verdict="tried" if said else "new", proposal=config, exact=exact_said)
    in_family = [run for run in runs if not allowed or _norm(family_by_key[run.key] or "") in allowed]
    references = _references(in_family, family_by_key, config.moves, findings.baseline, order)
    moves = tuple(_described(move, references) for move in config.moves)
    config = replace(config, moves=moves)
    # a concept no run's parameter carries ("cosine schedule" with no scheduler key), or only the family read with
    # words of a change no run carries ("lightgbm with focal loss"): similar at most
    family_only = config.open_change or (not config.params and not moves and bool(config.unmatched))
    # leaving a feature family out ("without the lag features") is what the baseline may well have run
    changes = [m for m in moves if not (m.contains and all(sign < 0 for sign in m.signs.values()))]
    exact: list[TriedRun] = []
    similar: list[tuple[int, int, TriedRun]] = []
    for run in in_family:
        family = family_by_key[run.key]
        tried, related = _compare(
            run, config, findings.metric, approach_of.get(run.key), vocabulary.spellings, references.get(family, {})
        )
        family_hit = bool(allowed)
        whole = len(tried.matched) == len(config.params) + len(moves)
        # a move, or a key named without a value ("add dropout"), is a change from the baseline
        baseline_moved = run.key == findings.baseline and (bool(changes) or "" in config.params.values())
        if whole and not unknown_pairs and not family_only and not baseline_moved:
            exact.append(tried)
        elif tried.matched or related or family_hit:
            similar.append((len(tried.matched), related + int(family_hit), tried))

    def history(tried: TriedRun) -> int:
        return order.get(tried.key, len(order))

    def best_first(tried: TriedRun) -> tuple[bool, float, int]:
        value = tried.value
        if value is None or math.isnan(value):
            return (True, 0.0, history(tried))
        return (False, -value if findings.direction == "max" else value, history(tried))

    said = _said_in_change(in_family, config.unmatched, findings.metric, approach_of)
    if said:  # an agent's log says the change in words: a words-only proposal it names was tried
        listed = {t.key for t in exact} | {t.key for _, _, t in similar}
        fresh = [t for t in said if t.key not in listed]
        if not config.params and not moves:
            exact += fresh
        else:
            similar += [(0, 1, t) for t in fresh]
    exact.sort(key=best_first)
    similar.sort(key=lambda item: (-item[0], -item[1], *best_first(item[2])))
    verdict: TriedVerdict = "tried" if exact else "similar" if similar else "new"
    return TriedMatch(
        verdict=verdict, proposal=config, exact=tuple(exact), similar=tuple(tried for _, _, tried in similar)
    )


def settings_in_words(words: str, rows: Sequence[Mapping[str, str]]) -> dict[str, str] | None:
    """The settings a change written in words names with values ("increase LR to 0.04" -> lr=0.04, "warmup 500
    steps" -> warmup_steps=500), read with the vocabulary of "has this been tried?" over the keys and values of
    `rows` (an agent log's own `key=value` changes). None unless the words are wholly settings: every word the
    reader did not take is a verb of change or a filler, and no value is a bound ("more", "above")."""
    runs = [RunView(key=f"row{i}", params=params) for i, params in enumerate(rows) if params]
    if not runs:
        return None
    vocabulary = _Vocabulary.of(runs, {run.key: None for run in runs})
    text = _spell_comparisons(words)
    config = _Reader(vocabulary, _tokens(text)).read(text)
    if not config.params or config.moves or config.family or config.open_change:
        return None
    if any(not value or value[0] in "<>" for value in config.params.values()):
        return None
    if any(_stem(t) not in _CHANGE_VERBS and _stem(t) not in _STOPWORDS for t in config.unmatched):
        return None
    return dict(config.params)


def _said_in_change(
    runs: Sequence[RunView], terms: Sequence[str], metric: str, approach_of: Mapping[str, str]
) -> list[TriedRun]:
    """Runs whose change, as an agent's log describes it (tag `change`), says every word of the proposal no
    parameter took ("SwiGLU" in "swap GELU for SwiGLU", "untie the embeddings" in "untie embedding and lm_head
    weights"); none when the proposal left no such word."""
    wanted = {_stem(t) for t in terms if "=" not in t and _stem(t) not in _STOPWORDS}
    if not wanted:
        return []
    found = []
    for run in runs:
        change = run.tags.get("change")
        if change and wanted <= {_stem(w) for w in _CHANGE_WORD_RE.findall(change.lower())}:
            found.append(TriedRun(run.key, (), (), value_of(run, metric), approach_of.get(run.key)))
    return found


def _best_first(findings: Findings, order: Mapping[str, int]) -> Callable[[TriedRun], tuple[bool, float, int]]:
    """Best first on the metric in force, runs without a value last, history order on a tie."""

    def key(tried: TriedRun) -> tuple[bool, float, int]:
        at = order.get(tried.key, len(order))
        if tried.value is None or math.isnan(tried.value):
            return (True, 0.0, at)
        return (False, -tried.value if findings.direction == "max" else tried.value, at)

    return key


def _stem(word: str) -> str:
    word = word.lower().strip(".,;:!?()[]\"'")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _spell_comparisons(text: str) -> str:
    """ "depth > 12", "lr<=1e-3", "at least 500 trees": comparisons as the words the reader knows."""
    for sign, words in ((">=", " atleast "), ("<=", " atmost "), (">", " above "), ("<", " below ")):
        text = text.replace(sign, words)
    return re.sub(r"\bat (least|most)\b", lambda m: "at" + m[1].lower(), text, flags=re.I)


# -- moves: a parameter or concept one way ----------------------------------------------------------------------------


def _references(
    runs: Sequence[RunView],
    family_by_key: Mapping[str, str | None],
    moves: Sequence[ParamMove],
    baseline: str | None,
    order: Mapping[str, int],
) -> dict[str | None, dict[str, float]]:
    """Per family and moved key, the value a move starts from: the baseline's when the baseline is of that family
    and sets the key, else that of the family's first run (in history order) setting it to a number."""
    keys = {k: move.unlimited for move in moves for k, sign in move.signs.items() if sign}
    if not keys:
        return {}
    found: dict[str | None, dict[str, tuple[int, float]]] = {}
    for run in runs:
        rank = -1 if run.key == baseline else order.get(run.key, len(order))
        family = found.setdefault(family_by_key[run.key], {})
        for key, unlimited in keys.items():
            if key in run.params and (value := _magnitude(run.params[key], key in unlimited)) is not None:
                if key not in family or rank < family[key][0]:
                    family[key] = (rank, value)
    return {family: {k: v for k, (_, v) in values.items()} for family, values in found.items()}


def _described(move: ParamMove, references: Mapping[str | None, Mapping[str, float]]) -> ParamMove:
    wanted: dict[str, str] = {}
    for key, sign in move.signs.items():
        if move.contains is not None:
            wanted[key] = f"{'with' if sign == 0 else 'without'} {move.words}"
            continue
        if sign == 0:
            wanted[key] = "on"
            continue
        side = (">" if sign > 0 else "<") + ("=" if move.inclusive else "")
        if move.beyond:
            wanted[key] = f"{side} every tried value"
        elif move.anchor is not None:
            wanted[key] = f"{side} {_fmt(move.anchor)}"
        else:
            starts = {refs[key] for refs in references.values() if key in refs}
            wanted[key] = (
                f"{side} {_fmt(next(iter(starts)))}" if len(starts) == 1 else "higher" if sign > 0 else "lower"
            )
    return replace(move, wanted=wanted)


def _fmt(value: float) -> str:
    return "unlimited" if math.isinf(value) else f"{value:.4g}"


def _magnitude(text: str, unlimited: bool) -> float | None:
    """A stored value as a number; "none", 0 or -1 is no limit for a key that takes one (max_depth)."""
    number = _number(text)
    if unlimited and (number is None and _canonical(text) in _OFF or number is not None and number <= 0):
        return math.inf
    return number


def _on(text: str, neutral: float | None) -> bool:
    number = _number(text)
    if number is not None:
        return number != (neutral if neutral is not None else 0.0)
    return _canonical(text) not in _OFF


def _made(move: ParamMove, run: RunView, references: Mapping[str, float]) -> tuple[bool, ParamChange | None, bool]:
    """(made, the change when not made, related: the run sets one of the move's keys)."""
    present = [k for k in move.signs if k in run.params]
    if not present:
        return False, ParamChange(key=next(iter(move.signs)), before=None, after=_want(move, None)), False
    for key in present:
        sign, text = move.signs[key], run.params[key]
        if move.contains is not None:
            if (move.contains in _value_words(text)) == (sign == 0):
                return True, None, True
            continue
        if sign == 0:
            concept = CONCEPT_BY_NAME.get(move.concept or "")
            role = concept.role(parts_of(key)) if concept else None
            if _on(text, role.neutral if role else None):
                return True, None, True
            continue
        value = _magnitude(text, key in move.unlimited)
        start = move.anchor if move.anchor is not None else references.get(key)
        if move.beyond or value is None or start is None:
            continue
        if (value - start) * sign > 0 or move.inclusive and value == start:
            return True, None, True
    key = present[0]
    return False, ParamChange(key=key, before=run.params[key], after=_want(move, key)), True


def _want(move: ParamMove, key: str | None) -> str:
    return move.wanted.get(key or next(iter(move.signs)), "") or move.words


# -- comparing a run with the proposal --------------------------------------------------------------------------------


def _compare(
    run: RunView,
    config: ProposalConfig,
    metric: str,
    approach: str | None,
    spellings: Mapping[str, Sequence[str]],
    references: Mapping[str, float],
) -> tuple[TriedRun, int]:
    """The run against the proposal, and how many of the proposal's keys it sets with another value."""
    matched: list[str] = []
    differing: list[ParamChange] = []
    related = 0
    for key, proposed in config.params.items():
        stored = next((run.params[k] for k in spellings.get(key, (key,)) if k in run.params), None)
        if _has(stored, proposed) or _named_with_key(stored, proposed, key):
            matched.append(key)
        else:
            differing.append(ParamChange(key=key, before=stored, after=proposed))
            related += stored is not None
    for move in config.moves:
        made, change, sets = _made(move, run, references)
        if made:
            matched.append(next((k for k in move.signs if k in run.params), next(iter(move.signs))))
        elif change is not None:
            differing.append(change)
        related += sets and not made
    tried = TriedRun(
        key=run.key,
        matched=tuple(matched),
        differing=tuple(differing),
        value=value_of(run, metric),
        approach=approach,
    )
    return tried, related


def _named_with_key(stored: str | None, proposed: str, key: str) -> bool:
    """ "standard" for a scaler stored as "StandardScaler": the value followed by its key's name."""
    if not stored or not proposed:
        return False
    return _canonical(stored) == _canonical(proposed) + _norm(key)


@lru_cache(maxsize=4096)
def _is_feature_key(key: str) -> bool:
    return CONCEPT_BY_NAME["features"].role(parts_of(key)) is not None


@lru_cache(maxsize=65536)
def _value_words(value: str) -> frozenset[str]:
    return frozenset(vocab.stem(p) for p in parts_of(value) if len(p) >= 3 and not p.isdigit())


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
    family_keys: dict[str | None, set[str]] = field(default_factory=dict)  # family -> keys its runs set
    kinds: dict[str, FamilyKind] = field(default_factory=dict)  # project family -> its kind
    numeric: set[str] = field(default_factory=set)  # keys some run sets to a number
    feature_words: dict[str, set[str]] = field(default_factory=dict)  # word stem -> feature keys whose values hold it

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
            vocabulary.family_keys.setdefault(family, set()).update(run.params)
            for key, value in run.params.items():
                vocabulary.counts[key] = vocabulary.counts.get(key, 0) + 1
                if key not in seen_keys:
                    seen_keys.add(key)
                    vocabulary._add_key(key)
                if (key, value) not in seen_values:
                    seen_values.add((key, value))
                    vocabulary._add_value(key, value)
                    if key not in vocabulary.numeric and _number(value) is not None:
                        vocabulary.numeric.add(key)
        for family in sorted(seen_families):
            vocabulary._add_family(family)
            vocabulary.kinds[family] = vocab.family_kind(family, vocabulary.family_keys.get(family, ()))
        vocabulary._add_family_words(seen_families)
        # a usual family no run has ("xgboost" in a project of forests) is still a family, not a stray word
        for alias, family in sorted({**FAMILY_ALIASES, **vocab.KNOWN_FAMILIES}.items()):
            if len(alias) >= 3 and alias not in _AMBIGUOUS_FAMILY_WORDS and not vocabulary.is_key_word(alias):
                vocabulary.families.setdefault(alias, family)
                vocabulary.families.setdefault(_norm(family), family)
        return vocabulary

    def _add_family_words(self, families: Iterable[str]) -> None:
        """A family by one word of its name that no other family of the project has ("forest" = random_forest)."""
        owners: dict[str, set[str]] = {}
        for family in families:
            for part in parts_of(family):
                owners.setdefault(part, set()).add(family)
        # "a transformer" for the project's one distilbert, "a cnn" for its one resnet
        for word, marks in vocab.FAMILY_MARKS.items():
            marked = [f for f in families if any(mark in _norm(f) for mark in marks)]
            if len(marked) == 1 and not self.is_key_word(word):
                self.families.setdefault(word, marked[0])
                self.families.setdefault(word + "s", marked[0])
        for part, named in sorted(owners.items()):
            if len(named) == 1 and len(part) >= 4 and part not in _GENERIC_FAMILY_WORDS and not self.is_key_word(part):
                self.families.setdefault(part, next(iter(named)))
                if not part.endswith("s"):
                    self.families.setdefault(part + "s", next(iter(named)))

    def of_kind(self, kind: FamilyKind) -> list[str]:
        return sorted(f for f, k in self.kinds.items() if k == kind)

    def concept_keys(self, concept: Concept, aspect: str | None, families: Sequence[str]) -> dict[str, Role]:
        """The stored keys carrying `concept` (narrowed to `aspect` when some carry it) in runs of `families`, else in
        the families of the concept's kinds, else in every run."""

        def found(groups: Iterable[str | None]) -> dict[str, Role]:
            """Per family, the keys of the aspect when it has some ("L2": reg_lambda, not reg_alpha), else all."""
            out: dict[str, Role] = {}
            for family in groups:
                keys = sorted(self.family_keys.get(family, ()))
                roles = {k: role for k in keys if (role := concept.role(parts_of(k))) is not None}
                narrowed = {k: role for k, role in roles.items() if role.aspect == aspect}
                out.update(narrowed if aspect and (narrowed or not concept.loose_aspects) else roles)
            return out

        if families:
            return found(f for f in self.family_keys if f is not None and _norm(f) in {_norm(x) for x in families})
        for kind in concept.kinds:
            if roles := found(self.of_kind(kind)):
                return roles
        return found(self.family_keys)

    def _add_value(self, key: str, value: str) -> None:
        if _number(value) is None and len(value) <= 60 and _canonical(value) not in _OFF:
            self.values.setdefault(_canonical(value), {}).setdefault(key, value)
            if _is_feature_key(key):  # "base+lags+calendar": each word names a feature family the run used
                for word in _value_words(value):
                    self.feature_words.setdefault(word, set()).add(key)

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
class _Mention:
    """A key, a concept or a family read at tokens [start, end), that a direction word may move."""

    start: int
    end: int
    key: str | None = None  # a stored key named as such
    concept: Concept | None = None
    aspect: str | None = None
    valued: bool = False  # the text gives it a value ("lr 0.1"): no direction moves it
    contains: str | None = None  # a word of a feature set's value ("calendar")
    negated: bool = False  # "without the lag features"
    family: str | None = None


@dataclass
class _Direction:
    at: int
    sign: int
    words: str
    anchor: float | None = None
    beyond: bool = False
    end: int = 0
    comparison: bool = False  # "above 10": it follows what it bounds ("depth above 10")
    inclusive: bool = False  # "at least 10", ">= 10"


_INCLUSIVE = frozenset({"atleast", "atmost"})
_DIRECTION_REACH = 4  # a direction moves the key or concept named within 4 words after it ("more of the dropout")


@dataclass
class _Reader:
    vocabulary: _Vocabulary
    tokens: list[_Token]
    params: dict[str, str] = field(default_factory=dict)
    family: str | None = None
    families: tuple[str, ...] = ()
    unmatched: list[str] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    mentions: list[_Mention] = field(default_factory=list)
    directions: list[_Direction] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)
    open_change: bool = False
    # concepts read with a value, resolved to a key once the family is known: (concept, aspect, words, value, span)
    pending: list[tuple[Concept, str | None, str, str, int, int]] = field(default_factory=list)

    def read(self, text: str) -> ProposalConfig:
        self._explicit_unknown(text)
        at = 0
        while at < len(self.tokens):
            at = self._read_at(at)
        self._resolve_pending()
        self._fit_to_family()
        moves = self._moves()
        for key in self.params:
            self._concept_of_key(key)
        return ProposalConfig(
            params=dict(self.params),
            family=self.family,
            unmatched=tuple(self.unmatched),
            concepts=tuple(self.concepts),
            moves=tuple(moves),
            families=self.families,
            open_change=self.open_change,
        )

    def _explicit_unknown(self, text: str) -> None:
        """ "dropout=0.3" when no run has a dropout: the pair, as written, is what no stored run knows."""
        for match in _EXPLICIT_RE.finditer(text):
            if self.vocabulary.key(_norm(match[1])) is None and self._single_key(match[1]) is None:
                self.unmatched.append(f"{match[1]}={match[2].rstrip('.')}")
                self.used.update(i for i, t in enumerate(self.tokens) if match.start() <= t.start < match.end())

    def _single_key(self, text: str) -> str | None:
        """A one-letter key ("C") named as stored."""
        return text if len(text) == 1 and text in self.vocabulary.counts else None

    def _read_at(self, at: int) -> int:
        if at in self.used:
            return at + 1
        negated = self._negated(at)
        word = self.tokens[at].text.lower()
        if not negated and (read := self._direction(at)) is not None:
            return read
        if word == "than" and self._than(at):
            return at + 2
        for size in range(min(_MAX_SPAN, len(self.tokens) - at), 0, -1):
            span = range(at, at + size)
            if any(i in self.used for i in span):
                continue
            normalised = "".join(self.tokens[i].norm for i in span)
            if not normalised:
                continue
            family = self.vocabulary.families.get(normalised)
            if family is not None:
                if not negated and self.family is None and not self.families:
                    self.family = family
                    self.mentions.append(_Mention(at, at + size, family=family))
                return at + size
            if (kind := vocab.KIND_WORDS.get(normalised)) is not None and (size > 1 or normalised in ("nn", "dnn")):
                return self._read_kind(kind, at, at + size, negated)
            named = vocab.concept_named(normalised) if size <= vocab.MAX_CONCEPT_WORDS else None
            # a concept's words read before a key they only end ("dropout": attn_dropout and drop_rate alike),
            # and before a value after a direction ("stronger L2": C smaller, not penalty=l2)
            if named is not None and normalised not in self.vocabulary.keys:
                if (
                    self._just_directed(at)
                    or self.vocabulary.value_key(normalised) is None
                    or self._number_after(at + size)  # "l2 of 1e-4": a strength, not penalty=l2
                ):
                    return self._read_concept(named[0], named[1], at, at + size, negated, normalised)
            key = self.vocabulary.key(normalised)
            if key is None and size == 1:
                key = self._single_key(self.tokens[at].text)
            if key is not None and (size > 1 or len(normalised) >= 2 or self._names_single_key(at)):
                return self._read_value(key, at, at + size, negated)
            words = " ".join(self.tokens[i].text for i in span)
            value = None if words.lower() in _STOPWORDS else self.vocabulary.value_key(_canonical(words))
            if value is not None:
                if not negated:
                    self.params.setdefault(value[0], value[1])
                    self.params[value[0]] = self.params[value[0]] or value[1]
                return at + size
            if named is not None:
                return self._read_concept(named[0], named[1], at, at + size, negated, normalised)
        if (kind := vocab.KIND_WORDS.get(self.tokens[at].norm)) is not None:
            return self._read_kind(kind, at, at + 1, negated)
        if (concept := vocab.concept_of_value(_canonical(self.tokens[at].text))) is not None:
            return self._read_concept_value(concept, at, negated)
        keys = self.vocabulary.feature_words.get(vocab.stem(self.tokens[at].norm), set())
        if len({_norm(k) for k in keys}) == 1 and self.tokens[at].text.lower() not in _STOPWORDS:
            # "add calendar features": a feature set holding "calendar"; "without the lag features": not holding it
            end = at + 1
            while end < len(self.tokens) and self.tokens[end].norm in ("feature", "features", "and") and end - at < 2:
                end += 1
            self.used.update(range(at, end))
            key = min(keys, key=lambda k: (-self.vocabulary.counts.get(k, 0), k))
            word = vocab.stem(self.tokens[at].norm)
            self.mentions.append(
                _Mention(at, end, key=key, concept=CONCEPT_BY_NAME["features"], contains=word, negated=negated)
            )
            return end
        self._unknown(self.tokens[at], negated)
        return at + 1

    def _number_after(self, at: int) -> bool:
        while at < len(self.tokens) and self.tokens[at].text.lower() in _CONNECTORS:
            at += 1
        return at < len(self.tokens) and _number(self.tokens[at].text) is not None

    def _just_directed(self, at: int) -> bool:
        return bool(self.directions) and self.directions[-1].end <= at <= self.directions[-1].end + 1

    def _names_single_key(self, at: int) -> bool:
        """ "C=30", "C 30", "lower C": a one-letter key with a value or a direction by it."""
        after = self.tokens[at + 1].text.lower() if at + 1 < len(self.tokens) else ""
        before = self.tokens[at - 1].text.lower() if at > 0 else ""
        moving = vocab.UP_WORDS | vocab.DOWN_WORDS | vocab.ANCHOR_UP | vocab.ANCHOR_DOWN
        return (
            after in _CONNECTORS
            or after in moving
            or _number(after) is not None
            or before in vocab.UP_WORDS
            or before in vocab.DOWN_WORDS
            or before in vocab.ANCHOR_UP | vocab.ANCHOR_DOWN
        )

    # -- directions ---------------------------------------------------------------------------------------------------

    def _direction(self, at: int) -> int | None:
        """A direction word ("stronger", "more", "below 1e-3"), with an anchor after "than" or a comparison."""
        word = self.tokens[at].text.lower()
        if word in vocab.UP_WORDS or word in vocab.ANCHOR_UP:
            sign = 1
        elif word in vocab.DOWN_WORDS or word in vocab.ANCHOR_DOWN:
            sign = -1
        else:
            return None
        start = at
        beyond = start > 0 and self.tokens[start - 1].text.lower() in ("even", "further", "still")
        comparison = word in vocab.ANCHOR_UP | vocab.ANCHOR_DOWN
        direction = _Direction(
            at=start, sign=sign, words=self.tokens[at].text, beyond=beyond, end=at + 1, comparison=comparison
        )
        after = at + 1
        if comparison and after < len(self.tokens) and (number := _number(self.tokens[after].text)) is not None:
            direction.anchor = number
            direction.inclusive = word in _INCLUSIVE
            after += 1
            self.used.add(after - 1)
        self.directions.append(direction)
        if word in vocab.IMPLIED_CONCEPT:
            concept = CONCEPT_BY_NAME[vocab.IMPLIED_CONCEPT[word]]
            self.mentions.append(_Mention(start, after, concept=concept, aspect="depth"))
        return after

    def _than(self, at: int) -> bool:
        """ "more dropout than 0.3", "deeper than any": the anchor of the last direction word."""
        if not self.directions or at + 1 >= len(self.tokens) or self.directions[-1].at < at - _DIRECTION_REACH - 1:
            return False
        if at > 0 and self.tokens[at - 1].text.lower() == "rather":
            return False
        following = self.tokens[at + 1].text
        if (number := _number(following)) is not None:
            self.directions[-1].anchor = number
        elif following.lower() in vocab.BEYOND_WORDS or following.lower() in ("we", "what", "the"):
            self.directions[-1].beyond = following.lower() in vocab.BEYOND_WORDS or self._beyond_after(at + 1)
        else:
            return False
        self.used.update((at, at + 1))
        return True

    def _beyond_after(self, at: int) -> bool:
        """ "than we tried", "than what we ran": the words up to a verb of the past."""
        window = [t.text.lower() for t in self.tokens[at : at + 4]]
        return any(w.endswith("ed") or w in ("ran", "did", "had", "have", "tried") for w in window)

    def _moves(self) -> list[ParamMove]:
        """Each direction word moves the mention named just after it (or just before it); a concept named without
        a direction or value is set and on ("use class weights")."""
        moved: dict[int, _Direction] = {}
        absorbed: set[int] = set()
        for direction in self.directions:
            after = [
                i
                for i, m in enumerate(self.mentions)
                if direction.end <= m.start <= direction.end + _DIRECTION_REACH - 1
                and i not in moved
                and self._only_filler(direction.end, m.start)  # "larger batch with warmup": not warmup
            ]
            before = [
                i
                for i, m in enumerate(self.mentions)
                if direction.at - 2 <= m.end <= direction.at and i not in moved and m.family is None
            ]
            own = [i for i, m in enumerate(self.mentions) if m.start == direction.at and m.concept and i not in moved]
            near = (before[::-1] + after) if direction.comparison else (after + before[::-1])
            target = next(iter(own or near), None)
            if target is not None:
                moved[target] = direction
            if own:  # "deeper trees": the noun a depth word deepens is no concept of its own
                absorbed.update(i for i in after if self.mentions[i].concept and self.mentions[i].key is None)
        # "lightgbm, but bigger": a direction that moves nothing the runs carry is a change no run made
        unattached = len(self.directions) > len(moved)
        moves: list[ParamMove] = []
        for i, mention in enumerate(self.mentions):
            if i in absorbed:
                continue
            step = moved.get(i)
            if mention.family is not None:
                if step is not None:
                    family_move = self._family_move(mention)
                    if family_move is None:
                        self.open_change = True
                        continue
                    mention = family_move
                else:
                    continue
            if mention.valued:
                continue
            if mention.contains is not None and mention.key is not None:
                moves.append(
                    ParamMove(
                        words=self.tokens[mention.start].text,
                        signs={mention.key: -1 if mention.negated else 0},
                        concept="features",
                        contains=mention.contains,
                    )
                )
                self._note_concept("features")
                continue
            if mention.key is not None and step is None:
                continue  # a key named without a value or direction: set and not off, as a param
            move = self._move(mention, step)
            if move is None:
                self.open_change = True
                words = " ".join(t.text for t in self.tokens[mention.start : mention.end]).lower()
                if words not in self.unmatched:
                    self.unmatched.append(words)
            elif all(
                (move.signs, move.anchor, move.contains) != (other.signs, other.anchor, other.contains)
                for other in moves
            ):
                moves.append(move)  # "cosine schedule with warmup": one move per key set
        if unattached and not moves and not self.params:
            self.open_change = True
        return moves

    def _only_filler(self, start: int, end: int) -> bool:
        return all(i in self.used or self.tokens[i].text.lower() in _STOPWORDS for i in range(start, end))

    def _family_move(self, mention: _Mention) -> _Mention | None:
        """ "a bigger forest": a tree ensemble's size; a kind-less family has no such move."""
        kind = self.vocabulary.kinds.get(mention.family or "") or vocab.family_kind(mention.family)
        if kind == "tree":
            return _Mention(mention.start, mention.end, concept=CONCEPT_BY_NAME["ensemble"], aspect="size")
        return None

    def _move(self, mention: _Mention, direction: _Direction | None) -> ParamMove | None:
        start = min(mention.start, direction.at) if direction else mention.start
        end = max(mention.end, direction.end) if direction else mention.end
        words = " ".join(t.text for t in self.tokens[start:end]).replace("atleast", "at least")
        words = words.replace("atmost", "at most")
        sign = direction.sign if direction else 0
        if mention.key is not None:
            self.params.pop(mention.key, None)
            keys = {k: 1 for k in self.vocabulary.spellings.get(mention.key, [mention.key])}
            found = vocab.concept_of_key(mention.key)
            concept = found[0].name if found else None
            unlimited = frozenset(keys) if found and found[1].unlimited else frozenset()
            if concept:
                self._note_concept(concept)
        else:
            assert mention.concept is not None
            self._note_concept(mention.concept.name)
            families = self.families or ((self.family,) if self.family else ())
            roles = self.vocabulary.concept_keys(mention.concept, mention.aspect, families)
            if not roles:
                return None
            if sign:  # a direction moves numbers: not penalty=l2 or kernel=rbf
                roles = {k: r for k, r in roles.items() if k in self.vocabulary.numeric}
            if not roles:
                return None
            keys = {k: role.sign for k, role in roles.items()}
            unlimited = frozenset(k for k, role in roles.items() if role.unlimited)
            concept = mention.concept.name
        signs = {k: s * sign for k, s in keys.items()}
        return ParamMove(
            words=words,
            signs=signs,
            concept=concept,
            anchor=direction.anchor if direction else None,
            beyond=direction.beyond if direction else False,
            inclusive=direction.inclusive if direction else False,
            unlimited=unlimited,
        )

    def _note_concept(self, name: str) -> None:
        if name not in self.concepts:
            self.concepts.append(name)

    def _concept_of_key(self, key: str) -> None:
        if (found := vocab.concept_of_key(key)) is not None:
            self._note_concept(found[0].name)

    # -- concepts, kinds, values --------------------------------------------------------------------------------------

    def _read_concept(
        self, concept: Concept, aspect: str | None, start: int, end: int, negated: bool, normalised: str
    ) -> int:
        """A concept named in words ("L2", "class weights", "warmup"), with the value after it, if any: the value
        of the key the words name, else of the concept's one key (in the named family)."""
        self.used.update(range(start, end))
        if negated:
            return end
        at = end
        while at < len(self.tokens) and self.tokens[at].text.lower() in _CONNECTORS and at - end < 2:
            at += 1
        value_at = at if at < len(self.tokens) and at not in self.used else None
        if value_at is None or _number(self.tokens[value_at].text) is None:
            before = start - 1  # "63 leaves"
            value_at = before if before >= 0 and before not in self.used and _number(self.tokens[before].text) else None
        if value_at is not None and _number(self.tokens[value_at].text) is not None:
            at = value_at
            self.unmatched = [u for u in self.unmatched if u != self.tokens[at].text]
            first, last = min(start, at), max(end, at + 1)
            self.used.add(at)
            self.mentions.append(_Mention(first, last, concept=concept, valued=True))
            # the family may come later ("learning rate 0.05 on lgbm"): the key is found once the text is read
            self.pending.append((concept, aspect, normalised, self.tokens[at].text, first, last))
            return last
        self.mentions.append(_Mention(start, end, concept=concept, aspect=aspect))
        return end

    def _in_family(self, key: str) -> str:
        """The key a named family's runs set for what `key` carries ("learning_rate" on a family storing "lr"):
        `key` when they set it, or when its concept has no one key there."""
        families = self.families or ((self.family,) if self.family else ())
        named = {_norm(f) for f in families}
        keys = {k for f, ks in self.vocabulary.family_keys.items() if f is not None and _norm(f) in named for k in ks}
        if not keys or key in keys or (found := vocab.concept_of_key(key)) is None:
            return key
        concept, role = found
        roles = self.vocabulary.concept_keys(concept, role.aspect, families)
        alike = [k for k, r in roles.items() if r.sign == role.sign and r.aspect == role.aspect]
        return alike[0] if len({_norm(k) for k in alike}) == 1 else key

    def _fit_to_family(self) -> None:
        for key in list(self.params):
            fitted = self._in_family(key)
            if fitted != key and fitted not in self.params:
                self.params = {fitted if k == key else k: v for k, v in self.params.items()}
        for mention in self.mentions:
            if mention.key is not None:
                mention.key = self._in_family(mention.key)

    def _resolve_pending(self) -> None:
        """A concept's value on the key its words name, else on the concept's one key in the named family (a
        word value: its one categorical key, "adamw" for the optimizer)."""
        families = self.families or ((self.family,) if self.family else ())
        for concept, aspect, normalised, value, start, end in self.pending:
            self._note_concept(concept.name)
            roles = self.vocabulary.concept_keys(concept, aspect, families)
            if _number(value) is None:
                direct = [k for k in roles if any(_number(v) is None for v in self._values_of(k))]
                named = None
            else:
                named = self.vocabulary.key(normalised) if normalised else None
                direct = [named] if named is not None else [k for k, role in roles.items() if role.sign > 0]
            if len({_norm(k) for k in direct}) == 1:
                key = named or min(direct, key=lambda k: (-self.vocabulary.counts.get(k, 0), k))
                self.params[key] = self.params.get(key) or value  # "a polynomial kernel": the kernel's value
            else:
                self.open_change = True
                words = " ".join(t.text for t in self.tokens[start:end])
                self.unmatched.append(words.lower() if _number(value) is None else words)

    def _read_concept_value(self, concept: Concept, at: int, negated: bool) -> int:
        """A value only one concept's keys take, that no run has ("adamw" where runs used adam and sgd): that key."""
        self.used.add(at)
        if not negated:
            self.mentions.append(_Mention(at, at + 1, concept=concept, valued=True))
            self.pending.append((concept, None, "", self.tokens[at].text, at, at + 1))
        return at + 1

    def _values_of(self, key: str) -> list[str]:
        return [spelled[key] for spelled in self.vocabulary.values.values() if key in spelled]

    def _read_kind(self, kind: FamilyKind, start: int, end: int, negated: bool) -> int:
        """ "a neural net": the project's families of that kind (none: a family the project does not have)."""
        self.used.update(range(start, end))
        if negated or self.family is not None or self.families:
            return end
        named = self.vocabulary.of_kind(kind)
        if len(named) == 1:
            self.family = named[0]
        elif named:
            self.families = tuple(named)
        else:
            self.family = "_".join(t.text.lower() for t in self.tokens[start:end])
        self.mentions.append(_Mention(start, end, family=self.family or named[0]))
        return end

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
            self.mentions.append(_Mention(start, end, key=key, valued=value is not None))
        self.used.update(range(start, end))
        return end

    def _is_value(self, key: str, token: _Token) -> bool:
        text = token.text.lower()
        if text in ("on", "no") and token is not self.tokens[-1]:
            return False  # "lr on lightgbm", "smote no class weights": a preposition, a negation
        if text in vocab.UP_WORDS | vocab.DOWN_WORDS | vocab.ANCHOR_UP | vocab.ANCHOR_DOWN:
            return False  # "C above 10": a direction
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
        """After "not", "without", "instead of" ("without the lag features": articles between)."""
        before = [t.text.lower() for t in self.tokens[max(0, at - 4) : at]]
        while before and before[-1] in _ARTICLES:
            before.pop()
        return bool(before) and (before[-1] in _NEGATORS or tuple(before[-2:]) in _NEGATING_PAIRS)

    def _unknown(self, token: _Token, negated: bool) -> None:
        text = token.text.lower()
        if negated or text in _STOPWORDS or len(token.norm) < 2 or text in self.unmatched:
            return
        self.unmatched.append(text)
