"""What-if modelling: a changed plan book run on a period's real inputs beside the unchanged one, and
the participant-facing deal estimator ("what would I earn if I close this deal").

Both are pure: they read `RunInputs` and `RunResult`s and return new values. Nothing here is a run of
record; every result computed here has ``kind == "WHAT_IF"`` so that nobody stores one by mistake.

* `Scenario` + `apply_scenario`: whole plans replaced or added, variable overrides and plan assignments
  replaced on the days they cover; the changed book is validated with `validate_plan_book` and every
  violation is reported at the scenario's own field path (``scenario.plans[0].incentives[1].base``)
  or, when the change broke something the book kept, at the book's (``book.overrides[3].variable``).
* `what_if`: the engine on the same inputs (transactions, organisation, carried balances, open
  deposits, adjustments) with the changed book, compared with a baseline per participant, in total
  and per incentive. Money is integer minor units; `WhatIfComparison.major` and
  `WhatIfComparison.participants_major` give exact Decimals in major units.
* `estimate_deal`: a hypothetical sale added to the period and one incremental run from the latest
  result: the participant's earnings before and after, their KPIs and tiers before and after.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.engine import (
    EngineContext,
    EngineState,
    calculate_incremental,
    prepare_context,
    recompute,
)
from services.commissions.domain.errors import DomainValidationError, PlanValidationError, Violation
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.money import MAX_TRANSACTION_MINOR, exponent, from_minor
from services.commissions.domain.org import Organisation
from services.commissions.domain.periods import Period, covers, overlaps
from services.commissions.domain.plans import Plan, PlanAssignment, PlanBook, VariableOverride, validate_plan_book
from services.commissions.domain.results import RunResult
from services.commissions.domain.transactions import MAX_ID, Transaction, transactions_frame

__all__ = [
    "DEAL_PREFIX",
    "WHAT_IF",
    "DealEstimate",
    "DealValidationError",
    "HypotheticalDeal",
    "Scenario",
    "WhatIfComparison",
    "WhatIfTotals",
    "apply_scenario",
    "compare_runs",
    "estimate_deal",
    "what_if",
]

WHAT_IF = "WHAT_IF"  # the `RunResult.kind` of everything computed here: never a run of record
DEAL_PREFIX = "WHATIF:"  # of hypothetical transaction ids; one equal to a real id is refused (``deal.deal_id``)

# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """A named set of changes to a plan book.

    * ``plans``: whole plans. One whose ``plan_id`` is in the book replaces it (changed rates, quotas,
      tiers, new components); any other is added (and is used only where an assignment names it).
      A plan's variables are its defaults: title and position overrides still win, so cutting every
      quota means changing the overrides too.
    * ``overrides``: variable overrides. Each replaces, on the days it covers, the book's overrides of
      the same plan, variable and title or position. The book's overrides are cut around it rather
      than dropped, so a change from March leaves January and February as they were.
    * ``assignments``: plan assignments. Each replaces, on the days it covers, the book's assignments
      of the same title or position (cut around it, like overrides).
    """

    name: str
    plans: tuple[Plan, ...] = ()
    overrides: tuple[VariableOverride, ...] = ()
    assignments: tuple[PlanAssignment, ...] = ()


_Dated = TypeVar("_Dated", VariableOverride, PlanAssignment)
_BOOK_PATH = re.compile(r"(plans|assignments|overrides)\[(\d+)\](.*)", re.DOTALL)


def apply_scenario(book: PlanBook, scenario: Scenario, org: Organisation, *, currency: str | None = None) -> PlanBook:
    """The book with the scenario's changes, validated against the organisation (`validate_plan_book`
    needs its titles and positions) and, when given, the run currency.

    Raises `PlanValidationError` listing every violation, at ``scenario.<field>`` for what the scenario
    brings and ``book.<field>`` for what it kept from the book (a kept override of a variable the new
    plan no longer has). The result is a new `PlanBook`, never ``dataclasses.replace(book, ...)``: that
    would share the book's cache of compiled plans, keyed by plan id, and run the old plan."""
    out: list[Violation] = []
    if not scenario.name.strip():
        out.append(Violation("scenario.name", "a scenario needs a name"))
    first: dict[str, int] = {}
    for j, plan in enumerate(scenario.plans):
        if plan.plan_id in first:
            out.append(
                Violation(
                    f"scenario.plans[{j}].plan_id",
                    f"plan {plan.plan_id!r} is already scenario.plans[{first[plan.plan_id]}]",
                )
            )
            continue
        first[plan.plan_id] = j
        if currency is not None and plan.currency != currency:
            out.append(Violation(f"scenario.plans[{j}].currency", f"is {plan.currency}, the run is in {currency}"))

    origins: dict[str, list[tuple[str, int]]] = {"plans": [], "overrides": [], "assignments": []}
    plans: list[Plan] = []
    for i, plan in enumerate(book.plans):
        j = first.get(plan.plan_id)
        plans.append(plan if j is None else scenario.plans[j])
        origins["plans"].append(("book", i) if j is None else ("scenario", j))
    known = {p.plan_id for p in book.plans}
    for plan_id, j in first.items():
        if plan_id not in known:
            plans.append(scenario.plans[j])
            origins["plans"].append(("scenario", j))
    overrides = _replace_ranges(
        book.overrides,
        scenario.overrides,
        lambda o: (o.plan_id, o.variable, o.title_id, o.position_id),
        origins["overrides"],
    )
    assignments = _replace_ranges(
        book.assignments, scenario.assignments, lambda a: (a.title_id, a.position_id), origins["assignments"]
    )
    changed = PlanBook(tuple(plans), tuple(assignments), tuple(overrides))
    titles = {t.title_id for t in org.titles} | {v.title_id for v in org.positions}
    out += [_locate(v, origins) for v in validate_plan_book(changed, titles, org.position_ids)]
    if out:
        raise PlanValidationError(out)
    return changed


