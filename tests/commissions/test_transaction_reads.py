"""The bulk read runs use (COPY to CSV into polars) gives exactly the frame of the row-by-row read, for
text that CSV must quote (commas, quotes, line breaks, Cyrillic), empty classifiers and reversals."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from crm_runtime import db
from services.commissions.domain.transactions import Transaction, transactions_frame
from services.commissions.store import Repository

AWKWARD = ('a,"b"\nc', "", "Ёлка; «x»", "tab\there", "  spaced  ", "NULL", "\\N")


def sale(i: int, seller: str, text: str, original: str | None = None, amount: int = 1_000) -> Transaction:
    day = date(2026, 3, 1 + i % 28)
    return Transaction(f"t{i:03d}", day, day, amount, "RUB", seller, text, text[::-1], "", text.upper(), original, 1)


@pytest.mark.asyncio
async def test_the_bulk_read_equals_the_row_by_row_read(commissions_db_url: str) -> None:
    engine = db.create_engine(commissions_db_url, "tests", pool_size=1)
    rows = [sale(i, f"P{i % 3}", AWKWARD[i % len(AWKWARD)]) for i in range(40)]
    rows.append(sale(40, "P1", "loan", original="t001", amount=-400))
    rows.append(Transaction("late", date(2027, 1, 5), date(2027, 1, 5), 5, "RUB", "P1", "", "", "", "", None, 1))
    try:
        async with engine.begin() as conn:
            await Repository(conn).add_transactions(rows)
        async with engine.connect() as conn:
            repo = Repository(conn)
            first, last = date(2026, 1, 1), date(2026, 12, 31)
            bulk = await repo.transactions_frame(first, last)
            slow = transactions_frame(await repo.transactions_between(first, last))
            assert bulk.height == 41
            assert bulk.equals(slow), bulk.join(slow, on="transaction_id", how="anti")
            assert bulk.schema == slow.schema
            assert bulk.filter(pl.col("original_id").is_not_null())["transaction_id"].to_list() == ["t040"]
            sellers = await repo.transactions_frame(first, last, ["P1", "P2"])
            assert sellers.equals(slow.filter(pl.col("seller_position_id").is_in(["P1", "P2"])))
            assert (await repo.transactions_frame(first, last, [])).height == 0
    finally:
        await engine.dispose()
