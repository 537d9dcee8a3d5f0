"""Estimating the Fellegi–Sunter parameters from comparison patterns (pure; the I/O is in bench/).

``bench/train_matcher.py`` uses these for m and u (see its docstring for which and why): level
frequencies of labelled or random pairs, and expectation-maximisation on the blocked candidate pairs of
an unlabelled register, with u free during EM (blocked non-matches are relatives and namesakes, nothing
like random pairs, so u fixed to random-pair values drives EM into calling them matches).

Patterns are tuples of level indices (one per field) with their counts; a register of a million records
has only a few thousand distinct patterns, so EM runs in well under a second. "missing" levels never
enter a product: absent data is no evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.parties.domain.matching.comparators import MISSING, FieldSpec

Pattern = tuple[int, ...]
Table = list[list[float]]
# Pseudo-count per level: a level unseen in a sample gets a small probability, not zero (log2(0)).
SMOOTHING = 0.5


def _missing_index(spec: FieldSpec) -> int:
    return spec.levels.index(MISSING)


def level_frequencies(
    patterns: Mapping[Pattern, float], fields: Sequence[FieldSpec], smoothing: float = SMOOTHING
) -> Table:
    """Per field, the share of each level among pairs where the field is not missing (smoothed).

    The "missing" level gets 1.0 as a placeholder: it never enters a product.
    """
    counts = [[0.0] * len(spec.levels) for spec in fields]
    for pattern, count in patterns.items():
        for f, level in enumerate(pattern):
            counts[f][level] += count
    table: Table = []
    for spec, row in zip(fields, counts, strict=True):
        gap = _missing_index(spec)
        total = sum(c for i, c in enumerate(row) if i != gap) + smoothing * (len(row) - 1)
        table.append([1.0 if i == gap else (c + smoothing) / total for i, c in enumerate(row)])
    return table


@dataclass(frozen=True, slots=True)
class EMResult:
    m: Table
    u: Table
    prior: float
    iterations: int
    converged: bool


def expectation_maximisation(
    patterns: Mapping[Pattern, float],
    fields: Sequence[FieldSpec],
    m: Table,
    u: Table,
    prior: float,
    *,
    fix_u: bool = True,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
    smoothing: float = SMOOTHING,
) -> EMResult:
    """EM for the two-class mixture under conditional independence of fields given the class.

    ``m``, ``u`` and ``prior`` are the starting point; with ``fix_u`` only m and the prior are updated.
    Converged means no m probability and not the prior moved by more than ``tolerance`` in an iteration.
    """
    gaps = [_missing_index(spec) for spec in fields]
    items = list(patterns.items())
    total = sum(c for _, c in items)
    m = [row[:] for row in m]
    u = [row[:] for row in u]
    iterations = 0
    converged = False
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        m_acc = [[0.0] * len(spec.levels) for spec in fields]
        u_acc = [[0.0] * len(spec.levels) for spec in fields]
        matched = 0.0
        for pattern, count in items:
            lm, lu = prior, 1.0 - prior
            for f, level in enumerate(pattern):
                if level != gaps[f]:
                    lm *= m[f][level]
                    lu *= u[f][level]
            g = lm / (lm + lu) if lm + lu > 0 else 0.0
            matched += count * g
            for f, level in enumerate(pattern):
                m_acc[f][level] += count * g
                u_acc[f][level] += count * (1.0 - g)
        new_prior = matched / total if total else prior
        new_m = _normalise(m_acc, gaps, smoothing)
        new_u = u if fix_u else _normalise(u_acc, gaps, smoothing)
        delta = max(
            abs(new_prior - prior),
            max(abs(a - b) for ra, rb in zip(new_m, m, strict=True) for a, b in zip(ra, rb, strict=True)),
        )
        m, u, prior = new_m, new_u, new_prior
        if delta < tolerance:
            converged = True
            break
    return EMResult(m=m, u=u, prior=prior, iterations=iterations, converged=converged)


def posterior(pattern: Pattern, fields: Sequence[FieldSpec], m: Table, u: Table, prior: float) -> float:
    """P(same party | pattern) under the mixture: what EM's E-step computes for one pattern."""
    lm, lu = prior, 1.0 - prior
    for f, level in enumerate(pattern):
        if fields[f].levels[level] != MISSING:
            lm *= m[f][level]
            lu *= u[f][level]
    return lm / (lm + lu) if lm + lu > 0 else 0.0


def _normalise(acc: Table, gaps: Sequence[int], smoothing: float) -> Table:
    out: Table = []
    for row, gap in zip(acc, gaps, strict=True):
        total = sum(c for i, c in enumerate(row) if i != gap) + smoothing * (len(row) - 1)
        out.append([1.0 if i == gap else (c + smoothing) / total for i, c in enumerate(row)])
    return out


def starting_m(fields: Sequence[FieldSpec]) -> Table:
    """A neutral EM start: most mass on the first (best) level, decreasing geometrically.

    Only the direction matters (matches agree more than non-matches); EM does the rest.
    """
    table: Table = []
    for spec in fields:
        gap = _missing_index(spec)
        raw = [0.0 if i == gap else 0.5**i for i in range(len(spec.levels))]
        s = sum(raw)
        table.append([1.0 if i == gap else r / s for i, r in enumerate(raw)])
    return table
