"""Sales transactions: validation of incoming rows, idempotency by external id, reversals.

Rows arrive from a streaming RPC or a CSV file. Each row is checked on its own and a bad row is
rejected with its field and reason while the good rows go in. A row whose id was already ingested with
the same content is a harmless retry (reported as a duplicate); the same id with different content is
rejected. A reversal (credit note, cancellation) names its original and carries a negative amount no
larger than what is left of the original; it is *normalised* at ingestion: it inherits the original's
selling position and classifiers, and its ``credit_date`` is the original's date, so it credits the
same positions and payees as the original did, while its own date (``booking_date``) decides the period
it lands in. ``units`` is +1 for a sale, -1 for the reversal that brings the original to zero, 0 for
other partial reversals: COUNT measurements sum it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import polars as pl

from services.commissions.domain.money import MAX_TRANSACTION_MINOR, is_currency, to_minor
from services.commissions.domain.org import Organisation

TRANSACTION_SCHEMA: dict[str, pl.DataType] = {
    "transaction_id": pl.String(),
    "booking_date": pl.Date(),
    "credit_date": pl.Date(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "seller_position_id": pl.String(),
    "product": pl.String(),
    "territory": pl.String(),
    "channel": pl.String(),
    "segment": pl.String(),
    "original_id": pl.String(),
    "units": pl.Int32(),
}
CLASSIFIER_COLUMNS = ("product", "territory", "channel", "segment")
CSV_COLUMNS = ("transaction_id", "date", "amount", "currency", "position_id", *CLASSIFIER_COLUMNS, "original_id")
MAX_ID = 128


@dataclass(frozen=True, slots=True)
class Transaction:
    """An accepted, normalised transaction: what runs read (see `TRANSACTION_SCHEMA`)."""

    transaction_id: str
    booking_date: date
    credit_date: date
    amount_minor: int
    currency: str
    seller_position_id: str
    product: str = ""
    territory: str = ""
    channel: str = ""
    segment: str = ""
    original_id: str | None = None
    units: int = 1


@dataclass(frozen=True, slots=True)
class TransactionRow:
    """One incoming row as sent (strings, as in the CSV); ``row_ref`` is the caller's row number or key."""

    row_ref: str
    transaction_id: str
    date: str
    amount: str
    currency: str
    position_id: str = ""
    product: str = ""
    territory: str = ""
    channel: str = ""
    segment: str = ""
    original_id: str = ""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row_ref: str
    transaction_id: str
    field: str
    reason: str


@dataclass(frozen=True)
class IngestResult:
    accepted: tuple[Transaction, ...]
    duplicates: tuple[str, ...]
    rejected: tuple[RejectedRow, ...]


