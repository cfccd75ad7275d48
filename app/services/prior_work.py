"""Prior work: what a new entry or document cites from the project's own history. A new log entry cites the
earlier sessions and documents close in meaning to its dump; "has this been tried?" cites earlier passages saying the
proposal was done; a summary or a brief links the newest earlier documents about each of its approaches. Only what
still exists as indexed is cited, and none of it ever holds an entry up: with the index off, down or slow, the entry
is composed without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import cast

from sqlmodel import Session

from app.compose.contract import EarlierDocument
from app.compose.documents.schemas import TriedMention
from app.compose.log_entry.schema import RelatedWork
from app.retrieval import rank
from app.retrieval.jargon import spelled_out
from app.retrieval.store import Hit
from app.services.memory import LOG, Memory, active
from app.services.search import Query, search
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage.models import Project

logger = logging.getLogger(__name__)

# --- related prior work ---------------------------------------------------------------------------------------------

RELATED_MAX = 3
RELATED_MARGIN = 0.1  # how far above the project's background an earlier session must be
BACKGROUND_MIN = 3  # earlier sessions it takes to tell a background


def related_for(session: Session, *, project: Project, text: str, log_id: int | None, day: date) -> list[RelatedWork]:
    """Earlier sessions and documents of the project close in meaning to the dump `text`: each piece of the dump is
    a query; an earlier source counts by its best passage, and only at or above the similarity threshold. Later
    sessions, the dump itself and sources deleted since they were indexed are left out. Never raises: with the index
    off, down or slow the entry is composed without them."""
    memory = active()
    if memory is None or not text.strip():
        return []
    try:
        return _related(session, memory, project=project, text=text, log_id=log_id, day=day)
    except Exception:  # the entry matters more than its cross-references
        logger.warning("memory.related.failed", extra={"project": project.slug}, exc_info=True)
        return []


def _related(
    session: Session, memory: Memory, *, project: Project, text: str, log_id: int | None, day: date
) -> list[RelatedWork]:
    from app.retrieval.chunks import split_text

    name = memory.collection(project)
    pieces = split_text(text)[:20]
    if not pieces:
        return []
    vectors = memory.embedder.embed([spelled_out(p) for p in pieces])
    best: dict[str, Hit] = {}
    day_num = int(day.strftime("%Y%m%d"))
    for vector in vectors:
        for hit in memory.store.nearest(name, vector, n=20, where={"day_num": {"$lte": day_num}}):
            if not _earlier(hit, log_id=log_id, day_num=day_num):
                continue
            key = rank.group_key(hit)
            if key not in best or hit.similarity > best[key].similarity:
                best[key] = hit
    # A project's sessions share its vocabulary, so every earlier one is somewhat close: a related one must stand
    # out from that background (the median of the earlier sessions' best similarity) as well as pass the threshold.
    scores = sorted(h.similarity for h in best.values())
    background = scores[(len(scores) - 1) // 2] if len(scores) >= BACKGROUND_MIN else 0.0
    floor = max(memory.related_min_similarity, background + RELATED_MARGIN)
    out: list[RelatedWork] = []
    for hit in sorted((h for h in best.values() if h.similarity >= floor), key=lambda h: -h.similarity):
        work = _related_work(session, hit)
        if work is not None:
            out.append(work)
        if len(out) == RELATED_MAX:
            break
    return out


def _earlier(hit: Hit, *, log_id: int | None, day_num: int) -> bool:
    other_log = hit.metadata.get("log_id")
    if log_id is not None and other_log == log_id:
        return False
    if int(hit.metadata.get("day_num", 0)) < day_num:
        return True
    # The same day: an earlier dump (a lower ID), or a document.
    return other_log is None or log_id is None or int(other_log) < log_id


def _related_work(session: Session, hit: Hit) -> RelatedWork | None:
    """The hit as the entry cites it, if its source still exists as indexed (a stale chunk is never cited)."""
    meta = hit.metadata
    log_id = cast(int | None, meta.get("log_id"))
    entry_id = cast(int | None, meta.get("entry_id"))
    kind = str(meta.get("kind", ""))
    if kind in (LOG, "log_entry") and log_id is not None:
        log = log_store.get_log(session, log_id)
        if log is None:
            return None
        entry_id = entry_store.entry_ids_by_log(session, [log_id]).get(log_id, entry_id)
        kind = "log_entry"
    else:
        entry = entry_store.get_entry(session, entry_id) if entry_id is not None else None
        if entry is None or entry.version != int(meta.get("version", entry.version)):
            return None
    snippet, _ = rank.snippet(hit.text, [])
    return RelatedWork(
        entry_id=entry_id,
        log_id=log_id,
        date=str(meta.get("day", "")),
        kind=kind,
        text=snippet,
        similarity=round(hit.similarity, 3),
    )


# --- "has this been tried?" in words --------------------------------------------------------------------------------

# Passages that say what was planned or wondered, not what was done, are no evidence that something was tried.
PLAN_SECTIONS = frozenset({"next_steps", "open_questions", "hypothesis"})
MENTIONS_MAX = 3
MENTION_MIN_SCORE = 0.6  # the search score (similarity + word and token matches) a mention needs


def mentions_for(session: Session, *, project: Project, proposal: str) -> list[TriedMention]:
    """Earlier sessions whose words say something close to `proposal` was done: the project searched for it (the
    same hybrid ranking as search), passages of plans and questions left out, best first; none with the index off
    or failing."""
    memory = active()
    if memory is None or not proposal.strip():
        return []
    try:
        found = search(session, memory, project=project, query=Query(proposal, limit=8))
    except Exception:
        logger.warning("memory.mentions.failed", extra={"project": project.slug}, exc_info=True)
        return []
    out: list[TriedMention] = []
    for f in found:
        if f.section in PLAN_SECTIONS or f.score < MENTION_MIN_SCORE:
            continue
        entry_id = f.entry_id
        if f.log_id is not None:
            entry_id = entry_store.entry_ids_by_log(session, [f.log_id]).get(f.log_id, entry_id)
        if entry_id is None or entry_store.get_entry(session, entry_id) is None:
            continue  # deleted since it was indexed: never cite a stale passage
        out.append(
            TriedMention(
                entry_id=entry_id,
                log_id=f.log_id,
                date=f.day,
                section=f.section,
                text=f.snippet,
                similarity=f.similarity,
                score=round(f.score, 3),
            )
        )
        if len(out) == MENTIONS_MAX:
            break
    return out


# --- earlier documents per approach ---------------------------------------------------------------------------------

DOCUMENT_KINDS = ("phase_summary", "handover_brief", "selection_decision", "next_experiments", "metric_switch")
EARLIER_MAX = 3


def earlier_documents(
    session: Session, *, project: Project, approaches: Sequence[str], public_url: str
) -> dict[str, tuple[EarlierDocument, ...]]:
    """Per approach, the newest earlier documents whose words name it (a summary's, a brief's, a decision's), each
    once, still current in SQL; none with the index off or failing. Read from the chunks' metadata, no embedding."""
    memory = active()
    if memory is None or not approaches:
        return {}
    name = memory.collection(project)
    out: dict[str, tuple[EarlierDocument, ...]] = {}
    try:
        for approach in approaches:
            where = {"$and": [{"approaches": {"$contains": approach}}, {"kind": {"$in": list(DOCUMENT_KINDS)}}]}
            hits = memory.store.matching(name, where=where, n=200)
            latest: dict[int, Hit] = {}
            for hit in hits:
                entry_id = hit.metadata.get("entry_id")
                if isinstance(entry_id, int) and entry_id not in latest:
                    latest[entry_id] = hit
            docs: list[EarlierDocument] = []
            for entry_id in sorted(latest, reverse=True):
                entry = entry_store.get_entry(session, entry_id)
                if entry is None or entry.version != int(latest[entry_id].metadata.get("version", entry.version)):
                    continue
                day = date.fromisoformat(str(latest[entry_id].metadata.get("day")))
                link = f"{public_url.rstrip('/')}/v1/entries/{entry_id}"
                docs.append(EarlierDocument(entry_id=entry_id, kind=entry.kind, day=day, link=link))
                if len(docs) == EARLIER_MAX:
                    break
            if docs:
                out[approach] = tuple(docs)
    except Exception:
        logger.warning("memory.earlier.failed", extra={"project": project.slug}, exc_info=True)
        return {}
    return out
