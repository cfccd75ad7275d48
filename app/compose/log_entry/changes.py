"""What changed for a run: the dump's words when they say it, else the parameter diff in words.

The composer takes the words written next to a run reference as its change ("smote (5c6d70a1)", "+ specaugment:
13.1%"). Those words are not always a change: "l2 make no difference (9b22c4f0)" is an observation, "wins on log
loss" and "got 0.731" are results, "see" or "this is run" only point at the link. `is_a_change` tells the two apart;
when the words are not a change, `diff_words` says what the run changed in its parameters, against the run the
sentence compares it with ("velocity feats are a win: 8b8c764d ... vs base a84bba07"), else against its closest earlier
configuration among the stored runs of its model family (fewest differing keys, the most recent on a tie), as
"l2 0 -> 1 (vs lgbm-base)"; a seed repeat reads "seed only: random_state 0 -> 2 (vs rf-base)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.analysis.configs import config_diff
from app.analysis.family import family_of
from app.analysis.model import AnalysisSettings, ParamChange, RunView
from app.compose.log_entry.cues import cue_section
from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.stated import find_stated

LISTED = 4  # changes spelled out with their values; the rest are named
SEARCH_WINDOW = 500  # earlier runs searched for the closest configuration
_SEED_KEYS = frozenset(AnalysisSettings().seed_keys)

# A variant is named: "w/ mixup", "without smote", "+ specaug", "lr=0.05", "switched to adamw".
_VARIANT_RE = re.compile(
    r"=|\b(?:with|w/o?|without|instead|add(?:ed|ing)?|remov\w*|switch\w*|swap\w*|replac\w*|on top|plus|bumped|"
    r"raised|lowered|increased|decreased|changed|tuned|tried|using)\b|->|=>|→|(?:^|\s)\+\s*\w",
    re.IGNORECASE,
)
# Words that open a result, not a change: "got 0.731", "wins on log loss", "is a solid second at", "lifted f1 to".
_RESULT_START_RE = re.compile(
    r"^\W*(?:got|gets?|getting|scored?|scores|scoring|hit|hits|reached|reaches|gave|gives|lands?|landed|is|was|are|"
    r"were|wins?|won|winning|beats?|beat|lifted|lifts|improved|improves|raised|dropped|drops|moved|went|goes|came|"
    r"comes|sits|sat|stays?|stayed|ended|ends|finished|brings?|brought|cost|costs|does|did|had|has|still|also|"
    r"only|now|then|at|to|from|on|in|by|of|for|reaching|giving|hitting)\b",
    re.IGNORECASE,
)
# Pointing words only: "see http://...", "this is run d0b6f4a8", "(run 236eba82)".
_POINTER_RE = re.compile(
    r"^\W*(?:(?:see|here|link|url|this|that|it|is|was|run|runs|id|mlflow|in|at|as|the|of|which|and|also|"
    r"for|reference|ref)\W*)*$",
    re.IGNORECASE,
)
_MOVEMENT_RE = re.compile(
    r"\b(?:drop|gain|jump|rise|lift|improvement|boost|increase|decrease|regression|bump)\s+(?:in|of|on)\b",
    re.IGNORECASE,
)
# "worse than plain lgbm lags (0.81, run X)": the run is what it is compared with, the words before are its name
_COMPARED_RE = re.compile(
    r"^\W*(?:(?:much|way|far|a bit|a little|slightly|clearly|well|still|just|only|also|even)\s+)*"
    r"(?:worse|better|lower|higher|below|above|behind|ahead of|beats?|beating|lost to|vs\.?|versus|than|"
    r"compared (?:to|with)|same as|close to|on par with|similar to|like|over|against)\s+(?:than\s+)?",
    re.IGNORECASE,
)
# "09:40 — T-learner baseline", "40 — DR-learner" (a time cut at its colon), "0.712 baseline": not the change
_LEADING_JUNK_RE = re.compile(
    r"^\s*(?:\d{1,2}:)?\d{1,2}\s*[—–-]\s+|^\s*[~≈]?\d*\.\d+%?\s+(?:(?:for|on|with|in|at)\s+)?(?=[A-Za-z])"
)
_EDGE_WORDS_RE = re.compile(
    r"^(?:(?:is|are|was|were|the|a|an|so|its|it's|that|this|which|and|but)\s+)+|"
    r"(?:\s+(?:is|are|was|were|make|makes|made|do|does|did|has|had|have|seems?|looks?|really|a lot|at all|"
    r"and|but|so|though|that|which|it))+$",
    re.IGNORECASE,
)


def tidy(fragment: str) -> str:
    """The fragment without a timestamp or cell border before it, and without "worse than" when the run is the
    thing compared with."""
    text = _LEADING_JUNK_RE.sub("", fragment.strip(" |")).strip(" |")
    compared = _COMPARED_RE.match(text)
    return text[compared.end() :].strip() if compared and compared.end() < len(text) else text


def is_a_change(fragment: str, metric_re: re.Pattern[str], *, number_follows: bool = False) -> bool:
    """Whether words written next to a run say what was changed or tried, rather than what came of it.

    `number_follows`: a number comes right after the fragment in the dump, so a metric name at its end names that
    number ("(weekly) auc .912"), not a change."""
    text = fragment.strip()
    if any(n.metric.name for n in find_stated(text, 0, metric_re=metric_re, param_words=(), masked=())):
        return False  # "mae 12.4", "92.7% acc": a result
    text = tidy(text)
    if len(re.findall(r"[A-Za-z]{2,}", text)) == 0 or _POINTER_RE.match(text) or _RESULT_START_RE.match(text):
        return False
    if _MOVEMENT_RE.search(text):
        return False  # "big drop in rmse"
    last = list(metric_re.finditer(text))
    if number_follows and last and not text[last[-1].end() :].strip(" :=~"):
        return False
    section = cue_section(text)
    return section not in ("did_not_work", "conclusions", "open_questions") or bool(_VARIANT_RE.search(text))


def subject(fragment: str) -> str:
    """The words of an observation that name what it is about: "l2" of "l2 make no difference", "mixup" of "mixup
    helps"; "" when there are none."""
    cut = re.split(
        r"\b(?:did ?n[o']?t|does ?n[o']?t|do ?n[o']?t|no (?:difference|gain|help|effect|change|better)|made no|"
        r"makes? no|helps?|helped|hurts?|hurt|is a win|are a win|was a win|wins?|beats?|works|worked|is|are|was|were|"
        r"best so far|so far|clearly|way|much)\b",
        fragment,
        maxsplit=1,
        flags=re.IGNORECASE,
    )
    words = _EDGE_WORDS_RE.sub("", cut[0].strip(" ,:;-–—")).strip(" ,:;-–—")
    return words if re.search(r"[A-Za-z]{2,}", words) else ""


