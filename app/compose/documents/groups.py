"""Lists that grow with the history, grouped and counted for a reader: "6 gains within the noise, largest +0.0064
(believable gain 0.005): a, b, c and 3 more" instead of one line per finding. The body keeps every item."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.compose.documents.render import cite, counted, fmt, fmt_gain, fmt_noise, md_prose
from app.compose.documents.schemas import LowRoi

GROUPED = ("duplicate", "within_noise")


def low_roi_lines(items: Sequence[LowRoi], line: Callable[[LowRoi], str]) -> list[str]:
    """One line per closed approach (and per item of a body stored before items had kinds), through `line`; one
    counted line for the duplicates and one for the gains within the noise, where they first appear (a group of one
    finding keeps its full line)."""
    lines: list[str] = []
    done: set[str] = set()
    for item in items:
        if item.kind not in GROUPED:
            lines.append(line(item))
        elif item.kind not in done:
            done.add(item.kind)
            group = [i for i in items if i.kind == item.kind]
            if sum(i.count for i in group) == 1:
                lines.append(line(item))  # one finding reads best in full
                continue
            lines.append("- " + (_duplicates(group) if item.kind == "duplicate" else _within_noise(group)))
    return lines


def _subjects(group: Sequence[LowRoi]) -> list[LowRoi]:
    """The items that name a run, most recent first (the analysis lists them oldest first)."""
    return [i for i in reversed(group) if i.subject]


def _duplicates(group: Sequence[LowRoi]) -> str:
    total = sum(i.count for i in group)
    named = [f"{cite(i.subject)} (of {cite(i.evidence.run_ids[1])})" for i in _subjects(group) if _of(i)]
    what = "run repeats an earlier configuration" if total == 1 else "runs repeat an earlier configuration"
    return md_prose(counted(total, what, named, detail=_compute(group)))


def _of(item: LowRoi) -> bool:
    return len(item.evidence.run_ids) > 1


def _compute(group: Sequence[LowRoi]) -> str:
    """The largest compute one repeat spent, when the runs record it (a stored duration, so a grounded number)."""
    spent = [i.evidence.numbers["compute_s"] for i in group if "compute_s" in i.evidence.numbers]
    return f"the costliest spent {fmt(max(spent))} s of compute" if spent else ""


def _within_noise(group: Sequence[LowRoi]) -> str:
    total = sum(i.count for i in group)
    listed = _subjects(group)
    gains = [i.evidence.numbers["gain"] for i in listed if "gain" in i.evidence.numbers]
    noise = next(
        (i.evidence.numbers["believable_gain"] for i in listed if "believable_gain" in i.evidence.numbers), None
    )
    detail = ""
    if gains:
        of = f" of the last {len(listed)}" if len(listed) < total else ""
        detail = f"largest{of} {fmt_gain(max(gains))}"
        detail += f" against a believable gain of {fmt_noise(noise)}" if noise is not None else ""
    # each gain is a run's over its closest earlier configuration, not over the baseline (a best beyond the noise of
    # the baseline may still have made its last step within it)
    what = (
        "gain within the noise (over the run's closest earlier configuration)"
        if total == 1
        else "gains within the noise (each over its run's closest earlier configuration)"
    )
    return md_prose(counted(total, what, [cite(i.subject) for i in listed], detail=detail))
