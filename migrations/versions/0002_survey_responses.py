"""survey responses

Revision ID: 0002_survey_responses
Revises: 9da16396aa64
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_survey_responses"
down_revision = "9da16396aa64"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("registration_id", sa.String(length=64), nullable=False),
        sa.Column("survey_no", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("registration_id", "survey_no"),
    )


def downgrade() -> None:
    op.drop_table("survey_responses")
