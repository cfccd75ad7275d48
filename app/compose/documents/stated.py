"""What people wrote that next experiments listen to: the next steps their dumps state, the open questions an
experiment can answer, and the settings their dumps say did not work.

Read word by word, never by phrase: a text names a parameter when the proposal reader (`app.analysis.tried`) reads it
or when it uses a distinctive word of the key ("warmup" for `warmup_steps`); it names a concept ("repeats",
"held_out", "errors", "baseline", "metric", "threshold", "data", "features") by the words of a small vocabulary. An
open question is an experiment when it asks about an effect or an adequacy ("matter", "change", "enough", "too",
"help", "overfit", "drift", ...) of something a run can vary or check (a parameter, a model family, a concept, a run);
a "why", "who" or "when" question, or one about people and process, is not. A question a later dump answered is not
proposed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from app.analysis.family import family_of
from app.analysis.model import Findings, RunView
from app.analysis.tried import match_proposal
from app.compose.contract import DocContext, EntryDigest
from app.compose.documents.filing import entry_items, only_compared

Source = Literal["stated", "question"]

CONCEPTS: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "repeats": "seed seeds repeat repeats repeated repeating rerun reruns cv fold folds crossval variance noise "
        "noisy luck lucky stable stability bootstrap",
        "held_out": "holdout heldout held test unseen oot ood external generalise generalize generalisation "
        "generalization "
        "validation val split",
        "errors": "error errors mistake mistakes misclassified misclassification confusion residual residuals "
        "failure failures slice slices segment segments",
        "baseline": "baseline dummy majority",
        "metric": "metric metrics f1 precision recall auc accuracy objective",
        "threshold": "threshold thresholds cutoff calibration calibrate",
        "data": "data dataset datasets sample samples label labels labelling labeling rows drift leak leakage "
        "augmentation augment oversampling undersampling smote imbalance",
        "features": "feature features encoding encoder embedding embeddings lag lags ngram ngrams tfidf interaction "
        "interactions",
    }.items()
}
_EFFECT = frozenset(
    """matter matters help helps helped hurt hurts change changes affect affects improve improves fix fixes boost
    reduce increase worth enough too better worse overfit overfits overfitting underfit leak leaks drift drifts
    stable robust generalise generalize hold converge converges sensitive depend depends differ difference impact
    effect influence gain beat beats big bigger small large many few high low""".split()
)
_PROCESS = frozenset(
    """meeting meet stakeholder stakeholders pm manager email tell ask present presentation slides approve approval
    legal ticket jira invoice write writeup report document docs refactor cleanup""".split()
)
# A setting named as held fixed: "at this batch size", "with the same lr", "for the current tokenizer".
_HELD_RE = re.compile(
    r"\b(?:at|for|with|on|under|keeping)\s+(?:this|that|these|those|the\s+same|the\s+current|our\s+current|a\s+fixed|"
    r"fixed|the\s+chosen)\s+(?:[\w-]+\s+){0,2}[\w-]+",
    re.IGNORECASE,
)
# A yes/no question opens with one of these: "does the tokenizer's lowercasing hurt ...?" can be run.
_ASKING = frozenset("does do did would will could can is are was were".split())
_NOT_EXPERIMENT_START = frozenset({"why", "who", "when", "where"})
# Words of a key that do not name it on their own ("size" in batch_size).
_GENERIC_KEY_WORDS = frozenset(
    "max min num n size rate type mode steps step count number value weight ratio frac fraction level id name".split()
)


@dataclass(frozen=True, slots=True)
class Said:
    """A stated next step or an experiment question, as read."""

    source: Source
    entry_id: int
    day: date
    text: str
    run_ids: tuple[str, ...]
    params: Mapping[str, str]  # key -> value ("" when only the key is named)
    family: str | None
    concepts: frozenset[str]
    entry_runs: frozenset[str] = frozenset()  # the runs the entry cites: never "tried since" it
    line: int | None = None  # the dump line it was read from


@dataclass(frozen=True, slots=True)
class Failed:
    """A setting a dump says did not work: the values it names (from its words, else the change of a run it cites)."""

    entry_id: int
    day: date
    text: str
    params: Mapping[str, str]
    family: str | None


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def concepts_of(text: str) -> frozenset[str]:
    words = set(words_of(text))
    return frozenset(name for name, vocabulary in CONCEPTS.items() if words & vocabulary)


class Reader:
    """Reads people's texts against the project's parameters once per document (a cover of the runs holding every
    stored key, value and family, so a long history is read quickly)."""

    def __init__(self, ctx: DocContext, findings: Findings) -> None:
        self.findings = findings
        self.cover = _cover(ctx.runs.values())
        self.keys = sorted({k for run in self.cover for k in run.params})
        self._cache: dict[str, tuple[dict[str, str], str | None]] = {}

    def read(self, text: str) -> tuple[dict[str, str], str | None]:
        if text not in self._cache:
            # "does warmup matter at this batch size?": the batch size is held, warmup is what would change
            varied = _HELD_RE.sub(" ", text)
            proposal = match_proposal(varied, self.cover, self.findings).proposal
            # "would hard negatives beat in-batch negatives": a word of effect is the question's verb, not a value
            params = {k: ("" if v.lower() in _EFFECT else v) for k, v in proposal.params.items()}
            words = set(words_of(varied))
            for key in self.keys:
                if _is_seed_key(key):
                    continue  # "random forest" names no random_state: a seed is never a stated change by one word
                parts = [p for p in words_of(key.replace("_", " ")) if p not in _GENERIC_KEY_WORDS and len(p) >= 4]
                if key not in params and parts and any(p in words for p in parts):
                    params[key] = ""
            self._cache[text] = (params, proposal.family)
        return self._cache[text]


def _cover(runs: Iterable[RunView]) -> list[RunView]:
    seen: set[tuple[str, str]] = set()
    families: set[str | None] = set()
    out = []
    for run in runs:
        pairs = set(run.params.items())
        family = family_of(run)
        if not pairs <= seen or family not in families:
            seen |= pairs
            families.add(family)
            out.append(run)
    return out


def _logs(ctx: DocContext) -> list[EntryDigest]:
    return [e for e in ctx.entries if e.kind == "log_entry"]


def said_items(ctx: DocContext, reader: Reader) -> list[Said]:
    """Stated next steps and unanswered experiment questions, newest entry first, one per wording."""
    out: list[Said] = []
    seen: set[str] = set()
    for entry in sorted(_logs(ctx), key=lambda e: (e.day, e.id), reverse=True):
        for source, section in (("stated", "next_steps"), ("question", "open_questions")):
            items = [i for i in entry_items(entry, section) if str(i["text"]).strip() not in entry.answered]
            for text, runs, line in _joined(items, source == "question"):
                if not text or " ".join(words_of(text)) in seen:
                    continue
                params, family = reader.read(text)
                concepts = concepts_of(text)
                if not is_experiment(text, source, bool(params or family or runs), concepts):  # type: ignore[arg-type]
                    continue
                seen.add(" ".join(words_of(text)))
                cited = frozenset(entry.run_ids)
                out.append(Said(source, entry.id, entry.day, text, runs, params, family, concepts, cited, line))  # type: ignore[arg-type]
    return out


def _joined(items: Sequence[Mapping[str, Any]], questions: bool) -> list[tuple[str, tuple[str, ...], int | None]]:
    """(text, cited runs, dump line) of each item; questions asked one after another on one dump line ("Is the random
    split leaking? should we move to a time-based split?") are one concern: one item, in the words of both."""
    out: list[tuple[str, tuple[str, ...], int | None]] = []
    for item in items:
        text = str(item["text"]).strip()
        runs = tuple(r for r in item.get("run_ids", []) if isinstance(r, str))
        line = item.get("line") if isinstance(item.get("line"), int) else None
        if questions and out and line is not None and out[-1][2] == line:
            before, cited, _ = out[-1]
            out[-1] = (f"{before} {text}", tuple(dict.fromkeys((*cited, *runs))), line)
        else:
            out.append((text, runs, line))
    return out


def _effect(words: Iterable[str]) -> bool:
    """A word of effect, in any of its forms ("leaking" of "leak", "mattered" of "matter")."""
    return any(w in _EFFECT or (len(w) > 4 and any(w.startswith(e) for e in _EFFECT if len(e) >= 4)) for w in words)


def is_experiment(text: str, source: Source, names_setting: bool, concepts: frozenset[str]) -> bool:
    # a label before the question ("offen: would ...", "Q2: does ...") is not its first word
    text = re.sub(r"^\W*[\w ]{1,20}:\s+(?=\S)", "", text) if source == "question" else text
    words = words_of(text)
    if not words:
        return False
    about = names_setting or bool(concepts)
    process = bool(set(words) & _PROCESS)
    if source == "stated":
        return about or not process
    if words[0] in _NOT_EXPERIMENT_START or (process and not about):
        return False
    if not about:
        # an effect of something a run can change, asked yes or no: "does the lowercasing hurt the emoji reviews?"
        return not process and words[0] in _ASKING and _effect(words)
    return bool(_effect(words) or {"if", "whether"} & set(words) or text.rstrip().endswith("?"))


def failed_settings(ctx: DocContext, findings: Findings, reader: Reader) -> list[Failed]:
    out: list[Failed] = []
    for entry in _logs(ctx):
        for item in entry_items(entry, "did_not_work"):
            text = str(item["text"]).strip()
            params, family = reader.read(text)
            valued = {k: v for k, v in params.items() if v}
            if valued:
                out.append(Failed(entry.id, entry.day, text, valued, family))
                continue
            for key in item.get("run_ids", []):
                change = findings.changes.get(key)
                run = ctx.runs.get(key)
                if run is not None and only_compared(text, key, run.name):
                    continue  # "well below logreg-C1 at 0.9957": the run compared with did not fail
                after = {c.key: c.after for c in change.vs_closest if c.after} if change else {}
                if after and run is not None:
                    out.append(Failed(entry.id, entry.day, text, after, family_of(run)))
    return out


def convergence_said(ctx: DocContext) -> bool:
    """Whether any log entry speaks of convergence (a solver that did not converge, a warning about it)."""
    for entry in _logs(ctx):
        for section in ("observations", "did_not_work", "open_questions", "next_steps", "conclusions"):
            if any("converg" in str(item["text"]).lower() for item in entry_items(entry, section)):
                return True
    return False


def tried_since(said: Said, runs: Sequence[RunView], findings: Findings) -> RunView | None:
    """The best-scoring run after the entry (not one it cites) that has every value the item names, of its family if
    it names one; a key named without a value is tried by a later run that changed it."""
    from app.analysis.tried import same_value

    if not said.params and said.family is None:
        return None
    if not said.params and any(
        _family_is(run, said.family) and ((_day(run) or said.day) < said.day or run.key in said.entry_runs)
        for run in runs
    ):
        # a family already run by then ("add item-category features to the item tower"): the item asks for more
        # than the family, which no run can be read to have tried
        return None
    tried: list[RunView] = []
    for run in runs:
        day = _day(run)
        if day is None or day < said.day or run.key in said.run_ids or run.key in said.entry_runs:
            continue
        if said.family is not None and not _family_is(run, said.family):
            continue
        change = findings.changes.get(run.key)
        changed = {c.key for c in change.vs_closest} if change else set()
        if all(
            (same_value(run.params[k], v) if v else k in changed) if k in run.params else False
            for k, v in said.params.items()
        ):
            tried.append(run)
    # the best of the runs that tried it, so the reader sees what came of it
    scored = [r for r in tried if findings.metric in r.metrics]
    if not scored:
        return tried[0] if tried else None
    sign = 1 if findings.direction == "max" else -1
    return max(scored, key=lambda r: sign * r.metrics[findings.metric])


def _day(run: RunView) -> date | None:
    return run.session or (run.when.date() if run.when else None)


def _family_is(run: RunView, family: str | None) -> bool:
    return family is not None and same_family(family_of(run), family)


# A family that is a kind of another: a proposal naming the general one is about it too.
_KIND_OF = {"histgradientboosting": "gradientboosting", "linearsvm": "svm"}


def same_family(a: str | None, b: str | None) -> bool:
    """Two family names of one model, one maybe a kind of the other: "gradient_boosting" and
    "hist_gradient_boosting", "svm" and "linear_svm" (never "unet" and "attention_unet": another architecture)."""
    if a is None or b is None:
        return False
    x, y = a.replace("_", ""), b.replace("_", "")
    return x == y or _KIND_OF.get(x) == y or _KIND_OF.get(y) == x


def _is_seed_key(key: str) -> bool:
    norm = key.lower().replace("_", "").replace("-", "")
    return "seed" in norm or norm in ("randomstate", "rngstate", "rng")


# A requirement people state for the model, not a result: who wants it and what, or the constraint's own words.
_CONSTRAINT_RE = re.compile(
    r"\b(?:(?:team|client|customer|clinicians?|doctors?|radiologists?|pathologists?|business|product|legal|"
    r"regulators?|compliance|stakeholders?|pm|ops|users?|they)\s+(?:\w+\s+){0,2}(?:wants?|needs?|requires?|"
    r"cares?\s+(?:most\s+)?about|asked\s+for|insists?\s+on)|must\s+(?:be|stay|run|fit|have)|has\s+to\s+(?:be|stay|run|"
    r"fit)|latency\s+(?:budget|limit|of|under|below)|under\s+\d+\s*ms\b|explainab\w+|interpretab\w+|"
    r"monoton\w+\s+constraint|regulat\w+|hard\s+(?:limit|constraint|requirement)|requirement|"
    r"matters?\s+(?:more\s+|most\s+)?to\s+(?:them|the\s+\w+|our\s+\w+))",
    re.IGNORECASE,
)
_CONSTRAINT_SECTIONS = ("observations", "conclusions", "hypothesis", "did_not_work")


def stated_constraints(ctx: DocContext) -> list[tuple[int, date, str]]:
    """(entry, day, text) of each requirement a log entry states ("the risk team wants monotone", "HD95, which the
    clinicians care about", "inference must stay under 50 ms"), oldest first, each text once."""
    out: list[tuple[int, date, str]] = []
    seen: set[str] = set()
    for entry in sorted(_logs(ctx), key=lambda e: (e.day, e.id)):
        for section in _CONSTRAINT_SECTIONS:
            for item in entry_items(entry, section):
                text = str(item["text"]).strip()
                said = " ".join(words_of(text))
                if text and said not in seen and _CONSTRAINT_RE.search(text):
                    seen.add(said)
                    out.append((entry.id, entry.day, text))
    return out
