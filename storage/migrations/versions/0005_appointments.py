"""Appointments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(16), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("place", sa.String(16), nullable=True),
        sa.Column("office_id", sa.String(30), nullable=False),
        sa.Column("preferred_day", sa.Date(), nullable=False),
        sa.Column("part_of_day", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_version", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_appointments_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"],
            ["staff.id"],
            ondelete="SET NULL",
            name=op.f("fk_appointments_handled_by_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("reference", name=op.f("uq_appointments_reference")),
    )
    for column in ("user_id", "status", "created_at"):
        op.create_index(op.f(f"ix_appointments_{column}"), "appointments", [column])


def downgrade() -> None:
    op.drop_table("appointments")
