"""The gRPC edge of what-if modelling and the deal estimator. Mixed into `servicer.CommissionsServicer`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import grpc
import polars as pl

from crm.commissions.v1 import commissions_pb2 as pb
from crm.common.v1 import common_pb2
from crm_runtime.errors import Violations
from services.commissions.app import CommissionsApp
from services.commissions.domain import fixed_point as fp
from services.commissions.domain.plans import VariableOverride


def _money(minor: int, currency: str) -> common_pb2.Money:
    return common_pb2.Money(currency_code=currency, minor_units=int(minor))


def _num(raw: int | None) -> str:
    return "" if raw is None else format(fp.from_raw(raw).normalize(), "f")


def _date(value: common_pb2.Date, field: str, problems: Violations, *, required: bool) -> date | None:
    if value.year == 0 and value.month == 0 and value.day == 0:
        if required:
            problems.add(field, "required")
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError as exc:
        problems.add(field, f"not a date: {exc}")
        return None


def overrides_of(items: list[pb.VariableOverrideInfo], problems: Violations) -> list[VariableOverride]:
    out = []
    for i, o in enumerate(items):
        path = f"overrides[{i}]"
        value = Decimal(0)
        try:
            value = Decimal(o.value.strip())
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.add(f"{path}.value", f"{o.value[:40]!r} is not a decimal number")
        valid_from = _date(o.valid_from, f"{path}.valid_from", problems, required=True)
        valid_to = _date(o.valid_to, f"{path}.valid_to", problems, required=False)
        if bool(o.title_id.strip()) == bool(o.position_id.strip()):
            problems.add(f"{path}.title_id", "give exactly one of title_id and position_id")
        if not o.plan_id.strip():
            problems.add(f"{path}.plan_id", "required")
        if not o.variable.strip():
            problems.add(f"{path}.variable", "required")
        out.append(
            VariableOverride(
                o.plan_id.strip(),
                o.variable.strip(),
                value,
                valid_from or date.min,
                valid_to,
                title_id=o.title_id.strip() or None,
                position_id=o.position_id.strip() or None,
            )
        )
    return out


class WhatIfServicer:
    app: CommissionsApp

    async def RunWhatIf(self, request: pb.RunWhatIfRequest, context: grpc.aio.ServicerContext) -> pb.RunWhatIfResponse:
        problems = Violations()
        overrides = overrides_of(list(request.overrides), problems)
        problems.raise_if_any()
        comparison, seconds = await self.app.what_if.run(
            request.period, list(request.plan_json), overrides, request.limit
        )
        cur, totals = comparison.currency, comparison.totals
        limit = request.limit or 100
        # Per incentive id over every plan paying it (the domain keeps them apart by plan).
        incentives = (
            comparison.incentives.group_by("incentive_id")
            .agg(pl.col("baseline_minor").sum(), pl.col("scenario_minor").sum(), pl.col("change_minor").sum())
            .sort("incentive_id")
        )
        return pb.RunWhatIfResponse(
            period=str(comparison.period),
            baseline_cost=_money(totals.baseline_cost_minor, cur),
            scenario_cost=_money(totals.scenario_cost_minor, cur),
            change=_money(totals.change_minor, cur),
            better_off=totals.better_off,
            worse_off=totals.worse_off,
            unchanged=totals.unchanged,
            participants=[
                pb.WhatIfParticipant(
                    participant_id=r["participant_id"],
                    title_id=r["title_id"] or "",
                    baseline=_money(r["baseline_earnings_minor"], cur),
                    scenario=_money(r["scenario_earnings_minor"], cur),
                    change=_money(r["change_minor"], cur),
                    change_percent="" if r["change_pct"] is None else format(r["change_pct"], "f"),
                )
                for r in comparison.participants.head(limit).iter_rows(named=True)
            ],
            incentives=[
                pb.WhatIfIncentive(
                    incentive_id=r["incentive_id"],
                    baseline=_money(r["baseline_minor"], cur),
                    scenario=_money(r["scenario_minor"], cur),
                    change=_money(r["change_minor"], cur),
                )
                for r in incentives.iter_rows(named=True)
            ],
            seconds=seconds,
        )

    async def EstimateDeal(
        self, request: pb.EstimateDealRequest, context: grpc.aio.ServicerContext
    ) -> pb.EstimateDealResponse:
        estimate = await self.app.what_if.estimate(
            request.participant_id,
            request.period,
            request.amount,
            request.date,
            {
                "product": request.product.strip(),
                "territory": request.territory.strip(),
                "channel": request.channel.strip(),
                "segment": request.segment.strip(),
            },
        )
        cur = estimate.currency
        moves = []
        for r in estimate.kpis.iter_rows(named=True):
            moves.append(
                pb.KpiMove(measurement_id=r["measurement_id"], before=_num(r["before"]), after=_num(r["after"]))
            )
        for r in estimate.incentives.iter_rows(named=True):
            if r["tier_before"] is not None or r["tier_after"] is not None:
                moves.append(
                    pb.KpiMove(
                        measurement_id=f"{r['incentive_id']}:tier",
                        before=_num(r["tier_value_before"]),
                        after=_num(r["tier_value_after"]),
                        tier_before=-1 if r["tier_before"] is None else r["tier_before"],
                        tier_after=-1 if r["tier_after"] is None else r["tier_after"],
                    )
                )
        return pb.EstimateDealResponse(
            current_payout=_money(estimate.current_minor, cur),
            payout_with_deal=_money(estimate.with_deal_minor, cur),
            difference=_money(estimate.difference_minor, cur),
            kpis=moves,
            new_tier=estimate.new_tier_reached,
        )
