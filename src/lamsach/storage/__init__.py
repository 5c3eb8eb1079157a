"""Persistence: SQLAlchemy models, Alembic migrations, sessions, backup and restore."""
