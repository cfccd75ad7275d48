"""Memory: every brain dump, log entry and document indexed in Chroma, searched by meaning and by exact token.

SQL is the source of truth; the index is derived from it and may lag. A stored dump or entry queues an `index` item
in the outbox in its own transaction (so nothing is lost), and the outbox worker indexes it: it reads the source
from SQL, cuts it into chunks, embeds only the chunks whose content hash the index does not hold yet, and deletes
chunks the source no longer has. A request never waits for the index, and never fails because it is down: the item
is retried with the outbox's backoff. `reindex` rebuilds a project from SQL. Index items are not write-backs: the
outbox's listing leaves them out, and a pending one counts as "not indexed yet" in search answers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, cast

from sqlmodel import Session

from app.compose.contract import EarlierDocument
from app.compose.documents.schemas import TriedMention
from app.compose.escape import md_text
from app.compose.log_entry.schema import RelatedWork
from app.config import Settings
from app.errors import InputInvalid, LabbookError, NotFound, RetrievalUnavailable
from app.retrieval import rank
from app.retrieval.chunks import (
    Chunk,
    Source,
    chunks_of,
    content_stems,
    entry_source_key,
    log_source_key,
    whole_chunk,
)
from app.retrieval.embedder import Embedder, get_embedder
from app.retrieval.jargon import spelled_out
from app.retrieval.store import Hit, VectorStore, collection_name, open_store
from app.services import index_queue
from app.services import outbox as outbox_service
from app.services.analysis import project_findings
from app.services.schemas import SearchHit, SearchPage
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import outbox as outbox_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.models import Entry, OutboxItem, Project, Run, SessionLog

logger = logging.getLogger(__name__)

LOG = "log"
_LOG_ENTRY_SECTIONS = ("hypothesis", "observations", "conclusions", "did_not_work", "open_questions", "next_steps")


@dataclass(frozen=True)
class Memory:
    """The index of this process: where its vectors live and which model makes them."""

    store: VectorStore
    embedder: Embedder
    related_min_similarity: float

    def collection(self, project: Project) -> str:
        identity = f"{project.slug}@{project.created_at.isoformat()}"
        return collection_name(cast(int, project.id), identity, self.embedder.name)


_active: Memory | None = None


def configure(settings: Settings | None) -> None:
    """The process's index for the features that consult it while composing (related prior work, "tried?");
    called at start-up. Retrieval off (or None): none."""
    global _active
    _active = memory_for(settings) if settings is not None else None


def active() -> Memory | None:
    return _active


def memory_for(settings: Settings) -> Memory | None:
    """The configured index, or None when retrieval is off."""
    if settings.retrieval == "off":
        return None
    path = None if settings.chroma_url else settings.data_dir / "chroma"
    embedder = get_embedder(settings.embedding_model, url=settings.embedding_url, api_key=settings.embedding_api_key)
    return Memory(open_store(path=path, url=settings.chroma_url), embedder, settings.related_min_similarity)


# --- indexing -------------------------------------------------------------------------------------------------------


@dataclass
class IndexCounts:
    sources: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks whose text was new or changed
    deleted: int = 0


def index_writer(
    sessions: outbox_service.SessionFactory,
    settings: Settings,
    *,
    project_id: int,
    run_id: str,
    items: Sequence[OutboxItem],
) -> outbox_service.Delivery:
    """The outbox writer of `index` items: bring one source's chunks in the index to its state in SQL."""
    memory = memory_for(settings)
    if memory is None:
        return 0, "retrieval is off: not indexed"
    with sessions() as session:
        counts = index_sources(session, memory, project_id=project_id, keys=[run_id])
    return 0, f"indexed {counts.chunks} chunks ({counts.embedded} embedded, {counts.deleted} removed)"


def index_sources(session: Session, memory: Memory, *, project_id: int, keys: Sequence[str]) -> IndexCounts:
    """Index the named sources (`log:<id>`, `entry:<id>`) of one project; a source gone from SQL loses its chunks."""
    project = project_store.get_project(session, project_id)
    counts = IndexCounts()
    if project is None:
        return counts
    vocabulary, approaches = _project_words(session, project)
    name = memory.collection(project)
    for key in keys:
        _write(memory, name, key, _chunks(session, project, key, memory, vocabulary, approaches), counts)
        counts.sources += 1
    return counts


