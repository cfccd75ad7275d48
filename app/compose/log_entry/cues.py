"""The cue vocabulary: which words send a statement to which section of a log entry.

Labels ("open q:", "tomorrow:", "## Didn't work", ":soon: tmrw") name a section outright; cue phrases point to one
(a question: "?", "not sure", "should we"; a plan: "tomorrow", "need to", a leading imperative; a failure: "didn't
help", "dead end", "diverged", "worse"; a guess: "I think", "prob", "maybe"; a conclusion: "best so far", "because",
"so", "going with"). `cue_section` applies them to one clause, strongest first; `dump` decides what a
clause is. Instruction-like text is read in `instructions.py`, announced metric switches in `metric_switch.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from app.compose.log_entry.schema import Section

_LABEL_LISTS: dict[Section, str] = {
    "next_steps": "next|next step|next up|todo|to do|to-do|tomorrow|tmrw|tmr|plan|plan for tomorrow|follow up|"
    "follow-up|action item|next time|later|next session|next week|for tomorrow|what next|next experiment|this week|"
    "for this week|plan for this week|coming week|upcoming|coming up|up next",
    "open_questions": "q|qs|open q|open qs|open question|question|unknown|unclear|open|puzzle|?|to figure out|"
    "worry|worries|concern|risk|caveat|still confused|confused|unsure|not sure|doubt",
    "did_not_work": "didnt work|did not work|what didnt work|failed|failure|dead end|nope|no luck|negative result|"
    "not working|abandoned|didnt help|doesnt work|meh|what failed",
    "conclusions": "conclusion|takeaway|learning|lesson|lessons learned|tldr|tl;dr|verdict|decision|so|result|"
    "key result|summary|my read|my take|bottom line|net net|in short|overall|outcome",
    "hypothesis": "hypothesis|hypotheses|idea|theory|assumption|hunch|motivation|why|goal",
    "observations": "observation|note|finding|what i saw|experiment|run|done|did|today|log|what i did|status",
}
_LABELS: dict[str, Section] = {w: section for section, words in _LABEL_LISTS.items() for w in words.split("|")}
# Headers that name a section people write under; a generic one ("## Today", "Runs:") directs nothing.
GENERIC: Section = "observations"


# Words that are a label after a colon but ordinary text alone on a line.
NOT_BARE_HEADERS = frozenset("so open q ? why goal later meh nope plan idea failed unclear".split())
# Slack shortcodes and emoji decorate headers (":soon: tmrw", "🧵 Qs"); they say nothing about the section.
_DECORATION_RE = re.compile(r":[a-z0-9_+-]+:|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")


def clean_label(text: str) -> str:
    undecorated = _DECORATION_RE.sub(" ", text.lower())
    return " ".join(undecorated.replace("'", "").replace("\u2019", "").strip("*_:# ").split())


def label_section(text: str) -> Section | None:
    cleaned = clean_label(text)
    return _LABELS.get(cleaned) or _LABELS.get(cleaned.rstrip("s")) or _LABELS.get(cleaned.removesuffix("es"))


_LABEL_WORDS = (
    "|".join(sorted((re.escape(w) + "s?" for w in _LABELS if w != "?"), key=len, reverse=True))
    .replace("didnt", "didn'?t")
    .replace("doesnt", "doesn'?t")
)
# "open q: is the split leaking?" -- a label, then the statement.
INLINE_LABEL_RE = re.compile(
    rf"^\**\s*(?:({_LABEL_WORDS}|next \w+|for next \w+)\s*\**\s*[:>\-–]+|(tl;?dr)\b[:\s-]*)\s*\**\s*(.*)$",
    re.IGNORECASE,
)
# A label in the middle of a line starts a new statement: "... (auc .84) open q: is ..." / "..., next: ...".
MIDLINE_LABEL_RE = re.compile(
    r"(?<=\S)(?<!\bopen)\s+(?=(?:open qs?|q|qs|next steps?|next|todo|tomorrow|tmrw|plan|questions?|conclusions?|"
    r"takeaways?|hypothesis|idea)\s*:\s)",
    re.IGNORECASE,
)

# A question label in the middle of a line ("holdout q: ran the backtests ...") that a statement follows names the
# question being answered, not a new one.
_QUESTION_LABEL_RE = re.compile(r"^(?:open qs?|qs?|questions?)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)
_ASKING_START_RE = re.compile(
    r"^\W*(?:is|are|was|were|do|does|did|can|could|should|would|will|shall|has|have|how|what|why|which|who|when|"
    r"where|whether|if|any|must|might|may)\b",
    re.IGNORECASE,
)


def labels_a_question(piece: str) -> bool:
    """Whether a piece cut at a midline question label is a question: what follows the label asks."""
    label = _QUESTION_LABEL_RE.match(piece.strip())
    if label is None:
        return True
    rest = label[1]
    return "?" in rest or bool(_ASKING_START_RE.match(rest) or _QUESTION_RE.search(rest))


_QUESTION_RE = re.compile(
    r"\?|\b(?:i )?wonder\b|\bnot sure\b|\bunsure\b|\bconfused\b|\bunclear (?:if|whether|why|how)\b|\bno idea (?:if|"
    r"whether|why|how)\b|\bneed to (?:understand|figure out) (?:why|if|whether|how)\b|\bopen question\b|"
    r"\bshould (?:we|i)\b|\bdo we (?:need|want)\b|\bwhat if\b|\bhow come\b|\bis it worth\b|"
    r"\byour (?:opinion|thoughts|view|input)\b|^\W*(?:\([a-z]\)\s*)?whether\b",
    re.IGNORECASE,
)
NEXT_RE = re.compile(
    r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|i want to|want to|i'?d like to|if (?:you|we) have time|"
    r"nice to have|next steps?|next up|next time|next week|next session|todo|to-do|will try|will run|"
    r"i['’]ll|we['’]ll|i will|we will|(?<!not )(?<!n['’]t )(?:gonna|going to)|should try|want to try|wanna|"
    r"need to|needs to|have to|must|"
    r"let['’]s|let us|then try|"
    r"try .{1,40} next|next i|next we|follow[- ]up|plan is|plan to|planning to|on monday)\b|\[ \]|"
    # A clause that starts with an imperative is a plan: "ask the annotators", "rerun with seeds".
    r"^\s*(?:try|check|rerun|re-run|ask|measure|investigate|look into|tune|retune|re-tune|retrain|fix|port|profile|"
    r"ping|email|set up|carve out|backtest|ablate|add|compare|collect|gather|relabel|build|draft|prepare|write up|"
    r"plot|deploy|ship|swap|switch to|move to|run (?:a|an|the|it|with|on))\b",
    re.IGNORECASE,
)
_FAILED_RE = re.compile(
    r"\bdid ?n[o']?t (?:buy|give|add|gain) (?:us )?(?:anything|much)\b|\bnot as hoped\b|\bfailed to beat\b|"
    r"\bdid ?n[o']?t (?:perform|beat|pay off|work out)\b|\blost to\b|"
    r"\bno (?:measurable |real |significant |clear )(?:benefit|gain|improvement|effect|lift|difference)\b|"
    r"\bno benefit\b|"
    r"\b(?:did ?n[o']?t|does ?n[o']?t|do ?n[o']?t|did not|does not|not) (?:help|work|improve|matter|move|pan out|"
    r"converge)|"
    r"\bno (?:gain|improvement|lift|help|effect|change|difference|luck|dice|better)\b|\bno better\b|"
    r"\bnot (?:better|worth|much)\b|\bdid ?n[o']?t do (?:anything|much)\b|\bdid nothing\b|"
    r"\bwithin (?:the )?(?:seed )?noise\b|\bmade no difference\b|\bdead[- ]end\b|\b(?<!no )(?<!not )worse\b|"
    r"\bhurts?\b|\bhurt\b|\bdiverg\w*|\bexplod\w*|\bnan(?:s| loss)\b|\bover-?fit\w*|\bfail(?:ed|s|ure)?\b|"
    r"\bbroke\b|\bcrash\w*|\boom\b|\bwaste of\b|\bgave up\b|\bgive up\b|\babandon\w*|\bscrap\w*|\bditch\w*|"
    r"\bdrop(?:ped|ping)? it\b|\bkilled\b|\buseless\b|\bunderperform\w*|\bbelow baseline\b|\btank(?:ed|s)\b|"
    r"\bregressed\b|\bno good\b|\bnope\b|\bmeh\b|\bzero gain\b|\bnothing\b(?! else)|\bnot viable\b|"
    r"\bnowhere near\b|\b(?:a )?step backwards?\b|\b(?:a )?step back\b|"
    r"\b(?:do|does|did|is|was)?n['’]?t (?:\w+ ){0,3}(?:is |it'?s )?worth (?:it|another|more|the)\b|"
    r"\b(?:not|n't|never)\b(?:\s+\w+){0,4}\s+anywhere near\b|"
    r"\b(?:way|well|far|much) (?:below|behind)\b|\bbelow (?:the )?(?:baseline|base|prod)\b|\bway off\b",
    re.IGNORECASE,
)
# A fit that did not converge, in its usual wordings: "hit max_iter=100 without converging", "ConvergenceWarning".
_NO_CONVERGENCE_RE = re.compile(
    r"\bwithout converg\w*|\b(?:fail\w*|unable) to converge\b|\bno(?:n-| )convergence\b|"
    r"\b(?:did ?n[o']?t|does ?n[o']?t|do ?n[o']?t|has ?n[o']?t|have ?n[o']?t|wo ?n[o']?t|not|never)\s+"
    r"(?:yet\s+)?converg\w*|"
    r"\b(?:hit|hits|hitting|reached|reaches|reaching|maxed out)\s+(?:the\s+)?max[_ -]?iter\w*|"
    r"\bmax[_ -]?iter\w*\s+(?:\S+\s+)?(?:reached|exceeded|hit)\b|\bconvergence\s?warnings?\b|"
    r"\bconvergence (?:fail\w*|issues?|problems?)\b",
    re.IGNORECASE,
)
# Words that deny what follows them: "no ConvergenceWarning this time", "never hit max_iter".
_DENIED_RE = re.compile(r"(?:\b(?:no|not|never|without|nor|zero|none of)|n['’]t)\s+(?:\w+\s+){0,3}$", re.IGNORECASE)


def _failed_to_converge(text: str) -> bool:
    """Whether a clause says a fit did not converge, and does not deny it ("converged, no ConvergenceWarning")."""
    return any(not _DENIED_RE.search(text[: m.start()]) for m in _NO_CONVERGENCE_RE.finditer(text))


_HYPOTHESIS_RE = re.compile(
    r"\b(?:hypothes\w+|i think|i believe|(?:fairly|pretty|quite) sure|best guess|"
    r"i suspect|suspect(?:ing)?|my guess|guess is|i expect|expecting|theory|idea is|"
    r"hoping|i bet|assumption|if .{1,60} then|should (?:help|improve|fix|boost|reduce)|might (?:help|improve|"
    r"be)|could be|probably|likely|perhaps|maybe)\b",
    re.IGNORECASE,
)
_CONCLUSION_RE = re.compile(
    r"\b(?:best so far|so far best|makes sense|best single|best one|best config|"
    r"conclu\w+|takeaway|verdict|winner|clearly|confirm\w*|turns out|because|b/c|"
    r"therefore|hence|thus|going with|sticking with|stick with|settled on|decided|lesson|looks like|"
    r"so (?!far\b|today\b|yeah\b|anyway\b|this is\b|here\b|that\b)|(?<!-)means\b|keep(?:ing)?|"
    r"new best|best (?:run|model)|helps?|helped|"
    r"is a win|wins?|beats?|outperform\w*|better than|biggest (?:jump|gain|win)|so far|it is$|worth it|works|"
    r"worked|parking|park|shelv\w+|pausing|(?:is|was) (?:our|the) best|our best|"
    r"big(?:gest)? (?:drop|gain|jump|win|improvement|lift)|(?:small |big |clear |nice )?(?:step|gain|improvement|"
    r"jump|lift) (?:over|on top of)|"
    # the same in the languages people mix in: "hilft", "bien mieux", "ayuda", "meglio"
    r"hilft|geholfen|besser|(?:bien |beaucoup |nettement )?mieux|aide|ayuda|ayudó|mejor|meglio|aiuta|beter|helpt)\b",
    re.IGNORECASE,
)
# Openers that carry no content: "ok so today:", "anyway,".
FILLER_RE = re.compile(
    r"^(?:(?:ok(?:ay)?|so|alright|right|anyway|well|hmm+|ugh|phew|hi|hey|hello|update|eod|end of day|quick notes?|"
    r"notes?|"
    r"today|this session|this morning|this afternoon|session notes?|log)\b[\s,:;.\-–]*)+",
    re.IGNORECASE,
)

HEDGE_START_RE = re.compile(
    r"^\W*(?:prob|probably|probbaly|maybe|perhaps|i think|i suspect|suspect|my guess|guess|hunch|possibly|"
    r"likely|my bet)\b",
    re.IGNORECASE,
)


_LINK_RE = re.compile(r"https?://\S+", re.IGNORECASE)
# A guess marked as one, wherever it sits: "the crnn overfits to musan (hypothesis, haven't checked)".
_MARKED_GUESS_RE = re.compile(
    r"\(\s*(?:hypothesis|untested|not tested|unverified|guess)\b|\bhaven'?t (?:checked|verified|tested)\b|"
    r"\b(?:thinking|my hunch is|i'?m guessing)\b",
    re.IGNORECASE,
)


# A setup sentence says how the work is done, not what came of it: "we use 5-fold CV on the 2024 data", "trained on 8
# GPUs", "all runs evaluated on the March holdout". Its "so" or "because" makes no conclusion.
_SETUP_VERB_RE = re.compile(
    r"^\W*(?:(?:we|i|all|all runs?|every run|each run|everything|runs?|models?|it|they)\s+(?:are\s+|were\s+|is\s+|"
    r"was\s+|have been\s+|get\s+|got\s+)?(?:all\s+|now\s+|still\s+|always\s+)?)?(?:use|uses|used|using|train(?:ed|s)? "
    r"(?:on|with|for|using)|trains? on|run on|ran on|running on|runs on|evaluat\w+ (?:on|with|using|against)|"
    r"eval(?:ed)? "
    r"on|test(?:ed)? on|validat\w+ on|fit(?:ted)? on|split(?:ting)?|hold(?:ing)? out|set up|configured|sampled|"
    r"stratif\w+|tokeni[sz]ed|preprocess\w*|deduplicat\w*)\b",
    re.IGNORECASE,
)
_SETUP_NOUN_RE = re.compile(
    r"\b(?:\d+-?fold|folds?|cv|cross-?validation|gpus?|cpus?|tpus?|a100s?|h100s?|v100s?|nodes?|machines?|cluster|"
    r"data(?:set)?|split|holdout|hold-out|train(?:ing)? set|test set|val(?:idation)? set|seeds?|batch(?: size)?|"
    r"epochs?|"
    r"rows|samples|images|tokens|hours? of|days? of|months? of|weeks? of|\d{4})\b",
    re.IGNORECASE,
)
_OUTCOME_RE = re.compile(
    r"\b(?:best|better|worse|win\w*|beats?|outperform\w*|helps?|helped|hurts?|works|worked|improv\w*|gain\w*|"
    r"lift\w*|drop(?:ped|s)? (?:to|by)|jump\w*|regress\w*|overfit\w*|underfit\w*|leak\w*|fails?|failed)\b",
    re.IGNORECASE,
)


# A line that only names a model and its settings, a noun phrase with an aside: "Gradient boosting
# (HistGradientBoostingClassifier, max_features=0.5 so the seed matters)", "Baseline (LogisticRegression, C=1)".
_ASIDE_RE = re.compile(r"\([^()]*\)")
_LEAD_LABEL_RE = re.compile(r"^\W*(?:[A-Za-z0-9]+\s+){0,2}[A-Za-z0-9]+:\s+")  # "Day 3: ", "Second model: "
_SETTING_RE = re.compile(r"[A-Za-z_][\w.]*\s*=\s*[\w.'\"-]|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")
_VERB_RE = re.compile(
    r"\b(?:is|are|was|were|be|been|being|am|has|have|had|do|does|did|got|gets|get|gave|gives|went|goes|came|comes|"
    r"made|makes|seems?|looks?|stays?|stayed|reached|hit|tops?|topped|lands?|landed|scored?|ran|runs|run|tried|try|"
    r"matters?|needs?|needed|should|would|could|will|can|won't|can't|so|because|since|as|therefore|hence|thus|"
    r"which|that|it|we|i|they|but|though)\b|n't\b",
    re.IGNORECASE,
)


def is_setup(text: str) -> bool:
    """Whether a clause describes how the work is set up (data, folds, hardware, or a model named with its settings),
    with no outcome in it."""
    if _names_a_model(text):
        return True
    return bool(_SETUP_VERB_RE.search(text) and _SETUP_NOUN_RE.search(text) and not _OUTCOME_RE.search(text))


def _names_a_model(text: str) -> bool:
    """A few words with no verb, clause word, number or outcome, and an aside that gives settings (a key=value, a
    class name) and no outcome: whatever the aside's "so" or "because" says, the line names what is run."""
    asides = _ASIDE_RE.findall(text)
    outside = _LEAD_LABEL_RE.sub("", _ASIDE_RE.sub(" ", text))
    words = re.findall(r"[A-Za-z][\w'-]*", outside)
    if not asides or not 0 < len(words) <= 5 or re.search(r"\d|[:;!?]", outside):
        return False
    if _VERB_RE.search(outside) or _OUTCOME_RE.search(outside) or _FAILED_RE.search(outside):
        return False
    return any(_SETTING_RE.search(a) for a in asides) and not any(_OUTCOME_RE.search(a) for a in asides)


def cue_section(text: str) -> Section | None:
    """The section a clause's own cue phrases point to, strongest cue first; None when it has none.

    A clause that opens with a hedge is a guess, whatever else it says: "prob overfit after ep 2" (unless it is a
    plan, "maybe try catboost tomorrow", or asks, "maybe a separate holiday model??")."""
    text = _LINK_RE.sub(" ", text)  # "runs/abc?tab=metrics": a link's "?" asks nothing
    if (HEDGE_START_RE.search(text) or _MARKED_GUESS_RE.search(text)) and "?" not in text:
        return "next_steps" if NEXT_RE.search(text) else "hypothesis"
    for cued, section in _CUES:
        if cued(text):
            return None if section == "conclusions" and is_setup(text) else section
    return None


_CUES: tuple[tuple[Callable[[str], object], Section], ...] = (
    (_QUESTION_RE.search, "open_questions"),
    (NEXT_RE.search, "next_steps"),
    (lambda text: _FAILED_RE.search(text) or _failed_to_converge(text), "did_not_work"),
    (_HYPOTHESIS_RE.search, "hypothesis"),
    (_CONCLUSION_RE.search, "conclusions"),
)
