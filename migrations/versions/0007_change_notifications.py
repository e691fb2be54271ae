"""change notifications: PostgreSQL tells listeners when what the token endpoint reads changes

Statement triggers on connections, service_clients and service_client_grants NOTIFY the
channel `factorial_connect_changes` (payload: the table's name) on every INSERT, UPDATE, DELETE
or TRUNCATE. PostgreSQL delivers the notice at commit, once per table per transaction. Each
process's listener (`app.infra.read_cache`) forgets the token reads it remembered when one arrives.
SQLite has no such feed: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 11:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TABLES = ('connections', 'service_clients', 'service_client_grants')
FUNCTION = 'factorial_connect_notify_change'


def upgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('factorial_connect_changes', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade():
    if op.get_context().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
