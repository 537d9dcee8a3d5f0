"""REST shapes of what-if modelling (changed plans run on a period's real data beside production,
nothing stored) and of a participant's deal estimate ("what would I earn if I close this deal")."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from crm.commissions.v1 import commissions_pb2 as pb
from gateway.models.commissions import MAX_ID, PLAN_EXAMPLE, DecimalText, Id, Money, money
from gateway.models.common import Day, Input, Int, Output, Str

#: The service's bounds: participants listed by a what-if, plans and overrides of one scenario.
MAX_WHAT_IF_LIMIT = 10_000
MAX_SCENARIO_PLANS = 50
MAX_SCENARIO_OVERRIDES = 10_000
#: A deal's product, territory, channel and segment.
MAX_CLASSIFIER = 100


Classifier = Annotated[Str, StringConstraints(max_length=MAX_CLASSIFIER)]


class ScenarioOverrideIn(Input):
    """A variable's value for one title or one position (which wins) over a date range, for this
    scenario only: it replaces the stored overrides of the same plan, variable and target on the days
    it covers. Exactly one of title_id and position_id."""

    plan_id: Id
    variable: Id = Field(description='A variable the plan declares, e.g. "quota".')
    value: DecimalText = Field(description='Decimal text, e.g. "80000".')
    title_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    position_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    valid_from: Day
    valid_to: Day | None = Field(None, description="Exclusive; null: open-ended.")


class WhatIfIn(Input):
    plans: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_SCENARIO_PLANS,
        description="Changed or new plan documents (JSON objects, as for POST /plans; at most 50): one with the "
        "plan_id of a stored plan replaces it for this scenario only. A problem names the part as "
        '"body.plans[i].<path>". A scenario changes at least one plan or override.',
        examples=[[{**PLAN_EXAMPLE, "variables": {"quota": "80000"}}]],
    )
    overrides: list[ScenarioOverrideIn] = Field(
        default_factory=list,
        max_length=MAX_SCENARIO_OVERRIDES,
        description="Extra or replacing variable overrides (at most 10,000).",
    )
    limit: Annotated[Int, Field(ge=1, le=MAX_WHAT_IF_LIMIT)] | None = Field(
        None, description="How many participants to list, largest changes first (default 100, at most 10,000)."
    )


class WhatIfParticipant(Output):
    participant_id: str
    title_id: str
    baseline: Money
    scenario: Money
    change: Money
    change_percent: str | None = Field(description="Decimal text; null when the baseline is zero.")


class WhatIfIncentive(Output):
    incentive_id: str
    baseline: Money
    scenario: Money
    change: Money


class WhatIf(Output):
    """The scenario beside production: cost (earnings) in total, per participant and per incentive."""

    period: str
    baseline_cost: Money
    scenario_cost: Money
    change: Money
    better_off: int
    worse_off: int
    unchanged: int
    participants: list[WhatIfParticipant] = Field(description="Largest changes first, at most `limit`.")
    incentives: list[WhatIfIncentive]
    seconds: float = Field(description="How long the scenario took to compute.")

    @classmethod
    def of(cls, m: pb.RunWhatIfResponse) -> WhatIf:
        return cls(
            period=m.period,
            baseline_cost=money(m.baseline_cost),
            scenario_cost=money(m.scenario_cost),
            change=money(m.change),
            better_off=m.better_off,
            worse_off=m.worse_off,
            unchanged=m.unchanged,
            participants=[
                WhatIfParticipant(
                    participant_id=p.participant_id,
                    title_id=p.title_id,
                    baseline=money(p.baseline),
                    scenario=money(p.scenario),
                    change=money(p.change),
                    change_percent=p.change_percent or None,
                )
                for p in m.participants
            ],
            incentives=[
                WhatIfIncentive(
                    incentive_id=i.incentive_id,
                    baseline=money(i.baseline),
                    scenario=money(i.scenario),
                    change=money(i.change),
                )
                for i in m.incentives
            ],
            seconds=m.seconds,
        )


class DealIn(Input):
    amount: DecimalText = Field(description='The deal\'s amount: positive decimal text in major units, e.g. "25000".')
    date: Day | None = Field(None, description="Within the period; default: the period's last day.")
    product: Classifier = ""
    territory: Classifier = ""
    channel: Classifier = ""
    segment: Classifier = ""


#: How the service lists an incentive's tier move among the KPI moves: "<incentive_id>:tier".
TIER_SUFFIX = ":tier"


class KpiMove(Output):
    measurement_id: str = Field(
        description='A measurement, or "<incentive_id>:tier" for the move of an incentive\'s tier (its value, '
        "e.g. the attainment, and its tier index)."
    )
    before: str = Field(description="Decimal text.")
    after: str
    tier_before: int | None = Field(description="Tier moves: the 0-based tier before the deal; null when none applies.")
    tier_after: int | None


class DealEstimate(Output):
    participant_id: str
    period: str
    current_payout: Money
    payout_with_deal: Money
    difference: Money
    kpis: list[KpiMove]
    new_tier: bool = Field(description="Whether the deal moves the participant into a higher tier.")

    @classmethod
    def of(cls, m: pb.EstimateDealResponse, participant_id: str, period: str) -> DealEstimate:
        return cls(
            participant_id=participant_id,
            period=period,
            current_payout=money(m.current_payout),
            payout_with_deal=money(m.payout_with_deal),
            difference=money(m.difference),
            kpis=[
                KpiMove(
                    measurement_id=k.measurement_id,
                    before=k.before,
                    after=k.after,
                    tier_before=_tier(k.measurement_id, k.tier_before),
                    tier_after=_tier(k.measurement_id, k.tier_after),
                )
                for k in m.kpis
            ],
            new_tier=m.new_tier,
        )


def _tier(measurement_id: str, index: int) -> int | None:
    """A tier index of a tier move (-1: no tier); a measurement's move has none."""
    return index if measurement_id.endswith(TIER_SUFFIX) and index >= 0 else None
