"""Search: a project's past sessions and documents ranked for a query, by meaning and by exact token (run IDs and
names, parameters, `key=value`) fused into one score. A hit is a session (its dump and log entry together) or a
document, its best passage as the snippet with the matched words marked; each is checked against SQL, so a source
deleted since it was indexed is never shown. The answer says how many recent dumps and entries are not indexed yet,
and reads as JSON or as a Markdown list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlmodel import Session

from app.compose.escape import md_text
from app.config import Settings
from app.errors import InputInvalid
from app.retrieval import rank
from app.retrieval.chunks import content_stems
from app.retrieval.jargon import spelled_out
from app.retrieval.store import Hit
from app.services import index_queue
from app.services.memory import Memory, require
from app.services.schemas import SearchHit, SearchPage
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import runs as run_store
from app.storage.models import Project

# --- search ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One ranked session or document, its best chunk as the snippet."""

    key: str
    kind: str
    day: str
    log_id: int | None
    entry_id: int | None
    section: str
    approaches: list[str]
    run_ids: list[str]
    snippet: str
    highlights: list[tuple[int, int]]
    similarity: float
    score: float
    keyword: bool
    chunk_id: str


@dataclass(frozen=True)
class Query:
    text: str
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    approach: str | None = None
    limit: int = 10


def search(session: Session, memory: Memory, *, project: Project, query: Query) -> list[Found]:
    """The project's past sessions and documents for `query`, best first; raises RetrievalUnavailable when the
    index cannot answer."""
    text = query.text.strip()
    if not text:
        raise InputInvalid("the query is empty", field="query.q")
    name = memory.collection(project)
    where = _where(query)
    vocabulary, _ = _project_words_light(session, project)
    asked = rank.as_statement(text)
    vectors = memory.embedder.embed([spelled_out(text), spelled_out(asked)] if asked != text else [spelled_out(text)])
    vector = vectors[0]
    width = max(4 * query.limit, 40)
    vector_hits = memory.store.nearest(name, vector, n=width, where=where)
    if len(vectors) > 1:
        # A question and the statement it asks about are both searched; a passage keeps the closer of the two.
        vector_hits = _closest([*vector_hits, *memory.store.nearest(name, vectors[1], n=width, where=where)])
    tokens = rank.query_tokens(text, vocabulary)
    keyword_hits = memory.store.with_tokens(name, tokens, n=width, where=where) if tokens else []
    stems = content_stems(text)[:LEXICAL_STEMS]
    by_stem = memory.store.with_terms(name, stems, n=LEXICAL_DF_CAP, where=where) if stems else {}
    total = max(memory.store.count(name), 1)
    idf = {t: math.log(1 + total / (1 + len(by_stem.get(t, [])))) for t in stems}
    # The passages holding the rarest of the query's words join the vector candidates.
    rare = sorted((t for t in stems if by_stem.get(t)), key=lambda t: -idf[t])[:3]
    lexical_hits = list({h.id: h for t in rare for h in by_stem[t][:width]}.values())
    extra = _ranked_by_vector([*keyword_hits, *lexical_hits], vector, memory, name)
    known = {h.id for h in keyword_hits}
    keyword_hits = [h for h in extra if h.id in known]
    lexical_hits = [h for h in extra if h.id not in known]
    words = rank.terms(text)
    groups = rank.fuse(vector_hits, keyword_hits, stems, idf, lexical_hits)[: query.limit]
    return [_found(g, words) for g in groups]


def _closest(hits: list[Hit]) -> list[Hit]:
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.id not in best or hit.similarity > best[hit.id].similarity:
            best[hit.id] = hit
    return sorted(best.values(), key=lambda h: -h.similarity)


LEXICAL_STEMS = 8  # query words looked up by stem
LEXICAL_DF_CAP = 500  # passages read per word: enough to tell a rare word from a common one


def _ranked_by_vector(hits: list[Hit], vector: Any, memory: Memory, name: str) -> list[Hit]:
    """Hits found by a word, with their similarity to the query read back from their vectors, closest first."""
    if not hits:
        return []
    vectors = memory.store.vectors(name, list(dict.fromkeys(h.id for h in hits)))
    scored = [Hit(h.id, h.text, h.metadata, float(vectors[h.id] @ vector) if h.id in vectors else 0.0) for h in hits]
    return sorted(scored, key=lambda h: -h.similarity)


def _project_words_light(session: Session, project: Project) -> tuple[set[str], None]:
    vocabulary: set[str] = set()
    for key, run_id, name, _metrics, params in run_store.run_rows(session, project_id=cast(int, project.id)):
        vocabulary.update(p.lower() for p in params)
        vocabulary.update(v.lower() for v in (key, run_id, name) if v)
    return {v for v in vocabulary if len(v) >= 3}, None