def _chunks(
    session: Session, project: Project, key: str, memory: Memory, vocabulary: set[str], approaches: dict[str, str]
) -> list[Chunk]:
    source = _source(session, project, key, approaches)
    if source is None:
        return []
    chunks = chunks_of(source, embedder=memory.embedder.name, vocabulary=vocabulary)
    whole = whole_chunk(source, embedder=memory.embedder.name, vocabulary=vocabulary) if source.kind == LOG else None
    return [*chunks, whole] if whole else chunks


def _write(memory: Memory, name: str, key: str, chunks: list[Chunk], counts: IndexCounts) -> None:
    held = memory.store.hashes(name, source=key)
    wanted = {c.id: c for c in chunks}
    stale = [i for i in held if i not in wanted]
    changed = [c for c in chunks if held.get(c.id) != c.sha256]
    same = [c for c in chunks if held.get(c.id) == c.sha256]
    if changed:
        memory.store.upsert(name, changed, memory.embedder.embed([spelled_out(c.text) for c in changed]))
    memory.store.update_metadata(name, same)  # a new version number or approach, the same vector
    memory.store.delete(name, stale)
    counts.chunks += len(chunks)
    counts.embedded += len(changed)
    counts.deleted += len(stale)


def _project_words(session: Session, project: Project) -> tuple[set[str], dict[str, str]]:
    """The project's vocabulary (parameter names, run names, run IDs) and each run's approach."""
    vocabulary: set[str] = set()
    for key, run_id, name, _metrics, params in run_store.run_rows(session, project_id=cast(int, project.id)):
        vocabulary.update(p.lower() for p in params)
        vocabulary.update(v.lower() for v in (key, run_id, name) if v)
    try:
        findings = project_findings(session, project=project)
        approaches = {run: a.name for a in findings.approaches for run in a.run_ids}
    except LabbookError:
        approaches = {}
    return {v for v in vocabulary if len(v) >= 3}, approaches


def _source(session: Session, project: Project, key: str, approaches: dict[str, str]) -> Source | None:
    kind, _, raw = key.partition(":")
    if not raw.isdigit():
        raise InputInvalid(f"index source {key!r} is not log:<id> or entry:<id>", field="source")
    if kind == LOG:
        log = log_store.get_log(session, int(raw))
        if log is None or log.project_id != project.id:
            return None
        entry_id = entry_store.entry_ids_by_log(session, [int(raw)]).get(int(raw))
        return log_source(project, log, entry_id=entry_id, approaches=approaches)
    entry = entry_store.get_entry(session, int(raw))
    if entry is None or entry.project_id != project.id:
        return None
    log = log_store.get_log(session, entry.log_id) if entry.log_id is not None else None
    day = log.session_date if log else entry.created_at.date()
    source = entry_source(project, entry, day=day, approaches=approaches)
    if entry.kind == "log_entry" and entry.run_ids:
        runs = run_store.get_runs_by_keys(session, project_id=entry.project_id, keys=list(entry.run_ids))
        lines = [_run_line(runs[k]) for k in entry.run_ids if k in runs]
        if lines:
            source = replace(source, parts=[*source.parts, ("runs", "\n".join(lines))])
    return source


