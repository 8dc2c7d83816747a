"""Longer interaction kinds ("appointment:consultation-social").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.alter_column("kind", existing_type=sa.String(24), type_=sa.String(48))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.alter_column("kind", existing_type=sa.String(48), type_=sa.String(24))
