"""at most one wave open or drawing at a time, enforced by the database (race-free)

Revision ID: 0003_one_active_wave
Revises: 0002_survey_responses
"""

from alembic import op

revision = "0003_one_active_wave"
down_revision = "0002_survey_responses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A unique index over a constant, limited to active waves: a second OPEN/DRAWING row cannot exist.
    op.execute("CREATE UNIQUE INDEX uq_waves_one_active ON waves ((1)) WHERE status <> 'DRAWN'")


def downgrade() -> None:
    op.execute("DROP INDEX uq_waves_one_active")
