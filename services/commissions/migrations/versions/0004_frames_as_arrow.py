"""Run frames as compressed Arrow IPC instead of JSON text.

A run of 100,000 participants has millions of credit lines; as JSON they take several times their
size and most of a run's storage time. Arrow IPC (zstd) is what polars writes and reads without
conversion, keeps the exact column types, and is a fraction of the size. Rows written before this
revision keep their JSON ``data`` and are still read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "commissions"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.run_frames ADD COLUMN ipc bytea")
    op.execute(f"ALTER TABLE {S}.run_frames ALTER COLUMN data DROP NOT NULL")
    op.execute(f"ALTER TABLE {S}.run_frames ADD CONSTRAINT run_frames_content CHECK ((data IS NULL) <> (ipc IS NULL))")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.run_frames DROP CONSTRAINT run_frames_content")
    op.execute(f"DELETE FROM {S}.run_frames WHERE data IS NULL")
    op.execute(f"ALTER TABLE {S}.run_frames ALTER COLUMN data SET NOT NULL")
    op.execute(f"ALTER TABLE {S}.run_frames DROP COLUMN ipc")
