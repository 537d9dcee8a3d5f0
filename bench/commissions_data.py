"""Deterministic data for the commissions benchmark: a three-level sales organisation (directors,
managers, representatives), tiered plans, and millions of transactions for one quarter, built with
vectorized polars expressions (hashes of the row number) so that 10,000,000 rows take seconds.

    from bench.commissions_data import generate
    inputs = generate(participants=100_000, transactions=10_000_000, seed=7)

The organisation has mid-period events on purpose: 1% of representatives transfer on 16 March to a
new position under another manager, and one manager position moves to another director on 1 February,
so roll-ups and attributions go through the effective-dated lookups, not a static tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    CreditFilter,
    CreditRule,
    DepositRule,
    Draw,
    FormulaIncentive,
    Measurement,
    PerCreditCommission,
    Plan,
    PlanAssignment,
    PlanBook,
    RateTableIncentive,
    SplitTarget,
    ThresholdBonus,
    Tier,
    VariableOverride,
)

PERIOD = Period(2026, 3)
QUARTER_START = date(2026, 1, 1)
TRANSFER_DAY = date(2026, 3, 16)
REORG_DAY = date(2026, 2, 1)
SINCE = date(2025, 1, 1)
PRODUCTS = ("loan", "card", "mortgage", "insurance", "deposit")
TERRITORIES = tuple(f"region{i:02d}" for i in range(10))
CHANNELS = ("branch", "online", "partner")
SEGMENTS = ("mass", "affluent", "vip")
OVERLAY = "K0000"


@dataclass(frozen=True)
class Layout:
    directors: int
    managers: int
    reps: int
    movers: int  # representatives who transfer mid-period

    @classmethod
    def of(cls, participants: int) -> Layout:
        directors = max(1, participants // 2000)
        managers = max(1, participants // 40)
        reps = participants - directors - managers - 1  # one key-account overlay participant
        return cls(directors, managers, reps, reps // 100)


def rep_position(i: int) -> str:
    return f"R{i:07d}"


def participant_of_rep(i: int) -> str:
    return f"U{i:07d}"


def organisation(layout: Layout) -> Organisation:
    d, m, r = layout.directors, layout.managers, layout.reps
    versions: list[PositionVersion] = [PositionVersion(f"D{j:05d}", "DIR", None, SINCE) for j in range(d)]
    for j in range(m):
        boss = f"D{j * d // m:05d}"
        if j == 0 and d > 1:  # one manager moves to another director on 1 February
            versions.append(PositionVersion(f"M{j:06d}", "MGR", boss, SINCE, REORG_DAY))
            versions.append(PositionVersion(f"M{j:06d}", "MGR", f"D{d - 1:05d}", REORG_DAY))
        else:
            versions.append(PositionVersion(f"M{j:06d}", "MGR", boss, SINCE))
    versions += [PositionVersion(rep_position(i), "REP", f"M{i * m // r:06d}", SINCE) for i in range(r)]
    # Positions the movers transfer to: under the next manager, vacant until the transfer day.
    versions += [
        PositionVersion(f"X{k:06d}", "REP", f"M{((k * 100) * m // r + 1) % m:06d}", SINCE) for k in range(layout.movers)
    ]
    versions.append(PositionVersion(OVERLAY, "KAM", None, SINCE))
    participants = [Participant(f"U{i:07d}") for i in range(r)]
    participants += [Participant(f"V{j:06d}") for j in range(m)] + [Participant(f"W{j:05d}") for j in range(d)]
    participants.append(Participant("KAM0"))
    assignments = []
    for i in range(r):
        if i % 100 == 0 and i // 100 < layout.movers:
            assignments.append(Assignment(participant_of_rep(i), rep_position(i), SINCE, TRANSFER_DAY))
            assignments.append(Assignment(participant_of_rep(i), f"X{i // 100:06d}", TRANSFER_DAY))
        else:
            assignments.append(Assignment(participant_of_rep(i), rep_position(i), SINCE))
    assignments += [Assignment(f"V{j:06d}", f"M{j:06d}", SINCE) for j in range(m)]
    assignments += [Assignment(f"W{j:05d}", f"D{j:05d}", SINCE) for j in range(d)]
    assignments.append(Assignment("KAM0", OVERLAY, SINCE))
    titles = (Title("DIR", "Regional director"), Title("MGR", "Sales manager"), Title("REP", "Sales representative"))
    return Organisation(
        (*titles, Title("KAM", "Key account manager")), tuple(versions), tuple(participants), tuple(assignments)
    )


def plan_book(layout: Layout) -> PlanBook:
    rep = Plan(
        plan_id="rep-2026",
        name="Representatives 2026: graduated commission on quarterly attainment",
        variables={"quota": Decimal(3_000_000), "target": Decimal(150_000), "draw": Decimal(30_000)},
        credit_rules=(
            CreditRule(rule_id="standard", condition={"segment": ("mass", "affluent")}, rollup_levels=None),
            CreditRule(
                rule_id="vip",
                condition={"segment": ("vip",)},
                targets=(SplitTarget(percent=Decimal(90)), SplitTarget(position=OVERLAY, percent=Decimal(10))),
                rollup_levels=None,
            ),
        ),
        measurements=(
            Measurement(measurement_id="revenue", window="QTD", filter=CreditFilter(credit_types="DIRECT")),
            Measurement(measurement_id="month_revenue", filter=CreditFilter(credit_types="DIRECT")),
            Measurement(measurement_id="deals", kind="COUNT", filter=CreditFilter(credit_types="DIRECT")),
            Measurement(measurement_id="attainment", kind="FORMULA", formula="revenue / quota"),
        ),
        incentives=(
            RateTableIncentive(
                incentive_id="commission",
                payout_window="QTD",
                base="revenue",
                basis="ATTAINMENT",
                quota="quota",
                method="GRADUATED",
                tiers=(
                    Tier(lower=Decimal(0), upper=Decimal("0.5"), rate=Decimal("0.01")),
                    Tier(lower=Decimal("0.5"), upper=Decimal(1), rate=Decimal("0.02")),
                    Tier(lower=Decimal(1), upper=Decimal("1.5"), rate=Decimal("0.035")),
                    Tier(lower=Decimal("1.5"), rate=Decimal("0.05")),
                ),
                multipliers=(
                    Tier(lower=Decimal(0), upper=Decimal("0.3"), rate=Decimal("0.5")),
                    Tier(lower=Decimal("0.3"), rate=Decimal(1)),
                ),
                cap="target * 4",
            ),
            ThresholdBonus(
                incentive_id="quota_bonus", payout_window="QTD", condition="attainment >= 1", amount="target * 0.2"
            ),
            PerCreditCommission(
                incentive_id="insurance",
                filter=CreditFilter(credit_types="DIRECT", condition={"product": ("insurance",)}),
                rate=Decimal("0.01"),
                rates_by="channel",
                rate_table={"online": Decimal("0.015")},
                amount_per_unit=Decimal(50),
            ),
        ),
        deposits=(
            DepositRule(
                deposit_id="bonus_hold",
                incentive_ids=("quota_bonus",),
                hold_percent=Decimal(20),
                release_after_periods=3,
            ),
        ),
        draw=Draw(amount="draw", recoverable=True),
    )

    def leader(plan_id: str, quota: int, rates: tuple[str, str, str]) -> Plan:
        return Plan(
            plan_id=plan_id,
            variables={"quota": Decimal(quota)},
            measurements=(
                Measurement(measurement_id="team_revenue", window="QTD", filter=CreditFilter(credit_types="INDIRECT")),
                Measurement(measurement_id="team_attainment", kind="FORMULA", formula="team_revenue / quota"),
            ),
            incentives=(
                RateTableIncentive(
                    incentive_id="override",
                    payout_window="QTD",
                    base="team_revenue",
                    basis="ATTAINMENT",
                    quota="quota",
                    tiers=(
                        Tier(lower=Decimal(0), upper=Decimal("0.8"), rate=Decimal(rates[0])),
                        Tier(lower=Decimal("0.8"), upper=Decimal(1), rate=Decimal(rates[1])),
                        Tier(lower=Decimal(1), rate=Decimal(rates[2])),
                    ),
                ),
            ),
        )

    per_manager = layout.reps // layout.managers * 3_000_000
    kam = Plan(
        plan_id="kam-2026",
        measurements=(Measurement(measurement_id="overlay", filter=CreditFilter(credit_types="DIRECT")),),
        incentives=(FormulaIncentive(incentive_id="overlay_fee", formula="overlay * 0.005"),),
    )
    plans = (
        rep,
        leader("mgr-2026", per_manager, ("0.002", "0.004", "0.006")),
        leader("dir-2026", per_manager * (layout.managers // layout.directors), ("0.0005", "0.001", "0.0015")),
        kam,
    )
    assignments = (
        PlanAssignment("rep-2026", SINCE, title_id="REP"),
        PlanAssignment("mgr-2026", SINCE, title_id="MGR"),
        PlanAssignment("dir-2026", SINCE, title_id="DIR"),
        PlanAssignment("kam-2026", SINCE, position_id=OVERLAY),
    )
    overrides = tuple(
        VariableOverride(
            "rep-2026", "quota", Decimal(2_000_000 + (i % 7) * 250_000), SINCE, position_id=rep_position(i)
        )
        for i in range(layout.reps)
    )
    return PlanBook(plans, assignments, overrides)


def _pick(values: tuple[str, ...], h: pl.Expr) -> pl.Expr:
    """A value of ``values`` chosen by a hash, as an Enum column (4 bytes a row, not a string)."""
    return pl.lit(pl.Series(values, dtype=pl.Enum(values))).gather((h % len(values)).cast(pl.UInt32))


def transactions(layout: Layout, org: Organisation, count: int, seed: int) -> pl.DataFrame:
    """``count`` rows: sales over the quarter plus about 0.5% full reversals of earlier sales."""
    positions = sorted(org.position_ids)
    position_enum = pl.Enum(positions)
    first_rep = positions.index(rep_position(0))  # representatives' codes are contiguous
    first_mover = positions.index("X000000") if layout.movers else 0

    def h(k: int) -> pl.Expr:
        return pl.col("i").hash(seed * 1000 + k)

    rep = (h(1) % layout.reps).cast(pl.Int64)
    day = (h(2) % 90).cast(pl.Int32)
    moved = ((rep % 100) == 0) & ((rep // 100) < layout.movers) & (day >= (TRANSFER_DAY - QUARTER_START).days)
    code = pl.when(moved).then(first_mover + rep // 100).otherwise(first_rep + rep).cast(pl.UInt32)
    when = (pl.lit(QUARTER_START) + pl.duration(days=day)).cast(pl.Date)
    base = pl.select(pl.int_range(count, dtype=pl.UInt64).alias("i")).select(
        pl.concat_str([pl.lit("T"), pl.col("i").cast(pl.String).str.zfill(9)]).alias("transaction_id"),
        when.alias("booking_date"),
        when.alias("credit_date"),
        (100_000 + h(3) % 5_900_000).cast(pl.Int64).alias("amount_minor"),
        pl.lit("RUB", pl.Enum(["RUB"])).alias("currency"),
        pl.lit(pl.Series(positions, dtype=position_enum)).gather(code).alias("seller_position_id"),
        _pick(PRODUCTS, h(4)).alias("product"),
        _pick(TERRITORIES, h(5)).alias("territory"),
        _pick(CHANNELS, h(6)).alias("channel"),
        _pick(SEGMENTS, h(7)).alias("segment"),
        pl.lit(None, pl.String).alias("original_id"),
        pl.lit(1, pl.Int32).alias("units"),
        ((h(8) % 201 == 0) & (pl.col("i") < count * 99 // 100)).alias("reverse"),
    )
    reversals = base.filter(pl.col("reverse") & (pl.col("booking_date") < date(2026, 3, 25))).with_columns(
        pl.col("transaction_id").str.replace("T", "V").alias("transaction_id"),
        (pl.col("booking_date") + pl.duration(days=5)).alias("booking_date"),
        (-pl.col("amount_minor")).alias("amount_minor"),
        pl.col("transaction_id").alias("original_id"),
        pl.lit(-1, pl.Int32).alias("units"),
    )
    # Exactly ``count`` rows: drop sales from the end (none of them is reversed).
    return pl.concat([base.head(count - reversals.height), reversals]).drop("reverse")


def generate(participants: int = 100_000, transactions_count: int = 10_000_000, seed: int = 7) -> RunInputs:
    """The inputs of a full run of March 2026 (quarter-to-date plans)."""
    layout = Layout.of(participants)
    org = organisation(layout)
    return RunInputs(
        period=PERIOD,
        org=org,
        plans=plan_book(layout),
        transactions=transactions(layout, org, transactions_count, seed),
    )
