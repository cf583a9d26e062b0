"""catalogue: course details, status and ratings; course assessments; full-text search per dialect

Existing courses were created by admins, so they become APPROVED (listed since they were created), and their
ratings are counted once from the reviews already recorded. From here on the review route adds each review to
its course in the same transaction (no recount).

Full-text search over title and description:
- PostgreSQL: a GIN expression index on to_tsvector('simple', title || ' ' || description), queried with
  plainto_tsquery('simple', q) (services/catalogue.py uses the identical expression, or the index is not used).
- SQLite: an FTS5 table `courses_fts(course_id UNINDEXED, title, description)` kept in step by triggers on
  courses. It holds its own copy of the text, keyed by course_id, because a rowid-keyed external-content table
  would break when VACUUM or a batch migration renumbers the courses' implicit rowids.

Revision ID: 0007_catalogue
Revises: 0006_programme_profiles
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_catalogue"
down_revision = "0006_programme_profiles"
branch_labels = None
depends_on = None

PG_SEARCH = "to_tsvector('simple', title || ' ' || description)"
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE courses_fts USING fts5(course_id UNINDEXED, title, description)",
    "INSERT INTO courses_fts (course_id, title, description) SELECT course_id, title, description FROM courses",
    """CREATE TRIGGER courses_fts_insert AFTER INSERT ON courses BEGIN
         INSERT INTO courses_fts (course_id, title, description) VALUES (new.course_id, new.title, new.description);
       END""",
    """CREATE TRIGGER courses_fts_update AFTER UPDATE OF title, description ON courses BEGIN
         DELETE FROM courses_fts WHERE course_id = old.course_id;
         INSERT INTO courses_fts (course_id, title, description) VALUES (new.course_id, new.title, new.description);
       END""",
    """CREATE TRIGGER courses_fts_delete AFTER DELETE ON courses BEGIN
         DELETE FROM courses_fts WHERE course_id = old.course_id;
       END""",
)


def upgrade() -> None:
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("category", sa.String(length=64), nullable=False, server_default="GENERAL"))
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default="ONLINE"))
        batch_op.add_column(sa.Column("province", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("duration_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("marketplace_client_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rating_sum", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("rating_avg", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    _backfill()
    # No default status: a course row nobody assessed must never be on sale by accident.
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_index("ix_courses_rating", ["status", "rating_avg", "course_id"], unique=False)
        batch_op.create_index("ix_courses_price", ["status", "price", "course_id"], unique=False)
        batch_op.create_index("ix_courses_newest", ["status", "listed_at", "course_id"], unique=False)
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index("ix_purchases_course_reviews", ["course_id", "reviewed_at"], unique=False)
    op.create_table(
        "course_assessments",
        sa.Column("course_id", sa.String(length=64), nullable=False),
        sa.Column("submission_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.course_id"]),
        sa.PrimaryKeyConstraint("course_id", "submission_no"),
    )
    op.create_index(
        "ix_course_assessments_queue", "course_assessments", ["status", "submitted_at", "course_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_courses_search ON courses USING gin ({PG_SEARCH})")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def _backfill() -> None:
    op.execute("UPDATE courses SET status = 'APPROVED', listed_at = created_at")
    op.execute("UPDATE purchases SET reviewed_at = COALESCE(completed_at, created_at) WHERE review_rating IS NOT NULL")
    reviewed = "FROM purchases p WHERE p.course_id = courses.course_id AND p.review_rating IS NOT NULL"
    op.execute(
        f"UPDATE courses SET rating_sum = (SELECT COALESCE(SUM(p.review_rating), 0) {reviewed}), "
        f"rating_count = (SELECT COUNT(*) {reviewed})"
    )
    op.execute(
        "UPDATE courses SET rating_avg = CASE WHEN rating_count > 0 "
        "THEN CAST(rating_sum AS FLOAT) / rating_count ELSE 0 END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_courses_search")
    else:
        for trigger in ("courses_fts_insert", "courses_fts_update", "courses_fts_delete"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE courses_fts")
    op.drop_index("ix_course_assessments_queue", table_name="course_assessments")
    op.drop_table("course_assessments")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_course_reviews")
        batch_op.drop_column("reviewed_at")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index("ix_courses_newest")
        batch_op.drop_index("ix_courses_price")
        batch_op.drop_index("ix_courses_rating")
        for column in (
            "rating_avg",
            "rating_count",
            "rating_sum",
            "listed_at",
            "status",
            "marketplace_client_code",
            "duration_hours",
            "province",
            "mode",
            "category",
            "description",
        ):
            batch_op.drop_column(column)
