"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 15:53:20.297465
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('auth_token', sa.String(length=64), nullable=False),
    sa.Column('friendly_name', sa.String(length=256), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('sid')
    )
    op.create_table('address_configurations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('friendly_name', sa.String(length=256), nullable=True),
    sa.Column('address_country', sa.String(length=8), nullable=True),
    sa.Column('auto_creation', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_sid', 'address', name='uq_address_configurations_address'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('credentials',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('friendly_name', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('sandbox', sa.String(length=8), nullable=True),
    sa.Column('certificate', sa.Text(), nullable=True),
    sa.Column('private_key', sa.Text(), nullable=True),
    sa.Column('api_key', sa.Text(), nullable=True),
    sa.Column('secret', sa.Text(), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('idempotency_keys',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account_sid', 'key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_keys_age', ['date_created'], unique=False)

    op.create_table('account_webhooks',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('pre_webhook_url', sa.String(length=1024), nullable=True),
    sa.Column('post_webhook_url', sa.String(length=1024), nullable=True),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], ),
    sa.PrimaryKeyConstraint('account_sid')
    )
    op.create_table('api_keys',
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('friendly_name', sa.String(length=64), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], ),
    sa.PrimaryKeyConstraint('sid')
    )
    op.create_table('configurations',
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('default_chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('default_messaging_service_sid', sa.String(length=34), nullable=True),
    sa.Column('default_inactive_timer', sa.String(length=64), nullable=True),
    sa.Column('default_closed_timer', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], ),
    sa.PrimaryKeyConstraint('account_sid')
    )
    op.create_table('services',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('friendly_name', sa.String(length=256), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['accounts.sid'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('bindings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('credential_sid', sa.String(length=34), nullable=True),
    sa.Column('endpoint', sa.String(length=512), nullable=False),
    sa.Column('identity', sa.String(length=256), nullable=False),
    sa.Column('binding_type', sa.String(length=16), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('message_types', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_service_sid'], ['services.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_service_sid', 'endpoint', name='uq_bindings_endpoint'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('messaging_service_sid', sa.String(length=34), nullable=True),
    sa.Column('friendly_name', sa.String(length=256), nullable=True),
    sa.Column('unique_name', sa.String(length=256), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('timer_inactive', sa.String(length=64), nullable=True),
    sa.Column('timer_closed', sa.String(length=64), nullable=True),
    sa.Column('date_inactive', sa.BigInteger(), nullable=True),
    sa.Column('date_closed', sa.BigInteger(), nullable=True),
    sa.Column('bindings', sa.Text(), nullable=False),
    sa.Column('next_message_index', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('participants_count', sa.Integer(), nullable=False),
    sa.Column('non_chat_count', sa.Integer(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_service_sid'], ['services.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_service_sid', 'unique_name', name='uq_conversations_unique_name'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_service_state', ['chat_service_sid', 'state', 'id'], unique=False)

    op.create_table('roles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('friendly_name', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('permissions', sa.Text(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_service_sid'], ['services.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('service_configurations',
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('default_chat_service_role_sid', sa.String(length=34), nullable=True),
    sa.Column('default_conversation_role_sid', sa.String(length=34), nullable=True),
    sa.Column('default_conversation_creator_role_sid', sa.String(length=34), nullable=True),
    sa.Column('reachability_enabled', sa.Boolean(), nullable=False),
    sa.Column('notifications', sa.Text(), nullable=False),
    sa.Column('pre_webhook_url', sa.String(length=1024), nullable=True),
    sa.Column('post_webhook_url', sa.String(length=1024), nullable=True),
    sa.Column('webhook_filters', sa.Text(), nullable=False),
    sa.Column('webhook_method', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['chat_service_sid'], ['services.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_service_sid')
    )
    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('identity', sa.String(length=256), nullable=False),
    sa.Column('friendly_name', sa.String(length=256), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('role_sid', sa.String(length=34), nullable=True),
    sa.Column('is_online', sa.Boolean(), nullable=True),
    sa.Column('is_notifiable', sa.Boolean(), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['chat_service_sid'], ['services.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chat_service_sid', 'identity', name='uq_users_identity'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('conversation_webhooks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=True),
    sa.Column('filters', sa.Text(), nullable=False),
    sa.Column('triggers', sa.Text(), nullable=False),
    sa.Column('flow_sid', sa.String(length=34), nullable=True),
    sa.Column('replay_after', sa.BigInteger(), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_sid'], ['conversations.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('conversation_webhooks', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_webhooks_conversation', ['conversation_sid', 'id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=False),
    sa.Column('index', sa.BigInteger(), nullable=False),
    sa.Column('author', sa.String(length=256), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('participant_sid', sa.String(length=34), nullable=True),
    sa.Column('media', sa.Text(), nullable=True),
    sa.Column('content_sid', sa.String(length=34), nullable=True),
    sa.Column('subject', sa.String(length=256), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_sid'], ['conversations.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_sid', 'index', name='uq_messages_index'),
    sa.UniqueConstraint('sid')
    )
    op.create_table('participants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=False),
    sa.Column('identity', sa.String(length=256), nullable=True),
    sa.Column('binding_type', sa.String(length=16), nullable=True),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('proxy_address', sa.String(length=256), nullable=True),
    sa.Column('projected_address', sa.String(length=256), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('role_sid', sa.String(length=34), nullable=True),
    sa.Column('last_read_message_index', sa.BigInteger(), nullable=True),
    sa.Column('last_read_timestamp', sa.String(length=64), nullable=True),
    sa.Column('notification_level', sa.String(length=16), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_sid'], ['conversations.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_sid', 'identity', name='uq_participants_identity'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index('ix_participants_conversation', ['conversation_sid', 'id'], unique=False)
        batch_op.create_index('ix_participants_pair', ['account_sid', 'address', 'proxy_address'], unique=False)

    op.create_table('receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=False),
    sa.Column('message_sid', sa.String(length=34), nullable=False),
    sa.Column('participant_sid', sa.String(length=34), nullable=False),
    sa.Column('channel_message_sid', sa.String(length=34), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['message_sid'], ['messages.sid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index('ix_receipts_message', ['message_sid', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_receipts_message')

    op.drop_table('receipts')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index('ix_participants_pair')
        batch_op.drop_index('ix_participants_conversation')

    op.drop_table('participants')
    op.drop_table('messages')
    with op.batch_alter_table('conversation_webhooks', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_webhooks_conversation')

    op.drop_table('conversation_webhooks')
    op.drop_table('users')
    op.drop_table('service_configurations')
    op.drop_table('roles')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_service_state')

    op.drop_table('conversations')
    op.drop_table('bindings')
    op.drop_table('services')
    op.drop_table('configurations')
    op.drop_table('api_keys')
    op.drop_table('account_webhooks')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_keys_age')

    op.drop_table('idempotency_keys')
    op.drop_table('events')
    op.drop_table('credentials')
    op.drop_table('address_configurations')
    op.drop_table('accounts')
