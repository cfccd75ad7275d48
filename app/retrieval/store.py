"""Chroma, embedded (a persistent folder) or a server (`chroma run`): one collection per project and embedder.

**Scope costs nothing at query time.** Each project has its own collection (`labbook-p<id>-<hash>`), so a
query never filters by project: it cannot see another project's chunks, and Chroma's HNSW stays at its unfiltered
speed (a metadata filter on a shared collection made a 2%-match query four times slower than exact search). The
hash covers the project's slug and creation time (two databases can share a server) and the embedder's name, which
keeps vectors of two models apart; `reindex` fills a new one.

**Recall is a setting.** HNSW parameters are fixed when a collection is created (`HNSW`, below): cosine space,
`max_neighbors` 32 and `ef_construction` 200 for a well-connected graph, and `ef_search` 100. `bench/retrieval.py`
prints the recall-latency curve: at 100,000 real embeddings recall@10 is 0.998 at ef_search 50, 0.999 at 100 and
1.000 from 200 up, while Chroma's p95 against exact numpy's is 0.40 at 50 and 100 and 0.54 at 200; 100 keeps the
recall with the speed. Chroma reads `ef_search` when it opens a collection, so a change applies to new collections
and after a restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from app.errors import ConfigInvalid, RetrievalUnavailable
from app.retrieval.chunks import Chunk
from app.retrieval.embedder import Vectors

logger = logging.getLogger(__name__)

HNSW: dict[str, Any] = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 100}
Where = dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    metadata: Mapping[str, Any]
    similarity: float  # cosine similarity, 1 = same direction; 0 for a keyword-only hit


def collection_name(project_id: int, identity: str, embedder: str) -> str:
    """`identity` tells this project from another with the same ID (another database on the same Chroma server, or
    a project made again after a delete): its slug and creation time."""
    digest = hashlib.sha256(f"{identity}\n{embedder}".encode()).hexdigest()[:16]
    return f"labbook-p{project_id}-{digest}"


class VectorStore:
    """The Chroma client of this process. Every call raises RetrievalUnavailable when Chroma cannot answer."""

    def __init__(self, *, path: Path | None = None, url: str | None = None, hnsw: Mapping[str, Any] | None = None):
        self._path, self._url = path, url
        self._hnsw = {**HNSW, **(hnsw or {})}
        self._client: Any = None
        self._lock = threading.Lock()
        self._collections: dict[str, Any] = {}

    @property
    def where(self) -> str:
        return self._url or str(self._path)

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
                try:
                    if self._url:
                        parsed = urlparse(self._url)
                        if parsed.scheme not in ("http", "https") or not parsed.hostname:
                            raise ConfigInvalid(f"LABBOOK_CHROMA_URL {self._url!r} is not an http(s) URL")
                        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
                        self._client = chromadb.HttpClient(
                            host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings
                        )
                    else:
                        assert self._path is not None
                        self._path.mkdir(parents=True, exist_ok=True)
                        self._client = chromadb.PersistentClient(path=str(self._path), settings=settings)
                except ConfigInvalid:
                    raise
                except Exception as exc:
                    raise RetrievalUnavailable(f"Chroma at {self.where} cannot be reached: {exc}") from exc
        return self._client

    def _collection(self, name: str, *, create: bool) -> Any:
        if name in self._collections:
            return self._collections[name]
        client = self._connect()
        try:
            if create:
                collection = client.get_or_create_collection(
                    name, configuration={"hnsw": dict(self._hnsw)}, embedding_function=None
                )
            else:
                collection = client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if not create and _is_missing(exc):
                return None
            raise RetrievalUnavailable(f"Chroma at {self.where}: {exc}") from exc
        self._collections[name] = collection
        return collection

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self._collections.clear()  # a server restarted or a collection dropped: look it up again next time
            raise RetrievalUnavailable(f"Chroma at {self.where} failed to {what}: {exc}") from exc

    # --- writes ---------------------------------------------------------------------------------------------------

    def hashes(self, name: str, *, source: str) -> dict[str, str]:
        """{chunk ID: sha256} of the chunks stored for one source."""
        collection = self._collection(name, create=True)
        got = self._call("read", collection.get, where={"source": source}, include=["metadatas"])
        return {i: str((m or {}).get("sha256", "")) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}

    def upsert(self, name: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if not chunks:
            return
        collection = self._collection(name, create=True)
        self._call(
            "write",
            collection.upsert,
            ids=[c.id for c in chunks],
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=[c.text for c in chunks],
            metadatas=[dict(c.metadata) for c in chunks],
        )

    def update_metadata(self, name: str, chunks: Sequence[Chunk]) -> None:
        """Chunks whose text (and so vector) is unchanged but whose metadata moved (a new version, an approach)."""
        if not chunks:
            return
        collection = self._collection(name, create=True)
        self._call("write", collection.update, ids=[c.id for c in chunks], metadatas=[dict(c.metadata) for c in chunks])

    def delete(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection = self._collection(name, create=True)
        self._call("delete", collection.delete, ids=list(ids))

    def drop(self, name: str) -> None:
        client = self._connect()
        self._collections.pop(name, None)
        try:
            client.delete_collection(name)
        except Exception as exc:
            if not _is_missing(exc):
                raise RetrievalUnavailable(f"Chroma at {self.where} failed to drop {name}: {exc}") from exc

    def count(self, name: str) -> int:
        collection = self._collection(name, create=False)
        return 0 if collection is None else int(self._call("count", collection.count))

    # --- reads ----------------------------------------------------------------------------------------------------

    def sources(self, name: str) -> set[str]:
        """Every source key with chunks in the collection (read in pages)."""
        collection = self._collection(name, create=False)
        if collection is None:
            return set()
        found: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._call("read", collection.get, include=["metadatas"], limit=page, offset=offset)
            found.update(str((m or {}).get("source", "")) for m in got["metadatas"] or [])
            if len(got["ids"]) < page:
                return found - {""}
            offset += page

    def vectors(self, name: str, ids: Sequence[str]) -> dict[str, Vectors]:
        collection = self._collection(name, create=False)
        if collection is None or not ids:
            return {}
        got = self._call("read", collection.get, ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def nearest(self, name: str, vector: Vectors, *, n: int, where: Where | None = None) -> list[Hit]:
        collection = self._collection(name, create=False)
        if collection is None:
            return []
        got = self._call(
            "query",
            collection.query,
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        ids, docs, metas, dists = got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
        return [Hit(i, d or "", m or {}, 1.0 - float(x)) for i, d, m, x in zip(ids, docs, metas, dists, strict=True)]

    def with_tokens(self, name: str, tokens: Sequence[str], *, n: int, where: Where | None = None) -> list[Hit]:
        """Chunks whose exact-token list holds any of `tokens` (lower-cased), in no particular order."""
        collection = self._collection(name, create=False)
        if collection is None or not tokens:
            return []
        match: Where = (
            {"tokens": {"$contains": tokens[0]}}
            if len(tokens) == 1
            else {"$or": [{"tokens": {"$contains": t}} for t in tokens]}
        )
        combined = match if not where else {"$and": [match, where]}
        got = self._call("read", collection.get, where=combined, limit=n, include=["documents", "metadatas"])
        docs, metas = got["documents"] or [], got["metadatas"] or []
        return [Hit(i, d or "", m or {}, 0.0) for i, d, m in zip(got["ids"], docs, metas, strict=True)]

    def with_terms(
        self, name: str, stems: Sequence[str], *, n: int, where: Where | None = None
    ) -> dict[str, list[Hit]]:
        """Per word stem, up to `n` chunks holding it (Chroma's metadata index, no vector search)."""
        collection = self._collection(name, create=False)
        if collection is None:
            return {}
        out: dict[str, list[Hit]] = {}
        for one in stems:
            match: Where = {"terms": {"$contains": one}}
            combined = match if not where else {"$and": [match, where]}
            got = self._call("read", collection.get, where=combined, limit=n, include=["documents", "metadatas"])
            docs, metas = got["documents"] or [], got["metadatas"] or []
            out[one] = [Hit(i, d or "", m or {}, 0.0) for i, d, m in zip(got["ids"], docs, metas, strict=True)]
        return out

    def matching(self, name: str, *, where: Where, n: int) -> list[Hit]:
        """Chunks whose metadata matches `where` (no vector search), in no particular order."""
        collection = self._collection(name, create=False)
        if collection is None:
            return []
        got = self._call("read", collection.get, where=where, limit=n, include=["documents", "metadatas"])
        docs, metas = got["documents"] or [], got["metadatas"] or []
        return [Hit(i, d or "", m or {}, 0.0) for i, d, m in zip(got["ids"], docs, metas, strict=True)]


def _is_missing(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "notfound" in text.replace(" ", "") or "does not exist" in text or "not found" in text


_stores: dict[tuple[str, str], VectorStore] = {}
_stores_lock = threading.Lock()


def open_store(*, path: Path | None, url: str | None) -> VectorStore:
    """The process's store for a folder or a server URL (one Chroma client each)."""
    key = (str(path or ""), url or "")
    with _stores_lock:
        if key not in _stores:
            _stores[key] = VectorStore(path=path, url=url)
        return _stores[key]
