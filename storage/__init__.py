"""Persistence: SQLAlchemy 2 async models, repositories returning DTOs, Alembic migrations."""