def _replace_ranges(
    kept: Sequence[_Dated],
    new: Sequence[_Dated],
    key: Callable[[_Dated], Hashable],
    origin: list[tuple[str, int]],
) -> list[_Dated]:
    """The kept items cut around the new items of the same key, then the new items; ``origin`` gets
    where each comes from. A new item with an inverted range cuts nothing (validation reports it)."""
    cuts: dict[Hashable, list[_Dated]] = defaultdict(list)
    for item in new:
        if item.valid_to is None or item.valid_to > item.valid_from:
            cuts[key(item)].append(item)
    out: list[_Dated] = []
    for i, item in enumerate(kept):
        pieces: list[tuple[date, date | None]] = [(item.valid_from, item.valid_to)]
        for cut in cuts.get(key(item), ()):
            pieces = [p for start, end in pieces for p in _outside(start, end, cut.valid_from, cut.valid_to)]
        for start, end in pieces:
            same = (start, end) == (item.valid_from, item.valid_to)
            out.append(item if same else replace(item, valid_from=start, valid_to=end))
            origin.append(("book", i))
    for j, item in enumerate(new):
        out.append(item)
        origin.append(("scenario", j))
    return out


def _outside(start: date, end: date | None, cut_from: date, cut_to: date | None) -> list[tuple[date, date | None]]:
    """The parts of [start, end) outside [cut_from, cut_to)."""
    if not overlaps(start, end, cut_from, cut_to):
        return [(start, end)]
    pieces: list[tuple[date, date | None]] = []
    if start < cut_from:
        pieces.append((start, cut_from))
    if cut_to is not None and (end is None or cut_to < end):
        pieces.append((cut_to, end))
    return pieces


def _locate(v: Violation, origins: dict[str, list[tuple[str, int]]]) -> Violation:
    """A violation of the merged book at the field path of the scenario or book item it came from."""
    m = _BOOK_PATH.fullmatch(v.field)
    if m is None:
        return Violation(f"book.{v.field}" if v.field else "book", v.reason)
    where, index = origins[m[1]][int(m[2])]
    return Violation(f"{where}.{m[1]}[{index}]{m[3]}", v.reason)


