"""Delivery receipts name no conversation: their replies are sealed under the conversation's key,
bound to its id, so erasing the key is enough, and a turn writes one index page fewer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Replies sealed before this revision were bound to "<conversation id>:reply", which no
    # longer opens: drop them (a redelivery of one of those messages is answered with nothing).
    op.execute(sa.text("UPDATE deliveries SET reply = NULL WHERE conversation_id IS NOT NULL"))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_conversation_id'))
        batch_op.drop_column('conversation_id')


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_conversation_id'), ['conversation_id'], unique=False)
