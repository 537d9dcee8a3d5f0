"""Duplicate prevention: every active party's match record and blocking keys (what a new party is
checked against), review cases of possible duplicates, and the audit of creates that overrode a strong
duplicate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The matcher's view of a party (names, birth date, phones, e-mails, identifiers, addresses),
    # rebuilt whenever one of those changes; merged and erased parties have none.
    op.execute(
        """
        CREATE TABLE parties.match_record (
            party_id   uuid PRIMARY KEY REFERENCES parties.party (party_id),
            record     jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Blocking keys: a party is only compared with parties sharing one, so a check costs a few index
    # probes whatever the size of the register.
    op.execute(
        """
        CREATE TABLE parties.match_key (
            key      text NOT NULL,
            party_id uuid NOT NULL REFERENCES parties.party (party_id),
            PRIMARY KEY (key, party_id)
        )
        """
    )
    op.execute("CREATE INDEX match_key_party ON parties.match_key (party_id)")
    op.execute(
        """
        CREATE TABLE parties.duplicate_case (
            case_id        uuid PRIMARY KEY,
            party_id       uuid NOT NULL REFERENCES parties.party (party_id),
            other_party_id uuid NOT NULL REFERENCES parties.party (party_id),
            pair_low       uuid NOT NULL,
            pair_high      uuid NOT NULL,
            match          jsonb NOT NULL,
            score          double precision NOT NULL,
            status         text NOT NULL DEFAULT 'open'
                           CHECK (status IN ('open', 'merged', 'not_duplicate', 'withdrawn')),
            workflow_id    text NOT NULL DEFAULT '',
            opened_at      timestamptz NOT NULL DEFAULT now(),
            reminded_at    timestamptz,
            escalated_at   timestamptz,
            decided_at     timestamptz,
            decided_by     text NOT NULL DEFAULT '',
            decision_note  text NOT NULL DEFAULT '',
            merge_id       uuid,
            CHECK (pair_low < pair_high)
        )
        """
    )
    # One open case per pair, whichever of the two triggered it.
    op.execute(
        "CREATE UNIQUE INDEX duplicate_case_open_pair ON parties.duplicate_case (pair_low, pair_high) "
        "WHERE status = 'open'"
    )
    op.execute("CREATE INDEX duplicate_case_status ON parties.duplicate_case (status, opened_at)")
    op.execute("CREATE INDEX duplicate_case_low ON parties.duplicate_case (pair_low)")
    op.execute("CREATE INDEX duplicate_case_high ON parties.duplicate_case (pair_high)")
    op.execute(
        """
        CREATE TABLE parties.duplicate_override (
            override_id       bigserial PRIMARY KEY,
            party_id          uuid NOT NULL REFERENCES parties.party (party_id),
            existing_party_id uuid NOT NULL REFERENCES parties.party (party_id),
            match             jsonb NOT NULL,
            recorded_at       timestamptz NOT NULL DEFAULT now(),
            actor             text NOT NULL DEFAULT '',
            source            text NOT NULL DEFAULT '',
            reason            text NOT NULL DEFAULT ''
        )
        """
    )


def downgrade() -> None:
    for table in ("duplicate_override", "duplicate_case", "match_key", "match_record"):
        op.execute(f"DROP TABLE parties.{table}")
