"""Configurations: normalised parameter values, diffs, and each run's closest earlier configuration.

A configuration is a run's parameters without its seed keys and without values that mean "not set" ("", "None",
"nan", ...), so a pasted table's blank cell and an MLflow run's `None` agree. Values are compared normalised:
stripped, booleans lowercased, numbers canonical ("0.10" == "0.1" == "1e-1"); diffs report the values as stored.

The closest earlier configuration is the earlier run differing in the fewest keys (a key one run lacks counts as a
difference; ties go to the most recent). Exact matches come from one hash map. Runs one change away come from
leave-one-out maps: each earlier configuration is also stored once per key with that key's value wildcarded (and,
where another run's keys are one more or one fewer, with that key left out), so a neighbour differing in one value,
one extra key or one missing key is found in about `params` lookups. Only when nothing is
within one change is a bounded search run over the last `SEARCH_WINDOW` runs of the same group (model family), most
recent first, then the last `SEARCH_WINDOW` earlier runs of any group: an older run two or more changes away may be
missed, by design, and among runs two or more changes away a tie goes to the same family before a more recent run.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import chain, repeat

from app.analysis.model import AnalysisSettings, ParamChange

Config = frozenset[tuple[str, str]]  # normalised (key, value) items

SEARCH_WINDOW = 100
_MASKED_ITEMS = 1024  # up to this many items in a history, `_search` counts shared items on bit masks
_MASK = (1 << 64) - 1
NONE_MARKERS = frozenset({"", "none", "null", "nan", "na", "n/a", "nil", "-"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def normalise_value(raw: str) -> str:
    """The comparable form of a parameter value; "" when it means "not set". A plain integer (a seed, most often, so
    a new value nearly every run) is read at once, and never fills the cache of the other values."""
    if raw.isdigit() and raw.isascii():
        number = float(raw)
        return "0" if number == 0 else repr(number)
    return _normalised(raw)


@lru_cache(maxsize=65536)
def _normalised(raw: str) -> str:
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
    return _seed_keys(tuple(params), settings.seed_keys)


@lru_cache(maxsize=4096)
def _seed_keys(keys: tuple[str, ...], seed_keys: tuple[str, ...]) -> frozenset[str]:
    """Cached per key list: a project's runs share a handful of them."""
    names = {key.lower() for key in seed_keys}
    return frozenset(key for key in keys if key.strip().lower() in names)


def normalise_config(params: Mapping[str, str], seed_keys: Collection[str]) -> dict[str, str]:
    """`params` without `seed_keys` and unset values, values normalised."""
    config: dict[str, str] = {}
    for key, raw in params.items():
        if key not in seed_keys and (value := normalise_value(raw)):
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
    return tuple(ParamChange(key, raw_before.get(key), raw_after.get(key)) for key in changed_keys(before, after))


