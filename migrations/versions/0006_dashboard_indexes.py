"""dashboard indexes: the connections list's order (company, kind, id) as an index

Without it every dashboard page sorted the whole table in a temporary B-tree before skipping to
its offset (10,000 connections: ~50 ms for a page deep in the list on SQLite); with it the page is
read in index order and the sort disappears.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 06:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index('ix_connections_listing', ['company_name', 'kind', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_index('ix_connections_listing')
