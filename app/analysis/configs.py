"""Configurations: normalised parameter values, diffs, and each run's closest earlier configuration.

A configuration is a run's parameters without its seed keys and without values that mean "not set" ("", "None",
"nan", ...), so a pasted table's blank cell and an MLflow run's `None` agree. Values are compared normalised:
stripped, booleans lowercased, numbers canonical ("0.10" == "0.1" == "1e-1"); diffs report the values as stored.

The closest earlier configuration is the earlier run differing in the fewest keys (a key one run lacks counts as a
difference; ties go to the most recent). Exact matches come from one hash map. Runs one change away come from
leave-one-out maps: each earlier configuration is also stored once per key with that key left out, so a neighbour
differing in one value, one extra key or one missing key is found in about `params` lookups. Only when nothing is
within one change is a bounded search run over the last `SEARCH_WINDOW` runs of the same group (model family), most
recent first, then the last `SEARCH_WINDOW` earlier runs of any group: an older run two or more changes away may be
missed, by design, and among runs two or more changes away a tie goes to the same family before a more recent run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Mapping, Sequence
from functools import lru_cache
from hashlib import blake2b
from itertools import chain

from app.analysis.model import AnalysisSettings, ParamChange

Config = frozenset[tuple[str, str]]  # normalised (key, value) items

SEARCH_WINDOW = 100
_MASK = (1 << 64) - 1
NONE_MARKERS = frozenset({"", "none", "null", "nan", "na", "n/a", "nil", "-"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@lru_cache(maxsize=65536)
def normalise_value(raw: str) -> str:
    """The comparable form of a parameter value; "" when it means "not set"."""
    text = raw.strip()
    lowered = text.lower()
    if lowered in NONE_MARKERS:
        return ""
    if lowered in ("true", "false"):
        return lowered
    if _NUMBER_RE.fullmatch(text):
        number = float(text)
        return "0" if number == 0 else repr(number)
    return text


def is_numeric(value: str) -> bool:
    """Whether a normalised value is a number."""
    return _NUMBER_RE.fullmatch(value) is not None or value in ("inf", "-inf")


def seed_keys_of(params: Mapping[str, str], settings: AnalysisSettings) -> frozenset[str]:
    """The keys of `params` that name a seed (`settings.seed_keys`, matched case-insensitively)."""
    names = _lowered(settings.seed_keys)
    return frozenset(key for key in params if key.strip().lower() in names)


@lru_cache(maxsize=16)
def _lowered(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(key.lower() for key in keys)


def normalise_config(params: Mapping[str, str], seed_keys: Collection[str]) -> dict[str, str]:
    """`params` without `seed_keys` and unset values, values normalised."""
    config: dict[str, str] = {}
    for key, raw in params.items():
        if key in seed_keys:
            continue
        value = normalise_value(raw)
        if value:
            config[key] = value
    return config


def config_diff(
    before: Mapping[str, str], after: Mapping[str, str], *, ignore: Collection[str] = ()
) -> tuple[ParamChange, ...]:
    """The keys whose normalised values differ (a key absent or unset on one side differs), sorted by key, with the
    values as stored (None where the key is absent). Keys in `ignore` are skipped."""
    return diff_normalised(before, normalise_config(before, ignore), after, normalise_config(after, ignore))


def diff_normalised(
    raw_before: Mapping[str, str],
    before: Mapping[str, str],
    raw_after: Mapping[str, str],
    after: Mapping[str, str],
) -> tuple[ParamChange, ...]:
    """`config_diff` over configurations already normalised (the raw mappings give the stored values)."""
    changed = [key for key, value in before.items() if after.get(key) != value]
    changed += [key for key in after if key not in before]
    return tuple(ParamChange(key, raw_before.get(key), raw_after.get(key)) for key in sorted(changed))


def distance(a: Config, b: Config) -> int:
    """How many keys differ between two configurations."""
    return len({key for key, _ in a ^ b})


def closest_earlier(configs: Sequence[Config], groups: Sequence[Hashable]) -> list[int | None]:
    """For each configuration, the index of its closest earlier one (None for the first). `groups` (one per
    configuration, e.g. its model family) widen the bounded search; see the module docstring."""
    finder = _ClosestFinder()
    return [finder.add(i, config, group) for i, (config, group) in enumerate(zip(configs, groups, strict=True))]


class _ClosestFinder:
    """Configurations are hashed as the sum of their items' 64-bit digests, so leaving a key out is one subtraction
    instead of a new set. Digests come from blake2b (not `hash()`, which changes between processes) and every hit is
    verified against the stored configuration, so a hash collision can cost time but never a wrong answer."""

    def __init__(self) -> None:
        self.configs: list[Config] = []
        self.ids: list[frozenset[int]] = []  # each configuration as item numbers: cheap to compare in the search
        self.items: dict[tuple[str, str], tuple[int, int]] = {}  # item -> (number, digest)
        self.keys: list[str] = []  # item number -> its key
        self.exact: dict[int, int] = {}  # configuration hash -> most recent run with it
        self.one_out: dict[tuple[str, int], int] = {}  # (key, hash without that key) -> most recent run
        self.plus_one: dict[int, int] = {}  # hash with any one key left out -> most recent run
        self.by_group: dict[Hashable, list[int]] = {}

    def add(self, i: int, config: Config, group: Hashable) -> int | None:
        novel = sum(item not in self.items for item in config)  # values no earlier run has: differences from all
        parts = [(item[0], *self._item(item)) for item in config]
        whole = sum(d for _, _, d in parts) & _MASK
        rests = [(key, (whole - d) & _MASK) for key, _, d in parts]
        ids = frozenset(n for _, n, _ in parts)
        found = self._nearest(i, config, whole, rests, group, ids, novel)
        self.configs.append(config)
        self.ids.append(ids)
        self.exact[whole] = i
        for key_rest in rests:
            self.one_out[key_rest] = i
            self.plus_one[key_rest[1]] = i
        self.by_group.setdefault(group, []).append(i)
        return found

    def _item(self, item: tuple[str, str]) -> tuple[int, int]:
        if (known := self.items.get(item)) is None:
            raw = blake2b(f"{item[0]}\x00{item[1]}".encode(), digest_size=8).digest()
            known = self.items[item] = (len(self.keys), int.from_bytes(raw, "big"))
            self.keys.append(item[0])
        return known

    def _nearest(
        self,
        i: int,
        config: Config,
        whole: int,
        rests: list[tuple[str, int]],
        group: Hashable,
        ids: frozenset[int],
        novel: int,
    ) -> int | None:
        if i == 0:
            return None
        same = self.exact.get(whole)
        if same is not None and self.configs[same] == config:
            return same
        hits = {self.plus_one.get(whole, -1)}  # an earlier run with one more key
        for key_rest in rests:  # one value changed, or one key missing
            hits.update((self.one_out.get(key_rest, -1), self.exact.get(key_rest[1], -1)))
        for j in sorted(hits - {-1}, reverse=True):  # the most recent first; more than one check means a collision
            if distance(config, self.configs[j]) == 1:
                return j
        return self._search(i, ids, group, max(2, novel))

    def _search(self, i: int, ids: frozenset[int], group: Hashable, floor: int) -> int:
        """The closest among the group's last runs (most recent first), then the last runs of any group; a tie
        keeps the first found, so a run of the same family wins over a more recent run of another. `floor` is a
        distance no earlier run can beat (nothing is within one change, and a value no earlier run has differs from
        all of them), so the search stops at the first run that close."""
        family = self.by_group.get(group, [])[-SEARCH_WINDOW:]
        seen = set(family)
        recent = (j for j in range(i - 1, max(-1, i - 1 - SEARCH_WINDOW), -1) if j not in seen)
        best, best_d = i - 1, len(ids) + len(self.ids[i - 1]) + 1
        keys = self.keys
        for j in chain(reversed(family), recent):
            differing = ids ^ self.ids[j]
            if (len(differing) + 1) // 2 >= best_d:  # a changed key contributes two items, a missing one one item
                continue
            d = len({keys[n] for n in differing})
            if d < best_d:
                best, best_d = j, d
                if d <= floor:
                    break
        return best
