"""Adjustments: money added to, or an overpayment taken back from, a participant in an open period.

Rows are only ever added (corrections are new adjustments). The period's runs read them into
``RunInputs.adjustments``; the domain decides what is paid, recovered (calculation errors only,
Russian Labour Code art. 137) or only recorded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "commissions"


def upgrade() -> None:
    # One statement per execute: the asyncpg driver prepares each statement.
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


DDL = f"""
    CREATE TABLE {S}.adjustments (
        adjustment_id     text PRIMARY KEY,
        participant_id    text NOT NULL REFERENCES {S}.participants,
        period            text NOT NULL,
        amount_minor      bigint NOT NULL CHECK (amount_minor <> 0),
        currency          text NOT NULL,
        reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        overpayment_class text CHECK (overpayment_class IN ('CALCULATION_ERROR', 'EMPLOYEE_FAULT', 'OTHER')),
        recorded_at       timestamptz NOT NULL DEFAULT now(),
        CHECK (amount_minor > 0 OR overpayment_class IS NOT NULL)
    );
    CREATE INDEX adjustments_period ON {S}.adjustments (period)
"""


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.adjustments")