def diff_words(run: RunFacts, compared: Sequence[RunFacts], runs: Sequence[RunFacts], position: int | None) -> str:
    """The run's parameter diff in words against the first of `compared` it differs from, else against its closest
    earlier configuration (`position` is its place in `runs`, the stored history in order); "" when there is none."""
    if not run.params:
        return ""
    for other in compared:
        if other.key != run.key and other.params and _changes(other, run):
            return _words(other, run)
    if position is None:
        return ""
    closest = _closest_earlier(run, runs[max(0, position - SEARCH_WINDOW) : position])
    return _words(closest, run) if closest else ""


def _closest_earlier(run: RunFacts, earlier: Sequence[RunFacts]) -> RunFacts | None:
    """The run of `earlier` (in history order) whose configuration is fewest keys away, seed keys aside (a seed repeat
    is 0 away), the most recent on a tie. Only runs of the run's model family are searched when there are any: a
    forest's change is never read against a boosting run."""
    family = _family(run)
    searched = [other for other in earlier if other.params]
    same = [other for other in searched if family is not None and _family(other) == family]
    best: tuple[int, RunFacts] | None = None
    for other in reversed(same or searched):
        distance = len(_changes(other, run))
        if best is None or distance < best[0]:
            best = (distance, other)
            if distance == 0:
                break
    return best[1] if best else None


def _family(run: RunFacts) -> str | None:
    return family_of(RunView(run.key, params=run.params))


def _seed_keys(*runs: RunFacts) -> frozenset[str]:
    return frozenset(k for run in runs for k in run.params if k.strip().lower() in _SEED_KEYS)


def _changes(before: RunFacts, after: RunFacts) -> tuple[ParamChange, ...]:
    return config_diff(before.params, after.params, ignore=_seed_keys(before, after))


def _words(before: RunFacts, after: RunFacts) -> str:
    """The diff in words: changed keys with their values, "seed only: ..." for a seed repeat, "same configuration"
    for a run of the very same one."""
    vs = f"(vs {before.run_name or before.key[:8]})"
    changes = _changes(before, after)
    if not changes:
        seeds = [c for c in config_diff(before.params, after.params) if c.key in _seed_keys(before, after)]
        if not seeds:
            return f"same configuration {vs}"
        return f"seed only: {', '.join(f'{c.key} {_shown(c.before)} -> {_shown(c.after)}' for c in seeds)} {vs}"
    parts = [f"{c.key} {_shown(c.before)} -> {_shown(c.after)}" for c in changes[:LISTED]]
    if len(changes) > LISTED:
        # the other keys by name: a count here would be a number neither the dump nor the runs hold
        parts.append(f"also {', '.join(c.key for c in changes[LISTED:])}")
    return f"{', '.join(parts)} {vs}"


def _shown(value: str | None) -> str:
    return "unset" if value is None or not value.strip() else value.strip()
