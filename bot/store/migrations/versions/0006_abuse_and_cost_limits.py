"""Abuse and cost limits: counters per minute shared by every process, the pace of sends to
Telegram shared by every worker, what a handoff's transcript holds of the person (to cap it)
and whether the advocates' group was told of it (notices are grouped), and when an outbox
message was sent or first failed (per-chat pacing; a reply is dropped as too late only for the
provider's failures, never for our own pacing).

Handoffs of earlier revisions count as told (``noticed = 1``) with an empty transcript count;
outbox rows get neither time (a row already failing is judged by its age from then on).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'limit_windows',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('window_start', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'window_start'),
    )
    op.create_table(
        'send_pace',
        sa.Column('name', sa.String(length=16), nullable=False),
        sa.Column('next_at', sa.Float(), nullable=False),
        sa.Column('paused_until', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_lines', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('person_bytes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('truncated', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('noticed', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('noticed')
        batch_op.drop_column('truncated')
        batch_op.drop_column('person_bytes')
        batch_op.drop_column('person_lines')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('failing_since')
        batch_op.drop_column('sent_at')
    op.drop_table('send_pace')
    op.drop_table('limit_windows')
