"""Anonymous interactions for reports, consent text versions, a person key per user.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("person_key", sa.String(36), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("person_key", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update().where(users.c.id == user_id).values(person_key=str(uuid.uuid4()))
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("person_key", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(sa.Column("consent_version", sa.String(16), nullable=True))
    op.create_table(
        "consent_texts",
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", "lang", name=op.f("pk_consent_texts")),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_key", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("topic", sa.String(40), nullable=True),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    for column in ("person_key", "kind", "created_at"):
        op.create_index(op.f(f"ix_interactions_{column}"), "interactions", [column])


def downgrade() -> None:
    op.drop_table("interactions")
    op.drop_table("consent_texts")
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("consent_version")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("person_key")
