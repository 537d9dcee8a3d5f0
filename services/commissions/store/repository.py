"""Reads and writes of the commissions schema on one connection (the caller owns the transaction).

Domain values go in and come out (`Organisation`, `Plan`, `PlanAssignment`, `Transaction`,
`PeriodLedger`, run frames); no business rule lives here. Run results are stored as one JSON document
per frame (see migration 0001 for why) plus a row per participant's payment.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.commissions.domain.inputs import Adjustment, OverpaymentClass
from services.commissions.domain.org import (
    Assignment,
    Organisation,
    Participant,
    ParticipantRole,
    PositionVersion,
    Title,
)
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import Plan, PlanAssignment, PlanBook, VariableOverride
from services.commissions.domain.results import CREDIT_SCHEMA, SCHEMAS
from services.commissions.domain.runs import PeriodLedger, RunRecord
from services.commissions.domain.transactions import TRANSACTION_SCHEMA, Transaction

S = "commissions"
CREDITS = "credits"


def frame_schema(name: str) -> dict[str, pl.DataType]:
    return CREDIT_SCHEMA if name == CREDITS else SCHEMAS[name]


def frame_to_ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="zstd")
    return buffer.getvalue()


def frame_from_ipc(name: str, data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(data)).cast(frame_schema(name))  # type: ignore[arg-type]


def frame_from_json(name: str, data: str) -> pl.DataFrame:
    """Frames stored before migration 0004."""
    return pl.read_json(io.StringIO(data), schema=frame_schema(name))


def plan_book_to_json(book: PlanBook) -> dict[str, Any]:
    return {
        "plans": [p.model_dump(mode="json") for p in book.plans],
        "assignments": [
            {
                "plan_id": a.plan_id,
                "valid_from": a.valid_from.isoformat(),
                "valid_to": a.valid_to.isoformat() if a.valid_to else None,
                "title_id": a.title_id,
                "position_id": a.position_id,
            }
            for a in book.assignments
        ],
        "overrides": [
            {
                "plan_id": o.plan_id,
                "variable": o.variable,
                "value": str(o.value),
                "valid_from": o.valid_from.isoformat(),
                "valid_to": o.valid_to.isoformat() if o.valid_to else None,
                "title_id": o.title_id,
                "position_id": o.position_id,
            }
            for o in book.overrides
        ],
    }


def plan_book_from_json(data: Mapping[str, Any]) -> PlanBook:
    return PlanBook(
        tuple(Plan.model_validate(p) for p in data["plans"]),
        tuple(
            PlanAssignment(
                a["plan_id"],
                date.fromisoformat(a["valid_from"]),
                date.fromisoformat(a["valid_to"]) if a["valid_to"] else None,
                title_id=a["title_id"],
                position_id=a["position_id"],
            )
            for a in data["assignments"]
        ),
        tuple(
            VariableOverride(
                o["plan_id"],
                o["variable"],
                Decimal(o["value"]),
                date.fromisoformat(o["valid_from"]),
                date.fromisoformat(o["valid_to"]) if o["valid_to"] else None,
                title_id=o["title_id"],
                position_id=o["position_id"],
            )
            for o in data.get("overrides", ())
        ),
    )


@dataclass(frozen=True)
class RunRow:
    period: Period
    run_version: int
    kind: str
    currency: str
    plan_book: PlanBook
    recorded_at: datetime
    inputs_as_of: datetime | None = None
    carried_from: tuple[Period, int] | None = None
    inputs_snapshot: str | None = None  # pg_snapshot text: rows not visible in it are new to the run


@dataclass(frozen=True)
class StoredState:
    """What an incremental run starts from: the credit aggregate and the fingerprint behind it."""

    fingerprint: int
    aggregate: pl.DataFrame


@dataclass(frozen=True)
class StoredPlanVersion:
    plan: Plan
    effective_period: Period | None
    recorded_at: datetime


@dataclass(frozen=True)
class StoredOverride:
    override_id: int
    override: VariableOverride


@dataclass(frozen=True)
class StoredAssignment:
    assignment_id: int
    assignment: PlanAssignment


@dataclass(frozen=True)
class StoredAdjustment:
    adjustment: Adjustment
    period: Period
    currency: str
    recorded_at: datetime


@dataclass(frozen=True)
class RunSummaryRow:
    run_version: int
    kind: str
    recorded_at: datetime
    payees: int
    total_payment_minor: int
    currency: str


def _carried(text_value: str | None) -> tuple[Period, int] | None:
    if not text_value:
        return None
    period, _, version = text_value.partition(":")
    return Period.parse(period), int(version)


#: The organisation read last per database: (revision, organisation). Organisation is immutable, so one
#: copy serves every request until the revision moves.
_ORGANISATIONS: dict[str, tuple[int, Organisation]] = {}


class Repository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _rows(self, sql: str, **params: Any) -> list[Any]:
        return list((await self.conn.execute(text(sql), params)).mappings())

    # -- idempotency -------------------------------------------------------------------------------

    async def stored_response(self, operation: str, request_id: str) -> bytes | None:
        rows = await self._rows(
            f"SELECT response FROM {S}.idempotency WHERE operation = :op AND request_id = :rid",
            op=operation,
            rid=request_id,
        )
        return bytes(rows[0]["response"]) if rows else None

    async def store_response(self, operation: str, request_id: str, response: bytes) -> None:
        await self.conn.execute(
            text(f"INSERT INTO {S}.idempotency (operation, request_id, response) VALUES (:op, :rid, :resp)"),
            {"op": operation, "rid": request_id, "resp": response},
        )

    async def lock(self, key: str) -> None:
        """Serialise writers of the same kind (organisation, plans, a period) for this transaction."""
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"commissions:{key}"})

    # -- organisation ------------------------------------------------------------------------------

    async def organisation(self) -> Organisation:
        """The whole organisation; the copy read last is reused while the organisation's revision (bumped
        by a trigger on every write, migration 0006) has not moved."""
        key = str(self.conn.engine.url)
        rows = await self._rows(f"SELECT revision FROM {S}.revisions WHERE name = 'organisation'")
        revision = int(rows[0]["revision"]) if rows else -1
        cached = _ORGANISATIONS.get(key)
        if cached is not None and cached[0] == revision >= 0:
            return cached[1]
        org = await self._read_organisation()
        _ORGANISATIONS[key] = (revision, org)
        return org

    async def _read_organisation(self) -> Organisation:
        titles = await self._rows(f"SELECT title_id, name FROM {S}.titles ORDER BY title_id")
        positions = await self._rows(
            f"SELECT position_id, title_id, manager_position_id, valid_from, valid_to FROM {S}.position_versions "
            "ORDER BY position_id, valid_from"
        )
        participants = await self._rows(f"SELECT participant_id, name, role FROM {S}.participants ORDER BY 1")
        assignments = await self._rows(
            f"SELECT participant_id, position_id, valid_from, valid_to FROM {S}.assignments ORDER BY 1, 2, 3"
        )
        return Organisation(
            titles=tuple(Title(r["title_id"], r["name"]) for r in titles),
            positions=tuple(
                PositionVersion(
                    r["position_id"], r["title_id"], r["manager_position_id"], r["valid_from"], r["valid_to"]
                )
                for r in positions
            ),
            participants=tuple(
                Participant(r["participant_id"], r["name"], ParticipantRole(r["role"])) for r in participants
            ),
            assignments=tuple(
                Assignment(r["participant_id"], r["position_id"], r["valid_from"], r["valid_to"]) for r in assignments
            ),
        )

    async def title_and_position_ids(self) -> tuple[set[str], set[str]]:
        """What a plan assignment or an override may name, without reading the whole organisation."""
        titles = await self._rows(f"SELECT title_id FROM {S}.titles")
        positions = await self._rows(f"SELECT DISTINCT position_id FROM {S}.position_versions")
        return {r["title_id"] for r in titles}, {r["position_id"] for r in positions}

    async def add_organisation(
        self,
        titles: Iterable[Title],
        positions: Iterable[PositionVersion],
        participants: Iterable[Participant],
        assignments: Iterable[Assignment],
    ) -> None:
        for t in titles:
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.titles (title_id, name) VALUES (:id, :name) "
                    "ON CONFLICT (title_id) DO UPDATE SET name = EXCLUDED.name"
                ),
                {"id": t.title_id, "name": t.name},
            )
        for p in participants:
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.participants (participant_id, name, role) VALUES (:id, :name, :role) "
                    "ON CONFLICT (participant_id) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role"
                ),
                {"id": p.participant_id, "name": p.name, "role": p.role.value},
            )
        for v in positions:
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.position_versions (position_id, title_id, manager_position_id, valid_from, "
                    "valid_to) VALUES (:id, :title, :mgr, :vf, :vt) ON CONFLICT DO NOTHING"
                ),
                {"id": v.position_id, "title": v.title_id, "mgr": v.manager_id, "vf": v.valid_from, "vt": v.valid_to},
            )
        for a in assignments:
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.assignments (participant_id, position_id, valid_from, valid_to) "
                    "VALUES (:pid, :pos, :vf, :vt) ON CONFLICT DO NOTHING"
                ),
                {"pid": a.participant_id, "pos": a.position_id, "vf": a.valid_from, "vt": a.valid_to},
            )

    # -- plans -------------------------------------------------------------------------------------

    async def latest_plans(self) -> list[Plan]:
        rows = await self._rows(
            f"SELECT DISTINCT ON (plan_id) plan FROM {S}.plans ORDER BY plan_id, version DESC",
        )
        return [Plan.model_validate(_json(r["plan"])) for r in rows]

    async def plans_in_effect(self, period: Period) -> list[Plan]:
        """Per plan, the highest version effective in ``period`` (plans not yet in effect are left out)."""
        rows = await self._rows(
            f"SELECT DISTINCT ON (plan_id) plan FROM {S}.plans "
            "WHERE effective_period IS NULL OR effective_period <= :p ORDER BY plan_id, version DESC",
            p=str(period),
        )
        return [Plan.model_validate(_json(r["plan"])) for r in rows]

    async def plan_versions(self, plan_id: str | None = None) -> list[StoredPlanVersion]:
        rows = await self._rows(
            f"SELECT plan, effective_period, recorded_at FROM {S}.plans "
            "WHERE CAST(:id AS text) IS NULL OR plan_id = :id ORDER BY plan_id, version",
            id=plan_id,
        )
        return [
            StoredPlanVersion(
                Plan.model_validate(_json(r["plan"])),
                Period.parse(r["effective_period"]) if r["effective_period"] else None,
                r["recorded_at"],
            )
            for r in rows
        ]

    async def variable_overrides(self, plan_id: str | None = None) -> list[StoredOverride]:
        rows = await self._rows(
            f"SELECT override_id, plan_id, variable, value, title_id, position_id, valid_from, valid_to "
            f"FROM {S}.variable_overrides WHERE CAST(:plan AS text) IS NULL OR plan_id = :plan ORDER BY override_id",
            plan=plan_id,
        )
        return [
            StoredOverride(
                int(r["override_id"]),
                VariableOverride(
                    r["plan_id"],
                    r["variable"],
                    r["value"],
                    r["valid_from"],
                    r["valid_to"],
                    title_id=r["title_id"],
                    position_id=r["position_id"],
                ),
            )
            for r in rows
        ]

    async def add_variable_override(self, o: VariableOverride) -> int:
        rows = await self._rows(
            f"INSERT INTO {S}.variable_overrides (plan_id, variable, value, title_id, position_id, valid_from, "
            "valid_to) VALUES (:plan, :var, :value, :title, :pos, :vf, :vt) RETURNING override_id",
            plan=o.plan_id,
            var=o.variable,
            value=o.value,
            title=o.title_id,
            pos=o.position_id,
            vf=o.valid_from,
            vt=o.valid_to,
        )
        return int(rows[0]["override_id"])

    async def plan_book(self, period: Period) -> PlanBook:
        """The plans in effect in ``period`` with every assignment and override."""
        return PlanBook(
            tuple(await self.plans_in_effect(period)),
            tuple(await self.plan_assignments()),
            tuple(o.override for o in await self.variable_overrides()),
        )

    async def next_plan_version(self, plan_id: str) -> int:
        rows = await self._rows(
            f"SELECT coalesce(max(version), 0) + 1 AS v FROM {S}.plans WHERE plan_id = :p", p=plan_id
        )
        return int(rows[0]["v"])

    async def add_plan(self, plan: Plan, effective_period: Period | None = None) -> None:
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.plans (plan_id, version, plan, effective_period) "
                "VALUES (:id, :v, CAST(:plan AS jsonb), :eff)"
            ),
            {
                "id": plan.plan_id,
                "v": plan.version,
                "plan": json.dumps(plan.model_dump(mode="json")),
                "eff": None if effective_period is None else str(effective_period),
            },
        )

    async def plan_assignments(self) -> list[PlanAssignment]:
        return [a.assignment for a in await self.stored_plan_assignments()]

    async def stored_plan_assignments(self) -> list[StoredAssignment]:
        rows = await self._rows(
            f"SELECT assignment_id, plan_id, valid_from, valid_to, title_id, position_id FROM {S}.plan_assignments "
            "ORDER BY assignment_id"
        )
        return [
            StoredAssignment(
                int(r["assignment_id"]),
                PlanAssignment(
                    r["plan_id"], r["valid_from"], r["valid_to"], title_id=r["title_id"], position_id=r["position_id"]
                ),
            )
            for r in rows
        ]

    async def add_plan_assignment(self, a: PlanAssignment) -> int:
        rows = await self._rows(
            f"INSERT INTO {S}.plan_assignments (plan_id, title_id, position_id, valid_from, valid_to) "
            "VALUES (:plan, :title, :pos, :vf, :vt) RETURNING assignment_id",
            plan=a.plan_id,
            title=a.title_id,
            pos=a.position_id,
            vf=a.valid_from,
            vt=a.valid_to,
        )
        return int(rows[0]["assignment_id"])

    # -- transactions ------------------------------------------------------------------------------

    async def transactions_by_id(self, ids: Collection[str]) -> dict[str, Transaction]:
        if not ids:
            return {}
        # One array parameter, not one parameter per id: asyncpg takes at most 32,767 arguments.
        stmt = text(f"SELECT * FROM {S}.transactions WHERE transaction_id = ANY(:ids)")
        rows = (await self.conn.execute(stmt, {"ids": list(ids)})).mappings()
        return {r["transaction_id"]: _transaction(r) for r in rows}

    async def reversed_minor(self, original_ids: Collection[str]) -> dict[str, int]:
        """How much of each original is already reversed, as a positive number of minor units."""
        if not original_ids:
            return {}
        stmt = text(
            f"SELECT original_id, -sum(amount_minor) AS rev FROM {S}.transactions WHERE original_id = ANY(:ids) "
            "GROUP BY original_id"
        )
        rows = (await self.conn.execute(stmt, {"ids": list(original_ids)})).mappings()
        return {r["original_id"]: int(r["rev"]) for r in rows}

    async def add_transactions(self, txns: Iterable[Transaction]) -> int:
        params = [
            {
                "id": t.transaction_id,
                "bd": t.booking_date,
                "cd": t.credit_date,
                "amt": t.amount_minor,
                "cur": t.currency,
                "pos": t.seller_position_id,
                "product": t.product,
                "territory": t.territory,
                "channel": t.channel,
                "segment": t.segment,
                "orig": t.original_id,
                "units": t.units,
            }
            for t in txns
        ]
        if not params:
            return 0
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.transactions (transaction_id, booking_date, credit_date, amount_minor, currency, "
                "seller_position_id, product, territory, channel, segment, original_id, units) VALUES "
                "(:id, :bd, :cd, :amt, :cur, :pos, :product, :territory, :channel, :segment, :orig, :units) "
                "ON CONFLICT (transaction_id) DO NOTHING"
            ),
            params,
        )
        return len(params)

    async def transactions_frame(
        self, first_day: date, last_day: date, sellers: Collection[str] | None = None
    ) -> pl.DataFrame:
        """The transactions booked in the window (of the given selling positions, or all) as the frame
        runs read (`TRANSACTION_SCHEMA`), by transaction id.

        A run reads a year of transactions: millions of rows. They are copied out of PostgreSQL as CSV
        into polars on the transaction's own connection (so under its snapshot), never turned into one
        Python object per row, which costs several times the calculation itself."""
        columns = ", ".join(TRANSACTION_SCHEMA)
        where = "booking_date BETWEEN $1 AND $2" + ("" if sellers is None else " AND seller_position_id = ANY($3)")
        args: list[Any] = [first_day, last_day] + ([] if sellers is None else [list(sellers)])
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        buffer = io.BytesIO()
        await driver.copy_from_query(
            f"SELECT {columns} FROM {S}.transactions WHERE {where} ORDER BY transaction_id",
            *args,
            output=buffer,
            format="csv",
            header=True,
        )
        buffer.seek(0)
        frame = pl.read_csv(buffer, schema=TRANSACTION_SCHEMA)
        # PostgreSQL writes NULL as an empty field and '' as "": only original_id may be null.
        return frame.with_columns(pl.col(c).fill_null("") for c in ("product", "territory", "channel", "segment"))

    async def transactions_between(self, first_day: date, last_day: date) -> list[Transaction]:
        rows = await self._rows(
            f"SELECT * FROM {S}.transactions WHERE booking_date BETWEEN :a AND :b ORDER BY transaction_id",
            a=first_day,
            b=last_day,
        )
        return [_transaction(r) for r in rows]

    async def transactions_of_sellers(
        self, sellers: Collection[str], first_day: date, last_day: date
    ) -> list[Transaction]:
        if not sellers:
            return []
        stmt = text(
            f"SELECT * FROM {S}.transactions WHERE seller_position_id = ANY(:sellers) "
            "AND booking_date BETWEEN :a AND :b ORDER BY transaction_id"
        )
        rows = (await self.conn.execute(stmt, {"sellers": list(sellers), "a": first_day, "b": last_day})).mappings()
        return [_transaction(r) for r in rows]

    async def sellers_new_since(self, snapshot: str, first_day: date, last_day: date) -> set[str]:
        """Selling positions of transactions booked in the window and not visible in ``snapshot``."""
        rows = await self._rows(
            f"SELECT DISTINCT seller_position_id FROM {S}.transactions "
            "WHERE NOT pg_visible_in_snapshot(recorded_xid, CAST(CAST(:snap AS text) AS pg_snapshot)) "
            "AND booking_date BETWEEN :a AND :b",
            snap=snapshot,
            a=first_day,
            b=last_day,
        )
        return {r["seller_position_id"] for r in rows}

    async def snapshot(self) -> tuple[datetime, str]:
        """The instant and the PostgreSQL snapshot a run takes before reading its inputs: rows not
        visible in it are new to that run (see migration 0003)."""
        rows = await self._rows("SELECT clock_timestamp() AS t, CAST(pg_current_snapshot() AS text) AS snap")
        return rows[0]["t"], rows[0]["snap"]

    async def inputs_changed_after(self, after: datetime, first_day: date, last_day: date, period: Period) -> bool:
        """Whether anything a run of ``period`` reads was recorded after ``after``: transactions booked
        in its window, plan versions effective in it, plan assignments, overrides, the organisation."""
        rows = await self._rows(
            f"SELECT EXISTS (SELECT 1 FROM {S}.transactions WHERE recorded_at > :t "
            "AND booking_date BETWEEN :a AND :b) "
            f"OR EXISTS (SELECT 1 FROM {S}.plans WHERE recorded_at > :t "
            "AND (effective_period IS NULL OR effective_period <= :p)) "
            f"OR EXISTS (SELECT 1 FROM {S}.plan_assignments WHERE recorded_at > :t) "
            f"OR EXISTS (SELECT 1 FROM {S}.variable_overrides WHERE recorded_at > :t) "
            f"OR EXISTS (SELECT 1 FROM {S}.position_versions WHERE recorded_at > :t) "
            f"OR EXISTS (SELECT 1 FROM {S}.assignments WHERE recorded_at > :t) AS changed",
            t=after,
            a=first_day,
            b=last_day,
            p=str(period),
        )
        return bool(rows[0]["changed"])

    # -- periods and runs --------------------------------------------------------------------------

    async def ledger(self, period: Period) -> PeriodLedger:
        runs = await self._rows(
            f"SELECT run_version, kind, recorded_at FROM {S}.runs WHERE period = :p ORDER BY run_version",
            p=str(period),
        )
        row = await self._rows(
            f"SELECT finalized_version, finalized_at FROM {S}.periods WHERE period = :p", p=str(period)
        )
        return PeriodLedger(
            period,
            tuple(RunRecord(r["run_version"], r["kind"], r["recorded_at"]) for r in runs),
            row[0]["finalized_version"] if row else None,
            row[0]["finalized_at"] if row else None,
        )

    async def finalized_ledgers(self, before: Period) -> list[tuple[Period, int, datetime]]:
        """Finalized periods before ``before``: (period, finalized run version, finalized at), oldest first."""
        rows = await self._rows(
            f"SELECT period, finalized_version, finalized_at FROM {S}.periods "
            "WHERE finalized_version IS NOT NULL AND period < :p ORDER BY period",
            p=str(before),
        )
        return [(Period.parse(r["period"]), int(r["finalized_version"]), r["finalized_at"]) for r in rows]

    async def finalized_runs_between(self, after: Period, before: Period) -> list[tuple[Period, int, datetime]]:
        """Finalized runs of periods strictly between the two: (period, version, inputs read at)."""
        rows = await self._rows(
            f"SELECT r.period, r.run_version, coalesce(r.inputs_as_of, r.recorded_at) AS t FROM {S}.runs r "
            f"JOIN {S}.periods p ON p.period = r.period AND p.finalized_version = r.run_version "
            "WHERE r.period > :a AND r.period < :b ORDER BY r.period",
            a=str(after),
            b=str(before),
        )
        return [(Period.parse(r["period"]), int(r["run_version"]), r["t"]) for r in rows]

    async def run_summaries(self, period: Period) -> list[RunSummaryRow]:
        rows = await self._rows(
            f"SELECT r.run_version, r.kind, r.recorded_at, r.currency, count(p.participant_id) AS payees, "
            f"coalesce(sum(p.payment_minor), 0) AS total FROM {S}.runs r LEFT JOIN {S}.run_payments p "
            "ON p.period = r.period AND p.run_version = r.run_version WHERE r.period = :p "
            "GROUP BY r.run_version, r.kind, r.recorded_at, r.currency ORDER BY r.run_version",
            p=str(period),
        )
        return [
            RunSummaryRow(
                int(r["run_version"]), r["kind"], r["recorded_at"], int(r["payees"]), int(r["total"]), r["currency"]
            )
            for r in rows
        ]

    async def participant_names(self, ids: Collection[str]) -> dict[str, str]:
        if not ids:
            return {}
        stmt = text(f"SELECT participant_id, name FROM {S}.participants WHERE participant_id = ANY(:ids)")
        rows = (await self.conn.execute(stmt, {"ids": list(ids)})).mappings()
        return {r["participant_id"]: r["name"] for r in rows}

    async def finalized_periods(self) -> frozenset[Period]:
        rows = await self._rows(f"SELECT period FROM {S}.periods WHERE finalized_version IS NOT NULL")
        return frozenset(Period.parse(r["period"]) for r in rows)

    # -- adjustments -------------------------------------------------------------------------------

    async def add_adjustment(self, adjustment: Adjustment, period: Period, currency: str) -> None:
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.adjustments (adjustment_id, participant_id, period, amount_minor, currency, "
                "reason, overpayment_class) VALUES (:id, :pid, :p, :amt, :cur, :reason, :cls)"
            ),
            {
                "id": adjustment.adjustment_id,
                "pid": adjustment.participant_id,
                "p": str(period),
                "amt": adjustment.amount_minor,
                "cur": currency,
                "reason": adjustment.reason,
                "cls": None if adjustment.overpayment_class is None else adjustment.overpayment_class.value,
            },
        )

    async def adjustments(self, period: Period, currency: str) -> tuple[Adjustment, ...]:
        rows = await self._rows(
            f"SELECT adjustment_id, participant_id, amount_minor, reason, overpayment_class FROM {S}.adjustments "
            "WHERE period = :p AND currency = :cur ORDER BY recorded_at, adjustment_id",
            p=str(period),
            cur=currency,
        )
        return tuple(
            Adjustment(
                adjustment_id=r["adjustment_id"],
                participant_id=r["participant_id"],
                amount_minor=int(r["amount_minor"]),
                reason=r["reason"],
                overpayment_class=None if r["overpayment_class"] is None else OverpaymentClass(r["overpayment_class"]),
            )
            for r in rows
        )

    async def participants_adjusted_since(self, period: Period, snapshot: str) -> set[str]:
        rows = await self._rows(
            f"SELECT DISTINCT participant_id FROM {S}.adjustments WHERE period = :p "
            "AND NOT pg_visible_in_snapshot(recorded_xid, CAST(CAST(:snap AS text) AS pg_snapshot))",
            p=str(period),
            snap=snapshot,
        )
        return {r["participant_id"] for r in rows}

    async def stored_adjustments(self, period: Period, participant_id: str | None = None) -> list[StoredAdjustment]:
        rows = await self._rows(
            f"SELECT adjustment_id, participant_id, amount_minor, currency, reason, overpayment_class, recorded_at "
            f"FROM {S}.adjustments WHERE period = :p AND (CAST(:pid AS text) IS NULL OR participant_id = :pid) "
            "ORDER BY recorded_at, adjustment_id",
            p=str(period),
            pid=participant_id,
        )
        return [
            StoredAdjustment(
                Adjustment(
                    adjustment_id=r["adjustment_id"],
                    participant_id=r["participant_id"],
                    amount_minor=int(r["amount_minor"]),
                    reason=r["reason"],
                    overpayment_class=None
                    if r["overpayment_class"] is None
                    else OverpaymentClass(r["overpayment_class"]),
                ),
                period,
                r["currency"],
                r["recorded_at"],
            )
            for r in rows
        ]

    async def finalize(self, ledger: PeriodLedger) -> None:
        await self.conn.execute(
            text(f"UPDATE {S}.periods SET finalized_version = :v, finalized_at = :at WHERE period = :p"),
            {"v": ledger.finalized_version, "at": ledger.finalized_at, "p": str(ledger.period)},
        )

    async def add_run(
        self,
        run: RunRow,
        frames: Mapping[str, pl.DataFrame],
        payments: Iterable[tuple[str, int, int]],
        state: StoredState | None = None,
    ) -> None:
        p = str(run.period)
        await self.conn.execute(text(f"INSERT INTO {S}.periods (period) VALUES (:p) ON CONFLICT DO NOTHING"), {"p": p})
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.runs (period, run_version, kind, currency, plan_book, recorded_at, inputs_as_of, "
                "carried_from, inputs_snapshot) VALUES (:p, :v, :kind, :cur, CAST(:book AS jsonb), :at, :asof, "
                ":carried, :snap)"
            ),
            {
                "p": p,
                "v": run.run_version,
                "kind": run.kind,
                "cur": run.currency,
                "book": json.dumps(plan_book_to_json(run.plan_book)),
                "at": run.recorded_at,
                "asof": run.inputs_as_of,
                "carried": None if run.carried_from is None else f"{run.carried_from[0]}:{run.carried_from[1]}",
                "snap": run.inputs_snapshot,
            },
        )
        if state is not None:
            buffer = io.BytesIO()
            state.aggregate.write_ipc(buffer, compression="lz4")
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.run_state (period, run_version, fingerprint, aggregate) VALUES (:p, :v, :f, :agg)"
                ),
                {"p": p, "v": run.run_version, "f": str(state.fingerprint), "agg": buffer.getvalue()},
            )
        await self.conn.execute(
            text(f"INSERT INTO {S}.run_frames (period, run_version, name, ipc) VALUES (:p, :v, :name, :ipc)"),
            [{"p": p, "v": run.run_version, "name": n, "ipc": frame_to_ipc(f)} for n, f in frames.items()],
        )
        rows = [{"p": p, "v": run.run_version, "pid": pid, "e": e, "pay": pay} for pid, e, pay in payments]
        if rows:
            await self.conn.execute(
                text(
                    f"INSERT INTO {S}.run_payments (period, run_version, participant_id, earnings_minor, "
                    "payment_minor) VALUES (:p, :v, :pid, :e, :pay)"
                ),
                rows,
            )

    async def run(self, period: Period, run_version: int) -> RunRow | None:
        rows = await self._rows(
            f"SELECT kind, currency, plan_book, recorded_at, inputs_as_of, carried_from, inputs_snapshot FROM {S}.runs "
            "WHERE period = :p AND run_version = :v",
            p=str(period),
            v=run_version,
        )
        if not rows:
            return None
        r = rows[0]
        return RunRow(
            period,
            run_version,
            r["kind"],
            r["currency"],
            plan_book_from_json(_json(r["plan_book"])),
            r["recorded_at"],
            r["inputs_as_of"],
            _carried(r["carried_from"]),
            r["inputs_snapshot"],
        )

    async def run_state(self, period: Period, run_version: int) -> StoredState | None:
        rows = await self._rows(
            f"SELECT fingerprint, aggregate FROM {S}.run_state WHERE period = :p AND run_version = :v",
            p=str(period),
            v=run_version,
        )
        if not rows:
            return None
        return StoredState(int(rows[0]["fingerprint"]), pl.read_ipc(io.BytesIO(bytes(rows[0]["aggregate"]))))

    async def frames(
        self, period: Period, run_version: int, names: Collection[str] | None = None
    ) -> dict[str, pl.DataFrame]:
        rows = await self._rows(
            f"SELECT name, data, ipc FROM {S}.run_frames WHERE period = :p AND run_version = :v"
            + ("" if names is None else " AND name = ANY(:names)"),
            p=str(period),
            v=run_version,
            **({} if names is None else {"names": list(names)}),
        )
        return {
            r["name"]: frame_from_ipc(r["name"], bytes(r["ipc"]))
            if r["ipc"] is not None
            else frame_from_json(r["name"], r["data"])
            for r in rows
        }

    async def latest_run_before(self, period: Period) -> tuple[Period, int] | None:
        """The run whose balances and open deposits carry into ``period``: the previous period's
        finalized run, else its latest."""
        rows = await self._rows(
            f"SELECT r.period, coalesce(p.finalized_version, max(r.run_version)) AS v FROM {S}.runs r "
            f"JOIN {S}.periods p USING (period) WHERE r.period < :p GROUP BY r.period, p.finalized_version "
            "ORDER BY r.period DESC LIMIT 1",
            p=str(period),
        )
        return (Period.parse(rows[0]["period"]), int(rows[0]["v"])) if rows else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _transaction(r: Mapping[str, Any]) -> Transaction:
    return Transaction(
        r["transaction_id"],
        r["booking_date"],
        r["credit_date"],
        int(r["amount_minor"]),
        r["currency"],
        r["seller_position_id"],
        r["product"],
        r["territory"],
        r["channel"],
        r["segment"],
        r["original_id"],
        int(r["units"]),
    )
