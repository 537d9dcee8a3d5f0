"""Individual plan documents and their approval trail, disputes and their trail, notifications.

* ``plan_documents``: one row per version of a participant's document for a period, with the
  canonical terms, their hash, the PDF and its hash, the approval chain computed at submission, the
  status and the step waiting. An accepted version is never updated again (a trigger refuses it).
* ``plan_document_events`` and ``dispute_events``: append-only audit (who, when, what version, which
  step, comment); ``request_id`` makes a workflow activity's retry record nothing twice.
* ``disputes``: what a participant disputes (a statement line or a transaction), its status and
  assignee, and the adjustment that resolved it.
* ``notifications``: what people are told (reminders, escalations, decisions), read by their inbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "commissions"


def upgrade() -> None:
    # One statement per execute: the asyncpg driver prepares each statement. The trigger function's
    # body holds semicolons, so it is executed on its own.
    for statement in DDL.split(";\n"):
        if statement.strip():
            op.execute(statement)
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        f"CREATE TRIGGER plan_documents_accepted_immutable BEFORE UPDATE ON {S}.plan_documents "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.refuse_accepted_change()"
    )


DDL = f"""
    CREATE TABLE {S}.plan_documents (
        participant_id text NOT NULL REFERENCES {S}.participants,
        period         text NOT NULL,
        version        integer NOT NULL CHECK (version > 0),
        status         text NOT NULL CHECK (status IN ('DRAFT', 'IN_APPROVAL', 'DISTRIBUTED', 'ACCEPTED',
                                                       'RETURNED', 'WITHDRAWN', 'SUPERSEDED')),
        plan_id        text NOT NULL,
        plan_version   integer NOT NULL,
        content_hash   text NOT NULL,
        pdf_hash       text NOT NULL,
        terms          jsonb NOT NULL,
        pdf            bytea NOT NULL,
        language       text NOT NULL,
        target_incentive_minor bigint,
        currency       text NOT NULL,
        chain          jsonb NOT NULL DEFAULT '[]',
        current_step   text NOT NULL DEFAULT '',
        author         text NOT NULL,
        workflow_id    text NOT NULL DEFAULT '',
        comment        text NOT NULL DEFAULT '',
        created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (participant_id, period, version)
    );
    CREATE INDEX plan_documents_period_status ON {S}.plan_documents (period, status);
    CREATE TABLE {S}.plan_document_events (
        event_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        participant_id text NOT NULL,
        period         text NOT NULL,
        version        integer NOT NULL,
        step           text NOT NULL DEFAULT '',
        action         text NOT NULL,
        actor          text NOT NULL,
        comment        text NOT NULL DEFAULT '',
        request_id     text UNIQUE,
        at             timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX plan_document_events_doc ON {S}.plan_document_events (participant_id, period, event_id);
    CREATE TABLE {S}.disputes (
        dispute_id        text PRIMARY KEY,
        participant_id    text NOT NULL REFERENCES {S}.participants,
        period            text NOT NULL,
        reason            text NOT NULL,
        text              text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
        position_id       text NOT NULL DEFAULT '',
        incentive_id      text NOT NULL DEFAULT '',
        transaction_id    text NOT NULL DEFAULT '',
        refs              jsonb NOT NULL DEFAULT '[]',
        status            text NOT NULL CHECK (status IN ('open', 'info_requested', 'approved', 'resolved',
                                                          'rejected', 'withdrawn')),
        assignee          text NOT NULL DEFAULT '',
        manager_id        text NOT NULL DEFAULT '',
        manager_escalation text NOT NULL DEFAULT '',
        adjustment_minor  bigint,
        currency          text NOT NULL,
        adjustment_id     text NOT NULL DEFAULT '',
        adjustment_period text NOT NULL DEFAULT '',
        workflow_id       text NOT NULL DEFAULT '',
        opened_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
        closed_at         timestamptz
    );
    CREATE INDEX disputes_status ON {S}.disputes (status, period);
    CREATE TABLE {S}.dispute_events (
        event_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dispute_id text NOT NULL REFERENCES {S}.disputes,
        action     text NOT NULL,
        actor      text NOT NULL,
        comment    text NOT NULL DEFAULT '',
        request_id text UNIQUE,
        at         timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX dispute_events_dispute ON {S}.dispute_events (dispute_id, event_id);
    CREATE TABLE {S}.notifications (
        notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        recipient       text NOT NULL,
        kind            text NOT NULL,
        subject         text NOT NULL,
        ref             text NOT NULL,
        at              timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX notifications_recipient ON {S}.notifications (recipient, notification_id DESC)
"""

TRIGGER_FUNCTION = f"""
    CREATE FUNCTION {S}.refuse_accepted_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.status = 'ACCEPTED' THEN
            RAISE EXCEPTION 'an accepted plan document is immutable (% % v%)',
                OLD.participant_id, OLD.period, OLD.version;
        END IF;
        RETURN NEW;
    END $$
"""


def downgrade() -> None:
    for table in ("notifications", "dispute_events", "disputes", "plan_document_events", "plan_documents"):
        op.execute(f"DROP TABLE {S}.{table}")
    op.execute(f"DROP FUNCTION {S}.refuse_accepted_change()")
