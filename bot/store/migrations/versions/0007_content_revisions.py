"""The content bundle's revisions: flows, locales and resources kept in the database as
immutable numbered revisions (draft, published, archived), so admins edit, publish and roll
back in the console and every process serves the published one without a restart.

A database of an earlier revision gets the table empty: the service imports its content files
as revision 1 on its next start, as on a new deployment.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'content_revisions',
        sa.Column('number', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('author', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('message', sa.String(length=500), nullable=False),
        sa.Column('base', sa.Integer(), nullable=True),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('files', sa.LargeBinary(), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('published_by', sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint('number'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_content_revisions_status', 'content_revisions', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_content_revisions_status', table_name='content_revisions')
    op.drop_table('content_revisions')