# --------------------------------------------------------------------------- what-if comparison


@dataclass(frozen=True)
class WhatIfTotals:
    """The whole period. Cost is earnings (payout lines); payments are what would be paid this period
    after deposits, draws, balances and recoveries. Better/worse off compares earnings: a rep whose
    draw still covers the payment is better off when earnings rise (less draw to recover later)."""

    participants: int
    baseline_cost_minor: int
    scenario_cost_minor: int
    change_minor: int
    baseline_payments_minor: int
    scenario_payments_minor: int
    payment_change_minor: int
    better_off: int
    worse_off: int
    unchanged: int

    def in_major(self, currency: str) -> dict[str, Decimal | int]:
        """Money fields as exact Decimals in major units (``_minor`` dropped from their names)."""
        out: dict[str, Decimal | int] = {}
        for name, value in vars(self).items():
            if name.endswith("_minor"):
                out[name.removesuffix("_minor")] = from_minor(value, currency)
            else:
                out[name] = value
        return out


PARTICIPANT_COLUMNS = (
    "participant_id",
    "title_id",
    "baseline_earnings_minor",
    "scenario_earnings_minor",
    "change_minor",
    "change_pct",
    "baseline_payment_minor",
    "scenario_payment_minor",
    "payment_change_minor",
)


@dataclass(frozen=True)
class WhatIfComparison:
    """A scenario beside its baseline.

    ``participants``: one row per participant paid or carried in either run (`PARTICIPANT_COLUMNS`),
    by absolute earnings change, largest first. ``change_pct`` is the change against the absolute
    baseline earnings, half-even to 0.01 (Decimal), null when the baseline earned nothing.
    ``incentives``: per plan and incentive, baseline, scenario and change (minor units), of this
    period's amounts and of the cumulative values through this period. They differ for QTD and YTD
    payout windows: a period earns its window value less the value through the previous period, both
    under the plan being run (as a real plan change would be paid), so a quota cut can move a bonus
    into an earlier month of the window, lowering this period's amount while raising the window's.
    ``baseline`` and ``scenario``: the two results, for drill-down (statements, credit lines)."""

    name: str
    period: Period
    currency: str
    participants: pl.DataFrame = field(repr=False, compare=False)
    totals: WhatIfTotals
    incentives: pl.DataFrame = field(repr=False, compare=False)
    baseline: RunResult = field(repr=False, compare=False)
    scenario: RunResult = field(repr=False, compare=False)

    def major(self, minor: int) -> Decimal:
        return from_minor(minor, self.currency)

    def totals_major(self) -> dict[str, Decimal | int]:
        return self.totals.in_major(self.currency)

    def participant(self, participant_id: str) -> dict[str, Any] | None:
        """One participant's row (minor units), or None when neither run has them."""
        rows = self.participants.filter(pl.col("participant_id") == participant_id)
        return rows.row(0, named=True) if rows.height else None

    def participants_major(self) -> pl.DataFrame:
        """``participants`` with money as exact Decimal columns in major units."""
        return _major_columns(self.participants, self.currency)


def _major_columns(frame: pl.DataFrame, currency: str) -> pl.DataFrame:
    exp = exponent(currency)
    return frame.select(
        [
            (pl.col(c).cast(pl.Decimal(38, exp)) / 10**exp).alias(c.removesuffix("_minor"))
            if c.endswith("_minor")
            else pl.col(c)
            for c in frame.columns
        ]
    )


