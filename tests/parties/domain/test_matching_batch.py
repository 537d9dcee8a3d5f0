"""Blocking, the check on create, batch clustering, known-not-duplicates and progress reporting."""

from __future__ import annotations

import json
import random
from datetime import date

from services.parties.domain.identifiers import make_inn
from services.parties.domain.matching import (
    BlockIndex,
    Decision,
    Features,
    Matcher,
    MatchRecord,
    NameFrequencies,
    Thresholds,
    blocking_keys,
    candidate_pairs,
    find_duplicates,
    organization_record,
    person_record,
)

MATCHER = Matcher()
BORN = date(1980, 5, 17)


def ivanov(pid: str, **kw: object) -> MatchRecord:
    base: dict[str, object] = {
        "last_name": "Иванов",
        "first_name": "Иван",
        "patronymic": "Петрович",
        "birth_date": BORN,
        "phones": ["+79161234567"],
    }
    base.update(kw)
    return person_record(pid, **base)  # type: ignore[arg-type]


def shares_a_block(a: MatchRecord, b: MatchRecord) -> bool:
    ka, kb = blocking_keys(a), blocking_keys(b)
    return bool(ka.probe & kb.index or kb.probe & ka.index)


# --- blocking ------------------------------------------------------------------------------------


def test_probe_keys_are_index_keys_and_dated_people_do_not_probe_by_name_alone() -> None:
    keys = blocking_keys(ivanov("a"))
    assert keys.probe <= keys.index
    assert any(k.startswith("p:n:") for k in keys.index - keys.probe)
    undated = blocking_keys(ivanov("b", birth_date=None))
    assert any(k.startswith("p:n:") for k in undated.probe)


def test_kinds_never_share_a_block() -> None:
    p = person_record("p", last_name="Ромашка", phones=["+74951234567"])
    o = organization_record("o", legal_name="Ромашка", phones=["+74951234567"])
    assert not blocking_keys(p).index & blocking_keys(o).index


def test_corrupted_copies_share_a_block_with_the_original() -> None:
    original = ivanov("a", emails=["ivan.ivanov@mail.ru"], identifiers=[("SNILS", "11223344595")])
    copies = [
        ivanov("b", last_name="Ivanov", first_name="Ivan", phones=[]),  # transliterated, phone dropped
        ivanov("c", last_name="Иваноф", phones=[]),  # surname typo
        ivanov("d", first_name="Ивн", phones=[]),  # first-name typo
        ivanov("e", birth_date=date(1980, 5, 18), phones=[]),  # birth date typo
        ivanov("f", birth_date=date(1908, 5, 17), phones=[]),  # year typo
        ivanov("g", last_name="Иван", first_name="Иванов", phones=[]),  # swapped
        ivanov("h", birth_date=None, phones=[]),  # no birth date
        ivanov("i", last_name="Ivanv", first_name="Ivan", birth_date=None, phones=[]),  # typo, no date
        ivanov("j", last_name="X", first_name="Y", birth_date=None, phones=[], emails=["IVAN.IVANOV@MAIL.RU"]),
        ivanov(
            "k", last_name="X", first_name="Y", birth_date=None, phones=[], identifiers=[("SNILS", "112-233-445 95")]
        ),
    ]
    for copy in copies:
        assert shares_a_block(original, copy), copy.party_id


def test_block_index_finds_candidates_and_reports_oversized_blocks() -> None:
    index = BlockIndex(max_block_size=3)
    for i in range(5):  # five namesakes sharing a switchboard number
        index.add(person_record(f"n{i}", last_name="Петров", first_name=f"Имя{'абвгд'[i]}", phones=["+74951234567"]))
    target = ivanov("a")
    index.add(target)
    found, oversized = index.candidates(ivanov("new", phones=["+74951234567"]))
    assert [f.party_id for f in found] == ["a"]
    assert [(b.key, b.size) for b in oversized] == [("p:t:+74951234567", 5)]
    assert index.frequencies.total("person") == 6


def test_batch_candidate_pairs_are_unique_and_ordered() -> None:
    feats = [Features(r) for r in (ivanov("a"), ivanov("b"), ivanov("c", last_name="Сидоров"))]
    left, right, oversized = candidate_pairs(feats)
    pairs = list(zip(left, right, strict=True))
    assert sorted(pairs) == [(0, 1), (0, 2), (1, 2)]  # c shares the phone
    assert oversized == []
    _, _, capped = candidate_pairs(feats, max_block_size=2)
    assert {b.key for b in capped} >= {"p:t:+79161234567"}


# --- the check on create -------------------------------------------------------------------------


def test_check_refuses_a_strong_duplicate_and_explains_it() -> None:
    index = BlockIndex()
    index.extend([ivanov("a"), person_record("b", last_name="Сидоров", first_name="Олег", birth_date=BORN)])
    result = MATCHER.check_in(ivanov("new", last_name="Ivanov", first_name="Ivan"), index)
    assert result.decision == Decision.DUPLICATE
    assert [p.right_id for p in result.pairs] == ["a"]
    assert result.compared >= 1
    data = json.loads(json.dumps(result.to_dict()))
    assert data["pairs"][0]["decision"] == "duplicate"


def test_check_skips_itself_the_other_kind_and_known_distinct_pairs() -> None:
    me = ivanov("a")
    candidates = [me, ivanov("b"), organization_record("o", legal_name="Иванов", phones=["+79161234567"])]
    result = MATCHER.check(me, candidates, known_distinct={frozenset({"a", "b"})})
    assert result.pairs == ()
    assert result.decision == Decision.DISTINCT
    assert result.compared == 0


