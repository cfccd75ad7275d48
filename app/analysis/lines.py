"""Lines of work in an experiment loop: what each change was about, in the words a data scientist groups them by.

An agent's log (or any history whose runs describe their change) is one long list of single changes. A reader
groups them by what they touch: the optimisation and its schedule, regularisation and augmentation, the
architecture and its capacity, the features and data, the objective, precision and speed. A change's line is read
from its description and the parameters it changed (`lr=3e-4`, "swap GELU for SwiGLU", "add lag features"): the
theme with the most of its words, the first named on a tie. The baseline and rows that only change the seed are a
line of their own; a change no theme names is "other".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.analysis.model import Findings, RunView
from app.parsing.agent import read_change

__all__ = ["BASELINE_LINE", "OTHER_LINE", "THEMES", "LineOfWork", "line_of", "lines_of_work"]

BASELINE_LINE = "baseline and seed repeats"
OTHER_LINE = "other"

_WORD_RE = re.compile(r"[a-z]+\d*|\d+")  # "fp16", "l2" and "bf16" stay whole
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")

# Theme -> its words (single word parts; two-word phrases joined by a space). Order breaks ties.
THEMES: Mapping[str, frozenset[str]] = {
    "optimisation and schedule": frozenset(
        (
            "lr learning rate eta warmup warm schedule scheduler cosine decay anneal annealing cycle onecycle "
            "optimizer optimiser optim adam adamw muon sgd lion momentum nesterov beta beta1 beta2 eps batch "
            "accum accumulation grad clip clipping epochs epoch steps iters iterations ema lookahead lamb warmdown "
            "cooldown"
        ).split()
    ),
    "regularisation and augmentation": frozenset(
        (
            "regularisation regularization reg l1 l2 lambda alpha weight_decay wd dropout drop smoothing mixup "
            "cutmix cutout augment augmentation augmentations aug specaugment randaugment jitter flip crop noise "
            "stochastic zloss penalty entropy erasing perturbation rotation blur"
        ).split()
        + ["weight decay", "weight_decay", "label smoothing", "z loss", "drop path", "speed perturbation"]
    ),
    "architecture and capacity": frozenset(
        (
            "layer layers n_layer depth deeper shallower width wider narrower embd embedding embeddings dim hidden "
            "heads head attention attn rotary rope alibi gelu swiglu relu silu activation norm layernorm rmsnorm "
            "qk tie untie tied residual block blocks channels kernel conv transformer mlp ffn params net network "
            "trunk init initialization initialisation "
            "capacity units leaves leaf trees estimators experts moe gru lstm encoder decoder backbone freeze "
            "unfreeze softcap"
        ).split()
        + ["model size", "model_size"]
    ),
    "features and data": frozenset(
        (
            "feature features lag lags rolling holiday calendar encoding encode onehot categorical category target "
            "tokenizer vocab sequence seq context length data dataset sampling sample negatives filter dedup "
            "resolution window lookback history normalise normalize scaling scale observation bucket buckets"
        ).split()
    ),
    "objective and loss": frozenset(
        (
            "loss objective focal tweedie huber poisson reward advantage gae clip_range weighting weights kl "
            "target_kl vf vf_coef ent_coef policy critic value_loss gae_lambda"
        ).split()
    ),
    "precision and speed": frozenset(
        (
            "fp16 bf16 fp8 fp32 tf32 amp precision compile flash memory checkpointing throughput speed fused "
            "channels_last"
        ).split()
    ),
    "decoding and inference": frozenset(
        "beam beam_size decoding decode lm_weight temperature top_k top_p length_penalty tta inference".split()
        + ["lm weight"]
    ),
}
_ALL_WORDS = frozenset(word for words in THEMES.values() for word in words)
_SEED_WORDS = frozenset({"seed", "random_seed", "random_state", "rng_seed", "np_seed", "torch_seed"})


@dataclass(frozen=True, slots=True)
class LineOfWork:
    name: str
    run_ids: tuple[str, ...]  # in history order


def _parts(text: str) -> list[str]:
    """Lower-cased word parts, in order. A key (`channels_last`, `weight_decay`) or a two-word phrase ("label
    smoothing") that a theme names is one part, taking the place of its words; a key's last part is its head noun
    (`embedding_lr` is a learning rate) and counts twice."""
    parts: list[str] = []
    for token in _TOKEN_RE.findall(text.lower()):
        if token in _ALL_WORDS:
            parts.append(token)
            continue
        words = _WORD_RE.findall(token)
        if "_" in token and words:
            words.append(words[-1])  # the head noun of a key
        parts += words
    merged: list[str] = []
    for part in parts:
        if merged and f"{merged[-1]} {part}" in _ALL_WORDS:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


def line_of(run: RunView, changed_keys: Iterable[str], *, baseline: bool = False, seed_only: bool = False) -> str:
    """The line of work a run's change belongs to: from its description (tag `change`) and the keys it changed."""
    if baseline or seed_only:
        return BASELINE_LINE
    text = " ".join([run.tags.get("change", ""), *(k for k in changed_keys if k != "change")])
    parts = _parts(text)
    if not parts:
        return OTHER_LINE
    best, best_score, best_at = OTHER_LINE, 0, len(parts)
    for theme, words in THEMES.items():
        hits = [i for i, part in enumerate(parts) if part in words]
        score = len(hits)
        at = hits[0] if hits else len(parts)
        if score > best_score or (score == best_score and score > 0 and at < best_at):
            best, best_score, best_at = theme, score, at
    return best


def _says_no_change(run: RunView) -> bool:
    """The run's description changes nothing but the seed (or it has none): a repeat, not a change tried again."""
    description = run.tags.get("change", "")
    if not description:
        return True
    assignments, words = read_change(description)
    return words is None and all(key.strip().lower() in _SEED_WORDS for key in assignments)


def lines_of_work(runs: Sequence[RunView], findings: Findings) -> list[LineOfWork]:
    """The history's runs grouped into lines of work, in the order each line first appears."""
    seed_only = {f.subject for f in findings.of_kind("seed_only_progress")}
    grouped: dict[str, list[str]] = {}
    for run in runs:
        change = findings.changes.get(run.key)
        keys = [c.key for c in change.vs_closest] if change is not None else []
        repeat = change is not None and change.closest is not None and not keys and _says_no_change(run)
        name = line_of(run, keys, baseline=run.key == findings.baseline, seed_only=run.key in seed_only or repeat)
        grouped.setdefault(name, []).append(run.key)
    return [LineOfWork(name, tuple(keys)) for name, keys in grouped.items()]
