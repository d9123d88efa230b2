"""Webhooks: delivery queue and attempt log; indexes for the conversation state timers

Revision ID: 0002_webhooks
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_webhooks'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('webhook_deliveries',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=True),
    sa.Column('conversation_sid', sa.String(length=34), nullable=True),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('webhook_sid', sa.String(length=34), nullable=True),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('idempotency_token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_ms', sa.BigInteger(), nullable=False),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=True),
    sa.Column('claimed_by', sa.String(length=32), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=512), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.Column('delivered_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_ms'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_account', ['account_sid', 'id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_lane', ['conversation_sid', 'id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_created', ['created_ms'], unique=False)

    op.create_table('webhook_attempts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.BigInteger(), nullable=True),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=True),
    sa.Column('conversation_sid', sa.String(length=34), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=1024), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=512), nullable=True),
    sa.Column('latency_us', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempts_account', ['account_sid', 'created_ms'], unique=False)
        batch_op.create_index('ix_webhook_attempts_delivery', ['delivery_id', 'id'], unique=False)
        batch_op.create_index('ix_webhook_attempts_created', ['created_ms'], unique=False)

    # plain CREATE INDEX (not batch mode: that would copy the conversations table on SQLite)
    op.create_index('ix_conversations_date_inactive', 'conversations', ['date_inactive'], unique=False)
    op.create_index('ix_conversations_date_closed', 'conversations', ['date_closed'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_conversations_date_closed', table_name='conversations')
    op.drop_index('ix_conversations_date_inactive', table_name='conversations')
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
