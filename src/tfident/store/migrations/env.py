"""Alembic environment for tfident: runs on the connection that ``tfident.store.init_db`` passes in.

Started without a connection (``alembic`` on the command line with ``-x url=...``), it
opens one itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from tfident.store.tables import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Run the migrations online, on the given connection or on one to ``-x url=...``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("give the database as: alembic -x url=postgresql+psycopg://... upgrade head")
    from tfident.store.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as own_connection:
            if engine.dialect.name == "sqlite":
                # SQLite table rebuilds must not cascade deletes (see tfident.store.engine._migrate)
                own_connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with own_connection.begin():
                _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("tfident migrations run online only")
run_migrations()
