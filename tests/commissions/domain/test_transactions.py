"""Transaction ingestion: each bad row rejected with its field and reason while good rows go in,
idempotency by external id, reversals linked to and normalised from their original, CSV input."""

from __future__ import annotations

from datetime import date

from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.transactions import (
    TransactionRow,
    ingest,
    parse_csv,
    transactions_frame,
)

ORG = Organisation(
    titles=(Title("REP"),),
    positions=(
        PositionVersion("R1", "REP", None, date(2026, 1, 1)),
        PositionVersion("R2", "REP", None, date(2026, 6, 1)),
    ),
    participants=(Participant("anna"),),
    assignments=(Assignment("anna", "R1", date(2026, 1, 1)),),
)


def row(
    ref: str, tid: str, day: str = "2026-03-01", amount: str = "100.00", currency: str = "RUB", **kw: str
) -> TransactionRow:
    return TransactionRow(ref, tid, day, amount, currency, kw.pop("position_id", "R1"), **kw)


def test_bad_rows_are_rejected_with_reasons_and_good_rows_go_in() -> None:
    result = ingest(
        [
            row("1", "t1", product="loan"),
            row("2", "t2", position_id="R9"),
            row("3", "t3", currency="USD"),
            row("4", "t4", currency="XYZ"),
            row("5", "t5", amount="10.005"),
            row("6", "t6", day="2026-02-30"),
            row("7", "t7", position_id="R2", day="2026-03-01"),
            row("8", "t8", amount="-5"),
            row("9", "", amount="1"),
            row("10", "t10", amount="12 345"),
        ],
        org=ORG,
        currency="RUB",
    )
    assert [t.transaction_id for t in result.accepted] == ["t1"]
    assert result.accepted[0].amount_minor == 10000
    reasons = {r.row_ref: (r.field, r.reason) for r in result.rejected}
    assert reasons == {
        "2": ("position_id", "unknown position 'R9'"),
        "3": ("currency", "no exchange rate from USD to the calculation currency RUB"),
        "4": ("currency", "'XYZ' is not an ISO 4217 currency code"),
        "5": ("amount", "10.005 has more than 2 decimal places for RUB"),
        "6": ("date", "'2026-02-30' is not a date (YYYY-MM-DD)"),
        "7": ("position_id", "position 'R2' does not exist on 2026-03-01"),
        "8": ("amount", "a sale must be positive; send a reversal with original_id to take it back"),
        "9": ("transaction_id", "must be 1 to 128 characters"),
        "10": ("amount", "'12 345' is not a plain decimal amount"),
    }


def test_ingestion_is_idempotent_by_external_id() -> None:
    first = ingest([row("1", "t1")], org=ORG, currency="RUB")
    known = {t.transaction_id: t for t in first.accepted}
    again = ingest(
        [row("1", "t1"), row("2", "t1", amount="200.00"), row("3", "t2"), row("4", "t2")],
        org=ORG,
        currency="RUB",
        known=known,
    )
    assert again.duplicates == ("t1", "t2")
    assert [t.transaction_id for t in again.accepted] == ["t2"]
    assert [(r.row_ref, r.field, r.reason) for r in again.rejected] == [
        ("2", "transaction_id", "already ingested with different content")
    ]


def test_reversals_refer_to_their_original_and_inherit_its_attribution() -> None:
    sold = ingest(
        [row("1", "t1", day="2026-01-10", amount="1000.00", product="card", segment="vip")], org=ORG, currency="RUB"
    )
    known = {t.transaction_id: t for t in sold.accepted}
    result = ingest(
        [
            row("1", "c1", day="2026-02-01", amount="-300.00", original_id="t1", position_id=""),
            row("2", "c2", day="2026-02-02", amount="-700.00", original_id="t1", position_id=""),
            row("3", "c3", day="2026-02-03", amount="-0.01", original_id="t1", position_id=""),
            row("4", "c4", day="2026-02-03", amount="-1", original_id="nope", position_id=""),
            row("5", "c5", day="2026-02-03", amount="-1", original_id="c1", position_id=""),
            row("6", "c6", day="2026-01-01", amount="-1", original_id="t1", position_id=""),
            row("7", "c7", day="2026-02-03", amount="5", original_id="t1", position_id=""),
        ],
        org=ORG,
        currency="RUB",
        known=known,
    )
    c1, c2 = result.accepted
    assert (c1.seller_position_id, c1.credit_date, c1.booking_date, c1.product, c1.segment, c1.units) == (
        "R1",
        date(2026, 1, 10),
        date(2026, 2, 1),
        "card",
        "vip",
        0,
    )
    assert c2.units == -1  # the reversal that empties the original takes the deal out of COUNT measures
    reasons = {r.row_ref: r.reason for r in result.rejected}
    assert reasons == {
        "3": "reverses more than is left of the original (0 minor units)",
        "4": "unknown original transaction 'nope'",
        "5": "a reversal cannot itself be reversed",
        "6": "a reversal cannot precede its original (2026-01-10)",
        "7": "a reversal must be negative",
    }


def test_csv_rows_and_frame() -> None:
    text = (
        "transaction_id,date,amount,currency,position_id,product,territory,channel,segment,original_id\n"
        "t1,2026-03-01,1500.50,RUB,R1,loan,north,web,mass,\n"
        "t2,2026-03-02,oops,RUB,R1,loan,north,web,mass,\n"
    )
    rows = parse_csv(text)
    assert [r.row_ref for r in rows] == ["2", "3"]
    result = ingest(rows, org=ORG, currency="RUB")
    frame = transactions_frame(result.accepted)
    assert frame.row(0, named=True)["amount_minor"] == 150050
    assert [(r.row_ref, r.field) for r in result.rejected] == [("3", "amount")]
