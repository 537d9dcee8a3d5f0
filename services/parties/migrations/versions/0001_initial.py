"""The parties register: parties, bitemporal facts and items, relationships, vehicles, catalogues,
the change outbox and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Every business row carries the same bitemporal book-keeping: valid_from/valid_to (business time,
# [from, to)), recorded_at/superseded_at (what the system knew when), and who/where from.
BITEMPORAL = """
    valid_from    date        NOT NULL,
    valid_to      date,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    superseded_at timestamptz,
    actor         text        NOT NULL DEFAULT '',
    source        text        NOT NULL DEFAULT '',
    reason        text        NOT NULL DEFAULT '',
    CHECK (valid_to IS NULL OR valid_to > valid_from)
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        """
        CREATE TABLE parties.party (
            party_id     uuid PRIMARY KEY,
            kind         text        NOT NULL CHECK (kind IN ('person', 'organization', 'group')),
            status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'erased')),
            version      bigint      NOT NULL DEFAULT 1,
            display_name text        NOT NULL,
            search_key   text        NOT NULL DEFAULT '',
            birth_date   date,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            erased_at    timestamptz
        )
        """
    )
    # Fuzzy name search: a GiST trigram index answers "the k most similar" by walking the index in
    # distance order (KNN), where GIN would have to score every row sharing a trigram (all the Ivanovs).
    # The wide signature keeps the walk short on a register of millions. Exact and prefix matches, the
    # most common query, are served by the B-tree.
    op.execute("CREATE INDEX party_search_key_trgm ON parties.party USING gist (search_key gist_trgm_ops(siglen=256))")
    op.execute("CREATE INDEX party_search_key_prefix ON parties.party (search_key text_pattern_ops)")
    op.execute("CREATE INDEX party_created_at ON parties.party (created_at DESC)")
    op.execute("CREATE INDEX party_display_name ON parties.party (display_name)")

    op.execute(
        f"""
        CREATE TABLE parties.fact (
            row_id   bigserial PRIMARY KEY,
            party_id uuid NOT NULL REFERENCES parties.party (party_id),
            field    text NOT NULL,
            value    jsonb,
            {BITEMPORAL}
        )
        """
    )
    op.execute("CREATE INDEX fact_current ON parties.fact (party_id, field) WHERE superseded_at IS NULL")
    op.execute("CREATE INDEX fact_history ON parties.fact (party_id, field, recorded_at)")

    # Identifiers, contact points, roles, consents and vehicle ownerships: items of a party's
    # collections. item_id is stable across versions; key1/key2 are what lookups and uniqueness need.
    op.execute(
        f"""
        CREATE TABLE parties.item (
            row_id    bigserial PRIMARY KEY,
            item_id   uuid NOT NULL,
            party_id  uuid NOT NULL REFERENCES parties.party (party_id),
            section   text NOT NULL CHECK (section IN
                        ('identifier', 'contact_point', 'role', 'consent', 'ownership')),
            key1      text NOT NULL,
            key2      text NOT NULL DEFAULT '',
            is_unique boolean NOT NULL DEFAULT false,
            data      jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            {BITEMPORAL}
        )
        """
    )
    # Not partial: reads "as known at" a past moment also need superseded versions.
    op.execute("CREATE INDEX item_party ON parties.item (party_id, section)")
    op.execute("CREATE INDEX item_versions ON parties.item (item_id, recorded_at)")
    op.execute(
        "CREATE INDEX item_lookup ON parties.item (section, key1, key2) "
        "WHERE superseded_at IS NULL AND valid_to IS NULL"
    )
    op.execute(
        "CREATE INDEX item_value_lookup ON parties.item (key2) "
        "WHERE superseded_at IS NULL AND valid_to IS NULL AND section = 'contact_point'"
    )
    # A unique identifier (INN, OGRN, SNILS...) belongs to one party at a time.
    op.execute(
        "CREATE UNIQUE INDEX item_unique_identifier ON parties.item (key1, key2) "
        "WHERE section = 'identifier' AND is_unique AND superseded_at IS NULL AND valid_to IS NULL"
    )

    op.execute(
        f"""
        CREATE TABLE parties.relationship (
            row_id          bigserial PRIMARY KEY,
            relationship_id uuid NOT NULL,
            rel_type        text NOT NULL,
            from_party      uuid NOT NULL REFERENCES parties.party (party_id),
            to_party        uuid NOT NULL REFERENCES parties.party (party_id),
            {BITEMPORAL},
            CHECK (from_party <> to_party),
            -- Identical relationships may not overlap in time (for current knowledge).
            CONSTRAINT relationship_no_overlap EXCLUDE USING gist (
                rel_type WITH =, from_party WITH =, to_party WITH =,
                daterange(valid_from, valid_to, '[)') WITH &&
            ) WHERE (superseded_at IS NULL)
        )
        """
    )
    op.execute("CREATE INDEX relationship_from ON parties.relationship (from_party)")
    op.execute("CREATE INDEX relationship_to ON parties.relationship (to_party)")
    op.execute("CREATE INDEX relationship_versions ON parties.relationship (relationship_id, recorded_at)")

    op.execute(
        """
        CREATE TABLE parties.vehicle (
            vehicle_id    uuid PRIMARY KEY,
            vin           text NOT NULL UNIQUE,
            make          text NOT NULL DEFAULT '',
            model         text NOT NULL DEFAULT '',
            model_year    integer,
            purchase_date date,
            warranty_end  date,
            created_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE parties.mileage_reading (
            row_id      bigserial PRIMARY KEY,
            vehicle_id  uuid NOT NULL REFERENCES parties.vehicle (vehicle_id),
            kilometres  bigint NOT NULL CHECK (kilometres >= 0),
            read_on     date NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            actor       text NOT NULL DEFAULT '',
            source      text NOT NULL DEFAULT ''
        )
        """
    )
    op.execute("CREATE INDEX mileage_vehicle ON parties.mileage_reading (vehicle_id, read_on)")

    op.execute(
        """
        CREATE TABLE parties.attribute_definition (
            code        text PRIMARY KEY,
            name        text NOT NULL,
            value_type  text NOT NULL,
            applies_to  text[] NOT NULL DEFAULT '{}',
            validation  jsonb NOT NULL DEFAULT '{}'::jsonb,
            status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
            created_at  timestamptz NOT NULL DEFAULT now(),
            retired_at  timestamptz,
            actor       text NOT NULL DEFAULT ''
        )
        """
    )
    op.execute(
        """
        CREATE TABLE parties.role_type (
            code       text PRIMARY KEY,
            name       text NOT NULL,
            applies_to text[] NOT NULL DEFAULT '{}',
            system     boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE parties.relationship_type (
            code         text PRIMARY KEY,
            name         text NOT NULL,
            inverse_name text NOT NULL,
            is_symmetric boolean NOT NULL DEFAULT false,
            from_kinds   text[] NOT NULL DEFAULT '{}',
            to_kinds     text[] NOT NULL DEFAULT '{}',
            from_roles   text[] NOT NULL DEFAULT '{}',
            to_roles     text[] NOT NULL DEFAULT '{}',
            system       boolean NOT NULL DEFAULT false,
            created_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )

    # The outbox. Writers never take a lock: `sequence` is assigned by readers, in transaction order,
    # only to rows whose transaction is settled (txid below every running one), so the feed has no gaps
    # and never reorders behind a follower's cursor.
    op.execute(
        """
        CREATE TABLE parties.change (
            change_id     bigserial PRIMARY KEY,
            txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
            sequence      bigint UNIQUE,
            party_id      uuid NOT NULL,
            change_type   text NOT NULL,
            fields        text[] NOT NULL DEFAULT '{}',
            party_version bigint NOT NULL DEFAULT 0,
            occurred_at   timestamptz NOT NULL DEFAULT now(),
            actor         text NOT NULL DEFAULT '',
            source        text NOT NULL DEFAULT ''
        )
        """
    )
    op.execute("CREATE INDEX change_unsequenced ON parties.change (txid, change_id) WHERE sequence IS NULL")
    op.execute("CREATE INDEX change_party ON parties.change (party_id, sequence)")

    op.execute(
        """
        CREATE TABLE parties.idempotency (
            operation  text NOT NULL,
            request_id text NOT NULL,
            response   bytea NOT NULL,
            -- The party the response is about, so an erasure can purge stored responses too.
            party_id   uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (operation, request_id)
        )
        """
    )

    # The audit trail of erasures: who asked, when it ran, how much was anonymized. No personal data.
    op.execute(
        """
        CREATE TABLE parties.erasure_audit (
            party_id           uuid PRIMARY KEY REFERENCES parties.party (party_id),
            erasure_id         text NOT NULL,
            erased_at          timestamptz NOT NULL DEFAULT now(),
            records_anonymized bigint NOT NULL,
            actor              text NOT NULL DEFAULT '',
            reason             text NOT NULL DEFAULT ''
        )
        """
    )

    op.execute(
        """
        INSERT INTO parties.role_type (code, name, applies_to, system) VALUES
            ('customer', 'Customer', '{}', true),
            ('prospect', 'Prospect', '{}', true),
            ('employee', 'Employee', '{person}', true),
            ('partner', 'Partner', '{person,organization}', true),
            ('agent', 'Agent', '{person,organization}', true),
            ('contractor', 'Contractor', '{person,organization}', true),
            ('subcontractor', 'Subcontractor', '{person,organization}', true),
            ('dealer', 'Dealer', '{organization}', true),
            ('supplier', 'Supplier', '{person,organization}', true)
        """
    )
    op.execute(
        """
        INSERT INTO parties.relationship_type
            (code, name, inverse_name, is_symmetric, from_kinds, to_kinds, from_roles, to_roles, system) VALUES
            ('employee_of', 'employee of', 'employer of', false, '{person}', '{organization}', '{}', '{}', true),
            ('contact_person_of', 'contact person of', 'has contact person', false,
                '{person}', '{organization}', '{}', '{}', true),
            ('subsidiary_of', 'subsidiary of', 'parent company of', false,
                '{organization}', '{organization}', '{}', '{}', true),
            ('relative_of', 'relative of', 'relative of', true, '{person}', '{person}', '{}', '{}', true),
            ('spouse_of', 'spouse of', 'spouse of', true, '{person}', '{person}', '{}', '{}', true),
            ('member_of', 'member of', 'has member', false,
                '{person,organization}', '{group}', '{}', '{}', true),
            ('account_manager_of', 'account manager of', 'managed by', false,
                '{person}', '{person,organization}', '{employee}', '{}', true),
            ('dealer_of', 'dealer of', 'represented by dealer', false,
                '{organization}', '{organization}', '{dealer}', '{}', true)
        """
    )


def downgrade() -> None:
    for table in (
        "erasure_audit",
        "idempotency",
        "change",
        "relationship_type",
        "role_type",
        "attribute_definition",
        "mileage_reading",
        "vehicle",
        "relationship",
        "item",
        "fact",
        "party",
    ):
        op.execute(f"DROP TABLE IF EXISTS parties.{table} CASCADE")
