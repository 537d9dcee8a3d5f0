"""A revision number of the organisation, bumped by a trigger on every write to its tables.

Reading the whole organisation (titles, position versions, participants, assignments) takes a third of
a second at 10,000 participants, and drafting, submitting, opening a dispute or running each needs it.
The service keeps the last one it read per database and reads it again only when this number moved;
a trigger (not the application) bumps it, so no write path can leave a stale copy behind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "commissions"
TABLES = ("titles", "position_versions", "participants", "assignments")


def upgrade() -> None:
    op.execute(f"CREATE TABLE {S}.revisions (name text PRIMARY KEY, revision bigint NOT NULL)")
    op.execute(f"INSERT INTO {S}.revisions (name, revision) VALUES ('organisation', 1)")
    op.execute(
        f"""CREATE FUNCTION {S}.bump_organisation_revision() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE {S}.revisions SET revision = revision + 1 WHERE name = 'organisation';
            RETURN NULL;
        END $$"""
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bump_organisation_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {S}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {S}.bump_organisation_revision()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_bump_organisation_revision ON {S}.{table}")
    op.execute(f"DROP FUNCTION {S}.bump_organisation_revision()")
    op.execute(f"DROP TABLE {S}.revisions")
