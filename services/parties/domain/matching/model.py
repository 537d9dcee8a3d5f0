"""The Fellegi–Sunter model: per field and level, m = P(level | same party), u = P(level | different).

A pair's score is the prior log-odds plus, for each field, the match weight log2(m/u) of the level the
pair is at, so each field's contribution is a readable number of bits ("same INN: +21.7", "different
birth date: -6.2") and the total converts to a probability. "missing" levels weigh 0: absent data is no
evidence either way. The parameters are estimated by ``bench/train_matcher.py`` (see ``estimation``)
and loaded from ``params.json``; nothing here is hand-tuned.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from operator import getitem
from pathlib import Path
from typing import Any

from services.parties.domain.matching.comparators import FIELDS, MISSING, FieldSpec
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies, shared_name_key
from services.parties.domain.matching.records import ORGANIZATION, PERSON
from services.parties.domain.matching.results import Decision, FieldComparison, PairScore, Thresholds

PARAMS_PATH = Path(__file__).with_name("params.json")
FORMAT = 1
# m and u are kept inside (0, 1): a level never seen in training must not become an infinite weight.
_P_MIN = 1e-9
_P_MAX = 1 - 1e-9


def _clamp(p: float) -> float:
    return min(_P_MAX, max(_P_MIN, p))


def match_probability(score: float) -> float:
    """The posterior match probability for a score in bits (log2 odds)."""
    if score > 60:
        return 1.0
    if score < -60:
        return 0.0
    return 1.0 / (1.0 + 2.0 ** (-score))


class KindModel:
    """The model for one party kind: its fields, m/u per level, the derived weights and the prior.

    The prior is the chance that two random records of the kind are the same party. It falls as the
    register grows (twice the records, twice the namesakes), so it is stored as the rate of duplicate
    pairs per record and turned into a prior for the register size at hand (``prior_weight_for``).
    """

    __slots__ = (
        "_explained",
        "conflict_levels",
        "fields",
        "kind",
        "m",
        "pair_rate",
        "prior_weight",
        "reference_size",
        "shared_id_fields",
        "u",
        "weights",
    )

    def __init__(
        self,
        kind: str,
        pair_rate: float,
        reference_size: int,
        m: Sequence[Sequence[float]],
        u: Sequence[Sequence[float]],
    ) -> None:
        fields = FIELDS[kind]
        if len(m) != len(fields) or len(u) != len(fields):
            raise ValueError(f"{kind}: expected {len(fields)} fields")
        if pair_rate <= 0 or reference_size < 2:
            raise ValueError(f"{kind}: the pair rate must be positive and the reference size at least 2")
        self.kind = kind
        self.fields: tuple[FieldSpec, ...] = fields
        # Fields whose "exact" level means one unique identifier (INN, SNILS, passport, VAT ...) is shared.
        self.shared_id_fields = tuple(f for f, spec in enumerate(fields) if spec.name in ("identifier", "document"))
        # (field, level) meaning two different values of one lifelong unique identifier (not a document).
        self.conflict_levels = tuple(
            (f, spec.index("different")) for f, spec in enumerate(fields) if spec.name == "identifier"
        )
        self.pair_rate = pair_rate
        self.reference_size = reference_size
        self.prior_weight = self.prior_weight_for(reference_size)
        self.m = tuple(tuple(_clamp(p) for p in row) for row in m)
        self.u = tuple(tuple(_clamp(p) for p in row) for row in u)
        weights: list[list[float]] = []
        for spec, m_row, u_row in zip(fields, self.m, self.u, strict=True):
            if len(m_row) != len(spec.levels) or len(u_row) != len(spec.levels):
                raise ValueError(f"{kind}.{spec.name}: expected levels {spec.levels}")
            levels = zip(spec.levels, m_row, u_row, strict=True)
            weights.append([0.0 if level == MISSING else math.log2(mp / up) for level, mp, up in levels])
        self.weights: tuple[list[float], ...] = tuple(weights)
        # One immutable explanation line per (field, level): building an explanation allocates nothing.
        self._explained = tuple(
            tuple(FieldComparison(spec.name, level, w) for level, w in zip(spec.levels, row, strict=True))
            for spec, row in zip(fields, weights, strict=True)
        )

    def prior_weight_for(self, size: int) -> float:
        """The prior log-odds (bits) that two records of a register of ``size`` records are one party."""
        prior = _clamp(2.0 * self.pair_rate / max(1, size - 1))
        return math.log2(prior / (1 - prior))

    def shares_identifier(self, levels: Sequence[int]) -> bool:
        """Whether the pair shares a unique identifier: never left unreviewed, whatever the other fields say."""
        return any(levels[f] == 0 for f in self.shared_id_fields)

    def conflicts(self, levels: Sequence[int]) -> bool:
        """Whether the pair has two different values of one unique identifier (two INNs, two SNILS ...)."""
        return any(levels[f] == level for f, level in self.conflict_levels)

    def decide(self, thresholds: Thresholds, score: float, levels: Sequence[int]) -> Decision:
        """The decision for a scored pair, with the identifier rules of ``Thresholds.decide``."""
        return thresholds.decide(
            score, shares_identifier=self.shares_identifier(levels), conflicting_identifier=self.conflicts(levels)
        )

    def score(self, levels: Sequence[int]) -> float:
        """Prior log-odds plus the weights of the levels, in bits (no name-frequency adjustment)."""
        return self.prior_weight + sum(map(getitem, self.weights, levels))

    def explain(self, levels: Sequence[int]) -> tuple[FieldComparison, ...]:
        return tuple(map(getitem, self._explained, levels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair_rate": self.pair_rate,
            "reference_size": self.reference_size,
            "fields": {
                spec.name: {
                    level: {"m": mp, "u": up, "weight": round(w, 4)}
                    for level, mp, up, w in zip(spec.levels, m_row, u_row, w_row, strict=True)
                    if level != MISSING
                }
                for spec, m_row, u_row, w_row in zip(self.fields, self.m, self.u, self.weights, strict=True)
            },
        }

    @classmethod
    def from_dict(cls, kind: str, data: Mapping[str, Any]) -> KindModel:
        fields = data["fields"]
        m: list[list[float]] = []
        u: list[list[float]] = []
        for spec in FIELDS[kind]:
            levels = fields[spec.name]
            m.append([0.5 if lv == MISSING else float(levels[lv]["m"]) for lv in spec.levels])
            u.append([0.5 if lv == MISSING else float(levels[lv]["u"]) for lv in spec.levels])
        return cls(kind, float(data["pair_rate"]), int(data["reference_size"]), m, u)


# Name fields whose agreement is worth more for a rare name than for a common one: (field index, the
# frequency key of a record). Only the "exact" and "transliteration" levels (0 and 1) are adjusted.
_TF_FIELDS: dict[str, tuple[tuple[int, str], ...]] = {
    PERSON: ((0, "last"), (1, "first")),
    ORGANIZATION: ((0, "org"),),
}
_TF_LEVELS = 1  # levels 0..1


class Scorer:
    """Scores pairs of one kind with term-frequency adjusted name weights and a register-size prior.

    Agreeing on "Иванов" says less than agreeing on "Преображенский": with ``frequencies`` of the
    register, the u of an exact (or transliterated) name match is that name's own share of the
    register instead of the average, as in Fellegi–Sunter with term-frequency adjustment; the prior
    is the one for the register's size. Without frequencies the model's averages are used.
    """

    __slots__ = ("_cache", "_tf", "frequencies", "model", "prior_weight")

    def __init__(self, model: KindModel, frequencies: NameFrequencies | None = None) -> None:
        self.model = model
        self.frequencies = frequencies
        # Never a register smaller than the training one: a small batch (an incoming file) is not a register
        # with the training density of duplicates, and a high prior would make a shared name a duplicate.
        total = frequencies.total(model.kind) if frequencies is not None else 0
        self.prior_weight = model.prior_weight_for(max(total, model.reference_size))
        # Per adjusted field: (index, key kind, u of "the keys agree" on average)
        self._tf = tuple((f, key_kind, model.u[f][0] + model.u[f][1]) for f, key_kind in _TF_FIELDS[model.kind])
        self._cache: dict[str, float] = {}

    def _adjustment(self, key: str, u_average: float) -> float:
        bits = self._cache.get(key)
        if bits is None:
            assert self.frequencies is not None
            bits = math.log2(u_average / self.frequencies.share(key, self.model.kind, u_average))
            self._cache[key] = bits
        return bits

    def adjustments(self, a: Features, b: Features, levels: Sequence[int]) -> list[tuple[int, float]]:
        """(field index, bits) to add for names that agree and are rarer or commoner than average."""
        if self.frequencies is None:
            return []
        out: list[tuple[int, float]] = []
        for f, key_kind, u_average in self._tf:
            if levels[f] <= _TF_LEVELS:
                key = shared_name_key(key_kind, a, b)
                if key:
                    out.append((f, self._adjustment(key, u_average)))
        return out

    def score(self, a: Features, b: Features, levels: Sequence[int]) -> float:
        total = self.prior_weight + sum(map(getitem, self.model.weights, levels))
        if self.frequencies is not None:
            for f, key_kind, u_average in self._tf:
                if levels[f] <= _TF_LEVELS:
                    key = shared_name_key(key_kind, a, b)
                    if key:
                        total += self._adjustment(key, u_average)
        return total

    def explain(self, a: Features, b: Features, levels: Sequence[int]) -> tuple[FieldComparison, ...]:
        lines = list(self.model.explain(levels))
        for f, bits in self.adjustments(a, b, levels):
            line = lines[f]
            lines[f] = FieldComparison(line.field, line.level, line.weight + bits)
        return tuple(lines)

    def pair(self, a: Features, b: Features, levels: Sequence[int], score: float, decision: Decision) -> PairScore:
        return PairScore(
            a.party_id,
            b.party_id,
            self.model.kind,
            score,
            match_probability(score),
            decision,
            self.explain(a, b, levels),
        )


class MatchModel:
    """The models of both kinds plus the default thresholds, as stored in ``params.json``."""

    __slots__ = ("info", "kinds", "thresholds")

    def __init__(self, kinds: Mapping[str, KindModel], thresholds: Thresholds, info: Mapping[str, Any] | None = None):
        missing = set(FIELDS) - set(kinds)
        if missing:
            raise ValueError(f"no model for {sorted(missing)}")
        self.kinds = dict(kinds)
        self.thresholds = thresholds
        self.info = dict(info or {})

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            **self.info,
            "thresholds": {"match": self.thresholds.match, "possible": self.thresholds.possible},
            "models": {kind: model.to_dict() for kind, model in self.kinds.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported matcher parameter format {data.get('format')!r}")
        kinds = {kind: KindModel.from_dict(kind, body) for kind, body in data["models"].items() if kind in FIELDS}
        t = data["thresholds"]
        info = {k: v for k, v in data.items() if k not in ("format", "thresholds", "models")}
        return cls(kinds, Thresholds(match=float(t["match"]), possible=float(t["possible"])), info)

    @classmethod
    def load(cls, path: str | Path | None = None) -> MatchModel:
        """Read the parameters; by default the committed ``params.json`` beside this module."""
        with open(path or PARAMS_PATH, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
