"""Alembic's environment for safeharbor: run with the connection ``bot.store.schema`` hands over
(no alembic.ini, no URL here)."""

from alembic import context

from bot.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
