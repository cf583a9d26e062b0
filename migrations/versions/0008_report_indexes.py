"""indexes for the reports: payments newest first (console), attempts by day (SLA), beneficiaries by province
and wave (transparency)

Revision ID: 0008_report_indexes
Revises: 0007_catalogue
"""

from alembic import op

revision = "0008_report_indexes"
down_revision = "0007_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payments_created_at_id", "payments", ["created_at", "payment_id"])
    op.create_index("ix_payment_attempts_created_at", "payment_attempts", ["created_at"])
    op.create_index("ix_beneficiaries_province_wave", "beneficiaries", ["province", "wave_id"])


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_province_wave", table_name="beneficiaries")
    op.drop_index("ix_payment_attempts_created_at", table_name="payment_attempts")
    op.drop_index("ix_payments_created_at_id", table_name="payments")
