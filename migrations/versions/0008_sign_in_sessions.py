"""sign-in sessions: a server-side record behind every signed-in browser

The session cookie now carries only a random token whose sha256 is stored here, so sign-out,
a password change and deactivation end sessions on the server, and sessions have an absolute
lifetime besides the idle one. `admins.session_version`, which the old cookies carried, goes:
every browser signed in before this upgrade has to sign in again, once.

The column is dropped with SQLite's own ALTER TABLE … DROP COLUMN (3.35+), not a batch copy of
`admins`: recreating that table would cascade into every row that refers to an account.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:54:12.624794

"""
from alembic import op
import sqlalchemy as sa

import app.models.types


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_digest')
    )
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_sessions_admin_id'), ['admin_id'], unique=False)

    op.drop_column('admins', 'session_version')


def downgrade():
    op.add_column(
        'admins', sa.Column('session_version', sa.Integer(), nullable=False, server_default='1')
    )
    with op.batch_alter_table('sign_in_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_sessions_admin_id'))

    op.drop_table('sign_in_sessions')
