"""Memory: every brain dump, log entry and document indexed in Chroma, searched by meaning and by exact token.

SQL is the source of truth; the index is derived from it and may lag. A stored dump or entry queues an `index` item
in the outbox in its own transaction (so nothing is lost), and the outbox worker indexes it: it reads the source
from SQL, cuts it into chunks, embeds only the chunks whose content hash the index does not hold yet, and deletes
chunks the source no longer has. A request never waits for the index, and never fails because it is down: the item
is retried with the outbox's backoff. `reindex` rebuilds a project from SQL. Index items are not write-backs: the
outbox's listing leaves them out, and a pending one counts as "not indexed yet" in search answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import cast

from sqlmodel import Session

from app.config import Settings
from app.errors import InputInvalid, LabbookError, NotFound, RetrievalOff
from app.retrieval import priority
from app.retrieval.chunks import (
    Chunk,
    Source,
    chunks_of,
    entry_source_key,
    log_source_key,
    whole_chunk,
)
from app.retrieval.embedder import Embedder, get_embedder
from app.retrieval.jargon import spelled_out
from app.retrieval.store import VectorStore, collection_name, open_store
from app.services import index_queue
from app.services import outbox as outbox_service
from app.services.analysis import project_findings, recent_findings
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import outbox as outbox_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.models import Entry, OutboxItem, Project, Run, SessionLog

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
    embedder = get_embedder(
        settings.embedding_model,
        url=settings.embedding_url,
        api_key=settings.embedding_api_key,
        threads=settings.embedding_threads or None,
    )
    return Memory(open_store(path=path, url=settings.chroma_url), embedder, settings.related_min_similarity)


def require(settings: Settings) -> Memory:
    memory = memory_for(settings)
    if memory is None:
        raise RetrievalOff("search is off on this service (LABBOOK_RETRIEVAL=off)")
    return memory


def project_or_404(session: Session, slug: str) -> Project:
    project = project_store.get_project_by_slug(session, slug)
    if project is None:
        raise NotFound(f"no project '{slug}'", field="project")
    return project


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
    relate: Callable[[Session, int], str] | None = None,
) -> outbox_service.Delivery:
    """The outbox writer of `index` items: bring one source's chunks in the index to its state in SQL. For a dump,
    `relate(session, log_id)` then gives its entry the related prior work found now that the index holds every
    earlier session (`entries.attach_related`), so a brain dump's request never waits on the embedding model."""
    memory = memory_for(settings)
    if memory is None:
        return 0, "retrieval is off: not indexed"
    # The embedding model yields the cores to requests (app/retrieval/priority.py); the worker's own SQL does not.
    with priority.background(settings.index_nice), sessions() as session:
        counts = index_sources(session, memory, project_id=project_id, keys=[run_id])
        outcome = f"indexed {counts.chunks} chunks ({counts.embedded} embedded, {counts.deleted} removed)"
        kind, _, raw = run_id.partition(":")
        if relate is not None and kind == LOG and raw.isdigit():
            outcome += f"; {relate(session, int(raw))}"
        session.commit()
    return 0, outcome


def index_sources(session: Session, memory: Memory, *, project_id: int, keys: Sequence[str]) -> IndexCounts:
    """Index the named sources (`log:<id>`, `entry:<id>`) of one project; a source gone from SQL loses its chunks.
    The sources are read first and the transaction ends before anything is embedded, so no lock (SQLite's write
    lock, for a writer's session) is held while the model runs."""
    project = project_store.get_project(session, project_id)
    counts = IndexCounts()
    if project is None:
        return counts
    vocabulary, approaches = _project_words(session, project)
    name = memory.collection(project)
    wanted = [(key, _chunks(session, project, key, memory, vocabulary, approaches)) for key in keys]
    session.commit()
    for key, chunks in wanted:
        _write(memory, name, key, chunks, counts)
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


def _project_words(session: Session, project: Project, *, recent: bool = True) -> tuple[set[str], dict[str, str]]:
    """The project's vocabulary (parameter names, run names, run IDs) and each run's approach, as of a recent
    analysis (`recent_findings`): every dump moves the project's revision, and analysing the whole project again
    for each dump's index job would cost more than indexing it. A rebuild (`recent=False`) reads them as stored now."""
    vocabulary: set[str] = set()
    for key, run_id, name, _metrics, params in run_store.run_rows(session, project_id=cast(int, project.id)):
        vocabulary.update(p.lower() for p in params)
        vocabulary.update(v.lower() for v in (key, run_id, name) if v)
    try:
        read = recent_findings if recent else project_findings
        findings = read(session, project=project)
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
    vocabulary, approaches = _project_words(session, project, recent=False)
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