def _where(query: Query) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = []
    if query.kind:
        conditions.append({"kind": query.kind})
    if query.since:
        conditions.append({"day_num": {"$gte": int(query.since.strftime("%Y%m%d"))}})
    if query.until:
        conditions.append({"day_num": {"$lte": int(query.until.strftime("%Y%m%d"))}})
    if query.approach:
        conditions.append({"approaches": {"$contains": query.approach}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _found(group: rank.Group, words: Sequence[str]) -> Found:
    meta = group.metadata
    snippet, spans = rank.snippet(group.best.text, words)
    return Found(
        key=group.key,
        kind=str(meta.get("kind", "")),
        day=str(meta.get("day", "")),
        log_id=cast(int | None, meta.get("log_id")),
        entry_id=cast(int | None, meta.get("entry_id")),
        section=str(meta.get("section", "")),
        approaches=list(cast(list[str], meta.get("approaches") or [])),
        run_ids=list(cast(list[str], meta.get("run_ids") or [])),
        snippet=snippet,
        highlights=spans,
        similarity=round(group.similarity, 4),
        score=round(group.score, 5),
        keyword=group.keyword,
        chunk_id=group.best.id,
    )


# --- the search answer ----------------------------------------------------------------------------------------------


def search_page(session: Session, settings: Settings, *, project: Project, query: Query) -> SearchPage:
    """`GET /v1/projects/{slug}/search`: ranked hits, each checked against SQL (a source deleted since it was
    indexed is left out), and how many sources are not indexed yet."""
    memory = require(settings)
    found = search(session, memory, project=project, query=query)
    log_ids = [f.log_id for f in found if f.log_id is not None]
    entries_of_logs = entry_store.entry_ids_by_log(session, log_ids) if log_ids else {}
    hits: list[SearchHit] = []
    for f in found:
        hit = _hit(session, f, entries_of_logs)
        if hit is not None:
            hits.append(hit)
    waiting = index_queue.behind(session, project_id=cast(int, project.id))
    note = f"{waiting} {'entry' if waiting == 1 else 'entries'} not indexed yet" if waiting else None
    return SearchPage(query=query.text, hits=hits, not_indexed=waiting, note=note)


def _hit(session: Session, f: Found, entries_of_logs: dict[int, int]) -> SearchHit | None:
    if f.key.startswith("log:") and f.log_id is not None:
        if log_store.get_log(session, f.log_id) is None:
            return None
        entry_id = entries_of_logs.get(f.log_id)
        kind = "log_entry"
    else:
        entry = entry_store.get_entry(session, f.entry_id) if f.entry_id is not None else None
        if entry is None:
            return None
        entry_id, kind = entry.id, entry.kind
    link = f"/v1/entries/{entry_id}" if entry_id is not None else f"/v1/logs/{f.log_id}"
    return SearchHit(
        kind=kind,
        date=date.fromisoformat(f.day),
        entry_id=entry_id,
        log_id=f.log_id,
        link=link,
        section=f.section,
        approaches=f.approaches,
        run_ids=f.run_ids,
        snippet=f.snippet,
        highlights=f.highlights,
        similarity=f.similarity,
        exact=f.keyword,
    )


def search_markdown(page: SearchPage, *, project: Project, public_url: str) -> str:
    """The hits as a Markdown list: the source and its day as a link, then the passage with the matched words in
    bold (a person's words, escaped)."""
    lines = [f"# Search: {md_text(page.query)}", ""]
    if page.note:
        lines += [f"_{md_text(page.note)}: they are not searched._", ""]
    if not page.hits:
        lines.append(f"Nothing in {md_text(project.name)}'s history matches.")
    base = public_url.rstrip("/")
    for n, hit in enumerate(page.hits, 1):
        what = f"entry {hit.entry_id}" if hit.entry_id is not None else f"log {hit.log_id}"
        label = what if hit.kind == "log_entry" else f"{hit.kind.replace('_', ' ')} ({what})"
        approaches = f" · {', '.join(md_text(a) for a in hit.approaches)}" if hit.approaches else ""
        lines.append(f"{n}. [{label}, {hit.date.isoformat()}]({base}{hit.link}){approaches}")
        lines.append(f"   > {_bold(hit.snippet, hit.highlights)}")
    return "\n".join(lines) + "\n"


def _bold(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The snippet with its matched words in bold; every piece escaped, the spaces between them kept."""
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        out.append(_escaped(text[at:start]))
        out.append(f"**{md_text(text[start:end])}**")
        at = end
    out.append(_escaped(text[at:]))
    return "".join(out)


def _escaped(piece: str) -> str:
    """`md_text` of a piece of a line, with the spaces at its ends kept (they separate it from the bold words)."""
    core = piece.strip()
    if not core:
        return " " if piece else ""
    lead = " " if piece[0].isspace() else ""
    tail = " " if piece[-1].isspace() else ""
    return lead + md_text(core) + tail