def _run_line(run: Run) -> str:
    """A cited run as one line of its session: its name, parameters and metrics, so a query naming a parameter or a
    value finds the session that ran it, even where the dump never wrote it."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(run.params.items()))
    metrics = ", ".join(f"{k}={v:g}" for k, v in sorted(run.metrics.items()))
    name = run.run_name or run.run_id or run.key
    return f"run {name}: {params}" + (f"; {metrics}" if metrics else "")


def log_source(project: Project, log: SessionLog, *, entry_id: int | None, approaches: dict[str, str]) -> Source:
    parts = [("text", log.text)]
    if log.run_table and log.run_table.strip():
        parts.append(("run_table", log.run_table))
    return Source(
        key=log_source_key(cast(int, log.id)),
        kind=LOG,
        project=project.slug,
        day=log.session_date,
        parts=parts,
        log_id=log.id,
        entry_id=entry_id,
        run_ids=list(log.run_refs),
        approaches=approaches,
    )


def entry_source(project: Project, entry: Entry, *, day: date, approaches: dict[str, str]) -> Source:
    """A log entry section by section (its own words, a section a chunk or more); a document by its Markdown
    sections, cut at its `##` headings."""
    if entry.kind == "log_entry":
        parts = [("tldr", str(entry.body.get("tldr", "")))]
        for section in _LOG_ENTRY_SECTIONS:
            items = entry.body.get(section) or []
            text = "\n".join(str(i.get("text", "")) for i in items if isinstance(i, dict))
            if text.strip():
                parts.append((section, text))
        experiments = entry.body.get("experiments") or []
        lines = [
            " ".join(dict.fromkeys(str(e.get(k) or "") for k in ("run_name", "ref", "change") if e.get(k))).strip()
            for e in experiments
            if isinstance(e, dict)
        ]
        if any(lines):
            parts.append(("experiments", "\n".join(line for line in lines if line)))
    else:
        parts = list(_markdown_sections(entry.markdown))
    return Source(
        key=entry_source_key(cast(int, entry.id)),
        kind=entry.kind,
        project=project.slug,
        day=day,
        parts=parts,
        log_id=entry.log_id,
        entry_id=entry.id,
        version=entry.version,
        run_ids=list(entry.run_ids),
        approaches=approaches,
    )


def _markdown_sections(markdown: str) -> Iterator[tuple[str, str]]:
    n, lines = 0, list[str]()
    for line in markdown.splitlines():
        if line.startswith("## ") and lines:
            yield f"s{n}", "\n".join(lines)
            n, lines = n + 1, []
        if line.strip() and not line.startswith("#") and not set(line.strip()) <= set("|-: "):
            lines.append(line.strip().lstrip("-* ").strip())
    if lines:
        yield f"s{n}", "\n".join(lines)


def reindex(
    session: Session, memory: Memory, *, project: Project, progress: Callable[[int, int], None] | None = None
) -> IndexCounts:
    """Rebuild the project's index from SQL: every dump and entry (unchanged chunks are not embedded again),
    chunks of sources that no longer exist dropped, and the project's pending index items settled."""
    project_id = cast(int, project.id)
    keys = [log_source_key(i) for i in log_store.log_ids(session, project_id=project_id)]
    keys += [entry_source_key(i) for i in entry_store.entry_ids(session, project_id=project_id)]
    vocabulary, approaches = _project_words(session, project)
    name = memory.collection(project)
    counts = IndexCounts()
    known = set(keys)
    for n, key in enumerate(keys, 1):
        _write(memory, name, key, _chunks(session, project, key, memory, vocabulary, approaches), counts)
        counts.sources += 1
        if progress:
            progress(n, len(keys))
    orphans = [s for s in memory.store.sources(name) if s not in known]
    for key in orphans:
        _write(memory, name, key, [], counts)
    outbox_store.delete_pending(session, project_id=project_id, kind=index_queue.INDEX)
    session.commit()
    return counts


def drop_project(memory: Memory, *, project: Project) -> None:
    memory.store.drop(memory.collection(project))


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


def require(settings: Settings) -> Memory:
    memory = memory_for(settings)
    if memory is None:
        raise RetrievalUnavailable("retrieval is off on this service (LABBOOK_RETRIEVAL=off)")
    return memory


def project_or_404(session: Session, slug: str) -> Project:
    project = project_store.get_project_by_slug(session, slug)
    if project is None:
        raise NotFound(f"no project '{slug}'", field="project")
    return project


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


# --- related prior work ---------------------------------------------------------------------------------------------

RELATED_MAX = 3
RELATED_MARGIN = 0.1  # how far above the project's background an earlier session must be
BACKGROUND_MIN = 3  # earlier sessions it takes to tell a background


def related_for(session: Session, *, project: Project, text: str, log_id: int | None, day: date) -> list[RelatedWork]:
    """Earlier sessions and documents of the project close in meaning to the dump `text`: each piece of the dump is
    a query; an earlier source counts by its best passage, and only at or above the similarity threshold. Later
    sessions, the dump itself and sources deleted since they were indexed are left out. Never raises: with the index
    off, down or slow the entry is composed without them."""
    memory = _active
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
    memory = _active
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
    memory = _active
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
