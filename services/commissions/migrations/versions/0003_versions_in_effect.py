"""Plan versions in effect per period, variable overrides, and what incremental runs and prior-period
adjustments need to know about each run.

* ``plans.effective_period``: the first period a version applies to (NULL: from the beginning). A run
  of period P uses, per plan, the highest version effective in P.
* ``variable_overrides``: a plan variable's value for a title or a position over a date range.
* ``runs.inputs_snapshot`` and ``recorded_xid`` on transactions and adjustments: the PostgreSQL
  snapshot a run took before reading its inputs, and the writing transaction of each row. A row not
  visible in a run's snapshot (``pg_visible_in_snapshot``) is new to that run, whatever its clock time
  and however long its writer took to commit: that is what an incremental run recomputes, with no lock
  between ingestion and runs.
* ``runs.inputs_as_of``: the clock instant of that snapshot; a finalized period whose inputs were
  recorded after it was settled is stale and gets prior-period adjustments.
* ``runs.carried_from``: the run ("YYYY-MM:v") whose balances and open deposits the run started from.
* ``run_state``: the credit aggregate an incremental run starts from (Arrow IPC bytes) and the
  fingerprint of the organisation and plans behind it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "commissions"


def upgrade() -> None:
    # One statement per execute: the asyncpg driver prepares each statement.
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


DDL = f"""
    ALTER TABLE {S}.plans ADD COLUMN effective_period text CHECK (effective_period ~ '^[0-9]{{4}}-[0-9]{{2}}$');
    CREATE TABLE {S}.variable_overrides (
        override_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_id     text NOT NULL,
        variable    text NOT NULL,
        value       numeric NOT NULL,
        title_id    text,
        position_id text,
        valid_from  date NOT NULL,
        valid_to    date,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((title_id IS NULL) <> (position_id IS NULL)),
        CHECK (valid_to IS NULL OR valid_to > valid_from)
    );
    ALTER TABLE {S}.runs ADD COLUMN inputs_as_of timestamptz;
    ALTER TABLE {S}.runs ADD COLUMN inputs_snapshot text;
    ALTER TABLE {S}.transactions ADD COLUMN recorded_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
    ALTER TABLE {S}.adjustments ADD COLUMN recorded_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
    ALTER TABLE {S}.runs ADD COLUMN carried_from text;
    CREATE TABLE {S}.run_state (
        period      text NOT NULL,
        run_version integer NOT NULL,
        fingerprint text NOT NULL,
        aggregate   bytea NOT NULL,
        PRIMARY KEY (period, run_version),
        FOREIGN KEY (period, run_version) REFERENCES {S}.runs
    );
    ALTER TABLE {S}.transactions ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
    ALTER TABLE {S}.adjustments ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
    ALTER TABLE {S}.plans ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
    ALTER TABLE {S}.plan_assignments ALTER COLUMN recorded_at SET DEFAULT clock_timestamp();
    CREATE INDEX transactions_recorded ON {S}.transactions (recorded_at);
    CREATE INDEX transactions_seller ON {S}.transactions (seller_position_id, booking_date)
"""


def downgrade() -> None:
    for statement in (
        f"DROP INDEX {S}.transactions_seller",
        f"DROP INDEX {S}.transactions_recorded",
        f"DROP TABLE {S}.run_state",
        f"ALTER TABLE {S}.runs DROP COLUMN carried_from",
        f"ALTER TABLE {S}.runs DROP COLUMN inputs_as_of",
        f"ALTER TABLE {S}.runs DROP COLUMN inputs_snapshot",
        f"ALTER TABLE {S}.transactions DROP COLUMN recorded_xid",
        f"ALTER TABLE {S}.adjustments DROP COLUMN recorded_xid",
        f"DROP TABLE {S}.variable_overrides",
        f"ALTER TABLE {S}.plans DROP COLUMN effective_period",
    ):
        op.execute(statement)