class _Reject(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _Reject("date", f"{text!r} is not a date (YYYY-MM-DD)") from None


def ingest(
    rows: Iterable[TransactionRow],
    *,
    org: Organisation,
    currency: str,
    known: Mapping[str, Transaction] | None = None,
    reversed_minor: Mapping[str, int] | None = None,
) -> IngestResult:
    """Validate and normalise a batch. ``known`` are transactions already stored (by id, for
    idempotency and to find originals); ``reversed_minor`` is how much of each stored original is
    already reversed (a positive number of minor units). Nothing about a rejected row is kept."""
    known = dict(known or {})
    reversed_so_far = dict(reversed_minor or {})
    accepted: list[Transaction] = []
    duplicates: list[str] = []
    rejected: list[RejectedRow] = []
    for row in rows:
        try:
            txn = _one(row, org, currency, known, reversed_so_far)
        except _Reject as r:
            rejected.append(RejectedRow(row.row_ref, row.transaction_id, r.field, r.reason))
            continue
        if txn is None:
            duplicates.append(row.transaction_id)
            continue
        known[txn.transaction_id] = txn
        if txn.original_id is not None:
            reversed_so_far[txn.original_id] = reversed_so_far.get(txn.original_id, 0) - txn.amount_minor
        accepted.append(txn)
    return IngestResult(tuple(accepted), tuple(duplicates), tuple(rejected))


def _one(
    row: TransactionRow,
    org: Organisation,
    currency: str,
    known: Mapping[str, Transaction],
    reversed_so_far: Mapping[str, int],
) -> Transaction | None:
    tid = row.transaction_id.strip()
    if not tid or len(tid) > MAX_ID:
        raise _Reject("transaction_id", f"must be 1 to {MAX_ID} characters")
    day = _parse_date(row.date)
    code = row.currency.strip().upper()
    if not is_currency(code):
        raise _Reject("currency", f"{row.currency!r} is not an ISO 4217 currency code")
    if code != currency:
        raise _Reject("currency", f"no exchange rate from {code} to the calculation currency {currency}")
    try:
        amount = to_minor(row.amount, code)
    except ValueError as exc:
        raise _Reject("amount", str(exc)) from None
    if abs(amount) > MAX_TRANSACTION_MINOR:
        raise _Reject("amount", f"exceeds the limit of {Decimal(MAX_TRANSACTION_MINOR).scaleb(-2)} per transaction")
    original_id = row.original_id.strip() or None
    classifiers = {c: getattr(row, c).strip() for c in ("product", "territory", "channel", "segment")}
    if original_id is None:
        pos = row.position_id.strip()
        if pos not in org.position_ids:
            raise _Reject("position_id", f"unknown position {pos!r}")
        if org.version_as_of(pos, day) is None:
            raise _Reject("position_id", f"position {pos!r} does not exist on {day}")
        if amount <= 0:
            raise _Reject("amount", "a sale must be positive; send a reversal with original_id to take it back")
        txn = Transaction(tid, day, day, amount, code, pos, original_id=None, units=1, **classifiers)
    else:
        original = known.get(original_id)
        if original is None:
            raise _Reject("original_id", f"unknown original transaction {original_id!r}")
        if original.original_id is not None:
            raise _Reject("original_id", "a reversal cannot itself be reversed")
        if day < original.booking_date:
            raise _Reject("date", f"a reversal cannot precede its original ({original.booking_date})")
        if amount >= 0:
            raise _Reject("amount", "a reversal must be negative")
        left = original.amount_minor - reversed_so_far.get(original_id, 0)
        if -amount > left:
            raise _Reject("amount", f"reverses more than is left of the original ({left} minor units)")
        units = -1 if -amount == left else 0
        txn = replace(
            original,
            transaction_id=tid,
            booking_date=day,
            amount_minor=amount,
            original_id=original_id,
            units=units,
        )
    previous = known.get(tid)
    if previous is not None:
        if _same_content(previous, txn):
            return None
        raise _Reject("transaction_id", "already ingested with different content")
    return txn


def _same_content(a: Transaction, b: Transaction) -> bool:
    # The units of a repeated reversal depend on what was reversed before; compare what was sent.
    return replace(a, units=0) == replace(b, units=0)


def parse_csv(text: str) -> list[TransactionRow]:
    """Rows of a CSV with a header naming `CSV_COLUMNS` (classifiers and original_id optional)."""
    reader = csv.DictReader(io.StringIO(text))
    out: list[TransactionRow] = []
    for i, rec in enumerate(reader, start=2):
        get = {k: (rec.get(k) or "") for k in CSV_COLUMNS}
        out.append(
            TransactionRow(
                row_ref=str(i),
                transaction_id=get["transaction_id"],
                date=get["date"],
                amount=get["amount"],
                currency=get["currency"],
                position_id=get["position_id"],
                product=get["product"],
                territory=get["territory"],
                channel=get["channel"],
                segment=get["segment"],
                original_id=get["original_id"],
            )
        )
    return out


def transactions_frame(transactions: Iterable[Transaction]) -> pl.DataFrame:
    """Accepted transactions as the frame runs read (`TRANSACTION_SCHEMA`)."""
    rows = [
        (
            t.transaction_id,
            t.booking_date,
            t.credit_date,
            t.amount_minor,
            t.currency,
            t.seller_position_id,
            t.product,
            t.territory,
            t.channel,
            t.segment,
            t.original_id,
            t.units,
        )
        for t in transactions
    ]
    return pl.DataFrame(rows, schema=TRANSACTION_SCHEMA, orient="row")
