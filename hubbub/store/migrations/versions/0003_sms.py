"""SMS channel: outbound queue, SMSC message ids, opt-outs, inbound parts, unrouted inbound, outbox cursor

Revision ID: 0003_sms
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_sms'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('sms_outbound',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=32), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=True),
    sa.Column('conversation_sid', sa.String(length=34), nullable=True),
    sa.Column('message_sid', sa.String(length=34), nullable=True),
    sa.Column('receipt_sid', sa.String(length=34), nullable=True),
    sa.Column('participant_sid', sa.String(length=34), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('smart_encoding', sa.Boolean(), nullable=False),
    sa.Column('concat_ref', sa.Integer(), nullable=False),
    sa.Column('part_count', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_index('ix_sms_outbound_queue', 'sms_outbound', ['connection', 'state', 'id'], unique=False)
    op.create_table('sms_submits',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('outbound_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('smsc_message_id', sa.String(length=65), nullable=False),
    sa.Column('dlr_state', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sms_submits_outbound', 'sms_submits', ['outbound_id', 'seq'], unique=False)
    op.create_index('ix_sms_submits_smsc_id', 'sms_submits', ['connection', 'smsc_message_id'], unique=False)
    op.create_table('sms_opt_outs',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sender', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=32), nullable=False),
    sa.Column('keyword', sa.String(length=32), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender', 'address', name='uq_sms_opt_outs_pair')
    )
    op.create_table('sms_inbound_parts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data_coding', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connection', 'source', 'destination', 'ref', 'seq', name='uq_sms_inbound_part')
    )
    op.create_table('sms_unrouted',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('destination', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_index('ix_sms_unrouted_account', 'sms_unrouted', ['account_sid', 'id'], unique=False)
    op.create_table('sms_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('sms_cursor')
    op.drop_index('ix_sms_unrouted_account', table_name='sms_unrouted')
    op.drop_table('sms_unrouted')
    op.drop_table('sms_inbound_parts')
    op.drop_table('sms_opt_outs')
    op.drop_index('ix_sms_submits_smsc_id', table_name='sms_submits')
    op.drop_index('ix_sms_submits_outbound', table_name='sms_submits')
    op.drop_table('sms_submits')
    op.drop_index('ix_sms_outbound_queue', table_name='sms_outbound')
    op.drop_table('sms_outbound')
