"""Chunks: IDs that lead back to their source, pieces of one idea each, exact tokens, and the hybrid ranking."""

from __future__ import annotations

from datetime import date

from app.retrieval.chunks import Source, chunks_of, content_stems, exact_tokens, split_text, stem, whole_chunk
from app.retrieval.jargon import spelled_out
from app.retrieval.rank import fuse, lexical, snippet
from app.retrieval.store import Hit


def _source(text: str, **kw: object) -> Source:
    return Source(
        key="log:7", kind="log", project="churn", day=date(2026, 10, 3), parts=[("text", text)], log_id=7, **kw
    )  # type: ignore[arg-type]


def test_chunk_ids_name_their_source_and_carry_its_metadata() -> None:
    chunks = chunks_of(
        _source(
            "rf with 500 trees overfit the holdout badly.\nxgb max_depth=6 did better on val auc.",
            run_ids=["abc123"],
            approaches={"abc123": "boosting"},
        ),
        embedder="m",
    )
    assert [c.id for c in chunks] == ["log:7:text:0", "log:7:text:1"]
    meta = chunks[1].metadata
    assert meta["source"] == "log:7" and meta["log_id"] == 7 and meta["day"] == "2026-10-03"
    assert meta["day_num"] == 20261003 and meta["approaches"] == ["boosting"]
    assert "max_depth=6" in meta["tokens"] and "max_depth" in meta["tokens"]  # type: ignore[operator]


def test_a_changed_text_changes_only_its_chunk_hash() -> None:
    before = chunks_of(_source("first line stays the same here.\nsecond line says one thing."), embedder="m")
    after = chunks_of(_source("first line stays the same here.\nsecond line says another thing."), embedder="m")
    assert before[0].sha256 == after[0].sha256
    assert before[1].sha256 != after[1].sha256


def test_long_lines_are_cut_at_sentence_ends_and_short_ones_joined() -> None:
    long_line = " ".join(f"Sentence number {i} says something about the model." for i in range(40))
    pieces = split_text(long_line + "\nok\nthe last line is long enough to stand alone.")
    assert len(pieces) > 2
    assert all(len(p.split()) <= 40 for p in pieces)
    assert all(p.endswith(".") for p in pieces[:-1])
    assert not any(p == "ok" for p in pieces)


def test_exact_tokens_are_identifier_like_words_and_the_projects_vocabulary() -> None:
    tokens = exact_tokens("Tried lr=0.01 on rf-500-trees with dropout, run 9f8e7d6c", vocabulary={"dropout"})
    assert {"lr=0.01", "lr", "rf-500-trees", "dropout", "9f8e7d6c"} <= set(tokens)
    assert "tried" not in tokens and "with" not in tokens


def test_shorthand_is_spelled_out_for_the_embedding_only() -> None:
    assert spelled_out("RF overfit, lr too high") == "RF overfit, lr too high (random forest; learning rate)"
    assert spelled_out("nothing to spell") == "nothing to spell"


def test_hyphenated_shorthand_is_read_whole_then_by_part() -> None:
    assert spelled_out("emb 32 for the high-card ids") == "emb 32 for the high-card ids (embedding; high cardinality)"
    assert spelled_out("rf-500-trees won") == "rf-500-trees won (random forest)"
    # A word that only contains shorthand is not shorthand: "card" in a payments project stays a card.
    assert spelled_out("card-present payments") == "card-present payments"


def test_a_word_found_by_its_stem_counts_and_a_token_outranks_a_near_meaning() -> None:
    leaked = Hit("log:3:text:0", "target encoding leaked the label", {"source": "log:3"}, 0.1)
    assert stem("leakage") == stem("leaked") == stem("leaks") == "leak"
    assert stem("overfitting") == stem("overfits") == "overfit"
    assert lexical(content_stems("the leakage"), leaked) == 1.0
    assert lexical(content_stems("calibration"), leaked) == 0.0
    # A rare word counts for more than a common one.
    both = content_stems("label calibration")
    assert lexical(both, leaked, {"label": 3.0, "calibr": 1.0}) == 0.75
    # A long query word inside a longer word of the passage counts half; a short one not at all.
    sarimax = Hit("log:3:text:0", "sarimax with temperature", {"terms": ["sarimax", "temperatur"]}, 0.3)
    assert lexical(["forest"], Hit("log:4:text:0", "iforest", {"terms": ["iforest"]}, 0.3)) == 0.5
    assert lexical(["arima"], sarimax) == 0.0
    assert lexical(["temperatur", "sarimax"], sarimax) == 1.0
    near = Hit("log:1:text:0", "close in meaning", {"source": "log:1", "log_id": 1, "kind": "log"}, 0.6)
    exact = Hit("log:2:text:0", "holds max_depth", {"source": "log:2", "log_id": 2, "kind": "log"}, 0.45)
    groups = fuse([near, exact], [exact], ["max_depth"])
    assert [g.key for g in groups] == ["log:2", "log:1"]
    assert groups[0].keyword and not groups[1].keyword


def test_the_whole_dump_is_one_more_chunk_when_it_has_several_lines() -> None:
    source = _source("\n".join(f"line {i} says a thing about the model and its features." for i in range(8)))
    whole = whole_chunk(source, embedder="m")
    assert whole is not None and whole.id == "log:7:all:0"
    assert whole_chunk(_source("one short line only."), embedder="m") is None


def test_a_session_is_one_hit_however_many_chunks_match() -> None:
    hits = [
        Hit("log:1:text:0", "a", {"source": "log:1", "log_id": 1, "kind": "log"}, 0.50),
        Hit("entry:9:conclusions:0", "b", {"source": "entry:9", "log_id": 1, "entry_id": 9, "kind": "log_entry"}, 0.49),
        Hit("log:2:text:0", "c", {"source": "log:2", "log_id": 2, "kind": "log"}, 0.55),
    ]
    assert [g.key for g in fuse(hits, [])] == ["log:2", "log:1"]


def test_a_snippet_is_cut_around_the_first_match_with_its_spans() -> None:
    text = "word " * 100 + "the leakage was found " + "tail " * 100
    cut, spans = snippet(text, ["leakage"])
    assert len(cut) <= 250
    assert [cut[s:e] for s, e in spans] == ["leakage"]
