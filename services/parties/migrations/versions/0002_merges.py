"""Merges and unmerges: tombstones pointing at their survivor, the merge audit with the row-level effects
an unmerge reverses, and the pairs known not to be duplicates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE parties.party DROP CONSTRAINT party_status_check")
    op.execute(
        "ALTER TABLE parties.party ADD CONSTRAINT party_status_check CHECK (status IN ('active', 'erased', 'merged'))"
    )
    op.execute("ALTER TABLE parties.party ADD COLUMN merged_into uuid REFERENCES parties.party (party_id)")
    op.execute(
        "ALTER TABLE parties.party ADD CONSTRAINT party_merged_has_survivor "
        "CHECK ((status = 'merged') = (merged_into IS NOT NULL))"
    )
    op.execute(
        """
        CREATE TABLE parties.merge (
            merge_id       uuid PRIMARY KEY,
            survivor_id    uuid NOT NULL REFERENCES parties.party (party_id),
            merged_id      uuid NOT NULL REFERENCES parties.party (party_id),
            state          text NOT NULL CHECK (state IN ('merged', 'unmerged')),
            -- The fields whose values differed: [{field, taken_from, rule}].
            decisions      jsonb NOT NULL DEFAULT '[]'::jsonb,
            -- What the merge wrote, row by row (superseded and inserted ids per table) and the party
            -- columns it replaced: exactly what an unmerge reverses.
            effects        jsonb NOT NULL,
            moved          jsonb NOT NULL DEFAULT '{}'::jsonb,
            merged_at      timestamptz NOT NULL DEFAULT now(),
            actor          text NOT NULL DEFAULT '',
            source         text NOT NULL DEFAULT '',
            reason         text NOT NULL DEFAULT '',
            unmerged_at    timestamptz,
            unmerge_actor  text NOT NULL DEFAULT '',
            unmerge_reason text NOT NULL DEFAULT '',
            CHECK (survivor_id <> merged_id)
        )
        """
    )
    # A party is merged away at most once at a time.
    op.execute("CREATE UNIQUE INDEX merge_live_merged ON parties.merge (merged_id) WHERE state = 'merged'")
    op.execute("CREATE INDEX merge_survivor ON parties.merge (survivor_id)")
    op.execute(
        """
        CREATE TABLE parties.not_duplicate (
            party_a     uuid NOT NULL REFERENCES parties.party (party_id),
            party_b     uuid NOT NULL REFERENCES parties.party (party_id),
            recorded_at timestamptz NOT NULL DEFAULT now(),
            actor       text NOT NULL DEFAULT '',
            source      text NOT NULL DEFAULT '',
            reason      text NOT NULL DEFAULT '',
            PRIMARY KEY (party_a, party_b),
            CHECK (party_a < party_b)
        )
        """
    )
    op.execute("CREATE INDEX not_duplicate_b ON parties.not_duplicate (party_b)")


def downgrade() -> None:
    op.execute("DROP TABLE parties.not_duplicate")
    op.execute("DROP TABLE parties.merge")
    op.execute("ALTER TABLE parties.party DROP CONSTRAINT party_merged_has_survivor")
    op.execute("ALTER TABLE parties.party DROP COLUMN merged_into")
    op.execute("ALTER TABLE parties.party DROP CONSTRAINT party_status_check")
    op.execute("ALTER TABLE parties.party ADD CONSTRAINT party_status_check CHECK (status IN ('active', 'erased'))")
