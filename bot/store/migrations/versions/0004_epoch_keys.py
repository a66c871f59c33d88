"""Data keys record the epoch they are wrapped under (``bot.store.epochs``), so the rollover finds
the ones to move forward with an index, not by reading every key.

Keys from before this revision keep ``epoch`` NULL: they are Fernet tokens of the key-encryption
keys, next to a plain pseudonym. The first rollover after the upgrade wraps them under the current
epoch and replaces each pseudonym by its lookup tag; from then on, erasure holds for them too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.Integer(), nullable=True))
        batch_op.create_index('ix_data_keys_epoch', ['epoch'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_data_keys_epoch')
        batch_op.drop_column('epoch')
