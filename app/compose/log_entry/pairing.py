"""Which run each number in a sentence is about.

A sentence can name several runs and state several numbers: "smote (5c6d70a1) vs none (9b22c4f0) -> .858 vs .861",
"A vs B: logloss .4387 vs .4412, auc .7764 vs .7731", "mae 12.4 vs 12.9 w/o (c6211d3d)", "temp 0.1 (83998e17 was
0.05) is worse, 0.401". `pair_numbers` gives each number to the run it is stated for, and returns the ones that
belong to none of the named runs, so they are kept as a trial of their own rather than pinned on the wrong run.
"""

from __future__ import annotations

import re

from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.refs import Reference
from app.compose.log_entry.schema import StatedMetric
from app.compose.log_entry.stated import FoundNumber

# "vs", and "from" as in "down to .54 from .82": the new value, then the old one
_VERSUS_RE = re.compile(r"\s*(?:vs\.?|versus|v\.?|against|compared (?:to|with)|/|from)\s*", re.IGNORECASE)
_SLASH_RE = re.compile(r"\s*/\s*\w*\s*")


def pair_numbers(
    text: str, cited: list[Reference], numbers: list[FoundNumber]
) -> tuple[list[tuple[Reference, list[StatedMetric]]], list[StatedMetric]]:
    """Which run each stated number is about, and the numbers that belong to none of the cited runs.

    Comparisons pair up in order: "A vs B -> .858 vs .861", "A vs B: logloss .4387 vs .4412, auc .7764 vs .7731".
    With one reference, a comparison gives it only the side written next to it ("mae 12.4 vs 12.9 w/o (c6211d3d)":
    12.9 is that run's, 12.4 another's); a run named after "below", "above", "than", "vs", "over" and the like is
    what something else is compared with, so a number written before that word is the other thing's ("stuck around
    0.97, well below X at 0.9957": only 0.9957 is X's). Failing that, as many numbers as references pair in order;
    otherwise each number goes to the reference written before it (the first one, if none is)."""
    slots: list[list[StatedMetric]] = [[] for _ in cited]
    others: list[StatedMetric] = []
    chains = _versus_chains(text, numbers)
    if len(cited) == 1:
        # "cv .1472 / pub .1451 / priv .1489": slashes list one run's numbers; only "vs" compares two runs
        chains = [[n] for n in numbers] if _slashed(text, numbers) else chains
        compared_at = _compared_at(text, cited[0])
        for chain in chains:
            if chain[-1].end <= compared_at:
                others.extend(n.metric for n in chain)  # "stuck around 0.97, well below X at 0.9957": not X's
                continue
            nearest = min(chain, key=lambda n: _distance(n, cited[0]))
            mine = nearest.metric if _about(text, cited[0], nearest, numbers) else None
            slots[0].extend([mine] if mine else [])
            others.extend(n.metric for n in chain if n.metric is not mine)
    elif all(len(chain) == len(cited) for chain in chains):
        for chain in chains:
            for slot, number in zip(slots, chain, strict=True):
                slot.append(number.metric)
    elif len(numbers) == len(cited):
        for slot, number in zip(slots, numbers, strict=True):
            slot.append(number.metric)
    else:
        for number in numbers:
            before = [i for i, r in enumerate(cited) if r.end <= number.start]
            slots[before[-1] if before else 0].append(number.metric)
    return list(zip(cited, slots, strict=True)), others


_PAREN_RE = re.compile(r"\(([^()]*)\)")
# The comparison word a run named right after it is compared by: "well below X", "worse than the X", "vs X".
_COMPARED_BEFORE_RE = re.compile(
    r"\b(?:below|above|than|vs\.?|versus|over|behind|ahead\s+of|against|compared\s+(?:to|with)|relative\s+to|"
    r"beat(?:s|ing)?|trail(?:s|ing|ed)?)\s+(?:(?:the|our|plain|old|current|previous)\s+)?(?:run\s+)?$",
    re.IGNORECASE,
)


def _compared_at(text: str, reference: Reference) -> int:
    """Where the comparison word before a compared run starts ("below" of "well below X"); -1 when the run is not
    named as the thing compared with."""
    found = _COMPARED_BEFORE_RE.search(text[: reference.start])
    return found.start() if found else -1


def _about(text: str, reference: Reference, number: FoundNumber, numbers: list[FoundNumber]) -> bool:
    """Whether a number in a sentence with one reference is about that run. Not when the reference sits in an
    aside ("temp 0.1 (83998e17 was 0.05) is worse, 0.401": 0.401 is the temp 0.1 run's), nor when the number is
    another thing's, in parentheses after its name ("clearly above als (0.301)")."""
    parens = [m.span() for m in _PAREN_RE.finditer(text)]
    ref_paren = next((p for p in parens if p[0] < reference.start < p[1]), None)
    num_paren = next((p for p in parens if p[0] < number.start < p[1]), None)
    if ref_paren and num_paren != ref_paren and _tagged(text, ref_paren, reference, numbers):
        return False  # "MASE 0.84, worse than lgbm (0.81, run 65ae0e1a)": the run's number is the one beside it
    if ref_paren and num_paren != ref_paren:
        # "(83998e17 was 0.05)": the run is the subject of an aside; "(lgbm_v3, C = 0.5)" only names it
        after_ref = text[reference.end : ref_paren[1] - 1]
        if re.match(r"\s*(?:was|is|were|got|had|gets|=|:)", after_ref, re.IGNORECASE):
            return False
    if num_paren and num_paren != ref_paren:
        inside = text[num_paren[0] + 1 : num_paren[1] - 1]
        before = text[: num_paren[0]].rstrip()
        named = number.metric.name is not None
        return named or not re.search(r"[A-Za-z]$", before) or not re.fullmatch(r"[\s\d.%~≈,-]*", inside)
    return True


def _slashed(text: str, numbers: list[FoundNumber]) -> bool:
    gaps = [text[a.end : b.start] for a, b in zip(numbers, numbers[1:], strict=False)]
    return any(_SLASH_RE.fullmatch(gap) for gap in gaps) and not any(re.search(r"\bvs\b", g) for g in gaps)


def _tagged(text: str, paren: tuple[int, int], reference: Reference, numbers: list[FoundNumber]) -> bool:
    """A short parenthesis holding the reference and a stated number: "(0.81, run 65ae0e1a)", "(f50a0be5, .371)"."""
    inside = text[paren[0] + 1 : paren[1] - 1].replace(reference.text, " ")
    short = len(inside.split()) <= 4
    return short and any(paren[0] < n.start < paren[1] for n in numbers)


def _distance(number: FoundNumber, reference: Reference) -> int:
    return min(abs(number.start - reference.end), abs(reference.start - number.end))


def is_param_value(metric: StatedMetric, run: RunFacts | None) -> bool:
    """An unnamed number equal to one of the run's parameters ("83998e17 was 0.05" for temp=0.05) is that
    parameter, not a result."""
    if run is None or metric.name is not None or metric.value is None:
        return False
    return any(_as_float(v) == metric.value for v in run.params.values())


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _versus_chains(text: str, numbers: list[FoundNumber]) -> list[list[FoundNumber]]:
    """Numbers joined by "vs" (".858 vs .861"), as runs of the sentence's numbers."""
    chains: list[list[FoundNumber]] = []
    for number in numbers:
        previous = chains[-1][-1] if chains else None
        if previous and _VERSUS_RE.fullmatch(text[previous.end : number.start]):
            chains[-1].append(number)
        else:
            chains.append([number])
    return chains
