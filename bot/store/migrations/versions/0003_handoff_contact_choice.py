"""A handoff remembers how the person chose to get replies (written to, or held until they write
again), whether "someone is here now" was said, and which transcript lines wait for the person.

Handoffs opened before this revision get ``may_write = 0``: their replies wait for the person's
next message, the choice that never writes first (DESIGN rule 1).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('may_write', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('handoff_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('handoff_messages', schema=None) as batch_op:
        batch_op.drop_column('pending')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('joined_at')
        batch_op.drop_column('may_write')
