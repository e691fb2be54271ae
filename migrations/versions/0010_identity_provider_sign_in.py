"""identity provider sign-in: account origin and identity, break-glass, pending sign-ins

Accounts gain where they come from (`origin` local or oidc, the IdP's issuer and subject,
unique together), how they last signed in, a break-glass mark (the only passwords accepted
with PASSWORD_LOGIN=off) and when an IdP refusal deactivated them. `pending_sign_ins` holds
each started IdP sign-in (state hash, browser binding, nonce hash, encrypted PKCE verifier).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:40:00

"""
from alembic import op
import sqlalchemy as sa

import app.infra.crypto
import app.models.types


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_sign_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('nonce_hash', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', app.infra.crypto.EncryptedText(), nullable=False),
    sa.Column('next_path', sa.String(length=512), nullable=False),
    sa.Column('created_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('state_hash')
    )
    with op.batch_alter_table('pending_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_sign_ins_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_login_method', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='local'))
        batch_op.add_column(sa.Column('idp_issuer', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('idp_subject', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('break_glass', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('idp_refused_at', app.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_admin_idp_identity', ['idp_issuer', 'idp_subject'])


def downgrade():
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.drop_constraint('uq_admin_idp_identity', type_='unique')
        batch_op.drop_column('idp_refused_at')
        batch_op.drop_column('break_glass')
        batch_op.drop_column('idp_subject')
        batch_op.drop_column('idp_issuer')
        batch_op.drop_column('origin')
        batch_op.drop_column('last_login_method')

    with op.batch_alter_table('pending_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_sign_ins_expires_at'))

    op.drop_table('pending_sign_ins')
