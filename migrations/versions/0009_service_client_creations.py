"""service client creations: one client per submitted form, its secret shown once

Each new-client form carries a random id; a row keyed by its sha256 remembers the client it
created (a resubmission creates nothing) and holds the secret, encrypted, until the page after
the form shows it once (at most ten minutes).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:08:08.288885

"""
from alembic import op
import sqlalchemy as sa

import app.infra.crypto
import app.models.types


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('service_client_creations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('secret', app.infra.crypto.EncryptedText(), nullable=True),
    sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shown_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['service_clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('form_hash')
    )
    with op.batch_alter_table('service_client_creations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_client_creations_admin_id'), ['admin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_client_creations_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_client_creations_created_at'), ['created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('service_client_creations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_client_creations_created_at'))
        batch_op.drop_index(batch_op.f('ix_service_client_creations_client_id'))
        batch_op.drop_index(batch_op.f('ix_service_client_creations_admin_id'))

    op.drop_table('service_client_creations')
