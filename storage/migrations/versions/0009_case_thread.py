"""The case thread: every message of a request, person ↔ caseworker, media as file references.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("author", sa.String(8), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media_kind", sa.String(16), nullable=True),
        sa.Column("media_ref", sa.String(255), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_case_messages_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
    )
    op.create_index(op.f("ix_case_messages_reference"), "case_messages", ["reference"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_messages_reference"), table_name="case_messages")
    op.drop_table("case_messages")
