"""SMS channel: inbound acknowledgements in doubt (redelivery de-duplication) and early delivery receipts

Revision ID: 0003b_sms_acks
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0003b_sms_acks'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('sms_inbound_seen',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('session', sa.String(length=64), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sms_inbound_seen_fingerprint', 'sms_inbound_seen', ['connection', 'fingerprint'],
                    unique=False)
    op.create_table('sms_receipt_backlog',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=65), nullable=False),
    sa.Column('stat', sa.String(length=16), nullable=False),
    sa.Column('err', sa.String(length=16), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('sms_receipt_backlog')
    op.drop_index('ix_sms_inbound_seen_fingerprint', table_name='sms_inbound_seen')
    op.drop_table('sms_inbound_seen')
