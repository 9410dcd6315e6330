"""Create every table: the run tables and the working tables of tfident.store.tables.

Revision ID: 0001
Revises:
Create Date: 2026-10-31
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(), nullable=True),
        sa.Column("detail_json", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_object_type_object_id"), "audit_log", ["object_type", "object_id"], unique=False)

    op.create_table(
        "link_constraints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("record_key_l", sa.String(), nullable=False),
        sa.Column("record_key_r", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.CheckConstraint("kind IN ('cannot_link', 'must_link')", name=op.f("ck_link_constraints_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_constraints")),
    )
    op.create_index(
        op.f("ix_link_constraints_record_key_l_record_key_r"),
        "link_constraints",
        ["record_key_l", "record_key_r"],
        unique=False,
    )
    op.create_index(op.f("ix_link_constraints_record_key_r"), "link_constraints", ["record_key_r"], unique=False)

    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ruleset_id", sa.String(length=64), nullable=False),
        sa.Column("ruleset_version", sa.String(length=64), nullable=False),
        sa.Column("linkage_model_version", sa.String(length=64), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("summary_json", sa.JSON(), nullable=False),
        sa.Column("stage_timings_json", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'published', 'failed', 'superseded')", name=op.f("ck_runs_status")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_month_version"), "runs", ["month", "version"], unique=False)
    op.create_index(op.f("ix_runs_status_as_of"), "runs", ["status", "as_of"], unique=False)

    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('coordinator', 'analyst', 'auditor', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    op.create_table(
        "candidates",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("criteria_met", sa.String(), nullable=False),
        sa.Column("eligibility", sa.String(length=16), nullable=True),
        sa.Column("estimated_annual_cost", sa.Double(), nullable=True),
        sa.Column("min_link_probability", sa.Double(), nullable=True),
        sa.Column("n_members", sa.Integer(), nullable=False),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("postcode", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_candidates_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "household_id", name=op.f("pk_candidates")),
    )
    op.create_index(op.f("ix_candidates_run_id_rank"), "candidates", ["run_id", "rank"], unique=True)

    op.create_table(
        "criteria_evidence",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_criteria_evidence_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria_evidence")),
    )
    op.create_index(
        op.f("ix_criteria_evidence_run_id_household_id"), "criteria_evidence", ["run_id", "household_id"], unique=False
    )
    op.create_index(
        op.f("ix_criteria_evidence_run_id_person_id"), "criteria_evidence", ["run_id", "person_id"], unique=False
    )

    op.create_table(
        "decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("lead_agency", sa.String(), nullable=True),
        sa.Column("worker", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("decision IN ('accept', 'reject', 'defer', 'known')", name=op.f("ck_decisions_decision")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_decisions_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index(
        op.f("ix_decisions_household_id_created_at"), "decisions", ["household_id", "created_at"], unique=False
    )

    op.create_table(
        "households",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("postcode", sa.String(), nullable=True),
        sa.Column("n_members", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_households_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "household_id", name=op.f("pk_households")),
    )
    op.create_index(op.f("ix_households_run_id_uprn"), "households", ["run_id", "uprn"], unique=False)

    op.create_table(
        "input_files",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_input_files_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "source", name=op.f("pk_input_files")),
    )
    op.create_table(
        "links",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("record_key_l", sa.String(), nullable=False),
        sa.Column("record_key_r", sa.String(), nullable=False),
        sa.Column("match_probability", sa.Double(), nullable=False),
        sa.Column("match_rule", sa.String(), nullable=True),
        sa.Column("match_weights_json", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_links_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "record_key_l", "record_key_r", name=op.f("pk_links")),
    )
    op.create_index(op.f("ix_links_run_id_record_key_r"), "links", ["run_id", "record_key_r"], unique=False)

    op.create_table(
        "persons",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("household_id", sa.String(), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_persons_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "person_id", name=op.f("pk_persons")),
    )
    op.create_index(op.f("ix_persons_run_id_household_id"), "persons", ["run_id", "household_id"], unique=False)

    op.create_table(
        "quality",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("report_json", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name=op.f("fk_quality_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "source", name=op.f("pk_quality")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=True),
        sa.Column("record_id", sa.Text(), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_quarantine_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(
        op.f("ix_quarantine_run_id_source_record_id"), "quarantine", ["run_id", "source", "record_id"], unique=False
    )

    op.create_table(
        "source_records",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("record_key", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("household_id", sa.String(), nullable=True),
        sa.Column("forename", sa.String(), nullable=True),
        sa.Column("middle_names", sa.String(), nullable=True),
        sa.Column("surname", sa.String(), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("postcode", sa.String(), nullable=True),
        sa.Column("uprn", sa.BigInteger(), nullable=True),
        sa.Column("uprn_matched", sa.BigInteger(), nullable=True),
        sa.Column("address_match", sa.String(), nullable=True),
        sa.Column("evidence_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_source_records_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "record_key", name=op.f("pk_source_records")),
    )
    op.create_index(
        op.f("ix_source_records_run_id_household_id"), "source_records", ["run_id", "household_id"], unique=False
    )
    op.create_index(op.f("ix_source_records_run_id_person_id"), "source_records", ["run_id", "person_id"], unique=False)
    op.create_index(
        op.f("ix_source_records_run_id_source_record_id"),
        "source_records",
        ["run_id", "source", "record_id"],
        unique=True,
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index(op.f("ix_source_records_run_id_source_record_id"), table_name="source_records")
    op.drop_index(op.f("ix_source_records_run_id_person_id"), table_name="source_records")
    op.drop_index(op.f("ix_source_records_run_id_household_id"), table_name="source_records")

    op.drop_table("source_records")
    op.drop_index(op.f("ix_quarantine_run_id_source_record_id"), table_name="quarantine")

    op.drop_table("quarantine")
    op.drop_table("quality")
    op.drop_index(op.f("ix_persons_run_id_household_id"), table_name="persons")

    op.drop_table("persons")
    op.drop_index(op.f("ix_links_run_id_record_key_r"), table_name="links")

    op.drop_table("links")
    op.drop_table("input_files")
    op.drop_index(op.f("ix_households_run_id_uprn"), table_name="households")

    op.drop_table("households")
    op.drop_index(op.f("ix_decisions_household_id_created_at"), table_name="decisions")

    op.drop_table("decisions")
    op.drop_index(op.f("ix_criteria_evidence_run_id_person_id"), table_name="criteria_evidence")
    op.drop_index(op.f("ix_criteria_evidence_run_id_household_id"), table_name="criteria_evidence")

    op.drop_table("criteria_evidence")
    op.drop_index(op.f("ix_candidates_run_id_rank"), table_name="candidates")

    op.drop_table("candidates")
    op.drop_table("users")
    op.drop_index(op.f("ix_runs_status_as_of"), table_name="runs")
    op.drop_index(op.f("ix_runs_month_version"), table_name="runs")

    op.drop_table("runs")
    op.drop_index(op.f("ix_link_constraints_record_key_r"), table_name="link_constraints")
    op.drop_index(op.f("ix_link_constraints_record_key_l_record_key_r"), table_name="link_constraints")

    op.drop_table("link_constraints")
    op.drop_index(op.f("ix_audit_log_object_type_object_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")

    op.drop_table("audit_log")
