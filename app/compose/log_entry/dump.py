"""Cutting a brain dump into statements, and sorting each statement into a section by its cue phrases.

People write end-of-session notes as chat lines, bullets (nested), numbered and lettered lists, checkboxes, Markdown
headings, arrows, em dashes, run-on sentences and unpunctuated dictation. This module turns all of that into
`Statement`s: a piece of text in the dump's own words, its line, and the section it belongs to (hypothesis,
observations, conclusions, did_not_work, open_questions, next_steps).

How a statement finds its section, strongest first (the vocabulary is in `app.compose.log_entry.cues`):
1. Instruction-like text, read by `instructions.reads_as_instruction` (an addressee, a behaviour verb, a value presented
   as the result), is kept with its whole line as a quoted observation; so is every line of a block under a line that
   speaks to a model ("Note for the AI summariser:"), up to the next blank line.
2. An inline label ("open q: ...", "tomorrow: ...", "next comp: ...") or a header above it ("## Next steps",
   "didn't work:", a bare "todo", a short cued bullet with sub-bullets such as "- What did not work").
3. Cue phrases of the clause itself: a guess ("I think", "prob", "(hypothesis)"), a question ("?", "not sure",
   "should we"), a plan ("tomorrow", "need to", a leading imperative, an unchecked box), a failure ("didn't help",
   "dead end", "diverged", "worse"), a conclusion ("best so far", "because", "so", "going with").
4. Otherwise an observation.
A sentence joined by arrows, ", so", dashes or hedges is cut into clauses first; a clause with no cue of its own goes
with the next cued clause (an action and its outcome: "smote vs none -> didn't help" is one failure), so one sentence
can yield a failure and a next step without either losing its context.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from app.compose.log_entry.cues import (
    FILLER_RE,
    GENERIC,
    INLINE_LABEL_RE,
    MIDLINE_LABEL_RE,
    NEXT_RE,
    NOT_BARE_HEADERS,
    clean_label,
    cue_section,
    label_section,
    labels_a_question,
)
from app.compose.log_entry.instructions import addresses_a_model, reads_as_instruction
from app.compose.log_entry.metric_switch import announces_switch
from app.compose.log_entry.schema import Section

_ABBREVIATIONS = frozenset(
    "vs e.g i.e etc approx w/o w cf fig eq no incl resp esp ca dr mr mrs ms prof st det approx est avg min max".split()
)
_SENTENCE_END_RE = re.compile(r"([.!?]+)\s+")
_CLAUSE_SPLIT_RE = re.compile(
    r"\s*(?:-{1,2}>|=>|→|⇒|⟹)\s*|,\s+(?=so\b|then\b|but then\b)|;\s+|\s+[—–]\s+|"
    # a hedge opens a guess of its own: "EM tanked to 0.52 prob overfit after ep 2"
    r"[,\s]+(?=(?:prob|probably|probbaly|maybe|perhaps|i think|i suspect|my guess|possibly)\b)",
    re.IGNORECASE,
)
_BULLET_RE = re.compile(r"^(\s*)(?:(?:[-*] )?\[(?P<box>[ xX])\]|[-*•+·]|\d{1,3}[.)]|[a-z][.)]|\([a-z0-9]{1,2}\))\s+")
_HEADING_RE = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Statement:
    """One piece of the dump in its own words, with the section it was sorted into."""

    text: str
    line: int
    section: Section
    quoted: bool = False
    metric_switch: bool = False
    group: int = 0  # statements from the same line (or bullet) share a group
    sentence: int = 0  # statements cut from the same sentence share a number
    parent: int | None = None  # for a nested bullet, the group of the bullet above it


@dataclass(frozen=True)
class _Line:
    text: str
    line: int
    depth: int
    bullet: bool
    todo: bool = False  # an unchecked box, "- [ ]": a plan unless its words say otherwise


# --- lines and headers ----------------------------------------------------------------------------------------------


def _lines(text: str) -> list[_Line]:
    """Non-blank lines with their bullet depth; wrapped continuation lines are joined to the line they continue."""
    out: list[_Line] = []
    previous_blank = True
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if not raw.strip():
            previous_blank = True
            out.append(_Line("", number, 0, False))
            continue
        expanded = raw.expandtabs(4)
        bullet = _BULLET_RE.match(expanded)
        indent = len(expanded) - len(expanded.lstrip())
        body = expanded[bullet.end() :].strip() if bullet else expanded.strip()
        if out and not previous_blank and not bullet and _continues(out[-1], body, indent):
            last = out[-1]
            out[-1] = _Line(f"{last.text} {body}", last.line, last.depth, last.bullet, last.todo)
        else:
            todo = bool(bullet and bullet["box"] == " ")
            out.append(_Line(body, number, indent // 2 if bullet else 0, bool(bullet), todo))
        previous_blank = False
    return out


def _continues(previous: _Line, body: str, indent: int) -> bool:
    """An indented line without a bullet under a bullet continues it. Plain lines are never joined: in chat-style
    dumps each line is its own thought, punctuated or not."""
    return previous.bullet and indent > 0 and not previous.text.rstrip().endswith(":")


def _header_section(text: str) -> Section | None:
    """'## Next steps', '**didn't work:**', 'TODO:' alone on a line: a header for the lines below it.

    A generic header ("## Today", "Runs:") is still a header (it is not a statement) but directs no section."""
    heading = _HEADING_RE.match(text)
    if not heading and not text.rstrip().rstrip("*_ ").endswith(":"):
        bare = label_section(text)  # "next steps" or "todo" alone on a line, without the colon
        return bare if bare and bare != GENERIC and clean_label(text) not in NOT_BARE_HEADERS else None
    label = heading[1] if heading else text
    # "Things that didn't pan out:", "Things I'm unsure about:": a header whose words carry a cue
    section = label_section(label) or (cue_section(label) if len(label.split()) <= 8 else None)
    return section or (GENERIC if heading else None)


# --- sentences and clauses ------------------------------------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Split at sentence punctuation followed by space, but not after "vs.", "e.g." and other abbreviations."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        word = text[start : match.start()].split()[-1:] or [""]
        if match[1] == "." and word[0].lower().rstrip(".") in _ABBREVIATIONS:
            continue
        if match[1].startswith("!") and text[match.end() : match.end() + 1].islower():
            continue  # "0.864!! biggest jump so far": emphasis, the sentence goes on
        if text[start : match.end()].strip(" ?!."):  # "?? is it noise" keeps its marks with its words
            pieces.append(text[start : match.end()].strip())
            start = match.end()
    pieces.append(text[start:].strip())
    pieces = _attach_fragments([p for p in pieces if p])
    return [p for piece in pieces for p in _spoken(piece) for p in _midline_parts(p) if p.strip()]


def _midline_parts(sentence: str) -> list[str]:
    """Cut at labels in the middle of a line ("... (auc .84) open q: is ..."); a question label that a statement
    follows ("Re the holdout question: ran the backtests, ...") stays with the words before it."""
    out: list[str] = []
    for part in MIDLINE_LABEL_RE.split(sentence):
        if out and not labels_a_question(part):
            out[-1] = f"{out[-1]} {part.strip()}"
        else:
            out.append(part)
    return out


def _attach_fragments(pieces: list[str]) -> list[str]:
    """ "regret 1,420. best so far": a trailing fragment of a few words finishes the sentence before it."""
    out: list[str] = []
    for piece in pieces:
        if out and len(piece.split()) <= 3 and not INLINE_LABEL_RE.match(piece) and not piece.endswith("?"):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


# Spoken notes have no punctuation: "... 0.58 um the thing that didn't work at all was ... so yeah next steps I want".
_SPOKEN_SPLIT_RE = re.compile(
    r"\s+(?:um+|uh+|so yeah|ok so|anyway)\s+|\s+(?=(?:open questions?|next steps?|the thing that|and also|"
    r"and the other thing|and i think|and then)\b)",
    re.IGNORECASE,
)


def _spoken(sentence: str) -> list[str]:
    """A long stretch without punctuation is cut at fillers ("um", "so yeah") and at spoken section openers."""
    if len(sentence) < 200 or re.search(r"[.!?;]\s", sentence):
        return [sentence]
    return [p for p in _SPOKEN_SPLIT_RE.split(sentence) if p and p.strip()]


def _clauses(sentence: str) -> list[str]:
    """Cut at arrows, ", so" and ";"; then at commas too, where the comma-separated parts carry different cues
    ("parking gnn for now, back to feature work tmrw" is a conclusion and a plan)."""
    parts = [p for p in _outside_asides(_CLAUSE_SPLIT_RE, sentence) if p and p.strip(" ,.")] or [sentence]
    head = [piece for part in parts[:-1] for piece in _comma_parts(part)]
    if not sentence.rstrip().endswith("?"):
        return [*head, *_comma_parts(parts[-1])]
    tail = _question_tail(parts[-1])
    if len(tail) == 1 and len(tail[0].split()) <= 5 and len(parts) > 1:
        # "b/c val uses actuals -> leakage-ish optimism?": a short question asks about the clause before it
        start = sentence.find(parts[-2])
        return [piece for part in parts[:-2] for piece in _comma_parts(part)] + [sentence[start:]]
    return [*head, *tail]


_COMMA_RE = re.compile(r",\s+")


def _outside_asides(pattern: re.Pattern[str], text: str) -> list[str]:
    """`text` cut where `pattern` matches outside parentheses: an aside ("(XGBClassifier, depth=4, so rows vary)")
    stays whole with the clause it sits in."""
    pieces: list[str] = []
    at = 0
    for match in pattern.finditer(text):
        if text.count("(", 0, match.start()) > text.count(")", 0, match.start()):
            continue
        pieces.append(text[at : match.start()])
        at = match.end()
    return [*pieces, text[at:]]


def _question_tail(clause: str) -> list[str]:
    """A long clause ending in "?": the question is its last comma-part (with the one before if that is short);
    the parts before it are statements of their own."""
    pieces = [p for p in re.split(r",\s+", clause) if p.strip()]
    keep = 2 if len(pieces) > 1 and len(pieces[-1].split()) <= 5 else 1
    head, tail = pieces[:-keep], ", ".join(pieces[-keep:])
    return [*(piece for part in head for piece in _comma_parts(part)), tail] if head else [tail]


def _comma_parts(clause: str) -> list[str]:
    pieces = [p for p in _outside_asides(_COMMA_RE, clause) if p.strip()]
    cues = {cue_section(p) for p in pieces} - {None}
    return pieces if len(cues) > 1 else [clause]


def _sections_for(clauses: list[str], default: Section) -> list[Section]:
    """Each clause's section; a clause with no cue goes with the next cued clause, else the previous one, else the
    default (an observation, or a plan for an unchecked box)."""
    cued = [cue_section(c) for c in clauses]
    resolved: list[Section] = []
    for index, section in enumerate(cued):
        following = next((s for s in cued[index:] if s), None)
        resolved.append(section or following or (resolved[-1] if resolved else default))
    return resolved


# --- statements -----------------------------------------------------------------------------------------------------


def parse_dump(text: str) -> list[Statement]:
    """Every statement of the dump, in order, each sorted into a section."""
    return list(_statements(_lines(text)))


def _statements(lines: list[_Line]) -> Iterator[Statement]:
    context: _Context | None = None
    group = sentence_number = 0
    parents: list[tuple[int, int]] = []  # (depth, group) of the bullets above
    addressed = False  # under a line that speaks to a model ("Notes for the AI summariser:"), until a blank line
    for index, line in enumerate(lines):
        if not line.text:
            context = context if context and context.heading else None
            addressed = False
            continue
        if addressed or reads_as_instruction(line.text) or (addresses_a_model(line.text) and _opens(line)):
            # The whole line is suspect, not only the sentence that gives it away: kept as one quotation.
            addressed = addressed or (addresses_a_model(line.text) and _opens(line))
            group += 1
            yield Statement(line.text, line.line, "observations", quoted=True, group=group)
            continue
        if context and context.bullet and line.depth <= context.depth:
            context = None  # a sibling of a bullet header ends its list
        header = _header_section(line.text) or _topic_section(line, _next_text(lines, index))
        if header:
            heading = bool(_HEADING_RE.match(line.text))
            context = _Context(header, line.depth, heading, line.bullet) if header != GENERIC else None
            continue
        if context and not context.heading and not context.bullet and not line.bullet:
            context = None  # "Questions:" directs the list below it, not the next paragraph
        while parents and parents[-1][0] >= line.depth:
            parents.pop()
        parent = parents[-1][1] if parents and line.bullet else None
        group += 1
        if line.bullet:
            parents.append((line.depth, group))
        # Under a header, one bullet is one item ("do we report macro? they care about rare classes").
        sentences = [line.text] if context and line.bullet else split_sentences(line.text)
        for sentence in sentences:
            section = context.section if context else None
            sentence_number += 1
            for statement in _sentence_statements(sentence, line.line, section, group, parent, line.todo):
                yield replace(statement, sentence=sentence_number)


@dataclass(frozen=True)
class _Context:
    """A header in force: the section it names, its depth, and whether it is a Markdown heading or a bullet."""

    section: Section
    depth: int
    heading: bool
    bullet: bool


def _opens(line: _Line) -> bool:
    """A line that introduces what follows: a heading, or text ending in a colon ("Note for the assistant:")."""
    return bool(_HEADING_RE.match(line.text)) or line.text.rstrip(" *_").endswith(":")


def _next_text(lines: list[_Line], index: int) -> _Line | None:
    return next((lines[i] for i in range(index + 1, len(lines)) if lines[i].text), None)


def _topic_section(line: _Line, after: _Line | None) -> Section | None:
    """A short bullet with sub-bullets below it is a topic header, not a statement: "* augs" (directs nothing),
    "- What did not work" (directs its sub-bullets to did_not_work)."""
    if not (line.bullet and after is not None and after.bullet and after.depth > line.depth):
        return None
    words = len(line.text.split())
    if words <= 3 and not re.search(r"[\d.?!;:=]", line.text):
        return cue_section(line.text) or GENERIC
    cued = cue_section(line.text) if words <= 5 and not re.search(r"[\d?]", line.text) else None
    return cued if cued in ("did_not_work", "next_steps", "open_questions") else None


def _sentence_statements(
    sentence: str, line: int, context: Section | None, group: int, parent: int | None, todo: bool = False
) -> Iterator[Statement]:
    body = FILLER_RE.sub("", sentence).strip() or sentence.strip()
    switch = announces_switch(body)
    label = INLINE_LABEL_RE.match(body)
    if label and label[3].strip():
        # "next comp: ...", "for next time: ..." name a plan too
        named = label[1] or label[2]
        section = label_section(named) or ("next_steps" if re.match(r"(?:for )?next ", named, re.I) else GENERIC)
        yield from _split_list(label[3].strip(), line, section, group, parent, switch)
        return
    if context:
        yield from _split_list(body, line, context, group, parent, switch)
        return
    if switch:
        yield Statement(body, line, "conclusions", metric_switch=True, group=group, parent=parent)
        return
    clauses = _clauses(body)
    sections = _sections_for(clauses, "next_steps" if todo else "observations")
    for section, text in _merge(body, clauses, sections):
        yield from _split_list(text, line, section, group, parent, False)


def _merge(sentence: str, clauses: list[str], sections: list[Section]) -> Iterator[tuple[Section, str]]:
    """Neighbouring clauses of one section become one statement, quoted verbatim from the sentence."""
    position = 0
    start = 0
    for index, clause in enumerate(clauses):
        found = sentence.find(clause, position)
        position = found + len(clause) if found >= 0 else position
        if index + 1 == len(clauses) or sections[index + 1] != sections[index]:
            yield sections[index], sentence[start:position].strip(" ,;")
            start = position
            if index + 1 < len(clauses):
                start = sentence.find(clauses[index + 1], position)


_DANGLING_RE = re.compile(r"(?:[\s,;]+(?:so|and|then|but|->|=>)\b)*[\s,;]*$", re.IGNORECASE)
# A part that opens like this continues the one before it: "a separate IR head, or just a day/night flag".
_JOINED_RE = re.compile(
    r"(?:or|but|which|that|because|since|so|as|if|e\.g|i\.e|maybe|unless|instead|once|when|after|until|before|"
    r"while|same|with|without|keeping|using|via|like|plus)\b",
    re.IGNORECASE,
)
_LIST_SPLIT_RE = re.compile(r",\s+(?:and\s+|then\s+)?|;\s+|\s+and then\s+")


def _outside_parens(pattern: re.Pattern[str], text: str) -> list[str]:
    """Split at `pattern`, but never inside parentheses: "rerank (top 8, bge), then rerun" is two items."""
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if text.count("(", 0, match.start()) == text.count(")", 0, match.start()):
            pieces.append(text[start : match.start()])
            start = match.end()
    return [*pieces, text[start:]]


# A part that states something ("trees don't care about scaling", "it is cheap") rather than proposing it.
_STATES_RE = re.compile(
    r"\b(?:is|are|was|were|isn'?t|aren'?t|wasn'?t|weren'?t|do(?:es)?n'?t|don'?t|can'?t|won'?t|seems?|looks?|"
    r"care|cares|needs?|has|have)\b",
    re.IGNORECASE,
)


def _with_reasons(parts: list[str]) -> list[str]:
    """ "random forest tomorrow, trees don't care about scaling": a part that states a reason, not a plan of its
    own, stays with the plan before it."""
    out: list[str] = []
    for part in parts:
        if out and _STATES_RE.search(part) and not NEXT_RE.search(part):
            out[-1] = f"{out[-1]}, {part}"
        else:
            out.append(part)
    return out


def _split_list(
    text: str, line: int, section: Section, group: int, parent: int | None, switch: bool
) -> Iterator[Statement]:
    """A plan written as a list on one line ("group split by customer, drop smote for good") is cut into its items,
    when every item has at least two words; other sections (questions too) keep the sentence whole."""
    parts = [text]
    if section == "next_steps":
        candidates = _with_reasons([p.strip(" .") for p in _outside_parens(_LIST_SPLIT_RE, text) if p.strip(" .")])
        whole = all(len(p.split()) >= 2 for p in candidates) and not any(_JOINED_RE.match(p) for p in candidates[1:])
        if len(candidates) > 1 and whole:
            parts = candidates
    for part in parts:
        part = _DANGLING_RE.sub("", part)
        yield Statement(part, line, section, metric_switch=switch, group=group, parent=parent)
