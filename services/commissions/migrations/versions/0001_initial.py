"""The commissions service: organisation (titles, effective-dated positions, participants,
assignments), versioned plans and their assignments, transactions, periods, runs and their results,
idempotency keys.

Run results: each run's output frames (payees, measurements, payouts, payments, balances, payroll,
deposits, adjustments and the credit lines) are stored as one JSON document per frame in
``run_frames``, and the figures finance and the dashboards filter on (payment per participant) are
also rows in ``run_payments``. The frames are written once, never updated, always read whole for a
run (statements and dashboards rebuild the domain's `RunResult` from them), and their schemas belong
to the domain core (`results.SCHEMAS`); a table per frame would duplicate those schemas in SQL and
migrate with every engine change, for no query we need.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "commissions"


def upgrade() -> None:
    # One statement per execute: the asyncpg driver prepares each statement.
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


DDL = f"""
    CREATE TABLE {S}.titles (
        title_id    text PRIMARY KEY,
        name        text NOT NULL DEFAULT '',
        recorded_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE {S}.position_versions (
        position_id         text NOT NULL,
        title_id            text NOT NULL REFERENCES {S}.titles,
        manager_position_id text,
        valid_from          date NOT NULL,
        valid_to            date,
        recorded_at         timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (position_id, valid_from),
        CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    -- participant_id: for people, the party id in the parties service (only the id, never its data).
    CREATE TABLE {S}.participants (
        participant_id text PRIMARY KEY,
        name           text NOT NULL DEFAULT '',
        role           text NOT NULL DEFAULT 'EMPLOYEE',
        recorded_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE {S}.assignments (
        participant_id text NOT NULL REFERENCES {S}.participants,
        position_id    text NOT NULL,
        valid_from     date NOT NULL,
        valid_to       date,
        recorded_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (participant_id, position_id, valid_from),
        CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    CREATE TABLE {S}.plans (
        plan_id     text NOT NULL,
        version     integer NOT NULL,
        plan        jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (plan_id, version)
    );
    CREATE TABLE {S}.plan_assignments (
        assignment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_id       text NOT NULL,
        title_id      text,
        position_id   text,
        valid_from    date NOT NULL,
        valid_to      date,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        CHECK ((title_id IS NULL) <> (position_id IS NULL)),
        CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    -- Idempotent by transaction_id, a reversal references its original (original_id).
    CREATE TABLE {S}.transactions (
        transaction_id     text PRIMARY KEY,
        booking_date       date NOT NULL,
        credit_date        date NOT NULL,
        amount_minor       bigint NOT NULL,
        currency           text NOT NULL,
        seller_position_id text NOT NULL,
        product            text NOT NULL DEFAULT '',
        territory          text NOT NULL DEFAULT '',
        channel            text NOT NULL DEFAULT '',
        segment            text NOT NULL DEFAULT '',
        original_id        text REFERENCES {S}.transactions,
        units              integer NOT NULL DEFAULT 1,
        recorded_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX transactions_booking ON {S}.transactions (booking_date);
    CREATE INDEX transactions_original ON {S}.transactions (original_id) WHERE original_id IS NOT NULL;
    -- The periods ledger: one row per period, finalized_version set once, never cleared.
    CREATE TABLE {S}.periods (
        period            text PRIMARY KEY,
        finalized_version integer,
        finalized_at      timestamptz
    );
    CREATE TABLE {S}.runs (
        period      text NOT NULL REFERENCES {S}.periods,
        run_version integer NOT NULL,
        kind        text NOT NULL,
        currency    text NOT NULL,
        plan_book   jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (period, run_version)
    );
    CREATE TABLE {S}.run_frames (
        period      text NOT NULL,
        run_version integer NOT NULL,
        name        text NOT NULL,
        data        text NOT NULL,
        PRIMARY KEY (period, run_version, name),
        FOREIGN KEY (period, run_version) REFERENCES {S}.runs
    );
    CREATE TABLE {S}.run_payments (
        period          text NOT NULL,
        run_version     integer NOT NULL,
        participant_id  text NOT NULL,
        earnings_minor  bigint NOT NULL,
        payment_minor   bigint NOT NULL,
        PRIMARY KEY (period, run_version, participant_id),
        FOREIGN KEY (period, run_version) REFERENCES {S}.runs
    );
    CREATE TABLE {S}.idempotency (
        operation   text NOT NULL,
        request_id  text NOT NULL,
        response    bytea NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (operation, request_id)
    );
"""


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
