"""The Fellegi–Sunter model and its estimation, and the purity of the matching package."""

from __future__ import annotations

import ast
import math
import random
from collections import Counter
from pathlib import Path

import pytest

import services.parties.domain.matching as matching
from services.parties.domain.matching import (
    KindModel,
    NameFrequencies,
    Scorer,
    match_probability,
    person_record,
)
from services.parties.domain.matching.comparators import MISSING, FieldSpec
from services.parties.domain.matching.estimation import (
    expectation_maximisation,
    level_frequencies,
    starting_m,
)
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.matcher import default_model
from tests.parties.domain.test_purity import FORBIDDEN

FIELDS = (
    FieldSpec("name", ("exact", "typo", "different", MISSING)),
    FieldSpec("date", ("exact", "different", MISSING)),
    FieldSpec("phone", ("exact", "different", MISSING)),
)
TRUE_M = [[0.85, 0.1, 0.05, 1.0], [0.9, 0.1, 1.0], [0.7, 0.3, 1.0]]
TRUE_U = [[0.02, 0.08, 0.9, 1.0], [0.01, 0.99, 1.0], [0.001, 0.999, 1.0]]
MISSING_RATE = (0.05, 0.2, 0.4)


def sample(rng: random.Random, table: list[list[float]]) -> tuple[int, ...]:
    levels = []
    for f, row in enumerate(table):
        if rng.random() < MISSING_RATE[f]:
            levels.append(len(row) - 1)
            continue
        x, acc = rng.random(), 0.0
        for i, p in enumerate(row[:-1]):
            acc += p
            if x < acc:
                levels.append(i)
                break
        else:
            levels.append(len(row) - 2)
    return tuple(levels)


def test_level_frequencies_ignore_missing_and_smooth() -> None:
    table = level_frequencies(Counter({(0, 0, 2): 3, (2, 1, 0): 1}), FIELDS, smoothing=0.0)
    assert table[0][:3] == [0.75, 0.0, 0.25]
    assert table[2][:2] == [1.0, 0.0]  # only one pair had a phone on both sides
    smoothed = level_frequencies(Counter({(0, 0, 2): 3}), FIELDS)
    assert all(p > 0 for row in smoothed for p in row)


def test_em_recovers_known_parameters_from_unlabelled_patterns() -> None:
    rng = random.Random(5)
    prior = 0.2
    patterns = Counter(sample(rng, TRUE_M if rng.random() < prior else TRUE_U) for _ in range(60_000))
    fitted = expectation_maximisation(patterns, FIELDS, starting_m(FIELDS), TRUE_U, prior=0.5)
    assert fitted.converged
    assert fitted.prior == pytest.approx(prior, abs=0.01)
    for f, row in enumerate(TRUE_M):
        for level, p in enumerate(row[:-1]):
            assert fitted.m[f][level] == pytest.approx(p, abs=0.02), (f, level)


def test_weights_are_log_likelihood_ratios_and_missing_weighs_nothing() -> None:
    model = default_model().kinds["person"]
    for spec, m_row, u_row, w_row in zip(model.fields, model.m, model.u, model.weights, strict=True):
        for level, m, u, w in zip(spec.levels, m_row, u_row, w_row, strict=True):
            assert w == (0.0 if level == MISSING else pytest.approx(math.log2(m / u)))


def test_prior_falls_as_the_register_grows() -> None:
    model = default_model().kinds["person"]
    assert model.prior_weight_for(2 * model.reference_size) == pytest.approx(model.prior_weight - 1, abs=0.01)
    with pytest.raises(ValueError):
        KindModel("person", 0.0, 10, model.m, model.u)


def test_rare_names_weigh_more_than_common_ones() -> None:
    firsts = ("Иван", "Пётр", "Олег", "Юрий", "Глеб")
    common = [Features(person_record(f"c{i}", last_name="Иванов", first_name=firsts[i % 5])) for i in range(5000)]
    rare = [Features(person_record(f"r{i}", last_name="Преображенский", first_name="Иван")) for i in range(2)]
    freq = NameFrequencies.of(common + rare)
    model = default_model().kinds["person"]
    levels = (0, 0, 4, 4, 2, 3, 3, 7)  # surname and first name exact, everything else missing

    def surname_weight(scorer: Scorer, a: Features, b: Features) -> float:
        return next(c.weight for c in scorer.explain(a, b, levels) if c.field == "last_name")

    adjusted, plain = Scorer(model, freq), Scorer(model)
    assert surname_weight(adjusted, *rare) > surname_weight(plain, *rare)
    assert surname_weight(adjusted, common[0], common[5]) < surname_weight(plain, common[0], common[5])
    assert adjusted.score(*rare, levels) > adjusted.score(common[0], common[5], levels)


def test_small_batches_do_not_make_names_look_common() -> None:
    a, b = (Features(person_record(x, last_name="Иванов", first_name="Иван")) for x in "ab")
    model = default_model().kinds["person"]
    levels = (0, 0, 4, 4, 2, 3, 3, 7)
    small = Scorer(model, NameFrequencies.of([a, b])).score(a, b, levels)
    assert small == pytest.approx(Scorer(model).score(a, b, levels), abs=1.0)


def test_probability_follows_the_score() -> None:
    assert match_probability(0) == 0.5
    assert match_probability(10) == pytest.approx(1024 / 1025)
    assert match_probability(100) == 1.0
    assert match_probability(-100) == 0.0


def test_the_matching_package_imports_nothing_from_the_edges() -> None:
    offenders: list[str] = []
    root = Path(matching.__file__).parent
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN | {"bench", "crm"}]
    assert offenders == []
    assert (root / "params.json").is_file()
