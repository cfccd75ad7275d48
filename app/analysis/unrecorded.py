"""What the log says a run did not record: "ran from a scratch copy, so no commit was recorded", "the env wasn't
pinned", "forgot to set the seed", "uncommitted changes", "ran in a fresh venv". Such a statement makes the field a gap
of that run whatever the run's siblings record, and doubts a value the run did record (a commit with local edits on
top is not the code that ran).

A statement speaks of a field when one of its clauses (split at `;`, `.` ending a sentence, ` but `, ` so `) says
the field was not recorded: no / without <field> ... <recorded>, <field> ... not <recorded>, neither <field> nor ...
<recorded>, not / forgot to <record> the <field>, un<recorded> <field> (a field that does not record something
else, "the script does not log the curve", is no doubt); or, for the code, a scratch copy, uncommitted or local
changes, a dirty tree; for the environment, another or upgraded environment or packages. A clause saying the
opposite ("no local changes", "clean checkout") is no doubt. A statement citing several runs speaks of this run only
in the clauses that name it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from app.analysis.model import LogStatement, RunView

_RECORD = (
    r"(?:record(?:ed|ing)?|log(?:ged|ging)?|track(?:ed|ing)?|sav(?:e|ed|ing)|captur(?:e|ed|ing)|pin(?:ned)?|"
    r"tag(?:ged)?|set|stor(?:e|ed)|not(?:e|ed)|written\s+down|write\s+down|commit(?:ted)?|kept|fix(?:ed)?)"
)
_RECORDED = (
    r"(?:recorded|logged|tracked|saved|captured|pinned|tagged|set|stored|noted|written\s+down|committed|kept|fixed)"
)
_NOUNS = {
    "git_commit": r"(?:git\s+)?(?:commit(?:\s+(?:hash|sha|id))?|sha|hash|revision)|git",
    "data_version": r"(?:data(?:set)?(?!\s+split)|data\s+snapshot|snapshot)(?:\s+(?:version|hash|digest))?|digest",
    "seed": r"(?:random\s+)?seeds?|random_state|random\s+state",
    "environment": r"(?:python\s+|conda\s+|virtual\s+)?(?:env|environment|venv)|requirements(?:\.txt)?|"
    r"(?:package|library|python)\s+versions?|versions|dependencies|lock\s*file",
    "hardware": r"gpu|hardware|machine|instance\s+type",
    "split": r"(?:data\s+)?split|folds?",
    "source_name": r"script|entry\s+point|command(?:\s+line)?",
}
_LEAD = r"(?:\w+\s+){0,2}?"
_SAID_FOR = {
    "git_commit": (
        r"\bscratch\b",
        r"\buncommitted\b",
        r"\bnot\s+(?:yet\s+)?committed\b",
        r"\bforgot\s+to\s+commit\b",
        r"\bbefore\s+committing\b",
        r"\bdirty\s+(?:\w+\s+)?(?:tree|checkout|repo|repository|worktree|copy|state)\b",
        r"\blocal\s+(?:edits?|changes?|modifications?|patch(?:es)?|hacks?|tweaks?)\b",
        r"\b(?:hacked|patched)\s+(?:\w+\s+){0,2}?(?:code|script|copy|file|\w+\.py)\b",
    ),
    "environment": (
        r"\b(?:different|another|other|fresh|new|upgraded|updated)\s+(?:python\s+|conda\s+|virtual\s+)?"
        r"(?:env|environment|venv|kernel|docker\s+image|image|container)\b",
        r"\b(?:upgraded|bumped|updated)\s+(?:\w+\s+){0,2}?(?:packages?|dependencies|libraries|versions)\b",
    ),
}
_DENIED = re.compile(r"\b(?:no|without|zero|clean|not\s+from\s+a|never\s+from\s+a)\s+(?:\w+\s+)?$")
_CLAUSES = re.compile(r";|\.(?=\s|$)|\s(?:but|so|and\s+so|though)\s")


def _field_patterns(name: str, noun: str) -> tuple[re.Pattern[str], ...]:
    unrecorded = (
        rf"\b(?:no|without)\s+{_LEAD}(?:{noun})\b(?:\s+\w+){{0,3}}?\s+(?:(?:was|were|is|are|got|been|being)\s+)*"
        rf"{_RECORDED}\b",
        rf"\b(?:{noun})\b(?:\s+\w+){{0,3}}?\s+(?:not|never)\s+(?:(?:been|got|get|be|being)\s+)?{_RECORDED}\b",
        rf"\bneither\s+(?:[\w.]+\s+){{0,6}}?(?:{noun})\b(?:\s+[\w.]+){{0,6}}?\s+(?:was|were|is|are|got|been)\s+"
        rf"{_RECORDED}\b",
        rf"\b(?:not|never|forgot\s+to|neglected\s+to|failed\s+to)\s+(?:\w+\s+)?{_RECORD}\s+"
        rf"(?:the\s+|a\s+|an\s+|its\s+|any\s+)?(?:\w+\s+)?(?:{noun})\b",
        rf"\bun(?:recorded|logged|tracked|pinned|versioned|saved)\s+(?:\w+\s+)?(?:{noun})\b",
        rf"\b(?:{noun})\s+(?:(?:was|were|is|are)\s+)?un(?:recorded|logged|tracked|pinned|versioned|saved)\b",
    )
    return tuple(re.compile(p) for p in (*unrecorded, *_SAID_FOR.get(name, ())))


_PATTERNS = {name: _field_patterns(name, noun) for name, noun in _NOUNS.items()}


def unrecorded_fields(run: RunView, statements: Iterable[LogStatement]) -> dict[str, LogStatement]:
    """Each field the log says `run` did not record (or ran other than recorded), with the first statement saying so."""
    found: dict[str, LogStatement] = {}
    for statement in statements:
        if run.key not in statement.run_ids:
            continue
        for clause in _clauses_about(run, statement):
            for name in says_unrecorded(clause):
                found.setdefault(name, statement)
    return found


def says_unrecorded(text: str) -> list[str]:
    """The fields a clause says were not recorded, in `_NOUNS` order."""
    clause = _normalised(text)
    return [name for name, patterns in _PATTERNS.items() if any(_asserted(p, clause) for p in patterns)]


def _asserted(pattern: re.Pattern[str], clause: str) -> bool:
    return any(not _DENIED.search(clause[: m.start()]) for m in pattern.finditer(clause))


def _clauses_about(run: RunView, statement: LogStatement) -> Sequence[str]:
    """The statement's clauses about `run`: all of them when it cites only this run, else those naming it."""
    clauses = [c for c in _CLAUSES.split(statement.text) if c.strip()]
    if len(set(statement.run_ids)) <= 1:
        return clauses
    names = [n.lower() for n in (run.name, run.key[:8], (run.run_id or "")[:8]) if n and len(n) >= 3]
    return [c for c in clauses if any(n in c.lower() for n in names)]


def _normalised(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"n't\b", " not", text)
    return re.sub(r"\s+", " ", text)
