"""audit log: the registration a call concerns (indexed), and an index on the actor

Revision ID: 0004_audit_resource
Revises: 0003_one_active_wave
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_audit_resource"
down_revision = "0003_one_active_wave"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows written before this revision concern no known registration (a timeline skips them).
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_log_resource"), ["resource"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor_id"), ["actor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_resource"))
        batch_op.drop_column("resource")