def test_check_reports_possible_duplicates_between_the_thresholds() -> None:
    a, b = ivanov("a"), ivanov("b")
    score = MATCHER.compare(a, b).score
    matcher = Matcher(thresholds=Thresholds(match=score + 5, possible=score - 5))
    assert matcher.check(a, [b]).decision == Decision.POSSIBLE_DUPLICATE


# --- batch ---------------------------------------------------------------------------------------


def test_clusters_of_copies_and_nothing_for_distinct_people() -> None:
    records = [
        ivanov("a1"),
        ivanov("a2", last_name="Ivanov", first_name="Ivan", phones=[]),
        ivanov("a3", birth_date=date(1980, 17 % 12, 17), emails=["ivanov@mail.ru"]),
        person_record("b1", last_name="Сидорова", first_name="Анна", birth_date=date(1990, 1, 2)),
        person_record("b2", last_name="Smith", first_name="John", birth_date=date(1970, 3, 4)),
        organization_record("o1", legal_name="ООО «Ромашка»", identifiers=[("INN", "7707083893")]),
        organization_record("o2", legal_name="Romashka LLC", identifiers=[("INN", "7707083893")]),
    ]
    result = find_duplicates(records)
    assert [c.members for c in result.clusters] == [("a1", "a2", "a3"), ("o1", "o2")]
    assert all(p.decision == Decision.DUPLICATE for c in result.clusters for p in c.pairs)
    assert result.stats["records"] == 7
    json.dumps(result.to_dict())


def test_known_distinct_pairs_are_never_reported_nor_joined_through_a_third_record() -> None:
    records = [ivanov("a"), ivanov("b"), ivanov("c")]
    result = find_duplicates(records, known_distinct={frozenset({"a", "b"})})
    for cluster in result.clusters:
        assert not {"a", "b"} <= set(cluster.members)
    reported = {frozenset((p.left_id, p.right_id)) for p in result.possible_pairs}
    reported |= {frozenset((p.left_id, p.right_id)) for c in result.clusters for p in c.pairs}
    assert frozenset({"a", "b"}) not in reported
    assert result.stats["known_distinct_skipped"] == 1


def test_a_weak_link_does_not_chain_two_clusters() -> None:
    """Two different Ivan Ivanovs, each entered twice, and an undated record that shares a phone with one
    and an e-mail with the other: the records the model scores as clearly different veto the merge, and
    the refused link goes to review instead."""
    a1 = person_record(
        "a1", last_name="Иванов", first_name="Иван", patronymic="Петрович", birth_date=date(1975, 2, 3),
        identifiers=[("SNILS", "11223344595")], phones=["+79161111111"],
    )  # fmt: skip
    a2 = person_record("a2", last_name="Ivanov", first_name="Ivan", patronymic="Petrovich", phones=["+79161111111"])
    b1 = person_record(
        "b1", last_name="Иванов", first_name="Иван", patronymic="Сергеевич", birth_date=date(1990, 8, 9),
        identifiers=[("SNILS", "12345678964")], emails=["ivan.ivanov@mail.ru"],
    )  # fmt: skip
    b2 = person_record(
        "b2", last_name="Иванов", first_name="Иван", patronymic="Сергеевич", emails=["ivan.ivanov@mail.ru"]
    )
    bridge = person_record(
        "x", last_name="Иванов", first_name="Иван", phones=["+79161111111"], emails=["ivan.ivanov@mail.ru"]
    )
    result = find_duplicates([a1, a2, b1, b2, bridge])
    clusters = [set(c.members) for c in result.clusters]
    assert {"a1", "a2"} in [c - {"x"} for c in clusters]
    assert {"b1", "b2"} in [c - {"x"} for c in clusters]
    assert result.stats["refused_cluster_edges"] >= 1
    refused = [p for p in result.possible_pairs if "x" in (p.left_id, p.right_id)]
    assert refused and all(p.decision == Decision.POSSIBLE_DUPLICATE for p in refused)


def test_two_inns_never_share_a_cluster() -> None:
    same = {"last_name": "Иванов", "first_name": "Иван", "patronymic": "Петрович", "birth_date": BORN}
    inn_a, inn_b = (make_inn("person", random.Random(seed)) for seed in (1, 2))
    a = person_record("a", identifiers=[("INN", inn_a)], **same)  # type: ignore[arg-type]
    b = person_record("b", identifiers=[("INN", inn_b)], **same)  # type: ignore[arg-type]
    c = person_record("c", **same)  # type: ignore[arg-type]
    assert a.identifiers and b.identifiers
    result = find_duplicates([a, b, c])
    assert all(not {"a", "b"} <= set(cl.members) for cl in result.clusters)
    pair = next(p for p in result.possible_pairs if {p.left_id, p.right_id} == {"a", "b"})
    assert pair.decision == Decision.POSSIBLE_DUPLICATE


def test_only_matches_make_cluster_edges() -> None:
    a, b = ivanov("a"), ivanov("b")
    score = MATCHER.compare(a, b, frequencies=NameFrequencies.of([Features(a), Features(b)])).score
    matcher = Matcher(thresholds=Thresholds(match=score + 1, possible=score - 1))
    result = find_duplicates([a, b], matcher)
    assert result.clusters == ()
    assert [(p.left_id, p.right_id, p.decision) for p in result.possible_pairs] == [
        ("a", "b", Decision.POSSIBLE_DUPLICATE)
    ]


def test_progress_is_reported_per_stage_up_to_the_total() -> None:
    events: list[tuple[str, int, int]] = []
    find_duplicates([ivanov("a"), ivanov("b"), ivanov("c")], progress=lambda *e: events.append(e))
    stages = [s for s, _, _ in events]
    assert stages.index("features") < stages.index("blocking") < stages.index("scoring") < stages.index("clustering")
    finals = {s: (d, t) for s, d, t in events}
    assert all(done == total for done, total in finals.values())
    assert finals["features"] == (3, 3)