def what_if(
    inputs: RunInputs,
    scenario: Scenario,
    *,
    baseline: RunResult | None = None,
    context: EngineContext | None = None,
) -> WhatIfComparison:
    """Run ``scenario`` on ``inputs`` and compare it with ``baseline``: the production run of the same
    inputs when the caller has it (then only the scenario is computed), else the unchanged book is
    run here (``context``: its cached `prepare_context`, if any). Each book gets its own context.

    Both runs go through `engine.recompute`, the engine's entry point for a period computed only to
    compare: `calculate_period` refuses a period in ``inputs.finalized_periods`` because its result
    would be a run of record, which nothing here is. So a finalized period can be modelled as well
    ("what would last quarter have cost under the new plan"), and ``inputs`` is used as it is (no copy
    with ``finalized_periods`` emptied is needed). A given baseline must be a run of these inputs:
    its period and currency are checked, and its organisation and plans when ``context`` is given."""
    changed = apply_scenario(inputs.plans, scenario, inputs.org, currency=inputs.currency)
    if baseline is None:
        baseline = replace(recompute(inputs, context), kind=WHAT_IF)
    else:
        _check_baseline(inputs, baseline, context)
    scenario_inputs = replace(inputs, plans=changed)
    result = replace(recompute(scenario_inputs, prepare_context(scenario_inputs)), kind=WHAT_IF)
    return compare_runs(baseline, result, scenario.name)


def _check_baseline(inputs: RunInputs, baseline: RunResult, context: EngineContext | None) -> None:
    if baseline.period != inputs.period or baseline.currency != inputs.currency:
        raise ValueError(
            f"the baseline is a run of {baseline.period} in {baseline.currency}, "
            f"not {inputs.period} in {inputs.currency}"
        )
    state = baseline.engine_state
    if context is not None and isinstance(state, EngineState) and state.fingerprint != context.fingerprint:
        raise ValueError("the baseline was computed under another organisation or plan book than these inputs")


def compare_runs(baseline: RunResult, scenario: RunResult, name: str = "") -> WhatIfComparison:
    """Two runs of the same period side by side (any two: production against a scenario, or two
    scenarios against each other)."""
    if baseline.period != scenario.period or baseline.currency != scenario.currency:
        raise ValueError("compare runs of the same period and currency")
    money = ["baseline_earnings_minor", "scenario_earnings_minor", "baseline_payment_minor", "scenario_payment_minor"]
    earned = [
        r.payments.group_by("participant_id").agg(
            pl.col("earnings_minor").sum().alias(f"{side}_earnings_minor"),
            pl.col("payment_minor").sum().alias(f"{side}_payment_minor"),
        )
        for side, r in (("baseline", baseline), ("scenario", scenario))
    ]
    titles = (
        pl.concat(
            [
                scenario.payees.with_columns(pl.lit(1).alias("_run")),
                baseline.payees.with_columns(pl.lit(0).alias("_run")),
            ]
        )
        .sort("_run", "ref_date", "position_id")
        .group_by("participant_id")
        .agg(pl.col("title_id").last())
    )
    change = pl.col("scenario_earnings_minor") - pl.col("baseline_earnings_minor")
    base = pl.col("baseline_earnings_minor")
    hundredths = fp.rhe_div(pl.col("change_minor").cast(fp.WIDE) * 10_000, base.abs())
    participants = (
        earned[0]
        .join(earned[1], on="participant_id", how="full", coalesce=True)
        .join(titles, on="participant_id", how="left")
        .with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in money])
        .with_columns(
            change.alias("change_minor"),
            (pl.col("scenario_payment_minor") - pl.col("baseline_payment_minor")).alias("payment_change_minor"),
        )
        .with_columns(
            pl.when(base != 0)
            .then(hundredths)
            .otherwise(None)
            .cast(pl.Int64)
            .cast(pl.Decimal(38, 2))
            .truediv(100)
            .alias("change_pct")
        )
        .sort([pl.col("change_minor").abs(), pl.col("participant_id")], descending=[True, False])
        .select(PARTICIPANT_COLUMNS)
    )
    sums = participants.select(
        pl.len().alias("participants"),
        *[pl.col(c).sum() for c in money],
        (pl.col("change_minor") > 0).sum().alias("better_off"),
        (pl.col("change_minor") < 0).sum().alias("worse_off"),
        (pl.col("change_minor") == 0).sum().alias("unchanged"),
    ).row(0, named=True)
    totals = WhatIfTotals(
        participants=int(sums["participants"]),
        baseline_cost_minor=int(sums["baseline_earnings_minor"] or 0),
        scenario_cost_minor=int(sums["scenario_earnings_minor"] or 0),
        change_minor=int((sums["scenario_earnings_minor"] or 0) - (sums["baseline_earnings_minor"] or 0)),
        baseline_payments_minor=int(sums["baseline_payment_minor"] or 0),
        scenario_payments_minor=int(sums["scenario_payment_minor"] or 0),
        payment_change_minor=int((sums["scenario_payment_minor"] or 0) - (sums["baseline_payment_minor"] or 0)),
        better_off=int(sums["better_off"] or 0),
        worse_off=int(sums["worse_off"] or 0),
        unchanged=int(sums["unchanged"] or 0),
    )
    key = ["plan_id", "incentive_id"]
    lines = [
        r.payouts.group_by(key).agg(
            pl.col("amount_minor").sum().alias(f"{side}_minor"),
            pl.col("cumulative_minor").sum().alias(f"{side}_cumulative_minor"),
        )
        for side, r in (("baseline", baseline), ("scenario", scenario))
    ]
    sides = ["baseline_minor", "scenario_minor", "baseline_cumulative_minor", "scenario_cumulative_minor"]
    incentives = (
        lines[0]
        .join(lines[1], on=key, how="full", coalesce=True)
        .with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in sides])
        .with_columns(
            (pl.col("scenario_minor") - pl.col("baseline_minor")).alias("change_minor"),
            (pl.col("scenario_cumulative_minor") - pl.col("baseline_cumulative_minor")).alias(
                "cumulative_change_minor"
            ),
        )
        .select(*key, "baseline_minor", "scenario_minor", "change_minor", *sides[2:], "cumulative_change_minor")
        .sort(key)
    )
    return WhatIfComparison(
        name=name,
        period=baseline.period,
        currency=baseline.currency,
        participants=participants,
        totals=totals,
        incentives=incentives,
        baseline=baseline,
        scenario=scenario,
    )


