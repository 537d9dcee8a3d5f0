"""Survivorship rules in isolation: which value a merge keeps per field, and which items move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.parties.domain.survivorship import (
    FieldValue,
    ItemKey,
    ItemRef,
    decide_fields,
    plan_item_moves,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fv(value: object, minutes: int = 0, source: str = "crm-ui") -> FieldValue:
    return FieldValue(value, T0 + timedelta(minutes=minutes), source)


def test_equal_values_need_no_decision_and_gaps_are_filled() -> None:
    survivor = {"person.name.last_name": fv("Иванов"), "person.gender": fv("male")}
    merged = {"person.name.last_name": fv("Иванов", 5), "person.name.patronymic": fv("Петрович")}
    decisions = decide_fields(survivor, merged)
    assert [(d.field, d.taken_from, d.rule) for d in decisions] == [
        ("person.gender", "survivor", "only_value"),
        ("person.name.patronymic", "merged", "only_value"),
    ]


def test_most_recent_then_trusted_source_then_survivor_rule() -> None:
    survivor = {"person.birth_date": fv("1979-03-05", 0, "dms")}
    merged = {"person.birth_date": fv("1979-05-03", 10, "web")}
    assert decide_fields(survivor, merged)[0].taken_from == "merged"
    trusted = decide_fields(survivor, merged, "most_trusted_source", trusted_sources=["dms", "web"])
    assert (trusted[0].taken_from, trusted[0].rule) == ("survivor", "most_trusted_source")
    # Sources ranked equally (neither listed): the most recent decides.
    untrusted = decide_fields(survivor, merged, "most_trusted_source", trusted_sources=["billing"])
    assert (untrusted[0].taken_from, untrusted[0].rule) == ("merged", "most_recent")
    assert decide_fields(survivor, merged, "survivor")[0].taken_from == "survivor"


def test_a_manual_choice_wins_over_every_rule() -> None:
    survivor = {"person.birth_date": fv("1979-03-05", 0)}
    merged = {"person.birth_date": fv("1979-05-03", 10)}
    (d,) = decide_fields(survivor, merged, "most_recent", choices={"person.birth_date": "survivor"})
    assert (d.taken_from, d.rule) == ("survivor", "manual")


values = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.builds(fv, st.integers(0, 3), st.integers(0, 5), st.sampled_from(["x", "y"])),
)


@given(values, values, st.sampled_from(["most_recent", "most_trusted_source", "survivor"]))
def test_every_differing_field_is_decided_once(survivor, merged, rule) -> None:  # type: ignore[no-untyped-def]
    decisions = decide_fields(survivor, merged, rule, trusted_sources=["y"])
    differing = {
        f
        for f in survivor.keys() | merged.keys()
        if f not in survivor or f not in merged or survivor[f].value != merged[f].value
    }
    assert [d.field for d in decisions] == sorted(differing)
    for d in decisions:
        assert (d.field in survivor) if d.taken_from == "survivor" else (d.field in merged)


def ref(name: str, section: str, key1: str, key2: str = "", is_open: bool = True, minutes: int = 0) -> ItemRef:
    return ItemRef(name, ItemKey(section, key1, key2), is_open, T0 + timedelta(minutes=minutes))


def test_items_the_survivor_already_holds_stay_behind_history_always_moves() -> None:
    survivor = [ref("s-phone", "contact_point", "phone", "+79161234567"), ref("s-role", "role", "customer")]
    merged = [
        ref("m-phone", "contact_point", "phone", "+79161234567"),
        ref("m-old-phone", "contact_point", "phone", "+79161234567", is_open=False),
        ref("m-email", "contact_point", "email", "a@example.org"),
        ref("m-role", "role", "customer"),
        ref("m-prospect", "role", "prospect"),
    ]
    move, retire = plan_item_moves(survivor, merged)
    assert move == ["m-old-phone", "m-email", "m-prospect"] and retire == []


def test_the_newer_consent_decision_replaces_the_survivors() -> None:
    survivor = [ref("s-consent", "consent", "EMAIL/MARKETING", "GRANTED", minutes=0)]
    newer = [ref("m-consent", "consent", "EMAIL/MARKETING", "WITHDRAWN", minutes=5)]
    assert plan_item_moves(survivor, newer) == (["m-consent"], ["s-consent"])
    older = [ref("m-consent", "consent", "EMAIL/MARKETING", "WITHDRAWN", minutes=-5)]
    assert plan_item_moves(survivor, older) == ([], [])
