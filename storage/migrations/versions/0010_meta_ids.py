"""Ids wide enough for Meta's channels: Messenger's message ids (``m_…``, up to about 130
characters) as processed updates and as the outbox's external ids, and longer recipient, user
and staff ids.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, column, before, after)
WIDENED = (
    ("users", "external_id", sa.String(64), sa.String(160)),
    ("staff", "external_id", sa.String(64), sa.String(160)),
    ("outbox", "recipient", sa.String(64), sa.String(160)),
    ("outbox", "external_id", sa.String(32), sa.String(160)),
    ("rate_limits", "key", sa.String(96), sa.String(200)),
)


def upgrade() -> None:
    for table, column, before, after in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=before, type_=after)
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            existing_type=sa.BigInteger(),
            type_=sa.String(160),
            postgresql_using="update_id::text",
        )


def downgrade() -> None:
    # Ids that do not fit the narrower columns (Messenger's) cannot be kept.
    numeric = (
        "update_id ~ '^[0-9]+$'"
        if op.get_context().dialect.name == "postgresql"
        else "update_id NOT GLOB '*[^0-9]*' AND update_id <> ''"
    )
    op.execute(f"DELETE FROM processed_updates WHERE NOT ({numeric})")
    with op.batch_alter_table("processed_updates") as batch:
        batch.alter_column(
            "update_id",
            existing_type=sa.String(160),
            type_=sa.BigInteger(),
            postgresql_using="update_id::bigint",
        )
    for table, column, before, after in WIDENED:
        if table == "outbox" and column == "external_id":
            op.execute("UPDATE outbox SET external_id = NULL WHERE length(external_id) > 32")
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=after, type_=before)