# --------------------------------------------------------------------------- the deal estimator


class DealValidationError(DomainValidationError):
    """A hypothetical deal the estimator cannot price (violations name the ``deal.*`` field)."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__(violations, "deal")


@dataclass(frozen=True)
class HypotheticalDeal:
    """A sale a participant is considering. ``position_id``: the selling position, by default the one
    the participant holds on ``day``; ``deal_id`` makes the transaction id ``WHATIF:<deal_id>``."""

    amount_minor: int
    day: date
    currency: str
    product: str = ""
    territory: str = ""
    channel: str = ""
    segment: str = ""
    position_id: str | None = None
    deal_id: str = "deal"

    @property
    def transaction_id(self) -> str:
        return f"{DEAL_PREFIX}{self.deal_id}"


@dataclass(frozen=True)
class DealEstimate:
    """What one participant would earn with the deal: earnings (payout lines) and this period's payment
    before and after, in minor units.

    ``kpis``: the participant's measurements, per position, plan and measurement: ``before``, ``after``
    and ``change`` as raw fixed-point Nums (value x 10^6; `kpi` gives Decimals). ``incentives``: per
    position, plan and incentive: tier index and tier value (e.g. attainment) before and after, amount
    before and after and its change. ``new_tier_reached``: some tier index went up. ``result``: the
    run with the deal (kind WHAT_IF), ``transaction``: the hypothetical transaction it contains."""

    participant_id: str
    position_id: str
    currency: str
    current_minor: int
    with_deal_minor: int
    difference_minor: int
    current_payment_minor: int
    payment_with_deal_minor: int
    new_tier_reached: bool
    kpis: pl.DataFrame = field(repr=False, compare=False)
    incentives: pl.DataFrame = field(repr=False, compare=False)
    transaction: Transaction
    result: RunResult = field(repr=False, compare=False)

    def major(self, minor: int) -> Decimal:
        return from_minor(minor, self.currency)

    def kpi(self, measurement_id: str, position_id: str | None = None) -> tuple[Decimal | None, Decimal | None]:
        """A measurement's value before and after the deal (on the selling position by default)."""
        rows = self.kpis.filter(
            pl.col("measurement_id") == measurement_id, pl.col("position_id") == (position_id or self.position_id)
        )
        if rows.height == 0:
            return None, None
        before, after = rows.row(0, named=True)["before"], rows.row(0, named=True)["after"]
        return (None if before is None else fp.from_raw(before)), (None if after is None else fp.from_raw(after))


