"""Alembic migrations for the kehoach store, shipped as package data (see store/schema.py)."""
