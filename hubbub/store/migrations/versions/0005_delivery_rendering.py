"""Webhook deliveries of an event keep no copy of its parameters: they are rendered from the event;
fewer indexes on the delivery log (the purge walks the tables by id; SQLite has no lane index)

Revision ID: 0005_delivery_rendering
Revises: 0002_webhooks
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_delivery_rendering'
down_revision = '0002_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.alter_column('params', existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column('messaging_service_sid', sa.String(length=34), nullable=True))
    op.drop_index('ix_webhook_deliveries_created', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_attempts_created', table_name='webhook_attempts')
    if op.get_bind().dialect.name == 'sqlite':
        # Only PostgreSQL's claims need (conversation_sid, id); on SQLite it served the log's ConversationSid
        # filter alone and cost every delivery an index page per conversation in each commit.
        op.drop_index('ix_webhook_deliveries_lane', table_name='webhook_deliveries')


def downgrade() -> None:
    raise NotImplementedError("deliveries recorded without parameters cannot be given them back")
