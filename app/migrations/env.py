"""Alembic's entry point; app.adapters.storage.migrate runs it with a connection of ours."""

from alembic import context

from app.adapters.storage.sql.partitions import described
from app.adapters.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=described,
)
with context.begin_transaction():
    context.run_migrations()
