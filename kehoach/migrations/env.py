"""Alembic environment: runs on the connection `kehoach.store.schema` hands it.

Without one (an `alembic` command line run by a developer) it connects to
KEHOACH_DATABASE_URL, or the embedded default, itself.
"""
from __future__ import annotations

import os

from alembic import context

from kehoach.store.db import database_url, make_engine
from kehoach.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(os.environ))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=database_url(os.environ), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
