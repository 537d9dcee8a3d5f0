"""What-if modelling for finance and the compensation team (changed plans and variables run on a
period's real data beside production, stored nowhere) and a participant's deal estimate: what they
would earn this period if they closed a given deal. The participant asks for their own estimate;
their managers, finance, the compensation team and admins may ask for theirs too."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends

from crm.commissions.v1 import commissions_pb2 as pb
from crm.common.v1 import common_pb2
from gateway.auth import Principal, authenticate, require
from gateway.models.commissions_what_if import DealEstimate, DealIn, WhatIf, WhatIfIn
from gateway.problems import documented
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS
from gateway.routes.commissions import ParticipantId, PeriodParam, check_participant_access
from gateway.upstream import COMMISSIONS, Commissions, call

router = APIRouter(prefix=API_PREFIX + "/commissions", tags=["commissions"], responses=COMMON_PROBLEMS)

#: Who models plan changes, and who sees anyone's deal estimate.
MODELLER_ROLES = ("finance", "compensation", "admin")
#: A scenario recomputes the whole period twice: more than the usual per-call deadline allows.
WHAT_IF_DEADLINE_SECONDS = 120.0

Modeller = Annotated[Principal, Depends(require(MODELLER_ROLES))]


def _day(value: object) -> common_pb2.Date | None:
    if value is None:
        return None
    return common_pb2.Date(year=value.year, month=value.month, day=value.day)  # type: ignore[attr-defined]


async def estimate_viewer(
    participant_id: ParticipantId,
    period: PeriodParam,
    principal: Annotated[Principal, Depends(authenticate)],
    commissions: Commissions,
) -> Principal:
    """The participant themselves, their managers during the period, finance, the compensation team
    and admins."""
    await check_participant_access(principal, participant_id, period, commissions, frozenset(MODELLER_ROLES))
    return principal


@router.post("/periods/{period}/what-if", responses=documented(404, 409))
async def run_what_if(period: PeriodParam, body: WhatIfIn, principal: Modeller, commissions: Commissions) -> WhatIf:
    """Runs the period's real inputs (transactions, organisation, balances, adjustments) under changed
    plans and variable overrides, beside the unchanged plans, and compares: the cost in total, who is
    better or worse off, the largest changes per participant and the change per incentive. Nothing is
    stored and production results are untouched. A problem names the part of the scenario that is wrong
    ("body.plans[0].incentives[0].tiers[1].rate", "body.overrides[2].variable")."""
    request = pb.RunWhatIfRequest(
        period=period,
        plan_json=[json.dumps(plan, ensure_ascii=False) for plan in body.plans],
        overrides=[
            pb.VariableOverrideInfo(
                plan_id=o.plan_id,
                variable=o.variable,
                value=o.value,
                title_id=o.title_id or "",
                position_id=o.position_id or "",
                valid_from=_day(o.valid_from),
                valid_to=_day(o.valid_to),
            )
            for o in body.overrides
        ],
        limit=body.limit or 0,
    )
    result = await call(
        commissions.RunWhatIf,
        request,
        fields={
            "period": "path.period",
            "plan_json": "body.plans",
            "overrides": "body.overrides",
            "limit": "body.limit",
        },
        service=COMMISSIONS,
        deadline=WHAT_IF_DEADLINE_SECONDS,
    )
    return WhatIf.of(result)


@router.post("/periods/{period}/participants/{participant_id}/deal-estimate", responses=documented(404, 409))
async def estimate_deal(
    period: PeriodParam,
    participant_id: ParticipantId,
    body: DealIn,
    principal: Annotated[Principal, Depends(estimate_viewer)],
    commissions: Commissions,
) -> DealEstimate:
    """What the participant would earn in the period with a hypothetical sale (sold by their position
    on its date): the payout now and with the deal, the difference, how their KPIs and tiers move and
    whether the deal reaches a new tier (the moves of tiers are listed as "<incentive_id>:tier"). Nothing
    is stored. 409 for a finalized period or one not run; a problem names the amount (positive, at most
    the currency's decimals) or the date (within the period, while the participant holds a position)."""
    request = pb.EstimateDealRequest(
        participant_id=participant_id,
        period=period,
        amount=body.amount,
        date=body.date.isoformat() if body.date else "",
        product=body.product,
        territory=body.territory,
        channel=body.channel,
        segment=body.segment,
    )
    result = await call(
        commissions.EstimateDeal,
        request,
        fields={"participant_id": "path.participant_id", "period": "path.period"},
        service=COMMISSIONS,
    )
    return DealEstimate.of(result, participant_id, period)