def estimate_deal(
    inputs: RunInputs,
    previous: RunResult,
    participant_id: str,
    deal: HypotheticalDeal,
    *,
    context: EngineContext | None = None,
) -> DealEstimate:
    """Price a hypothetical deal: add it to the period's transactions and run `calculate_incremental`
    from ``previous`` for the participant, so only what their sales reach is recomputed (well under a
    second at 10M transactions; pass the cached ``context`` of ``inputs``).

    ``previous`` must be the latest run of ``inputs`` (it carries the engine state): "current" is its
    figures, so any other difference between it and ``inputs`` would show in the estimate. To price a
    deal under a scenario, pass ``replace(inputs, plans=apply_scenario(...))`` and the scenario run of
    `what_if`. The open period only: a finalized one raises `PeriodFinalizedError`. Raises
    `DealValidationError` for a deal that is not positive, outside the period, in another currency, or
    whose participant holds no position (or not the given one) on its day."""
    position = _check_deal(inputs, participant_id, deal)
    transaction = Transaction(
        transaction_id=deal.transaction_id,
        booking_date=deal.day,
        credit_date=deal.day,
        amount_minor=deal.amount_minor,
        currency=deal.currency,
        seller_position_id=position,
        product=deal.product,
        territory=deal.territory,
        channel=deal.channel,
        segment=deal.segment,
    )
    with_deal = replace(inputs, transactions=_append(inputs.transactions, transaction))
    ctx = context or prepare_context(inputs)
    result = replace(calculate_incremental(with_deal, previous, [participant_id], ctx), kind=WHAT_IF)
    earned_before, paid_before = _earned(previous, participant_id)
    earned_after, paid_after = _earned(result, participant_id)
    incentives = _incentive_moves(previous, result, participant_id)
    up = incentives.select((pl.col("tier_after") > pl.col("tier_before").fill_null(-1)).fill_null(False).any()).item()
    return DealEstimate(
        participant_id=participant_id,
        position_id=position,
        currency=inputs.currency,
        current_minor=earned_before,
        with_deal_minor=earned_after,
        difference_minor=earned_after - earned_before,
        current_payment_minor=paid_before,
        payment_with_deal_minor=paid_after,
        new_tier_reached=bool(up),
        kpis=_kpi_moves(previous, result, participant_id),
        incentives=incentives,
        transaction=transaction,
        result=result,
    )


def _check_deal(inputs: RunInputs, participant_id: str, deal: HypotheticalDeal) -> str:
    """Every violation of the deal, or the selling position."""
    out: list[Violation] = []
    org, period = inputs.org, inputs.period
    if deal.amount_minor <= 0:
        out.append(Violation("deal.amount_minor", "a deal must be a positive amount"))
    elif deal.amount_minor > MAX_TRANSACTION_MINOR:
        out.append(Violation("deal.amount_minor", f"exceeds the per-transaction limit of {MAX_TRANSACTION_MINOR}"))
    if deal.currency != inputs.currency:
        out.append(Violation("deal.currency", f"is {deal.currency}, the period is calculated in {inputs.currency}"))
    inside = period.contains(deal.day)
    if not inside:
        out.append(
            Violation("deal.day", f"{deal.day} is outside the period {period} ({period.start} to {period.last_day})")
        )
    if not deal.deal_id or len(deal.transaction_id) > MAX_ID:
        out.append(Violation("deal.deal_id", f"must be 1 to {MAX_ID - len(DEAL_PREFIX)} characters"))
    elif (inputs.transactions.get_column("transaction_id").cast(pl.String) == deal.transaction_id).any():
        out.append(Violation("deal.deal_id", f"transaction {deal.transaction_id!r} already exists"))
    position = ""
    if participant_id not in org.participant_ids:
        out.append(Violation("participant_id", f"unknown participant {participant_id!r}"))
    elif inside:
        held = sorted(
            a.position_id
            for a in org.assignments_by_participant.get(participant_id, ())
            if covers(a.valid_from, a.valid_to, deal.day)
        )
        if deal.position_id is not None:
            if deal.position_id not in held:
                out.append(
                    Violation("deal.position_id", f"{participant_id} does not hold {deal.position_id!r} on {deal.day}")
                )
            position = deal.position_id
        elif not held:
            out.append(Violation("participant_id", f"{participant_id} holds no position on {deal.day}"))
        elif len(held) > 1:
            out.append(
                Violation(
                    "deal.position_id", f"{participant_id} holds {', '.join(held)} on {deal.day}: name the selling one"
                )
            )
        else:
            position = held[0]
        if position and org.version_as_of(position, deal.day) is None:
            out.append(Violation("deal.position_id", f"position {position!r} does not exist on {deal.day}"))
    if out:
        raise DealValidationError(out)
    return position


