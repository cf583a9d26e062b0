"""programme profiles defined by admins (the built-in ones stay in code)

Revision ID: 0006_programme_profiles
Revises: 0004_audit_resource
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_programme_profiles"
down_revision = "0004_audit_resource"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "programme_profiles",
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("profile"),
    )


def downgrade() -> None:
    op.drop_table("programme_profiles")