def changed_keys(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The keys whose values differ between two normalised configurations (a key one lacks differs), sorted."""
    changed = [key for key, value in before.items() if after.get(key) != value]
    changed += [key for key in after if key not in before]
    changed.sort()
    return changed


def distance(a: Config, b: Config) -> int:
    """How many keys differ between two configurations."""
    return len({key for key, _ in a ^ b})


def closest_earlier(configs: Sequence[Config], groups: Sequence[Hashable]) -> list[int | None]:
    """For each configuration, the index of its closest earlier one (None for the first). `groups` (one per
    configuration, e.g. its model family) widen the bounded search; see the module docstring."""
    finder = ClosestFinder()
    return [finder.add(config, group)[0] for config, group in zip(configs, groups, strict=True)]


# An item's number, its key's number, its digest, and its key's wildcard digest minus its digest.
_Item = tuple[int, int, int, int]


class ItemTable:
    """What the item numbers of one history stand for: item number -> key, and -> normalised value. Steps keep a
    configuration as its sorted item numbers and this table (two lists for the whole history, where a dict per run
    would cost a few hundred bytes a run)."""

    __slots__ = ("keys", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str] = []

    def config(self, numbers: Iterable[int]) -> dict[str, str]:
        """The configuration of some item numbers, as a dict."""
        keys, values = self.keys, self.values
        return {keys[n]: values[n] for n in numbers}

    def changed_keys(self, before: frozenset[int], after: Iterable[int]) -> list[str]:
        """`changed_keys` between two configurations given as item numbers: a changed value is two items only one
        side has, a key only one side has is one, both of that key."""
        return sorted(set(map(self.keys.__getitem__, before.symmetric_difference(after))))


class Items(dict[tuple[str, str], "_Item | None"]):
    """The normalised (key, value) items of one history, numbered in the order first seen, shared by its finders;
    `table` spells them out for the steps. As a dict: (key, stored or normalised value) -> item, None for a seed
    key's pair or an unset value.

    `of_params` reads a run's stored parameters: each distinct stored (key, value) pair is normalised once, and
    known pairs resolve in C (`__missing__` handles the rest), where normalising every value of every run and
    building a configuration dict per run was most of the cost of walking 100,000 runs. A stored pair and its
    normalised form map to the same item (normalising is idempotent, so a stored pair that equals some normalised
    pair has that pair's item); a seed key's pairs (`seed_names`, matched stripped and case-insensitively) are not
    kept, as seeds are often all distinct."""

    def __init__(self, seed_names: Collection[str] = ()) -> None:
        super().__init__()
        self.table = ItemTable()
        self.numbered: list[_Item] = []  # item number -> item
        self.key_numbers: dict[str, tuple[int, int]] = {}  # key -> (number, wildcard digest)
        self.seed_names = frozenset(name.lower() for name in seed_names)
        self.seed_key: dict[str, bool] = {}

    def item(self, pair: tuple[str, str]) -> _Item:
        """The item of a normalised (key, value) pair, numbered when new."""
        if (found := self.get(pair)) is None:
            found = self[pair] = self._new(pair)
        return found

    def of_params(self, params: Mapping[str, str]) -> tuple[_Item, ...]:
        """The items of a run's configuration (its parameters without seed keys or unset values), in parameter
        order."""
        return tuple(filter(None, map(self.__getitem__, params.items())))

    def __missing__(self, pair: tuple[str, str]) -> _Item | None:
        key, raw = pair
        if (seed := self.seed_key.get(key)) is None:
            seed = self.seed_key[key] = key.strip().lower() in self.seed_names
        if seed:
            return None
        if not (value := normalise_value(raw)):
            self[pair] = None
            return None
        item = self[pair] = self._new(pair) if value == raw else self.item((key, value))
        return item

    def _new(self, pair: tuple[str, str]) -> _Item:
        key, value = pair
        if (known_key := self.key_numbers.get(key)) is None:
            n = len(self.key_numbers)
            known_key = self.key_numbers[key] = (n, _digest(2 * n + 1))
        number = len(self.numbered)
        digest = _digest(2 * number)
        item = (number, known_key[0], digest, known_key[1] - digest)
        self.numbered.append(item)
        self.table.keys.append(key)
        self.table.values.append(value)
        return item


class ClosestFinder:
    """Finds each configuration's closest earlier one as configurations are added in history order.

    A configuration (one value per key) is kept as a sorted tuple of item numbers (one number per distinct (key,
    value) pair seen, from `Items`, which finders of one history share; a tuple takes a fifth of a frozenset's
    memory, and the run being added is compared as a set against it) and a frozenset of key numbers shared by all
    configurations with those keys, so a run costs memory in proportion to its own parameters, however many distinct
    values the project has (a random search gives every run fresh ones). As a changed key differs in two items and a
    key only one has in one, the distance is the items only one has plus the keys only one has, halved; for
    configurations with the same keys (most pairs) it is the keys minus the items they share. `add` returns a
    signature, the index of the first configuration equal to this one, for the callers' comparisons.

    Configurations are also hashed as the sum of their items' 56-bit digests, so leaving a key out is one
    subtraction, and wildcarding its value (adding the key's own digest instead) one more addition, instead of a new
    set; with up to 16 parameters a sum stays under 2**60, a Python int of 32 bytes rather than 40, which matters as
    the one-out map holds one per configuration and key. A digest is the top 56 bits of its item's (or key's) number
    through splitmix64: no string hashing, and unlike `hash()` the same in every process. Every hit is verified
    against the stored item numbers, so a hash collision can cost time but never a wrong answer. A run one key away
    has another key set, so those maps are only consulted, or built, for key sets that occur: most histories have
    one or a few."""

    def __init__(self, items: Items | None = None) -> None:
        self.numbering = items if items is not None else Items()
        self.ids: list[tuple[int, ...]] = []  # per configuration, its item numbers, sorted
        self.key_sets: list[frozenset[int]] = []  # per configuration, its key numbers (shared between equal sets)
        self.wholes: list[int] = []  # per configuration, its hash
        self.first: dict[tuple[int, ...], int] = {}  # item numbers -> first configuration with them (the signature)
        self.exact: dict[int, int] = {}  # configuration hash -> most recent run with it
        self.one_out: dict[int, int] = {}  # hash with one key's value wildcarded -> most recent run
        self.by_keys: dict[frozenset[int], tuple[frozenset[int], list[int]]] = {}  # key set -> (shared copy, runs)
        # key set -> (key set, key) pairs: the seen key sets that are this one plus that key
        self.grown: dict[frozenset[int], list[tuple[frozenset[int], int]]] = {}
        self.shrunk: dict[frozenset[int], list[int]] = {}  # key set -> keys that, left out, make a key set seen
        # key set -> key -> hash with that key left out -> most recent run with that key set; built when first
        # needed, then kept up to date
        self.plus_one: dict[frozenset[int], dict[int, dict[int, int]]] = {}
        self.by_group: dict[Hashable, list[int]] = {}
        self.masks: dict[int, int] = {}  # configuration -> its items as bits, once it is a candidate in `_search`

    def add(self, config: Collection[tuple[str, str]], group: Hashable) -> tuple[int | None, int]:
        """The index of the closest earlier configuration (None for the first), and the configuration's signature."""
        known = len(self.numbering.numbered)
        return self.add_items(tuple(map(self.numbering.item, config)), group, known)

    def add_items(self, items: tuple[_Item, ...], group: Hashable, known: int) -> tuple[int | None, int]:
        """`add` for a configuration's items from `self.numbering`; `known` is how many items the table had before
        them (those numbered from `known` on are values no earlier run has). The configuration's sorted item
        numbers are then `self.ids[-1]`."""
        i = len(self.ids)
        numbers, key_numbers, digests, swaps = zip(*items, strict=True) if items else ((), (), (), ())
        ids, whole = frozenset(numbers), sum(digests)
        ordered = tuple(sorted(numbers))
        if (signature := self.first.setdefault(ordered, i)) != i:
            ordered = self.ids[signature]  # one tuple for the runs of one configuration
        key_set = frozenset(key_numbers)
        if (same_keys := self.by_keys.get(key_set)) is None:
            same_keys = self._new_key_set(key_set)
        key_set = same_keys[0]  # the shared copy, so equal key sets are the same object
        wildcards = [whole + s for s in swaps]
        found = self._nearest(i, ids, ordered, key_set, whole, items, wildcards, group, known)
        self.ids.append(ordered)
        self.key_sets.append(key_set)
        self.wholes.append(whole if signature == i else self.wholes[signature])  # one int for equal hashes
        self.exact[whole] = i
        one_out = self.one_out
        for wildcard in wildcards:
            one_out[wildcard] = i
        same_keys[1].append(i)
        for key, table in self.plus_one.get(key_set, {}).items():
            table[whole - digests[key_numbers.index(key)]] = i
        self.by_group.setdefault(group, []).append(i)
        return found, signature

    def _new_key_set(self, key_set: frozenset[int]) -> tuple[frozenset[int], list[int]]:
        same_keys: tuple[frozenset[int], list[int]] = (key_set, [])
        self.by_keys[key_set] = same_keys
        self.shrunk.clear()
        for key in key_set:
            self.grown.setdefault(key_set - {key}, []).append((key_set, key))
        return same_keys

    def _nearest(
        self,
        i: int,
        ids: frozenset[int],
        ordered: tuple[int, ...],
        key_set: frozenset[int],
        whole: int,
        items: tuple[_Item, ...],
        wildcards: list[int],
        group: Hashable,
        known: int,
    ) -> int | None:
        if i == 0:
            return None
        if len(self.numbering.numbered) - known > 1:  # two values no earlier run has: nothing is within one change
            return self._search(i, ids, key_set, group, known)
        same = self.exact.get(whole)
        if same is not None and self.ids[same] == ordered:
            return same
        hits = set(map(self.one_out.get, wildcards, repeat(-1)))  # one value changed
        for key in self._shrunk(key_set, items):  # one key missing
            digest = next(d for _, k, d, _ in items if k == key)
            hits.add(self.exact.get(whole - digest, -1))
        for larger, key in self.grown.get(key_set, ()):  # one key more
            hits.add(self._without(larger, key).get(whole, -1))
        hits.discard(-1)
        for j in sorted(hits, reverse=True):  # the most recent first; more than one check means a collision
            if self._distance(j, ids, key_set) == 1:
                return j
        return self._search(i, ids, key_set, group, known)

    def _shrunk(self, key_set: frozenset[int], items: tuple[_Item, ...]) -> list[int]:
        """The keys that, left out, make a key set seen (cached until a new key set is seen)."""
        if (keys := self.shrunk.get(key_set)) is None:
            keys = self.shrunk[key_set] = [k for _, k, _, _ in items if key_set - {k} in self.by_keys]
        return keys

    def _without(self, key_set: frozenset[int], key: int) -> dict[int, int]:
        """Hash with `key` left out -> most recent run, over the runs with `key_set`."""
        tables = self.plus_one.setdefault(key_set, {})
        if (table := tables.get(key)) is None:
            table = tables[key] = {}
            numbered = self.numbering.numbered
            for j in self.by_keys[key_set][1]:
                left_out = next(d for _, k, d, _ in map(numbered.__getitem__, self.ids[j]) if k == key)
                table[self.wholes[j] - left_out] = j
        return table

    def _distance(self, j: int, ids: frozenset[int], key_set: frozenset[int]) -> int:
        other = self.key_sets[j]
        return (len(ids.symmetric_difference(self.ids[j])) + (0 if other is key_set else len(key_set ^ other))) >> 1

    def _search(self, i: int, ids: frozenset[int], key_set: frozenset[int], group: Hashable, known: int) -> int:
        """The closest among the group's last runs (most recent first), then the last runs of any group; a tie
        keeps the first found, so a run of the same family wins over a more recent run of another.

        Items numbered `known` or more are values no earlier run has, so the items a run shares with an earlier one
        are among the `old` rest. `floor` is a distance no earlier run can beat (nothing is within one change, and a
        novel value differs from all), so the search stops at the first run that close.

        While the history has at most `_MASKED_ITEMS` items (most projects: a few hundred), the items two
        configurations share are counted on bit masks, an `&` and a bit count instead of building a set; a
        configuration's mask is made when it is first a candidate and kept. A random search numbers new items every
        run, and its masks would grow with the history: there the sets are intersected."""
        novel = len(self.numbering.numbered) - known
        floor, old = max(2, novel), frozenset([n for n in ids if n < known]) if novel else ids
        family = self.by_group.get(group, [])[-SEARCH_WINDOW:]
        all_ids, key_sets, n = self.ids, self.key_sets, len(ids)
        best, best_d = i - 1, n + len(all_ids[i - 1]) + 1
        if known > _MASKED_ITEMS:
            for j in chain(reversed(family), _others(i, family)):
                if (other := key_sets[j]) is key_set:
                    d = n - len(old.intersection(all_ids[j]))
                else:
                    d = (n + len(all_ids[j]) - 2 * len(old.intersection(all_ids[j])) + len(key_set ^ other)) >> 1
                if d < best_d:
                    best, best_d = j, d
                    if d <= floor:
                        break
            return best
        mine, masks = _mask(old), self.masks
        for j in chain(reversed(family), _others(i, family)):
            if (mask := masks.get(j)) is None:
                mask = masks[j] = _mask(all_ids[j])
            if (other := key_sets[j]) is key_set:
                d = n - (mine & mask).bit_count()
            else:
                d = (n + len(all_ids[j]) - 2 * (mine & mask).bit_count() + len(key_set ^ other)) >> 1
            if d < best_d:
                best, best_d = j, d
                if d <= floor:
                    break
        return best


def _mask(numbers: Iterable[int]) -> int:
    """Item numbers as the bits of an int."""
    return sum(map((1).__lshift__, numbers))


def _others(i: int, family: list[int]) -> Iterator[int]:
    """The last `SEARCH_WINDOW` runs before `i` not in `family`, most recent first (lazily: the search often stops
    within the family)."""
    seen = set(family)
    for j in range(i - 1, max(-1, i - 1 - SEARCH_WINDOW), -1):
        if j not in seen:
            yield j


def _digest(n: int) -> int:
    """The top 56 bits of splitmix64 of `n`: item numbers are even, key numbers odd, so their digests differ."""
    z = (n + 1) * 0x9E3779B97F4A7C15 & _MASK
    z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9 & _MASK
    z = (z ^ z >> 27) * 0x94D049BB133111EB & _MASK
    return (z ^ z >> 31) >> 8