def _append(transactions: pl.DataFrame, transaction: Transaction) -> pl.DataFrame:
    """The frame with one more row, in the frame's own column types (chunks appended, not copied).

    An empty classifier is null in an Enum or Categorical column (the engine reads null as ""). A
    value an Enum column cannot hold (a product the period has never seen) widens that column to
    String: slower at 10M rows, but a condition naming the new value must still match it."""
    row = transactions_frame([transaction])
    columns: dict[str, pl.Series] = {}
    widen: list[str] = []
    for name, dtype in transactions.schema.items():
        value = row.get_column(name) if name in row.columns else pl.Series(name, [None])
        if isinstance(dtype, pl.Enum | pl.Categorical) and value[0] == "":
            value = pl.Series(name, [None], dtype=pl.String)
        try:
            columns[name] = value.cast(dtype)
        except pl.exceptions.InvalidOperationError:
            columns[name] = value.cast(pl.String)
            widen.append(name)
    frame = transactions.with_columns(pl.col(widen).cast(pl.String)) if widen else transactions
    return pl.concat([frame, pl.DataFrame(columns)], how="vertical")


def _earned(result: RunResult, participant_id: str) -> tuple[int, int]:
    rows = result.payments.filter(pl.col("participant_id") == participant_id)
    return int(rows.get_column("earnings_minor").sum()), int(rows.get_column("payment_minor").sum())


def _kpi_moves(before: RunResult, after: RunResult, participant_id: str) -> pl.DataFrame:
    key = ["position_id", "plan_id", "measurement_id"]
    mine = pl.col("participant_id") == participant_id
    old = before.measurements.filter(mine).select(*key, pl.col("value").alias("before"))
    new = after.measurements.filter(mine).select(*key, pl.col("value").alias("after"))
    return (
        old.join(new, on=key, how="full", coalesce=True)
        .with_columns((pl.col("after") - pl.col("before")).alias("change"))
        .sort(key)
    )


def _incentive_moves(before: RunResult, after: RunResult, participant_id: str) -> pl.DataFrame:
    key = ["position_id", "plan_id", "incentive_id"]
    mine = pl.col("participant_id") == participant_id

    def side(result: RunResult, name: str) -> pl.DataFrame:
        return result.payouts.filter(mine).select(
            *key,
            pl.col("tier_index").alias(f"tier_{name}"),
            pl.col("tier_value").alias(f"tier_value_{name}"),
            pl.col("amount_minor").alias(f"amount_{name}_minor"),
        )

    return (
        side(before, "before")
        .join(side(after, "after"), on=key, how="full", coalesce=True)
        .with_columns(
            [pl.col(c).fill_null(0) for c in ("amount_before_minor", "amount_after_minor")],
        )
        .with_columns((pl.col("amount_after_minor") - pl.col("amount_before_minor")).alias("change_minor"))
        .sort(key)
    )
