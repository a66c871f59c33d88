"""The translator role: the languages a translator may edit and review, on their account
(``users.languages``, comma-separated codes such as ``es,fr``). Accounts of earlier revisions are
advocates and admins, who have none (NULL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.String(length=200), nullable=True))


def downgrade() -> None:
    # The older revisions know no translators and would let one in as an advocate (anyone not an
    # admin): their accounts are disabled and their sessions ended (an admin may re-enable them as
    # something else there).
    op.execute("DELETE FROM console_sessions WHERE user_id IN (SELECT id FROM users WHERE role = 'translator')")
    op.execute("UPDATE users SET disabled = 1 WHERE role = 'translator'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('languages')
