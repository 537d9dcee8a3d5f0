"""Blocking: which pairs are worth comparing at all, so the work grows with the register, not its square.

Each record gets a few keys; only records sharing a key are compared. The keys are chosen so that a
true duplicate keeps at least one of them under any single kind of corruption, and most under several:

* ``p:ny`` surname stem + first-name stem (as a sorted pair, so swapped order agrees) + birth year:
  survives transliteration, gender form, patronymic, day/month swap and day or month typos;
* ``p:nd`` the same names + day and month as a sorted pair: survives a typo in the year
  (dates in keys always carry day and month as a sorted pair, so a day/month swap keeps every key);
* ``p:xd`` each of the two name stems + birth date: survives a typo in the other name, and swapped order;
* ``p:id`` both initials + birth date: survives typos in both names (typos rarely hit the first letter);
* ``p:n``  the names alone, *asymmetric*: every person is findable by it, but only persons without a
  birth date search with it (otherwise this key alone would pair all the Ivanov Ivans of the register);
  two more asymmetric name keys, the first and the last four letters of the surname stem with the first
  initial, find the undated duplicate whose surname has a typo or whose first name is an initial;
* ``o:n``  an organization's name key (legal form and quotes stripped, transliterated);
* ``?:t`` phone, ``?:e`` e-mail, ``?:a`` address, ``?:i`` each unique identifier, for both kinds.

A key shared by more than ``max_block_size`` records (a switchboard number, "ООО Ромашка") is skipped
and reported instead of paired: its pairs would cost more than they find, and the other keys remain.
The name-only keys have their own, lower cap (``max_name_block_size``) and are skipped silently above it:
a name shared by dozens of people cannot make even a possible duplicate on its own (its weight is tiny, see
``Scorer``), so pairing an undated record with all of them would only cost time, quadratically so as the
register grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies
from services.parties.domain.matching.records import PERSON, MatchRecord
from services.parties.domain.matching.results import OversizedBlock

DEFAULT_MAX_BLOCK_SIZE = 1000
DEFAULT_MAX_NAME_BLOCK_SIZE = 30
NAME_ONLY = "p:n:"
_AFFIX = 4  # letters of the surname stem in the typo-tolerant name keys


@dataclass(frozen=True, slots=True)
class BlockingKeys:
    """``index``: keys a stored record is found by; ``probe``: keys a new record searches with.

    The store keeps ``index`` keys per party (one indexed column); checking a new record looks up its
    ``probe`` keys. ``probe`` is a subset of ``index``.
    """

    index: frozenset[str]
    probe: frozenset[str]


def _person_keys(f: Features) -> list[str]:
    keys: list[str] = []
    stems = sorted(stem for stem in (f.last_stem, f.first_stem) if stem)
    if len(stems) == 2:
        keys.append(NAME_ONLY + "|".join(stems))
    if f.last_stem and f.first_stem:
        initial = f.first_stem[:1]
        keys.append(f"{NAME_ONLY}<{f.last_stem[:_AFFIX]}|{initial}")
        keys.append(f"{NAME_ONLY}>{f.last_stem[-_AFFIX:]}|{initial}")
    if f.birth is None or not stems:
        return keys
    year, month, day = f.birth
    day_month = f"{min(month, day)}-{max(month, day)}"
    if len(stems) == 2:
        names = "|".join(stems)
        keys.append(f"p:ny:{names}:{year}")
        keys.append(f"p:nd:{names}:{day_month}")
        initials = "".join(sorted(f.last_key[:1] + f.first_key[:1]))
        keys.append(f"p:id:{initials}:{year}:{day_month}")
    keys.extend(f"p:xd:{stem}:{year}:{day_month}" for stem in dict.fromkeys(stems))
    return keys


def record_keys(f: Features) -> list[str]:
    """All index keys of a record (see the module docstring); the kind prefix keeps kinds apart."""
    prefix = "p:" if f.kind == PERSON else "o:"
    keys = _person_keys(f) if f.kind == PERSON else [f"o:n:{key}" for _, key in f.org_names]
    keys.extend(prefix + "t:" + p for p in f.phones)
    keys.extend(prefix + "e:" + e for e in f.emails)
    keys.extend(prefix + "a:" + a for a in f.addresses)
    for ids in (f.ids, f.docs):
        for id_type, values in ids.items():
            keys.extend(f"{prefix}i:{id_type}:{v}" for v in values)
    return keys


def probes_with(f: Features, key: str) -> bool:
    """Whether a record searches with one of its own index keys (all but the name-only key when dated)."""
    return f.birth is None or not key.startswith(NAME_ONLY)


def blocking_keys(record: MatchRecord | Features) -> BlockingKeys:
    """The keys to store for a party and the keys to look candidates up by when it is created."""
    f = record if isinstance(record, Features) else Features(record)
    index = frozenset(record_keys(f))
    return BlockingKeys(index=index, probe=frozenset(k for k in index if probes_with(f, k)))


class BlockIndex:
    """An in-memory register index: blocking key -> records, for checking one record at a time.

    What the service does with its database (an indexed key column), done with a dict; used by tests,
    the benchmark, and any caller that holds a register slice in memory.
    """

    def __init__(
        self, max_block_size: int = DEFAULT_MAX_BLOCK_SIZE, max_name_block_size: int = DEFAULT_MAX_NAME_BLOCK_SIZE
    ) -> None:
        self.max_block_size = max_block_size
        self.max_name_block_size = max_name_block_size
        self._blocks: dict[str, list[Features]] = {}
        self._count = 0
        self.frequencies = NameFrequencies()

    def __len__(self) -> int:
        return self._count

    def add(self, record: MatchRecord | Features) -> Features:
        f = record if isinstance(record, Features) else Features(record)
        for key in record_keys(f):
            block = self._blocks.get(key)
            if block is None:
                self._blocks[key] = [f]
            else:
                block.append(f)
        self._count += 1
        self.frequencies.add(f)
        return f

    def extend(self, records: Iterable[MatchRecord | Features]) -> None:
        for record in records:
            self.add(record)

    def candidates(self, record: MatchRecord | Features) -> tuple[list[Features], list[OversizedBlock]]:
        """Records sharing a probe key with ``record`` (itself excluded), and the keys skipped as oversized."""
        f = record if isinstance(record, Features) else Features(record)
        seen: dict[str, Features] = {}
        oversized: list[OversizedBlock] = []
        for key in record_keys(f):
            if not probes_with(f, key):
                continue
            block = self._blocks.get(key)
            if not block:
                continue
            if key.startswith(NAME_ONLY):
                if len(block) > self.max_name_block_size:
                    continue
            elif len(block) > self.max_block_size:
                oversized.append(OversizedBlock(key, len(block)))
                continue
            for other in block:
                if other.party_id != f.party_id:
                    seen[other.party_id] = other
        return list(seen.values()), oversized


def candidate_pairs(
    features: Sequence[Features],
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    max_name_block_size: int = DEFAULT_MAX_NAME_BLOCK_SIZE,
) -> tuple[list[int], list[int], list[OversizedBlock]]:
    """All candidate pairs of a batch as two parallel lists of indices (left < right), each pair once.

    Done in polars (a group-by and a join in Rust) because a million records make some ten million
    (key, record) rows, which Python dicts and sets handle several times slower and larger. Each block
    pairs its probing records with all its records, so an asymmetric block costs probes x size.
    """
    import polars as pl  # imported here: only batch runs need it, and it is slow to import

    keys: list[str] = []
    rows: list[int] = []
    probe: list[bool] = []
    for i, f in enumerate(features):
        undated = f.birth is None
        for key in record_keys(f):
            keys.append(key)
            rows.append(i)
            probe.append(undated or not key.startswith(NAME_ONLY))
    table = pl.DataFrame(
        {"key": keys, "row": rows, "probe": probe},
        schema={"key": pl.String, "row": pl.UInt32, "probe": pl.Boolean},
    )
    del keys, rows, probe
    sizes = (
        table.group_by("key")
        .agg(pl.len().alias("size"), pl.col("probe").any().alias("probed"))
        .filter((pl.col("size") > 1) & pl.col("probed"))
        .with_columns(
            pl.when(pl.col("key").str.starts_with(NAME_ONLY))
            .then(pl.lit(max_name_block_size))
            .otherwise(pl.lit(max_block_size))
            .alias("limit")
        )
    )
    big = sizes.filter((pl.col("size") > pl.col("limit")) & ~pl.col("key").str.starts_with(NAME_ONLY))
    oversized = [
        OversizedBlock(k, int(n)) for k, n in big.sort("size", descending=True).select("key", "size").iter_rows()
    ]
    kept = table.join(sizes.filter(pl.col("size") <= pl.col("limit")).select("key"), on="key", how="semi")
    probes = kept.filter(pl.col("probe")).select("key", "row")
    pairs = (
        probes.join(kept.select("key", pl.col("row").alias("other")), on="key")
        .filter(pl.col("row") != pl.col("other"))
        .select(pl.min_horizontal("row", "other").alias("a"), pl.max_horizontal("row", "other").alias("b"))
        .unique()
    )
    return pairs["a"].to_list(), pairs["b"].to_list(), oversized
