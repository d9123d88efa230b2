"""Media store: uploaded media metadata and the trash of files to unlink

Revision ID: 0004_media
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_media'
down_revision = '0001'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('media',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=34), nullable=False),
    sa.Column('chat_service_sid', sa.String(length=34), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('filename', sa.String(length=256), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('author', sa.String(length=256), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('conversation_sid', sa.String(length=34), nullable=True),
    sa.Column('message_sid', sa.String(length=34), nullable=True),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.Column('date_updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index('ix_media_message', ['message_sid'], unique=False)
        batch_op.create_index('ix_media_service', ['chat_service_sid'], unique=False)

    op.create_table('media_trash',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('date_created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('media_trash')
    op.drop_table('media')
