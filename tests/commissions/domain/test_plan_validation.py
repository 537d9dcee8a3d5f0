"""Plans that do not validate are refused with every violation named by its field path; a plan book
refuses overlapping assignments; the organisation refuses hierarchy cycles."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.commissions.domain.errors import OrganisationValidationError, PlanValidationError
from services.commissions.domain.org import (
    Assignment,
    Organisation,
    Participant,
    PositionVersion,
    Title,
    ensure_valid_organisation,
    hierarchy_cycles,
    validate_organisation,
)
from services.commissions.domain.plans import (
    Plan,
    PlanAssignment,
    PlanBook,
    VariableOverride,
    compile_plan,
    ensure_valid_plan,
    next_version,
    parse_plan,
    validate_plan_book,
)

Y = date(2026, 1, 1)


def plan_data(**changes: object) -> dict:  # type: ignore[type-arg]
    data: dict = {  # type: ignore[type-arg]
        "plan_id": "rep",
        "variables": {"quota": "100000", "target": "3000"},
        "credit_rules": [{"rule_id": "all", "rollup_levels": None}],
        "measurements": [
            {"measurement_id": "revenue", "kind": "SUM", "window": "QTD"},
            {"measurement_id": "attainment", "kind": "FORMULA", "formula": "revenue / quota"},
        ],
        "incentives": [
            {
                "kind": "RATE_TABLE",
                "incentive_id": "commission",
                "payout_window": "QTD",
                "base": "revenue",
                "basis": "ATTAINMENT",
                "quota": "quota",
                "tiers": [{"lower": "0", "upper": "1", "rate": "0.02"}, {"lower": "1", "rate": "0.04"}],
            }
        ],
    }
    data.update(changes)
    return data


def violations(data: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    with pytest.raises(PlanValidationError) as err:
        parse_plan(data)
    return [(v.field, v.reason) for v in err.value.violations]


def test_a_good_plan_parses_and_compiles() -> None:
    plan = parse_plan(plan_data())
    compiled = compile_plan(plan)
    assert compiled.formula_order == ("attainment",)
    assert compiled.measurement_window("attainment").value == "QTD"  # type: ignore[union-attr]


def test_unknown_measure() -> None:
    data = plan_data()
    data["incentives"][0]["base"] = "turnover"
    assert ("incentives[0].base", "unknown measurement 'turnover'") in violations(data)


def test_unknown_name_in_a_formula() -> None:
    data = plan_data()
    data["measurements"][1]["formula"] = "revenue / quotta"
    field, reason = violations(data)[0]
    assert field == "measurements[1].formula"
    assert "unknown name 'quotta'" in reason


def test_bad_formula_syntax() -> None:
    data = plan_data()
    data["incentives"][0]["cap"] = "target * (2"
    field, reason = violations(data)[0]
    assert field == "incentives[0].cap"
    assert reason.startswith("bad formula: expected ')'")


def test_circular_formula_measurements() -> None:
    data = plan_data()
    data["measurements"] += [
        {"measurement_id": "a", "kind": "FORMULA", "formula": "b + 1"},
        {"measurement_id": "b", "kind": "FORMULA", "formula": "a * 2"},
    ]
    assert ("measurements[2].formula", "circular reference: a -> b -> a") in violations(data)


def test_overlapping_and_gapped_tiers() -> None:
    data = plan_data()
    data["incentives"][0]["tiers"] = [
        {"lower": "0", "upper": "1.2", "rate": "0.02"},
        {"lower": "1", "upper": "1.5", "rate": "0.04"},
        {"lower": "1.6", "rate": "0.06"},
    ]
    found = violations(data)
    assert ("incentives[0].tiers[0].upper", "overlaps tier 1 which starts at 1") in found
    assert ("incentives[0].tiers[1].upper", "leaves a gap before tier 2 at 1.6") in found


def test_tier_table_shape() -> None:
    data = plan_data()
    data["incentives"][0]["tiers"] = [{"lower": "0.5", "upper": "1", "rate": "-0.02"}]
    found = dict(violations(data))
    assert found["incentives[0].tiers[0].lower"] == "the first tier must start at 0"
    assert found["incentives[0].tiers[0].rate"] == "must be at least 0"
    assert found["incentives[0].tiers[0].upper"] == "the last tier must be open-ended (upper: null)"


def test_splits_must_sum_to_one_hundred_percent() -> None:
    data = plan_data()
    data["credit_rules"] = [
        {"rule_id": "all", "targets": [{"position": "SELLER", "percent": "60"}, {"position": "K1", "percent": "30"}]}
    ]
    assert ("credit_rules[0].targets", "split percentages sum to 90, not 100") in violations(data)
    with pytest.raises(PlanValidationError) as err:
        ensure_valid_plan(
            Plan.model_validate(
                data
                | {
                    "credit_rules": [
                        {
                            "rule_id": "all",
                            "targets": [{"position": "SELLER", "percent": "60"}, {"position": "K9", "percent": "40"}],
                        }
                    ]
                }
            ),
            known_positions={"K1"},
        )
    assert [(v.field, v.reason) for v in err.value.violations] == [
        ("credit_rules[0].targets[1].position", "unknown position 'K9'")
    ]


def test_a_cumulative_incentive_cannot_read_another_window() -> None:
    data = plan_data()
    data["incentives"][0]["payout_window"] = "PERIOD"
    assert ("incentives[0].payout_window", "is PERIOD but the incentive reads QTD measurements") in violations(data)


def test_shape_errors_carry_field_paths() -> None:
    data = plan_data()
    data["incentives"][0]["tiers"][0]["rate"] = "lots"
    data["surprise"] = 1
    fields = [f for f, _ in violations(data)]
    assert "incentives[0].tiers[0].rate" in fields
    assert "surprise" in fields


def test_more_violations_are_reported_together() -> None:
    data = plan_data(currency="RUR", variables={"quota": "1.0000001", "and": "1"})
    data["incentives"][0]["earning_code"] = "commission!"
    fields = {f for f, _ in violations(data)}
    assert {"currency", "variables.quota", "variables.and", "incentives[0].earning_code"} <= fields


def test_versions_are_numbered_and_validated() -> None:
    first = parse_plan(plan_data())
    second = next_version(
        first, first.model_copy(update={"variables": {"quota": Decimal(120000), "target": Decimal(3000)}})
    )
    assert second.version == 2
    with pytest.raises(PlanValidationError):
        next_version(first, first.model_copy(update={"plan_id": "other"}))


def test_plan_book_refuses_overlaps_and_unknown_targets() -> None:
    plan = parse_plan(plan_data())
    book = PlanBook(
        (plan,),
        (
            PlanAssignment("rep", Y, None, title_id="REP"),
            PlanAssignment("rep", date(2026, 6, 1), None, title_id="REP"),
            PlanAssignment("nope", Y, position_id="R1"),
            PlanAssignment("rep", Y, title_id="REP", position_id="R1"),
        ),
        (VariableOverride("rep", "quoat", Decimal(1), Y, position_id="R1"),),
    )
    found = [(v.field, v.reason) for v in validate_plan_book(book, {"REP"}, {"R1"})]
    assert ("assignments[1]", "overlaps another plan assignment of title 'REP'") in found
    assert ("assignments[2].plan_id", "unknown plan 'nope'") in found
    assert ("assignments[3]", "needs exactly one of title_id and position_id") in found
    assert ("overrides[0].variable", "plan 'rep' has no variable 'quoat'") in found


# ---------------------------------------------------------------------------- the organisation


def organisation(*versions: PositionVersion, assignments: tuple[Assignment, ...] = ()) -> Organisation:
    return Organisation(
        titles=(Title("REP"), Title("MGR")),
        positions=versions,
        participants=(Participant("anna"), Participant("boris")),
        assignments=assignments,
    )


def test_hierarchy_cycle_is_refused() -> None:
    org = organisation(
        PositionVersion("A", "MGR", "C", Y),
        PositionVersion("B", "MGR", "A", Y),
        PositionVersion("C", "MGR", "B", Y),
    )
    with pytest.raises(OrganisationValidationError) as err:
        ensure_valid_organisation(org)
    assert "manager hierarchy has a cycle on 2026-01-01: A -> C -> B -> A" in str(err.value)


def test_a_cycle_that_exists_only_after_a_reorganisation_is_found() -> None:
    # A reports to B all year; from 1 July B reports to A.
    org = organisation(
        PositionVersion("A", "MGR", "B", Y),
        PositionVersion("B", "MGR", None, Y, date(2026, 7, 1)),
        PositionVersion("B", "MGR", "A", date(2026, 7, 1)),
    )
    assert [day for day, _ in hierarchy_cycles(org)] == [date(2026, 7, 1)]
    # Moving positions around without closing a loop is fine.
    ok = organisation(
        PositionVersion("A", "MGR", "B", Y, date(2026, 7, 1)),
        PositionVersion("A", "MGR", None, date(2026, 7, 1)),
        PositionVersion("B", "MGR", None, Y, date(2026, 7, 1)),
        PositionVersion("B", "MGR", "A", date(2026, 7, 1)),
    )
    assert hierarchy_cycles(ok) == []


def test_overlapping_holders_unknown_ids_and_lookups() -> None:
    org = organisation(
        PositionVersion("R1", "REP", "M1", Y),
        PositionVersion("M1", "MGR", None, Y),
        PositionVersion("R2", "REP", "M9", Y),
        assignments=(
            Assignment("anna", "R1", Y, date(2026, 4, 1)),
            Assignment("boris", "R1", date(2026, 3, 1)),
            Assignment("ghost", "R1", date(2027, 1, 1)),
        ),
    )
    found = [(v.field, v.reason) for v in validate_organisation(org)]
    assert ("positions[2].manager_id", "unknown manager position 'M9'") in found
    assert ("assignments", "position 'R1' has two holders at the same time") in found
    assert ("assignments[2].participant_id", "unknown participant 'ghost'") in found
    assert org.holder_as_of("R1", date(2026, 2, 1)) == "anna"
    assert org.chain("R1", date(2026, 2, 1)) == ["M1"]
    assert org.holder_as_of("M1", date(2026, 2, 1)) is None
